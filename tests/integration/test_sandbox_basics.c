/* The sandbox as an HTTP server: readiness, routing errors, body limits, restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "test_http.h"
#include "test_sandbox.h"

static test_sandbox sandbox;

static int setup(void **state)
{
    (void)state;
    const char *args[] = { "--max-body", "65536", NULL };
    return test_sandbox_start(&sandbox, args);
}

static int teardown(void **state)
{
    (void)state;
    test_sandbox_stop(&sandbox);
    return 0;
}

static void test_basics__ready_line_names_a_real_port(void **state)
{
    (void)state;
    assert_non_null(strstr(sandbox.api_url, "http://127.0.0.1:"));
    assert_string_not_equal(sandbox.api_url, "http://127.0.0.1:0");
}

static void test_basics__unknown_path_is_404_json(void **state)
{
    (void)state;
    char url[256];
    test_response res;
    snprintf(url, sizeof(url), "%s/api/data/no-such-thing", sandbox.api_url);
    assert_int_equal(test_http(&res, "GET", url, NULL, NULL, 0), 0);
    assert_int_equal(res.status, 404);
    assert_non_null(res.json);
    assert_non_null(json_string_value(json_object_get(res.json, "message")));
    char type[128];
    assert_int_equal(test_response_header(&res, "Content-Type", type, sizeof(type)), 0);
    assert_string_equal(type, "application/json");
    test_response_dispose(&res);
}

static void test_basics__wrong_method_is_405(void **state)
{
    (void)state;
    char url[256];
    test_response res;
    snprintf(url, sizeof(url), "%s/api/auth/login/$aud", sandbox.api_url);
    assert_int_equal(test_http(&res, "DELETE", url, NULL, NULL, 0), 0);
    assert_int_equal(res.status, 405);
    assert_non_null(json_object_get(res.json, "message"));
    test_response_dispose(&res);
}

static void test_basics__audience_is_a_json_string(void **state)
{
    (void)state;
    char url[256];
    test_response res;
    snprintf(url, sizeof(url), "%s/api/auth/login/$aud", sandbox.api_url);
    assert_int_equal(test_http(&res, "GET", url, NULL, NULL, 0), 0);
    assert_int_equal(res.status, 200);
    assert_true(json_is_string(res.json));
    assert_non_null(strstr(json_string_value(res.json), sandbox.api_url));
    test_response_dispose(&res);
}

static void test_basics__oversized_body_is_413(void **state)
{
    (void)state;
    char url[256];
    size_t len = 200000;
    char *body = malloc(len);
    assert_non_null(body);
    memset(body, 'x', len);
    test_response res;
    snprintf(url, sizeof(url), "%s/api/auth/login", sandbox.api_url);
    const char *headers[] = { "Content-Type: application/json", NULL };
    assert_int_equal(test_http(&res, "POST", url, headers, body, len), 0);
    assert_int_equal(res.status, 413);
    test_response_dispose(&res);
    free(body);
}

static void test_basics__requests_are_logged(void **state)
{
    (void)state;
    char *log = test_sandbox_log(&sandbox);
    assert_non_null(log);
    assert_non_null(strstr(log, "\"path\":\"/api/data/no-such-thing\""));
    assert_non_null(strstr(log, "\"status\":404"));
    free(log);
}

static void test_basics__sigterm_exits_cleanly_and_restart_serves(void **state)
{
    (void)state;
    int status = test_sandbox_stop_keep(&sandbox);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(test_sandbox_restart(&sandbox, NULL), 0);
    char url[256];
    test_response res;
    snprintf(url, sizeof(url), "%s/api/auth/login/$aud", sandbox.api_url);
    assert_int_equal(test_http(&res, "GET", url, NULL, NULL, 0), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics__ready_line_names_a_real_port),
        cmocka_unit_test(test_basics__unknown_path_is_404_json),
        cmocka_unit_test(test_basics__wrong_method_is_405),
        cmocka_unit_test(test_basics__audience_is_a_json_string),
        cmocka_unit_test(test_basics__oversized_body_is_413),
        cmocka_unit_test(test_basics__requests_are_logged),
        cmocka_unit_test(test_basics__sigterm_exits_cleanly_and_restart_serves),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
