#include "s3_body.h"
#include "core/fdio.h"
#include "core/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The library's CRC32C (SSE 4.2 when the CPU has it): the client and the
 * sandbox must agree on every checksum bit for bit. */
uint32_t sandbox_crc32c(uint32_t crc, const void *data, size_t len)
{
    return igtcloud__crc32c(crc, data, len);
}

void sandbox_s3_body_init(sandbox_s3_body *b)
{
    memset(b, 0, sizeof(*b));
    b->fd = -1;
}

static int start_digests(sandbox_s3_body *b, int want_sha256, int want_crc32c)
{
    igtcloud__md5_init(&b->md5);
    b->sha256 = want_sha256 ? EVP_MD_CTX_new() : NULL;
    b->want_crc32c = want_crc32c;
    if ((want_sha256 && !b->sha256) ||
        (b->sha256 && EVP_DigestInit_ex(b->sha256, EVP_sha256(), NULL) != 1)) {
        sandbox_s3_body_discard(b);
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

int sandbox_s3_body_open(sandbox_s3_body *b, const char *dir, int want_sha256,
                         int want_crc32c)
{
    sandbox_s3_body_init(b);
    int n = snprintf(b->path, sizeof(b->path), "%s/s3-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof(b->path)) {
        b->path[0] = '\0';
        errno = ENAMETOOLONG;
        return -1;
    }
    b->fd = mkstemp(b->path);
    if (b->fd < 0) {
        b->path[0] = '\0';
        return -1;
    }
    return start_digests(b, want_sha256, want_crc32c);
}

int sandbox_s3_body_open_at(sandbox_s3_body *b, const char *path, unsigned long long base,
                            int want_sha256, int want_crc32c)
{
    sandbox_s3_body_init(b);
    b->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (b->fd < 0)
        return -1;
    b->base = base;
    return start_digests(b, want_sha256, want_crc32c);
}

/* Write the filling stage at its place, hash it (MD5 queued) and move on
 * to the next stage, once that one's MD5 is done. */
static int flush_stage(sandbox_s3_body *b)
{
    sandbox_s3_body_stage *st = &b->stage[b->filling];
    if (!st->len)
        return 0;
    if (igtcloud__pwrite_all(b->fd, st->data, st->len, (off_t)(b->base + b->size - st->len)))
        return -1;
    if (b->sha256 && EVP_DigestUpdate(b->sha256, st->data, st->len) != 1) {
        errno = ENOMEM;
        return -1;
    }
    if (b->want_crc32c)
        b->crc32c = sandbox_crc32c(b->crc32c, st->data, st->len);
    sandbox_s3_md5_submit(&st->md5, &b->md5, st->data, st->len);
    st->hashing = 1;
    b->filling = (b->filling + 1) % SANDBOX_S3_BODY_STAGES;
    st = &b->stage[b->filling];
    if (st->hashing) {
        sandbox_s3_md5_wait(&st->md5);
        st->hashing = 0;
    }
    st->len = 0;
    return 0;
}

/* Wait for every queued MD5 piece: before the digest is read, and before
 * the stages are freed, as the hasher reads them. */
static void wait_hashed(sandbox_s3_body *b)
{
    for (unsigned k = 0; k < SANDBOX_S3_BODY_STAGES; k++) {
        sandbox_s3_body_stage *st = &b->stage[(b->filling + 1 + k) % SANDBOX_S3_BODY_STAGES];
        if (st->hashing)
            sandbox_s3_md5_wait(&st->md5);
        st->hashing = 0;
    }
}

static void free_stages(sandbox_s3_body *b)
{
    wait_hashed(b);
    for (unsigned k = 0; k < SANDBOX_S3_BODY_STAGES; k++) {
        free(b->stage[k].data);
        b->stage[k].data = NULL;
        b->stage[k].len = 0;
    }
}

int sandbox_s3_body_write(sandbox_s3_body *b, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        sandbox_s3_body_stage *st = &b->stage[b->filling];
        if (!st->data && !(st->data = malloc(SANDBOX_S3_BODY_STAGE))) {
            errno = ENOMEM;
            return -1;
        }
        size_t take = SANDBOX_S3_BODY_STAGE - st->len;
        if (take > len)
            take = len;
        memcpy(st->data + st->len, p, take);
        st->len += take;
        b->size += take;
        p += take;
        len -= take;
        if (st->len == SANDBOX_S3_BODY_STAGE && flush_stage(b))
            return -1;
    }
    return 0;
}

int sandbox_s3_body_finish(sandbox_s3_body *b, unsigned char md5[16],
                           unsigned char sha256[32], uint32_t *crc32c)
{
    int rc = flush_stage(b);
    wait_hashed(b);
    memset(sha256, 0, 32);
    igtcloud__md5_final(&b->md5, md5);
    if (b->sha256 && EVP_DigestFinal_ex(b->sha256, sha256, NULL) != 1)
        rc = -1;
    *crc32c = b->crc32c;
    if (close(b->fd) != 0)
        rc = -1;
    b->fd = -1;
    EVP_MD_CTX_free(b->sha256);
    b->sha256 = NULL;
    free_stages(b);
    return rc;
}

void sandbox_s3_body_discard(sandbox_s3_body *b)
{
    if (b->fd >= 0)
        close(b->fd);
    b->fd = -1;
    if (b->path[0])
        unlink(b->path);
    b->path[0] = '\0';
    EVP_MD_CTX_free(b->sha256);
    b->sha256 = NULL;
    free_stages(b);
}
