/* The sandbox as an HTTP server: readiness, routing errors, body limits, restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli_run.h"
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
    /* RFC 9110: a 405 names the methods the resource has. */
    char allow[128];
    assert_int_equal(test_response_header(&res, "Allow", allow, sizeof(allow)), 0);
    assert_string_equal(allow, "GET");
    test_response_dispose(&res);
    snprintf(url, sizeof(url), "%s/api/data/hospitals/h/studies/s/", sandbox.api_url);
    assert_int_equal(test_http(&res, "POST", url, NULL, "{}", 2), 0);
    assert_int_equal(res.status, 405);
    assert_int_equal(test_response_header(&res, "Allow", allow, sizeof(allow)), 0);
    assert_string_equal(allow, "GET, PUT, PATCH, DELETE");
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
    assert_non_null(json_string_value(json_object_get(res.json, "message")));
    test_response_dispose(&res);
    /* Without a Content-Length the limit holds while the body arrives. */
    const char *chunked[] = { "Content-Type: application/json", "Transfer-Encoding: chunked",
                              NULL };
    assert_int_equal(test_http(&res, "POST", url, chunked, body, len), 0);
    assert_int_equal(res.status, 413);
    assert_non_null(json_string_value(json_object_get(res.json, "message")));
    test_response_dispose(&res);
    /* A body within the limit is read, and judged as JSON. */
    assert_int_equal(test_http(&res, "POST", url, chunked, body, 1000), 0);
    assert_int_equal(res.status, 400);
    assert_non_null(strstr(json_string_value(json_object_get(res.json, "message")),
                           "malformed JSON"));
    test_response_dispose(&res);
    free(body);
}

/* Bad command lines: exit code 2 and one line on stderr naming the problem. */
static void test_basics__bad_command_lines(void **state)
{
    (void)state;
    static const struct {
        const char *args[3];
        const char *mentions;
    } bad[] = {
        { { "--bogus", NULL }, "unknown option '--bogus'" },
        { { "--bogus", "value", NULL }, "unknown option '--bogus'" },
        { { "--listen", NULL }, "option '--listen' needs a value" },
        { { "--listen", "no-port", NULL }, "--listen expects HOST:PORT" },
        { { "--listen", "127.0.0.1:65536", NULL }, "--listen expects HOST:PORT" },
        { { "--token-lifetime", "0", NULL }, "--token-lifetime expects seconds" },
        { { "--token-lifetime", "1h", NULL }, "--token-lifetime expects seconds" },
        { { "--max-body", "10", NULL }, "--max-body expects bytes" },
        { { "--tls-cert", "cert.pem", NULL }, "--tls-cert and --tls-key go together" },
    };
    char out[4096], err[4096];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *argv[] = { IGTCLOUD_SANDBOX_BIN, bad[i].args[0], bad[i].args[1],
                               bad[i].args[2], NULL };
        int rc = cli_run(argv, NULL, NULL, out, sizeof(out), err, sizeof(err));
        if (rc != 2)
            fail_msg("%s %s: exit %d, expected 2", bad[i].args[0],
                     bad[i].args[1] ? bad[i].args[1] : "", rc);
        assert_string_equal(out, "");
        char *nl = strchr(err, '\n');
        if (!nl || nl[1] != '\0' || strncmp(err, "igtcloud-sandbox: ", 18) != 0 ||
            !strstr(err, bad[i].mentions))
            fail_msg("%s: stderr '%s' is not one line naming '%s'", bad[i].args[0], err,
                     bad[i].mentions);
    }
    /* --help shows every option of the command line and exits 0. */
    const char *help[] = { IGTCLOUD_SANDBOX_BIN, "--help", NULL };
    assert_int_equal(cli_run(help, NULL, NULL, out, sizeof(out), err, sizeof(err)), 0);
    assert_non_null(strstr(out, "Usage: igtcloud-sandbox"));
    static const char *const options[] = { "--listen HOST:PORT", "--data DIR",
                                           "--seed demo|FILE.json", "--token-lifetime SECONDS",
                                           "--log-requests FILE", "--help" };
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
        if (!strstr(out, options[i]))
            fail_msg("--help does not show '%s'", options[i]);
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

/* The data folder holds the SQLite database, in WAL mode (header bytes 18 and 19 are 2). */
static void test_basics__database_is_sqlite_in_wal_mode(void **state)
{
    (void)state;
    char path[400];
    unsigned char header[100];
    snprintf(path, sizeof(path), "%s/sandbox.db", sandbox.data_dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(header, 1, sizeof(header), f), sizeof(header));
    fclose(f);
    assert_memory_equal(header, "SQLite format 3", 16);
    assert_int_equal(header[18], 2);
    assert_int_equal(header[19], 2);
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
        cmocka_unit_test(test_basics__bad_command_lines),
        cmocka_unit_test(test_basics__requests_are_logged),
        cmocka_unit_test(test_basics__database_is_sqlite_in_wal_mode),
        cmocka_unit_test(test_basics__sigterm_exits_cleanly_and_restart_serves),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
