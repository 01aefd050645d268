#include "core/hash.h"
#include "core/error.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <string.h>

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

/* CRC32C: a byte table (slicing by one) and the SSE 4.2 crc32 instruction. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static int crc_hardware;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc_table[i] = c;
    }
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    crc_hardware = __builtin_cpu_supports("sse4.2");
#endif
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2")))
static uint32_t crc_sse42(uint32_t crc, const unsigned char *p, size_t len)
{
    uint64_t c = crc;
    while (len >= 32) {
        uint64_t v[4];
        memcpy(v, p, sizeof(v));
        c = __builtin_ia32_crc32di(c, v[0]);
        c = __builtin_ia32_crc32di(c, v[1]);
        c = __builtin_ia32_crc32di(c, v[2]);
        c = __builtin_ia32_crc32di(c, v[3]);
        p += 32;
        len -= 32;
    }
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

uint32_t igtcloud__crc32c_portable(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    crc = ~crc;
    while (len--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t igtcloud__crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (crc_hardware)
        return ~crc_sse42(~crc, data, len);
#endif
    return igtcloud__crc32c_portable(crc, data, len);
}
