/*
 * The transfer engine against a sandbox that misbehaves on purpose: every
 * kind of injected fault either heals (the file arrives byte-identical) or,
 * when it persists, ends in one clear error and no file under its final name.
 * A download killed with SIGKILL resumes without fetching finished ranges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "transfer_helpers.h"
#include "s3/engine.h"

#define MIB (1024u * 1024u)
#define ADMIN_TOKEN "faults-admin-token"

static th_env env;
static char big_src[512], small_src[512];
static unsigned int attempts_override; /* max_attempts of the next transfers when not 0 */
static const uint64_t big_size = 12 * MIB + 4321;
static const uint64_t small_size = 200 * 1024 + 3;

static int admin(const char *method, const char *json)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/_admin/faults", env.sb.s3_url);
    const char *headers[] = { "X-Admin-Token: " ADMIN_TOKEN, "Content-Type: application/json", NULL };
    test_response res;
    if (test_http(&res, method, url, headers, json, json ? strlen(json) : 0))
        return -1;
    long status = res.status;
    if (status != 200)
        fprintf(stderr, "admin %s: %ld %s\n", method, status, res.body);
    test_response_dispose(&res);
    return status == 200 ? 0 : -1;
}

static void options(igtcloud_transfer_options *o)
{
    th_options(o, &env);
    o->multipart_threshold = 6 * MIB;
    o->part_size = 5 * MIB;
    o->range_size = 2 * MIB;
    o->range_threshold = 2 * MIB;
    o->max_requests = 4;
    o->max_attempts = attempts_override ? attempts_override : 5;
    o->stall_timeout_ms = 700;
}

static int upload(const char *src, const char *key)
{
    igtcloud_transfer_options o;
    options(&o);
    igtcloud_transfer *t = NULL;
    int rc = igtcloud_transfer_new(&t, &o);
    if (!rc)
        rc = igtcloud_transfer_add_upload(t, src, key, DEMO_PREFIX, NULL, NULL);
    if (!rc)
        rc = igtcloud_transfer_run(t);
    igtcloud_transfer_free(t);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    igtcloud_global_init();
    const char *extra[] = { "--admin-token", ADMIN_TOKEN, NULL };
    if (th_start(&env, extra))
        return -1;
    snprintf(big_src, sizeof(big_src), "%s/big.bin", env.dir);
    snprintf(small_src, sizeof(small_src), "%s/small.bin", env.dir);
    if (th_make_file(big_src, big_size, 7) || th_make_file(small_src, small_size, 8))
        return -1;
    /* The objects every download test reads. */
    if (upload(big_src, DEMO_PREFIX "f/big.bin") || upload(small_src, DEMO_PREFIX "f/small.bin"))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_stop(&env);
    igtcloud_global_shutdown();
    return 0;
}

/* Download key to a fresh local name; returns the run's status and fills *r's copy. */
static int download(const char *key, const char *name, char *dst, size_t dst_size,
                    igtcloud_transfer_result *out, igtcloud__engine_stats *stats)
{
    snprintf(dst, dst_size, "%s/%s", env.dir, name);
    unlink(dst);
    igtcloud_transfer_options o;
    options(&o);
    igtcloud_transfer *t = NULL;
    int rc = igtcloud_transfer_new(&t, &o);
    if (rc)
        return rc;
    igtcloud_transfer_add_download(t, key, dst, DEMO_PREFIX, -1, NULL);
    rc = igtcloud_transfer_run(t);
    static char msg[512], code[64];
    igtcloud_transfer_result_at(out, t, 0);
    snprintf(msg, sizeof(msg), "%s", out->message);
    snprintf(code, sizeof(code), "%s", out->error_code);
    out->message = msg;
    out->error_code = code;
    if (stats)
        igtcloud__engine_get_stats(stats, t);
    igtcloud_transfer_free(t);
    return rc;
}

/* Each transient fault, twice on the GETs: both files arrive byte-identical. */
static void test_transfer_faults__transient_download_faults_heal(void **state)
{
    (void)state;
    static const char *const rules[] = {
        "{\"operation\":\"GetObject\",\"times\":2,\"effect\":\"error\",\"status\":500}",
        "{\"operation\":\"GetObject\",\"times\":2,\"effect\":\"error\",\"status\":503,\"code\":\"SlowDown\"}",
        "{\"operation\":\"GetObject\",\"times\":2,\"effect\":\"close\"}",
        "{\"operation\":\"GetObject\",\"times\":2,\"effect\":\"reset\",\"after_bytes\":100000}",
        "{\"operation\":\"GetObject\",\"times\":2,\"effect\":\"short\",\"after_bytes\":150000}",
        "{\"operation\":\"GetObject\",\"times\":2,\"effect\":\"delay\",\"where\":\"body\",\"after_bytes\":65536,\"ms\":2500}",
        "{\"operation\":\"GetObject\",\"times\":2,\"effect\":\"delay\",\"where\":\"headers\",\"ms\":2500}",
        "{\"operation\":\"GetObject\",\"times\":1,\"effect\":\"error\",\"status\":400,\"code\":\"RequestTimeout\"}",
        "{\"operation\":\"GetObject\",\"times\":2,\"effect\":\"error\",\"status\":502}",
        "{\"operation\":\"GetObject\",\"times\":2,\"effect\":\"error\",\"status\":504}",
        "{\"operation\":\"GetObject\",\"times\":1,\"effect\":\"error\",\"status\":400,\"code\":\"Throttling\"}",
    };
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        for (int which = 0; which < 2; which++) {
            assert_int_equal(admin("DELETE", NULL), 0);
            assert_int_equal(admin("POST", rules[i]), 0);
            char dst[512], name[64];
            snprintf(name, sizeof(name), "heal-%zu-%d.out", i, which);
            igtcloud_transfer_result r;
            igtcloud__engine_stats st;
            int rc = download(which ? DEMO_PREFIX "f/big.bin" : DEMO_PREFIX "f/small.bin", name,
                              dst, sizeof(dst), &r, &st);
            if (rc)
                fprintf(stderr, "rule %s: %s\n", rules[i], r.message);
            assert_int_equal(rc, 0);
            assert_true(st.retries >= 1);
            assert_true(th_same_file(which ? big_src : small_src, dst));
        }
    }
    assert_int_equal(admin("DELETE", NULL), 0);
}

static void test_transfer_faults__expired_token_renews_without_failing(void **state)
{
    (void)state;
    assert_int_equal(admin("DELETE", NULL), 0);
    assert_int_equal(admin("POST", "{\"operation\":\"GetObject\",\"times\":1,\"effect\":\"error\",\"status\":400,\"code\":\"ExpiredToken\"}"), 0);
    char dst[512];
    igtcloud_transfer_result r;
    igtcloud__engine_stats st;
    int before = env.provider_calls;
    assert_int_equal(download(DEMO_PREFIX "f/small.bin", "expired.out", dst, sizeof(dst), &r, &st), 0);
    assert_true(th_same_file(small_src, dst));
    /* Fetched, refused as expired, fetched again: two provider calls. */
    assert_int_equal(env.provider_calls - before, 2);
    /*
     * The retry after ExpiredToken is not a failed attempt: with one attempt
     * per request allowed, both files still arrive, each fetching fresh
     * credentials once (upload and download of the big file included).
     */
    assert_int_equal(admin("DELETE", NULL), 0);
    assert_int_equal(admin("POST", "{\"operation\":\"GetObject\",\"times\":1,\"effect\":\"error\",\"status\":400,\"code\":\"ExpiredToken\"}"), 0);
    attempts_override = 1;
    before = env.provider_calls;
    int rc = download(DEMO_PREFIX "f/big.bin", "expired-once.out", dst, sizeof(dst), &r, &st);
    if (rc)
        fprintf(stderr, "ExpiredToken, one attempt: %s\n", r.message);
    assert_int_equal(rc, 0);
    assert_true(th_same_file(big_src, dst));
    assert_int_equal(env.provider_calls - before, 2);
    assert_int_equal(admin("DELETE", NULL), 0);
    assert_int_equal(admin("POST", "{\"method\":\"PUT\",\"times\":1,\"effect\":\"error\",\"status\":400,\"code\":\"ExpiredToken\"}"), 0);
    before = env.provider_calls;
    assert_int_equal(upload(big_src, DEMO_PREFIX "up/expired-once.bin"), 0);
    assert_int_equal(env.provider_calls - before, 2);
    attempts_override = 0;
    assert_int_equal(th_log_count(&env, "\"fault\"", "up/expired-once.bin", NULL), 1);
    assert_int_equal(admin("DELETE", NULL), 0);
}

static void test_transfer_faults__transient_upload_faults_heal(void **state)
{
    (void)state;
    static const char *const rules[] = {
        "{\"method\":\"PUT\",\"times\":2,\"effect\":\"error\",\"status\":500}",
        "{\"method\":\"PUT\",\"times\":2,\"effect\":\"error\",\"status\":503,\"code\":\"SlowDown\"}",
        "{\"method\":\"PUT\",\"times\":2,\"effect\":\"close\"}",
        "{\"method\":\"PUT\",\"times\":1,\"effect\":\"error\",\"status\":400,\"code\":\"ExpiredToken\"}",
        "{\"operation\":\"CompleteMultipartUpload\",\"times\":1,\"effect\":\"error\",\"status\":500}",
        /* The upload is completed, then its answer is lost: the retry meets NoSuchUpload. */
        "{\"operation\":\"CompleteMultipartUpload\",\"times\":1,\"effect\":\"close\"}",
        "{\"operation\":\"CompleteMultipartUpload\",\"times\":1,\"effect\":\"reset\",\"after_bytes\":20}",
        "{\"operation\":\"CreateMultipartUpload\",\"times\":1,\"effect\":\"error\",\"status\":503}",
        "{\"method\":\"PUT\",\"times\":2,\"effect\":\"reset\",\"after_bytes\":100000}",
        "{\"method\":\"PUT\",\"times\":1,\"effect\":\"delay\",\"where\":\"headers\",\"ms\":2500}",
        "{\"method\":\"PUT\",\"times\":2,\"effect\":\"error\",\"status\":400,\"code\":\"RequestTimeout\"}",
    };
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        for (int which = 0; which < 2; which++) {
            assert_int_equal(admin("DELETE", NULL), 0);
            assert_int_equal(admin("POST", rules[i]), 0);
            char key[128], dst[512], name[64];
            snprintf(key, sizeof(key), DEMO_PREFIX "up/%zu-%d.bin", i, which);
            int rc = upload(which ? big_src : small_src, key);
            if (rc)
                fprintf(stderr, "rule %s: %s\n", rules[i], igtcloud_error_last()->message);
            assert_int_equal(rc, 0);
            /*
             * The fault did fire (a delayed request is logged when its late
             * answer goes out), and the upload went through all the same.
             */
            for (int wait = 0; wait < 50 && th_log_count(&env, "\"fault\"", key, NULL) < 1; wait++)
                usleep(100 * 1000);
            assert_true(th_log_count(&env, "\"fault\"", key, NULL) >= 1 ||
                        (strstr(rules[i], "Multipart") && which == 0));
            assert_int_equal(admin("DELETE", NULL), 0);
            snprintf(name, sizeof(name), "up-%zu-%d.out", i, which);
            igtcloud_transfer_result r;
            assert_int_equal(download(key, name, dst, sizeof(dst), &r, NULL), 0);
            assert_true(th_same_file(which ? big_src : small_src, dst));
        }
    }
}

/*
 * CompleteMultipartUpload answered NoSuchUpload: the file counts as uploaded
 * only if the object under its key has the ETag its parts make (a lost answer
 * is healed in test_transfer_faults__transient_upload_faults_heal). Here the
 * upload really is gone and another object holds the key: a clear failure,
 * and that object is left as it was.
 */
static void test_transfer_faults__nosuchupload_is_checked_against_the_object(void **state)
{
    (void)state;
    const char *key = DEMO_PREFIX "up/gone.bin";
    assert_int_equal(admin("DELETE", NULL), 0);
    assert_int_equal(upload(small_src, key), 0);
    assert_int_equal(admin("POST", "{\"operation\":\"CompleteMultipartUpload\",\"times\":1,"
                                   "\"effect\":\"error\",\"status\":404,\"code\":\"NoSuchUpload\"}"),
                     0);
    assert_int_equal(upload(big_src, key), IGTCLOUD_EPARTIAL);
    assert_non_null(strstr(igtcloud_error_last()->message, "not the"));
    assert_non_null(strstr(igtcloud_error_last()->message, "of the parts sent"));
    assert_int_equal(th_log_count(&env, "\"HeadObject\"", "up/gone.bin", "\"status\":200"), 1);
    assert_int_equal(admin("DELETE", NULL), 0);
    char dst[512];
    igtcloud_transfer_result r;
    assert_int_equal(download(key, "gone.out", dst, sizeof(dst), &r, NULL), 0);
    assert_true(th_same_file(small_src, dst));
}

static void test_transfer_faults__persistent_faults_fail_cleanly(void **state)
{
    (void)state;
    static const char *const rules[] = {
        "{\"operation\":\"GetObject\",\"effect\":\"error\",\"status\":500}",
        "{\"operation\":\"GetObject\",\"effect\":\"error\",\"status\":503,\"code\":\"SlowDown\"}",
        "{\"operation\":\"GetObject\",\"effect\":\"close\"}",
        "{\"operation\":\"GetObject\",\"effect\":\"short\",\"after_bytes\":1000}",
        "{\"operation\":\"GetObject\",\"effect\":\"error\",\"status\":403,\"code\":\"AccessDenied\"}",
        "{\"operation\":\"GetObject\",\"effect\":\"reset\",\"after_bytes\":1000}",
        "{\"operation\":\"GetObject\",\"effect\":\"delay\",\"where\":\"headers\",\"ms\":1500}",
        "{\"operation\":\"GetObject\",\"effect\":\"delay\",\"where\":\"body\",\"after_bytes\":1000,\"ms\":1500}",
    };
    static const char *const expect[] = { "HTTP 500", "SlowDown", "", "", "AccessDenied", "",
                                          "stalled", "stalled" };
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        for (int which = 0; which < 2; which++) {
            assert_int_equal(admin("DELETE", NULL), 0);
            assert_int_equal(admin("POST", rules[i]), 0);
            char dst[512], name[64];
            snprintf(name, sizeof(name), "fail-%zu-%d.out", i, which);
            igtcloud_transfer_result r;
            int rc = download(which ? DEMO_PREFIX "f/big.bin" : DEMO_PREFIX "f/small.bin", name,
                              dst, sizeof(dst), &r, NULL);
            assert_int_equal(rc, IGTCLOUD_EPARTIAL);
            assert_true(r.status < 0);
            assert_true(strlen(r.message) > 0);
            assert_non_null(strstr(r.message, expect[i]));
            assert_null(strchr(r.message, '\n'));
            assert_false(th_exists(dst));
        }
    }
    /* By default a request is tried 10 times before its file fails. */
    assert_int_equal(admin("DELETE", NULL), 0);
    assert_int_equal(admin("POST", "{\"operation\":\"GetObject\",\"effect\":\"error\",\"status\":500}"), 0);
    {
        char dst[512];
        snprintf(dst, sizeof(dst), "%s/ten.out", env.dir);
        int before = th_log_count(&env, "\"fault\"", "f/small.bin", NULL);
        igtcloud_transfer_options o;
        options(&o);
        o.max_attempts = 0;
        igtcloud_transfer *t = NULL;
        TH_PASS(igtcloud_transfer_new(&t, &o));
        TH_PASS(igtcloud_transfer_add_download(t, DEMO_PREFIX "f/small.bin", dst, DEMO_PREFIX, -1, NULL));
        assert_int_equal(igtcloud_transfer_run(t), IGTCLOUD_EPARTIAL);
        igtcloud_transfer_result r;
        TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
        assert_non_null(strstr(r.message, "after 10 attempts"));
        igtcloud_transfer_free(t);
        assert_int_equal(th_log_count(&env, "\"fault\"", "f/small.bin", NULL) - before, 10);
        assert_false(th_exists(dst));
    }
    /*
     * A single PUT that keeps failing, each way: one clear error. The server
     * stored nothing when it answered with an error or reset the upload; one
     * that closed or stalled after taking the whole body may have stored it
     * (a lost answer), and the file is reported failed all the same.
     */
    static const char *const put_rules[] = {
        "{\"operation\":\"PutObject\",\"effect\":\"error\",\"status\":500}",
        "{\"operation\":\"PutObject\",\"effect\":\"close\"}",
        "{\"operation\":\"PutObject\",\"effect\":\"reset\",\"after_bytes\":50000}",
        "{\"operation\":\"PutObject\",\"effect\":\"delay\",\"where\":\"headers\",\"ms\":1500}",
    };
    for (size_t i = 0; i < sizeof(put_rules) / sizeof(put_rules[0]); i++) {
        assert_int_equal(admin("DELETE", NULL), 0);
        assert_int_equal(admin("POST", put_rules[i]), 0);
        char key[128];
        snprintf(key, sizeof(key), DEMO_PREFIX "f/never-%zu.bin", i);
        assert_int_equal(upload(small_src, key), IGTCLOUD_EPARTIAL);
        const char *msg = igtcloud_error_last()->message;
        assert_non_null(strstr(msg, key));
        assert_null(strchr(msg, '\n'));
        assert_int_equal(admin("DELETE", NULL), 0);
        igtcloud_transfer_options o;
        options(&o);
        igtcloud_transfer *t = NULL;
        TH_PASS(igtcloud_transfer_new(&t, &o));
        if (strstr(put_rules[i], "\"error\"") || strstr(put_rules[i], "\"reset\""))
            assert_int_equal(igtcloud_transfer_stat(NULL, NULL, t, key, DEMO_PREFIX),
                             IGTCLOUD_ENOTFOUND);
        igtcloud_transfer_free(t);
    }
    /* A multipart upload whose parts keep failing is aborted on the server. */
    assert_int_equal(admin("DELETE", NULL), 0);
    assert_int_equal(admin("POST", "{\"operation\":\"UploadPart\",\"effect\":\"error\",\"status\":500}"), 0);
    assert_int_equal(upload(big_src, DEMO_PREFIX "f/never.bin"), IGTCLOUD_EPARTIAL);
    assert_non_null(strstr(igtcloud_error_last()->message, "UploadPart"));
    assert_int_equal(th_log_count(&env, "\"AbortMultipartUpload\"", "f/never.bin", NULL), 1);
    /* The same when the parts' connections keep being reset mid-body. */
    assert_int_equal(admin("DELETE", NULL), 0);
    assert_int_equal(admin("POST", "{\"operation\":\"UploadPart\",\"effect\":\"reset\",\"after_bytes\":100000}"), 0);
    assert_int_equal(upload(big_src, DEMO_PREFIX "f/never-reset.bin"), IGTCLOUD_EPARTIAL);
    assert_int_equal(th_log_count(&env, "\"AbortMultipartUpload\"", "f/never-reset.bin", NULL), 1);
    assert_int_equal(admin("DELETE", NULL), 0);
    assert_int_equal(th_log_count(&env, "\"CompleteMultipartUpload\"", "f/never", NULL), 0);
}

/* Range start offsets of GETs of `key` in log lines after line `skip`. */
/*
 * The log's length once the sandbox has logged every request of a killed
 * client: it notices the closed connections a moment after the kill.
 */
static int settled_log_lines(void)
{
    int n = th_log_lines(&env);
    for (int tries = 0; tries < 50; tries++) {
        usleep(100 * 1000);
        int again = th_log_lines(&env);
        if (again == n)
            break;
        n = again;
    }
    return n;
}

static void test_transfer_faults__sigkill_then_resume_skips_finished_ranges(void **state)
{
    (void)state;
    char dst[512], journal[600];
    snprintf(dst, sizeof(dst), "%s/killed.out", env.dir);
    snprintf(journal, sizeof(journal), "%s/.killed.out" IGTCLOUD__ENGINE_JOURNAL_SUFFIX, env.dir);
    assert_int_equal(admin("DELETE", NULL), 0);
    /* Slow every GET down so the child is surely killed mid-way. */
    assert_int_equal(admin("POST", "{\"operation\":\"GetObject\",\"effect\":\"delay\",\"where\":\"headers\",\"ms\":900}"), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        igtcloud_transfer_options o;
        options(&o);
        o.max_requests = 2;
        o.stall_timeout_ms = 5000;
        igtcloud_transfer *t = NULL;
        if (igtcloud_transfer_new(&t, &o) ||
            igtcloud_transfer_add_download(t, DEMO_PREFIX "f/big.bin", dst, DEMO_PREFIX, -1, NULL))
            _exit(2);
        igtcloud_transfer_run(t);
        _exit(3);
    }
    /* Wait until at least three ranges are journaled, then kill. */
    int done_lines = 0;
    for (int i = 0; i < 600 && done_lines < 3; i++) {
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        FILE *f = fopen(journal, "r");
        done_lines = 0;
        char line[128];
        while (f && fgets(line, sizeof(line), f))
            done_lines += strncmp(line, "done ", 5) == 0;
        if (f)
            fclose(f);
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    assert_true(done_lines >= 3);
    assert_false(th_exists(dst));

    /* The ranges the journal holds now must not be fetched again. */
    int done_idx[64], ndone = 0;
    FILE *f = fopen(journal, "r");
    assert_non_null(f);
    char line[128];
    while (fgets(line, sizeof(line), f) && ndone < 64) {
        if (strncmp(line, "done ", 5) == 0 && strchr(line, '\n'))
            done_idx[ndone++] = atoi(line + 5);
    }
    fclose(f);
    assert_true(ndone >= 3);

    assert_int_equal(admin("DELETE", NULL), 0);
    int skip = settled_log_lines();
    igtcloud_transfer_options o;
    options(&o);
    igtcloud_transfer *t = NULL;
    TH_PASS(igtcloud_transfer_new(&t, &o));
    TH_PASS(igtcloud_transfer_add_download(t, DEMO_PREFIX "f/big.bin", dst, DEMO_PREFIX, -1, NULL));
    TH_PASS(igtcloud_transfer_run(t));
    igtcloud__engine_stats st;
    igtcloud__engine_get_stats(&st, t);
    igtcloud_transfer_free(t);
    assert_true(th_same_file(big_src, dst));
    assert_false(th_exists(journal));
    assert_int_equal(st.ranges_resumed, (size_t)ndone);
    /* The full-object CRC32C check covers the ranges the killed run left, read back from disk. */
    assert_int_equal(st.verified_by_crc32c, 1);
    assert_int_equal(st.ranges_read_back_by_workers, (size_t)ndone); /* not on the loop */

    /*
     * Every byte not in a journaled range is fetched once, and none of those
     * (the run's last ranges may come in pieces: count bytes, not requests).
     */
    uint64_t starts[64], ends[64], kept = 0, fetched = 0;
    int n = th_ranged_gets(&env, "f/big.bin", skip, starts, ends, 64);
    assert_true(n >= 1 && n < 64);
    for (int k = 0; k < ndone; k++) {
        uint64_t from = (uint64_t)done_idx[k] * 2 * MIB;
        kept += (from + 2 * MIB < big_size ? from + 2 * MIB : big_size) - from;
    }
    for (int i = 0; i < n; i++) {
        assert_true(ends[i] > starts[i] && ends[i] <= big_size);
        fetched += ends[i] - starts[i];
        for (int k = 0; k < ndone; k++) {
            uint64_t from = (uint64_t)done_idx[k] * 2 * MIB;
            assert_true(ends[i] <= from || starts[i] >= from + 2 * MIB);
        }
    }
    assert_true(kept > 0);
    assert_int_equal(fetched, big_size - kept);
}

/* Cancels at the first progress report with more bytes than the first one had, and at least at_least. */
typedef struct cancel_on_new_bytes {
    uint64_t at_least;
    int seen;
    uint64_t first;
} cancel_on_new_bytes;

static int cancel_when_bytes_grow(const igtcloud_transfer_progress *p, void *payload)
{
    cancel_on_new_bytes *c = payload;
    if (!c->seen) {
        c->seen = 1;
        c->first = p->bytes_done;
        return 0;
    }
    return p->bytes_done > c->first && p->bytes_done >= c->at_least;
}

/* Cancels at the second progress report (about 50 ms into the run). */
static int cancel_at_second_report(const igtcloud_transfer_progress *p, void *payload)
{
    (void)p;
    int *reports = payload;
    return ++*reports >= 2;
}

/* Run a download of f/big.bin into dst with progress reports to cb; returns the run's code. */
static int download_big_reporting(const char *dst, igtcloud_transfer_progress_cb cb, void *payload,
                                  igtcloud__engine_stats *st)
{
    igtcloud_transfer_options o;
    options(&o);
    o.max_requests = 2;
    o.stall_timeout_ms = 5000;
    o.progress_cb = cb;
    o.progress_payload = payload;
    igtcloud_transfer *t = NULL;
    TH_PASS(igtcloud_transfer_new(&t, &o));
    TH_PASS(igtcloud_transfer_add_download(t, DEMO_PREFIX "f/big.bin", dst, DEMO_PREFIX, -1, NULL));
    int rc = igtcloud_transfer_run(t);
    igtcloud__engine_get_stats(st, t);
    igtcloud_transfer_free(t);
    return rc;
}

/*
 * Cancelled twice, the second time just after the resumed run's first answers
 * (when the kept ranges were handed to workers to read back for the CRC32C
 * check; the cancel waits for those reads, and hands out no more of them):
 * each cancel keeps the temporary file and journal, and the third run reads
 * back what is kept, fetches only what is missing and checks the whole file.
 */
static void test_transfer_faults__resume_cancelled_after_read_back_resumes_again(void **state)
{
    (void)state;
    char dst[512], tmp[600], journal[600];
    snprintf(dst, sizeof(dst), "%s/cancelled.out", env.dir);
    snprintf(tmp, sizeof(tmp), "%s/.cancelled.out" IGTCLOUD__ENGINE_PART_SUFFIX, env.dir);
    snprintf(journal, sizeof(journal), "%s/.cancelled.out" IGTCLOUD__ENGINE_JOURNAL_SUFFIX, env.dir);
    igtcloud__engine_stats st;

    /* Slow GETs, two at a time: the first cancel comes once four ranges are in. */
    assert_int_equal(admin("DELETE", NULL), 0);
    assert_int_equal(admin("POST", "{\"operation\":\"GetObject\",\"effect\":\"delay\",\"where\":\"headers\",\"ms\":300}"), 0);
    cancel_on_new_bytes first = { 8 * MIB, 0, 0 };
    int rc = download_big_reporting(dst, cancel_when_bytes_grow, &first, &st);
    assert_int_equal(rc, IGTCLOUD_ECANCELLED);
    assert_true(th_exists(tmp));
    assert_true(th_exists(journal));
    assert_false(th_exists(dst));

    /*
     * Bodies that stall after their first bytes: the read-back of the kept
     * ranges starts as the first answers come (one range per task, slowed
     * down), and the cancel comes while the first two tasks are out.
     */
    assert_int_equal(admin("DELETE", NULL), 0);
    assert_int_equal(admin("POST", "{\"operation\":\"GetObject\",\"effect\":\"delay\",\"where\":\"body\",\"after_bytes\":1000,\"ms\":2000}"), 0);
    int reports = 0;
    igtcloud__engine_read_back_task_max = 2 * MIB; /* the range size of options() */
    igtcloud__engine_read_back_delay_us = 500 * 1000;
    rc = download_big_reporting(dst, cancel_at_second_report, &reports, &st);
    igtcloud__engine_read_back_task_max = 64 * MIB;
    igtcloud__engine_read_back_delay_us = 0;
    assert_int_equal(rc, IGTCLOUD_ECANCELLED);
    size_t kept = st.ranges_resumed;
    assert_true(kept >= 4);
    assert_true(st.ranges_read_back_by_workers >= 1); /* handed out as the first answers came */
    assert_true(st.ranges_read_back_by_workers <= 2); /* and no more once cancelled */
    assert_true(th_exists(tmp));
    assert_true(th_exists(journal));
    assert_false(th_exists(dst));

    assert_int_equal(admin("DELETE", NULL), 0);
    rc = download_big_reporting(dst, NULL, NULL, &st);
    TH_PASS(rc);
    assert_true(th_same_file(big_src, dst));
    assert_false(th_exists(tmp));
    assert_false(th_exists(journal));
    assert_true(st.ranges_resumed >= kept);
    assert_int_equal(st.ranges_read_back_by_workers, st.ranges_resumed);
    assert_int_equal(st.verified_by_crc32c, 1);
}

static int note_in_flight(const igtcloud_transfer_progress *p, void *payload)
{
    size_t *most = payload;
    if (p->requests_in_flight > *most)
        *most = p->requests_in_flight;
    return 0;
}

/*
 * One bound on requests in flight for the run: GETs slowed down by the
 * sandbox fill exactly the three slots a ranged download and a second file
 * compete for, never more; so do the three parts of a multipart upload.
 */
static void test_transfer_faults__requests_in_flight_stay_within_the_bound(void **state)
{
    (void)state;
    assert_int_equal(admin("DELETE", NULL), 0);
    assert_int_equal(admin("POST", "{\"operation\":\"GetObject\",\"effect\":\"delay\",\"where\":\"headers\",\"ms\":300}"), 0);
    char dst[512], dst2[512];
    snprintf(dst, sizeof(dst), "%s/bound.out", env.dir);
    snprintf(dst2, sizeof(dst2), "%s/bound-small.out", env.dir);
    size_t most = 0;
    igtcloud_transfer_options o;
    options(&o);
    o.max_requests = 3;
    o.progress_cb = note_in_flight;
    o.progress_payload = &most;
    igtcloud_transfer *t = NULL;
    TH_PASS(igtcloud_transfer_new(&t, &o));
    TH_PASS(igtcloud_transfer_add_download(t, DEMO_PREFIX "f/big.bin", dst, DEMO_PREFIX, (int64_t)big_size, NULL));
    TH_PASS(igtcloud_transfer_add_download(t, DEMO_PREFIX "f/small.bin", dst2, DEMO_PREFIX, (int64_t)small_size, NULL));
    TH_PASS(igtcloud_transfer_run(t));
    igtcloud_transfer_free(t);
    assert_int_equal(admin("DELETE", NULL), 0);
    assert_true(th_same_file(big_src, dst));
    assert_true(th_same_file(small_src, dst2));
    assert_int_equal(most, 3);

    /* The parts of a multipart upload are in flight together. */
    assert_int_equal(admin("POST", "{\"operation\":\"UploadPart\",\"effect\":\"delay\",\"where\":\"headers\",\"ms\":300}"), 0);
    most = 0;
    TH_PASS(igtcloud_transfer_new(&t, &o));
    TH_PASS(igtcloud_transfer_add_upload(t, big_src, DEMO_PREFIX "f/bound-up.bin", DEMO_PREFIX, NULL, NULL));
    TH_PASS(igtcloud_transfer_run(t));
    igtcloud_transfer_free(t);
    assert_int_equal(admin("DELETE", NULL), 0);
    assert_int_equal(th_log_count(&env, "\"UploadPart\"", "f/bound-up.bin", "\"status\":200"), 3);
    assert_int_equal(most, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer_faults__transient_download_faults_heal),
        cmocka_unit_test(test_transfer_faults__expired_token_renews_without_failing),
        cmocka_unit_test(test_transfer_faults__transient_upload_faults_heal),
        cmocka_unit_test(test_transfer_faults__nosuchupload_is_checked_against_the_object),
        cmocka_unit_test(test_transfer_faults__persistent_faults_fail_cleanly),
        cmocka_unit_test(test_transfer_faults__sigkill_then_resume_skips_finished_ranges),
        cmocka_unit_test(test_transfer_faults__resume_cancelled_after_read_back_resumes_again),
        cmocka_unit_test(test_transfer_faults__requests_in_flight_stay_within_the_bound),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
