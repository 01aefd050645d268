#ifndef IGTCLOUD_CORE_FDIO_H
#define IGTCLOUD_CORE_FDIO_H

#include <stddef.h>

/*
 * Write all `len` bytes to fd, across short writes and EINTR. Returns 0, or
 * -1 with errno set (EIO when the system wrote nothing and said no error).
 */
int igtcloud__write_all(int fd, const void *data, size_t len);

#endif
