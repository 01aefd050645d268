#ifndef IGTCLOUD_CORE_SPILL_H
#define IGTCLOUD_CORE_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/*
 * Bytes kept out of memory: appended to a file (an unnamed temporary one,
 * core/fdio.h) through a write buffer, and read back at any offset through a
 * window of their own. The study spool and upload's list of checked files
 * hold their records so. Without a file (fd < 0) the bytes stay in memory.
 */
typedef struct igtcloud__spill {
    int fd;                /* the file, or -1: every byte is in `pending` */
    igtcloud__buf pending; /* bytes not yet written to the file */
    uint64_t size;         /* bytes appended */
    uint64_t written;      /* of which in the file */
} igtcloud__spill;

/* Bytes of the file read back, from `at`. Start zeroed. */
typedef struct igtcloud__spill_window {
    igtcloud__buf buf;
    uint64_t at;
} igtcloud__spill_window;

/* Writes and reads go in chunks of this size (a longer record: its size). */
#define IGTCLOUD__SPILL_CHUNK ((size_t)64 * 1024)

/* Start empty over fd (-1: in memory). */
void igtcloud__spill_init(igtcloud__spill *s, int fd);

/*
 * Start empty over a new unnamed file (named after `stem` while it is made)
 * in `dir` (may be NULL), else $TMPDIR, else /tmp; without any writable
 * folder the bytes stay in memory, so this cannot fail.
 */
void igtcloud__spill_open_temp(igtcloud__spill *s, const char *dir, const char *stem);

/* Append; written out once a chunk is buffered. 0, or -1 with errno set. */
int igtcloud__spill_put(igtcloud__spill *s, const void *data, size_t len);

/* Write out what is buffered, so it can be read back. 0, or -1 with errno set. */
int igtcloud__spill_flush(igtcloud__spill *s);

/*
 * Point *p at the `len` bytes at `offset`, which must lie before `limit` and
 * be written out (igtcloud__spill_flush); valid until the window's next
 * read. 0, or -1 with errno set (EIO: past the limit, or the file is short).
 */
int igtcloud__spill_read(const char **p, const igtcloud__spill *s, igtcloud__spill_window *w,
                         uint64_t offset, size_t len, uint64_t limit);

/* Close the file and free the buffer (the window is its owner's). */
void igtcloud__spill_close(igtcloud__spill *s);

#endif
