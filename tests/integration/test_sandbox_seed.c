/*
 * Seeding the sandbox from a seed file (docs/sandbox-seed.md): generated
 * worlds list the right counts and sizes and their objects hold the
 * documented bytes; a restart keeps the data; a bad file stops the sandbox
 * with one line on stderr.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_data.h"
#include "test_http.h"
#include "test_sandbox.h"

#define STUDIES 200
#define FILES_PER_STUDY 5
#define FILE_SIZE 1000
#define GEN_SEED 42

static test_sandbox sandbox;
static char seed_path[400];

static const char seed_doc[] =
    "{\"seed\": 9,"
    " \"users\": [{\"login\": \"alice\", \"password\": \"a-secret\"},"
    "            {\"login\": \"bob\", \"password\": \"b-secret\", \"email\": \"bob@x.invalid\"}],"
    " \"projects\": [{\"name\": \"Gen\", \"description\": \"generated\", \"extra\": {\"k\": 1},"
    "   \"members\": [\"alice\"],"
    "   \"files\": [{\"name\": \"docs/readme.md\", \"content\": \"# Gen\\n\"},"
    "              {\"name\": \"blob.bin\", \"size\": 3000}],"
    "   \"institutes\": [{\"name\": \"Big\", \"studyType\": \"Study\","
    "     \"generate\": {\"studies\": 200, \"filesPerStudy\": 5, \"fileSize\": 1000, \"seed\": 42}},"
    "    {\"name\": \"Listed\", \"studyType\": \"WeTrustStudy\", \"color\": \"blue\","
    "     \"studies\": [{\"subjectId\": \"SUB-1\", \"classification\": \"A\", \"unknown\": [1, 2],"
    "                   \"studyDate\": \"2020-02-02\", \"patient\": {\"patientId\": \"PX\"},"
    "                   \"files\": [{\"name\": \"a.txt\", \"content\": \"alpha\"},"
    "                             {\"name\": \"s/b.dcm\", \"size\": 777, \"category\": \"dicom\"},"
    "                             {\"name\": \"c.json\", \"size\": 10, \"completed\": false}]},"
    "                  {\"studyType\": \"EpdStudy\", \"name\": \"E-1\", \"site\": \"S\"}]}]},"
    "  {\"name\": \"Bobs\", \"members\": [{\"login\": \"bob\", \"role\": \"VIEWER\"}]}]}";

static int setup(void **state)
{
    (void)state;
    char dir[256];
    if (test_make_temp_dir(dir, sizeof(dir), "seedfile"))
        return -1;
    snprintf(seed_path, sizeof(seed_path), "%s/seed.json", dir);
    if (test_data_write_file(seed_path, seed_doc, strlen(seed_doc)))
        return -1;
    const char *args[] = { "--seed", seed_path, NULL };
    return test_sandbox_start(&sandbox, args);
}

static int teardown(void **state)
{
    (void)state;
    test_sandbox_stop(&sandbox);
    char *slash = strrchr(seed_path, '/');
    if (slash) {
        *slash = '\0';
        test_remove_tree(seed_path);
    }
    return 0;
}

#define CALL(res, who, method, body, ...) \
    test_data_call(res, &sandbox, who, method, body, __VA_ARGS__)

static const char *str(const json_t *obj, const char *name)
{
    const char *v = json_string_value(json_object_get(obj, name));
    if (!v)
        fail_msg("field '%s' is missing or not a string", name);
    return v;
}

static void login(test_login *out, const char *user, const char *password)
{
    assert_int_equal(test_login_password(out, sandbox.api_url, user, password), 200);
}

/* The project named `name` among alice's, with its institutes. */
static json_t *project(const test_login *who, const char *name)
{
    test_response res;
    assert_int_equal(CALL(&res, who, "GET", NULL, "/api/data/projects"), 200);
    json_t *found = NULL, *p;
    size_t i;
    json_array_foreach(res.json, i, p) {
        if (strcmp(str(p, "name"), name) == 0)
            found = json_incref(p);
    }
    test_response_dispose(&res);
    if (!found)
        fail_msg("no project '%s'", name);
    return found;
}

static const json_t *institute(const json_t *proj, const char *name)
{
    size_t i;
    json_t *inst;
    json_array_foreach(json_object_get(proj, "institutes"), i, inst) {
        if (strcmp(str(inst, "name"), name) == 0)
            return inst;
    }
    fail_msg("no institute '%s'", name);
    return NULL;
}

static void test_sandbox_seed__generated_world(void **state)
{
    (void)state;
    test_login alice;
    test_response res;
    login(&alice, "alice", "a-secret");
    json_t *gen = project(&alice, "Gen");
    assert_string_equal(str(gen, "description"), "generated");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(gen, "extra"), "k")), 1);
    const json_t *big = institute(gen, "Big");
    char hid[64];
    snprintf(hid, sizeof(hid), "%s", str(big, "id"));

    assert_int_equal(CALL(&res, &alice, "GET", NULL, "/api/data/hospitals/%s/studies", hid), 200);
    json_t *studies = json_incref(res.json);
    test_response_dispose(&res);
    assert_int_equal(json_array_size(studies), STUDIES);
    unsigned char expect[FILE_SIZE];
    long long files_seen = 0;
    size_t i;
    json_t *s;
    json_array_foreach(studies, i, s) {
        char human[64];
        snprintf(human, sizeof(human), "P%06zu/S%06zu", i + 1, i + 1);
        assert_string_equal(str(s, "studyIdHumanReadable"), human);
        assert_string_equal(str(s, "studyType"), "Study");
        assert_int_equal(strlen(str(s, "studyDate")), 19);
        assert_int_equal(CALL(&res, &alice, "GET", NULL, "/api/data/hospitals/%s/studies/%s/files",
                              hid, str(s, "studyDatabaseId")), 200);
        json_t *files = json_object_get(res.json, "files");
        assert_int_equal(json_array_size(files), FILES_PER_STUDY);
        size_t j;
        json_t *f;
        json_array_foreach(files, j, f) {
            char name[64], path[160];
            snprintf(name, sizeof(name), "file-%04zu.bin", j + 1);
            assert_string_equal(str(f, "fileName"), name);
            assert_int_equal(json_integer_value(json_object_get(f, "fileSize")), FILE_SIZE);
            assert_true(json_is_true(json_object_get(f, "isCompleted")));
            /* Every object exists with the documented deterministic bytes. */
            size_t len = 0;
            char *data = test_data_read_object(&sandbox, str(f, "key"), &len);
            assert_non_null(data);
            assert_int_equal(len, FILE_SIZE);
            snprintf(path, sizeof(path), "%s/files/%s", human, name);
            test_data_generated(expect, sizeof(expect), GEN_SEED, path);
            assert_memory_equal(data, expect, FILE_SIZE);
            free(data);
            files_seen++;
        }
        test_response_dispose(&res);
    }
    assert_int_equal(files_seen, STUDIES * FILES_PER_STUDY);
    json_decref(studies);

    /* Project files: inline content and generated bytes with the document's seed. */
    assert_int_equal(CALL(&res, &alice, "GET", NULL, "/api/data/projects/%s/files",
                          str(gen, "id")), 200);
    json_t *files = json_object_get(res.json, "files");
    assert_int_equal(json_array_size(files), 2);
    assert_string_equal(str(json_array_get(files, 0), "fileName"), "docs/readme.md");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(files, 0), "fileSize")), 6);
    size_t len = 0;
    char *data = test_data_read_object(&sandbox, str(json_array_get(files, 1), "key"), &len);
    assert_int_equal(len, 3000);
    unsigned char blob[3000];
    test_data_generated(blob, sizeof(blob), 9, "Gen/blob.bin");
    assert_memory_equal(data, blob, sizeof(blob));
    free(data);
    test_response_dispose(&res);
    json_decref(gen);
}

static void test_sandbox_seed__listed_studies_and_members(void **state)
{
    (void)state;
    test_login alice, bob;
    test_response res;
    login(&alice, "alice", "a-secret");
    login(&bob, "bob", "b-secret");
    json_t *gen = project(&alice, "Gen");
    const json_t *listed = institute(gen, "Listed");
    assert_string_equal(str(listed, "color"), "blue");
    assert_string_equal(str(listed, "studyType"), "WeTrustStudy");
    char hid[64];
    snprintf(hid, sizeof(hid), "%s", str(listed, "id"));

    assert_int_equal(CALL(&res, &alice, "GET", NULL, "/api/data/hospitals/%s/studies", hid), 200);
    assert_int_equal(json_array_size(res.json), 2);
    json_t *s = json_array_get(res.json, 0);
    /* A study without a type takes its institute's; unknown fields stay. */
    assert_string_equal(str(s, "studyType"), "WeTrustStudy");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(s, "unknown"), 1)), 2);
    assert_string_equal(str(s, "studyDate"), "2020-02-02T00:00:00");
    assert_string_equal(str(s, "studyIdHumanReadable"), "PX/0001");
    assert_null(json_object_get(s, "files"));
    json_t *e = json_array_get(res.json, 1);
    assert_string_equal(str(e, "studyType"), "EpdStudy");
    assert_string_equal(str(e, "studyIdHumanReadable"), "S/E-1");
    char sid[64], prefix[512];
    snprintf(sid, sizeof(sid), "%s", str(s, "studyDatabaseId"));
    snprintf(prefix, sizeof(prefix), "%s", str(s, "s3Prefix"));
    test_response_dispose(&res);

    assert_int_equal(CALL(&res, &alice, "GET", NULL, "/api/data/hospitals/%s/studies/%s/files",
                          hid, sid), 200);
    json_t *files = json_object_get(res.json, "files");
    assert_int_equal(json_array_size(files), 2);
    assert_true(json_is_true(json_object_get(json_array_get(files, 0), "isCompleted")));
    json_t *pending = json_array_get(files, 1);
    assert_string_equal(str(pending, "fileName"), "c.json");
    assert_true(json_is_false(json_object_get(pending, "isCompleted")));
    assert_int_equal(json_integer_value(json_object_get(pending, "fileSize")), 10);
    size_t len = 0;
    char *data = test_data_read_object(&sandbox, str(pending, "key"), &len);
    assert_null(data);
    data = test_data_read_object(&sandbox, str(json_array_get(files, 0), "key"), &len);
    assert_string_equal(data, "alpha");
    free(data);
    test_response_dispose(&res);
    assert_int_equal(CALL(&res, &alice, "GET", NULL,
                          "/api/data/hospitals/%s/studies/%s/files?auxiliary=True", hid, sid),
                     200);
    json_t *dicom = json_object_get(res.json, "dicom");
    assert_int_equal(json_array_size(dicom), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(dicom, 0), "fileSize")), 777);
    char key[700];
    snprintf(key, sizeof(key), "%s0/s/b.dcm", prefix);
    assert_string_equal(str(json_array_get(dicom, 0), "key"), key);
    test_response_dispose(&res);

    /* bob is a member of his project only. */
    assert_int_equal(CALL(&res, &bob, "GET", NULL, "/api/data/projects"), 200);
    assert_int_equal(json_array_size(res.json), 1);
    assert_string_equal(str(json_array_get(res.json, 0), "name"), "Bobs");
    test_response_dispose(&res);
    assert_int_equal(CALL(&res, &bob, "GET", NULL, "/api/data/hospitals/%s/studies", hid), 404);
    test_response_dispose(&res);
    json_decref(gen);
}

static void test_sandbox_seed__restart_keeps_data(void **state)
{
    (void)state;
    test_login alice;
    test_response res;
    login(&alice, "alice", "a-secret");
    json_t *gen = project(&alice, "Gen");
    char hid[64];
    snprintf(hid, sizeof(hid), "%s", str(institute(gen, "Big"), "id"));
    json_decref(gen);
    /* Something made through the API must survive too. */
    assert_int_equal(CALL(&res, &alice, "POST", "{\"studyType\": \"Study\", \"studyId\": \"NEW\"}",
                          "/api/data/hospitals/%s/studies", hid), 201);
    test_response_dispose(&res);

    int status = test_sandbox_stop_keep(&sandbox);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The folder was seeded before: even a broken seed file is not looked at. */
    char broken[450];
    snprintf(broken, sizeof(broken), "%s.broken", seed_path);
    assert_int_equal(test_data_write_file(broken, "{", 1), 0);
    const char *args[] = { "--seed", broken, NULL };
    assert_int_equal(test_sandbox_restart(&sandbox, args), 0);
    login(&alice, "alice", "a-secret");
    assert_int_equal(CALL(&res, &alice, "GET", NULL, "/api/data/hospitals/%s/studies", hid), 200);
    assert_int_equal(json_array_size(res.json), STUDIES + 1);
    assert_string_equal(str(json_array_get(res.json, STUDIES), "studyIdHumanReadable"),
                        "study/NEW");
    test_response_dispose(&res);
    unlink(broken);
}

/* Run the sandbox on a fresh folder with `seed`; returns the exit status, stderr in err. */
static int run_with_seed(const char *seed_text, char *err, size_t err_size)
{
    char dir[256], data[300], seed[300], err_path[300];
    assert_int_equal(test_make_temp_dir(dir, sizeof(dir), "badseed"), 0);
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(seed, sizeof(seed), "%s/seed.json", dir);
    snprintf(err_path, sizeof(err_path), "%s/stderr.txt", dir);
    assert_int_equal(test_data_write_file(seed, seed_text, strlen(seed_text)), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null_fd = open("/dev/null", O_WRONLY);
        if (fd < 0 || null_fd < 0)
            _exit(126);
        dup2(fd, STDERR_FILENO);
        dup2(null_fd, STDOUT_FILENO);
        execl(IGTCLOUD_SANDBOX_BIN, IGTCLOUD_SANDBOX_BIN, "--listen", "127.0.0.1:0", "--data",
              data, "--seed", seed, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    char *text = test_data_read_file(err_path, NULL);
    snprintf(err, err_size, "%s", text ? text : "");
    free(text);
    test_remove_tree(dir);
    return status;
}

static void test_sandbox_seed__bad_seed_file_exits_with_one_line(void **state)
{
    (void)state;
    static const struct {
        const char *doc;
        const char *mentions;
    } bad[] = {
        { "{\"projects\": [", "malformed JSON" },
        { "{\"projects\": [{\"name\": \"P\", \"institutes\": [{\"name\": \"H\", \"studies\": "
          "[{\"studyType\": \"Holiday\"}]}]}]}", "projects[0].institutes[0].studies[0]" },
        { "{\"projects\": [{\"name\": \"P\", \"members\": [\"nobody\"]}]}", "nobody" },
        { "{\"projects\": [{\"name\": \"P\", \"files\": [{\"name\": \"a\\nb\", \"size\": 1}]}]}",
          "control character" },
        { "{\"users\": [], \"typo\": 1}", "'typo'" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[2048];
        int status = run_with_seed(bad[i].doc, err, sizeof(err));
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 1);
        /* Exactly one line, naming the file and the problem. */
        char *nl = strchr(err, '\n');
        if (!nl || nl[1] != '\0')
            fail_msg("seed %zu: stderr is not one line: '%s'", i, err);
        assert_non_null(strstr(err, "igtcloud-sandbox: seed file '"));
        if (!strstr(err, bad[i].mentions))
            fail_msg("seed %zu: '%s' does not mention '%s'", i, err, bad[i].mentions);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sandbox_seed__generated_world),
        cmocka_unit_test(test_sandbox_seed__listed_studies_and_members),
        cmocka_unit_test(test_sandbox_seed__restart_keeps_data),
        cmocka_unit_test(test_sandbox_seed__bad_seed_file_exits_with_one_line),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
