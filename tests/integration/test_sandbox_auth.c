/*
 * The sandbox's auth service (/api/auth) and service identities over real
 * sockets: every exchange is checked as the reference client would see it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/base64.h"
#include "core/buf.h"
#include "test_http.h"
#include "test_sandbox.h"

#define PROJECT_PREFIX "projects/demo-project/"
#define HOSPITAL_A "6f1c2b1e-0000-4000-8000-0000000000a1"
#define HOSPITAL_B "6f1c2b1e-0000-4000-8000-0000000000b2"
#define HOSPITAL_A_PREFIX "institutes/hospital-a/"
#define HOSPITAL_B_PREFIX "institutes/hospital-b/"
#define CREDENTIAL_LIFETIME 7200

static test_sandbox sandbox;
static const char *const sandbox_args[] = { "--seed", "demo", "--credential-lifetime", "7200",
                                            NULL };

static int setup(void **state)
{
    (void)state;
    return test_sandbox_start(&sandbox, sandbox_args);
}

static int teardown(void **state)
{
    (void)state;
    test_sandbox_stop(&sandbox);
    return 0;
}

/* ---- helpers ---- */

static const char *url(const char *path)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf), "%s%s", sandbox.api_url, path);
    return buf;
}

static void login(test_login *out, const char *user, const char *password)
{
    assert_int_equal(test_login_password(out, sandbox.api_url, user, password), 200);
    assert_true(strlen(out->jwt) > 0);
    assert_true(strlen(out->csrf) > 0);
}

static long call(test_response *res, const test_login *who, const char *method,
                 const char *path, const char *body)
{
    assert_int_equal(test_api(res, who, method, url(path), body), 0);
    return res->status;
}

/* POST /api/auth/login with a raw body (no login helper). */
static long post_login(test_response *res, const char *body)
{
    const char *headers[] = { "Content-Type: application/json", "Accept: application/json",
                              NULL };
    assert_int_equal(test_http(res, "POST", url("/api/auth/login"), headers, body,
                               body ? strlen(body) : 0), 0);
    return res->status;
}

/* The Set-Cookie lines of a response, in order; returns how many. */
static int set_cookies(const test_response *res, char lines[][4096], int max)
{
    int n = 0;
    for (const char *line = res->headers; *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > 11 && strncasecmp(line, "Set-Cookie:", 11) == 0) {
            const char *v = line + 11;
            while (*v == ' ')
                v++;
            if (n < max)
                snprintf(lines[n], 4096, "%.*s", (int)(line + len - v), v);
            n++;
        }
        line += len;
        if (*line)
            line += 2;
    }
    return n;
}

/*
 * The two cookies must be exactly as PROTOCOL.md shows them; returns the
 * assembled JWT in jwt.
 */
static void check_cookies(const test_response *res, long max_age, char *jwt, size_t size)
{
    char lines[3][4096];
    char expected[4200];
    assert_int_equal(set_cookies(res, lines, 3), 2);
    const char *hp = lines[0] + strlen("jwt_header_payload=");
    assert_int_equal(strncmp(lines[0], "jwt_header_payload=", 19), 0);
    size_t hp_len = strcspn(hp, ";");
    snprintf(expected, sizeof(expected),
             "jwt_header_payload=%.*s; Max-Age=%ld; Secure; SameSite=Strict; Path=/",
             (int)hp_len, hp, max_age);
    assert_string_equal(lines[0], expected);
    assert_int_equal(strncmp(lines[1], "jwt_signature=", 14), 0);
    const char *sig = lines[1] + 14;
    size_t sig_len = strcspn(sig, ";");
    snprintf(expected, sizeof(expected), "jwt_signature=%.*s; Secure; HttpOnly; Path=/",
             (int)sig_len, sig);
    assert_string_equal(lines[1], expected);
    assert_non_null(memchr(hp, '.', hp_len));
    assert_null(memchr(sig, '.', sig_len));
    snprintf(jwt, size, "%.*s.%.*s", (int)hp_len, hp, (int)sig_len, sig);
}

static json_t *decode_segment(const char *start, size_t len)
{
    igtcloud__buf raw = IGTCLOUD_BUF_INIT;
    assert_int_equal(igtcloud__base64_decode(&raw, start, len), 0);
    json_t *json = json_loadb(raw.ptr, raw.size, 0, NULL);
    igtcloud__buf_dispose(&raw);
    assert_non_null(json);
    return json;
}

static json_t *jwt_claims(const char *jwt)
{
    const char *dot1 = strchr(jwt, '.');
    const char *dot2 = strchr(dot1 + 1, '.');
    return decode_segment(dot1 + 1, (size_t)(dot2 - dot1 - 1));
}

static void check_json_keys(json_t *object, const char *const *keys)
{
    size_t n = 0;
    assert_true(json_is_object(object));
    for (; keys[n]; n++) {
        if (!json_object_get(object, keys[n]))
            fail_msg("missing key '%s'", keys[n]);
    }
    assert_int_equal(json_object_size(object), n);
}

static const char *message_of(const test_response *res)
{
    const char *message = json_string_value(json_object_get(res->json, "message"));
    assert_non_null(message);
    assert_true(strlen(message) > 0);
    return message;
}

static void expect_status_message(const test_response *res, long status, const char *needle)
{
    if (res->status != status)
        fail_msg("expected %ld, got %ld: %s", status, res->status, res->body);
    const char *message = message_of(res);
    if (needle && !strstr(message, needle))
        fail_msg("message '%s' does not mention '%s'", message, needle);
    assert_int_equal(test_response_header_count(res, "Set-Cookie"), 0);
}

static int is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

/* ---- password login ---- */

static void test_auth__password_login_exact_exchange(void **state)
{
    (void)state;
    test_response res;
    char jwt[4096];
    time_t before = time(NULL);
    assert_int_equal(post_login(&res, "{\"grantType\": \"password\", \"username\": \"demo\","
                                      " \"password\": \"demo\"}"), 200);
    char type[128];
    assert_int_equal(test_response_header(&res, "Content-Type", type, sizeof(type)), 0);
    assert_string_equal(type, "application/json");
    check_cookies(&res, 3600, jwt, sizeof(jwt));
    static const char *const body_keys[] = { "CSRFToken", "sub", NULL };
    check_json_keys(res.json, body_keys);
    assert_string_equal(json_string_value(json_object_get(res.json, "sub")), "demo");
    assert_true(strlen(json_string_value(json_object_get(res.json, "CSRFToken"))) >= 20);

    /* Header: HS256; payload: readable with the standard alphabet. */
    const char *dot1 = strchr(jwt, '.');
    const char *dot2 = strchr(dot1 + 1, '.');
    json_t *header = decode_segment(jwt, (size_t)(dot1 - jwt));
    assert_string_equal(json_string_value(json_object_get(header, "alg")), "HS256");
    assert_string_equal(json_string_value(json_object_get(header, "typ")), "JWT");
    json_decref(header);
    for (const char *p = dot1 + 1; p < dot2; p++)
        assert_true(*p != '-' && *p != '_');
    json_t *claims = jwt_claims(jwt);
    assert_string_equal(json_string_value(json_object_get(claims, "sub")), "demo");
    assert_true(is_uuid(json_string_value(json_object_get(claims, "uid"))));
    assert_true(is_uuid(json_string_value(json_object_get(claims, "jti"))));
    assert_true(json_is_integer(json_object_get(claims, "exp")));
    assert_true(json_is_integer(json_object_get(claims, "iat")));
    json_int_t iat = json_integer_value(json_object_get(claims, "iat"));
    assert_true(iat >= before - 1 && iat <= time(NULL) + 1);
    assert_int_equal(json_integer_value(json_object_get(claims, "exp")), iat + 3600);
    assert_true(strlen(json_string_value(json_object_get(claims, "access_token"))) >= 20);
    assert_true(strlen(json_string_value(json_object_get(claims, "refresh_token"))) >= 20);
    json_decref(claims);
    test_response_dispose(&res);
}

static void test_auth__password_login_failures(void **state)
{
    (void)state;
    test_response res;
    char wrong_password[512], unknown_user[512];

    post_login(&res, "{\"grantType\":\"password\",\"username\":\"demo\",\"password\":\"nope\"}");
    expect_status_message(&res, 401, NULL);
    snprintf(wrong_password, sizeof(wrong_password), "%s", message_of(&res));
    test_response_dispose(&res);

    post_login(&res, "{\"grantType\":\"password\",\"username\":\"ghost\",\"password\":\"demo\"}");
    expect_status_message(&res, 401, NULL);
    snprintf(unknown_user, sizeof(unknown_user), "%s", message_of(&res));
    test_response_dispose(&res);
    /* Nothing tells an attacker which logins exist. */
    assert_string_equal(wrong_password, unknown_user);

    static const struct {
        const char *body;
        const char *needle;
    } bad[] = {
        { "{}", "grantType" },
        { "{\"grantType\": 7}", "grantType" },
        { "{\"grantType\":\"password\",\"password\":\"demo\"}", "username" },
        { "{\"grantType\":\"password\",\"username\":\"demo\"}", "password" },
        { "{\"grantType\":\"password\",\"username\":\"demo\",\"password\":null}", "password" },
        { "{\"grantType\":\"jwt-key\",\"hospitalOrgId\":\"\"}", "assertion" },
        { "{\"grantType\":\"client_credentials\"}", "grantType" },
        { "{\"grantType\":\"password\",", "JSON" },
        { "[\"password\"]", "object" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        post_login(&res, bad[i].body);
        expect_status_message(&res, 400, bad[i].needle);
        test_response_dispose(&res);
    }
    post_login(&res, NULL);
    expect_status_message(&res, 400, NULL);
    test_response_dispose(&res);
}

/* ---- using the token ---- */

static void test_auth__introspect_describes_the_token(void **state)
{
    (void)state;
    test_login demo;
    test_response res;
    login(&demo, "demo", "demo");
    assert_int_equal(demo.max_age, 3600);
    assert_int_equal(call(&res, &demo, "GET", "/api/auth/introspect", NULL), 200);
    static const char *const keys[] = { "active", "exp", "sub", "user", "identity_type",
                                        "token_type", "client_id", "iss", "scope",
                                        "organizations", "roles", NULL };
    check_json_keys(res.json, keys);
    assert_true(json_is_true(json_object_get(res.json, "active")));
    json_t *claims = jwt_claims(demo.jwt);
    assert_true(json_is_integer(json_object_get(res.json, "exp")));
    assert_int_equal(json_integer_value(json_object_get(res.json, "exp")),
                     json_integer_value(json_object_get(claims, "exp")));
    assert_string_equal(json_string_value(json_object_get(res.json, "sub")), "demo");
    assert_string_equal(json_string_value(json_object_get(res.json, "user")),
                        json_string_value(json_object_get(claims, "uid")));
    json_decref(claims);
    assert_string_equal(json_string_value(json_object_get(res.json, "identity_type")), "User");
    assert_string_equal(json_string_value(json_object_get(res.json, "iss")), sandbox.api_url);
    json_t *orgs = json_object_get(res.json, "organizations");
    json_t *list = json_object_get(orgs, "organizationList");
    assert_true(json_is_array(list));
    /* At least the demo project and its two institutes, with the membership's role. */
    static const char *const names[] = { "Demo Project", "Hospital A", "Hospital B" };
    for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
        int seen = 0;
        size_t i;
        json_t *org;
        json_array_foreach(list, i, org) {
            if (strcmp(json_string_value(json_object_get(org, "organizationName")),
                       names[n]) == 0) {
                seen = 1;
                assert_string_equal(json_string_value(json_array_get(
                                        json_object_get(org, "roles"), 0)), "DATA_MANAGER");
            }
        }
        if (!seen)
            fail_msg("organization '%s' missing from introspect", names[n]);
    }
    int manager = 0;
    size_t r;
    json_t *role;
    assert_true(json_is_array(json_object_get(res.json, "roles")));
    json_array_foreach(json_object_get(res.json, "roles"), r, role) {
        manager |= strcmp(json_string_value(role), "DATA_MANAGER") == 0;
    }
    assert_true(manager);
    test_response_dispose(&res);
}

static void test_auth__bad_credentials_on_calls_are_401(void **state)
{
    (void)state;
    test_login demo, forged;
    test_response res;
    login(&demo, "demo", "demo");

    assert_int_equal(call(&res, NULL, "GET", "/api/auth/introspect", NULL), 401);
    message_of(&res);
    test_response_dispose(&res);

    forged = demo;
    snprintf(forged.csrf, sizeof(forged.csrf), "not-the-csrf");
    assert_int_equal(call(&res, &forged, "GET", "/api/auth/introspect", NULL), 401);
    assert_non_null(strstr(message_of(&res), "CSRF"));
    test_response_dispose(&res);

    forged = demo;
    forged.csrf[0] = '\0';
    assert_int_equal(call(&res, &forged, "GET", "/api/auth/introspect", NULL), 401);
    test_response_dispose(&res);

    /* Flip the last signature character. */
    forged = demo;
    char *last = forged.jwt + strlen(forged.jwt) - 1;
    *last = *last == 'A' ? 'B' : 'A';
    assert_int_equal(call(&res, &forged, "GET", "/api/auth/introspect", NULL), 401);
    test_response_dispose(&res);

    /* Another user's CSRF token does not fit this session. */
    test_login other;
    login(&other, "other", "other");
    forged = demo;
    snprintf(forged.csrf, sizeof(forged.csrf), "%s", other.csrf);
    assert_int_equal(call(&res, &forged, "GET", "/api/auth/introspect", NULL), 401);
    test_response_dispose(&res);

    snprintf(forged.jwt, sizeof(forged.jwt), "garbage");
    assert_int_equal(call(&res, &forged, "GET", "/api/auth/permissions", NULL), 401);
    test_response_dispose(&res);
}

static void test_auth__refresh_issues_a_new_token_same_csrf(void **state)
{
    (void)state;
    test_login demo, renewed;
    test_response res;
    char jwt[4096];
    login(&demo, "demo", "demo");
    json_t *old_claims = jwt_claims(demo.jwt);
    sleep(1); /* so the new token's iat and exp differ */
    assert_int_equal(call(&res, &demo, "POST", "/api/auth/refresh", NULL), 200);
    check_cookies(&res, 3600, jwt, sizeof(jwt));
    static const char *const keys[] = { "sub", NULL };
    check_json_keys(res.json, keys);
    assert_string_equal(json_string_value(json_object_get(res.json, "sub")), "demo");
    test_response_dispose(&res);
    assert_string_not_equal(jwt, demo.jwt);

    json_t *claims = jwt_claims(jwt);
    assert_string_equal(json_string_value(json_object_get(claims, "jti")),
                        json_string_value(json_object_get(old_claims, "jti")));
    assert_string_equal(json_string_value(json_object_get(claims, "uid")),
                        json_string_value(json_object_get(old_claims, "uid")));
    assert_true(json_integer_value(json_object_get(claims, "exp")) >
                json_integer_value(json_object_get(old_claims, "exp")));
    assert_non_null(json_object_get(claims, "refresh_token"));

    /* The new JWT works with the login's CSRF token. */
    renewed = demo;
    snprintf(renewed.jwt, sizeof(renewed.jwt), "%s", jwt);
    assert_int_equal(call(&res, &renewed, "GET", "/api/auth/introspect", NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(res.json, "exp")),
                     json_integer_value(json_object_get(claims, "exp")));
    test_response_dispose(&res);
    json_decref(claims);
    json_decref(old_claims);

    /* Refresh needs the CSRF token too. */
    renewed.csrf[0] = '\0';
    assert_int_equal(call(&res, &renewed, "POST", "/api/auth/refresh", NULL), 401);
    test_response_dispose(&res);
}

static void test_auth__logout_kills_the_session(void **state)
{
    (void)state;
    test_login demo, other;
    test_response res;
    login(&demo, "demo", "demo");
    login(&other, "demo", "demo");

    /* Logout is sent with X-JWT only. */
    char jwt_header[4200];
    snprintf(jwt_header, sizeof(jwt_header), "X-JWT: %s", demo.jwt);
    const char *headers[] = { "Accept: application/json", jwt_header, NULL };
    assert_int_equal(test_http(&res, "POST", url("/api/auth/logout"), headers, NULL, 0), 0);
    assert_int_equal(res.status, 200);
    static const char *const keys[] = { "success", NULL };
    check_json_keys(res.json, keys);
    assert_true(json_is_true(json_object_get(res.json, "success")));
    test_response_dispose(&res);

    static const struct {
        const char *method;
        const char *path;
    } after[] = {
        { "GET", "/api/auth/introspect" },
        { "POST", "/api/auth/refresh" },
        { "GET", "/api/auth/permissions" },
        { "GET", "/api/auth/s3credentials?action=GET&prefix=" PROJECT_PREFIX },
        { "POST", "/api/auth/logout" },
    };
    for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++) {
        assert_int_equal(call(&res, &demo, after[i].method, after[i].path, NULL), 401);
        message_of(&res);
        test_response_dispose(&res);
    }
    /* Another session of the same user lives on. */
    assert_int_equal(call(&res, &other, "GET", "/api/auth/introspect", NULL), 200);
    test_response_dispose(&res);
}

static void test_auth__permissions_and_audit_trail(void **state)
{
    (void)state;
    test_login demo;
    test_response res;
    login(&demo, "demo", "demo");
    assert_int_equal(call(&res, &demo, "GET", "/api/auth/permissions", NULL), 200);
    static const char *const keys[] = { "permissions", NULL };
    check_json_keys(res.json, keys);
    assert_true(json_array_size(json_object_get(res.json, "permissions")) > 0);
    test_response_dispose(&res);

    assert_int_equal(call(&res, &demo, "POST", "/api/auth/audit-trail",
                          "{\"eventAction\": \"R\", \"eventType\": \"download\","
                          " \"applicationName\": \"igtcloud\"}"), 200);
    test_response_dispose(&res);
    assert_int_equal(call(&res, &demo, "POST", "/api/auth/audit-trail", "[1, 2]"), 400);
    message_of(&res);
    test_response_dispose(&res);
    assert_int_equal(call(&res, &demo, "POST", "/api/auth/audit-trail", "{oops"), 400);
    test_response_dispose(&res);
    assert_int_equal(call(&res, NULL, "POST", "/api/auth/audit-trail", "{}"), 401);
    test_response_dispose(&res);
}

/* ---- S3 credentials ---- */

static void check_credentials_shape(json_t *body, const char *action, const char *prefix)
{
    static const char *const top[] = { "policyCredentials", NULL };
    check_json_keys(body, top);
    json_t *list = json_object_get(body, "policyCredentials");
    assert_int_equal(json_array_size(list), 1);
    json_t *entry = json_array_get(list, 0);
    static const char *const entry_keys[] = { "credentials", "allowed", "resourceType", NULL };
    check_json_keys(entry, entry_keys);
    assert_string_equal(json_string_value(json_object_get(entry, "resourceType")), "S3");

    json_t *creds = json_object_get(entry, "credentials");
    static const char *const with_endpoint[] = { "accessKey", "secretKey", "sessionToken",
                                                 "bucket", "expires", "region", "endpoint",
                                                 NULL };
    static const char *const without_endpoint[] = { "accessKey", "secretKey", "sessionToken",
                                                    "bucket", "expires", "region", NULL };
    check_json_keys(creds, sandbox.s3_url[0] ? with_endpoint : without_endpoint);
    if (sandbox.s3_url[0])
        assert_string_equal(json_string_value(json_object_get(creds, "endpoint")),
                            sandbox.s3_url);

    const char *access = json_string_value(json_object_get(creds, "accessKey"));
    assert_int_equal(strlen(access), 20);
    assert_int_equal(strncmp(access, "ASIA", 4), 0);
    for (int i = 4; i < 20; i++)
        assert_true(isupper((unsigned char)access[i]) || isdigit((unsigned char)access[i]));
    assert_int_equal(strlen(json_string_value(json_object_get(creds, "secretKey"))), 40);
    assert_true(strlen(json_string_value(json_object_get(creds, "sessionToken"))) >= 100);
    assert_true(strlen(json_string_value(json_object_get(creds, "bucket"))) > 0);
    assert_true(strlen(json_string_value(json_object_get(creds, "region"))) > 0);

    /* "YYYY-MM-DDTHH:MM:SS", UTC, no zone; credential_lifetime from now. */
    const char *expires = json_string_value(json_object_get(creds, "expires"));
    assert_int_equal(strlen(expires), 19);
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(expires, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(end);
    assert_int_equal(*end, '\0');
    time_t when = timegm(&tm);
    time_t expected = time(NULL) + CREDENTIAL_LIFETIME;
    assert_true(when > expected - 60 && when <= expected + 1);

    json_t *allowed = json_object_get(entry, "allowed");
    static const char *const allowed_keys[] = { "resources", "actions", NULL };
    check_json_keys(allowed, allowed_keys);
    const char *resource = json_string_value(json_array_get(json_object_get(allowed,
                                                                            "resources"), 0));
    assert_non_null(resource);
    assert_non_null(strstr(resource, prefix));
    assert_true(json_array_size(json_object_get(allowed, "actions")) > 0);
    const char *first_action = json_string_value(json_array_get(json_object_get(allowed,
                                                                                "actions"), 0));
    assert_non_null(strstr(first_action, strcmp(action, "GET") == 0 ? "Get" : "Put"));
}

static long credentials(test_response *res, const test_login *who, const char *query)
{
    char path[512];
    snprintf(path, sizeof(path), "/api/auth/s3credentials%s", query);
    return call(res, who, "GET", path, NULL);
}

static void test_auth__s3credentials_shape(void **state)
{
    (void)state;
    test_login demo;
    test_response res;
    login(&demo, "demo", "demo");
    assert_int_equal(credentials(&res, &demo, "?action=GET&prefix=" PROJECT_PREFIX), 200);
    check_credentials_shape(res.json, "GET", PROJECT_PREFIX);
    char first_key[64];
    snprintf(first_key, sizeof(first_key), "%s",
             json_string_value(json_object_get(json_object_get(json_array_get(
                 json_object_get(res.json, "policyCredentials"), 0), "credentials"),
                 "accessKey")));
    test_response_dispose(&res);

    assert_int_equal(credentials(&res, &demo, "?action=PUT&prefix=" HOSPITAL_A_PREFIX
                                              "Import/123/"), 200);
    check_credentials_shape(res.json, "PUT", HOSPITAL_A_PREFIX "Import/123/");
    /* Every request gets fresh credentials. */
    assert_string_not_equal(first_key,
                            json_string_value(json_object_get(json_object_get(json_array_get(
                                json_object_get(res.json, "policyCredentials"), 0),
                                "credentials"), "accessKey")));
    test_response_dispose(&res);
}

static void test_auth__s3credentials_permission_matrix(void **state)
{
    (void)state;
    test_login demo, other;
    test_response res;
    login(&demo, "demo", "demo");
    login(&other, "other", "other");
    static const struct {
        int user;             /* 0 demo, 1 other */
        const char *query;
        long status;
    } cases[] = {
        { 0, "?action=GET&prefix=" PROJECT_PREFIX, 200 },
        { 0, "?action=PUT&prefix=" PROJECT_PREFIX "files/a.txt", 200 },
        { 0, "?action=GET&prefix=" HOSPITAL_A_PREFIX, 200 },
        { 0, "?action=GET&prefix=" HOSPITAL_B_PREFIX "p1/s1/", 200 },
        { 0, "?prefix=" PROJECT_PREFIX "&action=GET", 200 },
        { 0, "?action=GET&prefix=projects/", 403 },
        { 0, "?action=GET&prefix=projects/demo-project", 403 },
        { 0, "?action=GET&prefix=projects/other-project/", 403 },
        { 0, "?action=GET&prefix=institutes/hospital-c/", 403 },
        { 0, "?action=GET&prefix=" PROJECT_PREFIX "../other/", 400 },
        { 0, "?action=GET&prefix=/" PROJECT_PREFIX, 400 },
        { 0, "?action=DELETE&prefix=" PROJECT_PREFIX, 400 },
        { 0, "?action=get&prefix=" PROJECT_PREFIX, 400 },
        { 0, "?prefix=" PROJECT_PREFIX, 400 },
        { 0, "?action=GET", 400 },
        { 0, "?action=GET&prefix=", 400 },
        { 1, "?action=GET&prefix=" PROJECT_PREFIX, 403 },
        { 1, "?action=PUT&prefix=" HOSPITAL_A_PREFIX, 403 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        credentials(&res, cases[i].user ? &other : &demo, cases[i].query);
        if (res.status != cases[i].status)
            fail_msg("%s %s: expected %ld, got %ld: %s", cases[i].user ? "other" : "demo",
                     cases[i].query, cases[i].status, res.status, res.body);
        if (res.status != 200)
            message_of(&res);
        test_response_dispose(&res);
    }
    assert_int_equal(credentials(&res, NULL, "?action=GET&prefix=" PROJECT_PREFIX), 401);
    test_response_dispose(&res);
}

/* ---- service identities ---- */

/* The cloud's one-line PEM, back on 64-character lines. */
static char *reflow_pem(const char *one_line)
{
    igtcloud__buf out = IGTCLOUD_BUF_INIT;
    const char *begin_end = strstr(one_line + 5, "-----");
    assert_non_null(begin_end);
    begin_end += 5;
    const char *footer = strstr(begin_end, "-----END ");
    assert_non_null(footer);
    igtcloud__buf_put(&out, one_line, (size_t)(begin_end - one_line));
    igtcloud__buf_putc(&out, '\n');
    for (const char *p = begin_end; p < footer; p += 64) {
        size_t n = (size_t)(footer - p) < 64 ? (size_t)(footer - p) : 64;
        igtcloud__buf_put(&out, p, n);
        igtcloud__buf_putc(&out, '\n');
    }
    igtcloud__buf_puts(&out, footer);
    igtcloud__buf_putc(&out, '\n');
    return igtcloud__buf_detach(&out);
}

static EVP_PKEY *load_private_key(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(key);
    return key;
}

/* BIO memory is not NUL-terminated, so copy exactly len bytes (strndup may read on). */
static char *bytes_dup(const char *data, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, data, len);
        copy[len] = '\0';
    }
    return copy;
}

/* The same key written as PKCS#1 ("BEGIN RSA PRIVATE KEY"). */
static char *as_pkcs1(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL,
                                                          NULL), 1);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    char *copy = bytes_dup(data, (size_t)len);
    BIO_free(bio);
    assert_int_equal(strncmp(copy, "-----BEGIN RSA PRIVATE KEY-----\n", 32), 0);
    return copy;
}

static char *audience(void)
{
    test_response res;
    assert_int_equal(call(&res, NULL, "GET", "/api/auth/login/$aud", NULL), 200);
    char *aud = strdup(json_string_value(res.json));
    test_response_dispose(&res);
    return aud;
}

/* An RS256 assertion as the reference builds it (claims given whole). */
static char *assertion(const char *key_pem, json_t *claims)
{
    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    EVP_PKEY *key = load_private_key(key_pem);
    igtcloud__buf token = IGTCLOUD_BUF_INIT;
    char *payload = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    igtcloud__base64url_encode(&token, header, strlen(header));
    igtcloud__buf_putc(&token, '.');
    igtcloud__base64url_encode(&token, payload, strlen(payload));
    free(payload);
    unsigned char sig[512];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len, (unsigned char *)token.ptr,
                                    token.size), 1);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    igtcloud__buf_putc(&token, '.');
    igtcloud__base64url_encode(&token, sig, sig_len);
    return igtcloud__buf_detach(&token);
}

static json_t *standard_claims(const char *aud, const char *id, long exp_offset)
{
    return json_pack("{s:[s], s:s, s:s, s:I}", "aud", aud, "iss", id, "sub", id, "exp",
                     (json_int_t)(time(NULL) + exp_offset));
}

/* POST a jwt-key login; on 200 checks the cookies and fills *out. */
static long service_login(test_login *out, test_response *res, const char *token)
{
    json_t *body = json_pack("{s:s, s:s, s:s}", "grantType", "jwt-key", "assertion", token,
                             "hospitalOrgId", "");
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    long status = post_login(res, text);
    free(text);
    if (status == 200) {
        memset(out, 0, sizeof(*out));
        check_cookies(res, 3600, out->jwt, sizeof(out->jwt));
        snprintf(out->csrf, sizeof(out->csrf), "%s",
                 json_string_value(json_object_get(res->json, "CSRFToken")));
        snprintf(out->sub, sizeof(out->sub), "%s",
                 json_string_value(json_object_get(res->json, "sub")));
    }
    return status;
}

typedef struct service {
    char id[128];          /* serviceId */
    char uuid[64];         /* id */
    char *key_pem;         /* reflowed PKCS#8 */
} service;

static void create_service(service *out, const test_login *who, const char *institute,
                           const char *name)
{
    char path[256], body[256];
    test_response res;
    snprintf(path, sizeof(path), "/api/data/organizations/%s/services", institute);
    snprintf(body, sizeof(body), "{\"name\": \"%s\"}", name);
    assert_int_equal(call(&res, who, "POST", path, body), 201);
    static const char *const keys[] = { "id", "serviceId", "name", "organizationId",
                                        "privateKey", "expiresOn", "scopes", "defaultScopes",
                                        "applicationId", NULL };
    check_json_keys(res.json, keys);
    const char *id = json_string_value(json_object_get(res.json, "serviceId"));
    /* <name>.<8 lower-case letters>@sandbox.igtcloud */
    size_t name_len = strlen(name);
    assert_int_equal(strncmp(id, name, name_len), 0);
    assert_int_equal(id[name_len], '.');
    for (size_t i = 1; i <= 8; i++)
        assert_true(islower((unsigned char)id[name_len + i]));
    assert_string_equal(id + name_len + 9, "@sandbox.igtcloud");
    assert_null(strchr(id, '/'));
    assert_string_equal(json_string_value(json_object_get(res.json, "name")), name);
    assert_string_equal(json_string_value(json_object_get(res.json, "organizationId")),
                        institute);
    assert_true(is_uuid(json_string_value(json_object_get(res.json, "id"))));
    assert_true(json_is_array(json_object_get(res.json, "scopes")));
    assert_true(json_is_array(json_object_get(res.json, "defaultScopes")));

    /* One line, as the real cloud sends it. */
    const char *key = json_string_value(json_object_get(res.json, "privateKey"));
    assert_int_equal(strncmp(key, "-----BEGIN PRIVATE KEY-----MII", 30), 0);
    assert_null(strchr(key, '\n'));
    size_t key_len = strlen(key);
    assert_true(key_len > 1000);
    assert_string_equal(key + key_len - 25, "-----END PRIVATE KEY-----");

    snprintf(out->id, sizeof(out->id), "%s", id);
    snprintf(out->uuid, sizeof(out->uuid), "%s",
             json_string_value(json_object_get(res.json, "id")));
    out->key_pem = reflow_pem(key);
    test_response_dispose(&res);
}

static void test_auth__service_lifecycle_and_login(void **state)
{
    (void)state;
    test_login demo, svc;
    test_response res;
    service uploader;
    login(&demo, "demo", "demo");
    create_service(&uploader, &demo, HOSPITAL_A, "uploader");
    char *aud = audience();

    /* Listed without the private key. */
    assert_int_equal(call(&res, &demo, "GET", "/api/data/organizations/" HOSPITAL_A
                                              "/services", NULL), 200);
    assert_true(json_is_array(res.json));
    int found = 0;
    size_t i;
    json_t *item;
    json_array_foreach(res.json, i, item) {
        assert_null(json_object_get(item, "privateKey"));
        found |= strcmp(json_string_value(json_object_get(item, "serviceId")), uploader.id) == 0;
    }
    assert_true(found);
    test_response_dispose(&res);
    assert_int_equal(call(&res, &demo, "GET", "/api/data/organizations/" HOSPITAL_B
                                              "/services", NULL), 200);
    json_array_foreach(res.json, i, item) {
        assert_string_not_equal(json_string_value(json_object_get(item, "serviceId")),
                                uploader.id);
    }
    test_response_dispose(&res);

    /* PKCS#8 as handed out. */
    char *token = assertion(uploader.key_pem, standard_claims(aud, uploader.id, 3600));
    assert_int_equal(service_login(&svc, &res, token), 200);
    static const char *const body_keys[] = { "CSRFToken", "sub", NULL };
    check_json_keys(res.json, body_keys);
    assert_string_equal(svc.sub, uploader.id);
    free(token);
    test_response_dispose(&res);
    json_t *claims = jwt_claims(svc.jwt);
    assert_string_equal(json_string_value(json_object_get(claims, "sub")), uploader.id);
    assert_string_equal(json_string_value(json_object_get(claims, "uid")), uploader.id);
    assert_null(json_object_get(claims, "refresh_token"));
    assert_non_null(json_object_get(claims, "access_token"));
    json_decref(claims);

    assert_int_equal(call(&res, &svc, "GET", "/api/auth/introspect", NULL), 200);
    assert_string_equal(json_string_value(json_object_get(res.json, "identity_type")),
                        "Service");
    assert_string_equal(json_string_value(json_object_get(res.json, "sub")), uploader.id);
    test_response_dispose(&res);

    /* The same key as PKCS#1 signs an equally good assertion; aud may be a string. */
    EVP_PKEY *key = load_private_key(uploader.key_pem);
    char *pkcs1 = as_pkcs1(key);
    EVP_PKEY_free(key);
    test_login svc2;
    token = assertion(pkcs1, json_pack("{s:s, s:s, s:s, s:I}", "aud", aud, "iss", uploader.id,
                                       "sub", uploader.id, "exp",
                                       (json_int_t)time(NULL) + 600));
    assert_int_equal(service_login(&svc2, &res, token), 200);
    free(token);
    free(pkcs1);
    test_response_dispose(&res);

    /* Services upload into their institute only, and never download. */
    static const struct {
        const char *query;
        long status;
    } matrix[] = {
        { "?action=PUT&prefix=" HOSPITAL_A_PREFIX "Import/abc/", 200 },
        { "?action=PUT&prefix=" HOSPITAL_A_PREFIX, 200 },
        { "?action=GET&prefix=" HOSPITAL_A_PREFIX, 403 },
        { "?action=PUT&prefix=" HOSPITAL_B_PREFIX, 403 },
        { "?action=PUT&prefix=" PROJECT_PREFIX, 403 },
        { "?action=PUT&prefix=institutes/", 403 },
    };
    for (size_t m = 0; m < sizeof(matrix) / sizeof(matrix[0]); m++) {
        credentials(&res, &svc, matrix[m].query);
        if (res.status != matrix[m].status)
            fail_msg("service %s: expected %ld, got %ld: %s", matrix[m].query,
                     matrix[m].status, res.status, res.body);
        if (res.status == 200)
            check_credentials_shape(res.json, "PUT", HOSPITAL_A_PREFIX);
        test_response_dispose(&res);
    }

    /* No refresh and no service management for services. */
    assert_int_equal(call(&res, &svc, "POST", "/api/auth/refresh", NULL), 400);
    assert_non_null(strstr(message_of(&res), "assertion"));
    assert_int_equal(test_response_header_count(&res, "Set-Cookie"), 0);
    test_response_dispose(&res);
    assert_int_equal(call(&res, &svc, "POST", "/api/data/organizations/" HOSPITAL_A "/services",
                          "{\"name\": \"child\"}"), 403);
    test_response_dispose(&res);

    /* Delete: the identity's sessions end, its id is gone. */
    char path[512];
    snprintf(path, sizeof(path), "/api/data/organizations/%s/services/%s", HOSPITAL_A,
             uploader.id);
    assert_int_equal(call(&res, &demo, "DELETE", path, NULL), 204);
    assert_int_equal(res.body_len, 0);
    test_response_dispose(&res);
    assert_int_equal(call(&res, &svc, "GET", "/api/auth/introspect", NULL), 401);
    test_response_dispose(&res);
    assert_int_equal(call(&res, &demo, "DELETE", path, NULL), 404);
    test_response_dispose(&res);
    token = assertion(uploader.key_pem, standard_claims(aud, uploader.id, 3600));
    assert_int_equal(service_login(&svc, &res, token), 401);
    free(token);
    test_response_dispose(&res);

    /* Deleting by id works as well. */
    service second;
    create_service(&second, &demo, HOSPITAL_B, "second");
    snprintf(path, sizeof(path), "/api/data/organizations/%s/services/%s", HOSPITAL_B,
             second.uuid);
    assert_int_equal(call(&res, &demo, "DELETE", path, NULL), 204);
    test_response_dispose(&res);
    free(second.key_pem);

    free(uploader.key_pem);
    free(aud);
}

static void test_auth__service_login_rejections(void **state)
{
    (void)state;
    test_login demo, svc;
    test_response res;
    service uploader, other_service;
    login(&demo, "demo", "demo");
    create_service(&uploader, &demo, HOSPITAL_A, "rejects");
    create_service(&other_service, &demo, HOSPITAL_A, "another");
    char *aud = audience();
    char wrong_aud[512];
    snprintf(wrong_aud, sizeof(wrong_aud), "%s/elsewhere", aud);

    struct {
        const char *what;
        char *token;
    } cases[] = {
        { "wrong audience", assertion(uploader.key_pem,
                                      standard_claims(wrong_aud, uploader.id, 3600)) },
        { "expired", assertion(uploader.key_pem, standard_claims(aud, uploader.id, -10)) },
        { "unknown service", assertion(uploader.key_pem,
                                       standard_claims(aud, "ghost.abcdefgh@sandbox.igtcloud",
                                                       3600)) },
        { "another service's key", assertion(other_service.key_pem,
                                             standard_claims(aud, uploader.id, 3600)) },
        { "iss differs from sub",
          assertion(uploader.key_pem,
                    json_pack("{s:[s], s:s, s:s, s:I}", "aud", aud, "iss", uploader.id, "sub",
                              other_service.id, "exp", (json_int_t)time(NULL) + 600)) },
        { "no exp", assertion(uploader.key_pem,
                              json_pack("{s:[s], s:s, s:s}", "aud", aud, "iss", uploader.id,
                                        "sub", uploader.id)) },
        { "not a JWT", strdup("not.a.jwt") },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        service_login(&svc, &res, cases[i].token);
        if (res.status != 401)
            fail_msg("%s: expected 401, got %ld: %s", cases[i].what, res.status, res.body);
        expect_status_message(&res, 401, NULL);
        test_response_dispose(&res);
        free(cases[i].token);
    }

    /* A user cannot create services where they are no member, nor in unknown institutes. */
    test_login other;
    login(&other, "other", "other");
    assert_int_equal(call(&res, &other, "POST", "/api/data/organizations/" HOSPITAL_A
                                                "/services", "{\"name\": \"x\"}"), 404);
    test_response_dispose(&res);
    assert_int_equal(call(&res, &other, "GET", "/api/data/organizations/" HOSPITAL_A
                                               "/services", NULL), 404);
    test_response_dispose(&res);
    assert_int_equal(call(&res, &demo, "POST", "/api/data/organizations/no-such/services",
                          "{\"name\": \"x\"}"), 404);
    test_response_dispose(&res);
    static const char *const bad_bodies[] = { "{}", "{\"name\": 3}", "{\"name\": \"\"}",
                                              "{\"name\": \"../etc\"}", "{\"name\": \"a/b\"}",
                                              "{\"name\": \"a b\"}", "[]", "{bad" };
    for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++) {
        assert_int_equal(call(&res, &demo, "POST", "/api/data/organizations/" HOSPITAL_A
                                                   "/services", bad_bodies[i]), 400);
        message_of(&res);
        test_response_dispose(&res);
    }
    free(uploader.key_pem);
    free(other_service.key_pem);
    free(aud);
}

/* ---- lifetime and restart ---- */

static void test_auth__short_token_lifetime_expires(void **state)
{
    (void)state;
    test_sandbox short_lived;
    const char *args[] = { "--seed", "demo", "--token-lifetime", "2", NULL };
    assert_int_equal(test_sandbox_start(&short_lived, args), 0);
    test_login demo;
    test_response res;
    assert_int_equal(test_login_password(&demo, short_lived.api_url, "demo", "demo"), 200);
    assert_int_equal(demo.max_age, 2);
    json_t *claims = jwt_claims(demo.jwt);
    assert_int_equal(json_integer_value(json_object_get(claims, "exp")),
                     json_integer_value(json_object_get(claims, "iat")) + 2);
    json_decref(claims);
    char introspect[256];
    snprintf(introspect, sizeof(introspect), "%s/api/auth/introspect", short_lived.api_url);
    assert_int_equal(test_api(&res, &demo, "GET", introspect, NULL), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    sleep(3);
    assert_int_equal(test_api(&res, &demo, "GET", introspect, NULL), 0);
    assert_int_equal(res.status, 401);
    assert_non_null(strstr(message_of(&res), "expired"));
    test_response_dispose(&res);
    test_sandbox_stop(&short_lived);
}

static void test_auth__sessions_survive_restart(void **state)
{
    (void)state;
    test_login demo, svc;
    test_response res;
    service keeper;
    login(&demo, "demo", "demo");
    create_service(&keeper, &demo, HOSPITAL_A, "keeper");
    char *aud = audience();
    char *token = assertion(keeper.key_pem, standard_claims(aud, keeper.id, 3600));
    assert_int_equal(service_login(&svc, &res, token), 200);
    free(token);
    free(aud);
    test_response_dispose(&res);

    int status = test_sandbox_stop_keep(&sandbox);
    assert_int_equal(status, 0);
    assert_int_equal(test_sandbox_restart(&sandbox, sandbox_args), 0);

    assert_int_equal(call(&res, &demo, "GET", "/api/auth/introspect", NULL), 200);
    assert_string_equal(json_string_value(json_object_get(res.json, "sub")), "demo");
    test_response_dispose(&res);
    assert_int_equal(call(&res, &demo, "POST", "/api/auth/refresh", NULL), 200);
    test_response_dispose(&res);
    assert_int_equal(call(&res, &svc, "GET", "/api/auth/s3credentials?action=PUT&prefix="
                                             HOSPITAL_A_PREFIX, NULL), 200);
    test_response_dispose(&res);
    /* The stored public key still verifies new assertions (the audience moved with the port). */
    aud = audience();
    token = assertion(keeper.key_pem, standard_claims(aud, keeper.id, 3600));
    assert_int_equal(service_login(&svc, &res, token), 200);
    test_response_dispose(&res);
    free(token);
    free(aud);
    free(keeper.key_pem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth__password_login_exact_exchange),
        cmocka_unit_test(test_auth__password_login_failures),
        cmocka_unit_test(test_auth__introspect_describes_the_token),
        cmocka_unit_test(test_auth__bad_credentials_on_calls_are_401),
        cmocka_unit_test(test_auth__refresh_issues_a_new_token_same_csrf),
        cmocka_unit_test(test_auth__logout_kills_the_session),
        cmocka_unit_test(test_auth__permissions_and_audit_trail),
        cmocka_unit_test(test_auth__s3credentials_shape),
        cmocka_unit_test(test_auth__s3credentials_permission_matrix),
        cmocka_unit_test(test_auth__service_lifecycle_and_login),
        cmocka_unit_test(test_auth__service_login_rejections),
        cmocka_unit_test(test_auth__short_token_lifetime_expires),
        cmocka_unit_test(test_auth__sessions_survive_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
