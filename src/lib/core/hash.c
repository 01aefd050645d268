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

/*
 * CRC32C: a byte table (slicing by one) and the SSE 4.2 crc32 instruction.
 * One instruction's result feeds the next (3 cycles each), so long inputs
 * run three stripes at once and join them: a CRC register is linear in its
 * bits, so the register after A then B is the register after A shifted over
 * |B| zero bytes, xor the register of B from zero. The shift over a stripe's
 * length is a table lookup per register byte.
 */
#define CRC_STRIPE 4096
static uint32_t crc_table[256];
static uint32_t crc_shift_stripe[4][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static int crc_hardware;

/* The register after `zeros` zero bytes, bit by bit (only to build tables). */
static uint32_t crc_shift_slow(uint32_t reg, size_t zeros)
{
    for (size_t i = 0; i < 8 * zeros; i++)
        reg = (reg & 1) ? (reg >> 1) ^ 0x82f63b78u : reg >> 1;
    return reg;
}

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++)
        crc_table[i] = crc_shift_slow(i, 1);
    /* Shifting is linear: from the image of each bit, tabulate each register byte. */
    uint32_t bit_image[32];
    for (int bit = 0; bit < 32; bit++)
        bit_image[bit] = crc_shift_slow(1u << bit, CRC_STRIPE);
    for (int k = 0; k < 4; k++)
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t reg = b << (8 * k), out = 0;
            for (int bit = 0; bit < 32; bit++)
                if (reg & (1u << bit))
                    out ^= bit_image[bit];
            crc_shift_stripe[k][b] = out;
        }
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    crc_hardware = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc_shift(uint32_t reg)
{
    return crc_shift_stripe[0][reg & 0xff] ^ crc_shift_stripe[1][(reg >> 8) & 0xff] ^
           crc_shift_stripe[2][(reg >> 16) & 0xff] ^ crc_shift_stripe[3][reg >> 24];
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2")))
static uint32_t crc_sse42(uint32_t crc, const unsigned char *p, size_t len)
{
    uint64_t c = crc;
    while (len >= 3 * CRC_STRIPE) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < CRC_STRIPE; i += 8) {
            uint64_t v0, v1, v2;
            memcpy(&v0, p + i, 8);
            memcpy(&v1, p + CRC_STRIPE + i, 8);
            memcpy(&v2, p + 2 * CRC_STRIPE + i, 8);
            c = __builtin_ia32_crc32di(c, v0);
            c1 = __builtin_ia32_crc32di(c1, v1);
            c2 = __builtin_ia32_crc32di(c2, v2);
        }
        c = crc_shift(crc_shift((uint32_t)c) ^ (uint32_t)c1) ^ (uint32_t)c2;
        p += 3 * CRC_STRIPE;
        len -= 3 * CRC_STRIPE;
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

/*
 * Moving a CRC register over zero bytes is a multiplication by x^(8n)
 * modulo the polynomial (bit-reflected: bit 31 is x^0). Powers x^(2^k)
 * are tabulated once, so a shift over any length costs at most 64
 * multiplications of 32 steps (zlib's crc32_combine works the same way).
 */
#define CRC_POLY 0x82f63b78u
static uint32_t crc_x2n[64];
static pthread_once_t crc_x2n_once = PTHREAD_ONCE_INIT;

static uint32_t crc_multiply(uint32_t a, uint32_t b)
{
    uint32_t m = 1u << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ CRC_POLY : b >> 1;
    }
    return p;
}

static void crc_x2n_init(void)
{
    uint32_t p = 1u << 30; /* x^1 */
    crc_x2n[0] = p;
    for (int k = 1; k < 64; k++)
        crc_x2n[k] = p = crc_multiply(p, p);
}

uint32_t igtcloud__crc32c_shift(uint32_t reg, uint64_t zeros)
{
    pthread_once(&crc_x2n_once, crc_x2n_init);
    /* x^(8 zeros): the bits of `zeros` pick x^(2^(k+3)). */
    for (int k = 3; zeros && k < 64; k++, zeros >>= 1)
        if (zeros & 1)
            reg = crc_multiply(crc_x2n[k], reg);
    return reg;
}

uint32_t igtcloud__crc32c_raw(const void *data, size_t len)
{
    return ~igtcloud__crc32c(0xffffffffu, data, len);
}

uint32_t igtcloud__crc32c_of_raw(uint32_t raw, uint64_t len)
{
    return ~(igtcloud__crc32c_shift(0xffffffffu, len) ^ raw);
}

uint32_t igtcloud__crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
    return igtcloud__crc32c_shift(crc_a, len_b) ^ crc_b;
}

uint64_t igtcloud__hash64(const void *data, size_t len)
{
    const unsigned char *s = data;
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < len; i++) {
        h ^= s[i];
        h *= UINT64_C(1099511628211);
    }
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}
