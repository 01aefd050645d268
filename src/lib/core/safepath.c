#include "core/safepath.h"
#include "core/error.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

int igtcloud__safepath_check(const char *relative)
{
    if (!relative || !*relative)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "empty file name from the server");
    if (relative[0] == '/')
        return igtcloud__error_set(IGTCLOUD_EINVALID,
                                   "refusing absolute path '%.80s' from the server", relative);
    const char *segment = relative;
    for (const char *p = relative;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\\' || (c != '\0' && (c < 0x20 || c == 0x7f)))
            return igtcloud__error_set(IGTCLOUD_EINVALID,
                                       "refusing file name with a %s from the server: '%.80s'",
                                       c == '\\' ? "backslash" : "control character",
                                       relative);
        if (c != '/' && c != '\0')
            continue;
        size_t len = (size_t)(p - segment);
        if (len == 0 && c == '/')
            return igtcloud__error_set(IGTCLOUD_EINVALID,
                                       "refusing path with an empty segment: '%.80s'", relative);
        if ((len == 1 && segment[0] == '.') || (len == 2 && segment[0] == '.' && segment[1] == '.'))
            return igtcloud__error_set(IGTCLOUD_EINVALID,
                                       "refusing path that escapes the target folder: '%.80s'",
                                       relative);
        if (c == '\0')
            return len == 0 ? igtcloud__error_set(IGTCLOUD_EINVALID,
                                                  "refusing path ending in '/': '%.80s'",
                                                  relative)
                            : 0;
        segment = p + 1;
    }
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
