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
