/* tools/csv: the reference's CSV listing, column for column and value for value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "tools/csv.h"

static json_t *load(const char *text)
{
    json_error_t error;
    json_t *json = json_loads(text, 0, &error);
    assert_non_null(json);
    return json;
}

static const char study_text[] =
    "{\"studyType\": \"Study\", \"studyDatabaseId\": \"s1\", \"s3Prefix\": \"i/p/s/\","
    " \"studyIdHumanReadable\": \"P1/S1\", \"studyDate\": \"2021-03-04T10:00:00\","
    " \"createdOn\": \"2021-03-04T10:00:00.250+00:00\", \"isPhilipsData\": true,"
    " \"archived\": false, \"comment\": null, \"labels\": [\"a\", \"b\"],"
    " \"scores\": [1, 2.5], \"ratio\": 0.1, \"count\": 7,"
    " \"patient\": {\"patientName\": \"Doe, John\", \"dateOfBirth\": \"1970-01-01\","
    "   \"s3Prefix\": \"i/p/\", \"patientId\": \"P1\", \"address\": {\"city\": \"Best\"}}}";

static void test_csv__flatten_follows_the_reference_naming(void **state)
{
    (void)state;
    json_t *study = load(study_text);
    igtcloud__csv_columns columns = { NULL, 0 };
    assert_int_equal(igtcloud__csv_columns_from_study(&columns, study, 0), 0);
    const char *expected[] = { "studyDatabaseId", "studyIdHumanReadable", "studyDate",
                               "createdOn", "isPhilipsData", "archived", "comment", "labels",
                               "scores", "ratio", "count", "patientName",
                               "patientDateofbirth", "patientId", "patientAddressCity" };
    assert_int_equal(columns.count, sizeof(expected) / sizeof(expected[0]));
    for (size_t i = 0; i < columns.count; i++)
        assert_string_equal(columns.names[i], expected[i]);
    igtcloud__csv_columns_dispose(&columns);
    json_decref(study);
}

static void test_csv__values_are_written_as_python_prints_them(void **state)
{
    (void)state;
    json_t *study = load(study_text);
    json_t *flat = NULL;
    igtcloud__csv_columns columns = { NULL, 0 };
    igtcloud__buf out = IGTCLOUD_BUF_INIT;
    assert_int_equal(igtcloud__csv_flatten(&flat, study), 0);
    assert_int_equal(igtcloud__csv_columns_from_study(&columns, study, 1), 0);
    assert_int_equal(igtcloud__csv_write_header(&out, &columns), 0);
    assert_int_equal(igtcloud__csv_write_row(&out, &columns, flat, "a,b.dcm", 12), 0);
    assert_string_equal(igtcloud__buf_cstr(&out),
        "studyDatabaseId,studyIdHumanReadable,studyDate,createdOn,isPhilipsData,archived,"
        "comment,labels,scores,ratio,count,patientName,patientDateofbirth,patientId,"
        "patientAddressCity,filename,filesize\r\n"
        "s1,P1/S1,2021-03-04 10:00:00,2021-03-04 10:00:00.250000+00:00,True,False,,"
        "\"a, b\",\"[1, 2.5]\",0.1,7,\"Doe, John\",1970-01-01,P1,Best,\"a,b.dcm\",12\r\n");
    igtcloud__buf_dispose(&out);
    igtcloud__csv_columns_dispose(&columns);
    json_decref(flat);
    json_decref(study);
}

static void test_csv__quoting_follows_rfc4180(void **state)
{
    (void)state;
    igtcloud__buf out = IGTCLOUD_BUF_INIT;
    const char *fields[] = { "plain", "with,comma", "say \"hi\"", "two\nlines", "caf\xc3\xa9" };
    const char *expected = "plain|\"with,comma\"|\"say \"\"hi\"\"\"|\"two\nlines\"|caf\xc3\xa9|";
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(igtcloud__csv_put_field(&out, fields[i], strlen(fields[i])), 0);
        igtcloud__buf_putc(&out, '|');
    }
    assert_string_equal(igtcloud__buf_cstr(&out), expected);
    igtcloud__buf_dispose(&out);
}

static void test_csv__existing_header_decides_the_columns(void **state)
{
    (void)state;
    igtcloud__csv_columns columns = { NULL, 0 };
    assert_int_equal(igtcloud__csv_columns_parse(&columns, "count,\"odd,name\",studyDate\r\n"), 0);
    assert_int_equal(columns.count, 3);
    assert_string_equal(columns.names[1], "odd,name");

    json_t *study = load(study_text);
    json_t *flat = NULL;
    igtcloud__buf out = IGTCLOUD_BUF_INIT;
    assert_int_equal(igtcloud__csv_flatten(&flat, study), 0);
    assert_int_equal(igtcloud__csv_write_row(&out, &columns, flat, NULL, -1), 0);
    assert_string_equal(igtcloud__buf_cstr(&out), "7,,2021-03-04 10:00:00\r\n");
    igtcloud__buf_dispose(&out);
    igtcloud__csv_columns_dispose(&columns);
    assert_int_not_equal(igtcloud__csv_columns_parse(&columns, "\"unterminated\r\n"), 0);
    json_decref(flat);
    json_decref(study);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv__flatten_follows_the_reference_naming),
        cmocka_unit_test(test_csv__values_are_written_as_python_prints_them),
        cmocka_unit_test(test_csv__quoting_follows_rfc4180),
        cmocka_unit_test(test_csv__existing_header_decides_the_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
