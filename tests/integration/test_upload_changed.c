/*
 * igtcloud_upload_run against a real sandbox, with files that change between
 * the check pass and the send pass (the run's event callback changes them
 * when the study is found or created: after every file was checked, before
 * any is planned and sent). Each is handled alone, as a file that changes
 * while it is sent: never completed with data that was not checked.
 *   - a file that grew is registered and sent once, as it is now, and
 *     completed;
 *   - a removed file fails, named, and is never registered;
 *   - a file that became a folder fails alone;
 *   - a file that changed and then changes again while it is sent is sent
 *     once more (the rule for any file) and completed as it is then;
 *   - an annotation that became invalid JSON fails with the check's reason
 *     and is never sent.
 * The code that kept the checked files in memory sent a grown file twice (it
 * was registered with its old size), failed a removed one only when the
 * engine could not open it, and sent and completed the invalid annotation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "igtcloud/igtcloud.h"
#include "test_client.h"
#include "test_sandbox.h"

#define HOSPITAL_A "6f1c2b1e-0000-4000-8000-0000000000a1"

#define assert_ok(expr)                                                                  \
    do {                                                                                 \
        int rc_ = (expr);                                                                \
        if (rc_ != 0)                                                                    \
            fail_msg("%s = %d: %s", #expr, rc_, igtcloud_error_last()->message);         \
    } while (0)

static test_sandbox sandbox;
static char tmp[256];
static igtcloud_session *session;

static int group_setup(void **state)
{
    (void)state;
    char path[512], faults[600];
    test_client_isolate();
    if (igtcloud_global_init() < 0 || test_make_temp_dir(tmp, sizeof(tmp), "upload-changed"))
        return -1;
    snprintf(path, sizeof(path), "%s/state", tmp);
    setenv("IGTCLOUD_STATE_DIR", path, 1);
    snprintf(path, sizeof(path), "%s/token", tmp);
    setenv("CLOUD_TOKEN_MMAP", path, 1);
    /* twice.bin's PUT is held up, so the run's progress callback can change it meanwhile. */
    snprintf(faults, sizeof(faults), "%s/faults.json", tmp);
    FILE *f = fopen(faults, "w");
    if (!f)
        return -1;
    fputs("[{\"operation\": \"PutObject\", \"key\": \"*twice.bin\", \"effect\": \"delay\", "
          "\"where\": \"headers\", \"ms\": 800}]\n", f);
    fclose(f);
    const char *args[] = { "--seed", "demo", "--faults", faults, NULL };
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

/* ---- helpers ---- */

static void write_file(const char *dir, const char *name, const char *text, const char *mode)
{
    char path[768];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, mode);
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void make_dirs(const char *path)
{
    char p[768];
    snprintf(p, sizeof(p), "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    mkdir(p, 0755);
}

/* What the run reported, and what its callbacks are to do to the tree. */
typedef struct run_state {
    const char *study_dir;  /* the study folder to change */
    int changed;            /* the files were changed (between the passes) */
    int annotations;        /* the second run: only ann.json changes */
    int twice_done;         /* twice.bin changed again while it was sent */
    int failed;
    char failed_names[8][64];
    char failed_messages[8][512];
    int uploaded;           /* the summary's files_uploaded */
} run_state;

static const char *base(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* Between the passes: the study is found or created after every file was checked. */
static void change_files(run_state *s)
{
    char path[768];
    if (s->annotations) {
        write_file(s->study_dir, "ann.json", "{\"labels\": [1, ", "w");
        return;
    }
    write_file(s->study_dir, "grown.txt", " two", "a");
    snprintf(path, sizeof(path), "%s/gone.txt", s->study_dir);
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof(path), "%s/folder.txt", s->study_dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0755), 0);
    write_file(s->study_dir, "twice.bin", "changed once", "a");
}

static void on_event(const igtcloud_upload_event *e, void *payload)
{
    run_state *s = payload;
    if ((e->kind == IGTCLOUD_UPLOAD_EVENT_STUDY_CREATED ||
         e->kind == IGTCLOUD_UPLOAD_EVENT_STUDY_FOUND) && !s->changed) {
        s->changed = 1;
        change_files(s);
    }
    if (e->kind == IGTCLOUD_UPLOAD_EVENT_FILE_FAILED && s->failed < 8) {
        snprintf(s->failed_names[s->failed], sizeof(s->failed_names[0]), "%s", base(e->path));
        snprintf(s->failed_messages[s->failed], sizeof(s->failed_messages[0]), "%s", e->message);
        s->failed++;
    }
}

/* While the bytes move (twice.bin's PUT is held up 800 ms): twice.bin changes again. */
static int on_progress(const igtcloud_transfer_progress *p, void *payload)
{
    run_state *s = payload;
    (void)p;
    if (s->changed && !s->annotations && !s->twice_done) {
        s->twice_done = 1;
        write_file(s->study_dir, "twice.bin", " and twice", "a");
    }
    return 0;
}

static const char *failure_of(const run_state *s, const char *name)
{
    for (int i = 0; i < s->failed; i++)
        if (strcmp(s->failed_names[i], name) == 0)
            return s->failed_messages[i];
    return NULL;
}

/* Requests of the sandbox's log with all of these substrings. */
static int log_count(const char *a, const char *b, const char *c)
{
    char *log = test_sandbox_log(&sandbox);
    int n = 0;
    assert_non_null(log);
    for (char *line = log; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        if (strstr(line, a) && (!b || strstr(line, b)) && (!c || strstr(line, c)))
            n++;
        line = end ? end + 1 : NULL;
    }
    free(log);
    return n;
}

/* The study's remote file `name`: its size and completion (-1 when not registered). */
static int64_t remote_file(const char *study_key, unsigned int category, const char *name,
                           int *completed)
{
    igtcloud_study_list *studies = NULL;
    igtcloud_file_list *files = NULL;
    int64_t size = -1;
    assert_ok(igtcloud_study_list_fetch(&studies, session, HOSPITAL_A));
    const igtcloud_study *st = igtcloud_study_list_find_key(studies, study_key);
    assert_non_null(st);
    assert_ok(igtcloud_file_list_fetch_study(&files, session, st, category));
    *completed = 0;
    for (size_t i = 0; i < igtcloud_file_list_count(files); i++) {
        igtcloud_file_info f;
        assert_ok(igtcloud_file_list_at(&f, files, i));
        if (strcmp(f.name, name) == 0) {
            size = f.size;
            *completed = f.completed;
        }
    }
    igtcloud_file_list_free(files);
    igtcloud_study_list_free(studies);
    return size;
}

static int run_upload(run_state *s, const char *local, igtcloud_upload_category category)
{
    igtcloud_upload_options o = IGTCLOUD_UPLOAD_OPTIONS_INIT;
    igtcloud_upload *u = NULL;
    o.category = category;
    o.event_cb = on_event;
    o.event_payload = s;
    o.progress_cb = on_progress;
    o.progress_payload = s;
    assert_ok(igtcloud_upload_new(&u, session, "Demo Project", &o));
    assert_ok(igtcloud_upload_add_tree(u, local, "Hospital A"));
    int rc = igtcloud_upload_run(u);
    igtcloud_upload_summary sum;
    igtcloud_upload_summary_get(&sum, u);
    s->uploaded = (int)sum.files_uploaded;
    igtcloud_upload_free(u);
    return rc;
}

/* ---- tests ---- */

static void test_upload_changed__between_the_passes(void **state)
{
    (void)state;
    char local[512], dir[768];
    run_state s;
    memset(&s, 0, sizeof(s));
    snprintf(local, sizeof(local), "%s/local", tmp);
    snprintf(dir, sizeof(dir), "%s/Hospital A/Changed---Study", local);
    make_dirs(dir);
    write_file(dir, "grown.txt", "one", "w");
    write_file(dir, "gone.txt", "gone", "w");
    write_file(dir, "folder.txt", "a file, then a folder", "w");
    write_file(dir, "same.txt", "same", "w");
    write_file(dir, "twice.bin", "twice", "w");
    s.study_dir = dir;

    int rc = run_upload(&s, local, IGTCLOUD_UPLOAD_FILES);
    assert_int_equal(rc, IGTCLOUD_EPARTIAL);
    assert_int_equal(s.changed, 1);
    assert_int_equal(s.twice_done, 1);
    assert_int_equal(s.uploaded, 3); /* grown.txt, same.txt and twice.bin */
    assert_int_equal(s.failed, 2);

    const char *m = failure_of(&s, "gone.txt");
    assert_non_null(m);
    if (!strstr(m, "removed after the local checks"))
        fail_msg("gone.txt: %s", m);
    m = failure_of(&s, "folder.txt");
    assert_non_null(m);
    if (!strstr(m, "no longer a regular file"))
        fail_msg("folder.txt: %s", m);
    assert_null(failure_of(&s, "twice.bin"));

    int completed = 0;
    /* Sent once, as it is now: registered with its new size and completed. */
    assert_int_equal(remote_file("Changed---Study", IGTCLOUD_CATEGORY_FILES, "grown.txt", &completed), 7);
    assert_int_equal(completed, 1);
    assert_int_equal(log_count("\"PutObject\"", "/grown.txt", NULL), 1);
    assert_int_equal(remote_file("Changed---Study", IGTCLOUD_CATEGORY_FILES, "same.txt", &completed), 4);
    assert_int_equal(completed, 1);
    /* Gone, or a folder now: never registered, never sent. */
    assert_int_equal(remote_file("Changed---Study", IGTCLOUD_CATEGORY_FILES, "gone.txt", &completed), -1);
    assert_int_equal(remote_file("Changed---Study", IGTCLOUD_CATEGORY_FILES, "folder.txt", &completed),
                     -1);
    assert_int_equal(log_count("\"PutObject\"", "/gone.txt", NULL), 0);
    assert_int_equal(log_count("\"PutObject\"", "/folder.txt", NULL), 0);
    /* Changed between the passes and again while sent: sent once more, completed as it is. */
    assert_int_equal(log_count("\"PutObject\"", "/twice.bin", NULL), 2);
    assert_int_equal(remote_file("Changed---Study", IGTCLOUD_CATEGORY_FILES, "twice.bin",
                                 &completed),
                     (int64_t)strlen("twice" "changed once" " and twice"));
    assert_int_equal(completed, 1);
}

static void test_upload_changed__annotation_invalid_after_the_check(void **state)
{
    (void)state;
    char local[512], dir[768];
    run_state s;
    memset(&s, 0, sizeof(s));
    snprintf(local, sizeof(local), "%s/annotations", tmp);
    snprintf(dir, sizeof(dir), "%s/Hospital A/Changed---Study", local);
    make_dirs(dir);
    write_file(dir, "ann.json", "{\"labels\": [1, 2]}", "w");
    write_file(dir, "fine.json", "{\"fine\": true}", "w");
    s.study_dir = dir;
    s.annotations = 1;

    assert_int_equal(run_upload(&s, local, IGTCLOUD_UPLOAD_ANNOTATIONS), IGTCLOUD_EPARTIAL);
    assert_int_equal(s.changed, 1);
    assert_int_equal(s.failed, 1);
    const char *m = failure_of(&s, "ann.json");
    assert_non_null(m);
    if (!strstr(m, "changed after the local checks") || !strstr(m, "annotation is not valid JSON"))
        fail_msg("ann.json: %s", m);
    int completed = 0;
    assert_int_equal(remote_file("Changed---Study", IGTCLOUD_CATEGORY_ANNOTATIONS, "ann.json", &completed),
                     -1);
    assert_int_equal(log_count("\"PutObject\"", "/annotations/ann.json", NULL), 0);
    assert_int_equal(remote_file("Changed---Study", IGTCLOUD_CATEGORY_ANNOTATIONS, "fine.json",
                                 &completed), 14);
    assert_int_equal(completed, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_changed__between_the_passes),
        cmocka_unit_test(test_upload_changed__annotation_invalid_after_the_check),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
