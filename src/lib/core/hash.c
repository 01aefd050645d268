#include "core/hash.h"
#include "core/error.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static int digest(const EVP_MD *md, unsigned char *out, const void *data, size_t len)
{
    unsigned int out_len = 0;
    if (EVP_Digest(data, len, out, &out_len, md, NULL) != 1)
        return igtcloud__error_set(IGTCLOUD_ERROR, "digest computation failed");
    return 0;
}

int igtcloud__sha256(unsigned char out[IGTCLOUD_SHA256_LEN], const void *data, size_t len)
{
    return digest(EVP_sha256(), out, data, len);
}

int igtcloud__md5(unsigned char out[IGTCLOUD_MD5_LEN], const void *data, size_t len)
{
    return digest(EVP_md5(), out, data, len);
}

int igtcloud__hmac_sha256(unsigned char out[IGTCLOUD_SHA256_LEN],
                          const void *key, size_t key_len,
                          const void *data, size_t len)
{
    unsigned int out_len = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len))
        return igtcloud__error_set(IGTCLOUD_ERROR, "HMAC computation failed");
    return 0;
}

void igtcloud__hex(char *out, const unsigned char *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
}

int igtcloud__equal_secret(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
