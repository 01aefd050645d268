#ifndef IGTCLOUD_CORE_HASH_H
#define IGTCLOUD_CORE_HASH_H

#include <stddef.h>

#define IGTCLOUD_SHA256_LEN 32
#define IGTCLOUD_MD5_LEN 16

/* One-shot digests over a memory range (OpenSSL EVP underneath). */
int igtcloud__sha256(unsigned char out[IGTCLOUD_SHA256_LEN], const void *data, size_t len);
int igtcloud__md5(unsigned char out[IGTCLOUD_MD5_LEN], const void *data, size_t len);
int igtcloud__hmac_sha256(unsigned char out[IGTCLOUD_SHA256_LEN],
                          const void *key, size_t key_len,
                          const void *data, size_t len);

/* Lower-case hex of `len` bytes into out, which holds 2 * len + 1 chars. */
void igtcloud__hex(char *out, const unsigned char *data, size_t len);

/* Compare two byte ranges in time independent of where they differ. */
int igtcloud__equal_secret(const void *a, const void *b, size_t len);

#endif
