#ifndef SANDBOX_S3_MD5_H
#define SANDBOX_S3_MD5_H

/*
 * The MD5 of every uploaded body (its ETag), hashed side by side across
 * bodies while they arrive. One MD5 stream runs at about 500 MB/s, and on a
 * busy sandbox it was 40% of the server's CPU; several streams in the lanes
 * of one SIMD register cost about what one does. Connection threads queue
 * the pieces they receive and go on receiving; one hasher thread takes the
 * oldest piece of each body in the queue and hashes them together. Bodies
 * rarely finish at the same moment, so hashing each body's last piece while
 * its thread waits would almost always hash alone: pieces must be queued
 * while the body is still arriving.
 *
 * Without SIMD lanes (igtcloud__md5_lanes() == 1) a piece is hashed at once
 * by the thread that submits it, as one thread could not keep up with many.
 */
#include "core/md5.h"

#include <stddef.h>

typedef struct sandbox_s3_md5_piece {
    igtcloud__md5_ctx *ctx;
    const unsigned char *data;  /* must stay valid until hashed */
    size_t len;
    int done;                   /* guarded by the queue's lock */
    struct sandbox_s3_md5_piece *next;
} sandbox_s3_md5_piece;

/*
 * Queue `len` bytes at `data` to be added to `ctx`. Pieces of one context
 * are added in the order they were submitted. The piece struct and the data
 * must stay untouched until sandbox_s3_md5_wait returns for it.
 */
void sandbox_s3_md5_submit(sandbox_s3_md5_piece *piece, igtcloud__md5_ctx *ctx,
                           const void *data, size_t len);

/* Wait until `piece` is hashed. */
void sandbox_s3_md5_wait(sandbox_s3_md5_piece *piece);

typedef struct sandbox_s3_md5_counts {
    unsigned long long pieces;  /* pieces hashed */
    unsigned long long shared;  /* of those, hashed in a batch with another */
    unsigned long long waiting; /* queued now, not yet hashed */
} sandbox_s3_md5_counts;

void sandbox_s3_md5_get_counts(sandbox_s3_md5_counts *out);

/*
 * Tests: while held, pieces queue and the hasher takes none; on release it
 * hashes what queued. This makes a batch of a known size without relying on
 * timing.
 */
void sandbox_s3_md5_hold(int held);

#endif
