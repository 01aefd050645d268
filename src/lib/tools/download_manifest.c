/* The completion manifest of a download target (see download_int.h). */
#include "tools/download_int.h"
#include "core/error.h"
#include "core/safepath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MANIFEST_DIR ".igtcloud"
#define MANIFEST_NAME "download-manifest"

/* A decimal field ending at a space; advances *p past the space. */
static int take_number(long long *out, const char **p, const char *end)
{
    const char *s = *p;
    long long v = 0;
    if (s >= end || *s < '0' || *s > '9')
        return -1;
    while (s < end && *s >= '0' && *s <= '9') {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*s - '0');
        s++;
    }
    if (s >= end || *s != ' ')
        return -1;
    *out = v;
    *p = s + 1;
    return 0;
}

int igtcloud__dl_manifest_parse_line(const char *line, size_t len, const char **rel,
                                     long long *size, long long *sec, long *nsec)
{
    const char *p = line, *end = line + len;
    long long version, ns;
    if (take_number(&version, &p, end) || version != 1 || take_number(size, &p, end) ||
        take_number(sec, &p, end) || take_number(&ns, &p, end) || ns > 999999999)
        return -1;
    *nsec = (long)ns;
    const char *sp = memchr(p, ' ', (size_t)(end - p));   /* the etag has no spaces */
    if (!sp || sp + 1 >= end || memchr(sp + 1, '\0', (size_t)(end - sp - 1)))
        return -1;
    *rel = sp + 1;
    return 0;
}

static int load(igtcloud__dl_manifest *m)
{
    FILE *f = fopen(m->path, "rb");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    if (!f)
        return errno == ENOENT ? 0
                               : igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", m->path,
                                                     strerror(errno));
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n') {
            m->need_newline = 1;   /* torn by an interrupted run */
            break;
        }
        line[--n] = '\0';
        const char *rel;
        long long size, sec;
        long nsec;
        if (igtcloud__dl_manifest_parse_line(line, (size_t)n, &rel, &size, &sec, &nsec))
            continue;
        char value[80];
        snprintf(value, sizeof(value), "%lld %lld %ld", size, sec, nsec);
        if (json_object_set_new_nocheck(m->entries, rel, json_string(value))) {
            rc = igtcloud__error_oom();
            break;
        }
    }
    free(line);
    fclose(f);
    return rc;
}

int igtcloud__dl_manifest_open(igtcloud__dl_manifest *m, const char *target, int read_only)
{
    igtcloud__buf dir = IGTCLOUD_BUF_INIT, path = IGTCLOUD_BUF_INIT;
    int rc;
    memset(m, 0, sizeof(*m));
    m->fd = -1;
    m->entries = json_object();
    if (!m->entries)
        return igtcloud__error_oom();
    if ((rc = igtcloud__safepath_join(&dir, target, MANIFEST_DIR)) ||
        (rc = igtcloud__safepath_join(&path, target, MANIFEST_DIR "/" MANIFEST_NAME)))
        goto done;
    m->path = igtcloud__buf_detach(&path);
    if (!read_only && mkdir(dir.ptr, 0755) != 0 && errno != EEXIST) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write in %s: %s", target, strerror(errno));
        goto done;
    }
    if ((rc = load(m)))
        goto done;
    if (read_only)
        goto done;
    m->fd = open(m->path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (m->fd < 0) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write %s: %s", m->path, strerror(errno));
        goto done;
    }
    if (m->need_newline && write(m->fd, "\n", 1) != 1) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write %s: %s", m->path, strerror(errno));
        goto done;
    }
    m->need_newline = 0;
done:
    igtcloud__buf_dispose(&dir);
    igtcloud__buf_dispose(&path);
    return rc;
}

int igtcloud__dl_manifest_vouches(const igtcloud__dl_manifest *m, const char *rel,
                                  const struct stat *st)
{
    const char *value = json_string_value(json_object_get(m->entries, rel));
    char want[80];
    if (!value)
        return 0;
    snprintf(want, sizeof(want), "%lld %lld %ld", (long long)st->st_size,
             (long long)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec);
    return strcmp(value, want) == 0;
}

int igtcloud__dl_manifest_record(igtcloud__dl_manifest *m, const char *rel, const char *path,
                                 const char *etag)
{
    struct stat st;
    igtcloud__buf line = IGTCLOUD_BUF_INIT;
    char value[80];
    int rc = 0;
    if (m->fd < 0)
        return 0;
    if (stat(path, &st) != 0)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot stat %s: %s", path, strerror(errno));
    const char *tag = etag && *etag && !strpbrk(etag, " \n") ? etag : "-";
    if ((rc = igtcloud__buf_printf(&line, "1 %lld %lld %ld %s %s\n", (long long)st.st_size,
                                   (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec, tag,
                                   rel)))
        goto done;
    if (write(m->fd, line.ptr, line.size) != (ssize_t)line.size) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write %s: %s", m->path, strerror(errno));
        goto done;
    }
    snprintf(value, sizeof(value), "%lld %lld %ld", (long long)st.st_size,
             (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    if (json_object_set_new_nocheck(m->entries, rel, json_string(value)))
        rc = igtcloud__error_oom();
done:
    igtcloud__buf_dispose(&line);
    return rc;
}

int igtcloud__dl_manifest_close(igtcloud__dl_manifest *m)
{
    int rc = 0;
    if (m->fd >= 0 && close(m->fd) != 0)
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write %s: %s", m->path, strerror(errno));
    m->fd = -1;
    json_decref(m->entries);
    m->entries = NULL;
    free(m->path);
    m->path = NULL;
    return rc;
}
