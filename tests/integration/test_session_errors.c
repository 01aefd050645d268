/*
 * The errors a user meets when logging in, each as the CLI shows it: one line,
 * the documented exit code, no secret. Fake servers stand in for broken clouds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/token_file.h"
#include "cli_run.h"
#include "core/base64.h"
#include "fake_server.h"
#include "http/http.h"
#include "igtcloud/igtcloud.h"
#include "test_client.h"
#include "test_sandbox.h"

static test_sandbox sandbox;
static char tmp[256];
static char token_path[512];
static char token_env[600];

static int group_setup(void **state)
{
    (void)state;
    /* Also ignores SIGPIPE: the fake TLS server may write a close_notify to a client that left. */
    test_client_isolate();
    if (igtcloud_global_init() < 0 || test_make_temp_dir(tmp, sizeof(tmp), "session-errors"))
        return -1;
    snprintf(token_path, sizeof(token_path), "%s/token", tmp);
    snprintf(token_env, sizeof(token_env), "CLOUD_TOKEN_MMAP=%s", token_path);
    setenv("CLOUD_TOKEN_MMAP", token_path, 1);
    const char *args[] = { "--seed", "demo", NULL };
    return test_sandbox_start(&sandbox, args);
}

static int group_teardown(void **state)
{
    (void)state;
    test_sandbox_stop(&sandbox);
    test_remove_tree(tmp);
    igtcloud_global_shutdown();
    return 0;
}

static int cleanup(void **state)
{
    (void)state;
    unlink(token_path);
    return 0;
}

static char out[8192], err[8192];

/* Run igtcloud with args; expect `code` and exactly one stderr line containing `needle`. */
static void expect_cli(int code, const char *needle, const char *input, const char *const *env,
                       const char *const *args)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = IGTCLOUD_CLI_BIN;
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    const char *envs[16];
    int m = 0;
    envs[m++] = token_env;
    for (int i = 0; env && env[i] && m < 15; i++)
        envs[m++] = env[i];
    envs[m] = NULL;
    int rc = cli_run(argv, envs, input, out, sizeof(out), err, sizeof(err));
    if (rc != code)
        fail_msg("igtcloud %s: exit %d, wanted %d; stderr: %s", args[0], rc, code, err);
    /* No JWT (base64 of '{"') ever reaches the terminal. */
    if (strstr(err, "eyJ"))
        fail_msg("stderr shows a token: %s", err);
    if (needle) {
        if (!strstr(err, needle))
            fail_msg("stderr lacks '%s': %s", needle, err);
        if (strncmp(err, "igtcloud: ", 10) != 0 || strchr(err, '\n') != err + strlen(err) - 1)
            fail_msg("not one 'igtcloud: ' line: %s", err);
    }
}

static void test_errors__wrong_password_unknown_user(void **state)
{
    (void)state;
    const char *args[] = { "login", "-d", sandbox.api_url, "-u", "demo", "--password-stdin",
                           NULL };
    expect_cli(3, "login of 'demo' failed", "S3cret-Wrong\n", NULL, args);
    assert_null(strstr(err, "S3cret-Wrong"));
    assert_null(strstr(out, "S3cret-Wrong"));
    const char *args2[] = { "login", "-d", sandbox.api_url, "-u", "ghost", "--password-stdin",
                            NULL };
    expect_cli(3, "login of 'ghost' failed", "whatever\n", NULL, args2);
    assert_int_not_equal(access(token_path, F_OK), 0);
}

static void test_errors__usage(void **state)
{
    (void)state;
    const char *no_domain[] = { "login", "-u", "demo", "--password-stdin", NULL };
    expect_cli(2, "no domain given", "demo\n", NULL, no_domain);
    const char *no_user[] = { "login", "-d", sandbox.api_url, "--password-stdin", NULL };
    expect_cli(2, "no user given", "demo\n", NULL, no_user);
    const char *no_tty[] = { "login", "-d", sandbox.api_url, "-u", "demo", NULL };
    expect_cli(2, "no terminal", NULL, NULL, no_tty);
    const char *argv_password[] = { "login", "-d", sandbox.api_url, "-u", "demo", "--password",
                                    "demo", NULL };
    expect_cli(2, "never taken from the command line", NULL, NULL, argv_password);
    const char *argv_password2[] = { "login", "-d", sandbox.api_url, "-u", "demo",
                                     "--password=demo", NULL };
    expect_cli(2, "never taken from the command line", NULL, NULL, argv_password2);
    const char *argv_password3[] = { "login", "-d", sandbox.api_url, "-u", "demo", "-p", "demo",
                                     NULL };
    expect_cli(2, "never taken from the command line", NULL, NULL, argv_password3);
    const char *empty[] = { "login", "-d", sandbox.api_url, "-u", "demo", "--password-stdin",
                            NULL };
    expect_cli(2, "no password on standard input", "", NULL, empty);
    const char *bad_type[] = { "get-token", "-t", "refresh", NULL };
    expect_cli(2, "invalid type", NULL, NULL, bad_type);
    const char *bad_margin_env[] = { "IGTCLOUD_REFRESH_MARGIN=soon", NULL };
    expect_cli(2, "IGTCLOUD_REFRESH_MARGIN", "demo\n", bad_margin_env, empty);

    const char *help1[] = { "login", "--help", NULL };
    expect_cli(0, NULL, NULL, NULL, help1);
    assert_non_null(strstr(out, "--password-stdin"));
    const char *help2[] = { "get-token", "--help", NULL };
    expect_cli(0, NULL, NULL, NULL, help2);
    assert_non_null(strstr(out, "jwt|access|csrf"));
    const char *help3[] = { "--help", NULL };
    expect_cli(0, NULL, NULL, NULL, help3);
    assert_non_null(strstr(out, "  login "));
    assert_non_null(strstr(out, "  get-token "));
}

static void test_errors__unreachable_and_proxies(void **state)
{
    (void)state;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", fake_unused_port());
    const char *args[] = { "login", "-d", url, "-u", "demo", "--password-stdin", NULL };
    expect_cli(5, "cannot reach", "demo\n", NULL, args);

    /* A dead proxy from the environment is used, unless no_proxy exempts the host. */
    char proxy[80];
    snprintf(proxy, sizeof(proxy), "http_proxy=http://127.0.0.1:%d", fake_unused_port());
    const char *login[] = { "login", "-d", sandbox.api_url, "-u", "demo", "--password-stdin",
                            NULL };
    const char *via_proxy[] = { proxy, NULL };
    expect_cli(5, "cannot reach", "demo\n", via_proxy, login);
    const char *exempt[] = { proxy, "no_proxy=127.0.0.1", "IGTCLOUD_REFRESH_MARGIN=", NULL };
    const char *argv[] = { IGTCLOUD_CLI_BIN, "login", "-d", sandbox.api_url, "-u", "demo",
                           "--password-stdin", NULL };
    const char *envs[] = { token_env, proxy, "no_proxy=127.0.0.1", NULL };
    (void)exempt;
    pid_t pid = cli_spawn(argv, envs, "demo\n", NULL);
    assert_int_equal(cli_wait_for_path(token_path, 1, 20), 0);
    kill(pid, SIGTERM);
    assert_int_equal(cli_wait(pid, 20), 0);
}

static void test_errors__broken_servers(void **state)
{
    (void)state;
    fake_server fs;
    const char *html = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 14\r\n"
                       "Connection: close\r\n\r\n<html>hi</html";
    assert_int_equal(fake_server_start(&fs, FAKE_RESPOND, html), 0);
    const char *args[] = { "login", "-d", fs.url, "-u", "demo", "--password-stdin", NULL };
    expect_cli(8, "not JSON", "pw\n", NULL, args);
    fake_server_stop(&fs);

    const char *no_cookies = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             "Content-Length: 33\r\nConnection: close\r\n\r\n"
                             "{\"CSRFToken\": \"x\", \"sub\": \"demo\"}";
    assert_int_equal(fake_server_start(&fs, FAKE_RESPOND, no_cookies), 0);
    const char *args2[] = { "login", "-d", fs.url, "-u", "demo", "--password-stdin", NULL };
    expect_cli(8, "no JWT cookies", "pw\n", NULL, args2);
    /* The request was the protocol's password grant. */
    assert_non_null(strstr(fs.last_request, "POST /api/auth/login HTTP/1.1"));
    assert_non_null(strstr(fs.last_request, "\"grantType\":\"password\""));
    assert_null(strstr(fs.last_request, "Cookie:"));
    fake_server_stop(&fs);

    assert_int_equal(fake_server_start(&fs, FAKE_CLOSE, NULL), 0);
    const char *args3[] = { "login", "-d", fs.url, "-u", "demo", "--password-stdin", NULL };
    expect_cli(5, "cannot reach", "pw\n", NULL, args3);
    fake_server_stop(&fs);

    /* A server that never answers: ETIMEOUT from the HTTP layer (short timeout here). */
    assert_int_equal(fake_server_start(&fs, FAKE_SILENT, NULL), 0);
    igtcloud__http_config cfg = IGTCLOUD__HTTP_CONFIG_INIT;
    cfg.timeout = 1;
    igtcloud__http_client *client = NULL;
    assert_int_equal(igtcloud__http_client_new(&client, &cfg), 0);
    igtcloud__http_response res;
    assert_int_equal(igtcloud__http_request(&res, client, "GET", fs.url, NULL, NULL, 0),
                     IGTCLOUD_ETIMEOUT);
    igtcloud__http_client_free(client);
    fake_server_stop(&fs);
}

static void test_errors__tls(void **state)
{
    (void)state;
    char cert[600], key[600], cmd[2000];
    snprintf(cert, sizeof(cert), "%s/cert.pem", tmp);
    snprintf(key, sizeof(key), "%s/key.pem", tmp);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -keyout '%s' -out '%s' >/dev/null 2>&1",
             key, cert);
    assert_int_equal(system(cmd), 0);
    const char *html = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 4\r\n"
                       "Connection: close\r\n\r\nnope";
    fake_server fs;
    assert_int_equal(fake_server_start_tls(&fs, FAKE_RESPOND, html, cert, key), 0);
    /* Verified by default: a self-signed certificate is refused. */
    const char *args[] = { "login", "-d", fs.url, "-u", "demo", "--password-stdin", NULL };
    expect_cli(5, "TLS", "pw\n", NULL, args);
    /* Trusted with --cacert: the handshake passes and the (bad) answer is judged. */
    const char *args2[] = { "login", "-d", fs.url, "-u", "demo", "--password-stdin", "--cacert",
                            cert, NULL };
    expect_cli(8, "not JSON", "pw\n", NULL, args2);
    /* The name must match too: "localhost" is not in the certificate. */
    char other[80];
    snprintf(other, sizeof(other), "https://localhost:%d", fs.port);
    const char *args3[] = { "login", "-d", other, "-u", "demo", "--password-stdin", "--cacert",
                            cert, NULL };
    expect_cli(5, "TLS", "pw\n", NULL, args3);
    fake_server_stop(&fs);
}

/* A token file as the reference would write it, with any exp and domain. */
static void write_token_file(const char *domain, long long exp, mode_t mode)
{
    igtcloud__token t;
    memset(&t, 0, sizeof(t));
    t.sub = strdup("demo");
    t.jwt = strdup("eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln");
    t.csrf = strdup("csrf");
    t.domain = strdup(domain);
    t.jwt_data = json_pack("{s:I, s:s, s:s}", "exp", (json_int_t)exp, "sub", "demo",
                           "access_token", "acc");
    t.exp = exp;
    igtcloud__buf text = IGTCLOUD_BUF_INIT;
    assert_int_equal(igtcloud__token_encode(&text, &t), 0);
    unlink(token_path);
    FILE *f = fopen(token_path, "wb");
    assert_non_null(f);
    fwrite(text.ptr, 1, text.size, f);
    for (size_t i = text.size; i < IGTCLOUD__TOKEN_FILE_SIZE; i++)
        fputc(0, f);
    fclose(f);
    chmod(token_path, mode);
    igtcloud__buf_dispose(&text);
    igtcloud__token_dispose(&t);
}

static void test_errors__token_file_problems(void **state)
{
    (void)state;
    const char *get[] = { "get-token", NULL };
    expect_cli(3, "not logged in", NULL, NULL, get);

    write_token_file(sandbox.api_url, (long long)time(NULL) - 10, 0600);
    expect_cli(3, "expired", NULL, NULL, get);

    write_token_file("https://igt-web.eu1.phsdp.com", (long long)time(NULL) + 600, 0600);
    expect_cli(0, NULL, NULL, NULL, get);
    const char *get_here[] = { "get-token", "-d", sandbox.api_url, NULL };
    expect_cli(3, "is for igt-web.eu1.phsdp.com", NULL, NULL, get_here);
    const char *env_domain[] = { "CLOUD_DOMAIN=TEST", NULL };
    expect_cli(3, "not igt-web-test.eu1.phsdp.com", NULL, env_domain, get);
    const char *get_user[] = { "get-token", "-u", "other", NULL };
    expect_cli(3, "not 'other'", NULL, NULL, get_user);

    write_token_file(sandbox.api_url, (long long)time(NULL) + 600, 0644);
    expect_cli(3, "other users can access it", NULL, NULL, get);

    char real[600];
    snprintf(real, sizeof(real), "%s/real-token", tmp);
    write_token_file(sandbox.api_url, (long long)time(NULL) + 600, 0600);
    assert_int_equal(rename(token_path, real), 0);
    assert_int_equal(symlink(real, token_path), 0);
    expect_cli(3, "symbolic link", NULL, NULL, get);
    unlink(token_path);
    unlink(real);

    FILE *f = fopen(token_path, "w");
    fputs("this is not a token\n", f);
    fclose(f);
    chmod(token_path, 0600);
    expect_cli(8, "damaged", NULL, NULL, get);
}

static void test_errors__bad_key_files(void **state)
{
    (void)state;
    char key[600];
    snprintf(key, sizeof(key), "%s/svc.pem", tmp);
    FILE *f = fopen(key, "w");
    fputs("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n", f);
    fclose(f);
    const char *args[] = { "login", "-d", sandbox.api_url, "-s", key, NULL };
    expect_cli(2, "is not an unencrypted RSA private key", NULL, NULL, args);
    f = fopen(key, "w");
    fputs("hello\n", f);
    fclose(f);
    expect_cli(2, "not a PEM private key", NULL, NULL, args);
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/none.pem", tmp);
    const char *args2[] = { "login", "-d", sandbox.api_url, "-s", missing, NULL };
    expect_cli(7, "cannot read service key", NULL, NULL, args2);
    /* A valid RSA key the cloud does not know. */
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "openssl genrsa -out '%s' 2048 >/dev/null 2>&1", key);
    assert_int_equal(system(cmd), 0);
    expect_cli(3, "login of service 'svc' failed", NULL, NULL, args);
}

/* The cloud goes away under a running login: it retries, then gives up and cleans up. */
static void test_errors__sandbox_killed_while_logged_in(void **state)
{
    (void)state;
    test_sandbox doomed;
    const char *sargs[] = { "--seed", "demo", "--token-lifetime", "5", NULL };
    assert_int_equal(test_sandbox_start(&doomed, sargs), 0);
    char err_path[600];
    snprintf(err_path, sizeof(err_path), "%s/killed.err", tmp);
    const char *argv[] = { IGTCLOUD_CLI_BIN, "login", "-d", doomed.api_url, "-u", "demo",
                           "--password-stdin", "--debug", NULL };
    const char *env[] = { token_env, "IGTCLOUD_REFRESH_MARGIN=3", "IGTCLOUD_RETRY_WINDOW=3",
                          NULL };
    pid_t pid = cli_spawn(argv, env, "demo\n", err_path);
    assert_int_equal(cli_wait_for_path(token_path, 1, 20), 0);
    kill(doomed.pid, SIGKILL);
    test_sandbox_stop(&doomed);
    time_t start = time(NULL);
    int rc = cli_wait(pid, 30);
    assert_int_equal(rc, 5);
    assert_true(time(NULL) - start >= 3);  /* it kept trying for the window */
    assert_int_not_equal(access(token_path, F_OK), 0);
    char *log = cli_slurp(err_path, NULL);
    /* Apart from --debug lines, exactly one "igtcloud: " line, and it says why. */
    int errors = 0, retries = 0;
    double pauses[8];
    for (char *line = log; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        if (strncmp(line, "igtcloud: debug: ", 17) == 0) {
            const char *at = strstr(line, "; retrying in ");
            if (at && retries < 8)
                pauses[retries++] = atof(at + 14);
        } else if (strncmp(line, "igtcloud: ", 10) == 0) {
            errors++;
            if (!strstr(line, "session lost: no refresh for 3 s"))
                fail_msg("unexpected error line: %s", line);
        }
        line = nl + 1;
    }
    assert_int_equal(errors, 1);
    /* Exponential backoff with jitter: 0.5-1 s, then 1-2 s (or what is left of the window). */
    if (retries < 2)
        fail_msg("%d retries in a 3 s window", retries);
    assert_true(pauses[0] >= 0.5 && pauses[0] <= 1.0);
    assert_true(pauses[1] >= 1.0 && pauses[1] <= 2.0);
    free(log);
}

/* Ctrl+C after the cloud went away: the file goes, exit 0, and no false "Logged out". */
static void test_errors__signal_after_the_cloud_went_away(void **state)
{
    (void)state;
    test_sandbox doomed;
    const char *sargs[] = { "--seed", "demo", NULL };
    assert_int_equal(test_sandbox_start(&doomed, sargs), 0);
    char err_path[600];
    snprintf(err_path, sizeof(err_path), "%s/gone.err", tmp);
    const char *argv[] = { IGTCLOUD_CLI_BIN, "login", "-d", doomed.api_url, "-u", "demo",
                           "--password-stdin", NULL };
    const char *env[] = { token_env, "IGTCLOUD_REFRESH_MARGIN=", NULL };
    pid_t pid = cli_spawn(argv, env, "demo\n", err_path);
    assert_int_equal(cli_wait_for_path(token_path, 1, 20), 0);
    kill(doomed.pid, SIGKILL);
    test_sandbox_stop(&doomed);
    kill(pid, SIGTERM);
    assert_int_equal(cli_wait(pid, 30), 0);
    assert_int_not_equal(access(token_path, F_OK), 0);
    char *log = cli_slurp(err_path, NULL);
    if (strstr(log, "Logged out") || !strstr(log, "igtcloud: token file removed, but the "
                                                  "logout failed: "))
        fail_msg("unexpected stderr: %s", log);
    assert_null(strstr(log, "eyJ"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_errors__wrong_password_unknown_user, cleanup),
        cmocka_unit_test_teardown(test_errors__usage, cleanup),
        cmocka_unit_test_teardown(test_errors__unreachable_and_proxies, cleanup),
        cmocka_unit_test_teardown(test_errors__broken_servers, cleanup),
        cmocka_unit_test_teardown(test_errors__tls, cleanup),
        cmocka_unit_test_teardown(test_errors__token_file_problems, cleanup),
        cmocka_unit_test_teardown(test_errors__bad_key_files, cleanup),
        cmocka_unit_test_teardown(test_errors__sandbox_killed_while_logged_in, cleanup),
        cmocka_unit_test_teardown(test_errors__signal_after_the_cloud_went_away, cleanup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
