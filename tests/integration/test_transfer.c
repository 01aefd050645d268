/* The transfer engine against the sandbox: uploads, downloads, reads, skips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "transfer_helpers.h"
#include "fake_server.h"
#include "core/md5.h"
#include "s3/engine.h"
#include "s3/journal.h"

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

/* Whether the part or journal file (`suffix`) of env.dir/name is left. */
static int side_exists(const char *name, const char *suffix)
{
    char side[600];
    snprintf(side, sizeof(side), "%s/.%s%s", env.dir, name, suffix);
    return th_exists(side);
}

/*
 * A new transfer in *out with one upload of src to key (resuming upload_id
 * unless NULL), run; returns the run's code. The caller frees *out.
 */
static int run_upload(igtcloud_transfer **out, const igtcloud_transfer_options *o, const char *src,
                      const char *key, const char *upload_id)
{
    TH_PASS(igtcloud_transfer_new(out, o));
    TH_PASS(igtcloud_transfer_add_upload(*out, src, key, DEMO_PREFIX, upload_id, NULL));
    return igtcloud_transfer_run(*out);
}

/* Options for the fake server `fs`: fixed credentials in *c, one attempt per request. */
static void fake_options(igtcloud_transfer_options *o, igtcloud_s3_credentials *c,
                         const fake_server *fs)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->access_key, sizeof(c->access_key), "AKIDEXAMPLE");
    snprintf(c->secret_key, sizeof(c->secret_key), "secret");
    snprintf(c->bucket, sizeof(c->bucket), "bucket");
    snprintf(c->endpoint, sizeof(c->endpoint), "%s", fs->url);
    igtcloud_transfer_options_init(o, IGTCLOUD_TRANSFER_OPTIONS_VERSION);
    o->credentials = c;
    o->max_attempts = 1;
}

static void test_transfer__single_put_and_get_are_byte_identical(void **state)
{
    (void)state;
    char src[512], dst[512];
    th_path_in(&env, src, sizeof(src), "single.bin");
    th_path_in(&env, dst, sizeof(dst), "single.out");
    assert_int_equal(th_make_file(src, 300 * 1024 + 7, 1), 0);

    igtcloud_transfer_options o;
    th_options(&o, &env);
    igtcloud_transfer *t = NULL;
    TH_PASS(run_upload(&t, &o, src, DEMO_PREFIX "t1/single.bin", NULL));
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    assert_int_equal(r.status, 0);
    assert_int_equal(r.size, 300 * 1024 + 7);
    assert_int_equal(strlen(r.etag), 32);
    igtcloud_transfer_free(t);
    assert_int_equal(th_log_count(&env, "\"PutObject\"", "t1/single.bin", "\"status\":200"), 1);

    TH_PASS(th_run_download(&t, &o, DEMO_PREFIX "t1/single.bin", dst, -1));
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    assert_int_equal(r.status, 0);
    assert_int_equal(r.skipped, 0);
    assert_true(r.last_modified > 1600000000);
    igtcloud_transfer_free(t);
    assert_true(th_same_file(src, dst));
    assert_int_equal(th_log_count(&env, "\"GetObject\"", "t1/single.bin", NULL), 1);

    /* A second run with the known size does not fetch the complete file again. */
    TH_PASS(th_run_download(&t, &o, DEMO_PREFIX "t1/single.bin", dst, 300 * 1024 + 7));
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    assert_int_equal(r.skipped, 1);
    igtcloud_transfer_free(t);
    assert_int_equal(th_log_count(&env, "\"GetObject\"", "t1/single.bin", NULL), 1);
}

static void test_transfer__multipart_upload_and_ranged_download(void **state)
{
    (void)state;
    char src[512], dst[512];
    th_path_in(&env, src, sizeof(src), "big.bin");
    th_path_in(&env, dst, sizeof(dst), "big.out");
    const uint64_t size = 23 * MIB + 12345;
    assert_int_equal(th_make_file(src, size, 2), 0);

    igtcloud_transfer_options o;
    th_options(&o, &env);
    o.multipart_threshold = 6 * MIB;
    o.part_size = 5 * MIB;
    o.range_size = 3 * MIB;
    o.range_threshold = 3 * MIB;
    o.max_requests = 4;
    igtcloud_transfer *t = NULL;
    TH_PASS(run_upload(&t, &o, src, DEMO_PREFIX "t2/big.bin", NULL));
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    assert_int_equal(r.status, 0);
    assert_true(strlen(r.upload_id) > 0);
    assert_non_null(strstr(r.etag, "-5"));
    igtcloud_transfer_free(t);
    assert_int_equal(th_log_count(&env, "\"CreateMultipartUpload\"", "t2/big.bin", NULL), 1);
    assert_int_equal(th_log_count(&env, "\"UploadPart\"", "t2/big.bin", "\"status\":200"), 5);
    assert_int_equal(th_log_count(&env, "\"CompleteMultipartUpload\"", "t2/big.bin", "\"status\":200"), 1);

    /* Size unknown: the first GET tells it, the rest comes in parallel ranges. */
    TH_PASS(th_run_download(&t, &o, DEMO_PREFIX "t2/big.bin", dst, -1));
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    assert_int_equal(r.status, 0);
    assert_int_equal(r.size, size);
    igtcloud__engine_stats st;
    igtcloud__engine_get_stats(&st, t);
    igtcloud_transfer_free(t);
    assert_true(th_same_file(src, dst));
    /*
     * 8 ranges of 3 MiB: 0-3 whole; the last 4 (as many as requests in
     * flight: the run's end) in pieces of at least 1 MiB, 3 + 3 + 3 + 2.
     */
    assert_int_equal(st.ranges_in_pieces, 4);
    assert_int_equal(th_log_count(&env, "\"GetObject\"", "t2/big.bin", "\"range\""), 4 + 11);
    /* Nothing half-written is left beside it. */
    assert_false(side_exists("big.out", IGTCLOUD__ENGINE_PART_SUFFIX));
    assert_false(side_exists("big.out", IGTCLOUD__ENGINE_JOURNAL_SUFFIX));
}

/*
 * The ranged GETs of key logged after line `skip`, sorted by start: 0 when
 * they tile [0, size) exactly (no gap, no overlap), -1 otherwise. *pieces:
 * how many are shorter than range_size and not the object's last.
 */
static int ranged_gets_tile(const char *key, int skip, uint64_t size, uint64_t range_size,
                            int *pieces)
{
    uint64_t from[128], to[128];
    int n = th_ranged_gets(&env, key, skip, from, to, 128);
    for (int i = 1; i < n; i++) { /* insertion sort by start */
        for (int k = i; k > 0 && from[k] < from[k - 1]; k--) {
            uint64_t f = from[k], t = to[k];
            from[k] = from[k - 1], to[k] = to[k - 1];
            from[k - 1] = f, to[k - 1] = t;
        }
    }
    *pieces = 0;
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (from[i] != at || to[i] <= from[i])
            return -1;
        if (to[i] - from[i] < range_size && to[i] != size)
            (*pieces)++;
        at = to[i];
    }
    return at == size ? 0 : -1;
}

/*
 * A run's last ranges come in pieces, so it does not end with one range's
 * time spent on a few requests while the other slots wait: once every file
 * has started and the ranges left would no more than fill the slots, each
 * is fetched in pieces of at least 1 MiB, and journaled when all are back.
 */
static void test_transfer__last_ranges_of_a_run_come_in_pieces(void **state)
{
    (void)state;
    const char *names[2] = { "tail-a", "tail-b" };
    const uint64_t sizes[2] = { 14 * MIB + 777, 9 * MIB + 5 };
    char src[2][512], dst[2][512], key[2][128];
    igtcloud_transfer_options o;
    th_options(&o, &env);
    o.checksum = IGTCLOUD_CHECKSUM_MD5; /* single-part objects: the downloads check the MD5 */
    o.multipart_threshold = 64 * MIB;
    o.range_size = 2 * MIB;
    o.range_threshold = 2 * MIB;
    o.max_requests = 4;
    for (int i = 0; i < 2; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s.bin", names[i]);
        th_path_in(&env, src[i], sizeof(src[i]), name);
        snprintf(name, sizeof(name), "%s.out", names[i]);
        th_path_in(&env, dst[i], sizeof(dst[i]), name);
        snprintf(key[i], sizeof(key[i]), DEMO_PREFIX "t40/%s.bin", names[i]);
        assert_int_equal(th_make_file(src[i], sizes[i], 40 + (uint32_t)i), 0);
        th_put_file(&o, src[i], key[i], NULL);
    }

    const unsigned settings[2] = { 4, 1 };
    for (int round = 0; round < 2; round++) {
        unsigned pieces_setting = settings[round];
        igtcloud__engine_tail_pieces = pieces_setting;
        int skip = th_log_lines(&env);
        igtcloud_transfer *t = NULL;
        TH_PASS(igtcloud_transfer_new(&t, &o));
        for (int i = 0; i < 2; i++) {
            unlink(dst[i]);
            TH_PASS(igtcloud_transfer_add_download(t, key[i], dst[i], DEMO_PREFIX, (int64_t)sizes[i], NULL));
        }
        TH_PASS(igtcloud_transfer_run(t));
        igtcloud__engine_stats st;
        igtcloud__engine_get_stats(&st, t);
        igtcloud_transfer_free(t);
        igtcloud__engine_tail_pieces = 4;
        int pieces[2];
        for (int i = 0; i < 2; i++) {
            assert_true(th_same_file(src[i], dst[i]));
            /* Every byte fetched once, whole ranges and pieces alike. */
            assert_int_equal(ranged_gets_tile(names[i], skip, sizes[i], 2 * MIB, &pieces[i]), 0);
            assert_false(side_exists(strrchr(dst[i], '/') + 1, IGTCLOUD__ENGINE_JOURNAL_SUFFIX));
        }
        assert_true(st.prefix_hashes >= 2); /* checked by MD5, in order, as ranges complete */
        if (pieces_setting == 1) {
            /* The hook turns it off: whole ranges only. */
            assert_int_equal(st.ranges_in_pieces, 0);
            assert_int_equal(pieces[0] + pieces[1], 0);
        } else {
            /* At most the last wave (4 ranges) at a time; each 2 MiB range in 2 pieces. */
            assert_true(st.ranges_in_pieces >= 1);
            assert_true(st.ranges_in_pieces <= 8);
            assert_int_equal(pieces[0] + pieces[1], 2 * (int)st.ranges_in_pieces);
        }
    }

    /* A rotten byte in the last range, which comes in pieces, fails the MD5 check. */
    assert_int_equal(test_rot_stored_byte(env.sb.data_dir, key[1], (long)(sizes[1] - 3)), 0);
    unlink(dst[1]);
    igtcloud_transfer *t = NULL;
    assert_int_equal(th_run_download(&t, &o, key[1], dst[1], (int64_t)sizes[1]), IGTCLOUD_EPARTIAL);
    igtcloud__engine_stats st;
    igtcloud__engine_get_stats(&st, t);
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    assert_true(st.ranges_in_pieces >= 1);
    assert_int_equal(r.status, IGTCLOUD_EPROTO);
    assert_non_null(strstr(r.message, "MD5"));
    igtcloud_transfer_free(t);
    assert_false(th_exists(dst[1]));
    assert_false(side_exists("tail-b.out", IGTCLOUD__ENGINE_PART_SUFFIX));
    assert_false(side_exists("tail-b.out", IGTCLOUD__ENGINE_JOURNAL_SUFFIX));
}

static void test_transfer__many_small_files_share_one_engine(void **state)
{
    (void)state;
    enum { N = 60 };
    igtcloud_transfer_options o;
    th_options(&o, &env);
    o.max_requests = 8;
    o.max_open_files = 8;
    o.checksum = IGTCLOUD_CHECKSUM_MD5; /* objects without a CRC32C: downloads check the MD5 */
    igtcloud_transfer *up = NULL, *down = NULL;
    TH_PASS(igtcloud_transfer_new(&up, &o));
    TH_PASS(igtcloud_transfer_new(&down, &o));
    char src[N][300], dst[N][300], key[N][200];
    for (int i = 0; i < N; i++) {
        snprintf(src[i], sizeof(src[i]), "%s/small-%d.bin", env.dir, i);
        snprintf(dst[i], sizeof(dst[i]), "%s/small-%d.out", env.dir, i);
        snprintf(key[i], sizeof(key[i]), DEMO_PREFIX "t3/sub dir/small-%d+x.bin", i);
        assert_int_equal(th_make_file(src[i], (uint64_t)(i * 997 % 70000), (uint32_t)i + 10), 0);
        TH_PASS(igtcloud_transfer_add_upload(up, src[i], key[i], DEMO_PREFIX, NULL, NULL));
        TH_PASS(igtcloud_transfer_add_download(down, key[i], dst[i], DEMO_PREFIX, -1, NULL));
    }
    int before = env.provider_calls;
    TH_PASS(igtcloud_transfer_run(up));
    /* One credentials fetch for the whole run, not one per file. */
    assert_int_equal(env.provider_calls - before, 1);
    TH_PASS(igtcloud_transfer_run(down));
    assert_int_equal(env.provider_calls - before, 2);
    assert_int_equal(igtcloud_transfer_count(down), N);
    for (int i = 0; i < N; i++)
        assert_true(th_same_file(src[i], dst[i]));
    igtcloud__engine_stats st;
    igtcloud__engine_get_stats(&st, up);
    /* Every body but the empty one was hashed (Content-MD5) by a worker. */
    assert_int_equal(st.bodies_hashed_by_workers, N - 1);
    igtcloud__engine_get_stats(&st, down);
    /* Every file but the empty one (its first range answers 416, without an ETag). */
    assert_int_equal(st.verified_by_workers, N - 1);
    /*
     * Non-empty files reach the disk in one chunk each, written by a worker
     * unless both workers were busy hashing (then the loop writes itself).
     */
    assert_true(st.chunks_written_by_workers > 0);
    assert_true(st.chunks_written_by_workers <= N - 1);
    igtcloud_transfer_free(up);
    igtcloud_transfer_free(down);
}

/*
 * Objects uploaded with the default checksum (CRC32C) come back checked
 * against the CRC32C the sandbox stored, not the MD5.
 */
static void test_transfer__crc32c_uploads_download_checked_by_crc32c(void **state)
{
    (void)state;
    enum { N = 5 };
    igtcloud_transfer_options o;
    th_options(&o, &env);
    igtcloud_transfer *up = NULL, *down = NULL;
    TH_PASS(igtcloud_transfer_new(&up, &o));
    TH_PASS(igtcloud_transfer_new(&down, &o));
    char src[N][300], dst[N][300], key[N][200];
    for (int i = 0; i < N; i++) {
        snprintf(src[i], sizeof(src[i]), "%s/crc-%d.bin", env.dir, i);
        snprintf(dst[i], sizeof(dst[i]), "%s/crc-%d.out", env.dir, i);
        snprintf(key[i], sizeof(key[i]), DEMO_PREFIX "t10/crc-%d.bin", i);
        const int64_t size = 1000 + (int64_t)i * 70001;
        assert_int_equal(th_make_file(src[i], (uint64_t)size, (uint32_t)i + 40), 0);
        TH_PASS(igtcloud_transfer_add_upload(up, src[i], key[i], DEMO_PREFIX, NULL, NULL));
        /* Sizes known, as the CLI knows them: one whole GET each. */
        TH_PASS(igtcloud_transfer_add_download(down, key[i], dst[i], DEMO_PREFIX, size, NULL));
    }
    TH_PASS(igtcloud_transfer_run(up));
    TH_PASS(igtcloud_transfer_run(down));
    for (int i = 0; i < N; i++)
        assert_true(th_same_file(src[i], dst[i]));
    igtcloud__engine_stats st;
    igtcloud__engine_get_stats(&st, down);
    assert_int_equal(st.verified_by_crc32c, N);
    assert_int_equal(st.verified_by_workers, 0);
    igtcloud_transfer_free(up);
    igtcloud_transfer_free(down);
}

static void test_transfer__read_range_and_stat(void **state)
{
    (void)state;
    char src[512];
    th_path_in(&env, src, sizeof(src), "read.bin");
    assert_int_equal(th_make_file(src, 100000, 3), 0);
    igtcloud_transfer_options o;
    th_options(&o, &env);
    igtcloud_transfer *t = NULL;
    th_put_file(&o, src, DEMO_PREFIX "t4/read.bin", NULL);

    th_options(&o, &env);
    TH_PASS(igtcloud_transfer_new(&t, &o));
    uint64_t size = 0;
    int64_t modified = 0;
    TH_PASS(igtcloud_transfer_stat(&size, &modified, t, DEMO_PREFIX "t4/read.bin", DEMO_PREFIX));
    assert_int_equal(size, 100000);
    assert_true(modified > 1600000000);

    unsigned char want[5000], got[5000];
    FILE *f = fopen(src, "rb");
    assert_non_null(f);
    fseek(f, 90000, SEEK_SET);
    assert_int_equal(fread(want, 1, sizeof(want), f), sizeof(want));
    fclose(f);
    size_t n = 0;
    TH_PASS(igtcloud_transfer_read(&n, t, DEMO_PREFIX "t4/read.bin", DEMO_PREFIX, 90000, got, sizeof(got)));
    assert_int_equal(n, sizeof(got));
    assert_memory_equal(want, got, sizeof(got));
    /* Past the end: fewer bytes. */
    TH_PASS(igtcloud_transfer_read(&n, t, DEMO_PREFIX "t4/read.bin", DEMO_PREFIX, 99000, got, sizeof(got)));
    assert_int_equal(n, 1000);
    TH_PASS(igtcloud_transfer_read(&n, t, DEMO_PREFIX "t4/read.bin", DEMO_PREFIX, 100000, got, sizeof(got)));
    assert_int_equal(n, 0);
    assert_int_equal(igtcloud_transfer_stat(&size, NULL, t, DEMO_PREFIX "t4/missing", DEMO_PREFIX),
                     IGTCLOUD_ENOTFOUND);
    assert_int_equal(igtcloud_error_last()->http_status, 404);
    igtcloud_transfer_free(t);
}

static void test_transfer__missing_object_fails_cleanly(void **state)
{
    (void)state;
    char dst[512];
    th_path_in(&env, dst, sizeof(dst), "missing.out");
    igtcloud_transfer_options o;
    th_options(&o, &env);
    igtcloud_transfer *t = NULL;
    assert_int_equal(th_run_download(&t, &o, DEMO_PREFIX "t5/none.bin", dst, -1), IGTCLOUD_EPARTIAL);
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    assert_int_equal(r.status, IGTCLOUD_ENOTFOUND);
    assert_int_equal(r.http_status, 404);
    assert_string_equal(r.error_code, "NoSuchKey");
    assert_true(strlen(r.request_id) > 0);
    assert_non_null(strstr(r.message, "NoSuchKey"));
    igtcloud_transfer_free(t);
    assert_false(th_exists(dst));
    assert_false(side_exists("missing.out", IGTCLOUD__ENGINE_PART_SUFFIX));
    /* Credentials for another project are refused by the API: a clear error per file. */
    TH_PASS(igtcloud_transfer_new(&t, &o));
    TH_PASS(igtcloud_transfer_add_download(t, "projects/other/x", dst, "projects/other/", -1, NULL));
    assert_int_equal(igtcloud_transfer_run(t), IGTCLOUD_EPARTIAL);
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    assert_int_equal(r.status, IGTCLOUD_EAUTH);
    igtcloud_transfer_free(t);
}


struct cancel_at {
    uint64_t bytes;
};

static int cancel_when(const igtcloud_transfer_progress *p, void *payload)
{
    const struct cancel_at *c = payload;
    return p->bytes_done >= c->bytes;
}

static void test_transfer__cancelled_multipart_upload_resumes_with_list_parts(void **state)
{
    (void)state;
    char src[512], dst[512];
    th_path_in(&env, src, sizeof(src), "resume-up.bin");
    th_path_in(&env, dst, sizeof(dst), "resume-up.out");
    const uint64_t size = 26 * MIB + 99;
    assert_int_equal(th_make_file(src, size, 5), 0);
    igtcloud_transfer_options o;
    th_options(&o, &env);
    o.multipart_threshold = 6 * MIB;
    o.part_size = 5 * MIB;
    o.max_requests = 1;
    struct cancel_at at = { 10 * MIB };
    o.progress_cb = cancel_when;
    o.progress_payload = &at;
    igtcloud_transfer *t = NULL;
    assert_int_equal(run_upload(&t, &o, src, DEMO_PREFIX "t6/resume.bin", NULL), IGTCLOUD_ECANCELLED);
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    assert_int_equal(r.status, IGTCLOUD_ECANCELLED);
    char upload_id[512];
    snprintf(upload_id, sizeof(upload_id), "%s", r.upload_id);
    assert_true(strlen(upload_id) > 0);
    igtcloud_transfer_free(t);
    int parts_before = th_log_count(&env, "\"UploadPart\"", "t6/resume.bin", "\"status\":200");
    assert_true(parts_before >= 2 && parts_before < 6);
    assert_int_equal(th_log_count(&env, "\"AbortMultipartUpload\"", "t6/resume.bin", NULL), 0);

    /* Resume: ListParts keeps what is there, only the missing parts are sent. */
    o.progress_cb = NULL;
    o.max_requests = 4;
    TH_PASS(run_upload(&t, &o, src, DEMO_PREFIX "t6/resume.bin", upload_id));
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    assert_string_equal(r.upload_id, upload_id);
    /*
     * The upload was created with CRC32C, which ListParts says: it goes on
     * with it (the sandbox checks each part checksum the completion lists).
     */
    igtcloud__engine_stats st;
    igtcloud__engine_get_stats(&st, t);
    assert_int_equal(st.uploads_resumed_with_crc32c, 1);
    igtcloud_transfer_free(t);
    assert_int_equal(th_log_count(&env, "\"ListParts\"", "t6/resume.bin", "\"status\":200"), 1);
    int parts_after = th_log_count(&env, "\"UploadPart\"", "t6/resume.bin", "\"status\":200");
    assert_int_equal(parts_after, 6);
    assert_int_equal(th_log_count(&env, "\"CreateMultipartUpload\"", "t6/resume.bin", NULL), 1);

    /* An upload id the server does not know restarts the upload cleanly. */
    th_put_file(&o, src, DEMO_PREFIX "t6/resume.bin", "no-such-upload");
    assert_int_equal(th_log_count(&env, "\"CreateMultipartUpload\"", "t6/resume.bin", NULL), 2);

    TH_PASS(th_run_download(&t, &o, DEMO_PREFIX "t6/resume.bin", dst, (int64_t)size));
    igtcloud_transfer_free(t);
    assert_true(th_same_file(src, dst));
}

/* Options with fixed credentials for loopback port 1: connection refused at once. */
static void dead_endpoint(igtcloud_s3_credentials *c, igtcloud_transfer_options *o)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->access_key, sizeof(c->access_key), "AK");
    snprintf(c->secret_key, sizeof(c->secret_key), "SK");
    snprintf(c->bucket, sizeof(c->bucket), "b");
    snprintf(c->endpoint, sizeof(c->endpoint), "http://127.0.0.1:1");
    igtcloud_transfer_options_init(o, IGTCLOUD_TRANSFER_OPTIONS_VERSION);
    o->credentials = c;
}

static void test_transfer__dead_server_ends_the_run_quickly(void **state)
{
    (void)state;
    enum { N = 40 };
    igtcloud_s3_credentials c;
    igtcloud_transfer_options o;
    dead_endpoint(&c, &o);
    o.backoff_base_ms = 100;
    o.backoff_cap_ms = 400;
    igtcloud_transfer *t = NULL;
    TH_PASS(igtcloud_transfer_new(&t, &o));
    for (int i = 0; i < N; i++) {
        char dst[512], key[64];
        snprintf(dst, sizeof(dst), "%s/dead-%d.out", env.dir, i);
        snprintf(key, sizeof(key), "k/%d", i);
        TH_PASS(igtcloud_transfer_add_download(t, key, dst, "k/", -1, NULL));
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(igtcloud_transfer_run(t), IGTCLOUD_EPARTIAL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    igtcloud__engine_stats st;
    igtcloud__engine_get_stats(&st, t);
    /* 500 tokens at 5 per retry: at most 100 retries for the whole run, not 10 per file. */
    assert_true(st.retries <= 100);
    assert_true(st.requests <= N + 100);
    assert_true(secs < 20.0);
    for (int i = 0; i < N; i++) {
        igtcloud_transfer_result r;
        TH_PASS(igtcloud_transfer_result_at(&r, t, (size_t)i));
        assert_int_equal(r.status, IGTCLOUD_ENET);
        assert_true(strlen(r.message) > 0);
    }
    igtcloud_transfer_free(t);
}

/*
 * An endpoint nobody answers at, with the default backoff: each request is
 * tried 3 times, not 10, so the run ends in seconds; the message names the
 * endpoint curl could not reach.
 */
static void test_transfer__unreachable_endpoint_fails_in_seconds(void **state)
{
    (void)state;
    igtcloud_s3_credentials c;
    igtcloud_transfer_options o;
    dead_endpoint(&c, &o);
    igtcloud_transfer *t = NULL;
    TH_PASS(igtcloud_transfer_new(&t, &o));
    char dst[512];
    th_path_in(&env, dst, sizeof(dst), "unreached.out");
    TH_PASS(igtcloud_transfer_add_download(t, "k/1", dst, "k/", 10, NULL));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(igtcloud_transfer_run(t), IGTCLOUD_EPARTIAL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(secs < 8.0); /* two backoffs of at most 1 and 2 s */
    igtcloud__engine_stats st;
    igtcloud__engine_get_stats(&st, t);
    assert_int_equal(st.requests, 3);
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    assert_int_equal(r.status, IGTCLOUD_ENET);
    assert_non_null(strstr(r.message, "127.0.0.1 port 1"));
    assert_non_null(strstr(r.message, "after 3 attempts"));
    igtcloud_transfer_free(t);
    assert_false(th_exists(dst));
}

/* The integrity header of a single PUT, as a server receives it. */
static void put_through_fake(char *request, size_t size, igtcloud_transfer_checksum checksum,
                             const char *src)
{
    static const char ok[] = "HTTP/1.1 200 OK\r\nETag: \"25f9e794323b453885f5181f1b624d0b\"\r\n"
                             "Content-Length: 0\r\nConnection: close\r\n\r\n";
    fake_server fs;
    assert_int_equal(fake_server_start(&fs, FAKE_RESPOND, ok), 0);
    static igtcloud_s3_credentials c;
    igtcloud_transfer_options o;
    fake_options(&o, &c, &fs);
    o.checksum = checksum;
    igtcloud_transfer *t = NULL;
    TH_PASS(igtcloud_transfer_new(&t, &o));
    TH_PASS(igtcloud_transfer_add_upload(t, src, "p/check.txt", "p/", NULL, NULL));
    TH_PASS(igtcloud_transfer_run(t));
    igtcloud_transfer_free(t);
    pthread_mutex_lock(&fs.lock);
    snprintf(request, size, "%s", fs.last_request);
    pthread_mutex_unlock(&fs.lock);
    fake_server_stop(&fs);
}

static void test_transfer__crc32c_checksum_replaces_content_md5(void **state)
{
    (void)state;
    char src[512], request[8192];
    th_path_in(&env, src, sizeof(src), "check.txt");
    FILE *f = fopen(src, "wb");
    assert_non_null(f);
    fputs("123456789", f);
    fclose(f);
    /* CRC32C("123456789") = 0xE3069283, MD5 = 25f9e794...; base64 as S3 wants them. */
    put_through_fake(request, sizeof(request), IGTCLOUD_CHECKSUM_CRC32C, src);
    assert_non_null(strstr(request, "\r\nx-amz-checksum-crc32c: 4waSgw==\r\n"));
    assert_null(strstr(request, "Content-MD5"));
    /* The header is signed. */
    assert_non_null(strstr(request, "x-amz-checksum-crc32c;"));
    put_through_fake(request, sizeof(request), IGTCLOUD_CHECKSUM_MD5, src);
    assert_non_null(strstr(request, "\r\nContent-MD5: JfnnlDI7RTiF9RgfG2JNCw==\r\n"));
    assert_null(strstr(request, "x-amz-checksum-crc32c"));

    igtcloud_transfer_options o;
    th_options(&o, &env);
    o.checksum = (igtcloud_transfer_checksum)7;
    igtcloud_transfer *t = NULL;
    assert_int_equal(igtcloud_transfer_new(&t, &o), IGTCLOUD_EINVALID);
    assert_null(t);
}

/* The sandbox checks x-amz-checksum-crc32c of each body: a wrong one fails the upload. */
static void test_transfer__crc32c_single_and_multipart_round_trip(void **state)
{
    (void)state;
    char small[512], big[512], small_out[512], big_out[512];
    th_path_in(&env, small, sizeof(small), "crc-small.bin");
    th_path_in(&env, big, sizeof(big), "crc-big.bin");
    th_path_in(&env, small_out, sizeof(small_out), "crc-small.out");
    th_path_in(&env, big_out, sizeof(big_out), "crc-big.out");
    const uint64_t size = 13 * MIB + 4321;
    assert_int_equal(th_make_file(small, 300001, 5), 0);
    assert_int_equal(th_make_file(big, size, 6), 0);
    igtcloud_transfer_options o;
    th_options(&o, &env);
    o.checksum = IGTCLOUD_CHECKSUM_CRC32C;
    o.multipart_threshold = 6 * MIB;
    o.part_size = 5 * MIB;
    igtcloud_transfer *t = NULL;
    TH_PASS(igtcloud_transfer_new(&t, &o));
    TH_PASS(igtcloud_transfer_add_upload(t, small, DEMO_PREFIX "crc/small.bin", DEMO_PREFIX, NULL, NULL));
    TH_PASS(igtcloud_transfer_add_upload(t, big, DEMO_PREFIX "crc/big.bin", DEMO_PREFIX, NULL, NULL));
    TH_PASS(igtcloud_transfer_run(t));
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 1));
    assert_non_null(strstr(r.etag, "-3"));
    igtcloud_transfer_free(t);
    assert_int_equal(th_log_count(&env, "\"UploadPart\"", "crc/big.bin", "\"status\":200"), 3);
    assert_int_equal(th_log_count(&env, "\"CompleteMultipartUpload\"", "crc/big.bin", "\"status\":200"), 1);
    assert_int_equal(th_log_count(&env, "\"PutObject\"", "crc/small.bin", "\"status\":200"), 1);

    TH_PASS(igtcloud_transfer_new(&t, &o));
    TH_PASS(igtcloud_transfer_add_download(t, DEMO_PREFIX "crc/small.bin", small_out, DEMO_PREFIX, 300001, NULL));
    TH_PASS(igtcloud_transfer_add_download(t, DEMO_PREFIX "crc/big.bin", big_out, DEMO_PREFIX, (int64_t)size, NULL));
    TH_PASS(igtcloud_transfer_run(t));
    igtcloud_transfer_free(t);
    assert_true(th_same_file(small, small_out));
    assert_true(th_same_file(big, big_out));
}

/* A planner that queues one download per call while the engine runs. */
typedef struct feed_state {
    int next, n, calls, calls_while_busy;
    char key[8][200], dst[8][300];
} feed_state;

static int feed_one(igtcloud_transfer *t, void *payload)
{
    feed_state *f = payload;
    f->calls++;
    igtcloud__engine_stats st;
    igtcloud__engine_get_stats(&st, t);
    if (st.requests > 0)
        f->calls_while_busy++;
    if (f->next >= f->n)
        return 0;
    TH_PASS(igtcloud_transfer_add_download(t, f->key[f->next], f->dst[f->next], DEMO_PREFIX, -1, NULL));
    f->next++;
    return 1;
}

static void test_transfer__feeder_queues_files_while_the_engine_runs(void **state)
{
    (void)state;
    static feed_state f;
    memset(&f, 0, sizeof(f));
    f.n = 8;
    char src[8][300];
    igtcloud_transfer_options o;
    th_options(&o, &env);
    o.max_requests = 2;
    igtcloud_transfer *up = NULL, *down = NULL;
    TH_PASS(igtcloud_transfer_new(&up, &o));
    for (int i = 0; i < f.n; i++) {
        snprintf(src[i], sizeof(src[i]), "%s/feed-%d.bin", env.dir, i);
        snprintf(f.dst[i], sizeof(f.dst[i]), "%s/feed-%d.out", env.dir, i);
        snprintf(f.key[i], sizeof(f.key[i]), DEMO_PREFIX "feed/%d.bin", i);
        assert_int_equal(th_make_file(src[i], 5000 + (uint64_t)i * 777, (uint32_t)i + 40), 0);
        TH_PASS(igtcloud_transfer_add_upload(up, src[i], f.key[i], DEMO_PREFIX, NULL, NULL));
    }
    TH_PASS(igtcloud_transfer_run(up));
    igtcloud_transfer_free(up);

    /* Nothing queued up front: every file comes from the feeder, some of them
     * while earlier ones are in flight (the job array grows during the run). */
    TH_PASS(igtcloud_transfer_new(&down, &o));
    igtcloud__transfer_set_feeder(down, feed_one, &f);
    TH_PASS(igtcloud_transfer_add_download(down, f.key[0], f.dst[0], DEMO_PREFIX, -1, NULL));
    f.next = 1;
    TH_PASS(igtcloud_transfer_run(down));
    assert_int_equal(igtcloud_transfer_count(down), f.n);
    assert_true(f.calls >= f.n - 1);
    assert_true(f.calls_while_busy > 0);
    for (int i = 0; i < f.n; i++) {
        igtcloud_transfer_result r;
        TH_PASS(igtcloud_transfer_result_at(&r, down, (size_t)i));
        assert_int_equal(r.status, 0);
        assert_true(th_same_file(src[i], f.dst[i]));
    }
    /* A second run asks the feeder again, and it has nothing more. */
    int calls = f.calls;
    TH_PASS(igtcloud_transfer_run(down));
    assert_int_equal(f.calls, calls + 1);
    igtcloud_transfer_free(down);
}

/*
 * Download "123456789" from a fake server answering with `headers` (lines
 * ending in CRLF); returns the file's status, its message in msg and the
 * request the server saw in request (when not NULL).
 */
static int get_from_fake(const char *headers, const char *dst, igtcloud__engine_stats *st,
                         char *msg, size_t msg_size, char *request, size_t request_size)
{
    static char answer[1024];
    snprintf(answer, sizeof(answer),
             "HTTP/1.1 200 OK\r\n%sContent-Length: 9\r\n"
             "Connection: close\r\n\r\n123456789", headers);
    fake_server fs;
    assert_int_equal(fake_server_start(&fs, FAKE_RESPOND, answer), 0);
    static igtcloud_s3_credentials c;
    igtcloud_transfer_options o;
    fake_options(&o, &c, &fs);
    igtcloud_transfer *t = NULL;
    TH_PASS(igtcloud_transfer_new(&t, &o));
    TH_PASS(igtcloud_transfer_add_download(t, "p/check.txt", dst, "p/", 9, NULL));
    igtcloud_transfer_run(t);
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    igtcloud__engine_get_stats(st, t);
    snprintf(msg, msg_size, "%s", r.message);
    igtcloud_transfer_free(t);
    if (request) {
        pthread_mutex_lock(&fs.lock);
        snprintf(request, request_size, "%s", fs.last_request);
        pthread_mutex_unlock(&fs.lock);
    }
    fake_server_stop(&fs);
    return r.status;
}

/* The same with only an ETag; a failure must name the MD5. */
static int get_through_fake(const char *etag, const char *dst, igtcloud__engine_stats *st)
{
    char headers[128], msg[400];
    snprintf(headers, sizeof(headers), "ETag: \"%s\"\r\n", etag);
    int status = get_from_fake(headers, dst, st, msg, sizeof(msg), NULL, 0);
    if (status)
        assert_non_null(strstr(msg, "MD5"));
    return status;
}

/*
 * A whole GET asks for the object's checksum (x-amz-checksum-mode); a full
 * CRC32C in the answer is checked as the bytes arrive, instead of the MD5
 * (no worker reads the file back); a wrong one fails the file; a composite
 * one (multipart, "-N") leaves the check to the MD5.
 */
static void test_transfer__download_checked_by_the_object_crc32c(void **state)
{
    (void)state;
    char dst[512], msg[400], request[8192];
    igtcloud__engine_stats st;
    /* CRC32C("123456789") = 0xE3069283, the Castagnoli check value. */
    const char *good = "ETag: \"25f9e794323b453885f5181f1b624d0b\"\r\n"
                       "x-amz-checksum-crc32c: 4waSgw==\r\n";
    th_path_in(&env, dst, sizeof(dst), "crc-good.out");
    assert_int_equal(get_from_fake(good, dst, &st, msg, sizeof(msg), request, sizeof(request)), 0);
    assert_non_null(strstr(request, "x-amz-checksum-mode: ENABLED"));
    assert_int_equal(st.verified_by_crc32c, 1);
    assert_int_equal(st.verified_by_workers, 0);
    assert_true(th_exists(dst));

    const char *bad = "ETag: \"25f9e794323b453885f5181f1b624d0b\"\r\n"
                      "x-amz-checksum-crc32c: 4waSgA==\r\n";
    th_path_in(&env, dst, sizeof(dst), "crc-bad.out");
    assert_int_equal(get_from_fake(bad, dst, &st, msg, sizeof(msg), NULL, 0), IGTCLOUD_EPROTO);
    assert_non_null(strstr(msg, "CRC32C"));
    assert_false(th_exists(dst));
    assert_false(side_exists("crc-bad.out", IGTCLOUD__ENGINE_PART_SUFFIX));

    const char *composite = "ETag: \"25f9e794323b453885f5181f1b624d0b\"\r\n"
                            "x-amz-checksum-crc32c: 4waSgA==-2\r\n";
    th_path_in(&env, dst, sizeof(dst), "crc-composite.out");
    assert_int_equal(get_from_fake(composite, dst, &st, msg, sizeof(msg), NULL, 0), 0);
    assert_int_equal(st.verified_by_crc32c, 0);
    assert_int_equal(st.verified_by_workers, 1);
}

static void test_transfer__download_md5_checked_by_a_worker(void **state)
{
    (void)state;
    char good[512], bad[512];
    th_path_in(&env, good, sizeof(good), "md5-good.out");
    th_path_in(&env, bad, sizeof(bad), "md5-bad.out");
    igtcloud__engine_stats st;
    assert_int_equal(get_through_fake("25f9e794323b453885f5181f1b624d0b", good, &st), 0);
    assert_int_equal(st.verified_by_workers, 1);
    assert_true(th_exists(good));
    assert_int_equal(get_through_fake("25f9e794323b453885f5181f1b624d0c", bad, &st), IGTCLOUD_EPROTO);
    assert_int_equal(st.verified_by_workers, 1);
    assert_false(th_exists(bad));
    assert_false(side_exists("md5-bad.out", IGTCLOUD__ENGINE_PART_SUFFIX));
}

/*
 * MD5 work waiting for the workers is hashed side by side (core/md5.h):
 * Content-MD5 of upload bodies (the sandbox checks each one) and the checks
 * of downloads against their ETags, which still catch a corrupted object.
 */
static void test_transfer__md5_work_hashed_side_by_side(void **state)
{
    (void)state;
    enum { N = 40, BAD = 3 };
    igtcloud_transfer_options o;
    th_options(&o, &env);
    o.max_requests = 16;
    o.checksum = IGTCLOUD_CHECKSUM_MD5;
    o.max_attempts = 2;
    igtcloud_transfer *up = NULL, *down = NULL;
    TH_PASS(igtcloud_transfer_new(&up, &o));
    TH_PASS(igtcloud_transfer_new(&down, &o));
    char src[N][300], dst[N][300], key[N][200];
    int64_t size[N];
    for (int i = 0; i < N; i++) {
        snprintf(src[i], sizeof(src[i]), "%s/lanes-%d.bin", env.dir, i);
        snprintf(dst[i], sizeof(dst[i]), "%s/lanes-%d.out", env.dir, i);
        snprintf(key[i], sizeof(key[i]), DEMO_PREFIX "t11/lanes-%d.bin", i);
        /* Sizes around block and lane-buffer boundaries, up to 300 KiB. */
        size[i] = (int64_t)(i * 7919 % 300000) + (i % 5 == 0 ? 64 : i % 5);
        assert_int_equal(th_make_file(src[i], (uint64_t)size[i], (uint32_t)i + 70), 0);
        TH_PASS(igtcloud_transfer_add_upload(up, src[i], key[i], DEMO_PREFIX, NULL, NULL));
        TH_PASS(igtcloud_transfer_add_download(down, key[i], dst[i], DEMO_PREFIX, size[i], NULL));
    }
    TH_PASS(igtcloud_transfer_run(up));
    igtcloud__engine_stats st;
    igtcloud__engine_get_stats(&st, up);
    assert_int_equal(st.bodies_hashed_by_workers, N);
    /* 16 bodies are handed over at once as the run starts: workers batch them. */
    if (igtcloud__md5_lanes() > 1)
        assert_true(st.md5_side_by_side > 0);
    else
        assert_int_equal(st.md5_side_by_side, 0);
    /*
     * Corrupt one byte of a few stored objects, keeping their times: the
     * sandbox keeps the ETag of a file it finds unchanged (size, mtime, inode).
     */
    for (int i = 0; i < BAD; i++)
        assert_int_equal(test_rot_stored_byte(env.sb.data_dir, key[i * 13], (long)(size[i * 13] / 2)), 0);
    assert_int_equal(igtcloud_transfer_run(down), IGTCLOUD_EPARTIAL);
    for (int i = 0; i < N; i++) {
        igtcloud_transfer_result r;
        TH_PASS(igtcloud_transfer_result_at(&r, down, (size_t)i));
        if (i % 13 == 0 && i / 13 < BAD) {
            assert_int_equal(r.status, IGTCLOUD_EPROTO);
            assert_false(th_exists(dst[i]));
        } else {
            assert_int_equal(r.status, 0);
            assert_true(th_same_file(src[i], dst[i]));
        }
    }
    igtcloud__engine_get_stats(&st, down);
    assert_true(st.verified_by_workers >= N);
    igtcloud_transfer_free(up);
    igtcloud_transfer_free(down);
}

/*
 * A large single-part object (MD5 ETag) downloaded in ranges: workers hash
 * the in-order prefix while later ranges arrive, and the final check still
 * catches a corrupted byte early in the object.
 */
static void test_transfer__ranged_download_hashes_prefix_while_ranges_arrive(void **state)
{
    (void)state;
    char src[512], dst[512], bad[512];
    th_path_in(&env, src, sizeof(src), "prefix.bin");
    th_path_in(&env, dst, sizeof(dst), "prefix.out");
    th_path_in(&env, bad, sizeof(bad), "prefix-bad.out");
    const uint64_t size = 9 * MIB + 4321;
    assert_int_equal(th_make_file(src, size, 5), 0);

    igtcloud_transfer_options o;
    th_options(&o, &env);
    o.range_size = 1 * MIB;
    o.range_threshold = 1 * MIB;
    o.max_requests = 3;
    igtcloud_transfer *t = NULL;
    th_put_file(&o, src, DEMO_PREFIX "t9/prefix.bin", NULL);

    igtcloud__engine_stats st;
    TH_PASS(th_run_download(&t, &o, DEMO_PREFIX "t9/prefix.bin", dst, (int64_t)size));
    igtcloud__engine_get_stats(&st, t);
    igtcloud_transfer_free(t);
    assert_true(th_same_file(src, dst));
    /* Ranges arrive over time: more than one prefix was handed to the workers. */
    assert_true(st.prefix_hashes >= 2);

    /*
     * One byte in the second range rots on the server's disk. The sandbox
     * keeps the ETag of an object whose size and mtime did not change.
     */
    assert_int_equal(test_rot_stored_byte(env.sb.data_dir, DEMO_PREFIX "t9/prefix.bin", (long)(MIB + 17)), 0);

    assert_int_equal(th_run_download(&t, &o, DEMO_PREFIX "t9/prefix.bin", bad, (int64_t)size),
                     IGTCLOUD_EPARTIAL);
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    assert_int_equal(r.status, IGTCLOUD_EPROTO);
    assert_non_null(strstr(r.message, "MD5"));
    igtcloud_transfer_free(t);
    assert_false(th_exists(bad));
    assert_false(side_exists("prefix-bad.out", IGTCLOUD__ENGINE_PART_SUFFIX));
}

/* Options for a 15 MiB object in parts of 5 MiB, fetched in ranges of 3 MiB that cross them. */
static void multipart_options(igtcloud_transfer_options *o)
{
    th_options(o, &env);
    o->multipart_threshold = 6 * MIB;
    o->part_size = 5 * MIB;
    o->range_threshold = 3 * MIB;
    o->range_size = 3 * MIB;
    o->max_requests = 4;
}

/* A multipart-check test's files: STEM.bin of size bytes, and where it is downloaded to. */
typedef struct check_files {
    char src[512], dst[512], whole[512], bad[512];
} check_files;

static void check_files_make(check_files *f, const char *stem, uint64_t size, uint32_t seed)
{
    char name[64];
    snprintf(name, sizeof(name), "%s.bin", stem);
    th_path_in(&env, f->src, sizeof(f->src), name);
    snprintf(name, sizeof(name), "%s.out", stem);
    th_path_in(&env, f->dst, sizeof(f->dst), name);
    snprintf(name, sizeof(name), "%s-whole.out", stem);
    th_path_in(&env, f->whole, sizeof(f->whole), name);
    snprintf(name, sizeof(name), "%s-bad.out", stem);
    th_path_in(&env, f->bad, sizeof(f->bad), name);
    assert_int_equal(th_make_file(f->src, size, seed), 0);
}

/* Download key to dst, which must then hold src's bytes; returns the run's statistics. */
static igtcloud__engine_stats download_same(const igtcloud_transfer_options *o, const char *key,
                                            const char *src, const char *dst, uint64_t size)
{
    igtcloud_transfer *t = NULL;
    igtcloud__engine_stats st;
    TH_PASS(th_run_download(&t, o, key, dst, (int64_t)size));
    igtcloud__engine_get_stats(&st, t);
    igtcloud_transfer_free(t);
    assert_true(th_same_file(src, dst));
    return st;
}

/*
 * With verify_multipart, a multipart object (ETag "<md5 of the parts'
 * MD5s>-4") without a CRC32C checksum (uploaded with Content-MD5 only) is
 * checked part by part: part 1's HEAD gives the part size, and
 * the in-order hashing ends a part's digest at each part boundary, which the
 * 3 MiB ranges cross. Both when fetched in ranges and in one GET; and a byte
 * rotten on the server's disk fails the download, with no file left under
 * its name. Without it (the default, and for callers of options version 1,
 * whatever lies past their struct) the object is checked by its size.
 */
static void test_transfer__multipart_download_checked_part_by_part(void **state)
{
    (void)state;
    const char *key = DEMO_PREFIX "t20/parts.bin";
    const uint64_t size = 15 * MIB + 12345; /* parts of 5 MiB: 5, 5, 5 and 12345 bytes */
    check_files f;
    check_files_make(&f, "parts", size, 20);
    igtcloud_transfer_options o;
    multipart_options(&o);
    o.checksum = IGTCLOUD_CHECKSUM_MD5; /* the object gets no CRC32C to be checked by */
    th_put_file(&o, f.src, key, NULL);
    o.checksum = IGTCLOUD_CHECKSUM_CRC32C;
    o.verify_multipart = 1;
    int heads_before = th_log_count(&env, "\"method\":\"HEAD\"", "\"range\":\"part 1\"", "t20/parts.bin");

    igtcloud_transfer *t = NULL;
    igtcloud__engine_stats st;
    st = download_same(&o, key, f.src, f.dst, size);
    assert_int_equal(st.verified_by_parts, 1);
    assert_int_equal(st.parts_unverified, 0);
    assert_true(st.prefix_hashes >= 4); /* a piece per part at least */
    assert_int_equal(th_log_count(&env, "\"method\":\"HEAD\"", "\"range\":\"part 1\"", "t20/parts.bin"),
                     heads_before + 1);

    /* In one GET (below the range threshold): checked the same way once it is in. */
    igtcloud_transfer_options one = o;
    one.range_threshold = 64 * MIB;
    st = download_same(&one, key, f.src, f.whole, size);
    assert_int_equal(st.verified_by_parts, 1);

    /* A byte of part 3 rots on the server's disk: the parts' MD5s no longer make the ETag. */
    assert_int_equal(test_rot_stored_byte(env.sb.data_dir, key, (long)(10 * MIB + 77)), 0);
    assert_int_equal(th_run_download(&t, &o, key, f.bad, (int64_t)size), IGTCLOUD_EPARTIAL);
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    assert_int_equal(r.status, IGTCLOUD_EPROTO);
    assert_non_null(strstr(r.message, "multipart ETag"));
    igtcloud__engine_get_stats(&st, t);
    assert_int_equal(st.verified_by_parts, 0);
    igtcloud_transfer_free(t);
    assert_false(th_exists(f.bad));
    assert_false(side_exists("parts-bad.out", IGTCLOUD__ENGINE_PART_SUFFIX));

    /* Not asked for: checked by its size, no HEAD sent (the rotten byte goes unseen). */
    int heads = th_log_count(&env, "\"method\":\"HEAD\"", "\"range\":\"part 1\"", "t20/parts.bin");
    igtcloud_transfer_options v1;
    memset(&v1, 0x5a, sizeof(v1)); /* past a version 1 struct: whatever the caller has there */
    assert_int_equal(igtcloud_transfer_options_init(&v1, 1), 0);
    assert_int_equal(v1.version, 1);
    assert_int_equal(v1.verify_multipart, 0x5a5a5a5a);
    igtcloud_transfer_options plain = o;
    plain.verify_multipart = 0;
    for (int old = 0; old < 2; old++) {
        igtcloud_transfer_options use = plain;
        if (old) {
            use.version = 1;
            use.verify_multipart = 0x5a5a5a5a;
        }
        assert_int_equal(unlink(f.dst), 0);
        TH_PASS(th_run_download(&t, &use, key, f.dst, (int64_t)size));
        igtcloud__engine_get_stats(&st, t);
        igtcloud_transfer_free(t);
        assert_int_equal(st.verified_by_parts, 0);
        assert_int_equal(st.parts_unverified, 0);
    }
    assert_int_equal(th_log_count(&env, "\"method\":\"HEAD\"", "\"range\":\"part 1\"", "t20/parts.bin"),
                     heads);
    assert_int_equal(igtcloud_transfer_options_init(&v1, 3), IGTCLOUD_EINVALID);
}

/* HEADs of key in the sandbox's log: all of them, and those of part 1. */
static void count_heads(const char *key, int *all, int *part1)
{
    *all = th_log_count(&env, "\"method\":\"HEAD\"", key, NULL);
    *part1 = th_log_count(&env, "\"method\":\"HEAD\"", "\"range\":\"part 1\"", key);
}

/*
 * By default, a multipart object uploaded with CRC32C checksums of the
 * COMPOSITE type (as other clients leave them; the engine's own uploads are
 * FULL_OBJECT) is checked against its composite checksum: the CRC32C
 * of each part, summed from the bytes as they arrive in 3 MiB ranges that
 * cross the 5 MiB part boundaries, then of those. One HEAD asks for the
 * checksum a ranged GET does not carry, one for the part size; nothing is
 * read back or hashed by MD5. In one GET the checksum comes with the body.
 * With verify_multipart too, the CRC32C check is the one made (the MD5
 * would cost far more for nothing more). A byte rotten on the server's disk
 * fails the download with no file left; so does one in the last, short part.
 */
static void test_transfer__multipart_download_checked_by_part_crcs(void **state)
{
    (void)state;
    const char *key = DEMO_PREFIX "t21/crcparts.bin";
    char md5[512];
    th_path_in(&env, md5, sizeof(md5), "crcparts-md5.out");
    const uint64_t size = 15 * MIB + 12345; /* parts of 5 MiB: 5, 5, 5 and 12345 bytes */
    check_files f;
    check_files_make(&f, "crcparts", size, 21);
    igtcloud_transfer_options o;
    multipart_options(&o);
    igtcloud__engine_composite_uploads = 1;
    th_put_file(&o, f.src, key, NULL);
    igtcloud__engine_composite_uploads = 0;
    int heads0, part0, heads1, part1;
    count_heads("t21/crcparts.bin", &heads0, &part0);

    igtcloud_transfer *t = NULL;
    igtcloud__engine_stats st;
    st = download_same(&o, key, f.src, f.dst, size);
    assert_int_equal(st.verified_by_part_crcs, 1);
    assert_int_equal(st.verified_by_parts, 0);
    assert_int_equal(st.parts_unverified, 0);
    assert_int_equal(st.prefix_hashes, 0);
    assert_int_equal(st.verified_by_workers, 0);
    count_heads("t21/crcparts.bin", &heads1, &part1);
    assert_int_equal(part1 - part0, 1);
    assert_int_equal(heads1 - heads0, 2); /* part 1's, and the checksum's */

    /* In one GET: the checksum comes with it; only the part size is asked for. */
    igtcloud_transfer_options one = o;
    one.range_threshold = 64 * MIB;
    st = download_same(&one, key, f.src, f.whole, size);
    assert_int_equal(st.verified_by_part_crcs, 1);
    count_heads("t21/crcparts.bin", &heads0, &part0);
    assert_int_equal(heads0 - heads1, 1);
    assert_int_equal(part0 - part1, 1);

    /* verify_multipart asks for a check: the CRC32C one is made, not the MD5. */
    igtcloud_transfer_options strict = o;
    strict.verify_multipart = 1;
    TH_PASS(th_run_download(&t, &strict, key, md5, (int64_t)size));
    igtcloud__engine_get_stats(&st, t);
    igtcloud_transfer_free(t);
    assert_true(th_same_file(f.src, md5));
    assert_int_equal(st.verified_by_part_crcs, 1);
    assert_int_equal(st.verified_by_parts, 0);
    assert_int_equal(st.prefix_hashes, 0);

    /* A rotten byte in part 2, then one in the short last part: the check fails, nothing is left. */
    const long rot_at[2] = { (long)(5 * MIB + 4096), (long)(15 * MIB + 100) };
    for (int i = 0; i < 2; i++) {
        assert_int_equal(test_rot_stored_byte(env.sb.data_dir, key, rot_at[i]), 0);
        assert_int_equal(th_run_download(&t, i ? &one : &o, key, f.bad, (int64_t)size), IGTCLOUD_EPARTIAL);
        igtcloud_transfer_result r;
        TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
        assert_int_equal(r.status, IGTCLOUD_EPROTO);
        assert_non_null(strstr(r.message, "composite checksum"));
        igtcloud__engine_get_stats(&st, t);
        assert_int_equal(st.verified_by_part_crcs, 0);
        igtcloud_transfer_free(t);
        assert_false(th_exists(f.bad));
        assert_false(side_exists("crcparts-bad.out", IGTCLOUD__ENGINE_PART_SUFFIX));
        assert_false(side_exists("crcparts-bad.out", IGTCLOUD__ENGINE_JOURNAL_SUFFIX));
        assert_int_equal(test_rot_stored_byte(env.sb.data_dir, key, rot_at[i]), 0); /* back */
    }
}

/*
 * The engine's multipart uploads carry a FULL_OBJECT CRC32C, as AWS SDKs
 * ask for: the Complete names the whole object's CRC32C, joined from the
 * parts', and the server checks it. A ranged download then needs one HEAD,
 * for the checksum, and none for the part size; one GET needs none. A
 * rotten byte on the server's disk fails the download, with nothing left.
 */
static void test_transfer__multipart_upload_names_its_full_object_crc32c(void **state)
{
    (void)state;
    const char *key = DEMO_PREFIX "t22/full.bin";
    const uint64_t size = 15 * MIB + 4321; /* parts of 5 MiB: 5, 5, 5 and 4321 bytes */
    check_files f;
    check_files_make(&f, "fullcrc", size, 22);
    igtcloud_transfer_options o;
    multipart_options(&o);
    th_put_file(&o, f.src, key, NULL);
    assert_int_equal(th_log_count(&env, "\"operation\":\"CompleteMultipartUpload\"", "\"status\":200", "t22/full.bin"), 1);
    int heads0, part0, heads1, part1;
    count_heads("t22/full.bin", &heads0, &part0);

    igtcloud_transfer *t = NULL;
    igtcloud__engine_stats st;
    st = download_same(&o, key, f.src, f.dst, size);
    assert_int_equal(st.verified_by_crc32c, 1);
    assert_int_equal(st.verified_by_part_crcs, 0);
    assert_int_equal(st.verified_by_parts, 0);
    assert_int_equal(st.prefix_hashes, 0);
    count_heads("t22/full.bin", &heads1, &part1);
    assert_int_equal(heads1 - heads0, 1); /* the checksum's */
    assert_int_equal(part1 - part0, 0);   /* no part size needed */

    igtcloud_transfer_options one = o;
    one.range_threshold = 64 * MIB;
    st = download_same(&one, key, f.src, f.whole, size);
    assert_int_equal(st.verified_by_crc32c, 1);
    count_heads("t22/full.bin", &heads0, &part0);
    assert_int_equal(heads0 - heads1, 0);

    const long rot_at = (long)(10 * MIB + 77);
    assert_int_equal(test_rot_stored_byte(env.sb.data_dir, key, rot_at), 0);
    assert_int_equal(th_run_download(&t, &o, key, f.bad, (int64_t)size), IGTCLOUD_EPARTIAL);
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    assert_int_equal(r.status, IGTCLOUD_EPROTO);
    assert_non_null(strstr(r.message, "CRC32C of the data differs from the object's checksum"));
    igtcloud_transfer_free(t);
    assert_false(th_exists(f.bad));
    assert_false(side_exists("fullcrc-bad.out", IGTCLOUD__ENGINE_PART_SUFFIX));
    assert_false(side_exists("fullcrc-bad.out", IGTCLOUD__ENGINE_JOURNAL_SUFFIX));
    assert_int_equal(test_rot_stored_byte(env.sb.data_dir, key, rot_at), 0); /* back */
}

/*
 * Lanes that hash take in MD5 work queued while they run: the prefixes of
 * several ranged downloads arrive one at a time, at different moments, and
 * join the lanes already hashing others instead of waiting for them or
 * running alone. Every file is still checked whole: a corrupted object among
 * them fails, and only it.
 */
static void test_transfer__md5_lanes_take_in_work_queued_while_hashing(void **state)
{
    (void)state;
    enum { N = 4, BAD = 2 };
    const uint64_t size = 4 * MIB + 777;
    igtcloud_transfer_options o;
    th_options(&o, &env);
    o.range_size = 1 * MIB;
    o.range_threshold = 1 * MIB;
    o.max_requests = 8;
    o.max_attempts = 2;
    char src[N][512], dst[N][512], key[N][200];
    for (int i = 0; i < N; i++) {
        char name[64];
        snprintf(name, sizeof(name), "joined-%d.bin", i);
        th_path_in(&env, src[i], sizeof(src[i]), name);
        snprintf(name, sizeof(name), "joined-%d.out", i);
        th_path_in(&env, dst[i], sizeof(dst[i]), name);
        snprintf(key[i], sizeof(key[i]), DEMO_PREFIX "t13/joined-%d.bin", i);
        assert_int_equal(th_make_file(src[i], size + (uint64_t)i * 4099, (uint32_t)i + 90), 0);
        th_put_file(&o, src[i], key[i], NULL);
    }
    /* Slow lanes (2 ms a 64 KiB round): other files' prefixes surely queue meanwhile. */
    igtcloud__engine_md5_round_delay_us = 2000;
    igtcloud_transfer *t = NULL;
    TH_PASS(igtcloud_transfer_new(&t, &o));
    for (int i = 0; i < N; i++)
        TH_PASS(igtcloud_transfer_add_download(t, key[i], dst[i], DEMO_PREFIX,
                                               (int64_t)(size + (uint64_t)i * 4099), NULL));
    TH_PASS(igtcloud_transfer_run(t));
    igtcloud__engine_stats st;
    igtcloud__engine_get_stats(&st, t);
    igtcloud_transfer_free(t);
    for (int i = 0; i < N; i++)
        assert_true(th_same_file(src[i], dst[i]));
    /* Prefixes reach each file's end as its last range is in: the loop only compares. */
    assert_true(st.prefix_hashes >= N);
    if (igtcloud__md5_lanes() > 1) {
        assert_true(st.md5_joined_running > 0);
        assert_true(st.md5_side_by_side > 0);
    } else {
        assert_int_equal(st.md5_joined_running, 0);
    }

    /* One byte of one object rots on the server's disk, its times kept. */
    char object[700];
    snprintf(object, sizeof(object), "%s/objects/%s", env.sb.data_dir, key[BAD]);
    struct stat before;
    assert_int_equal(stat(object, &before), 0);
    FILE *f = fopen(object, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)(2 * MIB + 5), SEEK_SET), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, (long)(2 * MIB + 5), SEEK_SET), 0);
    fputc(c ^ 0x33, f);
    fclose(f);
    const struct timespec times[2] = { before.st_atim, before.st_mtim };
    assert_int_equal(utimensat(AT_FDCWD, object, times, 0), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(unlink(dst[i]), 0);

    TH_PASS(igtcloud_transfer_new(&t, &o));
    for (int i = 0; i < N; i++)
        TH_PASS(igtcloud_transfer_add_download(t, key[i], dst[i], DEMO_PREFIX,
                                               (int64_t)(size + (uint64_t)i * 4099), NULL));
    assert_int_equal(igtcloud_transfer_run(t), IGTCLOUD_EPARTIAL);
    for (int i = 0; i < N; i++) {
        igtcloud_transfer_result r;
        TH_PASS(igtcloud_transfer_result_at(&r, t, (size_t)i));
        if (i == BAD) {
            assert_int_equal(r.status, IGTCLOUD_EPROTO);
            assert_non_null(strstr(r.message, "MD5"));
        } else {
            assert_int_equal(r.status, 0);
        }
    }
    igtcloud_transfer_free(t);
    igtcloud__engine_md5_round_delay_us = 0;
    for (int i = 0; i < N; i++) {
        if (i == BAD) {
            assert_false(th_exists(dst[i]));
        } else {
            assert_true(th_same_file(src[i], dst[i]));
        }
    }
}

struct created {
    int calls;
    char upload_id[512];
    int parts_seen;   /* UploadPart requests in the sandbox's log when it was called */
};

static int on_created(const igtcloud_transfer_result *r, void *payload)
{
    struct created *c = payload;
    c->calls++;
    snprintf(c->upload_id, sizeof(c->upload_id), "%s", r->upload_id);
    c->parts_seen = th_log_count(&env, "\"UploadPart\"", "t10/created.bin", NULL);
    return 1; /* a crash right after: nothing of the upload but its id was sent */
}

/*
 * The multipart callback hands the upload id over before any part is sent,
 * and an upload nobody will resume can be aborted; a second abort finds it
 * gone and is not an error.
 */
static void test_transfer__multipart_created_callback_then_abort(void **state)
{
    (void)state;
    char src[512];
    th_path_in(&env, src, sizeof(src), "created.bin");
    assert_int_equal(th_make_file(src, 13 * MIB, 6), 0);
    igtcloud_transfer_options o;
    th_options(&o, &env);
    o.multipart_threshold = 6 * MIB;
    o.part_size = 5 * MIB;
    igtcloud_transfer *t = NULL;
    TH_PASS(igtcloud_transfer_new(&t, &o));
    struct created c = { 0 };
    igtcloud_transfer_on_multipart_created(t, on_created, &c);
    TH_PASS(igtcloud_transfer_add_upload(t, src, DEMO_PREFIX "t10/created.bin", DEMO_PREFIX, NULL, NULL));
    assert_int_equal(igtcloud_transfer_run(t), IGTCLOUD_ECANCELLED);
    assert_int_equal(c.calls, 1);
    assert_true(strlen(c.upload_id) > 0);
    assert_int_equal(c.parts_seen, 0);
    assert_int_equal(th_log_count(&env, "\"UploadPart\"", "t10/created.bin", NULL), 0);

    TH_PASS(igtcloud_transfer_abort_upload(t, DEMO_PREFIX "t10/created.bin", DEMO_PREFIX, c.upload_id));
    assert_int_equal(th_log_count(&env, "\"AbortMultipartUpload\"", "t10/created.bin", "\"status\":204"), 1);
    TH_PASS(igtcloud_transfer_abort_upload(t, DEMO_PREFIX "t10/created.bin", DEMO_PREFIX, c.upload_id));
    assert_int_equal(th_log_count(&env, "\"AbortMultipartUpload\"", "t10/created.bin", "\"status\":404"), 1);
    assert_int_equal(igtcloud_transfer_abort_upload(t, DEMO_PREFIX "t10/created.bin", DEMO_PREFIX, ""),
                     IGTCLOUD_EINVALID);
    igtcloud_transfer_free(t);

    /* Resuming the aborted id restarts the upload cleanly. */
    th_put_file(&o, src, DEMO_PREFIX "t10/created.bin", c.upload_id);
    assert_int_equal(th_log_count(&env, "\"CreateMultipartUpload\"", "t10/created.bin", NULL), 2);
}

/* Write `size` bytes at path: src's bytes before `keep`, zeros after. */
static void write_partial(const char *path, const char *src, uint64_t size, uint64_t keep)
{
    FILE *in = fopen(src, "rb"), *out = fopen(path, "wb");
    assert_non_null(in);
    assert_non_null(out);
    static unsigned char block[64 * 1024];
    for (uint64_t pos = 0; pos < size;) {
        size_t n = size - pos < sizeof(block) ? (size_t)(size - pos) : sizeof(block);
        assert_int_equal(fread(block, 1, n, in), n);
        if (pos >= keep)
            memset(block, 0, n);
        else if (pos + n > keep)
            memset(block + (keep - pos), 0, (size_t)(pos + n - keep));
        assert_int_equal(fwrite(block, 1, n, out), n);
        pos += n;
    }
    fclose(in);
    fclose(out);
}

/*
 * A multipart object (12 MiB + 5 in 5 MiB parts) to download in 1 MiB
 * ranges, and the local paths a resumed download of it uses.
 */
typedef struct resume_case {
    char src[512], dst[600], tmp[600], journal[600];
    char key[128];
    char etag[128];
    uint64_t size;
    igtcloud_transfer_options o;
} resume_case;

static void resume_case_upload(resume_case *c, const char *name)
{
    th_path_in(&env, c->src, sizeof(c->src), name);
    snprintf(c->dst, sizeof(c->dst), "%s.out", c->src);
    snprintf(c->tmp, sizeof(c->tmp), "%s/.%s.out" IGTCLOUD__ENGINE_PART_SUFFIX, env.dir, name);
    snprintf(c->journal, sizeof(c->journal), "%s/.%s.out" IGTCLOUD__ENGINE_JOURNAL_SUFFIX, env.dir, name);
    snprintf(c->key, sizeof(c->key), DEMO_PREFIX "resume/%s", name);
    c->size = 12 * MIB + 5;
    assert_int_equal(th_make_file(c->src, c->size, 8), 0);
    multipart_options(&c->o);
    c->o.range_size = 1 * MIB;
    c->o.range_threshold = 1 * MIB;
    igtcloud_transfer *t = NULL;
    TH_PASS(run_upload(&t, &c->o, c->src, c->key, NULL));
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    snprintf(c->etag, sizeof(c->etag), "%s", r.etag);
    assert_non_null(strchr(c->etag, '-')); /* multipart: no MD5 to check the whole */
    igtcloud_transfer_free(t);
}

/*
 * What a killed run leaves: a journal from `boot` saying ranges 0 to
 * done_ranges - 1 are done, and a temporary file holding the first
 * kept_ranges MiB of src, zeros after.
 */
static void resume_case_leave(const resume_case *c, uint32_t done_ranges, uint32_t kept_ranges,
                              const char *boot)
{
    write_partial(c->tmp, c->src, c->size, (uint64_t)kept_ranges * MIB);
    FILE *f = fopen(c->journal, "wb");
    assert_non_null(f);
    fprintf(f, "igtcloud-journal 1\nsize=%llu range=%u etag=%s modified=0 boot=%s\n",
            (unsigned long long)c->size, (unsigned)MIB, c->etag, boot);
    for (uint32_t i = 0; i < done_ranges; i++)
        fprintf(f, "done %u\n", i);
    fclose(f);
}

/* The outcome of one download: the run's code, the file's status and message, the engine's stats. */
typedef struct resume_outcome {
    int rc;
    int status;
    char message[512];
    igtcloud__engine_stats st;
} resume_outcome;

/* Download the case's object into dst, resuming what is left. */
static resume_outcome resume_case_download(const resume_case *c)
{
    resume_outcome out;
    igtcloud_transfer *t = NULL;
    out.rc = th_run_download(&t, &c->o, c->key, c->dst, (int64_t)c->size);
    igtcloud__engine_get_stats(&out.st, t);
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    out.status = r.status;
    snprintf(out.message, sizeof(out.message), "%s", r.message ? r.message : "");
    igtcloud_transfer_free(t);
    return out;
}

/*
 * A journal stamped with this boot's id is trusted without any sync: a
 * killed process loses nothing the kernel holds. The same journal from
 * another boot is not: after a crash its ranges may be zeros on disk, and a
 * multipart object has no MD5 to catch that.
 */
static void test_transfer__journal_of_another_boot_is_not_trusted(void **state)
{
    (void)state;
    resume_case c;
    resume_case_upload(&c, "boot.bin");
    char this_boot[IGTCLOUD__JOURNAL_BOOT_MAX + 1], other_boot[IGTCLOUD__JOURNAL_BOOT_MAX + 1];
    igtcloud__journal_boot_id(this_boot);
    assert_int_equal(strlen(this_boot), 36);
    snprintf(other_boot, sizeof(other_boot), "%s", this_boot);
    other_boot[0] = other_boot[0] == '0' ? '1' : '0';
    for (int round = 0; round < 2; round++) {
        /* Ranges 0-3 journaled as done; in the other boot's, the file holds zeros. */
        resume_case_leave(&c, 4, round == 0 ? 4 : 0, round == 0 ? this_boot : other_boot);
        resume_outcome got = resume_case_download(&c);
        TH_PASS(got.rc);
        assert_true(th_same_file(c.src, c.dst));
        assert_false(th_exists(c.journal));
        assert_int_equal(got.st.ranges_resumed, round == 0 ? 4 : 0);
        unlink(c.dst);
    }
}

/*
 * The ranges a resumed download finds on disk were never seen by this run:
 * workers read them back for the CRC32C check while the rest arrives (the
 * loop used to, at the end, holding up every other transfer), and a byte
 * that rotted there since fails the check.
 */
static void test_transfer__resumed_ranges_read_back_by_workers(void **state)
{
    (void)state;
    resume_case c;
    resume_case_upload(&c, "reread.bin");
    char boot[IGTCLOUD__JOURNAL_BOOT_MAX + 1];
    igtcloud__journal_boot_id(boot);

    /* Ranges 0-6 kept (7 MiB: more than one part, and a part boundary inside them). */
    resume_case_leave(&c, 7, 7, boot);
    resume_outcome got = resume_case_download(&c);
    TH_PASS(got.rc);
    assert_true(th_same_file(c.src, c.dst));
    assert_int_equal(got.st.ranges_resumed, 7);
    assert_int_equal(got.st.ranges_read_back_by_workers, 7);
    assert_int_equal(got.st.verified_by_crc32c, 1);
    unlink(c.dst);

    /* A byte of a kept range rotted on disk: the check fails, nothing is left to resume from. */
    resume_case_leave(&c, 7, 7, boot);
    int fd = open(c.tmp, O_RDWR);
    assert_true(fd >= 0);
    unsigned char byte;
    assert_int_equal(pread(fd, &byte, 1, 3 * MIB + 77), 1);
    byte ^= 0x10;
    assert_int_equal(pwrite(fd, &byte, 1, 3 * MIB + 77), 1);
    close(fd);
    got = resume_case_download(&c);
    assert_int_equal(got.rc, IGTCLOUD_EPARTIAL);
    assert_int_equal(got.status, IGTCLOUD_EPROTO);
    assert_non_null(strstr(got.message, "CRC32C of the data differs from the object's checksum"));
    assert_int_equal(got.st.ranges_read_back_by_workers, 7);
    assert_int_equal(got.st.verified_by_crc32c, 0);
    assert_false(th_exists(c.dst));
    assert_false(th_exists(c.tmp));
    assert_false(th_exists(c.journal));

    /* The next run starts over and gets it whole. */
    got = resume_case_download(&c);
    TH_PASS(got.rc);
    assert_true(th_same_file(c.src, c.dst));
    assert_int_equal(got.st.ranges_resumed, 0);
}

/* Download key to dst with the file size limit at `limit`; returns the file's result status. */
static int download_under_fsize_limit(const igtcloud_transfer_options *o, const char *key,
                                      const char *dst, int64_t size, rlim_t limit,
                                      igtcloud__engine_stats *st, char *msg, size_t msg_size)
{
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    low = old;
    low.rlim_cur = limit;
    void (*old_xfsz)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &low), 0);
    igtcloud_transfer *t = NULL;
    int rc = th_run_download(&t, o, key, dst, size);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_xfsz);
    assert_int_not_equal(rc, 0);
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    igtcloud__engine_get_stats(st, t);
    snprintf(msg, msg_size, "%s", r.message);
    igtcloud_transfer_free(t);
    return r.status;
}

/*
 * A full disk (the file size limit stands in for it) while downloading:
 * bytes written by the workers (write-behind) of a single GET, and the
 * pre-sizing of a ranged download's temporary file. Either fails the file
 * with IGTCLOUD_ENOSPACE and one message naming it, leaves no final file,
 * and a rerun with room completes byte-identical.
 */
static void test_transfer__full_disk_fails_the_file_cleanly(void **state)
{
    (void)state;
    char src[512], dst[512], msg[400];
    th_path_in(&env, src, sizeof(src), "full.bin");
    th_path_in(&env, dst, sizeof(dst), "full.out");
    const uint64_t size = 3 * MIB + 777;
    assert_int_equal(th_make_file(src, size, 9), 0);
    igtcloud_transfer_options o;
    th_options(&o, &env);
    o.max_requests = 4;
    th_put_file(&o, src, DEMO_PREFIX "t9/full.bin", NULL);
    igtcloud__engine_stats st;

    /* One GET: the limit falls inside its third chunk. */
    o.range_threshold = 8 * MIB;
    assert_int_equal(download_under_fsize_limit(&o, DEMO_PREFIX "t9/full.bin", dst, (int64_t)size,
                                                MIB + 100, &st, msg, sizeof(msg)),
                     IGTCLOUD_ENOSPACE);
    assert_non_null(strstr(msg, "cannot write"));
    assert_non_null(strstr(msg, "full.out"));
    assert_true(st.chunks_written_by_workers > 0);
    assert_false(th_exists(dst));

    /* Ranges: the temporary file cannot take the object's size. */
    o.range_threshold = 1 * MIB;
    o.range_size = 1 * MIB;
    assert_int_equal(download_under_fsize_limit(&o, DEMO_PREFIX "t9/full.bin", dst, (int64_t)size,
                                                MIB + 100, &st, msg, sizeof(msg)),
                     IGTCLOUD_ENOSPACE);
    assert_non_null(strstr(msg, "full.out"));
    assert_false(th_exists(dst));

    igtcloud_transfer *t = NULL;
    TH_PASS(th_run_download(&t, &o, DEMO_PREFIX "t9/full.bin", dst, (int64_t)size));
    igtcloud_transfer_free(t);
    assert_true(th_same_file(src, dst));
    assert_false(side_exists("full.out", IGTCLOUD__ENGINE_PART_SUFFIX));
    assert_false(side_exists("full.out", IGTCLOUD__ENGINE_JOURNAL_SUFFIX));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer__single_put_and_get_are_byte_identical),
        cmocka_unit_test(test_transfer__multipart_upload_and_ranged_download),
        cmocka_unit_test(test_transfer__many_small_files_share_one_engine),
        cmocka_unit_test(test_transfer__last_ranges_of_a_run_come_in_pieces),
        cmocka_unit_test(test_transfer__crc32c_uploads_download_checked_by_crc32c),
        cmocka_unit_test(test_transfer__read_range_and_stat),
        cmocka_unit_test(test_transfer__missing_object_fails_cleanly),
        cmocka_unit_test(test_transfer__cancelled_multipart_upload_resumes_with_list_parts),
        cmocka_unit_test(test_transfer__dead_server_ends_the_run_quickly),
        cmocka_unit_test(test_transfer__unreachable_endpoint_fails_in_seconds),
        cmocka_unit_test(test_transfer__crc32c_checksum_replaces_content_md5),
        cmocka_unit_test(test_transfer__crc32c_single_and_multipart_round_trip),
        cmocka_unit_test(test_transfer__feeder_queues_files_while_the_engine_runs),
        cmocka_unit_test(test_transfer__download_md5_checked_by_a_worker),
        cmocka_unit_test(test_transfer__md5_work_hashed_side_by_side),
        cmocka_unit_test(test_transfer__md5_lanes_take_in_work_queued_while_hashing),
        cmocka_unit_test(test_transfer__download_checked_by_the_object_crc32c),
        cmocka_unit_test(test_transfer__ranged_download_hashes_prefix_while_ranges_arrive),
        cmocka_unit_test(test_transfer__multipart_download_checked_part_by_part),
        cmocka_unit_test(test_transfer__multipart_download_checked_by_part_crcs),
        cmocka_unit_test(test_transfer__multipart_upload_names_its_full_object_crc32c),
        cmocka_unit_test(test_transfer__multipart_created_callback_then_abort),
        cmocka_unit_test(test_transfer__journal_of_another_boot_is_not_trusted),
        cmocka_unit_test(test_transfer__resumed_ranges_read_back_by_workers),
        cmocka_unit_test(test_transfer__full_disk_fails_the_file_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
