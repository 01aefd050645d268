#ifndef SANDBOX_SEED_GEN_H
#define SANDBOX_SEED_GEN_H

#include <stddef.h>
#include <stdint.h>

/*
 * Deterministic file contents for seeding (docs/sandbox-seed.md): a
 * SplitMix64 stream whose state starts at seed XOR FNV-1a-64(path); each
 * step's 64-bit output is written little-endian. Fast (several GB/s) and
 * simple enough that a test can recompute any file's bytes on its own.
 */
typedef struct sandbox_gen {
    uint64_t state;
} sandbox_gen;

uint64_t sandbox_gen_fnv1a64(const char *text);

void sandbox_gen_init(sandbox_gen *g, uint64_t seed, const char *path);

/*
 * The next `len` bytes of the stream. Calls continue the stream exactly when
 * every `len` but the last is a multiple of 8.
 */
void sandbox_gen_fill(sandbox_gen *g, void *out, size_t len);

#endif
