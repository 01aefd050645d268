#ifndef IGTCLOUD_CORE_MD5_H
#define IGTCLOUD_CORE_MD5_H

/*
 * MD5 with a state the engine can hold and resume, and several streams
 * hashed side by side. One MD5 stream cannot go faster than its chain of
 * dependent steps (about 540 MB/s here, OpenSSL's assembly included), but
 * independent streams can share SIMD registers: with AVX2, eight files
 * verified against their ETags at once cost about what one did.
 */
#include <stddef.h>
#include <stdint.h>

typedef struct igtcloud__md5_ctx {
    uint32_t h[4];
    uint64_t length;            /* bytes added so far */
    unsigned char pending[64];  /* length % 64 bytes not yet in h */
} igtcloud__md5_ctx;

void igtcloud__md5_init(igtcloud__md5_ctx *c);
void igtcloud__md5_update(igtcloud__md5_ctx *c, const void *data, size_t len);
void igtcloud__md5_final(igtcloud__md5_ctx *c, unsigned char out[16]);

/* Streams igtcloud__md5_update_many hashes side by side: 8 with AVX2 or
 * AVX-512VL, else 1. */
size_t igtcloud__md5_lanes(void);

/*
 * The same as igtcloud__md5_update(ctx[i], data[i], len[i]) for every i < n,
 * in any order; the contexts must be distinct.
 */
void igtcloud__md5_update_many(igtcloud__md5_ctx *const *ctx, const unsigned char *const *data,
                               const size_t *len, size_t n);

/*
 * Tests: use at most level (0: one stream at a time, 1: AVX2, 2: AVX-512VL,
 * the default); returns the level the CPU then gets, so each can be checked.
 */
int igtcloud__md5_simd_limit(int level);

#endif
