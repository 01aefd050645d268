/* tools/layout: folder names, study keys and filters shared by download and upload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/error.h"
#include "tools/layout.h"

static json_t *load(const char *text)
{
    json_t *json = json_loads(text, 0, NULL);
    assert_non_null(json);
    return json;
}

static void test_layout__flat_and_hierarchical_folders(void **state)
{
    (void)state;
    json_t *study = load("{\"studyIdHumanReadable\": \"patient1/study1\"}");
    igtcloud__buf out = IGTCLOUD_BUF_INIT;
    assert_int_equal(igtcloud__layout_study_folder(&out, study, 0), 0);
    assert_string_equal(out.ptr, "patient1---study1");
    igtcloud__buf_clear(&out);
    assert_int_equal(igtcloud__layout_study_folder(&out, study, 1), 0);
    assert_string_equal(out.ptr, "patient1/study1");
    json_decref(study);

    const char *hostile[] = { "{\"studyIdHumanReadable\": \"../x\"}",
                              "{\"studyIdHumanReadable\": \"/abs/x\"}",
                              "{\"studyIdHumanReadable\": \"a\\\\b\"}",
                              "{\"studyIdHumanReadable\": \"\"}", "{}" };
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        study = load(hostile[i]);
        igtcloud__buf_clear(&out);
        assert_int_not_equal(igtcloud__layout_study_folder(&out, study, 1), 0);
        assert_int_equal(out.size, 0);
        json_decref(study);
    }
    igtcloud__buf_dispose(&out);
}

static void test_layout__study_key_precedence(void **state)
{
    (void)state;
    json_t *a = load("{\"clinicalStudy\": \"C\", \"name\": \"N\", \"studyDatabaseId\": \"D\"}");
    json_t *b = load("{\"subjectId\": \"S\", \"patient\": {\"patientName\": \"P\"}}");
    json_t *c = load("{\"patient\": {\"patientName\": \"P\"}, \"studyDatabaseId\": \"D\"}");
    json_t *d = load("{\"name\": \"\", \"studyDatabaseId\": \"D\"}");
    json_t *e = load("{}");
    assert_string_equal(igtcloud__layout_study_key(a), "N");
    assert_string_equal(igtcloud__layout_study_key(b), "S");
    assert_string_equal(igtcloud__layout_study_key(c), "P");
    assert_string_equal(igtcloud__layout_study_key(d), "D");
    assert_null(igtcloud__layout_study_key(e));
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d);
    json_decref(e);
}

static void test_layout__date_filter_whole_days(void **state)
{
    (void)state;
    json_t *study = load("{\"studyType\": \"Study\", \"studyDate\": \"2021-03-04T10:00:00\"}");
    json_t *epd = load("{\"studyType\": \"EpdStudy\", \"datetime\": \"2021-03-05T00:00:00\","
                       " \"studyDate\": \"1999-01-01T00:00:00\"}");
    json_t *undated = load("{\"studyType\": \"Study\"}");
    time_t day4 = 1614816000; /* 2021-03-04 */
    time_t day5 = day4 + 86400;
    assert_true(igtcloud__layout_date_match(study, 0, 0));
    assert_true(igtcloud__layout_date_match(study, day4, day4));
    assert_false(igtcloud__layout_date_match(study, day5, 0));
    assert_false(igtcloud__layout_date_match(study, 0, day4 - 86400));
    assert_true(igtcloud__layout_date_match(epd, day5, day5));
    assert_false(igtcloud__layout_date_match(epd, 0, day4));
    assert_true(igtcloud__layout_date_match(undated, 0, 0));
    assert_false(igtcloud__layout_date_match(undated, day4, 0));
    json_decref(study);
    json_decref(epd);
    json_decref(undated);
}

static void test_layout__extension_filter(void **state)
{
    (void)state;
    const char *dcm[] = { ".dcm", NULL };
    const char *several[] = { "JSON", ".txt", NULL };
    assert_true(igtcloud__layout_ext_match(NULL, ".x", "a.x"));
    assert_true(igtcloud__layout_ext_match(dcm, ".dcm", "a.dcm"));
    assert_true(igtcloud__layout_ext_match(dcm, NULL, "dir.v2/a.DCM"));
    assert_false(igtcloud__layout_ext_match(dcm, ".json", "a.json"));
    assert_false(igtcloud__layout_ext_match(dcm, NULL, "dir.dcm/noext"));
    assert_true(igtcloud__layout_ext_match(several, ".json", "x"));
    assert_true(igtcloud__layout_ext_match(several, "", "notes.TXT"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout__flat_and_hierarchical_folders),
        cmocka_unit_test(test_layout__study_key_precedence),
        cmocka_unit_test(test_layout__date_filter_whole_days),
        cmocka_unit_test(test_layout__extension_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
