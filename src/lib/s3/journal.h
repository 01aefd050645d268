#ifndef IGTCLOUD_S3_JOURNAL_H
#define IGTCLOUD_S3_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/*
 * The resume journal of a ranged download: a small append-only text file
 * beside the temporary file that names the object it belongs to and the
 * ranges already written there:
 *
 *   igtcloud-journal 1
 *   size=1048576 range=262144 etag=0123abcd-4 modified=1700000000 boot=<id>
 *   done 0
 *   done 3
 *
 * `boot` is the kernel's boot id when the journal was written. A killed
 * process loses nothing the kernel already holds, so the ranges of a journal
 * with this boot's id are on the page cache or disk without any sync; a
 * journal of another boot (a crash or power loss since) is not trusted. A
 * journal without `boot` (the boot id could not be read) was written with
 * every range synced before its line.
 *
 * A killed run leaves at worst a last line without its newline; the reader
 * ignores it. Anything else malformed makes the journal invalid and the
 * download starts over.
 */

#define IGTCLOUD__JOURNAL_MAGIC "igtcloud-journal 1"
#define IGTCLOUD__JOURNAL_ETAG_MAX 127
#define IGTCLOUD__JOURNAL_BOOT_MAX 36
#define IGTCLOUD__JOURNAL_MAX_BYTES ((size_t)4 * 1024 * 1024)
/* Most ranges one journal tracks (one flag byte each): 5 TiB in 8 MiB ranges fits. */
#define IGTCLOUD__JOURNAL_MAX_RANGES ((uint32_t)1 << 20)

typedef struct igtcloud__journal {
    uint64_t size;          /* object size */
    uint64_t range_size;
    char etag[IGTCLOUD__JOURNAL_ETAG_MAX + 1];
    int64_t modified;       /* Last-Modified, epoch seconds */
    char boot[IGTCLOUD__JOURNAL_BOOT_MAX + 1]; /* boot id when written, or "" */
    uint32_t count;         /* number of ranges */
    uint32_t ndone;         /* ranges marked done (distinct) */
    unsigned char *done;    /* count flags */
} igtcloud__journal;

#define IGTCLOUD__JOURNAL_INIT { 0, 0, "", 0, "", 0, 0, NULL }

/*
 * Set up j for an object (allocates the flags). etag must be printable
 * without blanks; at most IGTCLOUD__JOURNAL_MAX_RANGES ranges. Returns 0,
 * EINVALID or ENOMEM.
 */
int igtcloud__journal_init(igtcloud__journal *j, uint64_t size, uint64_t range_size,
                           const char *etag, int64_t modified);
void igtcloud__journal_dispose(igtcloud__journal *j);

/* Parse journal text. Returns 0 or EPROTO (out is then disposed). */
int igtcloud__journal_parse(igtcloud__journal *out, const char *text, size_t len);

/* The first two lines for j. */
int igtcloud__journal_format_header(igtcloud__buf *out, const igtcloud__journal *j);

/*
 * The running kernel's boot id (Linux: /proc/sys/kernel/random/boot_id) into
 * out; "" when it cannot be read.
 */
void igtcloud__journal_boot_id(char out[IGTCLOUD__JOURNAL_BOOT_MAX + 1]);

/* Mark range `index` done in memory. */
void igtcloud__journal_mark(igtcloud__journal *j, uint32_t index);

/*
 * Read the journal file at path. Returns 0, ENOTFOUND when there is none,
 * EPROTO when it is not a valid journal, EIO.
 */
int igtcloud__journal_load(igtcloud__journal *out, const char *path);

/*
 * Write a new journal file for j (replacing any) and leave it open for
 * appending in *out_fd. Returns 0 or EIO.
 */
int igtcloud__journal_create(int *out_fd, const char *path, const igtcloud__journal *j);

/* Open an existing journal for appending. Returns 0 or EIO. */
int igtcloud__journal_open_append(int *out_fd, const char *path);

/* Append "done INDEX\n" in one write. Returns 0 or EIO. */
int igtcloud__journal_append(int fd, uint32_t index);

#endif
