#include "core/safepath.h"
#include "core/error.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* Bytes of the control character at p (C0, DEL, or C1 in UTF-8), or 0. */
static size_t control_at(const unsigned char *p)
{
    if ((*p != '\0' && *p < 0x20) || *p == 0x7f)
        return 1;
    if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
        return 2;
    return 0;
}

const char *igtcloud__safepath_problem(const char *relative)
{
    if (!relative || !*relative)
        return "is empty";
    if (relative[0] == '/')
        return "is an absolute path";
    const char *segment = relative;
    for (const unsigned char *p = (const unsigned char *)relative;; p++) {
        unsigned char c = *p;
        if (c == '\\')
            return "has a backslash";
        if (control_at(p))
            return "has a control character";
        if (c != '/' && c != '\0')
            continue;
        size_t len = (size_t)((const char *)p - segment);
        if (len == 0)
            return c == '/' ? "has an empty segment ('//')" : "ends in '/'";
        if ((len == 1 && segment[0] == '.') || (len == 2 && segment[0] == '.' && segment[1] == '.'))
            return "has a '.' or '..' segment that would leave the target folder";
        if (len > IGTCLOUD_SAFEPATH_SEGMENT_MAX)
            return "has a segment longer than 255 bytes";
        if (c == '\0')
            return NULL;
        segment = (const char *)p + 1;
    }
}

int igtcloud__safepath_check(const char *relative)
{
    const char *problem = igtcloud__safepath_problem(relative);
    if (!problem)
        return 0;
    char shown[120];
    igtcloud__safepath_show(shown, sizeof(shown), relative ? relative : "");
    return igtcloud__error_set(IGTCLOUD_EINVALID, "refusing the name '%s' from the server: it %s",
                               shown, problem);
}

/* One character of a shown name: bytes consumed from p, bytes written (1 for a '?'). */
static size_t show_step(const unsigned char *p, size_t *written)
{
    size_t control = control_at(p);
    if (control) {
        *written = 1;
        return control;
    }
    size_t n = 1;
    if (*p >= 0xc0) {
        while (n < 4 && (p[n] & 0xc0) == 0x80)
            n++;
    }
    *written = n;
    return n;
}

void igtcloud__safepath_show(char *out, size_t size, const char *name)
{
    if (!size)
        return;
    const unsigned char *start = (const unsigned char *)(name ? name : "");
    size_t total = 0, written;
    for (const unsigned char *p = start; *p;) {
        p += show_step(p, &written);
        total += written;
    }
    /* Room for the characters; when the name does not fit, also for "...". */
    size_t room = total < size ? size - 1 : (size > 4 ? size - 4 : 0);
    size_t used = 0;
    for (const unsigned char *p = start; *p;) {
        size_t n = show_step(p, &written);
        if (used + written > room)
            break;
        if (control_at(p))
            out[used] = '?';
        else
            memcpy(out + used, p, n);
        used += written;
        p += n;
    }
    if (total >= size)
        for (int i = 0; i < 3 && used + 1 < size; i++)
            out[used++] = '.';
    out[used] = '\0';
}

int igtcloud__safepath_join(igtcloud__buf *out, const char *base, const char *relative)
{
    int rc = igtcloud__safepath_check(relative);
    if (rc)
        return rc;
    size_t base_len = strlen(base);
    while (base_len > 1 && base[base_len - 1] == '/')
        base_len--;
    if ((rc = igtcloud__buf_put(out, base, base_len)) || (rc = igtcloud__buf_putc(out, '/')))
        return rc;
    return igtcloud__buf_puts(out, relative);
}

int igtcloud__safepath_mkdirs(const char *base, const char *path)
{
    igtcloud__buf dir = IGTCLOUD_BUF_INIT;
    int rc = 0;
    size_t base_len = strlen(base);
    if (strncmp(path, base, base_len) != 0) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "'%s' is not inside '%s'", path, base);
        goto done;
    }
    if ((rc = igtcloud__buf_puts(&dir, path)))
        goto done;
    char *last = strrchr(dir.ptr, '/');
    if (!last || (size_t)(last - dir.ptr) <= base_len)
        goto done;
    *last = '\0';
    for (char *p = dir.ptr + base_len + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        struct stat st;
        if (lstat(dir.ptr, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) {
                rc = igtcloud__error_set(IGTCLOUD_EIO, "'%s' exists and is not a folder%s",
                                         dir.ptr, S_ISLNK(st.st_mode) ? " (a symlink)" : "");
                goto done;
            }
        } else if (mkdir(dir.ptr, 0755) != 0 && errno != EEXIST) {
            rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot create folder '%s': %s", dir.ptr,
                                     strerror(errno));
            goto done;
        }
        if (saved == '\0')
            break;
        *p = saved;
    }
done:
    igtcloud__buf_dispose(&dir);
    return rc;
}
