#define _GNU_SOURCE /* O_TMPFILE, mkostemp */
#include "core/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* write(), or pwrite() at offset when offset >= 0, until all of data is out. */
static int put_all(int fd, const void *data, size_t len, off_t offset)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = offset < 0 ? write(fd, p, len) : pwrite(fd, p, len, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        if (offset >= 0)
            offset += n;
    }
    return 0;
}

int igtcloud__write_all(int fd, const void *data, size_t len)
{
    return put_all(fd, data, len, -1);
}

int igtcloud__pwrite_all(int fd, const void *data, size_t len, off_t offset)
{
    if (offset < 0) {
        errno = EINVAL;
        return -1;
    }
    return put_all(fd, data, len, offset);
}

ssize_t igtcloud__pread_full(int fd, void *buf, size_t len, off_t offset)
{
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, p + got, len - got, offset + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int igtcloud__open_unnamed(const char *dir, const char *stem)
{
#ifdef O_TMPFILE
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
#endif
    int len = snprintf(NULL, 0, "%s/%s.XXXXXX", dir, stem);
    char *path = len > 0 ? malloc((size_t)len + 1) : NULL;
    if (!path) {
        errno = ENOMEM;
        return -1;
    }
    snprintf(path, (size_t)len + 1, "%s/%s.XXXXXX", dir, stem);
    int made = mkostemp(path, O_CLOEXEC);
    if (made >= 0)
        unlink(path);
    int saved = errno;
    free(path);
    errno = saved;
    return made;
}
