/*
 * Sessions against a real sandbox: every login flow in the library and the
 * CLI, refresh under a concurrent reader, logout, signals, the token file
 * format, get-token, service identities and the examples/ program.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/session_int.h"
#include "cli_run.h"
#include "igtcloud/igtcloud.h"
#include "test_http.h"
#include "test_sandbox.h"

#define HOSPITAL_A "6f1c2b1e-0000-4000-8000-0000000000a1"
#define LIFETIME "5"

#define assert_ok(expr)                                                                  \
    do {                                                                                 \
        int rc_ = (expr);                                                                \
        if (rc_ != 0)                                                                    \
            fail_msg("%s = %d: %s", #expr, rc_, igtcloud_error_last()->message);         \
    } while (0)

static test_sandbox sandbox;
static char tmp[256];
static char token_path[512];
static char token_env[600];

static const char *base_env[] = {
    "http_proxy=", "https_proxy=", "HTTP_PROXY=", "HTTPS_PROXY=", "all_proxy=", "ALL_PROXY=",
    "CLOUD_DOMAIN=", "CLOUD_USERNAME=", "CLOUD_JWT_TOKEN=", "CLOUD_CSRF_TOKEN=", NULL
};

static int group_setup(void **state)
{
    (void)state;
    for (int i = 0; base_env[i]; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(strchr(base_env[i], '=') - base_env[i]),
                 base_env[i]);
        unsetenv(name);
    }
    if (igtcloud_global_init() < 0 || test_make_temp_dir(tmp, sizeof(tmp), "session"))
        return -1;
    snprintf(token_path, sizeof(token_path), "%s/token", tmp);
    snprintf(token_env, sizeof(token_env), "CLOUD_TOKEN_MMAP=%s", token_path);
    setenv("CLOUD_TOKEN_MMAP", token_path, 1);
    const char *args[] = { "--seed", "demo", "--token-lifetime", LIFETIME, NULL };
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
    unsetenv("CLOUD_JWT_TOKEN");
    unsetenv("CLOUD_CSRF_TOKEN");
    return 0;
}

/* Status of GET /api/auth/introspect with this JWT and CSRF (200 alive, 401 dead). */
static long introspect(const char *jwt, const char *csrf)
{
    test_login login;
    memset(&login, 0, sizeof(login));
    snprintf(login.jwt, sizeof(login.jwt), "%s", jwt);
    snprintf(login.csrf, sizeof(login.csrf), "%s", csrf);
    char url[256];
    snprintf(url, sizeof(url), "%s/api/auth/introspect", sandbox.api_url);
    test_response res;
    if (test_api(&res, &login, "GET", url, NULL))
        return -1;
    long status = res.status;
    test_response_dispose(&res);
    return status;
}

static igtcloud_session *open_password(const char *user, const char *password, unsigned flags)
{
    igtcloud_session_options opts = IGTCLOUD_SESSION_OPTIONS_INIT;
    opts.domain = sandbox.api_url;
    opts.user = user;
    opts.password = password;
    opts.flags = flags;
    igtcloud_session *s = NULL;
    int rc = igtcloud_session_open(&s, &opts);
    if (rc)
        print_error("open_password: %s\n", igtcloud_error_last()->message);
    return s;
}

static void test_session__password_login_refresh_logout(void **state)
{
    (void)state;
    igtcloud_session *s = open_password("demo", "demo", IGTCLOUD_SESSION_NO_REUSE);
    assert_non_null(s);
    assert_string_equal(igtcloud_session_user(s), "demo");
    assert_string_equal(igtcloud_session_domain(s), sandbox.api_url);
    assert_int_equal(igtcloud_session_lifetime(s), atoi(LIFETIME));
    assert_true(igtcloud_session_expiry(s) > (long long)time(NULL));
    assert_non_null(igtcloud_session_access_token(s));
    assert_true(strlen(igtcloud_session_csrf(s)) > 0);
    char first[4096], csrf[256];
    snprintf(first, sizeof(first), "%s", igtcloud_session_jwt(s));
    snprintf(csrf, sizeof(csrf), "%s", igtcloud_session_csrf(s));
    assert_int_equal(introspect(first, csrf), 200);

    /* An authenticated request through the internal call later modules use. */
    igtcloud__http_response res;
    assert_ok(igtcloud__session_request(&res, s, "GET", "/api/auth/introspect", NULL));
    assert_int_equal(res.status, 200);
    igtcloud__http_response_dispose(&res);

    sleep(1); /* a new JWT differs in exp */
    assert_ok(igtcloud_session_refresh(s));
    assert_string_not_equal(igtcloud_session_jwt(s), first);
    assert_string_equal(igtcloud_session_csrf(s), csrf);  /* the login CSRF stays */
    char second[4096];
    snprintf(second, sizeof(second), "%s", igtcloud_session_jwt(s));
    assert_int_equal(introspect(second, csrf), 200);

    assert_ok(igtcloud_session_logout(s));
    assert_int_equal(introspect(second, csrf), 401);
    igtcloud_session_free(s);
}

static void test_session__free_logs_out(void **state)
{
    (void)state;
    igtcloud_session *s = open_password("demo", "demo", IGTCLOUD_SESSION_NO_REUSE);
    assert_non_null(s);
    char jwt[4096], csrf[256];
    snprintf(jwt, sizeof(jwt), "%s", igtcloud_session_jwt(s));
    snprintf(csrf, sizeof(csrf), "%s", igtcloud_session_csrf(s));
    igtcloud_session_free(s);
    assert_int_equal(introspect(jwt, csrf), 401);
}

static void test_session__wrong_password_and_unknown_user(void **state)
{
    (void)state;
    igtcloud_session_options opts = IGTCLOUD_SESSION_OPTIONS_INIT;
    opts.domain = sandbox.api_url;
    opts.user = "demo";
    opts.password = "Wr0ng-Secret";
    opts.flags = IGTCLOUD_SESSION_NO_REUSE;
    igtcloud_session *s = NULL;
    assert_int_equal(igtcloud_session_open(&s, &opts), IGTCLOUD_EAUTH);
    assert_null(s);
    assert_null(strstr(igtcloud_error_last()->message, "Wr0ng-Secret"));
    assert_non_null(strstr(igtcloud_error_last()->message, "demo"));
    opts.user = "nobody-here";
    assert_int_equal(igtcloud_session_open(&s, &opts), IGTCLOUD_EAUTH);
}

static void test_session__tokens_from_environment(void **state)
{
    (void)state;
    igtcloud_session *owner = open_password("demo", "demo", IGTCLOUD_SESSION_NO_REUSE);
    assert_non_null(owner);
    setenv("CLOUD_JWT_TOKEN", igtcloud_session_jwt(owner), 1);
    setenv("CLOUD_CSRF_TOKEN", igtcloud_session_csrf(owner), 1);
    igtcloud_session_options opts = IGTCLOUD_SESSION_OPTIONS_INIT;
    opts.domain = sandbox.api_url;
    igtcloud_session *s = NULL;
    assert_ok(igtcloud_session_open(&s, &opts));
    assert_string_equal(igtcloud_session_user(s), "demo");
    assert_string_equal(igtcloud_session_jwt(s), igtcloud_session_jwt(owner));
    assert_true(igtcloud_session_expiry(s) > (long long)time(NULL));
    igtcloud_session_free(s);
    /* Handed-in tokens are not ours to log out. */
    assert_int_equal(introspect(igtcloud_session_jwt(owner), igtcloud_session_csrf(owner)), 200);

    setenv("CLOUD_JWT_TOKEN", "garbage.token.here", 1);
    assert_int_equal(igtcloud_session_open(&s, &opts), IGTCLOUD_EAUTH);
    unsetenv("CLOUD_JWT_TOKEN");
    unsetenv("CLOUD_CSRF_TOKEN");
    igtcloud_session_free(owner);
}

/* smart_auth: reuse the published file only for the same host, user and a live token. */
static void test_session__smart_reuse_of_the_token_file(void **state)
{
    (void)state;
    igtcloud_session *owner = open_password("demo", "demo", IGTCLOUD_SESSION_NO_REUSE);
    assert_non_null(owner);
    assert_ok(igtcloud_session_publish(owner, NULL));

    igtcloud_session_options opts = IGTCLOUD_SESSION_OPTIONS_INIT;
    opts.domain = sandbox.api_url;
    opts.user = "demo";
    igtcloud_session *s = NULL;
    assert_ok(igtcloud_session_open(&s, &opts));
    assert_string_equal(igtcloud_session_jwt(s), igtcloud_session_jwt(owner));
    igtcloud_session_free(s);  /* borrowed: no logout */
    assert_int_equal(introspect(igtcloud_session_jwt(owner), igtcloud_session_csrf(owner)), 200);

    /* Host given with a trailing slash and upper case still matches. */
    char upper[256];
    snprintf(upper, sizeof(upper), "HTTP://127.0.0.1:%s/", strrchr(sandbox.api_url, ':') + 1);
    opts.domain = upper;
    opts.flags = IGTCLOUD_SESSION_REUSE_ONLY;
    assert_ok(igtcloud_session_open(&s, &opts));
    igtcloud_session_free(s);

    /* Another user: not reused; with REUSE_ONLY that is an error saying why. */
    opts.domain = sandbox.api_url;
    opts.user = "other";
    assert_int_equal(igtcloud_session_open(&s, &opts), IGTCLOUD_EAUTH);
    assert_non_null(strstr(igtcloud_error_last()->message, "for user 'demo', not 'other'"));
    opts.flags = 0;
    opts.password = "other";
    assert_ok(igtcloud_session_open(&s, &opts));  /* logs in itself */
    assert_string_equal(igtcloud_session_user(s), "other");
    igtcloud_session_free(s);

    /* Another domain. */
    opts.user = NULL;
    opts.domain = "http://127.0.0.1:1";
    opts.flags = IGTCLOUD_SESSION_REUSE_ONLY;
    assert_int_equal(igtcloud_session_open(&s, &opts), IGTCLOUD_EAUTH);
    assert_non_null(strstr(igtcloud_error_last()->message, "not 127.0.0.1:1"));

    /* Expired: wait out the short lifetime without refreshing. */
    sleep(atoi(LIFETIME) + 1);
    opts.domain = sandbox.api_url;
    assert_int_equal(igtcloud_session_open(&s, &opts), IGTCLOUD_EAUTH);
    assert_non_null(strstr(igtcloud_error_last()->message, "expired"));

    igtcloud_session_free(owner);
    assert_int_not_equal(access(token_path, F_OK), 0);  /* free unpublished it */
}

/* The token_file option names the file to reuse, over CLOUD_TOKEN_MMAP. */
static void test_session__token_file_option(void **state)
{
    (void)state;
    char other[600];
    snprintf(other, sizeof(other), "%s/other-token", tmp);
    igtcloud_session *owner = open_password("demo", "demo", IGTCLOUD_SESSION_NO_REUSE);
    assert_non_null(owner);
    assert_ok(igtcloud_session_publish(owner, other));
    assert_int_not_equal(access(token_path, F_OK), 0);  /* not at CLOUD_TOKEN_MMAP */

    igtcloud_session_options opts = IGTCLOUD_SESSION_OPTIONS_INIT;
    opts.domain = sandbox.api_url;
    opts.flags = IGTCLOUD_SESSION_REUSE_ONLY;
    igtcloud_session *s = NULL;
    assert_int_equal(igtcloud_session_open(&s, &opts), IGTCLOUD_EAUTH);
    assert_non_null(strstr(igtcloud_error_last()->message, token_path));
    opts.token_file = other;
    assert_ok(igtcloud_session_open(&s, &opts));
    assert_string_equal(igtcloud_session_jwt(s), igtcloud_session_jwt(owner));
    assert_string_equal(igtcloud_session_user(s), "demo");
    igtcloud_session_free(s);
    igtcloud_session_free(owner);
    assert_int_not_equal(access(other, F_OK), 0);
}

/* Decode the file as PROTOCOL.md section 3 says, without the library's reader. */
static json_t *decode_token_file_independently(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 20480);
    size_t len = 0;
    char *raw = cli_slurp(path, &len);
    assert_non_null(raw);
    assert_int_equal(len, 20480);
    size_t text = strlen(raw);
    for (size_t i = text; i < len; i++)
        assert_int_equal(raw[i], 0);
    unsigned char *json = malloc(text + 4);
    int n = EVP_DecodeBlock(json, (unsigned char *)raw, (int)text);  /* standard alphabet only */
    assert_true(n > 0);
    while (n > 0 && json[n - 1] == 0)
        n--;
    json[n] = 0;
    const char *keys[] = { "{\"sub\": ", ", \"jwt\": ", ", \"jwt_data\": {", ", \"csrf\": ",
                           ", \"domain\": " };
    const char *at = (const char *)json;
    for (size_t i = 0; i < 5; i++) {
        const char *found = strstr(at, keys[i]);
        if (!found)
            fail_msg("key %zu missing or out of order in %s", i, (const char *)json);
        at = found;
    }
    json_t *obj = json_loads((const char *)json, 0, NULL);
    assert_non_null(obj);
    assert_int_equal(json_object_size(obj), 5);
    free(json);
    free(raw);
    return obj;
}

static void test_session__cli_login_publishes_and_signals_log_out(void **state)
{
    (void)state;
    const int signals[] = { SIGTERM, SIGINT, SIGHUP };
    for (size_t i = 0; i < 3; i++) {
        char err_path[600];
        snprintf(err_path, sizeof(err_path), "%s/login.err", tmp);
        const char *argv[] = { IGTCLOUD_CLI_BIN, "login", "-d", sandbox.api_url, "-u", "demo",
                               "--password-stdin", NULL };
        const char *env[] = { token_env, "IGTCLOUD_REFRESH_MARGIN=", NULL };
        pid_t pid = cli_spawn(argv, env, "demo\n", err_path);
        assert_true(pid > 0);
        assert_int_equal(cli_wait_for_path(token_path, 1, 20), 0);
        usleep(100000);

        json_t *file = decode_token_file_independently(token_path);
        assert_string_equal(json_string_value(json_object_get(file, "sub")), "demo");
        assert_string_equal(json_string_value(json_object_get(file, "domain")), sandbox.api_url);
        const char *jwt = json_string_value(json_object_get(file, "jwt"));
        const char *csrf = json_string_value(json_object_get(file, "csrf"));
        json_t *data = json_object_get(file, "jwt_data");
        assert_true(json_integer_value(json_object_get(data, "exp")) > (json_int_t)time(NULL));
        assert_int_equal(introspect(jwt, csrf), 200);

        /* get-token prints each value from the file. */
        char out[8192], err[1024];
        const char *types[] = { "jwt", "csrf", "access", "JWT" };
        const char *want[] = { jwt, csrf,
                               json_string_value(json_object_get(data, "access_token")), jwt };
        for (size_t t = 0; t < 4; t++) {
            const char *gargv[] = { IGTCLOUD_CLI_BIN, "get-token", "-t", types[t], NULL };
            const char *genv[] = { token_env, NULL };
            assert_int_equal(cli_run(gargv, genv, NULL, out, sizeof(out), err, sizeof(err)), 0);
            out[strcspn(out, "\n")] = '\0';
            assert_non_null(want[t]);
            assert_string_equal(out, want[t]);
            assert_string_equal(err, "");
        }
        const char *dargv[] = { IGTCLOUD_CLI_BIN, "get-token", NULL };
        const char *denv[] = { token_env, NULL };
        assert_int_equal(cli_run(dargv, denv, NULL, out, sizeof(out), err, sizeof(err)), 0);
        out[strcspn(out, "\n")] = '\0';
        assert_string_equal(out, jwt);

        char jwt_copy[4096], csrf_copy[256];
        snprintf(jwt_copy, sizeof(jwt_copy), "%s", jwt);
        snprintf(csrf_copy, sizeof(csrf_copy), "%s", csrf);
        json_decref(file);

        kill(pid, signals[i]);
        assert_int_equal(cli_wait(pid, 20), 0);
        assert_int_not_equal(access(token_path, F_OK), 0);
        assert_int_equal(introspect(jwt_copy, csrf_copy), 401);  /* logged out */
        char *log = cli_slurp(err_path, NULL);
        assert_null(strstr(log, "demo\n"));
        assert_null(strstr(log, jwt_copy));
        free(log);

        assert_int_equal(cli_run(dargv, denv, NULL, out, sizeof(out), err, sizeof(err)), 3);
        assert_non_null(strstr(err, "not logged in"));
        assert_int_equal(strchr(err, '\n') - err + 1, (long)strlen(err));  /* one line */
    }
}

/* Several refreshes while another process keeps using what get-token prints. */
static void test_session__refresh_under_a_concurrent_reader(void **state)
{
    (void)state;
    const char *argv[] = { IGTCLOUD_CLI_BIN, "login", "-d", sandbox.api_url, "-u", "demo",
                           "--password-stdin", NULL };
    /* Lifetime 5 s, margin 3 s: a refresh every 2 s. */
    const char *env[] = { token_env, "IGTCLOUD_REFRESH_MARGIN=3", NULL };
    pid_t pid = cli_spawn(argv, env, "demo\n", NULL);
    assert_int_equal(cli_wait_for_path(token_path, 1, 20), 0);

    char seen[16][4096];
    int distinct = 0, reads = 0;
    time_t end = time(NULL) + 3 * atoi(LIFETIME);
    while (time(NULL) < end) {
        char jwt[4096], csrf[512], err[1024];
        const char *jargv[] = { IGTCLOUD_CLI_BIN, "get-token", NULL };
        const char *cargv[] = { IGTCLOUD_CLI_BIN, "get-token", "-t", "csrf", NULL };
        const char *genv[] = { token_env, NULL };
        int rc = cli_run(jargv, genv, NULL, jwt, sizeof(jwt), err, sizeof(err));
        if (rc != 0)
            fail_msg("get-token failed during refreshes: %s", err);
        assert_int_equal(cli_run(cargv, genv, NULL, csrf, sizeof(csrf), err, sizeof(err)), 0);
        jwt[strcspn(jwt, "\n")] = '\0';
        csrf[strcspn(csrf, "\n")] = '\0';
        long status = introspect(jwt, csrf);
        if (status != 200)
            fail_msg("the token from get-token was refused (%ld) after %d reads", status, reads);
        reads++;
        int known = 0;
        for (int i = 0; i < distinct; i++)
            known |= strcmp(seen[i], jwt) == 0;
        if (!known && distinct < 16)
            snprintf(seen[distinct++], sizeof(seen[0]), "%s", jwt);
        usleep(50000);
    }
    print_message("%d reads, %d distinct JWTs\n", reads, distinct);
    assert_true(distinct >= 4);  /* the first and at least three refreshes */
    /* ...and no more than one per Max-Age - margin (2 s) in the 15 s watched. */
    assert_true(distinct <= 10);
    kill(pid, SIGTERM);
    assert_int_equal(cli_wait(pid, 20), 0);
}

static void run_openssl(const char *args)
{
    char cmd[4400];
    snprintf(cmd, sizeof(cmd), "openssl %s 2>/dev/null", args);
    assert_int_equal(system(cmd), 0);
}

/* examples/create_service, then service logins with the PKCS#8 and PKCS#1 forms. */
static void test_session__service_identity_and_service_login(void **state)
{
    (void)state;
    /* The example reuses a running `igtcloud login`, as smart_auth does. */
    const char *largv[] = { IGTCLOUD_CLI_BIN, "login", "-d", sandbox.api_url, "-u", "demo",
                            "--password-stdin", "--debug", NULL };
    const char *lenv[] = { token_env, "IGTCLOUD_REFRESH_MARGIN=3", NULL };
    pid_t login = cli_spawn(largv, lenv, "demo\n", NULL);
    assert_int_equal(cli_wait_for_path(token_path, 1, 20), 0);

    char workdir[600], cwd[1024];
    snprintf(workdir, sizeof(workdir), "%s/keys", tmp);
    mkdir(workdir, 0700);
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(workdir), 0);
    const char *eargv[] = { IGTCLOUD_BINARY_DIR "/examples/create_service", sandbox.api_url,
                            HOSPITAL_A, "uploader", NULL };
    const char *eenv[] = { token_env, NULL };
    char out[512], err[2048];
    int rc = cli_run(eargv, eenv, NULL, out, sizeof(out), err, sizeof(err));
    assert_int_equal(chdir(cwd), 0);
    if (rc != 0)
        fail_msg("create_service: %s", err);
    out[strcspn(out, "\n")] = '\0';
    assert_non_null(strstr(out, ".pem"));
    kill(login, SIGTERM);
    assert_int_equal(cli_wait(login, 20), 0);

    char pem[2048];
    snprintf(pem, sizeof(pem), "%s/%s", workdir, out);
    struct stat st;
    assert_int_equal(stat(pem, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Reflowed to 64-character lines. */
    char *text = cli_slurp(pem, NULL);
    assert_non_null(strstr(text, "-----BEGIN"));
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        if (strncmp(line, "-----", 5) != 0)
            assert_true(nl - line <= 64);
        line = nl + 1;
    }
    free(text);

    /* PKCS#1 and PKCS#8 copies named after the service id. */
    char service_id[1024];
    snprintf(service_id, sizeof(service_id), "%.*s", (int)(strlen(out) - 4), out);
    char pkcs1_dir[700], pkcs8_dir[700], pkcs1[2048], pkcs8[2048], args[4300];
    snprintf(pkcs1_dir, sizeof(pkcs1_dir), "%s/pkcs1", workdir);
    snprintf(pkcs8_dir, sizeof(pkcs8_dir), "%s/pkcs8", workdir);
    mkdir(pkcs1_dir, 0700);
    mkdir(pkcs8_dir, 0700);
    snprintf(pkcs1, sizeof(pkcs1), "%s/%s.pem", pkcs1_dir, service_id);
    snprintf(pkcs8, sizeof(pkcs8), "%s/%s.key", pkcs8_dir, service_id);
    snprintf(args, sizeof(args), "rsa -traditional -in '%s' -out '%s'", pem, pkcs1);
    run_openssl(args);
    snprintf(args, sizeof(args), "pkcs8 -topk8 -nocrypt -in '%s' -out '%s'", pem, pkcs8);
    run_openssl(args);
    text = cli_slurp(pkcs1, NULL);
    assert_non_null(strstr(text, "BEGIN RSA PRIVATE KEY"));
    free(text);
    text = cli_slurp(pkcs8, NULL);
    assert_non_null(strstr(text, "BEGIN PRIVATE KEY"));
    free(text);

    const char *keys[] = { pem, pkcs1, pkcs8 };
    for (int i = 0; i < 3; i++) {
        igtcloud_session_options opts = IGTCLOUD_SESSION_OPTIONS_INIT;
        opts.domain = sandbox.api_url;
        opts.service_key_path = keys[i];
        opts.flags = IGTCLOUD_SESSION_NO_REUSE;
        igtcloud_session *s = NULL;
        assert_ok(igtcloud_session_open(&s, &opts));
        assert_string_equal(igtcloud_session_user(s), service_id);
        char jwt[4096];
        snprintf(jwt, sizeof(jwt), "%s", igtcloud_session_jwt(s));
        sleep(1);
        assert_ok(igtcloud_session_refresh(s));
        assert_string_not_equal(igtcloud_session_jwt(s), jwt);
        assert_int_equal(introspect(igtcloud_session_jwt(s), igtcloud_session_csrf(s)), 200);
        igtcloud_session_free(s);
    }

    /* The CLI: service id from the file name, refreshed by fresh assertions. */
    const char *sargv[] = { IGTCLOUD_CLI_BIN, "login", "-d", sandbox.api_url, "-s", pkcs1, NULL };
    const char *senv[] = { token_env, "IGTCLOUD_REFRESH_MARGIN=3", NULL };
    pid_t svc = cli_spawn(sargv, senv, NULL, NULL);
    assert_int_equal(cli_wait_for_path(token_path, 1, 20), 0);
    sleep(3);  /* at least one refresh */
    const char *gargv[] = { IGTCLOUD_CLI_BIN, "get-token", "-u", service_id, NULL };
    const char *genv[] = { token_env, NULL };
    assert_int_equal(cli_run(gargv, genv, NULL, out, sizeof(out), err, sizeof(err)), 0);
    kill(svc, SIGINT);
    assert_int_equal(cli_wait(svc, 20), 0);
    assert_int_not_equal(access(token_path, F_OK), 0);
}

/*
 * Create a service of institute A named `name` and save its key in a fresh folder
 * as `file_name` (NULL: "<service id>.pem"); the key's path and the id come back.
 */
static void create_service_key(char *key, size_t key_size, char *id, size_t id_size,
                               const char *name, const char *file_name)
{
    char workdir[600];
    snprintf(workdir, sizeof(workdir), "%s/keys-%s", tmp, name);
    mkdir(workdir, 0700);
    igtcloud_session *admin = open_password("demo", "demo", IGTCLOUD_SESSION_NO_REUSE);
    assert_non_null(admin);
    igtcloud_service *svc = NULL;
    assert_ok(igtcloud_service_create(&svc, admin, HOSPITAL_A, name));
    if (file_name)
        snprintf(key, key_size, "%s/%s", workdir, file_name);
    else
        snprintf(key, key_size, "%s/%s.pem", workdir, igtcloud_service_id(svc));
    if (id)
        snprintf(id, id_size, "%s", igtcloud_service_id(svc));
    assert_ok(igtcloud_private_key_save(igtcloud_service_private_key(svc), key));
    igtcloud_service_free(svc);
    igtcloud_session_free(admin);
}

/* `login -u SERVICE_ID -s FILE`: the id given wins over the file's name. */
static void test_session__service_id_given_with_the_key(void **state)
{
    (void)state;
    char key[700], id[256];
    create_service_key(key, sizeof(key), id, sizeof(id), "named", "renamed.pem");

    /* The file's name is not a service id: the cloud refuses it. */
    const char *bad[] = { IGTCLOUD_CLI_BIN, "login", "-d", sandbox.api_url, "-s", key, NULL };
    const char *env[] = { token_env, "IGTCLOUD_REFRESH_MARGIN=", NULL };
    char out[8192], err[1024];
    assert_int_equal(cli_run(bad, env, NULL, out, sizeof(out), err, sizeof(err)), 3);
    assert_non_null(strstr(err, "login of service 'renamed' failed"));

    const char *argv[] = { IGTCLOUD_CLI_BIN, "login", "-d", sandbox.api_url, "-u", id, "-s", key,
                           NULL };
    pid_t pid = cli_spawn(argv, env, NULL, NULL);
    assert_true(pid > 0);
    assert_int_equal(cli_wait_for_path(token_path, 1, 20), 0);
    usleep(100000);
    const char *gargv[] = { IGTCLOUD_CLI_BIN, "get-token", "-u", id, NULL };
    assert_int_equal(cli_run(gargv, env, NULL, out, sizeof(out), err, sizeof(err)), 0);
    out[strcspn(out, "\n")] = '\0';
    char csrf[512];
    const char *cargv[] = { IGTCLOUD_CLI_BIN, "get-token", "-t", "csrf", NULL };
    assert_int_equal(cli_run(cargv, env, NULL, csrf, sizeof(csrf), err, sizeof(err)), 0);
    csrf[strcspn(csrf, "\n")] = '\0';
    assert_int_equal(introspect(out, csrf), 200);
    kill(pid, SIGTERM);
    assert_int_equal(cli_wait(pid, 20), 0);

    igtcloud_session_options opts = IGTCLOUD_SESSION_OPTIONS_INIT;
    opts.domain = sandbox.api_url;
    opts.service_key_path = key;
    opts.service_id = id;
    opts.flags = IGTCLOUD_SESSION_NO_REUSE;
    igtcloud_session *s = NULL;
    assert_ok(igtcloud_session_open(&s, &opts));
    assert_string_equal(igtcloud_session_user(s), id);
    igtcloud_session_free(s);
}

/* The request lines a session logs through its debug callback. */
struct request_log {
    char text[16384];
};

static void log_request(const char *line, void *payload)
{
    struct request_log *log = payload;
    size_t used = strlen(log->text);
    snprintf(log->text + used, sizeof(log->text) - used, "%s\n", line);
}

/* Users refresh with POST /api/auth/refresh; services log in again with a fresh assertion. */
static void test_session__refresh_uses_the_protocol_endpoints(void **state)
{
    (void)state;
    static struct request_log log;
    char refresh[300];
    snprintf(refresh, sizeof(refresh), "> POST %s/api/auth/refresh\n", sandbox.api_url);
    igtcloud_session_options opts = IGTCLOUD_SESSION_OPTIONS_INIT;
    opts.domain = sandbox.api_url;
    opts.user = "demo";
    opts.password = "demo";
    opts.flags = IGTCLOUD_SESSION_NO_REUSE;
    opts.debug_cb = log_request;
    opts.debug_payload = &log;
    igtcloud_session *s = NULL;
    assert_ok(igtcloud_session_open(&s, &opts));
    log.text[0] = '\0';
    assert_ok(igtcloud_session_refresh(s));
    if (strcmp(log.text, refresh) != 0 && strncmp(log.text, refresh, strlen(refresh)) != 0)
        fail_msg("a user's refresh sent: %s", log.text);
    assert_null(strstr(log.text, "/api/auth/login"));
    igtcloud_session_free(s);

    char key[700];
    create_service_key(key, sizeof(key), NULL, 0, "refresher", NULL);

    igtcloud_session_options sopts = IGTCLOUD_SESSION_OPTIONS_INIT;
    sopts.domain = sandbox.api_url;
    sopts.service_key_path = key;
    sopts.flags = IGTCLOUD_SESSION_NO_REUSE;
    sopts.debug_cb = log_request;
    sopts.debug_payload = &log;
    assert_ok(igtcloud_session_open(&s, &sopts));
    log.text[0] = '\0';
    assert_ok(igtcloud_session_refresh(s));
    char aud[300], login[300];
    snprintf(aud, sizeof(aud), "> GET %s/api/auth/login/$aud\n", sandbox.api_url);
    snprintf(login, sizeof(login), "> POST %s/api/auth/login\n", sandbox.api_url);
    if (!strstr(log.text, aud) || !strstr(log.text, login) || strstr(log.text, "/refresh"))
        fail_msg("a service's refresh sent: %s", log.text);
    igtcloud_session_free(s);
}

/* CLOUD_DOMAIN and CLOUD_USERNAME stand in for -d and -u, in the CLI and the library. */
static void test_session__domain_and_user_from_environment(void **state)
{
    (void)state;
    char domain_env[300];
    snprintf(domain_env, sizeof(domain_env), "CLOUD_DOMAIN=%s", sandbox.api_url);
    const char *argv[] = { IGTCLOUD_CLI_BIN, "login", "--password-stdin", NULL };
    const char *env[] = { token_env, domain_env, "CLOUD_USERNAME=other",
                          "IGTCLOUD_REFRESH_MARGIN=", NULL };
    pid_t pid = cli_spawn(argv, env, "other\n", NULL);
    assert_true(pid > 0);
    assert_int_equal(cli_wait_for_path(token_path, 1, 20), 0);
    usleep(100000);
    igtcloud__token t;
    assert_ok(igtcloud__token_file_read(&t, token_path));
    assert_string_equal(t.sub, "other");
    assert_string_equal(t.domain, sandbox.api_url);
    igtcloud__token_dispose(&t);
    kill(pid, SIGTERM);
    assert_int_equal(cli_wait(pid, 20), 0);

    setenv("CLOUD_DOMAIN", sandbox.api_url, 1);
    setenv("CLOUD_USERNAME", "other", 1);
    igtcloud_session_options opts = IGTCLOUD_SESSION_OPTIONS_INIT;
    opts.password = "other";
    igtcloud_session *s = NULL;
    int rc = igtcloud_session_open(&s, &opts);
    unsetenv("CLOUD_DOMAIN");
    unsetenv("CLOUD_USERNAME");
    assert_ok(rc);
    assert_string_equal(igtcloud_session_user(s), "other");
    assert_string_equal(igtcloud_session_domain(s), sandbox.api_url);
    igtcloud_session_free(s);
}

/* Read from the pty master until `want` has arrived (appending to buf); 0 when it did. */
static int pty_expect(int master, char *buf, size_t size, const char *want, int seconds)
{
    time_t end = time(NULL) + seconds;
    while (!strstr(buf, want)) {
        if (time(NULL) > end)
            return -1;
        struct pollfd p = { master, POLLIN, 0 };
        if (poll(&p, 1, 200) <= 0)
            continue;
        size_t used = strlen(buf);
        if (used + 1 >= size)
            return -1;
        ssize_t n = read(master, buf + used, size - used - 1);
        if (n <= 0)
            return -1;
        buf[used + (size_t)n] = '\0';
    }
    return 0;
}

/* No -d, no -u, no --password-stdin, but a terminal: login asks, and the password is not echoed. */
static void test_session__cli_login_prompts_on_a_terminal(void **state)
{
    (void)state;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    char slave_name[128];
    const char *name = ptsname(master);
    assert_non_null(name);
    snprintf(slave_name, sizeof(slave_name), "%s", name);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setsid();
        int slave = open(slave_name, O_RDWR);  /* becomes the controlling terminal */
        if (slave < 0)
            _exit(126);
        dup2(slave, STDIN_FILENO);
        dup2(slave, STDOUT_FILENO);
        dup2(slave, STDERR_FILENO);
        close(master);
        unsetenv("CLOUD_DOMAIN");
        unsetenv("CLOUD_USERNAME");
        unsetenv("IGTCLOUD_REFRESH_MARGIN");
        execl(IGTCLOUD_CLI_BIN, IGTCLOUD_CLI_BIN, "login", (char *)NULL);
        _exit(127);
    }
    static char screen[8192];
    screen[0] = '\0';
    char line[300];
    if (pty_expect(master, screen, sizeof(screen), "Provide domain: ", 20))
        fail_msg("no domain prompt: %s", screen);
    snprintf(line, sizeof(line), "%s\n", sandbox.api_url);
    assert_int_equal(write(master, line, strlen(line)), (ssize_t)strlen(line));
    if (pty_expect(master, screen, sizeof(screen), "Username: ", 20))
        fail_msg("no user prompt: %s", screen);
    assert_int_equal(write(master, "demo\n", 5), 5);
    if (pty_expect(master, screen, sizeof(screen), "password: ", 20))
        fail_msg("no password prompt: %s", screen);
    size_t prompt_end = (size_t)(strstr(screen, "password: ") - screen) + 10;
    assert_int_equal(write(master, "demo\n", 5), 5);
    if (pty_expect(master, screen, sizeof(screen), "Press Ctrl+C", 20))
        fail_msg("not logged in: %s", screen);
    /* Between the password prompt and the next message only line ends: no echo. */
    const char *after = screen + prompt_end;
    size_t gap = strcspn(after, "L");  /* "Logged in to ..." */
    for (size_t i = 0; i < gap; i++)
        if (after[i] != '\r' && after[i] != '\n')
            fail_msg("the password was echoed: %s", screen);
    assert_int_equal(strncmp(after + gap, "Logged in to ", 13), 0);
    assert_non_null(strstr(screen, "demo@127.0.0.1:"));  /* asks for whom */

    igtcloud__token t;
    assert_int_equal(cli_wait_for_path(token_path, 1, 20), 0);
    assert_ok(igtcloud__token_file_read(&t, token_path));
    assert_string_equal(t.sub, "demo");
    igtcloud__token_dispose(&t);
    kill(pid, SIGINT);
    assert_int_equal(cli_wait(pid, 20), 0);
    assert_int_not_equal(access(token_path, F_OK), 0);
    close(master);
}

/* The other way round: a token file written as the reference writes it serves our commands. */
static void test_session__token_file_written_like_the_reference(void **state)
{
    (void)state;
    igtcloud_session *owner = open_password("demo", "demo", IGTCLOUD_SESSION_NO_REUSE);
    assert_non_null(owner);
    const char *jwt = igtcloud_session_jwt(owner);
    /* jwt_data: the payload segment decoded with the standard alphabet, as the reference does. */
    const char *p1 = strchr(jwt, '.') + 1;
    size_t seg = (size_t)(strchr(p1, '.') - p1);
    char b64[2048], payload[2048];
    assert_true(seg + 4 < sizeof(b64));
    memcpy(b64, p1, seg);
    while (seg % 4)
        b64[seg++] = '=';
    b64[seg] = '\0';
    int n = EVP_DecodeBlock((unsigned char *)payload, (unsigned char *)b64, (int)seg);
    assert_true(n > 0);
    while (n > 0 && payload[n - 1] != '}')
        n--;
    payload[n] = '\0';
    json_t *data = json_loads(payload, 0, NULL);
    assert_non_null(data);
    char *data_text = json_dumps(data, JSON_PRESERVE_ORDER);  /* ", " and ": " as json.dumps */
    json_decref(data);
    static char text[8192];
    snprintf(text, sizeof(text),
             "{\"sub\": \"demo\", \"jwt\": \"%s\", \"jwt_data\": %s, \"csrf\": \"%s\", "
             "\"domain\": \"%s\"}",
             jwt, data_text, igtcloud_session_csrf(owner), sandbox.api_url);
    free(data_text);
    static unsigned char file[20480];
    memset(file, 0, sizeof(file));
    EVP_EncodeBlock(file, (unsigned char *)text, (int)strlen(text));
    int fd = open(token_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, file, sizeof(file)), (ssize_t)sizeof(file));
    close(fd);

    char out[8192], err[1024];
    const char *gargv[] = { IGTCLOUD_CLI_BIN, "get-token", "-t", "jwt", NULL };
    const char *genv[] = { token_env, NULL };
    assert_int_equal(cli_run(gargv, genv, NULL, out, sizeof(out), err, sizeof(err)), 0);
    out[strcspn(out, "\n")] = '\0';
    assert_string_equal(out, jwt);
    const char *aargv[] = { IGTCLOUD_CLI_BIN, "get-token", "-t", "access", NULL };
    assert_int_equal(cli_run(aargv, genv, NULL, out, sizeof(out), err, sizeof(err)), 0);
    out[strcspn(out, "\n")] = '\0';
    assert_string_equal(out, igtcloud_session_access_token(owner));

    /* A library session borrows it and calls the cloud with it. */
    igtcloud_session_options opts = IGTCLOUD_SESSION_OPTIONS_INIT;
    opts.domain = sandbox.api_url;
    opts.user = "demo";
    igtcloud_session *s = NULL;
    assert_ok(igtcloud_session_open(&s, &opts));
    assert_string_equal(igtcloud_session_jwt(s), jwt);
    igtcloud__http_response res;
    assert_ok(igtcloud__session_request(&res, s, "GET", "/api/auth/introspect", NULL));
    assert_int_equal(res.status, 200);
    igtcloud__http_response_dispose(&res);
    igtcloud_session_free(s);
    igtcloud_session_free(owner);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_session__password_login_refresh_logout, cleanup),
        cmocka_unit_test_teardown(test_session__free_logs_out, cleanup),
        cmocka_unit_test_teardown(test_session__wrong_password_and_unknown_user, cleanup),
        cmocka_unit_test_teardown(test_session__tokens_from_environment, cleanup),
        cmocka_unit_test_teardown(test_session__smart_reuse_of_the_token_file, cleanup),
        cmocka_unit_test_teardown(test_session__token_file_option, cleanup),
        cmocka_unit_test_teardown(test_session__cli_login_publishes_and_signals_log_out, cleanup),
        cmocka_unit_test_teardown(test_session__refresh_under_a_concurrent_reader, cleanup),
        cmocka_unit_test_teardown(test_session__service_identity_and_service_login, cleanup),
        cmocka_unit_test_teardown(test_session__refresh_uses_the_protocol_endpoints, cleanup),
        cmocka_unit_test_teardown(test_session__service_id_given_with_the_key, cleanup),
        cmocka_unit_test_teardown(test_session__domain_and_user_from_environment, cleanup),
        cmocka_unit_test_teardown(test_session__cli_login_prompts_on_a_terminal, cleanup),
        cmocka_unit_test_teardown(test_session__token_file_written_like_the_reference, cleanup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
