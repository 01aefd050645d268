/* sandbox/s3_md5: upload bodies' MD5 hashed side by side across threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/md5.h"
#include "s3_md5.h"

#define THREADS 8
#define STREAM_LEN (3u << 20)

static unsigned char *stream_bytes;

typedef struct feeder {
    igtcloud__md5_ctx ctx;
    sandbox_s3_md5_piece piece[2];
    const unsigned char *data;
    size_t len;
    unsigned seed;        /* piece sizes; 0: the whole stream in one piece */
} feeder;

static void *feed(void *arg)
{
    feeder *f = arg;
    size_t at = 0, k = 0;
    /* Two pieces in flight at a time, as a body's stages are. */
    while (at < f->len) {
        size_t want = f->seed ? 1 + (size_t)rand_r(&f->seed) % (96u << 10) : f->len;
        if (want > f->len - at)
            want = f->len - at;
        if (k >= 2)
            sandbox_s3_md5_wait(&f->piece[k % 2]);
        sandbox_s3_md5_submit(&f->piece[k % 2], &f->ctx, f->data + at, want);
        at += want;
        k++;
    }
    for (size_t i = k > 2 ? k - 2 : 0; i < k; i++)
        sandbox_s3_md5_wait(&f->piece[i % 2]);
    return NULL;
}

static void start_feeder(feeder *f, pthread_t *thread, size_t i, size_t len, unsigned seed)
{
    igtcloud__md5_init(&f->ctx);
    f->data = stream_bytes + i * 4099;
    f->len = len;
    f->seed = seed;
    assert_int_equal(pthread_create(thread, NULL, feed, f), 0);
}

static void assert_digest(feeder *f)
{
    unsigned char want[16], have[16];
    assert_int_equal(igtcloud__md5(want, f->data, f->len), 0);
    igtcloud__md5_final(&f->ctx, have);
    assert_memory_equal(have, want, 16);
}

static int make_stream(void **state)
{
    (void)state;
    stream_bytes = malloc(STREAM_LEN + THREADS * 4099);
    if (!stream_bytes)
        return -1;
    srand(7);
    for (size_t i = 0; i < STREAM_LEN + THREADS * 4099; i++)
        stream_bytes[i] = (unsigned char)rand();
    return 0;
}

static int free_stream(void **state)
{
    (void)state;
    free(stream_bytes);
    return 0;
}

/*
 * Pieces queued while the turn is held are hashed as one batch by the
 * oldest thread once it is released, at every SIMD level: every digest is
 * right and the counts show all of them side by side.
 */
static void test_sandbox_s3_md5__held_pieces_hash_as_one_batch(void **state)
{
    (void)state;
    /* Without lanes there is no hasher thread to hold: pieces hash at once. */
    if (igtcloud__md5_lanes() == 1)
        skip();
    /* Highest level first: the hasher starts with the first piece, when the
     * CPU's lanes are allowed; lower levels then hash in it one at a time. */
    for (int level = 2; level >= 0; level--) {
        igtcloud__md5_simd_limit(level);
        feeder f[THREADS];
        pthread_t thread[THREADS];
        sandbox_s3_md5_counts before, now;
        sandbox_s3_md5_get_counts(&before);
        sandbox_s3_md5_hold(1);
        for (size_t i = 0; i < THREADS; i++)
            start_feeder(&f[i], &thread[i], i, (100u << 10) + i * 333, 0);
        /* Wait (up to 10 s) until all of them queue. */
        for (int tries = 0; tries < 10000; tries++) {
            sandbox_s3_md5_get_counts(&now);
            if (now.waiting == THREADS)
                break;
            usleep(1000);
        }
        assert_int_equal(now.waiting, THREADS);
        assert_int_equal(now.pieces, before.pieces);
        sandbox_s3_md5_hold(0);
        for (size_t i = 0; i < THREADS; i++) {
            assert_int_equal(pthread_join(thread[i], NULL), 0);
            assert_digest(&f[i]);
        }
        sandbox_s3_md5_get_counts(&now);
        assert_int_equal(now.waiting, 0);
        assert_int_equal(now.pieces - before.pieces, THREADS);
        /* One stream at a time (level 0) still counts as one batch. */
        assert_int_equal(now.shared - before.shared, THREADS);
    }
    igtcloud__md5_simd_limit(2);
}

/* Threads feeding long streams in pieces of every size, running freely: the
 * pieces of each stream stay in order whoever hashes them. */
static void test_sandbox_s3_md5__free_running_streams_match(void **state)
{
    (void)state;
    feeder f[THREADS];
    pthread_t thread[THREADS];
    sandbox_s3_md5_counts before, now;
    sandbox_s3_md5_get_counts(&before);
    for (size_t i = 0; i < THREADS; i++)
        start_feeder(&f[i], &thread[i], i, STREAM_LEN - i * 77777, 11u + (unsigned)i);
    for (size_t i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(thread[i], NULL), 0);
        assert_digest(&f[i]);
    }
    sandbox_s3_md5_get_counts(&now);
    assert_int_equal(now.waiting, 0);
    assert_true(now.pieces > before.pieces);
}

/* One context's pieces queued together go in one per batch, in order. */
static void test_sandbox_s3_md5__one_body_pieces_stay_in_order(void **state)
{
    (void)state;
    enum { PIECES = 5 };
    sandbox_s3_md5_piece piece[PIECES];
    sandbox_s3_md5_counts before, now;
    igtcloud__md5_ctx ctx;
    igtcloud__md5_init(&ctx);
    sandbox_s3_md5_get_counts(&before);
    sandbox_s3_md5_hold(1);
    for (size_t i = 0; i < PIECES; i++)
        sandbox_s3_md5_submit(&piece[i], &ctx, stream_bytes + i * 10000, 10000);
    sandbox_s3_md5_get_counts(&now);
    if (igtcloud__md5_lanes() > 1) {
        assert_int_equal(now.waiting - before.waiting, PIECES);
        assert_false(piece[0].done);
    }
    sandbox_s3_md5_hold(0);
    for (size_t i = 0; i < PIECES; i++)
        sandbox_s3_md5_wait(&piece[i]);
    unsigned char want[16], have[16];
    assert_int_equal(igtcloud__md5(want, stream_bytes, PIECES * 10000), 0);
    igtcloud__md5_final(&ctx, have);
    assert_memory_equal(have, want, 16);
    sandbox_s3_md5_get_counts(&now);
    assert_int_equal(now.pieces - before.pieces, PIECES);
    assert_int_equal(now.shared - before.shared, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sandbox_s3_md5__held_pieces_hash_as_one_batch),
        cmocka_unit_test(test_sandbox_s3_md5__free_running_streams_match),
        cmocka_unit_test(test_sandbox_s3_md5__one_body_pieces_stay_in_order),
    };
    return cmocka_run_group_tests(tests, make_stream, free_stream);
}
