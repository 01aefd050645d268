#include "s3_body.h"
#include "core/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
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
    b->md5 = EVP_MD_CTX_new();
    b->sha256 = want_sha256 ? EVP_MD_CTX_new() : NULL;
    b->want_crc32c = want_crc32c;
    if (!b->md5 || (want_sha256 && !b->sha256) ||
        EVP_DigestInit_ex(b->md5, EVP_md5(), NULL) != 1 ||
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

int sandbox_s3_body_write(sandbox_s3_body *b, const void *data, size_t len)
{
    const char *p = data;
    size_t left = len;
    off_t at = (off_t)(b->base + b->size);
    while (left > 0) {
        ssize_t put = pwrite(b->fd, p, left, at);
        if (put < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += put;
        at += put;
        left -= (size_t)put;
    }
    b->size += len;
    if (EVP_DigestUpdate(b->md5, data, len) != 1 ||
        (b->sha256 && EVP_DigestUpdate(b->sha256, data, len) != 1))
        return -1;
    if (b->want_crc32c)
        b->crc32c = sandbox_crc32c(b->crc32c, data, len);
    return 0;
}

int sandbox_s3_body_finish(sandbox_s3_body *b, unsigned char md5[16],
                           unsigned char sha256[32], uint32_t *crc32c)
{
    int rc = 0;
    memset(sha256, 0, 32);
    if (EVP_DigestFinal_ex(b->md5, md5, NULL) != 1 ||
        (b->sha256 && EVP_DigestFinal_ex(b->sha256, sha256, NULL) != 1))
        rc = -1;
    *crc32c = b->crc32c;
    if (close(b->fd) != 0)
        rc = -1;
    b->fd = -1;
    EVP_MD_CTX_free(b->md5);
    EVP_MD_CTX_free(b->sha256);
    b->md5 = b->sha256 = NULL;
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
    EVP_MD_CTX_free(b->md5);
    EVP_MD_CTX_free(b->sha256);
    b->md5 = b->sha256 = NULL;
}
