/*
 * The sandbox's data service (/api/data, /api/action) over real sockets, on
 * the demo world: shapes and status codes of openapi/entities.json, who may
 * see what, and the object files behind the file rows.
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
#include <sys/wait.h>

#include "test_data.h"
#include "test_http.h"
#include "test_sandbox.h"

static test_sandbox sandbox;
static test_login demo, other;

static int setup(void **state)
{
    (void)state;
    static const char *const args[] = { "--seed", "demo", NULL };
    if (test_sandbox_start(&sandbox, args))
        return -1;
    if (test_login_password(&demo, sandbox.api_url, "demo", "demo") != 200 ||
        test_login_password(&other, sandbox.api_url, "other", "other") != 200) {
        fprintf(stderr, "login of demo/other failed\n");
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_sandbox_stop(&sandbox);
    return 0;
}

/* ---- helpers ---- */

#define CALL(res, who, method, body, ...) \
    test_data_call(res, &sandbox, who, method, body, __VA_ARGS__)

static const char *str(const json_t *obj, const char *name)
{
    const char *v = json_string_value(json_object_get(obj, name));
    if (!v)
        fail_msg("field '%s' is missing or not a string", name);
    return v;
}

/* The keys of obj in order, joined with ','. */
static void key_order(char *out, size_t size, const json_t *obj)
{
    const char *key;
    json_t *value;
    size_t used = 0;
    out[0] = '\0';
    json_object_foreach((json_t *)obj, key, value) {
        int n = snprintf(out + used, size - used, "%s%s", used ? "," : "", key);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
}

static void expect_error(test_response *res, long status, long expect, const char *mentions)
{
    if (status != expect)
        fail_msg("expected %ld, got %ld: %s", expect, status, res->body);
    const char *message = json_string_value(json_object_get(res->json, "message"));
    assert_non_null(message);
    if (mentions && !strstr(message, mentions))
        fail_msg("message '%s' does not mention '%s'", message, mentions);
    test_response_dispose(res);
}

/* Create a study in Hospital A from `body`; returns the new study (caller decrefs). */
static json_t *create_study(const char *body)
{
    test_response res;
    long status = CALL(&res, &demo, "POST", body, "/api/data/hospitals/%s/studies",
                       TEST_DEMO_HOSPITAL_A);
    if (status != 201)
        fail_msg("study POST answered %ld: %s", status, res.body);
    json_t *study = json_incref(res.json);
    test_response_dispose(&res);
    return study;
}

/* Find the study with this studyIdHumanReadable in Hospital A or B. */
static json_t *find_study(const char *hospital, const char *human)
{
    test_response res;
    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/hospitals/%s/studies", hospital),
                     200);
    size_t i;
    json_t *s, *found = NULL;
    json_array_foreach(res.json, i, s) {
        if (strcmp(str(s, "studyIdHumanReadable"), human) == 0)
            found = json_incref(s);
    }
    test_response_dispose(&res);
    if (!found)
        fail_msg("no study '%s'", human);
    return found;
}

/* Put bytes at an object's file as the S3 endpoint would (mkdir -p + write). */
static void put_object(const char *key, const char *data, size_t len)
{
    char path[2048];
    snprintf(path, sizeof(path), "%s/objects/%s", sandbox.data_dir, key);
    for (char *p = path + strlen(sandbox.data_dir) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    }
    assert_int_equal(test_data_write_file(path, data, len), 0);
}

static int object_exists(const char *key)
{
    char path[2048];
    struct stat st;
    snprintf(path, sizeof(path), "%s/objects/%s", sandbox.data_dir, key);
    return stat(path, &st) == 0;
}

/* ---- projects and institutes ---- */

static void check_institute_shape(const json_t *inst, const char *id, const char *name,
                                  const char *prefix)
{
    char order[512];
    assert_string_equal(str(inst, "id"), id);
    assert_string_equal(str(inst, "name"), name);
    assert_string_equal(str(inst, "s3Prefix"), prefix);
    assert_string_equal(str(inst, "studyType"), "Study");
    assert_string_equal(str(inst, "projectTypeName"), "IGT Cloud");
    assert_true(json_is_string(json_object_get(inst, "description")));
    assert_true(json_is_boolean(json_object_get(inst, "hasSeries")));
    assert_true(json_object_get(inst, "parentId") != NULL);
    assert_null(json_object_get(inst, "studies"));
    key_order(order, sizeof(order), inst);
    assert_string_equal(order, "id,name,description,parentId,hasSeries,projectTypeName,"
                               "studyType,s3Prefix");
}

static void test_sandbox_data__projects_list_shape(void **state)
{
    (void)state;
    test_response res;
    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/projects"), 200);
    assert_true(json_is_array(res.json));
    assert_int_equal(json_array_size(res.json), 1);
    json_t *p = json_array_get(res.json, 0);
    assert_string_equal(str(p, "id"), TEST_DEMO_PROJECT);
    assert_string_equal(str(p, "name"), "Demo Project");
    assert_string_equal(str(p, "description"), "The sandbox demo project");
    assert_string_equal(str(p, "projectTypeName"), "IGT Cloud");
    assert_string_equal(str(p, "studyType"), "Study");
    assert_string_equal(str(p, "s3Prefix"), TEST_DEMO_PROJECT_PREFIX);
    assert_string_equal(json_string_value(json_array_get(json_object_get(p, "continents"), 0)),
                        "Europe");
    json_t *institutes = json_object_get(p, "institutes");
    assert_int_equal(json_array_size(institutes), 2);
    check_institute_shape(json_array_get(institutes, 0), TEST_DEMO_HOSPITAL_A, "Hospital A",
                          "institutes/hospital-a/");
    check_institute_shape(json_array_get(institutes, 1), TEST_DEMO_HOSPITAL_B, "Hospital B",
                          "institutes/hospital-b/");
    char type[128];
    assert_int_equal(test_response_header(&res, "Content-Type", type, sizeof(type)), 0);
    assert_string_equal(type, "application/json");
    test_response_dispose(&res);

    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/projects/%s", TEST_DEMO_PROJECT),
                     200);
    assert_string_equal(str(res.json, "name"), "Demo Project");
    assert_int_equal(json_array_size(json_object_get(res.json, "institutes")), 2);
    test_response_dispose(&res);

    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/projects/%s/hospitals",
                          TEST_DEMO_PROJECT), 200);
    assert_int_equal(json_array_size(res.json), 2);
    check_institute_shape(json_array_get(res.json, 1), TEST_DEMO_HOSPITAL_B, "Hospital B",
                          "institutes/hospital-b/");
    test_response_dispose(&res);

    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/hospitals"), 200);
    assert_int_equal(json_array_size(res.json), 2);
    test_response_dispose(&res);

    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/projects/hospitals/%s",
                          TEST_DEMO_HOSPITAL_A), 200);
    check_institute_shape(res.json, TEST_DEMO_HOSPITAL_A, "Hospital A", "institutes/hospital-a/");
    test_response_dispose(&res);
}

static void test_sandbox_data__unauthenticated_is_401(void **state)
{
    (void)state;
    test_response res;
    expect_error(&res, CALL(&res, NULL, "GET", NULL, "/api/data/projects"), 401, NULL);
    expect_error(&res, CALL(&res, NULL, "GET", NULL, "/api/data/hospitals/%s/studies",
                            TEST_DEMO_HOSPITAL_A), 401, NULL);
    expect_error(&res, CALL(&res, NULL, "POST", "{}", "/api/action/update-database"), 401, NULL);
}

static void test_sandbox_data__other_user_sees_nothing_of_the_demo_project(void **state)
{
    (void)state;
    test_response res;
    json_t *study = find_study(TEST_DEMO_HOSPITAL_A, "PAT-001/STUDY-1");
    const char *sid = str(study, "studyDatabaseId");
    const char *a = TEST_DEMO_HOSPITAL_A, *p = TEST_DEMO_PROJECT;

    assert_int_equal(CALL(&res, &other, "GET", NULL, "/api/data/projects"), 200);
    assert_int_equal(json_array_size(res.json), 0);
    test_response_dispose(&res);
    assert_int_equal(CALL(&res, &other, "GET", NULL, "/api/data/hospitals"), 200);
    assert_int_equal(json_array_size(res.json), 0);
    test_response_dispose(&res);

    expect_error(&res, CALL(&res, &other, "GET", NULL, "/api/data/projects/%s", p), 404, NULL);
    expect_error(&res, CALL(&res, &other, "DELETE", NULL, "/api/data/projects/%s", p), 404, NULL);
    expect_error(&res, CALL(&res, &other, "GET", NULL, "/api/data/projects/%s/hospitals", p),
                 404, NULL);
    expect_error(&res, CALL(&res, &other, "POST", "{\"name\": \"X\"}",
                            "/api/data/projects/%s/hospitals", p), 404, NULL);
    expect_error(&res, CALL(&res, &other, "DELETE", NULL, "/api/data/projects/%s/hospitals/%s",
                            p, a), 404, NULL);
    expect_error(&res, CALL(&res, &other, "GET", NULL, "/api/data/projects/hospitals/%s", a),
                 404, NULL);
    expect_error(&res, CALL(&res, &other, "GET", NULL, "/api/data/projects/%s/files", p), 404,
                 NULL);
    expect_error(&res, CALL(&res, &other, "GET", NULL, "/api/data/hospitals/%s/studies", a), 404,
                 NULL);
    expect_error(&res, CALL(&res, &other, "POST", "{\"studyType\": \"Study\"}",
                            "/api/data/hospitals/%s/studies", a), 404, NULL);
    expect_error(&res, CALL(&res, &other, "GET", NULL, "/api/data/hospitals/%s/studies/%s", a,
                            sid), 404, NULL);
    expect_error(&res, CALL(&res, &other, "PATCH", "{\"x\": 1}",
                            "/api/data/hospitals/%s/studies/%s", a, sid), 404, NULL);
    expect_error(&res, CALL(&res, &other, "DELETE", NULL, "/api/data/hospitals/%s/studies/%s", a,
                            sid), 404, NULL);
    expect_error(&res, CALL(&res, &other, "GET", NULL, "/api/data/hospitals/%s/studies/%s/files",
                            a, sid), 404, NULL);
    expect_error(&res, CALL(&res, &other, "POST",
                            "{\"hospitalId\": \"" TEST_DEMO_HOSPITAL_A "\", \"uploadedPath\": "
                            "\"x/\", \"isPrefix\": true}", "/api/action/update-database"),
                 404, NULL);
    /* Every other call on the study, its files and the institute's services, too. */
    expect_error(&res, CALL(&res, &other, "PUT", "{\"studyType\": \"Study\"}",
                            "/api/data/hospitals/%s/studies/%s", a, sid), 404, NULL);
    expect_error(&res, CALL(&res, &other, "POST", "[{\"key\": \"k\", \"fileSize\": 1}]",
                            "/api/data/hospitals/%s/studies/%s/files", a, sid), 404, NULL);
    expect_error(&res, CALL(&res, &other, "DELETE", NULL,
                            "/api/data/hospitals/%s/studies/%s/files?keys=k", a, sid), 404, NULL);
    expect_error(&res, CALL(&res, &other, "POST", "{\"uploadedPath\": \"notes.txt\"}",
                            "/api/data/hospitals/%s/studies/%s/files/$file-upload-completed", a,
                            sid), 404, NULL);
    expect_error(&res, CALL(&res, &other, "POST", "{\"username\": \"other\", \"password\": "
                            "\"other\", \"electronicRecordState\": \"submitted\"}",
                            "/api/data/hospitals/%s/studies/%s/electronic-record-state", a, sid),
                 404, NULL);
    expect_error(&res, CALL(&res, &other, "POST", "[{\"key\": \"k\", \"fileSize\": 1}]",
                            "/api/data/projects/%s/files", p), 404, NULL);
    expect_error(&res, CALL(&res, &other, "DELETE", NULL, "/api/data/projects/%s/files?keys=k",
                            p), 404, NULL);
    expect_error(&res, CALL(&res, &other, "GET", NULL, "/api/data/organizations/%s/services", a),
                 404, NULL);
    expect_error(&res, CALL(&res, &other, "POST", "{\"name\": \"x\"}",
                            "/api/data/organizations/%s/services", a), 404, NULL);
    expect_error(&res, CALL(&res, &other, "DELETE", NULL,
                            "/api/data/organizations/%s/services/x", a), 404, NULL);
    /* S3 credentials for the project's prefix are refused as for a prefix nobody has. */
    long known = CALL(&res, &other, "GET", NULL,
                      "/api/auth/s3credentials?action=GET&prefix=projects/demo-project/");
    char known_message[512];
    snprintf(known_message, sizeof(known_message), "%s", res.body);
    expect_error(&res, known, 403, NULL);
    long unknown = CALL(&res, &other, "GET", NULL,
                        "/api/auth/s3credentials?action=GET&prefix=projects/no-such/");
    assert_string_equal(res.body, known_message);
    expect_error(&res, unknown, 403, NULL);
    /* Ids that exist nowhere answer the same. */
    expect_error(&res, CALL(&res, &demo, "GET", NULL, "/api/data/projects/no-such"), 404, NULL);
    expect_error(&res, CALL(&res, &demo, "GET", NULL, "/api/data/hospitals/%s/studies/no-such",
                            a), 404, NULL);
    /* A study is found only under its own hospital. */
    expect_error(&res, CALL(&res, &demo, "GET", NULL, "/api/data/hospitals/%s/studies/%s",
                            TEST_DEMO_HOSPITAL_B, sid), 404, NULL);
    json_decref(study);
}

static void test_sandbox_data__create_and_delete_project_and_hospital(void **state)
{
    (void)state;
    test_response res;
    assert_int_equal(CALL(&res, &demo, "POST",
                          "{\"name\": \"Scratch\", \"description\": \"d\", \"custom\": [1],"
                          " \"id\": \"ignored\"}", "/api/data/projects"), 200);
    assert_true(json_is_array(res.json));
    json_t *p = json_incref(json_array_get(res.json, 0));
    test_response_dispose(&res);
    char pid[64], prefix[128];
    snprintf(pid, sizeof(pid), "%s", str(p, "id"));
    snprintf(prefix, sizeof(prefix), "%s", str(p, "s3Prefix"));
    assert_string_not_equal(pid, "ignored");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(p, "custom"), 0)), 1);
    assert_string_equal(str(p, "studyType"), "Study");
    assert_int_equal(json_array_size(json_object_get(p, "institutes")), 0);
    json_decref(p);

    /* The creator is a member; the other user is not. */
    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/projects"), 200);
    assert_int_equal(json_array_size(res.json), 2);
    test_response_dispose(&res);
    expect_error(&res, CALL(&res, &other, "GET", NULL, "/api/data/projects/%s", pid), 404, NULL);
    expect_error(&res, CALL(&res, &demo, "POST", "{\"name\": \"Scratch\"}", "/api/data/projects"),
                 409, "Scratch");
    expect_error(&res, CALL(&res, &demo, "POST", "{\"description\": \"x\"}",
                            "/api/data/projects"), 400, "'name'");

    assert_int_equal(CALL(&res, &demo, "POST", "{\"name\": \"Ward\", \"studyType\": "
                          "\"EchoNavStudy\"}", "/api/data/projects/%s/hospitals", pid), 201);
    char hid[64];
    snprintf(hid, sizeof(hid), "%s", str(res.json, "id"));
    assert_string_equal(str(res.json, "studyType"), "EchoNavStudy");
    assert_non_null(strstr(str(res.json, "s3Prefix"), hid));
    test_response_dispose(&res);
    expect_error(&res, CALL(&res, &demo, "POST", "{\"name\": \"Ward\"}",
                            "/api/data/projects/%s/hospitals", pid), 409, NULL);
    expect_error(&res, CALL(&res, &demo, "POST", "{\"name\": \"W2\", \"studyType\": \"X\"}",
                            "/api/data/projects/%s/hospitals", pid), 400, "'studyType'");

    /* A study with a file inside the new hospital; deleting takes it all away. */
    assert_int_equal(CALL(&res, &demo, "POST", "{\"studyType\": \"EchoNavStudy\"}",
                          "/api/data/hospitals/%s/studies", hid), 201);
    char key[512];
    snprintf(key, sizeof(key), "%sfiles/x.bin", str(res.json, "s3Prefix"));
    test_response_dispose(&res);
    put_object(key, "xyz", 3);
    assert_int_equal(CALL(&res, &demo, "DELETE", NULL, "/api/data/projects/%s/hospitals/%s", pid,
                          hid), 204);
    assert_int_equal(res.body_len, 0);
    test_response_dispose(&res);
    assert_false(object_exists(key));
    expect_error(&res, CALL(&res, &demo, "GET", NULL, "/api/data/projects/hospitals/%s", hid),
                 404, NULL);

    assert_int_equal(CALL(&res, &demo, "DELETE", NULL, "/api/data/projects/%s", pid), 204);
    test_response_dispose(&res);
    expect_error(&res, CALL(&res, &demo, "GET", NULL, "/api/data/projects/%s", pid), 404, NULL);
}

/* ---- studies ---- */

static void test_sandbox_data__study_round_trip(void **state)
{
    (void)state;
    test_response res;
    char order[1024], sid[64], prefix[512];
    json_t *s = create_study(
        "{\"studyType\": \"Study\", \"zeta\": 1, \"alpha\": {\"nested\": [1, 2]},"
        " \"studyDate\": \"2021-03-04\", \"studyId\": \"RT\", \"studyIdHumanReadable\": \"x\","
        " \"patient\": {\"patientId\": \"RT-1\", \"patientName\": \"Round^Trip\"},"
        " \"omega\": null}");
    key_order(order, sizeof(order), s);
    /* The body's fields keep their order; the server's own follow. */
    assert_int_equal(strncmp(order, "studyType,zeta,alpha,studyDate,studyId,"
                                    "studyIdHumanReadable,patient,omega,studyDatabaseId", 79), 0);
    assert_string_equal(str(s, "studyDate"), "2021-03-04T00:00:00");
    assert_string_equal(str(s, "studyIdHumanReadable"), "RT-1/RT");
    assert_string_equal(str(s, "instituteId"), TEST_DEMO_HOSPITAL_A);
    assert_string_equal(str(s, "hospitalId"), TEST_DEMO_HOSPITAL_A);
    assert_string_equal(str(s, "projectId"), TEST_DEMO_PROJECT);
    assert_true(json_is_null(json_object_get(s, "omega")));
    assert_int_equal(json_integer_value(json_array_get(
                         json_object_get(json_object_get(s, "alpha"), "nested"), 1)), 2);
    snprintf(sid, sizeof(sid), "%s", str(s, "studyDatabaseId"));
    snprintf(prefix, sizeof(prefix), "%s", str(s, "s3Prefix"));
    assert_int_equal(strncmp(prefix, "institutes/hospital-a/", 22), 0);
    assert_int_equal(prefix[strlen(prefix) - 1], '/');
    json_t *patient = json_object_get(s, "patient");
    assert_string_equal(str(patient, "patientName"), "Round^Trip");
    assert_string_equal(str(s, "patientDatabaseId"), str(patient, "patientDatabaseId"));
    assert_int_equal(strncmp(prefix, str(patient, "s3Prefix"), strlen(str(patient, "s3Prefix"))),
                     0);
    assert_int_equal(strlen(str(s, "createdOn")), 19);
    assert_string_equal(str(s, "createdBy"), "demo");

    /* GET gives back exactly what POST answered. */
    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/hospitals/%s/studies/%s",
                          TEST_DEMO_HOSPITAL_A, sid), 200);
    assert_true(json_equal(res.json, s));
    test_response_dispose(&res);

    /* The same body again: another study, a unique id and prefix. */
    json_t *s2 = create_study("{\"studyType\": \"Study\", \"studyId\": \"RT\","
                              " \"patient\": {\"patientId\": \"RT-1\"}}");
    assert_string_equal(str(s2, "studyIdHumanReadable"), "RT-1/RT-2");
    assert_string_not_equal(str(s2, "s3Prefix"), prefix);
    assert_string_not_equal(str(s2, "studyDatabaseId"), sid);
    /* Same patient, so the same patient folder. */
    assert_string_equal(str(json_object_get(s2, "patient"), "patientDatabaseId"),
                        str(patient, "patientDatabaseId"));

    /* Listing order is creation order. */
    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/hospitals/%s/studies",
                          TEST_DEMO_HOSPITAL_A), 200);
    size_t n = json_array_size(res.json);
    assert_true(n >= 5);
    assert_string_equal(str(json_array_get(res.json, 0), "studyIdHumanReadable"),
                        "PAT-001/STUDY-1");
    assert_string_equal(str(json_array_get(res.json, n - 2), "studyDatabaseId"), sid);
    assert_string_equal(str(json_array_get(res.json, n - 1), "studyDatabaseId"),
                        str(s2, "studyDatabaseId"));
    test_response_dispose(&res);

    /* PUT replaces the client's fields; the server's stay. */
    assert_int_equal(CALL(&res, &demo, "PUT",
                          "{\"studyType\": \"Study\", \"studyDatabaseId\": \"hacked\","
                          " \"description\": \"put\", \"patient\": {\"patientId\": \"RT-1\"},"
                          " \"s3Prefix\": \"elsewhere/\"}",
                          "/api/data/hospitals/%s/studies/%s", TEST_DEMO_HOSPITAL_A, sid), 200);
    assert_string_equal(str(res.json, "studyDatabaseId"), sid);
    assert_string_equal(str(res.json, "s3Prefix"), prefix);
    assert_string_equal(str(res.json, "description"), "put");
    assert_null(json_object_get(res.json, "zeta"));
    assert_string_equal(str(res.json, "studyIdHumanReadable"), "RT-1/RT");
    assert_string_equal(str(json_object_get(res.json, "patient"), "patientDatabaseId"),
                        str(patient, "patientDatabaseId"));
    test_response_dispose(&res);

    /* PATCH merges (RFC 7386): null removes. */
    assert_int_equal(CALL(&res, &demo, "PATCH", "{\"zeta\": 2, \"description\": null,"
                          " \"studyDate\": \"2022-02-02T02:02:02\"}",
                          "/api/data/hospitals/%s/studies/%s", TEST_DEMO_HOSPITAL_A, sid), 200);
    assert_int_equal(json_integer_value(json_object_get(res.json, "zeta")), 2);
    assert_null(json_object_get(res.json, "description"));
    assert_string_equal(str(res.json, "studyDate"), "2022-02-02T02:02:02");
    test_response_dispose(&res);
    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/hospitals/%s/studies/%s",
                          TEST_DEMO_HOSPITAL_A, sid), 200);
    assert_int_equal(json_integer_value(json_object_get(res.json, "zeta")), 2);
    test_response_dispose(&res);
    expect_error(&res, CALL(&res, &demo, "PATCH", "{\"studyType\": \"Nope\"}",
                            "/api/data/hospitals/%s/studies/%s", TEST_DEMO_HOSPITAL_A, sid), 400,
                 "'studyType'");
    expect_error(&res, CALL(&res, &demo, "PUT", "{\"studyType\": \"Study\", \"studyDate\": 5}",
                            "/api/data/hospitals/%s/studies/%s", TEST_DEMO_HOSPITAL_A, sid), 400,
                 "'studyDate'");

    /* DELETE: 204, then 404; its objects go too. */
    char key[600];
    snprintf(key, sizeof(key), "%sfiles/gone.txt", prefix);
    put_object(key, "bye", 3);
    assert_int_equal(CALL(&res, &demo, "DELETE", NULL, "/api/data/hospitals/%s/studies/%s",
                          TEST_DEMO_HOSPITAL_A, sid), 204);
    test_response_dispose(&res);
    assert_false(object_exists(key));
    expect_error(&res, CALL(&res, &demo, "GET", NULL, "/api/data/hospitals/%s/studies/%s",
                            TEST_DEMO_HOSPITAL_A, sid), 404, NULL);
    assert_int_equal(CALL(&res, &demo, "DELETE", NULL, "/api/data/hospitals/%s/studies/%s",
                          TEST_DEMO_HOSPITAL_A, str(s2, "studyDatabaseId")), 204);
    test_response_dispose(&res);
    json_decref(s);
    json_decref(s2);
}

static void test_sandbox_data__study_types_and_bad_bodies(void **state)
{
    (void)state;
    test_response res;
    /* A type without a patient: no patient folder, the subject names it. */
    json_t *s = create_study("{\"studyType\": \"IGuideUStudy\", \"subjectId\": \"SUBJ-9\","
                             " \"visitName\": \"V1\", \"procedureDate\": \"2021-05-05T05:05:05\","
                             " \"instituteId\": \"" TEST_DEMO_HOSPITAL_A "\"}");
    assert_string_equal(str(s, "studyIdHumanReadable"), "SUBJ-9/V1");
    assert_null(json_object_get(s, "patientDatabaseId"));
    char expect[300];
    snprintf(expect, sizeof(expect), "institutes/hospital-a/%s/", str(s, "studyDatabaseId"));
    assert_string_equal(str(s, "s3Prefix"), expect);
    assert_int_equal(CALL(&res, &demo, "DELETE", NULL, "/api/data/hospitals/%s/studies/%s",
                          TEST_DEMO_HOSPITAL_A, str(s, "studyDatabaseId")), 204);
    test_response_dispose(&res);
    json_decref(s);

    const char *a = TEST_DEMO_HOSPITAL_A;
    expect_error(&res, CALL(&res, &demo, "POST", "{\"studyType\": ", "/api/data/hospitals/%s/"
                            "studies", a), 400, "malformed JSON");
    expect_error(&res, CALL(&res, &demo, "POST", "{\"description\": \"no type\"}",
                            "/api/data/hospitals/%s/studies", a), 400, "'studyType'");
    expect_error(&res, CALL(&res, &demo, "POST", "{\"studyType\": \"Movie\"}",
                            "/api/data/hospitals/%s/studies", a), 400, "'studyType'");
    expect_error(&res, CALL(&res, &demo, "POST", "[1]", "/api/data/hospitals/%s/studies", a), 400,
                 NULL);
    expect_error(&res, CALL(&res, &demo, "POST", "{\"studyType\": \"Study\", \"instituteId\": \""
                            TEST_DEMO_HOSPITAL_B "\"}", "/api/data/hospitals/%s/studies", a), 400,
                 "'instituteId'");
    expect_error(&res, CALL(&res, &demo, "POST", "{\"studyType\": \"Study\", \"patient\": 3}",
                            "/api/data/hospitals/%s/studies", a), 400, "'patient'");
    expect_error(&res, CALL(&res, &demo, "POST", NULL, "/api/data/hospitals/%s/studies", a), 400,
                 NULL);
}

/*
 * Every study type of PROTOCOL.md section 4 with fields of its own (from
 * openapi/entities.json) and one nobody defines: POST answers them unchanged,
 * GET and the listing give back what POST answered, and a PUT of the study
 * with a field changed keeps every other field.
 */
static void test_sandbox_data__every_study_type_round_trips(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{\"studyType\": \"Study\", \"studyId\": \"T-S\", \"state\": \"new\","
        " \"accessionNumber\": \"A1\", \"legalBasis\": [\"consent\"],"
        " \"maxRetentionDate\": \"2031-01-01T00:00:00\", \"patient\": {\"patientId\": \"TP-1\","
        " \"gender\": \"F\", \"dateOfBirth\": \"1970-01-02T00:00:00\"}}",
        "{\"studyType\": \"BaseStudy\", \"studyId\": \"T-B\", \"instanceUid\": \"1.2.3\","
        " \"studyComments\": \"c\", \"patient\": {\"patientName\": \"Base^B\"}}",
        "{\"studyType\": \"AnnotationStudy\", \"studyName\": \"T-A\", \"annotationState\": \"open\","
        " \"latestAnnotations\": \"2022-02-02T02:02:02\", \"caseLabels\": [\"x\", \"y\"],"
        " \"hasStickyNote\": true, \"operator\": \"op\", \"patient\": {\"patientId\": \"TP-2\"}}",
        "{\"studyType\": \"ClinicalImageLibraryStudy\", \"studyName\": \"T-C\","
        " \"systemType\": \"Azurion\", \"anatomy\": \"heart\", \"softwareVersion\": \"1.0\","
        " \"studyCategory\": \"cat\", \"patient\": {\"patientId\": \"TP-3\"}}",
        "{\"studyType\": \"CoreLabsStudy\", \"studyName\": \"T-L\", \"isPhilipsData\": \"yes\","
        " \"cathlabnr\": \"7\", \"studyStartDateTime\": \"2021-01-01T08:00:00\","
        " \"studyEndDateTime\": \"2021-01-01T09:30:00\", \"patient\": {\"patientId\": \"TP-4\"}}",
        "{\"studyType\": \"EchoNavStudy\", \"studyId\": \"T-E\", \"subjectId\": \"SUB-E\","
        " \"xRaySystem\": \"x\", \"recordedData\": [\"cine\"], \"diseases\": [],"
        " \"therapy\": [\"t1\", \"t2\"], \"redo\": \"no\", \"imageTransducers\": [{\"k\": 1}],"
        " \"patient\": {\"patientId\": \"TP-5\"}}",
        "{\"studyType\": \"EpdStudy\", \"name\": \"T-P\", \"site\": \"Site-9\", \"age\": \"61\","
        " \"diseaseTypes\": [\"AF\"], \"datetime\": \"2021-07-07T07:07:07\", \"duration\": 3600,"
        " \"FCS\": \"f\", \"redo\": false, \"events\": [{\"at\": 1.5}]}",
        "{\"studyType\": \"IGuideUStudy\", \"subjectId\": \"SUB-I\", \"visitName\": \"V9\","
        " \"procedureDate\": \"2021-08-08T08:08:08\"}",
        "{\"studyType\": \"MarvelStudy\", \"clinicalStudy\": \"T-M\", \"date\": "
        "\"2021-09-09T09:09:09\", \"pullbackLimb\": \"left\", \"pullbackUsable\": \"yes\","
        " \"patient\": {\"patientId\": \"TP-6\"}}",
        "{\"studyType\": \"WeTrustStudy\", \"studyId\": \"T-W\", \"subjectId\": \"SUB-W\","
        " \"corelabId\": \"CL-1\", \"classification\": \"A\","
        " \"patient\": {\"patientId\": \"TP-7\"}}",
    };
    const char *a = TEST_DEMO_HOSPITAL_A;
    test_response res;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        json_t *body = json_loads(bodies[i], 0, NULL);
        assert_non_null(body);
        assert_int_equal(json_object_set_new(body, "notInAnySpec", json_pack("{s:[i, s, n]}",
                                                                              "deep", 1, "two")),
                         0);
        char *text = json_dumps(body, JSON_COMPACT);
        assert_non_null(text);
        json_t *made = create_study(text);
        free(text);
        const char *type = str(body, "studyType");

        /* Every field sent comes back as it was (a patient gains its server fields only). */
        const char *key;
        json_t *value;
        json_object_foreach(body, key, value) {
            json_t *got = json_object_get(made, key);
            if (strcmp(key, "patient") == 0) {
                const char *pk;
                json_t *pv;
                json_object_foreach(value, pk, pv) {
                    if (!json_equal(json_object_get(got, pk), pv))
                        fail_msg("%s: patient.%s changed", type, pk);
                }
            } else if (!json_equal(got, value)) {
                fail_msg("%s: field '%s' changed", type, key);
            }
        }
        const char *human = str(made, "studyIdHumanReadable");
        const char *slash = strchr(human, '/');
        if (!slash || slash == human || !slash[1] || strchr(slash + 1, '/'))
            fail_msg("%s: studyIdHumanReadable '%s' is not <patient>/<study>", type, human);
        char sid[64];
        snprintf(sid, sizeof(sid), "%s", str(made, "studyDatabaseId"));
        assert_string_equal(str(made, "hospitalId"), a);
        assert_string_equal(str(made, "instituteId"), a);
        assert_non_null(str(made, "s3Prefix"));

        /* GET and the listing give back exactly what POST answered. */
        assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/hospitals/%s/studies/%s", a,
                              sid), 200);
        if (!json_equal(res.json, made))
            fail_msg("%s: GET differs from the POST answer", type);
        test_response_dispose(&res);
        assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/hospitals/%s/studies", a),
                         200);
        size_t j;
        json_t *listed, *found = NULL;
        json_array_foreach(res.json, j, listed) {
            if (strcmp(str(listed, "studyDatabaseId"), sid) == 0)
                found = listed;
        }
        if (!found || !json_equal(found, made))
            fail_msg("%s: the listing differs from the POST answer", type);
        test_response_dispose(&res);

        /* PUT the study back with one field changed: the others stay. */
        json_t *next = json_deep_copy(made);
        assert_int_equal(json_object_set_new(next, "notInAnySpec", json_string("changed")), 0);
        text = json_dumps(next, JSON_COMPACT);
        assert_int_equal(CALL(&res, &demo, "PUT", text, "/api/data/hospitals/%s/studies/%s", a,
                              sid), 200);
        free(text);
        json_object_foreach(made, key, value) {
            if (strcmp(key, "lastUpdatedOn") == 0)
                continue;
            json_t *expect = strcmp(key, "notInAnySpec") == 0 ? json_object_get(next, key)
                                                               : value;
            if (!json_equal(json_object_get(res.json, key), expect))
                fail_msg("%s: PUT changed field '%s'", type, key);
        }
        test_response_dispose(&res);
        assert_int_equal(CALL(&res, &demo, "DELETE", NULL, "/api/data/hospitals/%s/studies/%s",
                              a, sid), 204);
        test_response_dispose(&res);
        json_decref(next);
        json_decref(made);
        json_decref(body);
    }
}

/* ---- files ---- */

static void test_sandbox_data__demo_files_and_objects(void **state)
{
    (void)state;
    test_response res;
    json_t *s = find_study(TEST_DEMO_HOSPITAL_A, "PAT-001/STUDY-1");
    const char *sid = str(s, "studyDatabaseId");
    const char *prefix = str(s, "s3Prefix");
    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/hospitals/%s/studies/%s/files",
                          TEST_DEMO_HOSPITAL_A, sid), 200);
    char order[512];
    key_order(order, sizeof(order), res.json);
    assert_string_equal(order, "files");
    json_t *files = json_object_get(res.json, "files");
    assert_int_equal(json_array_size(files), 3);
    json_t *f = json_array_get(files, 2);
    key_order(order, sizeof(order), f);
    assert_string_equal(order, "key,fileName,fileSize,isCompleted,isNew,type,uploadId,"
                               "progressPercentage,progressInBytes");
    assert_string_equal(str(f, "fileName"), "run1/xa-0001.dcm");
    assert_string_equal(str(f, "type"), ".dcm");
    assert_int_equal(json_integer_value(json_object_get(f, "fileSize")), 307200);
    assert_true(json_is_true(json_object_get(f, "isCompleted")));
    assert_true(json_is_false(json_object_get(f, "isNew")));
    assert_int_equal(json_integer_value(json_object_get(f, "progressPercentage")), 100);
    char key[600];
    snprintf(key, sizeof(key), "%sfiles/run1/xa-0001.dcm", prefix);
    assert_string_equal(str(f, "key"), key);

    /* The bytes behind it are the documented generator's. */
    size_t len = 0;
    char *data = test_data_read_object(&sandbox, key, &len);
    assert_non_null(data);
    assert_int_equal(len, 307200);
    unsigned char *expect = malloc(len);
    test_data_generated(expect, len, TEST_DEMO_SEED, "PAT-001/STUDY-1/files/run1/xa-0001.dcm");
    assert_memory_equal(data, expect, len);
    free(expect);
    free(data);
    snprintf(key, sizeof(key), "%sfiles/notes.txt", prefix);
    data = test_data_read_object(&sandbox, key, &len);
    assert_non_null(data);
    assert_string_equal(data, "Procedure notes\nLAD stenosis 70%.\n");
    free(data);
    assert_string_equal(str(json_array_get(files, 0), "fileName"), "notes.txt");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(files, 0), "fileSize")),
                     strlen("Procedure notes\nLAD stenosis 70%.\n"));
    test_response_dispose(&res);

    /* auxiliary=True: DICOM and annotations, not the plain files. */
    assert_int_equal(CALL(&res, &demo, "GET", NULL,
                          "/api/data/hospitals/%s/studies/%s/files?auxiliary=True",
                          TEST_DEMO_HOSPITAL_A, sid), 200);
    key_order(order, sizeof(order), res.json);
    assert_string_equal(order, "dicom,annotations");
    json_t *dicom = json_object_get(res.json, "dicom");
    assert_int_equal(json_array_size(dicom), 2);
    assert_string_equal(str(json_array_get(dicom, 1), "fileName"), "series1/img-0002.dcm");
    snprintf(key, sizeof(key), "%s0/series1/img-0002.dcm", prefix);
    assert_string_equal(str(json_array_get(dicom, 1), "key"), key);
    json_t *ann = json_object_get(res.json, "annotations");
    assert_int_equal(json_array_size(ann), 1);
    assert_string_equal(str(json_array_get(ann, 0), "fileName"), "labels.json");
    assert_string_equal(str(json_array_get(ann, 0), "type"), ".json");
    test_response_dispose(&res);
    json_decref(s);

    /* Project files, with a subfolder. */
    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/projects/%s/files",
                          TEST_DEMO_PROJECT), 200);
    files = json_object_get(res.json, "files");
    assert_int_equal(json_array_size(files), 4);
    assert_string_equal(str(json_array_get(files, 2), "fileName"), "protocol/forms/consent.json");
    assert_string_equal(str(json_array_get(files, 2), "key"),
                        "projects/demo-project/protocol/forms/consent.json");
    test_response_dispose(&res);
}

static void test_sandbox_data__register_complete_delete_files(void **state)
{
    (void)state;
    test_response res;
    json_t *s = create_study("{\"studyType\": \"Study\", \"studyId\": \"FILES\"}");
    const char *sid = str(s, "studyDatabaseId");
    const char *prefix = str(s, "s3Prefix");
    const char *a = TEST_DEMO_HOSPITAL_A;
    char body[2048], k1[600], k2[600], k3[600], k4[600];
    snprintf(k1, sizeof(k1), "%sfiles/dir/one.txt", prefix);
    snprintf(k2, sizeof(k2), "%sfiles/two.json", prefix);
    snprintf(k3, sizeof(k3), "%s0/img.dcm", prefix);
    snprintf(k4, sizeof(k4), "%sannotations/a.json", prefix);

    snprintf(body, sizeof(body), "[{\"key\": \"%s\", \"fileSize\": 5}]", k1);
    assert_int_equal(CALL(&res, &demo, "POST", body, "/api/data/hospitals/%s/studies/%s/files", a,
                          sid), 200);
    json_t *files = json_object_get(res.json, "files");
    assert_int_equal(json_array_size(files), 1);
    json_t *f = json_array_get(files, 0);
    assert_string_equal(str(f, "key"), k1);
    assert_string_equal(str(f, "fileName"), "dir/one.txt");
    assert_string_equal(str(f, "type"), ".txt");
    assert_int_equal(json_integer_value(json_object_get(f, "fileSize")), 5);
    assert_true(json_is_false(json_object_get(f, "isCompleted")));
    assert_true(json_is_true(json_object_get(f, "isNew")));
    assert_int_equal(json_integer_value(json_object_get(f, "progressPercentage")), 0);
    test_response_dispose(&res);

    /* The newly registered entry comes first. */
    snprintf(body, sizeof(body), "[{\"key\": \"%s\", \"fileSize\": 2}]", k2);
    assert_int_equal(CALL(&res, &demo, "POST", body, "/api/data/hospitals/%s/studies/%s/files", a,
                          sid), 200);
    files = json_object_get(res.json, "files");
    assert_int_equal(json_array_size(files), 2);
    assert_string_equal(str(json_array_get(files, 0), "key"), k2);
    assert_string_equal(str(json_array_get(files, 1), "key"), k1);
    test_response_dispose(&res);
    snprintf(body, sizeof(body), "[{\"key\": \"%s\", \"fileSize\": 4}, {\"key\": \"%s\","
             " \"fileSize\": 3}]", k3, k4);
    assert_int_equal(CALL(&res, &demo, "POST", body, "/api/data/hospitals/%s/studies/%s/files", a,
                          sid), 200);
    test_response_dispose(&res);

    /* Keys outside the study's folders, and malformed items. */
    expect_error(&res, CALL(&res, &demo, "POST", "[{\"key\": \"institutes/hospital-a/x\","
                            " \"fileSize\": 1}]", "/api/data/hospitals/%s/studies/%s/files", a,
                            sid), 400, "institutes/hospital-a/x");
    snprintf(body, sizeof(body), "[{\"key\": \"%sfiles/../../x\", \"fileSize\": 1}]", prefix);
    expect_error(&res, CALL(&res, &demo, "POST", body, "/api/data/hospitals/%s/studies/%s/files",
                            a, sid), 400, NULL);
    snprintf(body, sizeof(body), "[{\"key\": \"%s\"}]", k1);
    expect_error(&res, CALL(&res, &demo, "POST", body, "/api/data/hospitals/%s/studies/%s/files",
                            a, sid), 400, "'fileSize'");
    expect_error(&res, CALL(&res, &demo, "POST", "[{\"fileSize\": 1}]",
                            "/api/data/hospitals/%s/studies/%s/files", a, sid), 400, "'key'");
    expect_error(&res, CALL(&res, &demo, "POST", "{\"key\": 1}",
                            "/api/data/hospitals/%s/studies/%s/files", a, sid), 400, NULL);

    /* Complete: the object's real size wins. */
    put_object(k1, "1234567", 7);
    assert_int_equal(CALL(&res, &demo, "POST", "{\"uploadedPath\": \"dir/one.txt\","
                          " \"triggerAction\": true}",
                          "/api/data/hospitals/%s/studies/%s/files/$file-upload-completed", a,
                          sid), 204);
    test_response_dispose(&res);
    expect_error(&res, CALL(&res, &demo, "POST", "{\"triggerAction\": true}",
                            "/api/data/hospitals/%s/studies/%s/files/$file-upload-completed", a,
                            sid), 400, "'uploadedPath'");
    expect_error(&res, CALL(&res, &demo, "POST", "{\"uploadedPath\": \"nothing-here.txt\"}",
                            "/api/data/hospitals/%s/studies/%s/files/$file-upload-completed", a,
                            sid), 404, NULL);
    /* A DICOM file by its path relative to the study. */
    assert_int_equal(CALL(&res, &demo, "POST", "{\"uploadedPath\": \"0/img.dcm\"}",
                          "/api/data/hospitals/%s/studies/%s/files/$file-upload-completed", a,
                          sid), 204);
    test_response_dispose(&res);

    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/hospitals/%s/studies/%s/files", a,
                          sid), 200);
    files = json_object_get(res.json, "files");
    assert_int_equal(json_array_size(files), 2);
    f = json_array_get(files, 0);
    assert_string_equal(str(f, "key"), k1);
    assert_true(json_is_true(json_object_get(f, "isCompleted")));
    assert_true(json_is_false(json_object_get(f, "isNew")));
    assert_int_equal(json_integer_value(json_object_get(f, "fileSize")), 7);
    assert_int_equal(json_integer_value(json_object_get(f, "progressInBytes")), 7);
    assert_true(json_is_false(json_object_get(json_array_get(files, 1), "isCompleted")));
    test_response_dispose(&res);

    assert_int_equal(CALL(&res, &demo, "GET", NULL,
                          "/api/data/hospitals/%s/studies/%s/files?completed=true", a, sid), 200);
    files = json_object_get(res.json, "files");
    assert_int_equal(json_array_size(files), 1);
    assert_string_equal(str(json_array_get(files, 0), "key"), k1);
    test_response_dispose(&res);
    assert_int_equal(CALL(&res, &demo, "GET", NULL,
                          "/api/data/hospitals/%s/studies/%s/files?auxiliary=True&completed=true",
                          a, sid), 200);
    assert_int_equal(json_array_size(json_object_get(res.json, "dicom")), 1);
    assert_int_equal(json_array_size(json_object_get(res.json, "annotations")), 0);
    test_response_dispose(&res);

    /* Registering a key again starts a new upload of it. */
    snprintf(body, sizeof(body), "[{\"key\": \"%s\", \"fileSize\": 9}]", k1);
    assert_int_equal(CALL(&res, &demo, "POST", body, "/api/data/hospitals/%s/studies/%s/files", a,
                          sid), 200);
    f = json_array_get(json_object_get(res.json, "files"), 0);
    assert_int_equal(json_integer_value(json_object_get(f, "fileSize")), 9);
    assert_true(json_is_false(json_object_get(f, "isCompleted")));
    assert_int_equal(json_array_size(json_object_get(res.json, "files")), 2);
    test_response_dispose(&res);

    /* DELETE ?keys=...: rows and objects. */
    put_object(k3, "dcm!", 4);
    /* The keys hold only characters that need no escaping in a query. */
    const char *e1 = k1, *e3 = k3;
    assert_int_equal(CALL(&res, &demo, "DELETE", NULL,
                          "/api/data/hospitals/%s/studies/%s/files?keys=%s&keys=%s", a, sid, e1,
                          e3), 204);
    test_response_dispose(&res);
    assert_false(object_exists(k1));
    assert_false(object_exists(k3));
    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/hospitals/%s/studies/%s/files", a,
                          sid), 200);
    files = json_object_get(res.json, "files");
    assert_int_equal(json_array_size(files), 1);
    assert_string_equal(str(json_array_get(files, 0), "key"), k2);
    test_response_dispose(&res);
    expect_error(&res, CALL(&res, &demo, "DELETE", NULL, "/api/data/hospitals/%s/studies/%s/files",
                            a, sid), 400, "'keys'");
    expect_error(&res, CALL(&res, &demo, "DELETE", NULL,
                            "/api/data/hospitals/%s/studies/%s/files?keys=projects/demo-project/"
                            "README.txt", a, sid), 400, NULL);
    assert_true(object_exists("projects/demo-project/README.txt"));
    assert_int_equal(CALL(&res, &demo, "DELETE", NULL, "/api/data/hospitals/%s/studies/%s", a,
                          sid), 204);
    test_response_dispose(&res);
    json_decref(s);
}

static void test_sandbox_data__project_files(void **state)
{
    (void)state;
    test_response res;
    const char *p = TEST_DEMO_PROJECT;
    assert_int_equal(CALL(&res, &demo, "POST", "[{\"key\": \"projects/demo-project/new/x.csv\","
                          " \"fileSize\": 3}]", "/api/data/projects/%s/files", p), 200);
    json_t *files = json_object_get(res.json, "files");
    assert_int_equal(json_array_size(files), 5);
    assert_string_equal(str(json_array_get(files, 0), "fileName"), "new/x.csv");
    assert_string_equal(str(json_array_get(files, 0), "type"), ".csv");
    test_response_dispose(&res);
    expect_error(&res, CALL(&res, &demo, "POST", "[{\"key\": \"projects/other/x\","
                            " \"fileSize\": 3}]", "/api/data/projects/%s/files", p), 400,
                 "projects/demo-project/");
    expect_error(&res, CALL(&res, &demo, "POST", "[{\"key\": \"projects/demo-project/\","
                            " \"fileSize\": 3}]", "/api/data/projects/%s/files", p), 400, NULL);
    put_object("projects/demo-project/new/x.csv", "a,b", 3);
    assert_int_equal(CALL(&res, &demo, "DELETE", NULL,
                          "/api/data/projects/%s/files?keys=projects/demo-project/new/x.csv", p),
                     204);
    test_response_dispose(&res);
    assert_false(object_exists("projects/demo-project/new/x.csv"));
    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/projects/%s/files", p), 200);
    assert_int_equal(json_array_size(json_object_get(res.json, "files")), 4);
    test_response_dispose(&res);
}

/* ---- the rest ---- */

static void test_sandbox_data__electronic_record_state(void **state)
{
    (void)state;
    test_response res;
    json_t *s = find_study(TEST_DEMO_HOSPITAL_B, "PAT-101/STUDY-1");
    const char *sid = str(s, "studyDatabaseId");
    const char *b = TEST_DEMO_HOSPITAL_B;
    expect_error(&res, CALL(&res, &demo, "POST", "{\"username\": \"demo\", \"password\": "
                            "\"wrong\", \"electronicRecordState\": \"submitted\"}",
                            "/api/data/hospitals/%s/studies/%s/electronic-record-state", b, sid),
                 403, NULL);
    expect_error(&res, CALL(&res, &demo, "POST", "{\"username\": \"other\", \"password\": "
                            "\"other\", \"electronicRecordState\": \"submitted\"}",
                            "/api/data/hospitals/%s/studies/%s/electronic-record-state", b, sid),
                 403, NULL);
    expect_error(&res, CALL(&res, &demo, "POST", "{\"username\": \"demo\", \"password\": "
                            "\"demo\"}",
                            "/api/data/hospitals/%s/studies/%s/electronic-record-state", b, sid),
                 400, "'electronicRecordState'");
    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/hospitals/%s/studies/%s", b, sid),
                     200);
    assert_null(json_object_get(res.json, "electronicRecordState"));
    test_response_dispose(&res);
    assert_int_equal(CALL(&res, &demo, "POST", "{\"username\": \"demo\", \"password\": \"demo\","
                          " \"electronicRecordState\": \"submitted\"}",
                          "/api/data/hospitals/%s/studies/%s/electronic-record-state", b, sid),
                     200);
    assert_string_equal(str(res.json, "electronicRecordState"), "submitted");
    assert_string_equal(str(res.json, "studyDatabaseId"), sid);
    test_response_dispose(&res);
    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/hospitals/%s/studies/%s", b, sid),
                     200);
    assert_string_equal(str(res.json, "electronicRecordState"), "submitted");
    test_response_dispose(&res);
    json_decref(s);
}

static void test_sandbox_data__users_me(void **state)
{
    (void)state;
    test_response res;
    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/users/me"), 200);
    assert_string_equal(str(res.json, "loginId"), "demo");
    assert_int_equal(strlen(str(res.json, "userUUID")), 36);
    assert_string_equal(str(json_object_get(json_object_get(res.json, "profile"), "contact"),
                            "emailAddress"), "demo@sandbox.invalid");
    assert_true(json_is_object(json_object_get(res.json, "accountStatus")));
    test_response_dispose(&res);
}

static void test_sandbox_data__update_database(void **state)
{
    (void)state;
    test_response res;
    assert_int_equal(CALL(&res, &demo, "POST", "{\"hospitalId\": \"" TEST_DEMO_HOSPITAL_A "\","
                          " \"uploadedPath\": \"4b0e/\", \"isPrefix\": true}",
                          "/api/action/update-database"), 200);
    test_response_dispose(&res);
    expect_error(&res, CALL(&res, &demo, "POST", "{\"uploadedPath\": \"x/\"}",
                            "/api/action/update-database"), 400, "'hospitalId'");
    expect_error(&res, CALL(&res, &demo, "POST", "{\"hospitalId\": \"" TEST_DEMO_HOSPITAL_A "\"}",
                            "/api/action/update-database"), 400, "'uploadedPath'");
    expect_error(&res, CALL(&res, &demo, "POST", "{\"hospitalId\": \"" TEST_DEMO_HOSPITAL_A "\","
                            " \"uploadedPath\": \"../../x\"}", "/api/action/update-database"),
                 400, "'uploadedPath'");
    expect_error(&res, CALL(&res, &demo, "POST", "{\"hospitalId\": \"" TEST_DEMO_HOSPITAL_A "\","
                            " \"uploadedPath\": \"x\", \"isPrefix\": \"yes\"}",
                            "/api/action/update-database"), 400, "'isPrefix'");
    expect_error(&res, CALL(&res, &demo, "POST", "{\"hospitalId\": \"nowhere\","
                            " \"uploadedPath\": \"x\"}", "/api/action/update-database"), 404,
                 NULL);
}

/* ---- service identities ---- */

static void test_sandbox_data__service_identity_limits(void **state)
{
    (void)state;
    test_login svc;
    test_response res;
    const char *a = TEST_DEMO_HOSPITAL_A, *b = TEST_DEMO_HOSPITAL_B, *p = TEST_DEMO_PROJECT;
    assert_int_equal(test_data_service_login(&svc, &sandbox, &demo, a, "uploader"), 200);

    /* It reads its project and institute, and sees only that institute. */
    assert_int_equal(CALL(&res, &svc, "GET", NULL, "/api/data/projects"), 200);
    assert_int_equal(json_array_size(res.json), 1);
    json_t *institutes = json_object_get(json_array_get(res.json, 0), "institutes");
    assert_int_equal(json_array_size(institutes), 1);
    assert_string_equal(str(json_array_get(institutes, 0), "id"), a);
    test_response_dispose(&res);
    assert_int_equal(CALL(&res, &svc, "GET", NULL, "/api/data/projects/%s", p), 200);
    assert_int_equal(json_array_size(json_object_get(res.json, "institutes")), 1);
    test_response_dispose(&res);
    assert_int_equal(CALL(&res, &svc, "GET", NULL, "/api/data/projects/%s/hospitals", p), 200);
    assert_int_equal(json_array_size(res.json), 1);
    test_response_dispose(&res);
    assert_int_equal(CALL(&res, &svc, "GET", NULL, "/api/data/hospitals"), 200);
    assert_int_equal(json_array_size(res.json), 1);
    test_response_dispose(&res);
    assert_int_equal(CALL(&res, &svc, "GET", NULL, "/api/data/projects/hospitals/%s", a), 200);
    test_response_dispose(&res);

    /* It lists studies and files, creates studies, registers and completes files. */
    assert_int_equal(CALL(&res, &svc, "GET", NULL, "/api/data/hospitals/%s/studies", a), 200);
    assert_true(json_array_size(res.json) >= 3);
    test_response_dispose(&res);
    assert_int_equal(CALL(&res, &svc, "POST", "{\"studyType\": \"Study\", \"studyId\": \"SVC\"}",
                          "/api/data/hospitals/%s/studies", a), 201);
    json_t *s = json_incref(res.json);
    test_response_dispose(&res);
    const char *sid = str(s, "studyDatabaseId");
    assert_string_equal(str(s, "createdBy"), svc.sub);
    char body[1024], key[700];
    snprintf(key, sizeof(key), "%sfiles/up.bin", str(s, "s3Prefix"));
    snprintf(body, sizeof(body), "[{\"key\": \"%s\", \"fileSize\": 2}]", key);
    assert_int_equal(CALL(&res, &svc, "POST", body, "/api/data/hospitals/%s/studies/%s/files", a,
                          sid), 200);
    test_response_dispose(&res);
    put_object(key, "ok", 2);
    assert_int_equal(CALL(&res, &svc, "POST", "{\"uploadedPath\": \"up.bin\"}",
                          "/api/data/hospitals/%s/studies/%s/files/$file-upload-completed", a,
                          sid), 204);
    test_response_dispose(&res);
    assert_int_equal(CALL(&res, &svc, "GET", NULL, "/api/data/hospitals/%s/studies/%s/files", a,
                          sid), 200);
    assert_true(json_is_true(json_object_get(json_array_get(json_object_get(res.json, "files"), 0),
                                             "isCompleted")));
    test_response_dispose(&res);

    /* Everything else is 403. */
    expect_error(&res, CALL(&res, &svc, "GET", NULL, "/api/data/hospitals/%s/studies", b), 403,
                 NULL);
    expect_error(&res, CALL(&res, &svc, "POST", "{\"studyType\": \"Study\"}",
                            "/api/data/hospitals/%s/studies", b), 403, NULL);
    expect_error(&res, CALL(&res, &svc, "GET", NULL, "/api/data/projects/hospitals/%s", b), 403,
                 NULL);
    expect_error(&res, CALL(&res, &svc, "GET", NULL, "/api/data/hospitals/%s/studies/%s", a, sid),
                 403, NULL);
    expect_error(&res, CALL(&res, &svc, "PUT", "{\"studyType\": \"Study\"}",
                            "/api/data/hospitals/%s/studies/%s", a, sid), 403, NULL);
    expect_error(&res, CALL(&res, &svc, "PATCH", "{\"x\": 1}",
                            "/api/data/hospitals/%s/studies/%s", a, sid), 403, NULL);
    expect_error(&res, CALL(&res, &svc, "DELETE", NULL, "/api/data/hospitals/%s/studies/%s", a,
                            sid), 403, NULL);
    expect_error(&res, CALL(&res, &svc, "DELETE", NULL,
                            "/api/data/hospitals/%s/studies/%s/files?keys=%s", a, sid, key), 403,
                 NULL);
    expect_error(&res, CALL(&res, &svc, "POST", "{\"username\": \"x\", \"password\": \"y\","
                            " \"electronicRecordState\": \"submitted\"}",
                            "/api/data/hospitals/%s/studies/%s/electronic-record-state", a, sid),
                 403, NULL);
    expect_error(&res, CALL(&res, &svc, "GET", NULL, "/api/data/projects/%s/files", p), 403, NULL);
    expect_error(&res, CALL(&res, &svc, "POST", "[]", "/api/data/projects/%s/files", p), 403,
                 NULL);
    expect_error(&res, CALL(&res, &svc, "POST", "{\"name\": \"S\"}", "/api/data/projects"), 403,
                 NULL);
    expect_error(&res, CALL(&res, &svc, "DELETE", NULL, "/api/data/projects/%s", p), 403, NULL);
    expect_error(&res, CALL(&res, &svc, "POST", "{\"name\": \"X\"}",
                            "/api/data/projects/%s/hospitals", p), 403, NULL);
    expect_error(&res, CALL(&res, &svc, "DELETE", NULL, "/api/data/projects/%s/hospitals/%s", p,
                            a), 403, NULL);
    expect_error(&res, CALL(&res, &svc, "GET", NULL, "/api/data/users/me"), 403, NULL);

    /*
     * The user still sees the study the service made; the institute cannot
     * go while the service exists.
     */
    assert_int_equal(CALL(&res, &demo, "GET", NULL, "/api/data/hospitals/%s/studies/%s", a, sid),
                     200);
    test_response_dispose(&res);
    expect_error(&res, CALL(&res, &demo, "DELETE", NULL, "/api/data/projects/%s/hospitals/%s", p,
                            a), 409, "service");
    assert_int_equal(CALL(&res, &demo, "DELETE", NULL, "/api/data/hospitals/%s/studies/%s", a,
                          sid), 204);
    test_response_dispose(&res);
    json_decref(s);
}

/* Last: the sandbox shuts down cleanly (under ASan, also without leaks) after all the above. */
static void test_sandbox_data__clean_exit_after_all_calls(void **state)
{
    (void)state;
    int status = test_sandbox_stop_keep(&sandbox);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sandbox_data__projects_list_shape),
        cmocka_unit_test(test_sandbox_data__unauthenticated_is_401),
        cmocka_unit_test(test_sandbox_data__other_user_sees_nothing_of_the_demo_project),
        cmocka_unit_test(test_sandbox_data__create_and_delete_project_and_hospital),
        cmocka_unit_test(test_sandbox_data__study_round_trip),
        cmocka_unit_test(test_sandbox_data__study_types_and_bad_bodies),
        cmocka_unit_test(test_sandbox_data__every_study_type_round_trips),
        cmocka_unit_test(test_sandbox_data__demo_files_and_objects),
        cmocka_unit_test(test_sandbox_data__register_complete_delete_files),
        cmocka_unit_test(test_sandbox_data__project_files),
        cmocka_unit_test(test_sandbox_data__electronic_record_state),
        cmocka_unit_test(test_sandbox_data__users_me),
        cmocka_unit_test(test_sandbox_data__update_database),
        cmocka_unit_test(test_sandbox_data__service_identity_limits),
        cmocka_unit_test(test_sandbox_data__clean_exit_after_all_calls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
