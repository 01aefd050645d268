#include "seed_gen.h"

#include <string.h>

uint64_t sandbox_gen_fnv1a64(const char *text)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    return h;
}

void sandbox_gen_init(sandbox_gen *g, uint64_t seed, const char *path)
{
    g->state = seed ^ sandbox_gen_fnv1a64(path);
}

static uint64_t next(sandbox_gen *g)
{
    uint64_t z = (g->state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void sandbox_gen_fill(sandbox_gen *g, void *out, size_t len)
{
    unsigned char *p = out;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The stream is little-endian: on such hosts whole words copy as they are. */
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t v = next(g);
        memcpy(p, &v, 8);
    }
#endif
    while (len > 0) {
        uint64_t v = next(g);
        unsigned char word[8];
        for (int i = 0; i < 8; i++)
            word[i] = (unsigned char)(v >> (8 * i));
        size_t n = len < 8 ? len : 8;
        memcpy(p, word, n);
        p += n;
        len -= n;
    }
}
