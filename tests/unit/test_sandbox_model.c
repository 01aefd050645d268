/* The sandbox data service's pure parts: object keys, study rules, file rows, seeding. */
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

#include "data_model.h"
#include "objects.h"
#include "seed.h"
#include "seed_gen.h"
#include "test_sandbox.h"

static const struct {
    const char *key;
    int ok;
} key_vectors[] = {
    { "a", 1 },
    { "institutes/x/files/a.txt", 1 },
    { "a/.hidden/b..c/d.", 1 },
    { "with space/and-utf8-\xc3\xa9", 1 },
    { "", 0 },
    { "/abs", 0 },
    { "a//b", 0 },
    { "a/", 0 },
    { "..", 0 },
    { "a/../b", 0 },
    { "a/./b", 0 },
    { "./a", 0 },
    { "a/..", 0 },
    { "a\\b", 0 },
    { "a\nb", 0 },
    { "a\tb", 0 },
    { "a\x7f", 0 },
};

static void test_sandbox_model__object_keys(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(key_vectors) / sizeof(key_vectors[0]); i++) {
        const char *problem = sandbox_object_key_problem(key_vectors[i].key);
        if ((problem == NULL) != key_vectors[i].ok)
            fail_msg("key '%s': expected %s, got %s", key_vectors[i].key,
                     key_vectors[i].ok ? "ok" : "refused", problem ? problem : "ok");
    }
    /* NUL inside the key, length limits. */
    assert_non_null(sandbox_object_key_problem_n("a\0b", 3));
    char long_key[1100];
    memset(long_key, 'a', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    assert_non_null(sandbox_object_key_problem(long_key));
    char long_seg[300];
    memset(long_seg, 'b', sizeof(long_seg) - 1);
    long_seg[sizeof(long_seg) - 1] = '\0';
    assert_non_null(sandbox_object_key_problem(long_seg));
    assert_null(sandbox_object_prefix_problem("projects/p/"));
    assert_non_null(sandbox_object_prefix_problem("projects/p"));
    assert_non_null(sandbox_object_prefix_problem("/"));
    assert_non_null(sandbox_object_prefix_problem("a/../"));

    char path[256];
    assert_int_equal(sandbox_object_path(path, sizeof(path), "/data", "x/y.bin"), 0);
    assert_string_equal(path, "/data/objects/x/y.bin");
    assert_int_equal(sandbox_object_path(path, sizeof(path), "/data", "../etc/passwd"), -1);
    assert_int_equal(sandbox_object_path(path, 10, "/data", "x/y.bin"), -1);
}

static void test_sandbox_model__object_files(void **state)
{
    (void)state;
    char dir[256], path[512];
    long long size = -1;
    assert_int_equal(test_make_temp_dir(dir, sizeof(dir), "objects"), 0);
    assert_int_equal(sandbox_object_write(dir, "p/s/files/a.txt", "hello", 5), 0);
    assert_int_equal(sandbox_object_size(&size, dir, "p/s/files/a.txt"), 0);
    assert_int_equal(size, 5);
    /* Replacing keeps one object with the new bytes. */
    assert_int_equal(sandbox_object_write(dir, "p/s/files/a.txt", "hi", 2), 0);
    assert_int_equal(sandbox_object_size(&size, dir, "p/s/files/a.txt"), 0);
    assert_int_equal(size, 2);
    assert_int_equal(sandbox_object_write(dir, "p/s/0/b.dcm", "", 0), 0);
    assert_int_equal(sandbox_object_size(&size, dir, "p/s/0/b.dcm"), 0);
    assert_int_equal(size, 0);
    assert_int_equal(sandbox_object_write(dir, "../escape", "x", 1), -1);
    assert_int_equal(sandbox_object_size(&size, dir, "p/s/files/none"), -1);

    /* Deleting the last object of a folder removes the empty folders too. */
    assert_int_equal(sandbox_object_delete(dir, "p/s/files/a.txt"), 0);
    assert_int_equal(sandbox_object_delete(dir, "p/s/files/a.txt"), 0);
    struct stat st;
    snprintf(path, sizeof(path), "%s/objects/p/s/files", dir);
    assert_int_not_equal(stat(path, &st), 0);
    snprintf(path, sizeof(path), "%s/objects/p/s/0", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(sandbox_object_write(dir, "p/t/files/c", "c", 1), 0);
    assert_int_equal(sandbox_object_delete_prefix(dir, "p/s/"), 0);
    assert_int_equal(sandbox_object_size(&size, dir, "p/s/0/b.dcm"), -1);
    assert_int_equal(sandbox_object_size(&size, dir, "p/t/files/c"), 0);
    assert_int_equal(sandbox_object_delete_prefix(dir, "nothing/here/"), 0);
    assert_int_equal(sandbox_object_delete_prefix(dir, "../"), -1);
    /* No temporary files are left behind. */
    snprintf(path, sizeof(path), "%s/tmp", dir);
    assert_int_equal(rmdir(path), 0);
    test_remove_tree(dir);
}

static void test_sandbox_model__file_categories(void **state)
{
    (void)state;
    const char *prefix = "institutes/h/p/s/";
    const char *rel = NULL;
    assert_int_equal(sandbox_study_file_category(prefix, "institutes/h/p/s/files/a/b.txt", &rel),
                     SANDBOX_CATEGORY_FILES);
    assert_string_equal(rel, "a/b.txt");
    assert_int_equal(sandbox_study_file_category(prefix, "institutes/h/p/s/0/x.dcm", &rel),
                     SANDBOX_CATEGORY_DICOM);
    assert_string_equal(rel, "x.dcm");
    assert_int_equal(sandbox_study_file_category(prefix, "institutes/h/p/s/annotations/l.json",
                                                 &rel),
                     SANDBOX_CATEGORY_ANNOTATIONS);
    assert_string_equal(rel, "l.json");
    assert_int_equal(sandbox_study_file_category(prefix, "institutes/h/p/s/files/", &rel),
                     SANDBOX_CATEGORY_NONE);
    assert_int_equal(sandbox_study_file_category(prefix, "institutes/h/p/s/other/a", &rel),
                     SANDBOX_CATEGORY_NONE);
    assert_int_equal(sandbox_study_file_category(prefix, "institutes/h/p/t/files/a", &rel),
                     SANDBOX_CATEGORY_NONE);
    assert_int_equal(sandbox_study_file_category(prefix, "institutes/h/p/s/files/../x", &rel),
                     SANDBOX_CATEGORY_NONE);
    assert_int_equal(sandbox_category_parse("dicom"), SANDBOX_CATEGORY_DICOM);
    assert_int_equal(sandbox_category_parse("x"), SANDBOX_CATEGORY_NONE);

    static const struct {
        const char *name;
        const char *type;
    } types[] = {
        { "a.txt", ".txt" }, { "dir.d/noext", "" }, { "a/b.tar.gz", ".gz" },
        { ".hidden", "" }, { "..x", "" }, { "a/.b.json", ".json" }, { "x.DCM", ".DCM" },
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        char type[64];
        sandbox_file_type(type, sizeof(type), types[i].name);
        assert_string_equal(type, types[i].type);
    }

    sandbox_file_info info = { "k/files/a.dcm", "a.dcm", 200, 0, 1, NULL, 50 };
    json_t *file = sandbox_file_json(&info);
    assert_non_null(file);
    assert_string_equal(json_string_value(json_object_get(file, "type")), ".dcm");
    assert_int_equal(json_integer_value(json_object_get(file, "progressPercentage")), 25);
    assert_int_equal(json_integer_value(json_object_get(file, "progressInBytes")), 50);
    assert_true(json_is_null(json_object_get(file, "uploadId")));
    assert_true(json_is_false(json_object_get(file, "isCompleted")));
    json_decref(file);
}

static json_t *parse(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

static void test_sandbox_model__study_rules(void **state)
{
    (void)state;
    char msg[300];
    json_t *s = parse("{\"x\": 1, \"studyType\": \"Study\", \"studyDate\": \"2021-03-04\","
                      " \"patient\": {\"dateOfBirth\": \"1960-01-02T03:04:05\"}}");
    assert_int_equal(sandbox_study_check(s, msg, sizeof(msg)), 0);
    assert_string_equal(json_string_value(json_object_get(s, "studyDate")),
                        "2021-03-04T00:00:00");
    json_decref(s);

    static const struct {
        const char *body;
        const char *field;
    } bad[] = {
        { "[]", "object" },
        { "{}", "'studyType'" },
        { "{\"studyType\": \"Nope\"}", "'studyType'" },
        { "{\"studyType\": 3}", "'studyType'" },
        { "{\"studyType\": \"Study\", \"studyDate\": \"yesterday\"}", "'studyDate'" },
        { "{\"studyType\": \"EpdStudy\", \"datetime\": 5}", "'datetime'" },
        { "{\"studyType\": \"Study\", \"patient\": \"x\"}", "'patient'" },
        { "{\"studyType\": \"Study\", \"patient\": {\"dateOfBirth\": \"1-2-3\"}}",
          "'patient.dateOfBirth'" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s = json_loads(bad[i].body, JSON_DECODE_ANY, NULL);
        assert_int_equal(sandbox_study_check(s, msg, sizeof(msg)), -1);
        if (!strstr(msg, bad[i].field))
            fail_msg("'%s': message '%s' does not name %s", bad[i].body, msg, bad[i].field);
        json_decref(s);
    }
    assert_true(sandbox_study_type_has_patient("WeTrustStudy"));
    assert_false(sandbox_study_type_has_patient("EpdStudy"));
    assert_false(sandbox_study_type_has_patient("IGuideUStudy"));

    char human[300];
    s = parse("{\"studyId\": \"S/1\", \"patient\": {\"patientName\": \"Doe^J\"}}");
    sandbox_study_human_id(human, sizeof(human), s, "p", "0001");
    assert_string_equal(human, "Doe^J/S_1");
    json_decref(s);
    s = parse("{\"subjectId\": \"SUBJ\", \"visitName\": \"V2\"}");
    sandbox_study_human_id(human, sizeof(human), s, "p", "0001");
    assert_string_equal(human, "SUBJ/V2");
    json_decref(s);
    s = parse("{}");
    sandbox_study_human_id(human, sizeof(human), s, "p", "0001");
    assert_string_equal(human, "p/0001");
    json_decref(s);

    json_t *target = parse("{\"a\": 1, \"b\": {\"c\": 2, \"d\": 3}, \"e\": 4}");
    json_t *patch = parse("{\"a\": 9, \"b\": {\"c\": null, \"x\": 1}, \"e\": null, \"n\": [1]}");
    assert_int_equal(sandbox_json_merge_patch(target, patch), 0);
    char *text = json_dumps(target, JSON_COMPACT);
    assert_string_equal(text, "{\"a\":9,\"b\":{\"d\":3,\"x\":1},\"n\":[1]}");
    free(text);
    json_decref(target);
    json_decref(patch);
}

static void test_sandbox_model__generator_is_deterministic(void **state)
{
    (void)state;
    /* Vectors computed independently from the documented algorithm. */
    assert_true(sandbox_gen_fnv1a64("") == 0xcbf29ce484222325ULL);
    assert_true(sandbox_gen_fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
    static const unsigned char expect[16] = {
        0x95, 0x02, 0x8e, 0x37, 0x04, 0xab, 0xdd, 0x41,
        0x8a, 0x77, 0xf2, 0x35, 0xd6, 0x71, 0x44, 0x77,
    };
    unsigned char got[16], again[16];
    sandbox_gen g;
    sandbox_gen_init(&g, 42, "P000001/S000001/files/file-0001.bin");
    sandbox_gen_fill(&g, got, sizeof(got));
    assert_memory_equal(got, expect, sizeof(expect));
    /* Chunked in multiples of 8, the stream is the same. */
    sandbox_gen_init(&g, 42, "P000001/S000001/files/file-0001.bin");
    sandbox_gen_fill(&g, again, 8);
    sandbox_gen_fill(&g, again + 8, 5);
    assert_memory_equal(again, expect, 13);
    /* Another path or seed gives other bytes. */
    sandbox_gen_init(&g, 43, "P000001/S000001/files/file-0001.bin");
    sandbox_gen_fill(&g, again, sizeof(again));
    assert_memory_not_equal(again, expect, sizeof(expect));
}

static void test_sandbox_model__seed_documents(void **state)
{
    (void)state;
    char msg[600];
    json_t *doc = NULL;
    assert_int_equal(sandbox_seed_parse(&doc, sandbox_seed_demo_json,
                                        strlen(sandbox_seed_demo_json), msg, sizeof(msg)), 0);
    json_decref(doc);

    static const struct {
        const char *text;
        const char *expect;
    } bad[] = {
        { "{", "malformed JSON" },
        { "[]", "must be a JSON object" },
        { "{\"projcts\": []}", "unknown field 'projcts'" },
        { "{\"users\": [{\"login\": \"a\"}]}", "users[0]: field 'password' is required" },
        { "{\"users\": [{\"login\": \"a\", \"password\": \"p\"}, {\"login\": \"a\", \"password\": "
          "\"p\"}]}", "users[1]: login 'a' is used twice" },
        { "{\"projects\": [{\"name\": \"P\", \"members\": [\"ghost\"]}]}",
          "projects[0].members[0]: 'ghost' is not one of the document's users" },
        { "{\"projects\": [{\"name\": \"P\", \"institutes\": [{\"name\": \"H\", \"studies\":"
          " [{\"studyType\": \"Bogus\"}]}]}]}",
          "projects[0].institutes[0].studies[0]: field 'studyType'" },
        { "{\"projects\": [{\"name\": \"P\", \"institutes\": [{\"name\": \"H\", \"studies\":"
          " [{\"files\": [{\"name\": \"../x\", \"size\": 1}]}]}]}]}",
          "projects[0].institutes[0].studies[0].files[0]: field 'name'" },
        { "{\"projects\": [{\"name\": \"P\", \"files\": [{\"name\": \"x\"}]}]}",
          "give exactly one of 'size' and 'content'" },
        { "{\"projects\": [{\"name\": \"P\", \"institutes\": [{\"name\": \"H\", \"generate\":"
          " {\"studies\": 10, \"filesPerStudy\": -1}}]}]}", "field 'filesPerStudy'" },
        { "{\"projects\": [{\"name\": \"P\", \"s3Prefix\": \"a/\"}, {\"name\": \"Q\","
          " \"s3Prefix\": \"a/b/\"}]}", "overlaps" },
        { "{\"projects\": [{\"name\": \"P\", \"id\": \"a/b\"}]}", "field 'id'" },
        { "{\"projects\": [{\"name\": \"P\", \"institutes\": [{\"name\": \"H\", \"generate\":"
          " {\"studies\": 1000000, \"filesPerStudy\": 100000}}]}]}", "at most" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        doc = NULL;
        msg[0] = '\0';
        assert_int_equal(sandbox_seed_parse(&doc, bad[i].text, strlen(bad[i].text), msg,
                                            sizeof(msg)), -1);
        assert_null(doc);
        if (!strstr(msg, bad[i].expect))
            fail_msg("seed %zu: message '%s' lacks '%s'", i, msg, bad[i].expect);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sandbox_model__object_keys),
        cmocka_unit_test(test_sandbox_model__object_files),
        cmocka_unit_test(test_sandbox_model__file_categories),
        cmocka_unit_test(test_sandbox_model__study_rules),
        cmocka_unit_test(test_sandbox_model__generator_is_deterministic),
        cmocka_unit_test(test_sandbox_model__seed_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
