#ifndef IGTCLOUD_CORE_FDIO_H
#define IGTCLOUD_CORE_FDIO_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Write all `len` bytes to fd, across short writes and EINTR. Returns 0, or
 * -1 with errno set (EIO when the system wrote nothing and said no error).
 */
int igtcloud__write_all(int fd, const void *data, size_t len);

/* The same, at file offset `offset` (pwrite; the file position is left alone). */
int igtcloud__pwrite_all(int fd, const void *data, size_t len, off_t offset);

/*
 * Read up to `len` bytes at file offset `offset` (pread), across short reads
 * and EINTR: fewer only at the end of the file. Returns the count, or -1 with
 * errno set.
 */
ssize_t igtcloud__pread_full(int fd, void *buf, size_t len, off_t offset);

/*
 * A new file in `dir` that has no name, read-write, close-on-exec, 0600:
 * O_TMPFILE, or on file systems without it a file named after `stem` made
 * with mkostemp and unlinked at once. Nothing is left behind however the
 * process ends. Returns the descriptor, or -1 with errno set.
 */
int igtcloud__open_unnamed(const char *dir, const char *stem);

#endif
