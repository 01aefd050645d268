/*
 * bench_hash: throughput of the digests the engine and the sandbox compute
 * over every byte moved, ours against OpenSSL's. Built and run by
 * bench/bench_hash.sh against the static library (the internals are not
 * exported by the shared one); not part of CTest.
 *
 *   bench_hash [MIB]   (default 256 MiB hashed per line)
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/hash.h"
#include "core/md5.h"

#define STREAMS 8

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report(const char *what, size_t bytes, double seconds)
{
    printf("%-44s %8.0f MB/s\n", what, (double)bytes / seconds / 1e6);
}

/* MD5 of STREAMS buffers of `each` bytes, side by side at SIMD level `level`. */
static double md5_streams(const unsigned char *data, size_t each, int level)
{
    if (igtcloud__md5_simd_limit(level) != level)
        return -1;
    igtcloud__md5_ctx ctx[STREAMS], *cp[STREAMS];
    const unsigned char *dp[STREAMS];
    size_t len[STREAMS];
    for (int i = 0; i < STREAMS; i++) {
        igtcloud__md5_init(&ctx[i]);
        cp[i] = &ctx[i];
        dp[i] = data + (size_t)i * each;
        len[i] = each;
    }
    double t0 = now_s();
    igtcloud__md5_update_many(cp, dp, len, STREAMS);
    return now_s() - t0;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
    size_t bytes = (mib ? mib : 256) << 20;
    unsigned char *data = malloc(bytes);
    if (!data) {
        fprintf(stderr, "bench_hash: out of memory\n");
        return 1;
    }
    uint32_t x = 1;
    for (size_t i = 0; i < bytes; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (unsigned char)(x >> 16);
    }
    unsigned char out[32];
    unsigned int out_len = 0;
    double t0 = now_s();
    EVP_Digest(data, bytes, out, &out_len, EVP_md5(), NULL);
    report("MD5, one stream, OpenSSL", bytes, now_s() - t0);

    igtcloud__md5_ctx one;
    igtcloud__md5_init(&one);
    t0 = now_s();
    igtcloud__md5_update(&one, data, bytes);
    report("MD5, one stream, core/md5", bytes, now_s() - t0);

    static const char *const names[] = { "MD5, 8 streams, core/md5 one at a time",
                                         "MD5, 8 streams side by side, AVX2",
                                         "MD5, 8 streams side by side, AVX-512VL" };
    for (int level = 0; level <= 2; level++) {
        double s = md5_streams(data, bytes / STREAMS, level);
        if (s < 0)
            printf("%-44s %13s\n", names[level], "(no CPU support)");
        else
            report(names[level], bytes / STREAMS * STREAMS, s);
    }
    igtcloud__md5_simd_limit(2);

    t0 = now_s();
    uint32_t crc = igtcloud__crc32c(0, data, bytes);
    report("CRC32C, core/hash (SSE 4.2, three stripes)", bytes, now_s() - t0);
    t0 = now_s();
    uint32_t table = igtcloud__crc32c_portable(0, data, bytes / 8);
    report("CRC32C, core/hash table (portable)", bytes / 8, now_s() - t0);
    t0 = now_s();
    EVP_Digest(data, bytes / 4, out, &out_len, EVP_sha256(), NULL);
    report("SHA-256, OpenSSL", bytes / 4, now_s() - t0);
    printf("(CRC32C %08x, of the first eighth %08x, SHA-256 %02x%02x...)\n", (unsigned)crc,
           (unsigned)table, out[0], out[1]);
    free(data);
    return 0;
}
