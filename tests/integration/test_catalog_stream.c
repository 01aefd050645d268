/*
 * Listings read as they arrive, over real sockets: an institute's studies
 * through the public list, the walk and the spool (a temporary file read
 * back) give the same studies; the spool's look-ups answer as a scan of the
 * list would, hash collisions included; a study with thousands of files;
 * HTTP errors keep their codes and messages; the HTTP layer's body sink
 * streams only what it is for. A fake server gives the answers the sandbox
 * never gives (members out of order, named twice, bodies cut short).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_async.h"
#include "api/catalog_int.h"
#include "api/upload_api.h"
#include "auth/session_int.h"
#include "core/error.h"
#include "fake_server.h"
#include "http/http.h"
#include "igtcloud/igtcloud.h"
#include "test_client.h"
#include "test_sandbox.h"

static test_sandbox sandbox;
static char tmp[256];
static igtcloud_session *session;

#define WIDE_FILES 3000
#define MANY_STUDIES 400

static int group_setup(void **state)
{
    (void)state;
    test_client_isolate();
    if (igtcloud_global_init() < 0 || test_make_temp_dir(tmp, sizeof(tmp), "catalog-stream"))
        return -1;
    char path[512], seed[512];
    snprintf(path, sizeof(path), "%s/token", tmp);
    setenv("CLOUD_TOKEN_MMAP", path, 1);
    setenv("IGTCLOUD_SANDBOX_PASSWORD_ITERATIONS", "1000", 1);
    snprintf(seed, sizeof(seed), "%s/seed.json", tmp);
    FILE *f = fopen(seed, "w");
    if (!f)
        return -1;
    fprintf(f,
            "{\"users\": [{\"login\": \"demo\", \"password\": \"demo\"}],\n"
            " \"projects\": [{\"name\": \"Stream\", \"id\": \"stream\", \"members\": [\"demo\"],\n"
            "  \"institutes\": [\n"
            "   {\"name\": \"Many\", \"id\": \"many\",\n"
            "    \"generate\": {\"studies\": %d, \"filesPerStudy\": 1, \"fileSize\": 1}},\n"
            "   {\"name\": \"Wide\", \"id\": \"wide\",\n"
            "    \"generate\": {\"studies\": 1, \"filesPerStudy\": %d, \"fileSize\": 1}},\n"
            "   {\"name\": \"Odd\", \"id\": \"odd\", \"studies\": [\n"
            "     {\"name\": \"dup\", \"studyId\": \"A\", \"patient\": {\"patientId\": \"PA\"}},\n"
            "     {\"name\": \"dup\", \"studyId\": \"B\", \"patient\": {\"patientId\": \"PB\"}},\n"
            "     {\"studyId\": \"S [x] \\\"q\\\" \\\\ {y}, z\",\n"
            "      \"patient\": {\"patientId\": \"P,1\", \"patientName\": \"\\u00dcn\\u00ef ]\"},\n"
            "      \"studyDate\": \"2021-03-04T10:00:00\", \"nested\": [[{\"a\": [\"}\"]}]]},\n"
            "     {\"studyId\": \"F\", \"patient\": {\"patientId\": \"PF\", \"patientName\": \"F\"},\n"
            "      \"files\": [{\"name\": \"a.txt\", \"content\": \"a\"},\n"
            "                {\"name\": \"d/1.dcm\", \"size\": 3, \"category\": \"dicom\"},\n"
            "                {\"name\": \"l.json\", \"content\": \"{}\",\n"
            "                 \"category\": \"annotations\"}]},\n"
            "     {\"studyId\": \"N\", \"patient\": {\"patientId\": \"../..\"}}]}]}]}\n",
            MANY_STUDIES, WIDE_FILES);
    if (fclose(f) != 0)
        return -1;
    const char *args[] = { "--seed", seed, NULL };
    if (test_sandbox_start(&sandbox, args))
        return -1;
    return test_session_open_demo(&session, sandbox.api_url) ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    igtcloud_session_free(session);
    test_sandbox_stop(&sandbox);
    test_remove_tree(tmp);
    igtcloud_global_shutdown();
    return 0;
}

#define PASS(expr)                                                                   \
    do {                                                                             \
        int rc_ = (expr);                                                            \
        if (rc_ != 0)                                                                \
            fail_msg("%s: %d: %s", #expr, rc_, igtcloud_error_last()->message);      \
    } while (0)

static void same_study(const igtcloud_study *a, const igtcloud_study *b)
{
    assert_string_equal(igtcloud_study_json(a), igtcloud_study_json(b));
    assert_string_equal(igtcloud_study_id(a), igtcloud_study_id(b));
    assert_string_equal(igtcloud_study_human_id(a), igtcloud_study_human_id(b));
    assert_string_equal(igtcloud_study_institute_id(a), igtcloud_study_institute_id(b));
    assert_string_equal(igtcloud_study_type(a), igtcloud_study_type(b));
    assert_string_equal(igtcloud_study_s3_prefix(a), igtcloud_study_s3_prefix(b));
    assert_string_equal(igtcloud_study_key(a), igtcloud_study_key(b));
    int64_t da = 0, db = 0;
    assert_int_equal(igtcloud_study_date(&da, a), igtcloud_study_date(&db, b));
    assert_true(da == db);
}

/* igtcloud__study_fn: keep a copy of each study in a list of pointers. */
typedef struct walked {
    igtcloud_study **items;
    size_t count;
} walked;

static int keep_walked(igtcloud_study *study, void *payload)
{
    walked *w = payload;
    igtcloud_study **grown = realloc(w->items, (w->count + 1) * sizeof(*grown));
    if (!grown) {
        igtcloud_study_free(study);
        return IGTCLOUD_ENOMEM;
    }
    w->items = grown;
    w->items[w->count++] = study;
    return 0;
}

static void check_institute(const char *id, size_t expect)
{
    igtcloud_study_list *list = NULL;
    igtcloud__study_spool *spool = NULL;
    walked w = { NULL, 0 };
    PASS(igtcloud_study_list_fetch(&list, session, id));
    assert_int_equal(igtcloud_study_list_count(list), expect);
    PASS(igtcloud__study_walk_fetch(session, id, keep_walked, &w));
    assert_int_equal(w.count, expect);
    PASS(igtcloud__study_spool_fetch(&spool, session, id, 0));
    assert_int_equal(igtcloud__study_spool_count(spool), expect);
    for (size_t i = 0; i < expect; i++) {
        igtcloud_study *s = NULL;
        PASS(igtcloud__study_spool_next(&s, spool));
        assert_non_null(s);
        same_study(igtcloud_study_list_at(list, i), s);
        same_study(igtcloud_study_list_at(list, i), w.items[i]);
        igtcloud_study_free(s);
        igtcloud_study_free(w.items[i]);
    }
    igtcloud_study *end = (igtcloud_study *)1;
    PASS(igtcloud__study_spool_next(&end, spool));
    assert_null(end);
    free(w.items);
    igtcloud__study_spool_free(spool);
    igtcloud_study_list_free(list);
}

/* The list, the walk and the spool give the same studies in the same order. */
static void test_catalog_stream__walk_spool_and_list_agree(void **state)
{
    (void)state;
    check_institute("many", MANY_STUDIES);
    check_institute("odd", 5);
    check_institute("wide", 1);
}

/* What a look-up must answer: the first study of the list (API order) that matches. */
static const igtcloud_study *scan(const igtcloud_study_list *list, igtcloud__study_match by,
                                  const char *value)
{
    char folder[1024];
    for (size_t i = 0; i < igtcloud_study_list_count(list); i++) {
        const igtcloud_study *s = igtcloud_study_list_at(list, i);
        const char *v = by == IGTCLOUD__STUDY_BY_ID    ? igtcloud_study_id(s)
                        : by == IGTCLOUD__STUDY_BY_KEY ? igtcloud_study_key(s)
                        : igtcloud_study_folder(folder, sizeof(folder), s,
                                                by == IGTCLOUD__STUDY_BY_TREE_FOLDER) == 0
                            ? folder
                            : NULL;
        if (v && strcmp(v, value) == 0)
            return s;
    }
    return NULL;
}

static void expect_find(igtcloud__study_spool *spool, const igtcloud_study_list *list,
                        igtcloud__study_match by, const char *value)
{
    igtcloud_study *got = NULL;
    const igtcloud_study *want = scan(list, by, value);
    PASS(igtcloud__study_spool_find(&got, spool, by, value));
    if (!want) {
        if (got)
            fail_msg("look-up %d of '%s' found %s, wanted none", (int)by, value,
                     igtcloud_study_id(got));
        return;
    }
    if (!got)
        fail_msg("look-up %d of '%s' found none, wanted %s", (int)by, value,
                 igtcloud_study_id(want));
    same_study(want, got);
    igtcloud_study_free(got);
}

/* Look up every `step`-th study of the institute by each of its values, and some misses. */
static void check_finds(const char *id, size_t step)
{
    igtcloud_study_list *list = NULL;
    igtcloud__study_spool *spool = NULL;
    char folder[1024];
    PASS(igtcloud_study_list_fetch(&list, session, id));
    PASS(igtcloud__study_spool_fetch(&spool, session, id, IGTCLOUD__STUDY_SPOOL_INDEX));
    for (size_t i = 0; i < igtcloud_study_list_count(list); i += step) {
        const igtcloud_study *s = igtcloud_study_list_at(list, i);
        expect_find(spool, list, IGTCLOUD__STUDY_BY_ID, igtcloud_study_id(s));
        expect_find(spool, list, IGTCLOUD__STUDY_BY_KEY, igtcloud_study_key(s));
        for (int h = 0; h < 2; h++) {
            if (igtcloud_study_folder(folder, sizeof(folder), s, h) == 0)
                expect_find(spool, list,
                            h ? IGTCLOUD__STUDY_BY_TREE_FOLDER : IGTCLOUD__STUDY_BY_FLAT_FOLDER,
                            folder);
        }
    }
    static const char *const misses[] = { "", "nope", "dup ", "PA---A/", "../..", "..------.." };
    for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++)
        for (int by = 0; by < 4; by++)
            expect_find(spool, list, (igtcloud__study_match)by, misses[i]);
    igtcloud__study_spool_free(spool);
    igtcloud_study_list_free(list);
}

/* Look-ups answer as a scan of the list would; every hash colliding changes nothing. */
static void test_catalog_stream__spool_finds_like_a_scan(void **state)
{
    (void)state;
    check_finds("odd", 1);
    check_finds("many", 1);
    /* Every study read back for every look-up: a sample of the many. */
    igtcloud__study_spool_hash_mask = 0;
    check_finds("odd", 1);
    check_finds("many", 37);
    igtcloud__study_spool_hash_mask = UINT32_MAX;
    /* Two studies named "dup": the first listed wins. */
    igtcloud__study_spool *spool = NULL;
    igtcloud_study *got = NULL;
    PASS(igtcloud__study_spool_fetch(&spool, session, "odd", IGTCLOUD__STUDY_SPOOL_INDEX));
    PASS(igtcloud__study_spool_find(&got, spool, IGTCLOUD__STUDY_BY_KEY, "dup"));
    assert_non_null(got);
    assert_string_equal(igtcloud_study_human_id(got), "PA/A");
    igtcloud_study_free(got);
    igtcloud__study_spool_free(spool);
    /* Without an index there is nothing to look up. */
    PASS(igtcloud__study_spool_fetch(&spool, session, "odd", 0));
    assert_int_equal(igtcloud__study_spool_find(&got, spool, IGTCLOUD__STUDY_BY_KEY, "dup"),
                     IGTCLOUD_EINVALID);
    igtcloud__study_spool_free(spool);
}

/* An HTTP error keeps its code, status and the server's message, whichever way it is read. */
static void test_catalog_stream__http_errors(void **state)
{
    (void)state;
    igtcloud_study_list *list = NULL;
    igtcloud__study_spool *spool = NULL;
    assert_int_equal(igtcloud_study_list_fetch(&list, session, "no-such-institute"),
                     IGTCLOUD_ENOTFOUND);
    char first[512];
    snprintf(first, sizeof(first), "%s", igtcloud_error_last()->message);
    assert_int_equal(igtcloud_error_last()->http_status, 404);
    assert_true(strncmp(first, "listing studies: ", 17) == 0);
    assert_null(strstr(first, "HTTP 404")); /* the server's message, not a placeholder */
    assert_int_equal(igtcloud__study_spool_fetch(&spool, session, "no-such-institute", 0),
                     IGTCLOUD_ENOTFOUND);
    assert_string_equal(igtcloud_error_last()->message, first);
    assert_null(spool);
    assert_null(list);
}

/* A spool that cannot make its file says where, and nothing is listed. */
static void test_catalog_stream__spool_needs_a_temporary_folder(void **state)
{
    (void)state;
    char missing[512];
    igtcloud__study_spool *spool = NULL;
    snprintf(missing, sizeof(missing), "%s/missing", tmp);
    const char *old = getenv("TMPDIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("TMPDIR", missing, 1);
    int rc = igtcloud__study_spool_fetch(&spool, session, "odd", 0);
    if (saved)
        setenv("TMPDIR", saved, 1);
    else
        unsetenv("TMPDIR");
    free(saved);
    assert_int_equal(rc, IGTCLOUD_EIO);
    assert_non_null(strstr(igtcloud_error_last()->message, missing));
    assert_null(spool);
}

/* A study with thousands of files: every one, in the API's order. */
static void test_catalog_stream__wide_file_list(void **state)
{
    (void)state;
    igtcloud_study_list *list = NULL;
    igtcloud_file_list *files = NULL;
    PASS(igtcloud_study_list_fetch(&list, session, "wide"));
    PASS(igtcloud_file_list_fetch_study(&files, session, igtcloud_study_list_at(list, 0),
                                        IGTCLOUD_CATEGORY_ALL_STUDY));
    assert_int_equal(igtcloud_file_list_count(files), WIDE_FILES);
    for (size_t i = 0; i < WIDE_FILES; i++) {
        igtcloud_file_info f;
        char name[32];
        PASS(igtcloud_file_list_at(&f, files, i));
        snprintf(name, sizeof(name), "file-%04zu.bin", i + 1);
        assert_string_equal(f.name, name);
        assert_int_equal(f.category, IGTCLOUD_CATEGORY_FILES);
        assert_true(f.size == 1 && f.completed);
    }
    igtcloud_file_list_free(files);
    igtcloud_study_list_free(list);
}

/* What a file walk saw, and when it stops itself. */
typedef struct walked_files {
    const igtcloud_file_list *list; /* the same listing fetched whole */
    size_t seen, stop_at;
} walked_files;

static int check_walked_file(const igtcloud_file_info *f, void *payload)
{
    walked_files *w = payload;
    igtcloud_file_info l;
    PASS(igtcloud_file_list_at(&l, w->list, w->seen));
    assert_string_equal(f->name, l.name);
    assert_string_equal(f->key, l.key);
    assert_string_equal(f->type, l.type);
    assert_string_equal(f->upload_id, l.upload_id);
    assert_int_equal(f->category, l.category);
    assert_true(f->size == l.size && f->completed == l.completed && f->is_new == l.is_new);
    if (++w->seen == w->stop_at)
        return igtcloud__error_set(IGTCLOUD_ECANCELLED, "walk stopped at %zu", w->seen);
    return 0;
}

/* A walk hands over the files the list holds, in its order; the callback's error stops it. */
static void test_catalog_stream__file_walk_matches_the_list(void **state)
{
    (void)state;
    igtcloud_study_list *list = NULL;
    igtcloud_file_list *files = NULL;
    PASS(igtcloud_study_list_fetch(&list, session, "wide"));
    const igtcloud_study *study = igtcloud_study_list_at(list, 0);
    PASS(igtcloud_file_list_fetch_study(&files, session, study, IGTCLOUD_CATEGORY_ALL_STUDY));
    walked_files w = { files, 0, 0 };
    PASS(igtcloud__file_walk_study(session, study, IGTCLOUD_CATEGORY_ALL_STUDY,
                                   check_walked_file, &w));
    assert_int_equal(w.seen, WIDE_FILES);
    walked_files stop = { files, 0, 1234 };
    assert_int_equal(igtcloud__file_walk_study(session, study, IGTCLOUD_CATEGORY_ALL_STUDY,
                                               check_walked_file, &stop),
                     IGTCLOUD_ECANCELLED);
    assert_int_equal(stop.seen, 1234);
    assert_string_equal(igtcloud_error_last()->message, "walk stopped at 1234");
    /* The session still works after a listing stopped half-way. */
    igtcloud_file_list_free(files);
    igtcloud_study_list_free(list);
    PASS(igtcloud_study_list_fetch(&list, session, "odd"));
    study = igtcloud_study_list_find_key(list, "F");
    PASS(igtcloud_file_list_fetch_study(&files, session, study, IGTCLOUD_CATEGORY_ALL_STUDY));
    walked_files all = { files, 0, 0 };
    PASS(igtcloud__file_walk_study(session, study, IGTCLOUD_CATEGORY_ALL_STUDY,
                                   check_walked_file, &all));
    assert_int_equal(all.seen, 3);
    igtcloud_file_list_free(files);
    igtcloud_study_list_free(list);
}

struct async_outcome {
    int calls, status;
    char message[300];
};

static void async_done(void *item, int status, const char *message, void *payload)
{
    (void)payload;
    struct async_outcome *o = item;
    o->calls++;
    o->status = status;
    snprintf(o->message, sizeof(o->message), "%s", message ? message : "");
}

/*
 * Calls beside a run (api_async) drop their 2xx answers as they arrive: a
 * registration is answered with the study's whole file list, which a study
 * of thousands of files made hundreds of kilobytes to hold for nothing.
 * With buffered bodies held to 64 KiB, a registration in the wide study
 * still succeeds, while the same answer fetched as a buffered body is
 * refused as too large.
 */
static void test_catalog_stream__async_calls_drop_their_answers(void **state)
{
    (void)state;
    igtcloud_study_list *list = NULL;
    PASS(igtcloud_study_list_fetch(&list, session, "wide"));
    const igtcloud_study *study = igtcloud_study_list_at(list, 0);
    char *owner = igtcloud__upload_study_path("wide", igtcloud_study_id(study));
    assert_non_null(owner);
    char path[512], body[512];
    snprintf(path, sizeof(path), "%s/files", owner);
    snprintf(body, sizeof(body), "[{\"key\": \"%sfiles/registered.bin\", \"fileSize\": 7}]",
             igtcloud_study_s3_prefix(study));

    igtcloud__api_async *q = NULL;
    igtcloud__api_async_options ao = IGTCLOUD__API_ASYNC_OPTIONS_INIT;
    PASS(igtcloud__api_async_new(&q, session, &ao));
    igtcloud__http_max_body = 64 * 1024;
    struct async_outcome o = { 0, -1, "" };
    PASS(igtcloud__api_async_post(q, path, body, "register files", async_done, &o));
    igtcloud__api_async_harvest(q, 1);
    igtcloud__api_async_free(q);

    /* The same answer, buffered: more than the limit. */
    igtcloud__http_response res;
    igtcloud__http_response_init(&res);
    int buffered = igtcloud__session_request(&res, session, "POST", path, body);
    igtcloud__http_response_dispose(&res);
    igtcloud__http_max_body = IGTCLOUD__HTTP_MAX_BODY;
    assert_int_equal(o.calls, 1);
    if (o.status != 0)
        fail_msg("registration: %d: %s", o.status, o.message);
    assert_int_not_equal(buffered, 0);

    /* The registration took: the file is listed (not complete yet). */
    igtcloud_file_list *files = NULL;
    PASS(igtcloud_file_list_fetch_study(&files, session, study, IGTCLOUD_CATEGORY_FILES));
    int found = 0;
    for (size_t i = 0; i < igtcloud_file_list_count(files); i++) {
        igtcloud_file_info f;
        PASS(igtcloud_file_list_at(&f, files, i));
        found += strcmp(f.name, "registered.bin") == 0;
    }
    assert_int_equal(found, 1);
    igtcloud_file_list_free(files);
    free(owner);
    igtcloud_study_list_free(list);
}

/* Files, then DICOM, then annotations; each category alone gives its own. */
static void test_catalog_stream__file_categories(void **state)
{
    (void)state;
    igtcloud_study_list *list = NULL;
    igtcloud_file_list *files = NULL;
    igtcloud_file_info f;
    PASS(igtcloud_study_list_fetch(&list, session, "odd"));
    const igtcloud_study *study = igtcloud_study_list_find_key(list, "F");
    assert_non_null(study);
    PASS(igtcloud_file_list_fetch_study(&files, session, study, IGTCLOUD_CATEGORY_ALL_STUDY));
    assert_int_equal(igtcloud_file_list_count(files), 3);
    static const char *const names[] = { "a.txt", "d/1.dcm", "l.json" };
    static const igtcloud_category cats[] = { IGTCLOUD_CATEGORY_FILES, IGTCLOUD_CATEGORY_DICOM,
                                              IGTCLOUD_CATEGORY_ANNOTATIONS };
    for (size_t i = 0; i < 3; i++) {
        PASS(igtcloud_file_list_at(&f, files, i));
        assert_string_equal(f.name, names[i]);
        assert_int_equal(f.category, cats[i]);
    }
    igtcloud_file_list_free(files);
    for (size_t i = 0; i < 3; i++) {
        PASS(igtcloud_file_list_fetch_study(&files, session, study, cats[i]));
        assert_int_equal(igtcloud_file_list_count(files), 1);
        PASS(igtcloud_file_list_at(&f, files, 0));
        assert_string_equal(f.name, names[i]);
        igtcloud_file_list_free(files);
    }
    igtcloud_study_list_free(list);
}

/*
 * A listing made when the session is due for a refresh: the refresh goes
 * through the same connection on the way, and its answer must reach the
 * session, not the listing's parser. A sandbox of its own, with sessions of
 * 8 s (refreshed 2 s ahead).
 */
static void test_catalog_stream__refresh_on_the_way(void **state)
{
    (void)state;
    test_sandbox short_lived;
    igtcloud_session *s = NULL;
    igtcloud_study_list *list = NULL;
    char seed[512], before[4096];
    snprintf(seed, sizeof(seed), "%s/seed.json", tmp);
    const char *args[] = { "--seed", seed, "--token-lifetime", "8", NULL };
    assert_int_equal(test_sandbox_start(&short_lived, args), 0);
    PASS(test_session_open_demo(&s, short_lived.api_url));
    snprintf(before, sizeof(before), "%s", igtcloud_session_jwt(s));
    usleep(6500 * 1000);
    int rc = igtcloud_study_list_fetch(&list, s, "odd");
    if (rc)
        fail_msg("listing after 6.5 s: %s", igtcloud_error_last()->message);
    assert_int_equal(igtcloud_study_list_count(list), 5);
    assert_string_not_equal(igtcloud_session_jwt(s), before);
    igtcloud_study_list_free(list);
    igtcloud_session_free(s);
    test_sandbox_stop(&short_lived);
}

/* ---- the HTTP layer's sink, against canned answers ---- */

typedef struct sunk {
    igtcloud__buf bytes;
    int calls;
    int fail_after;   /* > 0: refuse the call after this many */
} sunk;

static int sink(const char *data, size_t len, void *payload)
{
    sunk *s = payload;
    if (s->fail_after && s->calls >= s->fail_after)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "the sink had enough");
    s->calls++;
    return igtcloud__buf_put(&s->bytes, data, len);
}

static int fetch(igtcloud__http_response *res, const char *response, sunk *s, int same_url)
{
    fake_server fs;
    igtcloud__http_client *client = NULL;
    char url[128], other[128];
    assert_int_equal(fake_server_start(&fs, FAKE_RESPOND, response), 0);
    snprintf(url, sizeof(url), "%s/api/data/hospitals/h/studies", fs.url);
    snprintf(other, sizeof(other), "%s/api/auth/refresh", fs.url);
    PASS(igtcloud__http_client_new(&client, NULL));
    igtcloud__http_client_set_body_sink(client, url, sink, s);
    int rc = igtcloud__http_request(res, client, "GET", same_url ? url : other, NULL, NULL, 0);
    igtcloud__http_client_free(client);
    fake_server_stop(&fs);
    return rc;
}

static void test_catalog_stream__http_sink(void **state)
{
    (void)state;
    igtcloud__http_response res;
    sunk s;
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\n[1,2,3]";
    /* A 2xx answer to the URL: streamed, not kept. */
    memset(&s, 0, sizeof(s));
    PASS(fetch(&res, ok, &s, 1));
    assert_int_equal(res.status, 200);
    assert_int_equal(res.body.size, 0);
    assert_string_equal(igtcloud__buf_cstr(&s.bytes), "[1,2,3]");
    igtcloud__http_response_dispose(&res);
    igtcloud__buf_dispose(&s.bytes);
    /* Another URL through the same client (a refresh on the way): kept as usual. */
    memset(&s, 0, sizeof(s));
    PASS(fetch(&res, ok, &s, 0));
    assert_string_equal(igtcloud__buf_cstr(&res.body), "[1,2,3]");
    assert_int_equal(s.calls, 0);
    igtcloud__http_response_dispose(&res);
    /* An error answer: kept, for its message. */
    memset(&s, 0, sizeof(s));
    PASS(fetch(&res, "HTTP/1.1 404 Not Found\r\nContent-Length: 17\r\nConnection: close\r\n\r\n"
                     "{\"message\":\"no\"}\n", &s, 1));
    assert_int_equal(res.status, 404);
    assert_string_equal(igtcloud__buf_cstr(&res.body), "{\"message\":\"no\"}\n");
    assert_int_equal(s.calls, 0);
    igtcloud__http_response_dispose(&res);
    /* The sink's error ends the request with its code and message. */
    memset(&s, 0, sizeof(s));
    s.fail_after = 1;
    static char big[300000];
    int n = snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n"
                                       "Connection: close\r\n\r\n");
    memset(big + n, ' ', 200000);
    assert_int_equal(fetch(&res, big, &s, 1), IGTCLOUD_EPROTO);
    assert_string_equal(igtcloud_error_last()->message, "the sink had enough");
    igtcloud__buf_dispose(&s.bytes);
    /* A body cut short: a transport error, after what did arrive was streamed. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(fetch(&res, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close"
                                 "\r\n\r\n[1,2", &s, 1), IGTCLOUD_ENET);
    assert_string_equal(igtcloud__buf_cstr(&s.bytes), "[1,2");
    igtcloud__buf_dispose(&s.bytes);
}

/*
 * A session on canned answers (CLOUD_JWT_TOKEN: the token is introspected,
 * and the same answer serves the introspection and the listing).
 */
static int canned_files(igtcloud_file_list **out, const char *body)
{
    fake_server fs;
    igtcloud__buf response = IGTCLOUD_BUF_INIT;
    igtcloud_session *s = NULL;
    igtcloud_study *study = NULL;
    const char *json = "{\"studyDatabaseId\":\"s\",\"instituteId\":\"h\"}";
    PASS(igtcloud__buf_printf(&response, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
                                         "Connection: close\r\n\r\n%s", strlen(body), body));
    assert_int_equal(fake_server_start(&fs, FAKE_RESPOND, response.ptr), 0);
    setenv("CLOUD_JWT_TOKEN", "a.b.c", 1);
    setenv("CLOUD_CSRF_TOKEN", "csrf", 1);
    igtcloud_session_options o;
    igtcloud_session_options_init(&o, IGTCLOUD_SESSION_OPTIONS_VERSION);
    o.domain = fs.url;
    int rc = igtcloud_session_open(&s, &o);
    unsetenv("CLOUD_JWT_TOKEN");
    unsetenv("CLOUD_CSRF_TOKEN");
    if (rc)
        fail_msg("canned session: %s", igtcloud_error_last()->message);
    PASS(igtcloud_study_from_json(&study, json, strlen(json)));
    rc = igtcloud_file_list_fetch_study(out, s, study,
                                        IGTCLOUD_CATEGORY_DICOM | IGTCLOUD_CATEGORY_ANNOTATIONS);
    igtcloud_study_free(study);
    igtcloud_session_free(s);
    fake_server_stop(&fs);
    igtcloud__buf_dispose(&response);
    return rc;
}

static void test_catalog_stream__files_answer_shapes(void **state)
{
    (void)state;
    igtcloud_file_list *files = NULL;
    igtcloud_file_info f;
    /* Annotations named first: the listing still has DICOM first, each in the API's order. */
    PASS(canned_files(&files, "{\"exp\": 4000000000, \"sub\": \"u\", \"annotations\": ["
                              "{\"key\":\"k1\",\"fileName\":\"a1\"},"
                              "{\"key\":\"k2\",\"fileName\":\"a2\"}], \"other\": {\"x\": [1]},"
                              "\"dicom\": [{\"key\":\"k3\",\"fileName\":\"d1\",\"fileSize\":5},"
                              "{\"key\":\"k4\",\"fileName\":\"d2\"}]}"));
    static const char *const order[] = { "d1", "d2", "a1", "a2" };
    assert_int_equal(igtcloud_file_list_count(files), 4);
    for (size_t i = 0; i < 4; i++) {
        PASS(igtcloud_file_list_at(&f, files, i));
        assert_string_equal(f.name, order[i]);
        assert_int_equal(f.category, i < 2 ? IGTCLOUD_CATEGORY_DICOM
                                           : IGTCLOUD_CATEGORY_ANNOTATIONS);
    }
    PASS(igtcloud_file_list_at(&f, files, 0));
    assert_true(f.size == 5);
    igtcloud_file_list_free(files);
    files = NULL;
    /* A member named twice, even empty the first time, is refused. */
    assert_int_equal(canned_files(&files, "{\"exp\": 4000000000, \"sub\": \"u\", \"dicom\": [],"
                                          "\"dicom\": [{\"key\":\"k\",\"fileName\":\"d\"}]}"),
                     IGTCLOUD_EPROTO);
    assert_string_equal(igtcloud_error_last()->message,
                        "listing DICOM and annotations: 'dicom' is named twice");
    assert_int_equal(canned_files(&files, "{\"exp\": 4000000000, \"sub\": \"u\", \"dicom\": {}}"),
                     IGTCLOUD_EPROTO);
    assert_string_equal(igtcloud_error_last()->message,
                        "listing DICOM and annotations: 'dicom' is not an array");
    assert_int_equal(canned_files(&files, "{\"exp\": 4000000000, \"sub\": \"u\", \"annotations\": "
                                          "[{\"key\":\"k\",\"fileName\":\"a\"}, 7]}"),
                     IGTCLOUD_EPROTO);
    assert_string_equal(igtcloud_error_last()->message,
                        "listing DICOM and annotations: entry 1 has no key or fileName");
    assert_null(files);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_stream__walk_spool_and_list_agree),
        cmocka_unit_test(test_catalog_stream__spool_finds_like_a_scan),
        cmocka_unit_test(test_catalog_stream__http_errors),
        cmocka_unit_test(test_catalog_stream__spool_needs_a_temporary_folder),
        cmocka_unit_test(test_catalog_stream__wide_file_list),
        cmocka_unit_test(test_catalog_stream__file_walk_matches_the_list),
        cmocka_unit_test(test_catalog_stream__file_categories),
        cmocka_unit_test(test_catalog_stream__refresh_on_the_way),
        cmocka_unit_test(test_catalog_stream__http_sink),
        cmocka_unit_test(test_catalog_stream__files_answer_shapes),
        cmocka_unit_test(test_catalog_stream__async_calls_drop_their_answers),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
