#ifndef SANDBOX_S3_BODY_H
#define SANDBOX_S3_BODY_H

#include <stddef.h>
#include <stdint.h>

/*
 * A request body streamed to a temporary file while its digests are
 * computed, so that no object is ever held in memory. MD5 always (it is the
 * ETag); SHA-256 and CRC32C only when the request asks for them to be
 * checked.
 */
typedef struct sandbox_s3_body {
    int fd;                       /* -1 when closed */
    char path[4300];              /* the temporary file; "" once renamed or removed,
                                     and for bodies written into another file */
    unsigned long long base;      /* where the body starts in the file */
    unsigned long long size;
    void *md5;                    /* EVP_MD_CTX */
    void *sha256;                 /* EVP_MD_CTX, or NULL */
    int want_crc32c;
    uint32_t crc32c;
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

/* Append `len` bytes: pwrite at the current end, and hash. Returns 0 or -1. */
int sandbox_s3_body_write(sandbox_s3_body *b, const void *data, size_t len);

/*
 * Close the file and finish the digests (sha256 is left zero when it was not
 * computed). The file stays at b->path for the caller to rename.
 */
int sandbox_s3_body_finish(sandbox_s3_body *b, unsigned char md5[16],
                           unsigned char sha256[32], uint32_t *crc32c);

/* Close and remove the temporary file, if any, and free the digests. */
void sandbox_s3_body_discard(sandbox_s3_body *b);

/* CRC32C (Castagnoli) of data, continuing from crc (0 to start). */
uint32_t sandbox_crc32c(uint32_t crc, const void *data, size_t len);

#endif
