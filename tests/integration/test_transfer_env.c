/*
 * The transfer engine in its process and environment, against the sandbox:
 * more files than `ulimit -n` allows open, proxies from the environment, the
 * progress, file and cancel callbacks (cancel from another thread), the
 * size check of downloads, and memory that does not grow with the object.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include "transfer_helpers.h"
#include "fake_server.h"
#include "s3/engine.h"

#define MIB (1024u * 1024u)

static th_env env;

static int setup(void **state)
{
    (void)state;
    igtcloud_global_init();
    return th_start(&env, NULL);
}

static int teardown(void **state)
{
    (void)state;
    th_stop(&env);
    igtcloud_global_shutdown();
    return 0;
}

/* Descriptors this process has open. */
static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own descriptor */
}

/*
 * More files than `ulimit -n` lets a process hold open, moved with the
 * engine's default bounds: files open at once and requests in flight (each a
 * connection) are sized from the limit, so every file moves and no request
 * fails for want of a descriptor (none is retried). The first files are
 * large (multipart, many ranges): alone they could fill every request slot.
 */
static void test_transfer_env__more_files_than_the_open_file_limit(void **state)
{
    (void)state;
    enum { N = 90 };
    static char src[N][300], dst[N][300], key[N][200];
    igtcloud_transfer_options o;
    th_options(&o, &env);
    o.multipart_threshold = 5 * MIB;
    o.part_size = 5 * MIB;
    o.range_threshold = 256 * 1024;
    o.range_size = 256 * 1024;
    for (int i = 0; i < N; i++) {
        snprintf(src[i], sizeof(src[i]), "%s/nofile-%d.bin", env.dir, i);
        snprintf(dst[i], sizeof(dst[i]), "%s/nofile-%d.out", env.dir, i);
        snprintf(key[i], sizeof(key[i]), DEMO_PREFIX "nofile/%d.bin", i);
        uint64_t size = i < 3 ? 6 * MIB + (uint64_t)i : 20000 + (uint64_t)i * 13;
        assert_int_equal(th_make_file(src[i], size, (uint32_t)i + 300), 0);
    }
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    /* 24 descriptors for the engine beyond what the process holds now. */
    low.rlim_cur = (rlim_t)open_fds() + 24;
    assert_true(low.rlim_cur < N);
    igtcloud_transfer *up = NULL, *down = NULL;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int rc_new = igtcloud_transfer_new(&up, &o) || igtcloud_transfer_new(&down, &o);
    int rc_add = 0;
    for (int i = 0; !rc_new && i < N; i++) {
        rc_add |= igtcloud_transfer_add_upload(up, src[i], key[i], DEMO_PREFIX, NULL, NULL);
        rc_add |= igtcloud_transfer_add_download(down, key[i], dst[i], DEMO_PREFIX, -1, NULL);
    }
    int rc_up = rc_new ? -1 : igtcloud_transfer_run(up);
    char up_msg[512];
    snprintf(up_msg, sizeof(up_msg), "%s", igtcloud_error_last()->message);
    int rc_down = rc_new || rc_up ? -1 : igtcloud_transfer_run(down);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    if (rc_up || rc_down)
        fprintf(stderr, "up %d (%s), down %d (%s)\n", rc_up, up_msg, rc_down,
                igtcloud_error_last()->message);
    assert_int_equal(rc_new, 0);
    assert_int_equal(rc_add, 0);
    assert_int_equal(rc_up, 0);
    assert_int_equal(rc_down, 0);
    igtcloud__engine_stats st;
    igtcloud__engine_get_stats(&st, up);
    assert_int_equal(st.retries, 0);
    igtcloud__engine_get_stats(&st, down);
    assert_int_equal(st.retries, 0);
    igtcloud_transfer_free(up);
    igtcloud_transfer_free(down);
    for (int i = 0; i < N; i++)
        assert_true(th_same_file(src[i], dst[i]));
}

/* What the callbacks of a run saw. */
typedef struct watch {
    int progress_calls, decreasing, file_calls, bad_files;
    igtcloud_transfer_progress last;
    char keys[16][200];
} watch;

static int watch_progress(const igtcloud_transfer_progress *p, void *payload)
{
    watch *w = payload;
    if (w->progress_calls++ > 0 && (p->bytes_done < w->last.bytes_done ||
                                    p->files_done < w->last.files_done))
        w->decreasing++;
    w->last = *p;
    return 0;
}

static int watch_file(const igtcloud_transfer_result *r, void *payload)
{
    watch *w = payload;
    if (r->status != 0 || w->file_calls >= 16)
        w->bad_files++;
    else
        snprintf(w->keys[w->file_calls], sizeof(w->keys[0]), "%s", r->key);
    w->file_calls++;
    return 0;
}

/* A thread that cancels a running transfer when asked to by its progress callback. */
typedef struct canceller {
    igtcloud_transfer *t;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int asked, done;
} canceller;

static void *cancel_thread(void *arg)
{
    canceller *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->asked)
        pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
    igtcloud_transfer_cancel(c->t);
    pthread_mutex_lock(&c->lock);
    c->done = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static int progress_asks_cancel(const igtcloud_transfer_progress *p, void *payload)
{
    (void)p;
    canceller *c = payload;
    pthread_mutex_lock(&c->lock);
    c->asked = 1;
    pthread_cond_broadcast(&c->cond);
    while (!c->done)
        pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
    return 0; /* the other thread's cancel alone stops the run */
}

/*
 * Progress and file callbacks: bytes and files only grow, the last report
 * counts every byte and file, each file is reported once as it finishes. A
 * run cancelled from another thread stops with IGTCLOUD_ECANCELLED and
 * leaves no file under its final name; the next run completes it.
 */
static void test_transfer_env__progress_file_and_cancel_callbacks(void **state)
{
    (void)state;
    enum { N = 6 };
    char src[N][300], dst[N][300], key[N][200];
    uint64_t total = 0;
    for (int i = 0; i < N; i++) {
        uint64_t size = i == N - 1 ? 7 * MIB + 3 : 40000 + (uint64_t)i;
        snprintf(src[i], sizeof(src[i]), "%s/cb-%d.bin", env.dir, i);
        snprintf(dst[i], sizeof(dst[i]), "%s/cb-%d.out", env.dir, i);
        snprintf(key[i], sizeof(key[i]), DEMO_PREFIX "cb/%d.bin", i);
        assert_int_equal(th_make_file(src[i], size, (uint32_t)i + 500), 0);
        total += size;
    }
    static watch w;
    memset(&w, 0, sizeof(w));
    igtcloud_transfer_options o;
    th_options(&o, &env);
    o.multipart_threshold = 6 * MIB;
    o.part_size = 5 * MIB;
    o.progress_cb = watch_progress;
    o.progress_payload = &w;
    o.file_cb = watch_file;
    o.file_payload = &w;
    igtcloud_transfer *t = NULL;
    TH_PASS(igtcloud_transfer_new(&t, &o));
    for (int i = 0; i < N; i++)
        TH_PASS(igtcloud_transfer_add_upload(t, src[i], key[i], DEMO_PREFIX, NULL, NULL));
    TH_PASS(igtcloud_transfer_run(t));
    igtcloud_transfer_free(t);
    assert_true(w.progress_calls >= 1);
    assert_int_equal(w.decreasing, 0);
    assert_int_equal(w.last.bytes_done, total);
    assert_int_equal(w.last.bytes_total, total);
    assert_int_equal(w.last.files_done, N);
    assert_int_equal(w.last.files_total, N);
    assert_int_equal(w.last.files_failed, 0);
    assert_int_equal(w.file_calls, N);
    assert_int_equal(w.bad_files, 0);
    for (int i = 0; i < N; i++) {
        int found = 0;
        for (int k = 0; k < N; k++)
            found += strcmp(w.keys[k], key[i]) == 0;
        assert_int_equal(found, 1);
    }

    /* Cancelled from another thread while the large file downloads. */
    static canceller c;
    memset(&c, 0, sizeof(c));
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.cond, NULL);
    th_options(&o, &env);
    o.range_size = 1 * MIB;
    o.range_threshold = 1 * MIB;
    o.max_requests = 1;
    o.progress_cb = progress_asks_cancel;
    o.progress_payload = &c;
    TH_PASS(igtcloud_transfer_new(&t, &o));
    c.t = t;
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, cancel_thread, &c), 0);
    TH_PASS(igtcloud_transfer_add_download(t, key[N - 1], dst[N - 1], DEMO_PREFIX, -1, NULL));
    assert_int_equal(igtcloud_transfer_run(t), IGTCLOUD_ECANCELLED);
    pthread_join(thread, NULL);
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    assert_int_equal(r.status, IGTCLOUD_ECANCELLED);
    igtcloud_transfer_free(t);
    assert_false(th_exists(dst[N - 1]));
    pthread_mutex_destroy(&c.lock);
    pthread_cond_destroy(&c.cond);
    o.progress_cb = NULL;
    TH_PASS(th_run_download(&t, &o, key[N - 1], dst[N - 1], -1));
    igtcloud_transfer_free(t);
    assert_true(th_same_file(src[N - 1], dst[N - 1]));
}

/*
 * Proxies come from the environment: with http_proxy naming a port where
 * nothing listens, the download fails there (naming it) and no request
 * reaches the sandbox; NO_PROXY exempting the sandbox's host lets it through.
 */
static void test_transfer_env__proxy_from_the_environment(void **state)
{
    (void)state;
    char src[512], dst[512], proxy[64], port[16];
    th_path_in(&env, src, sizeof(src), "proxied.bin");
    th_path_in(&env, dst, sizeof(dst), "proxied.out");
    assert_int_equal(th_make_file(src, 5000, 77), 0);
    igtcloud_transfer_options o;
    th_options(&o, &env);
    th_put_file(&o, src, DEMO_PREFIX "proxy/p.bin", NULL);
    static const char *const vars[] = { "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY",
                                        "no_proxy", "NO_PROXY" };
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    int dead = fake_unused_port();
    snprintf(port, sizeof(port), "port %d", dead);
    snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", dead);
    setenv("http_proxy", proxy, 1);
    igtcloud_transfer *t = NULL;
    int rc = th_run_download(&t, &o, DEMO_PREFIX "proxy/p.bin", dst, -1);
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", r.message);
    int status = r.status;
    igtcloud_transfer_free(t);
    setenv("NO_PROXY", "127.0.0.1", 1);
    int rc_exempt = th_run_download(&t, &o, DEMO_PREFIX "proxy/p.bin", dst, -1);
    igtcloud_transfer_free(t);
    unsetenv("http_proxy");
    unsetenv("NO_PROXY");
    assert_int_equal(rc, IGTCLOUD_EPARTIAL);
    assert_int_equal(status, IGTCLOUD_ENET);
    assert_non_null(strstr(msg, port));
    assert_int_equal(rc_exempt, 0);
    assert_true(th_same_file(src, dst));
    /* The only GET that reached the sandbox is the exempt one. */
    assert_int_equal(th_log_count(&env, "\"GetObject\"", "proxy/p.bin", NULL), 1);
}

/*
 * The size is verified: an object whose size differs from the one the
 * caller knows (the API's fileSize) fails with IGTCLOUD_EPROTO naming both,
 * whether fetched whole or in ranges, and nothing is left under the final
 * name or beside it.
 */
static void test_transfer_env__size_is_verified(void **state)
{
    (void)state;
    char src[512], dst[512], side[600];
    th_path_in(&env, src, sizeof(src), "sized.bin");
    th_path_in(&env, dst, sizeof(dst), "sized.out");
    const uint64_t size = 3 * MIB + 5;
    assert_int_equal(th_make_file(src, size, 78), 0);
    igtcloud_transfer_options o;
    th_options(&o, &env);
    th_put_file(&o, src, DEMO_PREFIX "sized/s.bin", NULL);
    for (int ranged = 0; ranged < 2; ranged++) {
        o.range_threshold = ranged ? 1 * MIB : 16 * MIB;
        o.range_size = 1 * MIB;
        const int64_t wrong[] = { (int64_t)size + 1, (int64_t)size - 1 };
        for (size_t w = 0; w < 2; w++) {
            igtcloud_transfer *t = NULL;
            assert_int_equal(th_run_download(&t, &o, DEMO_PREFIX "sized/s.bin", dst, wrong[w]),
                             IGTCLOUD_EPARTIAL);
            igtcloud_transfer_result r;
            TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
            assert_int_equal(r.status, IGTCLOUD_EPROTO);
            char want[64];
            snprintf(want, sizeof(want), "%llu", (unsigned long long)wrong[w]);
            assert_non_null(strstr(r.message, want));
            assert_non_null(strstr(r.message, "3145733"));
            igtcloud_transfer_free(t);
            assert_false(th_exists(dst));
            snprintf(side, sizeof(side), "%s/.sized.out.igtcloud-part", env.dir);
            assert_false(th_exists(side));
            snprintf(side, sizeof(side), "%s/.sized.out.igtcloud-journal", env.dir);
            assert_false(th_exists(side));
        }
    }
    igtcloud_transfer *t = NULL;
    TH_PASS(th_run_download(&t, &o, DEMO_PREFIX "sized/s.bin", dst, (int64_t)size));
    igtcloud_transfer_free(t);
    assert_true(th_same_file(src, dst));
}

/* Peak resident set of this process in KiB. */
static long peak_rss_kib(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

/*
 * No object is ever held in memory: a 96 MiB file uploaded in parts, then
 * downloaded in one GET and again in parallel ranges, moves through bounded
 * buffers (pread/pwrite at offsets), so this process's peak resident set
 * grows by far less than the object. (Skipped under sanitizers, whose
 * quarantine keeps freed memory resident on purpose.)
 */
static void test_transfer_env__memory_stays_bounded_whatever_the_size(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip();
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    skip();
#endif
#endif
    char src[512], whole[512], ranged[512];
    th_path_in(&env, src, sizeof(src), "rss.bin");
    th_path_in(&env, whole, sizeof(whole), "rss-whole.out");
    th_path_in(&env, ranged, sizeof(ranged), "rss-ranged.out");
    const uint64_t size = 96 * MIB + 11;
    assert_int_equal(th_make_file(src, size, 79), 0);
    long before = peak_rss_kib();
    igtcloud_transfer_options o;
    th_options(&o, &env);
    th_put_file(&o, src, DEMO_PREFIX "rss/big.bin", NULL);
    o.range_threshold = 128 * MIB;
    igtcloud_transfer *t = NULL;
    TH_PASS(th_run_download(&t, &o, DEMO_PREFIX "rss/big.bin", whole, (int64_t)size));
    igtcloud_transfer_free(t);
    o.range_threshold = 4 * MIB;
    o.range_size = 4 * MIB;
    TH_PASS(th_run_download(&t, &o, DEMO_PREFIX "rss/big.bin", ranged, (int64_t)size));
    igtcloud_transfer_free(t);
    long grown_mib = (peak_rss_kib() - before) / 1024;
    fprintf(stderr, "peak RSS grew by %ld MiB for a %llu MiB object\n", grown_mib,
            (unsigned long long)(size / MIB));
    assert_true(grown_mib < 40);
    assert_true(th_same_file(src, whole));
    assert_true(th_same_file(src, ranged));
    unlink(src);
    unlink(whole);
    unlink(ranged);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer_env__more_files_than_the_open_file_limit),
        cmocka_unit_test(test_transfer_env__progress_file_and_cancel_callbacks),
        cmocka_unit_test(test_transfer_env__proxy_from_the_environment),
        cmocka_unit_test(test_transfer_env__size_is_verified),
        cmocka_unit_test(test_transfer_env__memory_stays_bounded_whatever_the_size),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
