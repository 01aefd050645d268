#include "s3/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"
#include "s3/plan.h"

static int etag_valid(const char *etag)
{
    size_t n = strlen(etag);
    if (n == 0 || n > IGTCLOUD__JOURNAL_ETAG_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)etag[i];
        if (c <= ' ' || c >= 0x7f)
            return 0;
    }
    return 1;
}

int igtcloud__journal_init(igtcloud__journal *j, uint64_t size, uint64_t range_size,
                           const char *etag, int64_t modified)
{
    igtcloud__journal fresh = IGTCLOUD__JOURNAL_INIT;
    *j = fresh;
    if (range_size == 0 || !etag_valid(etag))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "journal: bad range size or ETag");
    uint32_t count;
    int rc = igtcloud__plan_ranges(&count, size, range_size);
    if (rc)
        return rc;
    /* The header of a journal on disk names the count: never let it size an allocation. */
    if (count > IGTCLOUD__JOURNAL_MAX_RANGES)
        return igtcloud__error_set(IGTCLOUD_EINVALID,
                                   "journal: %u ranges of %llu bytes are too many; "
                                   "use a larger range size", count,
                                   (unsigned long long)range_size);
    j->done = calloc(count, 1);
    if (!j->done)
        return igtcloud__error_oom();
    j->size = size;
    j->range_size = range_size;
    j->count = count;
    j->modified = modified;
    snprintf(j->etag, sizeof(j->etag), "%s", etag);
    return 0;
}

void igtcloud__journal_dispose(igtcloud__journal *j)
{
    if (!j)
        return;
    free(j->done);
    igtcloud__journal fresh = IGTCLOUD__JOURNAL_INIT;
    *j = fresh;
}

void igtcloud__journal_mark(igtcloud__journal *j, uint32_t index)
{
    if (index < j->count && !j->done[index]) {
        j->done[index] = 1;
        j->ndone++;
    }
}

/* Parse a decimal without sign into *out; the whole [p, end) must be digits. */
static int parse_u64(uint64_t *out, const char *p, const char *end)
{
    uint64_t v = 0;
    if (p == end || end - p > 20)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Find "name=" as a field of the header line and return its value's span. */
static int field(const char **val, const char **val_end, const char *line, const char *end,
                 const char *name)
{
    size_t n = strlen(name);
    const char *p = line;
    while (p < end) {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        const char *fend = sp ? sp : end;
        if ((size_t)(fend - p) > n && memcmp(p, name, n) == 0 && p[n] == '=') {
            *val = p + n + 1;
            *val_end = fend;
            return 0;
        }
        p = sp ? sp + 1 : end;
    }
    return -1;
}

/* A boot id is a UUID: hex digits and dashes. */
static int boot_id_valid(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-'))
            return 0;
    }
    return 1;
}

void igtcloud__journal_boot_id(char out[IGTCLOUD__JOURNAL_BOOT_MAX + 1])
{
    out[0] = '\0';
    char buf[64];
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return;
    size_t len = (size_t)n;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        len--;
    if (len > IGTCLOUD__JOURNAL_BOOT_MAX || !boot_id_valid(buf, len))
        return;
    memcpy(out, buf, len);
    out[len] = '\0';
}

int igtcloud__journal_parse(igtcloud__journal *out, const char *text, size_t len)
{
    igtcloud__journal fresh = IGTCLOUD__JOURNAL_INIT;
    *out = fresh;
    const char *p = text, *end = text + len;
    size_t magic = strlen(IGTCLOUD__JOURNAL_MAGIC);
    const char *nl = memchr(p, '\n', len);
    if (!nl || (size_t)(nl - p) != magic || memcmp(p, IGTCLOUD__JOURNAL_MAGIC, magic) != 0)
        goto bad;
    p = nl + 1;
    nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
        goto bad;
    const char *v, *ve;
    uint64_t size, range, modified;
    char etag[IGTCLOUD__JOURNAL_ETAG_MAX + 1];
    if (field(&v, &ve, p, nl, "size") || parse_u64(&size, v, ve))
        goto bad;
    if (field(&v, &ve, p, nl, "range") || parse_u64(&range, v, ve))
        goto bad;
    if (field(&v, &ve, p, nl, "modified") || parse_u64(&modified, v, ve) ||
        modified > INT64_MAX)
        goto bad;
    if (field(&v, &ve, p, nl, "etag") || ve - v > IGTCLOUD__JOURNAL_ETAG_MAX || ve == v)
        goto bad;
    memcpy(etag, v, (size_t)(ve - v));
    etag[ve - v] = '\0';
    char boot[IGTCLOUD__JOURNAL_BOOT_MAX + 1] = "";
    if (field(&v, &ve, p, nl, "boot") == 0) {
        if (ve - v > IGTCLOUD__JOURNAL_BOOT_MAX || !boot_id_valid(v, (size_t)(ve - v)))
            goto bad;
        memcpy(boot, v, (size_t)(ve - v));
        boot[ve - v] = '\0';
    }
    if (range == 0 || size > IGTCLOUD__S3_MAX_OBJECT ||
        igtcloud__journal_init(out, size, range, etag, (int64_t)modified))
        goto bad;
    memcpy(out->boot, boot, sizeof(out->boot));
    p = nl + 1;
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break; /* the torn last line of a killed run */
        uint64_t index;
        if (nl - p < 6 || memcmp(p, "done ", 5) != 0 || parse_u64(&index, p + 5, nl) ||
            index >= out->count)
            goto bad;
        igtcloud__journal_mark(out, (uint32_t)index);
        p = nl + 1;
    }
    return 0;
bad:
    igtcloud__journal_dispose(out);
    return igtcloud__error_set(IGTCLOUD_EPROTO, "not a valid download journal");
}

int igtcloud__journal_format_header(igtcloud__buf *out, const igtcloud__journal *j)
{
    return igtcloud__buf_printf(out, "%s\nsize=%" PRIu64 " range=%" PRIu64 " etag=%s modified=%" PRId64 "%s%s\n",
                                IGTCLOUD__JOURNAL_MAGIC, j->size, j->range_size, j->etag,
                                j->modified, j->boot[0] ? " boot=" : "", j->boot);
}

int igtcloud__journal_load(igtcloud__journal *out, const char *path)
{
    igtcloud__journal fresh = IGTCLOUD__JOURNAL_INIT;
    *out = fresh;
    int rc = 0;
    char *text = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return IGTCLOUD_ENOTFOUND;
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot open %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > IGTCLOUD__JOURNAL_MAX_BYTES) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "not a valid download journal: %s", path);
        goto done;
    }
    size_t len = (size_t)st.st_size;
    text = malloc(len + 1);
    if (!text) {
        rc = igtcloud__error_oom();
        goto done;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, text + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    rc = igtcloud__journal_parse(out, text, got);
done:
    free(text);
    close(fd);
    return rc;
}

int igtcloud__journal_create(int *out_fd, const char *path, const igtcloud__journal *j)
{
    igtcloud__buf text = IGTCLOUD_BUF_INIT;
    int rc = igtcloud__journal_format_header(&text, j);
    if (rc)
        return rc;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot create %s: %s", path, strerror(errno));
        goto done;
    }
    if (igtcloud__write_all(fd, text.ptr, text.size)) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        goto done;
    }
    *out_fd = fd;
done:
    igtcloud__buf_dispose(&text);
    return rc;
}

int igtcloud__journal_open_append(int *out_fd, const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot open %s: %s", path, strerror(errno));
    *out_fd = fd;
    return 0;
}

int igtcloud__journal_append(int fd, uint32_t index)
{
    char line[32];
    int n = snprintf(line, sizeof(line), "done %" PRIu32 "\n", index);
    if (igtcloud__write_all(fd, line, (size_t)n))
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot append to the download journal: %s",
                                   strerror(errno));
    return 0;
}
