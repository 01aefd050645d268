#include "core/fdio.h"

#include <errno.h>
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
