/*
 * A fed transfer that retires finished files (igtcloud__transfer_set_retire,
 * as download.c runs a whole download): however many files the feeder adds,
 * the engine holds only a bounded number of jobs and cached credentials,
 * every file is called back once and arrives byte-identical, each prefix's
 * credentials are fetched once, and run() still counts retired failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "transfer_helpers.h"
#include "s3/engine.h"
#include "s3/engine_int.h"

#define NPREFIX 200        /* more than the credentials cache keeps (evict_credentials) */
#define PER_PREFIX 3
#define NFILES (NPREFIX * PER_PREFIX)
#define MISSING 7          /* this file's object is never uploaded */
#define JOBS_BOUND 64      /* far below NFILES: max_requests 4 */

static th_env env;

static int setup(void **state)
{
    (void)state;
    return th_start(&env, NULL);
}

static int teardown(void **state)
{
    (void)state;
    th_stop(&env);
    return 0;
}

typedef struct retire_state {
    char (*src)[300], (*dst)[300], (*key)[200], (*prefix)[200];
    int next_prefix;
    int callbacks, failed, seen[NFILES];
    size_t max_jobs, max_creds;
} retire_state;

static void observe(retire_state *s, const igtcloud_transfer *t)
{
    size_t jobs = igtcloud_transfer_count(t);
    if (jobs > s->max_jobs)
        s->max_jobs = jobs;
    if (t->creds.count > s->max_creds)
        s->max_creds = t->creds.count;
}

/* A study's worth at a time, as download.c queues: the files of one prefix. */
static int feed_prefix(igtcloud_transfer *t, void *payload)
{
    retire_state *s = payload;
    observe(s, t);
    if (s->next_prefix >= NPREFIX)
        return 0;
    for (int k = 0; k < PER_PREFIX; k++) {
        int i = s->next_prefix * PER_PREFIX + k;
        TH_PASS(igtcloud_transfer_add_download(t, s->key[i], s->dst[i], s->prefix[i], -1,
                                               &s->seen[i]));
    }
    s->next_prefix++;
    return 1;
}

static igtcloud_transfer *observed;

static int on_file(const igtcloud_transfer_result *r, void *payload)
{
    retire_state *s = payload;
    int *seen = r->payload;
    (*seen)++;
    s->callbacks++;
    if (r->status)
        s->failed++;
    observe(s, observed);
    return 0;
}

static void test_transfer_retire__bounded_jobs_and_credentials_over_a_long_fed_run(void **state)
{
    (void)state;
    static char src[NFILES][300], dst[NFILES][300], key[NFILES][200], prefix[NFILES][200];
    static retire_state s;
    memset(&s, 0, sizeof(s));
    s.src = src;
    s.dst = dst;
    s.key = key;
    s.prefix = prefix;
    igtcloud_transfer_options o;
    th_options(&o, &env);
    igtcloud_transfer *up = NULL, *down = NULL;
    TH_PASS(igtcloud_transfer_new(&up, &o));
    for (int i = 0; i < NFILES; i++) {
        snprintf(prefix[i], sizeof(prefix[i]), DEMO_PREFIX "retire/p%03d/", i / PER_PREFIX);
        snprintf(key[i], sizeof(key[i]), DEMO_PREFIX "retire/p%03d/f%d.bin", i / PER_PREFIX,
                 i % PER_PREFIX);
        snprintf(src[i], sizeof(src[i]), "%s/in-%d.bin", env.dir, i);
        snprintf(dst[i], sizeof(dst[i]), "%s/out-%d.bin", env.dir, i);
        assert_int_equal(th_make_file(src[i], 100 + (uint64_t)i * 7, (uint32_t)i + 1), 0);
        if (i != MISSING)
            TH_PASS(igtcloud_transfer_add_upload(up, src[i], key[i], DEMO_PREFIX, NULL, NULL));
    }
    TH_PASS(igtcloud_transfer_run(up));
    igtcloud_transfer_free(up);

    env.provider_calls = 0;
    o.max_requests = 4;
    o.max_attempts = 1;
    o.file_cb = on_file;
    o.file_payload = &s;
    TH_PASS(igtcloud_transfer_new(&down, &o));
    observed = down;
    igtcloud__transfer_set_feeder(down, feed_prefix, &s);
    igtcloud__transfer_set_retire(down, 1);
    assert_int_equal(igtcloud_transfer_run(down), IGTCLOUD_EPARTIAL);
    /* The failure was retired long before the end and is still the one reported. */
    char want[64];
    snprintf(want, sizeof(want), "1 of %d files failed", NFILES);
    assert_non_null(strstr(igtcloud_error_last()->message, want));
    assert_non_null(strstr(igtcloud_error_last()->message, key[MISSING]));
    assert_int_equal(igtcloud_error_last()->http_status, 404);

    assert_int_equal(s.callbacks, NFILES);
    assert_int_equal(s.failed, 1);
    for (int i = 0; i < NFILES; i++) {
        assert_int_equal(s.seen[i], 1);
        if (i != MISSING)
            assert_true(th_same_file(src[i], dst[i]));
    }
    assert_false(th_exists(dst[MISSING]));
    /* Bounded: never more than a few dozen jobs or cached credentials at once. */
    printf("peak jobs %zu, peak cached credentials %zu, provider calls %d\n", s.max_jobs,
           s.max_creds, env.provider_calls);
    assert_true(s.max_jobs > 0 && s.max_jobs <= JOBS_BOUND);
    assert_true(s.max_creds > 0 && s.max_creds <= 2 * JOBS_BOUND + 64);
    assert_true(igtcloud_transfer_count(down) <= JOBS_BOUND);
    /* Evicted only once no live job had their prefix: one fetch per prefix. */
    assert_int_equal(env.provider_calls, NPREFIX);
    igtcloud_transfer_free(down);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer_retire__bounded_jobs_and_credentials_over_a_long_fed_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
