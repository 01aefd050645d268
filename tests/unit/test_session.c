/* auth/: JWT payloads, cookies, domains, PEM, the token file format (PROTOCOL.md 3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/cookie.h"
#include "auth/jwt.h"
#include "auth/session_int.h"
#include "auth/token_file.h"
#include "core/base64.h"
#include "core/error.h"
#include "igtcloud/session.h"

#define assert_ok(expr)                                                                  \
    do {                                                                                 \
        int rc_ = (expr);                                                                \
        if (rc_ != 0)                                                                    \
            fail_msg("%s = %d: %s", #expr, rc_, igtcloud_error_last()->message);         \
    } while (0)

/* A JWT whose payload segment uses exactly `b64payload` (either alphabet). */
static char *make_jwt(const char *b64payload)
{
    size_t len = strlen(b64payload) + 64;
    char *jwt = malloc(len);
    snprintf(jwt, len, "eyJhbGciOiJSUzI1NiJ9.%s.c2ln", b64payload);
    return jwt;
}

static void test_session__jwt_payload_both_alphabets(void **state)
{
    (void)state;
    /* {"sub":"a>?b","exp":1} has '+' and '/' in standard base64, '-' and '_' in url. */
    const char *json = "{\"sub\":\"a>>>?b???\",\"exp\":1}";
    igtcloud__buf std = IGTCLOUD_BUF_INIT, url = IGTCLOUD_BUF_INIT;
    assert_ok(igtcloud__base64_encode(&std, json, strlen(json)));
    assert_ok(igtcloud__base64url_encode(&url, json, strlen(json)));
    assert_true(strpbrk(std.ptr, "+/") != NULL);
    assert_true(strpbrk(url.ptr, "-_") != NULL);
    const char *forms[] = { std.ptr, url.ptr };
    for (int i = 0; i < 2; i++) {
        char *jwt = make_jwt(forms[i]);
        json_t *payload = NULL;
        long long exp = 0;
        assert_ok(igtcloud__jwt_decode_payload(&payload, jwt, strlen(jwt)));
        assert_string_equal(json_string_value(json_object_get(payload, "sub")), "a>>>?b???");
        assert_ok(igtcloud__jwt_claim_exp(&exp, payload));
        assert_int_equal(exp, 1);
        json_decref(payload);
        free(jwt);
    }
    igtcloud__buf_dispose(&std);
    igtcloud__buf_dispose(&url);
}

static void test_session__jwt_payload_rejects_garbage(void **state)
{
    (void)state;
    const char *bad[] = { "", "abc", "a..b", "a.!!!.b", "a.bm90IGpzb24.c", "a.WzFd.c" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *payload = NULL;
        assert_int_equal(igtcloud__jwt_decode_payload(&payload, bad[i], strlen(bad[i])),
                         IGTCLOUD_EPROTO);
        assert_null(payload);
    }
    json_t *no_exp = json_pack("{s:s}", "sub", "x");
    long long exp;
    assert_int_equal(igtcloud__jwt_claim_exp(&exp, no_exp), IGTCLOUD_EPROTO);
    json_decref(no_exp);
}

static void test_session__cookie_parsing(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *name;
        const char *value;
        long long max_age;
    } cases[] = {
        { "jwt_header_payload=H.P; Max-Age=3600; Secure; SameSite=Strict; Path=/",
          "jwt_header_payload", "H.P", 3600 },
        { "jwt_signature=S; Secure; HttpOnly; Path=/", "jwt_signature", "S", -1 },
        { " a = \"quoted\" ;max-age= 5", "a", "quoted", 5 },
        { "a=b; Max-Age=-1", "a", "b", 0 },
        { "a=b; Max-Age=12x", "a", "b", -1 },
        { "a=b; Max-Age", "a", "b", -1 },
        { "a=", "a", "", -1 },
        { "a=b=c", "a", "b=c", -1 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        igtcloud__cookie c;
        assert_ok(igtcloud__cookie_parse(&c, cases[i].text, strlen(cases[i].text)));
        assert_string_equal(c.name, cases[i].name);
        assert_string_equal(c.value, cases[i].value);
        assert_int_equal(c.max_age, cases[i].max_age);
        igtcloud__cookie_dispose(&c);
    }
    igtcloud__cookie c;
    assert_int_equal(igtcloud__cookie_parse(&c, "novalue", 7), IGTCLOUD_EPROTO);
    assert_int_equal(igtcloud__cookie_parse(&c, " =x", 3), IGTCLOUD_EPROTO);
    assert_int_equal(igtcloud__cookie_parse(&c, "\0a=b", 4), IGTCLOUD_EPROTO);
    assert_int_equal(igtcloud__cookie_parse(&c, "a=b\r\nX: y", 10), IGTCLOUD_EPROTO);
}

static void test_session__domain_normalisation(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *base;
        const char *authority;
    } cases[] = {
        { "PROD", "https://igt-web.eu1.phsdp.com", "igt-web.eu1.phsdp.com" },
        { "test", "https://igt-web-test.eu1.phsdp.com", "igt-web-test.eu1.phsdp.com" },
        { "example.org", "https://example.org", "example.org" },
        { "example.org/", "https://example.org", "example.org" },
        { "https://example.org/", "https://example.org", "example.org" },
        { "http://127.0.0.1:8080/some/path?q#f", "http://127.0.0.1:8080", "127.0.0.1:8080" },
        { "HTTPS://Example.org:443", "https://Example.org:443", "Example.org:443" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        igtcloud__buf base = IGTCLOUD_BUF_INIT, authority = IGTCLOUD_BUF_INIT;
        assert_ok(igtcloud__domain_normalize(&base, &authority, cases[i].in));
        assert_string_equal(base.ptr, cases[i].base);
        assert_string_equal(authority.ptr, cases[i].authority);
        igtcloud__buf_dispose(&base);
        igtcloud__buf_dispose(&authority);
    }
    const char *bad[] = { "", "ftp://x", "https://", "user@host", "a b", "https:///x" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        igtcloud__buf base = IGTCLOUD_BUF_INIT;
        assert_int_equal(igtcloud__domain_normalize(&base, NULL, bad[i]), IGTCLOUD_EINVALID);
        igtcloud__buf_dispose(&base);
    }
}

static void test_session__pem_reflow_and_service_id(void **state)
{
    (void)state;
    char body[201];
    for (int i = 0; i < 200; i++)
        body[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"[i % 32];
    body[200] = '\0';
    char pem[512];
    snprintf(pem, sizeof(pem), "-----BEGIN RSA PRIVATE KEY-----%s-----END RSA PRIVATE KEY-----",
             body);
    igtcloud__buf out = IGTCLOUD_BUF_INIT;
    assert_ok(igtcloud__pem_reflow(&out, pem, strlen(pem)));
    /* Header, three full lines of 64, one of 8, footer. */
    const char *p = out.ptr;
    assert_int_equal(strncmp(p, "-----BEGIN RSA PRIVATE KEY-----\n", 32), 0);
    p += 32;
    for (int line = 0; line < 3; line++) {
        assert_int_equal(strchr(p, '\n') - p, 64);
        p = strchr(p, '\n') + 1;
    }
    assert_int_equal(strchr(p, '\n') - p, 8);
    p = strchr(p, '\n') + 1;
    assert_string_equal(p, "-----END RSA PRIVATE KEY-----\n");
    igtcloud__buf_dispose(&out);

    assert_int_equal(igtcloud__pem_reflow(&out, "no pem", 6), IGTCLOUD_EINVALID);
    const char *mismatch = "-----BEGIN A-----xx-----END B-----";
    assert_int_equal(igtcloud__pem_reflow(&out, mismatch, strlen(mismatch)), IGTCLOUD_EINVALID);
    igtcloud__buf_dispose(&out);

    static const struct {
        const char *path;
        const char *id;
    } ids[] = {
        { "/keys/svc@org.example.pem", "svc@org.example" },
        { "svc.pem", "svc" },
        { "dir.d/svc", "svc" },
        { "/x/.hidden", ".hidden" },
    };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        igtcloud__buf id = IGTCLOUD_BUF_INIT;
        assert_ok(igtcloud__service_id_from_path(&id, ids[i].path));
        assert_string_equal(id.ptr, ids[i].id);
        igtcloud__buf_dispose(&id);
    }
}

static void test_session__service_assertion_verifies(void **state)
{
    (void)state;
    EVP_PKEY *key = EVP_RSA_gen(2048);
    assert_non_null(key);
    igtcloud__buf jwt = IGTCLOUD_BUF_INIT;
    assert_ok(igtcloud__jwt_service_assertion(&jwt, key, "svc-1", "http://x/api/auth/token",
                                              1000));
    /* Header and payload exactly as PROTOCOL.md section 2 says. */
    json_t *payload = NULL;
    assert_ok(igtcloud__jwt_decode_payload(&payload, jwt.ptr, jwt.size));
    assert_string_equal(json_string_value(json_array_get(json_object_get(payload, "aud"), 0)),
                        "http://x/api/auth/token");
    assert_string_equal(json_string_value(json_object_get(payload, "iss")), "svc-1");
    assert_string_equal(json_string_value(json_object_get(payload, "sub")), "svc-1");
    assert_int_equal(json_integer_value(json_object_get(payload, "exp")), 4600);
    json_decref(payload);
    igtcloud__buf header = IGTCLOUD_BUF_INIT;
    assert_ok(igtcloud__base64_decode(&header, jwt.ptr, (size_t)(strchr(jwt.ptr, '.') - jwt.ptr)));
    assert_string_equal(header.ptr, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
    igtcloud__buf_dispose(&header);

    /* The signature verifies with the public key over "header.payload". */
    const char *last_dot = strrchr(jwt.ptr, '.');
    igtcloud__buf sig = IGTCLOUD_BUF_INIT;
    assert_ok(igtcloud__base64_decode(&sig, last_dot + 1, strlen(last_dot + 1)));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestVerify(md, (unsigned char *)sig.ptr, sig.size,
                                      (unsigned char *)jwt.ptr, (size_t)(last_dot - jwt.ptr)),
                     1);
    EVP_MD_CTX_free(md);
    igtcloud__buf_dispose(&sig);
    igtcloud__buf_dispose(&jwt);
    EVP_PKEY_free(key);
}

static igtcloud__token sample_token(long long exp)
{
    igtcloud__token t;
    memset(&t, 0, sizeof(t));
    t.sub = strdup("demo");
    t.jwt = strdup("aGVhZGVy.eyJleHAiOjF9.c2ln");
    t.csrf = strdup("csrf-123");
    t.domain = strdup("https://igt-web.eu1.phsdp.com");
    t.jwt_data = json_pack("{s:I, s:s, s:s}", "exp", (json_int_t)exp, "sub", "demo",
                           "access_token", "acc-1");
    t.exp = exp;
    return t;
}

static void test_session__token_format_matches_protocol(void **state)
{
    (void)state;
    igtcloud__token t = sample_token(1700000000);
    igtcloud__buf text = IGTCLOUD_BUF_INIT;
    assert_ok(igtcloud__token_encode(&text, &t));
    /* Decode independently: standard base64 of json.dumps()-style JSON, keys in order. */
    igtcloud__buf raw = IGTCLOUD_BUF_INIT;
    assert_null(strpbrk(text.ptr, "-_\n"));
    assert_ok(igtcloud__base64_decode(&raw, text.ptr, text.size));
    assert_string_equal(raw.ptr,
                        "{\"sub\": \"demo\", \"jwt\": \"aGVhZGVy.eyJleHAiOjF9.c2ln\", "
                        "\"jwt_data\": {\"exp\": 1700000000, \"sub\": \"demo\", "
                        "\"access_token\": \"acc-1\"}, \"csrf\": \"csrf-123\", "
                        "\"domain\": \"https://igt-web.eu1.phsdp.com\"}");
    /* Round trip, also with NUL padding and whitespace as the file has them. */
    char file[IGTCLOUD__TOKEN_FILE_SIZE];
    memset(file, 0, sizeof(file));
    file[0] = ' ';
    memcpy(file + 1, text.ptr, text.size);
    file[1 + text.size] = '\n';
    igtcloud__token back;
    assert_ok(igtcloud__token_decode(&back, file, sizeof(file)));
    assert_string_equal(back.sub, "demo");
    assert_string_equal(back.jwt, t.jwt);
    assert_string_equal(back.csrf, "csrf-123");
    assert_string_equal(back.domain, t.domain);
    assert_int_equal(back.exp, 1700000000);
    assert_string_equal(json_string_value(json_object_get(back.jwt_data, "access_token")),
                        "acc-1");
    igtcloud__token_dispose(&back);
    igtcloud__buf_dispose(&raw);
    igtcloud__buf_dispose(&text);
    igtcloud__token_dispose(&t);
}

static void test_session__token_decode_rejects_garbage(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "\n\n",
        "!!!!",
        "bm90IGpzb24=",                    /* "not json" */
        "WzEsMl0=",                        /* [1,2] */
        "eyJqd3QiOiAieCJ9",                /* {"jwt": "x"}: no csrf, domain, jwt_data */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        igtcloud__token t;
        assert_int_equal(igtcloud__token_decode(&t, bad[i], strlen(bad[i])), IGTCLOUD_EPROTO);
    }
}

static void test_session__token_file_default_path(void **state)
{
    (void)state;
    char path[4096];
    setenv("CLOUD_TOKEN_MMAP", "/x/explicit", 1);
    assert_ok(igtcloud_token_file_path(path, sizeof(path), NULL));
    assert_string_equal(path, "/x/explicit");
    assert_ok(igtcloud_token_file_path(path, sizeof(path), "/y/override"));
    assert_string_equal(path, "/y/override");
    unsetenv("CLOUD_TOKEN_MMAP");
    setenv("XDG_RUNTIME_DIR", "/", 1);
    assert_ok(igtcloud_token_file_path(path, sizeof(path), NULL));
    assert_string_equal(path, "//igtcloud-token");
    setenv("XDG_RUNTIME_DIR", "relative", 1);
    setenv("TMPDIR", "/var/tmp", 1);
    assert_ok(igtcloud_token_file_path(path, sizeof(path), NULL));
    char want[128];
    snprintf(want, sizeof(want), "/var/tmp/igtcloud-token-%lu", (unsigned long)geteuid());
    assert_string_equal(path, want);
    unsetenv("XDG_RUNTIME_DIR");
    unsetenv("TMPDIR");
    char tiny[4];
    assert_int_equal(igtcloud_token_file_path(tiny, sizeof(tiny), NULL), IGTCLOUD_EINVALID);
}

static void test_session__options_init(void **state)
{
    (void)state;
    igtcloud_session_options opts;
    memset(&opts, 0xff, sizeof(opts));
    assert_ok(igtcloud_session_options_init(&opts, IGTCLOUD_SESSION_OPTIONS_VERSION));
    assert_int_equal(opts.version, IGTCLOUD_SESSION_OPTIONS_VERSION);
    assert_null(opts.domain);
    assert_int_equal(opts.flags, 0);
    assert_int_equal(igtcloud_session_options_init(&opts, 99), IGTCLOUD_EINVALID);
    igtcloud_session *s = NULL;
    opts.version = 99;
    assert_int_equal(igtcloud_session_open(&s, &opts), IGTCLOUD_EINVALID);
    assert_null(s);
    igtcloud_session_free(NULL);
    igtcloud_service_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session__jwt_payload_both_alphabets),
        cmocka_unit_test(test_session__jwt_payload_rejects_garbage),
        cmocka_unit_test(test_session__cookie_parsing),
        cmocka_unit_test(test_session__domain_normalisation),
        cmocka_unit_test(test_session__pem_reflow_and_service_id),
        cmocka_unit_test(test_session__service_assertion_verifies),
        cmocka_unit_test(test_session__token_format_matches_protocol),
        cmocka_unit_test(test_session__token_decode_rejects_garbage),
        cmocka_unit_test(test_session__token_file_default_path),
        cmocka_unit_test(test_session__options_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
