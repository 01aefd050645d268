#ifndef SANDBOX_S3_BODY_H
#define SANDBOX_S3_BODY_H

#include "core/md5.h"
#include "s3_md5.h"

#include <stddef.h>
#include <stdint.h>

/*
 * A request body streamed to a temporary file while its digests are
 * computed, so that no object is ever held in memory. MD5 always (it is the
 * ETag); SHA-256 and CRC32C only when the request asks for them to be
 * checked. The network hands the body over in pieces of a few KiB; they are
 * gathered in stages of SANDBOX_S3_BODY_STAGE bytes, each written at once
 * and queued for the MD5 hasher (s3_md5.h) while the next one fills.
 */
#define SANDBOX_S3_BODY_STAGE (64u << 10)
#define SANDBOX_S3_BODY_STAGES 4

typedef struct sandbox_s3_body_stage {
    unsigned char *data;          /* NULL until first used */
    size_t len;
    int hashing;                  /* md5 is queued and not yet waited for */
    sandbox_s3_md5_piece md5;
} sandbox_s3_body_stage;

typedef struct sandbox_s3_body {
    int fd;                       /* -1 when closed */
    char path[4300];              /* the temporary file; "" once renamed or removed,
                                     and for bodies written into another file */
    unsigned long long base;      /* where the body starts in the file */
    unsigned long long size;      /* bytes taken, staged ones included */
    igtcloud__md5_ctx md5;
    void *sha256;                 /* EVP_MD_CTX, or NULL */
    int want_crc32c;
    uint32_t crc32c;
    sandbox_s3_body_stage stage[SANDBOX_S3_BODY_STAGES];
    unsigned filling;             /* the stage taking pieces */
} sandbox_s3_body;

/* Zero the struct so that _discard is safe before _open. */
void sandbox_s3_body_init(sandbox_s3_body *b);

/* Create a temporary file in `dir`. Returns 0 or -1 (errno set). */
int sandbox_s3_body_open(sandbox_s3_body *b, const char *dir, int want_sha256,
                         int want_crc32c);

/*
 * Write the body into `path` (created if missing) from byte `base` on, in
 * place: nothing is removed when the body is discarded.
 */
int sandbox_s3_body_open_at(sandbox_s3_body *b, const char *path, unsigned long long base,
                            int want_sha256, int want_crc32c);

/* Append `len` bytes: stage them; a full stage is written and queued for
 * hashing. Returns 0 or -1 (errno set). */
int sandbox_s3_body_write(sandbox_s3_body *b, const void *data, size_t len);

/*
 * Write what is staged, close the file and finish the digests (sha256 is
 * left zero when it was not computed). The file stays at b->path for the
 * caller to rename.
 */
int sandbox_s3_body_finish(sandbox_s3_body *b, unsigned char md5[16],
                           unsigned char sha256[32], uint32_t *crc32c);

/* Close and remove the temporary file, if any, and free the digests. */
void sandbox_s3_body_discard(sandbox_s3_body *b);

/* CRC32C (Castagnoli) of data, continuing from crc (0 to start). */
uint32_t sandbox_crc32c(uint32_t crc, const void *data, size_t len);

#endif
