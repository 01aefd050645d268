#include "core/md5.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MD5_X86 1
#endif

/* RFC 1321: the sine table, the per-round shifts, the message word order. */
static const uint32_t K[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

static uint32_t rotl(uint32_t v, int s)
{
    return (v << s) | (v >> (32 - s));
}

static uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define MD5_F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define MD5_G(x, y, z) ((y) ^ ((z) & ((x) ^ (y))))
#define MD5_H(x, y, z) ((x) ^ (y) ^ (z))
#define MD5_I(x, y, z) ((y) ^ ((x) | ~(z)))
#define MD5_STEP(f, a, b, c, d, w, i, s) (a) = (b) + rotl((a) + f(b, c, d) + (w) + K[i], s)

/* One stream: `blocks` 64-byte blocks of p into h. */
static void compress_one(uint32_t h[4], const unsigned char *p, size_t blocks)
{
    for (; blocks; blocks--, p += 64) {
        uint32_t w[16];
        for (int i = 0; i < 16; i++)
            w[i] = load_le32(p + 4 * i);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
#define R1(i) MD5_STEP(MD5_F, a, b, c, d, w[i], i, 7); MD5_STEP(MD5_F, d, a, b, c, w[i + 1], i + 1, 12); \
              MD5_STEP(MD5_F, c, d, a, b, w[i + 2], i + 2, 17); MD5_STEP(MD5_F, b, c, d, a, w[i + 3], i + 3, 22)
#define R2(i) MD5_STEP(MD5_G, a, b, c, d, w[(5 * i + 1) & 15], i, 5); \
              MD5_STEP(MD5_G, d, a, b, c, w[(5 * i + 6) & 15], i + 1, 9); \
              MD5_STEP(MD5_G, c, d, a, b, w[(5 * i + 11) & 15], i + 2, 14); \
              MD5_STEP(MD5_G, b, c, d, a, w[(5 * i + 16) & 15], i + 3, 20)
#define R3(i) MD5_STEP(MD5_H, a, b, c, d, w[(3 * i + 5) & 15], i, 4); \
              MD5_STEP(MD5_H, d, a, b, c, w[(3 * i + 8) & 15], i + 1, 11); \
              MD5_STEP(MD5_H, c, d, a, b, w[(3 * i + 11) & 15], i + 2, 16); \
              MD5_STEP(MD5_H, b, c, d, a, w[(3 * i + 14) & 15], i + 3, 23)
#define R4(i) MD5_STEP(MD5_I, a, b, c, d, w[(7 * i) & 15], i, 6); \
              MD5_STEP(MD5_I, d, a, b, c, w[(7 * i + 7) & 15], i + 1, 10); \
              MD5_STEP(MD5_I, c, d, a, b, w[(7 * i + 14) & 15], i + 2, 15); \
              MD5_STEP(MD5_I, b, c, d, a, w[(7 * i + 21) & 15], i + 3, 21)
#define ROUNDS R1(0); R1(4); R1(8); R1(12); R2(16); R2(20); R2(24); R2(28); \
               R3(32); R3(36); R3(40); R3(44); R4(48); R4(52); R4(56); R4(60)
        ROUNDS;
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
    }
}

#ifdef MD5_X86
#define LANES 8

/* Eight rows of eight 32-bit words into eight columns. */
__attribute__((target("avx2"), always_inline))
static inline void transpose8(__m256i r[8])
{
    __m256i t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x31);
    }
}

/*
 * The scalar steps on eight streams, one per 32-bit lane of a 256-bit
 * register: `blocks` blocks of each; lane k reads p[k] on, advancing step[k]
 * bytes a block (0 for an idle lane), its state in h[k]. Defined twice: with
 * AVX2, and with AVX-512VL's rotate and three-input logic (fewer
 * instructions a step, and 32 registers for the 16 message words).
 */
#define V_STEP(f, a, b, c, d, w, i, s)                                                             \
    (a) = _mm256_add_epi32(                                                                        \
        b, V_ROTL(_mm256_add_epi32(_mm256_add_epi32(a, f(b, c, d)),                                \
                                   _mm256_add_epi32(w, _mm256_set1_epi32((int)K[i]))),            \
                  s))
#define DEFINE_COMPRESS_EIGHT(name, isa)                                                           \
    __attribute__((target(isa))) static void name(uint32_t *const h[LANES],                        \
                                                  const unsigned char *const p[LANES],             \
                                                  const size_t step[LANES], size_t blocks)         \
    {                                                                                              \
        __m256i a = gather_state(h, 0), b = gather_state(h, 1);                                    \
        __m256i c = gather_state(h, 2), d = gather_state(h, 3);                                    \
        for (size_t blk = 0; blk < blocks; blk++) {                                                \
            __m256i w[16];                                                                         \
            /* Rows are streams (words 0-7, then 8-15); columns become words. */                  \
            for (int half = 0; half < 2; half++) {                                                 \
                for (int k = 0; k < LANES; k++)                                                    \
                    w[8 * half + k] = _mm256_loadu_si256(                                          \
                        (const __m256i *)(p[k] + step[k] * blk + 32 * half));                      \
                transpose8(w + 8 * half);                                                          \
            }                                                                                      \
            __m256i aa = a, bb = b, cc = c, dd = d;                                                \
            ROUNDS;                                                                                \
            a = _mm256_add_epi32(a, aa);                                                           \
            b = _mm256_add_epi32(b, bb);                                                           \
            c = _mm256_add_epi32(c, cc);                                                           \
            d = _mm256_add_epi32(d, dd);                                                           \
        }                                                                                          \
        scatter_state(h, a, b, c, d);                                                              \
    }

__attribute__((target("avx2"), always_inline))
static inline __m256i gather_state(uint32_t *const h[LANES], int j)
{
    return _mm256_setr_epi32((int)h[0][j], (int)h[1][j], (int)h[2][j], (int)h[3][j], (int)h[4][j],
                             (int)h[5][j], (int)h[6][j], (int)h[7][j]);
}

__attribute__((target("avx2"), always_inline))
static inline void scatter_state(uint32_t *const h[LANES], __m256i a, __m256i b, __m256i c, __m256i d)
{
    uint32_t out[4][LANES];
    _mm256_storeu_si256((__m256i *)out[0], a);
    _mm256_storeu_si256((__m256i *)out[1], b);
    _mm256_storeu_si256((__m256i *)out[2], c);
    _mm256_storeu_si256((__m256i *)out[3], d);
    for (int k = 0; k < LANES; k++)
        for (int j = 0; j < 4; j++)
            h[k][j] = out[j][k];
}

#undef MD5_STEP
#define MD5_STEP(f, a, b, c, d, w, i, s) V_STEP(V_##f, a, b, c, d, w, i, s)

#define V_ROTL(v, s) _mm256_or_si256(_mm256_slli_epi32(v, s), _mm256_srli_epi32(v, 32 - (s)))
#define V_MD5_F(x, y, z) _mm256_xor_si256(z, _mm256_and_si256(x, _mm256_xor_si256(y, z)))
#define V_MD5_G(x, y, z) _mm256_xor_si256(y, _mm256_and_si256(z, _mm256_xor_si256(x, y)))
#define V_MD5_H(x, y, z) _mm256_xor_si256(_mm256_xor_si256(x, y), z)
#define V_MD5_I(x, y, z) _mm256_xor_si256(y, _mm256_or_si256(x, _mm256_xor_si256(z, _mm256_set1_epi32(-1))))
DEFINE_COMPRESS_EIGHT(compress_eight_avx2, "avx2")
#undef V_ROTL
#undef V_MD5_F
#undef V_MD5_G
#undef V_MD5_H
#undef V_MD5_I

/* The truth tables of F, G, H and I for vpternlogd. */
#define V_ROTL(v, s) _mm256_rol_epi32(v, s)
#define V_MD5_F(x, y, z) _mm256_ternarylogic_epi32(x, y, z, 0xca)
#define V_MD5_G(x, y, z) _mm256_ternarylogic_epi32(x, y, z, 0xe4)
#define V_MD5_H(x, y, z) _mm256_ternarylogic_epi32(x, y, z, 0x96)
#define V_MD5_I(x, y, z) _mm256_ternarylogic_epi32(x, y, z, 0x39)
DEFINE_COMPRESS_EIGHT(compress_eight_avx512, "avx2,avx512f,avx512vl")
#endif

/* 0: one stream at a time; 1: AVX2; 2: AVX-512VL. */
static pthread_once_t simd_once = PTHREAD_ONCE_INIT;
static int simd_supported;
static int simd_allowed = 2;

static void simd_probe(void)
{
#ifdef MD5_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
        simd_supported = 2;
    else if (__builtin_cpu_supports("avx2"))
        simd_supported = 1;
#endif
}

static int simd_level(void)
{
    pthread_once(&simd_once, simd_probe);
    int allowed = __atomic_load_n(&simd_allowed, __ATOMIC_RELAXED);
    return allowed < simd_supported ? allowed : simd_supported;
}

size_t igtcloud__md5_lanes(void)
{
#ifdef MD5_X86
    if (simd_level() > 0)
        return LANES;
#endif
    return 1;
}

int igtcloud__md5_simd_limit(int level)
{
    __atomic_store_n(&simd_allowed, level, __ATOMIC_RELAXED);
    return simd_level();
}

void igtcloud__md5_init(igtcloud__md5_ctx *c)
{
    c->h[0] = 0x67452301;
    c->h[1] = 0xefcdab89;
    c->h[2] = 0x98badcfe;
    c->h[3] = 0x10325476;
    c->length = 0;
}

/* Bytes of p that complete c's pending block, if it has one started. */
static size_t fill_pending(igtcloud__md5_ctx *c, const unsigned char *p, size_t len)
{
    size_t have = (size_t)(c->length % 64);
    if (!have)
        return 0;
    size_t take = 64 - have < len ? 64 - have : len;
    memcpy(c->pending + have, p, take);
    c->length += take;
    if (have + take == 64)
        compress_one(c->h, c->pending, 1);
    return take;
}

void igtcloud__md5_update(igtcloud__md5_ctx *c, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t used = fill_pending(c, p, len);
    p += used;
    len -= used;
    size_t blocks = len / 64;
    compress_one(c->h, p, blocks);
    c->length += blocks * 64;
    p += blocks * 64;
    len -= blocks * 64;
    memcpy(c->pending, p, len);
    c->length += len;
}

void igtcloud__md5_final(igtcloud__md5_ctx *c, unsigned char out[16])
{
    uint64_t bits = c->length * 8;
    static const unsigned char pad[64] = { 0x80 };
    size_t have = (size_t)(c->length % 64);
    igtcloud__md5_update(c, pad, have < 56 ? 56 - have : 120 - have);
    unsigned char tail[8];
    for (int i = 0; i < 8; i++)
        tail[i] = (unsigned char)(bits >> (8 * i));
    igtcloud__md5_update(c, tail, 8);
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++)
            out[4 * i + k] = (unsigned char)(c->h[i] >> (8 * k));
}

void igtcloud__md5_update_many(igtcloud__md5_ctx *const *ctx, const unsigned char *const *data,
                               const size_t *len, size_t n)
{
#ifdef MD5_X86
    int level = n >= 2 ? simd_level() : 0;
    if (level > 0) {
        void (*compress_eight)(uint32_t *const h[LANES], const unsigned char *const p[LANES],
                               const size_t step[LANES], size_t blocks) =
            level == 2 ? compress_eight_avx512 : compress_eight_avx2;
        /* Whole blocks side by side; a lane whose stream runs out takes the
         * next one. Idle lanes hash a block of zeros into a scratch state. */
        static const unsigned char zeros[64];
        uint32_t scratch[LANES][4];
        uint32_t *h[LANES];
        const unsigned char *p[LANES];
        size_t left[LANES], stream[LANES], next = 0, busy = 0;
        for (int k = 0; k < LANES; k++) {
            h[k] = scratch[k];
            p[k] = zeros;
            left[k] = 0;
            stream[k] = n;
        }
        for (;;) {
            for (int k = 0; k < LANES; k++) {
                while (stream[k] == n && next < n) {
                    size_t i = next++;
                    size_t used = fill_pending(ctx[i], data[i], len[i]);
                    size_t blocks = (len[i] - used) / 64;
                    if (!blocks) {
                        igtcloud__md5_update(ctx[i], data[i] + used, len[i] - used);
                        continue;
                    }
                    stream[k] = i;
                    h[k] = ctx[i]->h;
                    p[k] = data[i] + used;
                    left[k] = blocks;
                    busy++;
                }
            }
            if (busy < 2)
                break; /* one stream left: no faster side by side */
            size_t run = SIZE_MAX, step[LANES];
            for (int k = 0; k < LANES; k++) {
                step[k] = stream[k] != n ? 64 : 0;
                if (stream[k] != n && left[k] < run)
                    run = left[k];
            }
            compress_eight(h, p, step, run);
            for (int k = 0; k < LANES; k++) {
                if (stream[k] == n)
                    continue;
                size_t i = stream[k];
                p[k] += 64 * run;
                left[k] -= run;
                ctx[i]->length += 64 * run;
                if (!left[k]) {
                    /* Its tail, if any, into pending; the lane is free. */
                    igtcloud__md5_update(ctx[i], p[k], len[i] - (size_t)(p[k] - data[i]));
                    stream[k] = n;
                    h[k] = scratch[k];
                    p[k] = zeros;
                    busy--;
                }
            }
        }
        /* The one lane still busy, if any. */
        for (int k = 0; k < LANES; k++)
            if (stream[k] != n) {
                size_t i = stream[k];
                igtcloud__md5_update(ctx[i], p[k], len[i] - (size_t)(p[k] - data[i]));
            }
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        igtcloud__md5_update(ctx[i], data[i], len[i]);
}
