/*
 * tools/download against a sandbox, for what planning a study a few files at
 * a time must keep: with one request in flight the engine asks for files one
 * or two at a time, so a study of hundreds of files is planned over hundreds
 * of the engine's calls. Its events (started once, finished once, after its
 * last file), the order of its categories, collisions between files planned
 * far apart, a cancel while it is planned (which stops the planning there),
 * and studies that cannot be listed while another study's files move (the
 * study deleted meanwhile: that study fails, the next one is downloaded; the
 * session ended: the run stops with EAUTH).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "igtcloud/igtcloud.h"
#include "test_data.h"
#include "test_http.h"
#include "test_client.h"
#include "test_sandbox.h"

static test_sandbox sandbox;
static char tmp[256];
static igtcloud_session *session;

#define EVENTS_FILES 500
#define EVENTS_DICOM 100
#define EVENTS_ANNOTATIONS 100
#define CLASH_FILLERS 600
#define WIDE_FILES 2000
#define GONE_FILES 300

#define PASS(expr)                                                                   \
    do {                                                                             \
        int rc_ = (expr);                                                            \
        if (rc_ != 0)                                                                \
            fail_msg("%s: %d: %s", #expr, rc_, igtcloud_error_last()->message);      \
    } while (0)

/* `n` seed file objects "<dir>/NNNN<ext>" of 16 bytes in `category`, each followed by a comma. */
static void seed_files(FILE *f, const char *dir, const char *ext, const char *category, int n)
{
    for (int i = 1; i <= n; i++)
        fprintf(f, "{\"name\": \"%s/%04d%s\", \"size\": 16, \"category\": \"%s\"},\n", dir, i,
                ext, category);
}

static void seed_study(FILE *f, const char *id, const char *human, int files, const char *end)
{
    fprintf(f, "{\"studyId\": \"%s\", \"studyIdHumanReadable\": \"%s\",\n"
               " \"studyDate\": \"2021-03-04T10:00:00\", \"patient\": {\"patientId\": \"P\"},\n"
               " \"files\": [\n", id, human);
    seed_files(f, "g", ".bin", "files", files - 1);
    fprintf(f, "{\"name\": \"last.txt\", \"content\": \"last of %s\"}]}%s\n", id, end);
}

static int write_seed(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    /* Unchecked: the collision study names its files with fileName. */
    fprintf(f, "{\"unchecked\": true,\n"
               " \"users\": [{\"login\": \"demo\", \"password\": \"demo\"}],\n"
               " \"projects\": [\n");
    fprintf(f, "{\"name\": \"Events\", \"id\": \"events\", \"members\": [\"demo\"],\n"
               " \"institutes\": [{\"name\": \"Inst\", \"studies\": [\n"
               "  {\"studyId\": \"E\", \"studyIdHumanReadable\": \"PE/SE\",\n"
               "   \"studyDate\": \"2021-03-04T10:00:00\", \"patient\": {\"patientId\": \"PE\"},\n"
               "   \"files\": [\n");
    /* Annotations before dicom: the download puts dicom first all the same. */
    seed_files(f, "a", ".json", "annotations", EVENTS_ANNOTATIONS);
    seed_files(f, "d", ".dcm", "dicom", EVENTS_DICOM);
    seed_files(f, "f", ".bin", "files", EVENTS_FILES - 1);
    fprintf(f, "{\"name\": \"f/last.bin\", \"size\": 16}]}]}]},\n");
    fprintf(f, "{\"name\": \"Clash\", \"id\": \"clash\", \"members\": [\"demo\"],\n"
               " \"institutes\": [{\"name\": \"Inst\", \"studies\": [\n"
               "  {\"studyId\": \"C\", \"studyIdHumanReadable\": \"PC/SC\",\n"
               "   \"studyDate\": \"2021-03-04T10:00:00\", \"patient\": {\"patientId\": \"PC\"},\n"
               "   \"files\": [\n"
               "{\"name\": \"first.txt\", \"content\": \"first\", \"fileName\": \"dup.txt\"},\n"
               "{\"name\": \"pre.txt\", \"content\": \"pre\", \"fileName\": \"pre\"},\n");
    seed_files(f, "x", ".bin", "files", CLASH_FILLERS);
    fprintf(f, "{\"name\": \"second.txt\", \"content\": \"second\", \"fileName\": \"dup.txt\"},\n"
               "{\"name\": \"pc.txt\", \"content\": \"c\", \"fileName\": \"pre/c.txt\"},\n"
               "{\"name\": \"sj.txt\", \"content\": \"{}\", \"fileName\": \"study.json\"}]}]}]},\n");
    fprintf(f, "{\"name\": \"Wide\", \"id\": \"wide\", \"members\": [\"demo\"],\n"
               " \"institutes\": [{\"name\": \"Inst\", \"generate\": {\"studies\": 1,\n"
               "   \"filesPerStudy\": %d, \"fileSize\": 16}}]},\n", WIDE_FILES);
    fprintf(f, "{\"name\": \"Gone\", \"id\": \"gone\", \"members\": [\"demo\"],\n"
               " \"institutes\": [{\"name\": \"Inst\", \"studies\": [\n");
    seed_study(f, "G1", "PG/S1", GONE_FILES, ",");
    seed_study(f, "G2", "PG/S2", 3, ",");
    seed_study(f, "G3", "PG/S3", 3, "");
    fprintf(f, "]}]},\n");
    fprintf(f, "{\"name\": \"Auth\", \"id\": \"auth\", \"members\": [\"demo\"],\n"
               " \"institutes\": [{\"name\": \"Inst\", \"studies\": [\n");
    seed_study(f, "A1", "PA/S1", GONE_FILES, ",");
    seed_study(f, "A2", "PA/S2", 3, "");
    fprintf(f, "]}]}]}\n");
    return fclose(f);
}

static int group_setup(void **state)
{
    (void)state;
    test_client_isolate();
    if (igtcloud_global_init() < 0 || test_make_temp_dir(tmp, sizeof(tmp), "download-study"))
        return -1;
    char path[512], seed[512];
    snprintf(path, sizeof(path), "%s/token", tmp);
    setenv("CLOUD_TOKEN_MMAP", path, 1);
    setenv("IGTCLOUD_SANDBOX_PASSWORD_ITERATIONS", "1000", 1);
    snprintf(seed, sizeof(seed), "%s/seed.json", tmp);
    if (write_seed(seed))
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

/* ---- what a run reported ------------------------------------------------- */

#define MAX_STUDIES 4

/* The study events of one folder, in the order they came. */
typedef struct study_seen {
    char folder[256];
    int started, progress, finished;
    int progress_before_start; /* a PROGRESS or FINISHED came before STARTED */
    int after_finish;          /* events after FINISHED */
    size_t files_total, files_done;
} study_seen;

typedef struct seen {
    study_seen studies[MAX_STUDIES];
    size_t nstudies;
    size_t files_ok, files_failed;
    char failed[8][256];       /* the first failures' paths */
    char messages[8][256];     /* ... and messages */
    int rank, rank_went_back;  /* category of the last file (0 files, 1 dicom, 2 annotations) */
    size_t cancel_at_done;     /* the progress callback cancels once this many are done (0: never) */
    int cancel_now;            /* ... or at its first call */
    size_t total_at_cancel;    /* files planned when it did */
    int cancelled;
    igtcloud_session *logout;  /* logged out after the first file (then NULL) */
    const char *delete_url;    /* DELETEd after the first file (then NULL) */
} seen;

static study_seen *study_of(seen *s, const char *folder)
{
    for (size_t i = 0; i < s->nstudies; i++)
        if (strcmp(s->studies[i].folder, folder) == 0)
            return &s->studies[i];
    assert_true(s->nstudies < MAX_STUDIES);
    study_seen *st = &s->studies[s->nstudies++];
    snprintf(st->folder, sizeof(st->folder), "%s", folder);
    return st;
}

static void on_study(const igtcloud_download_study_event *ev, void *payload)
{
    study_seen *st = study_of(payload, ev->folder);
    if (st->finished)
        st->after_finish++;
    if (ev->state == IGTCLOUD_DOWNLOAD_STUDY_STARTED)
        st->started++;
    else if (!st->started)
        st->progress_before_start++;
    if (ev->state == IGTCLOUD_DOWNLOAD_STUDY_PROGRESS)
        st->progress++;
    if (ev->state == IGTCLOUD_DOWNLOAD_STUDY_FINISHED)
        st->finished++;
    st->files_total = ev->files_total;
    st->files_done = ev->files_done;
}

static int rank_of(const char *path)
{
    return strstr(path, "/annotations/") ? 2 : strstr(path, "/dicom/") ? 1 : 0;
}

static void on_file(const igtcloud_download_file_event *ev, void *payload)
{
    seen *s = payload;
    if (ev->status) {
        if (s->files_failed < 8) {
            snprintf(s->failed[s->files_failed], sizeof(s->failed[0]), "%s", ev->path);
            snprintf(s->messages[s->files_failed], sizeof(s->messages[0]), "%s", ev->message);
        }
        s->files_failed++;
        return;
    }
    s->files_ok++;
    int rank = rank_of(ev->path);
    if (rank < s->rank)
        s->rank_went_back = 1;
    s->rank = rank;
    if (s->logout) {
        igtcloud_session_logout(s->logout);
        s->logout = NULL;
    }
    if (s->delete_url) {
        test_login login;
        test_response res;
        assert_int_equal(test_login_password(&login, sandbox.api_url, "demo", "demo"), 200);
        assert_int_equal(test_api(&res, &login, "DELETE", s->delete_url, NULL), 0);
        if (res.status < 200 || res.status >= 300)
            fail_msg("DELETE %s: %ld %s", s->delete_url, res.status, res.body ? res.body : "");
        test_response_dispose(&res);
        s->delete_url = NULL;
    }
}

static int on_progress(const igtcloud_download_progress *p, void *payload)
{
    seen *s = payload;
    if (s->cancel_now || (s->cancel_at_done && p->files_done >= s->cancel_at_done)) {
        if (!s->cancelled)
            s->total_at_cancel = p->files_total;
        s->cancelled = 1;
        return 1;
    }
    return 0;
}

/* Options with one request in flight and every callback into `s`. */
static void options_for(igtcloud_download_options *o, seen *s)
{
    igtcloud_download_options_init(o, IGTCLOUD_DOWNLOAD_OPTIONS_VERSION);
    o->concurrent_studies = 1;
    o->concurrent_files = 1;
    o->study_cb = on_study;
    o->study_payload = s;
    o->file_cb = on_file;
    o->file_payload = s;
    o->progress_cb = on_progress;
    o->progress_payload = s;
}

static int download(igtcloud_download_summary *sum, const char *project_name, const char *target,
                    const igtcloud_download_options *o)
{
    igtcloud_project *project = NULL;
    PASS(igtcloud_project_find(&project, session, project_name));
    int rc = igtcloud_download_project(sum, session, target, project, NULL, o);
    igtcloud_project_free(project);
    return rc;
}

/* The study's events: started once, then progress, finished once after its last file. */
static void whole_study(const seen *s, const char *folder, size_t files)
{
    for (size_t i = 0; i < s->nstudies; i++) {
        const study_seen *st = &s->studies[i];
        if (strcmp(st->folder, folder) != 0)
            continue;
        assert_int_equal(st->started, 1);
        assert_int_equal(st->progress_before_start, 0);
        assert_int_equal(st->progress, files - 1);
        assert_int_equal(st->finished, 1);
        assert_int_equal(st->after_finish, 0);
        assert_int_equal(st->files_total, files);
        assert_int_equal(st->files_done, files);
        return;
    }
    fail_msg("no event for study %s", folder);
}

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* ---- cases --------------------------------------------------------------- */

/*
 * 700 files in three categories, planned one or two at a time: one STARTED
 * before anything else, PROGRESS for each file but the last, one FINISHED
 * after the last, with every file counted; files before dicom before
 * annotations, though the answer names annotations first.
 */
static void test_download_study__events_and_order(void **state)
{
    (void)state;
    const size_t total = EVENTS_FILES + EVENTS_DICOM + EVENTS_ANNOTATIONS;
    char target[512];
    seen s = { 0 };
    igtcloud_download_options o;
    igtcloud_download_summary sum;
    snprintf(target, sizeof(target), "%s/events", tmp);
    options_for(&o, &s);
    o.categories = IGTCLOUD_CATEGORY_ALL_STUDY;
    PASS(download(&sum, "Events", target, &o));
    assert_int_equal(sum.files_downloaded, total);
    assert_int_equal(s.files_ok, total);
    assert_int_equal(s.files_failed, 0);
    assert_int_equal(s.nstudies, 1);
    whole_study(&s, "Inst/PE---SE", total);
    assert_int_equal(s.rank_went_back, 0);
    assert_int_equal(s.rank, 2);
    char dir[700];
    snprintf(dir, sizeof(dir), "%s/Inst/PE---SE/dicom/d", target);
    assert_int_equal(count_files(dir), EVENTS_DICOM);
    snprintf(dir, sizeof(dir), "%s/Inst/PE---SE/annotations/a", target);
    assert_int_equal(count_files(dir), EVENTS_ANNOTATIONS);
}

/* Names that collide with files planned hundreds of files (and engine calls) before are refused. */
static void test_download_study__collisions_across_steps(void **state)
{
    (void)state;
    char target[512], path[700];
    seen s = { 0 };
    igtcloud_download_options o;
    igtcloud_download_summary sum;
    snprintf(target, sizeof(target), "%s/clash", tmp);
    options_for(&o, &s);
    assert_int_equal(download(&sum, "Clash", target, &o), IGTCLOUD_EPARTIAL);
    assert_int_equal(sum.files_downloaded, CLASH_FILLERS + 2);
    assert_int_equal(sum.files_failed, 3);
    assert_int_equal(s.files_failed, 3);
    const char *want[] = { "Inst/PC---SC/dup.txt", "Inst/PC---SC/pre/c.txt",
                           "Inst/PC---SC/study.json" };
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(s.failed[i], want[i]);
        assert_non_null(strstr(s.messages[i], "is already a"));
    }
    whole_study(&s, "Inst/PC---SC", CLASH_FILLERS + 2);
    /* The first of each name is the one on disk. */
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/Inst/PC---SC/dup.txt", target);
    char *text = test_data_read_file(path, &len);
    assert_non_null(text);
    assert_int_equal(len, 5);
    assert_memory_equal(text, "first", 5);
    free(text);
    snprintf(path, sizeof(path), "%s/Inst/PC---SC/study.json", target);
    text = test_data_read_file(path, &len);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"studyIdHumanReadable\": \"PC/SC\""));
    free(text);
}

/*
 * A cancel while a study of 2,000 files is planned stops the planning where
 * it is (the files planned are a step's, not the study's); the study, whose
 * planned files are all called back (cancelled), is not finished; the next
 * run completes it, skipping what the first one verified.
 */
static void test_download_study__cancel_mid_study(void **state)
{
    (void)state;
    char target[512];
    seen s = { 0 };
    igtcloud_download_options o;
    igtcloud_download_summary sum;
    snprintf(target, sizeof(target), "%s/wide", tmp);
    options_for(&o, &s);
    s.cancel_at_done = 3;
    assert_int_equal(download(&sum, "Wide", target, &o), IGTCLOUD_ECANCELLED);
    assert_true(s.cancelled);
    assert_true(s.total_at_cancel >= 3);
    assert_true(s.total_at_cancel < WIDE_FILES / 4);
    assert_true(sum.files_downloaded >= 3);
    assert_true(sum.files_downloaded < WIDE_FILES / 4);
    assert_int_equal(s.nstudies, 1);
    assert_int_equal(s.studies[0].started, 1);
    assert_int_equal(s.studies[0].finished, 0);
    assert_int_equal(s.studies[0].files_done, s.studies[0].files_total);
    size_t first = sum.files_downloaded;

    seen again = { 0 };
    options_for(&o, &again);
    PASS(download(&sum, "Wide", target, &o));
    assert_int_equal(sum.files_skipped, first);
    assert_int_equal(sum.files_downloaded + sum.files_skipped, WIDE_FILES);
    assert_int_equal(again.files_failed, 0);
}

/* A dry run cancelled at its first progress call has planned one step of the study, not all of it. */
static void test_download_study__cancel_dry_run(void **state)
{
    (void)state;
    char target[512];
    seen s = { 0 };
    igtcloud_download_options o;
    igtcloud_download_summary sum;
    snprintf(target, sizeof(target), "%s/wide-dry", tmp);
    options_for(&o, &s);
    o.dry_run = 1;
    s.cancel_now = 1;
    assert_int_equal(download(&sum, "Wide", target, &o), IGTCLOUD_ECANCELLED);
    assert_true(sum.files_downloaded > 0);
    assert_true(sum.files_downloaded < WIDE_FILES / 4);
    struct stat st;
    assert_int_not_equal(stat(target, &st), 0);
}

/* The API URL of the study of `project` whose readable id is `human`, into url. */
static void study_url(char *url, size_t size, const char *project_name, const char *human)
{
    igtcloud_project *project = NULL;
    igtcloud_institute_list *institutes = NULL;
    igtcloud_study_list *studies = NULL;
    PASS(igtcloud_project_find(&project, session, project_name));
    PASS(igtcloud_institute_list_fetch(&institutes, session, project, NULL));
    assert_int_equal(igtcloud_institute_list_count(institutes), 1);
    const igtcloud_institute *inst = igtcloud_institute_list_at(institutes, 0);
    PASS(igtcloud_study_list_fetch(&studies, session, igtcloud_institute_id(inst)));
    url[0] = '\0';
    for (size_t i = 0; i < igtcloud_study_list_count(studies); i++) {
        const igtcloud_study *st = igtcloud_study_list_at(studies, i);
        if (strcmp(igtcloud_study_human_id(st), human) == 0)
            snprintf(url, size, "%s/api/data/hospitals/%s/studies/%s", sandbox.api_url,
                     igtcloud_institute_id(inst), igtcloud_study_id(st));
    }
    assert_true(url[0] != '\0');
    igtcloud_study_list_free(studies);
    igtcloud_institute_list_free(institutes);
    igtcloud_project_free(project);
}

/*
 * The next study cannot be listed (deleted meanwhile) while the files of a
 * study planned over many engine calls move: that study fails as a whole,
 * and the one after it is downloaded.
 */
static void test_download_study__next_listing_fails(void **state)
{
    (void)state;
    char target[512], url[512], path[700];
    seen s = { 0 };
    igtcloud_download_options o;
    igtcloud_download_summary sum;
    snprintf(target, sizeof(target), "%s/gone", tmp);
    study_url(url, sizeof(url), "Gone", "PG/S2");
    options_for(&o, &s);
    s.delete_url = url;
    assert_int_equal(download(&sum, "Gone", target, &o), IGTCLOUD_EPARTIAL);
    assert_null(s.delete_url);
    assert_int_equal(sum.files_failed, 1);
    assert_string_equal(s.failed[0], "Inst/PG---S2");
    assert_int_equal(sum.files_downloaded, GONE_FILES + 3);
    whole_study(&s, "Inst/PG---S1", GONE_FILES);
    whole_study(&s, "Inst/PG---S3", 3);
    snprintf(path, sizeof(path), "%s/Inst/PG---S3/last.txt", target);
    size_t len = 0;
    char *text = test_data_read_file(path, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen("last of G3"));
    assert_memory_equal(text, "last of G3", len);
    free(text);
    snprintf(path, sizeof(path), "%s/Inst/PG---S2", target);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);
}

/* The session ends while a study is planned: the next listing fails with EAUTH and ends the run. */
static void test_download_study__session_ends(void **state)
{
    (void)state;
    char target[512], path[700];
    seen s = { 0 };
    igtcloud_download_options o;
    igtcloud_download_summary sum;
    igtcloud_session *own = NULL;
    igtcloud_project *project = NULL;
    PASS(test_session_open_demo(&own, sandbox.api_url));
    PASS(igtcloud_project_find(&project, own, "Auth"));
    snprintf(target, sizeof(target), "%s/auth", tmp);
    options_for(&o, &s);
    s.logout = own;
    int rc = igtcloud_download_project(&sum, own, target, project, NULL, &o);
    assert_int_equal(rc, IGTCLOUD_EAUTH);
    assert_null(s.logout);
    assert_true(s.files_ok >= 1);
    snprintf(path, sizeof(path), "%s/Inst/PA---S2", target);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);
    igtcloud_project_free(project);
    igtcloud_session_free(own);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_download_study__events_and_order),
        cmocka_unit_test(test_download_study__collisions_across_steps),
        cmocka_unit_test(test_download_study__cancel_mid_study),
        cmocka_unit_test(test_download_study__cancel_dry_run),
        cmocka_unit_test(test_download_study__next_listing_fails),
        cmocka_unit_test(test_download_study__session_ends),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
