/* sandbox/jwt: HS256 session tokens and RS256 service assertions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/base64.h"
#include "core/random.h"
#include "jwt.h"

static const time_t now = 1700000000;
static unsigned char key[SANDBOX_JWT_SECRET_LEN];

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (unsigned char)(i + 1);
    return 0;
}

static char *sign(json_t *claims)
{
    igtcloud__buf out = IGTCLOUD_BUF_INIT;
    assert_int_equal(sandbox_jwt_sign_hs256(&out, claims, key, sizeof(key)), 0);
    json_decref(claims);
    return igtcloud__buf_detach(&out);
}

static int verify(const char *token)
{
    sandbox_jwt jwt = SANDBOX_JWT_INIT;
    int rc = sandbox_jwt_verify_session(&jwt, token, strlen(token), key, sizeof(key), now);
    if (rc == 0) {
        assert_non_null(jwt.claims);
        sandbox_jwt_dispose(&jwt);
    } else {
        assert_null(jwt.claims);
        assert_null(jwt.header);
    }
    return rc;
}

static json_t *session_claims(json_int_t exp)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:s}", "sub", "demo", "uid", "u-1", "exp", exp,
                     "iat", (json_int_t)now, "jti", "session-1");
}

/* A token computed independently (Python hmac) with the key 01 02 .. 20. */
static void test_sandbox_jwt__known_answer(void **state)
{
    (void)state;
    char *token = sign(json_pack("{s:s, s:I, s:s}", "sub", "demo", "exp",
                                 (json_int_t)4102444800LL, "jti", "x"));
    assert_string_equal(token,
                        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                        "eyJzdWIiOiJkZW1vIiwiZXhwIjo0MTAyNDQ0ODAwLCJqdGkiOiJ4In0."
                        "wYNMNnYBSIiKyQLhW4QkfIycf9x1gY-RMCCnOMkqe6M");
    assert_int_equal(verify(token), SANDBOX_JWT_OK);
    free(token);
}

static void test_sandbox_jwt__round_trip_keeps_claims(void **state)
{
    (void)state;
    char *token = sign(session_claims(now + 600));
    sandbox_jwt jwt = SANDBOX_JWT_INIT;
    assert_int_equal(sandbox_jwt_verify_session(&jwt, token, strlen(token), key, sizeof(key),
                                                now), SANDBOX_JWT_OK);
    assert_string_equal(json_string_value(json_object_get(jwt.claims, "sub")), "demo");
    assert_string_equal(json_string_value(json_object_get(jwt.claims, "jti")), "session-1");
    assert_int_equal(json_integer_value(json_object_get(jwt.claims, "exp")), now + 600);
    assert_string_equal(json_string_value(json_object_get(jwt.header, "alg")), "HS256");
    sandbox_jwt_dispose(&jwt);
    sandbox_jwt_dispose(&jwt);
    free(token);
}

static void test_sandbox_jwt__wrong_key_rejected(void **state)
{
    (void)state;
    char *token = sign(session_claims(now + 600));
    unsigned char other[SANDBOX_JWT_SECRET_LEN];
    memcpy(other, key, sizeof(other));
    other[0] ^= 1;
    sandbox_jwt jwt = SANDBOX_JWT_INIT;
    assert_int_equal(sandbox_jwt_verify_session(&jwt, token, strlen(token), other,
                                                sizeof(other), now), SANDBOX_JWT_BAD_SIGNATURE);
    free(token);
}

/* Replace segment `index` (0..2) of token with `segment`. */
static char *with_segment(const char *token, int index, const char *segment)
{
    const char *dot1 = strchr(token, '.');
    const char *dot2 = strchr(dot1 + 1, '.');
    igtcloud__buf out = IGTCLOUD_BUF_INIT;
    if (index == 0)
        igtcloud__buf_printf(&out, "%s%s", segment, dot1);
    else if (index == 1)
        igtcloud__buf_printf(&out, "%.*s.%s%s", (int)(dot1 - token), token, segment, dot2);
    else
        igtcloud__buf_printf(&out, "%.*s.%s", (int)(dot2 - token), token, segment);
    return igtcloud__buf_detach(&out);
}

static char *b64url(const char *text)
{
    igtcloud__buf out = IGTCLOUD_BUF_INIT;
    assert_int_equal(igtcloud__base64url_encode(&out, text, strlen(text)), 0);
    return igtcloud__buf_detach(&out);
}

static void test_sandbox_jwt__tampered_header_rejected(void **state)
{
    (void)state;
    char *token = sign(session_claims(now + 600));
    static const struct {
        const char *header;
        int expected;
    } cases[] = {
        { "{\"alg\":\"none\",\"typ\":\"JWT\"}", SANDBOX_JWT_BAD_ALGORITHM },
        { "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", SANDBOX_JWT_BAD_ALGORITHM },
        { "{\"alg\":\"hs256\",\"typ\":\"JWT\"}", SANDBOX_JWT_BAD_ALGORITHM },
        { "{\"typ\":\"JWT\"}", SANDBOX_JWT_BAD_ALGORITHM },
        { "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"1\"}", SANDBOX_JWT_BAD_SIGNATURE },
        { "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", SANDBOX_JWT_MALFORMED },
        { "[\"HS256\"]", SANDBOX_JWT_MALFORMED },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *segment = b64url(cases[i].header);
        char *tampered = with_segment(token, 0, segment);
        assert_int_equal(verify(tampered), cases[i].expected);
        free(tampered);
        free(segment);
    }
    free(token);
}

static void test_sandbox_jwt__tampered_payload_rejected(void **state)
{
    (void)state;
    char *token = sign(session_claims(now + 600));
    static const char *const payloads[] = {
        "{\"sub\":\"admin\",\"uid\":\"u-1\",\"exp\":1700000600,\"iat\":1700000000,"
        "\"jti\":\"session-1\"}",
        "{\"sub\":\"demo\",\"uid\":\"u-1\",\"exp\":9999999999,\"iat\":1700000000,"
        "\"jti\":\"session-1\"}",
    };
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        char *segment = b64url(payloads[i]);
        char *tampered = with_segment(token, 1, segment);
        assert_int_equal(verify(tampered), SANDBOX_JWT_BAD_SIGNATURE);
        free(tampered);
        free(segment);
    }
    /* One flipped character anywhere in the payload segment. */
    const char *dot1 = strchr(token, '.');
    size_t start = (size_t)(dot1 - token) + 1;
    size_t end = (size_t)(strchr(dot1 + 1, '.') - token);
    for (size_t i = start; i < end; i++) {
        char *copy = strdup(token);
        copy[i] = copy[i] == 'A' ? 'B' : 'A';
        assert_int_not_equal(verify(copy), SANDBOX_JWT_OK);
        free(copy);
    }
    free(token);
}

static void test_sandbox_jwt__tampered_signature_rejected(void **state)
{
    (void)state;
    char *token = sign(session_claims(now + 600));
    size_t sig = (size_t)(strrchr(token, '.') - token) + 1;
    size_t len = strlen(token);
    for (size_t i = sig; i < len; i++) {
        char *copy = strdup(token);
        copy[i] = copy[i] == 'A' ? 'B' : 'A';
        assert_int_equal(verify(copy), SANDBOX_JWT_BAD_SIGNATURE);
        free(copy);
    }
    /* Truncated, extended, or in the standard alphabet's padded form. */
    char *copy = strdup(token);
    copy[len - 1] = '\0';
    assert_int_equal(verify(copy), SANDBOX_JWT_BAD_SIGNATURE);
    free(copy);
    igtcloud__buf longer = IGTCLOUD_BUF_INIT;
    igtcloud__buf_printf(&longer, "%sAAAA", token);
    assert_int_equal(verify(longer.ptr), SANDBOX_JWT_BAD_SIGNATURE);
    igtcloud__buf_dispose(&longer);
    char *padded = with_segment(token, 2, "wYNMNnYBSIiKyQLhW4QkfIycf9x1gY+RMCCnOMkqe6M=");
    assert_int_equal(verify(padded), SANDBOX_JWT_MALFORMED);
    free(padded);
    char *empty = with_segment(token, 2, "");
    assert_int_equal(verify(empty), SANDBOX_JWT_MALFORMED);
    free(empty);
    free(token);
}

static void test_sandbox_jwt__expired_rejected(void **state)
{
    (void)state;
    char *token = sign(session_claims(now - 1));
    assert_int_equal(verify(token), SANDBOX_JWT_EXPIRED);
    free(token);
    token = sign(session_claims(now));
    assert_int_equal(verify(token), SANDBOX_JWT_EXPIRED);
    free(token);
    token = sign(json_pack("{s:s, s:s}", "sub", "demo", "jti", "s"));
    assert_int_equal(verify(token), SANDBOX_JWT_EXPIRED);
    free(token);
    token = sign(json_pack("{s:s, s:s, s:s}", "sub", "demo", "jti", "s", "exp", "9999999999"));
    assert_int_equal(verify(token), SANDBOX_JWT_EXPIRED);
    free(token);
    token = sign(session_claims(now + 1));
    assert_int_equal(verify(token), SANDBOX_JWT_OK);
    free(token);
}

static void test_sandbox_jwt__session_needs_sub_and_jti(void **state)
{
    (void)state;
    char *token = sign(json_pack("{s:s, s:I}", "sub", "demo", "exp", (json_int_t)now + 60));
    assert_int_equal(verify(token), SANDBOX_JWT_BAD_CLAIMS);
    free(token);
    token = sign(json_pack("{s:i, s:s, s:I}", "sub", 1, "jti", "s", "exp", (json_int_t)now + 60));
    assert_int_equal(verify(token), SANDBOX_JWT_BAD_CLAIMS);
    free(token);
}

static void test_sandbox_jwt__malformed_rejected(void **state)
{
    (void)state;
    static const char *const tokens[] = {
        "", ".", "..", "...", "a", "a.b", "a.b.c.d", "eyJ9.eyJ9.x",
        "eyJhbGciOiJIUzI1NiJ9..sig",
        "eyJhbGciOiJIUzI1NiJ9.e30=.sig",        /* padding is not base64url */
        "eyJhbGciOiJIUzI1NiJ9.e30.s*g",
        "eyJhbGciOiJIUzI1NiJ9.W10.sig",          /* payload [] */
        "eyJhbGciOiJIUzI1NiJ9.bnVsbA.sig",       /* payload null */
        "eyJhbGciOiJIUzI1NiJ9.e30.sig ",
        " eyJhbGciOiJIUzI1NiJ9.e30.sig",
    };
    for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
        assert_int_equal(verify(tokens[i]), SANDBOX_JWT_MALFORMED);
    /* A NUL inside the token and an oversized token. */
    sandbox_jwt jwt = SANDBOX_JWT_INIT;
    assert_int_equal(sandbox_jwt_parse(&jwt, "e30.e30\0.x", 10), SANDBOX_JWT_MALFORMED);
    size_t big = SANDBOX_JWT_MAX_LEN + 1;
    char *huge = malloc(big + 1);
    memset(huge, 'A', big);
    huge[4] = '.';
    huge[8] = '.';
    huge[big] = '\0';
    assert_int_equal(sandbox_jwt_parse(&jwt, huge, big), SANDBOX_JWT_MALFORMED);
    free(huge);
    assert_null(jwt.claims);
}

static int has_url_only_chars(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '-' || s[i] == '_')
            return 1;
    return 0;
}

/* Pieces that turn into '-' or '_' when naively encoded, and then some (UTF-8 kept whole). */
static void random_string(char *out, size_t size, size_t pieces)
{
    static const char *const pool[] = {
        "a", "b", ">", "?", "~", "\x7f", "\"", "\\", "/", "<", "=", "@", "_", "-", "{", "}",
        ":", " ", "\t", "\n", "\x01", "\xc3\xa9", "\xe2\x82\xac", "0",
    };
    unsigned char bytes[64];
    size_t n = 0;
    assert_true(pieces <= sizeof(bytes));
    assert_int_equal(igtcloud__random_bytes(bytes, sizeof(bytes)), 0);
    for (size_t i = 0; i < pieces; i++) {
        const char *piece = pool[bytes[i] % (sizeof(pool) / sizeof(pool[0]))];
        size_t len = strlen(piece);
        if (n + len >= size)
            break;
        memcpy(out + n, piece, len);
        n += len;
    }
    out[n] = '\0';
}

static void test_sandbox_jwt__payload_segment_free_of_url_characters(void **state)
{
    (void)state;
    int naive_would_fail = 0;
    for (int trial = 0; trial < 2000; trial++) {
        char sub[160], extra[160];
        unsigned char len[2];
        assert_int_equal(igtcloud__random_bytes(len, sizeof(len)), 0);
        random_string(sub, sizeof(sub), 1 + len[0] % 40);
        random_string(extra, sizeof(extra), len[1] % 40);
        json_t *claims = json_pack("{s:s, s:s, s:I, s:s, s:s}", "sub", sub, "uid", extra,
                                   "exp", (json_int_t)now + 1 + trial, "jti", "j", "x", extra);
        assert_non_null(claims);
        char *naive_json = json_dumps(claims, JSON_COMPACT);
        igtcloud__buf naive = IGTCLOUD_BUF_INIT;
        igtcloud__base64url_encode(&naive, naive_json, strlen(naive_json));
        naive_would_fail |= has_url_only_chars(naive.ptr, naive.size);
        igtcloud__buf_dispose(&naive);
        free(naive_json);

        json_incref(claims);
        char *token = sign(claims);
        const char *dot1 = strchr(token, '.');
        const char *dot2 = strchr(dot1 + 1, '.');
        assert_false(has_url_only_chars(dot1 + 1, (size_t)(dot2 - dot1 - 1)));
        /* The reference's way: standard alphabet after padding, then JSON. */
        igtcloud__buf padded = IGTCLOUD_BUF_INIT, raw = IGTCLOUD_BUF_INIT;
        igtcloud__buf_put(&padded, dot1 + 1, (size_t)(dot2 - dot1 - 1));
        while (padded.size % 4)
            igtcloud__buf_putc(&padded, '=');
        assert_int_equal(igtcloud__base64_decode(&raw, padded.ptr, padded.size), 0);
        json_t *decoded = json_loadb(raw.ptr, raw.size, 0, NULL);
        assert_non_null(decoded);
        assert_true(json_equal(decoded, claims));
        json_decref(decoded);
        igtcloud__buf_dispose(&padded);
        igtcloud__buf_dispose(&raw);
        assert_int_equal(verify(token), SANDBOX_JWT_OK);
        free(token);
        json_decref(claims);
    }
    /* The claims were hostile enough to matter. */
    assert_true(naive_would_fail);
}

static void test_sandbox_jwt__escapes_exactly_the_troublemakers(void **state)
{
    (void)state;
    char *token = sign(json_pack("{s:s}", "sub", "a>b?c~"));
    char *expected = b64url("{\"sub\":\"a\\u003eb\\u003fc\\u007e\"}");
    const char *dot1 = strchr(token, '.');
    assert_int_equal(strncmp(dot1 + 1, expected, strlen(expected)), 0);
    assert_int_equal(dot1[1 + strlen(expected)], '.');
    free(expected);
    free(token);
}

/* ---- RS256 assertions ---- */

static EVP_PKEY *service_key, *other_key;
static char *service_pem;

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

static char *public_pem(EVP_PKEY *pkey)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    char *copy = bytes_dup(data, (size_t)len);
    BIO_free(bio);
    return copy;
}

static int setup_keys(void **state)
{
    (void)state;
    service_key = EVP_RSA_gen(2048);
    other_key = EVP_RSA_gen(2048);
    if (!service_key || !other_key)
        return -1;
    service_pem = public_pem(service_key);
    return setup(state);
}

static int teardown_keys(void **state)
{
    (void)state;
    EVP_PKEY_free(service_key);
    EVP_PKEY_free(other_key);
    free(service_pem);
    return 0;
}

static char *rs256(EVP_PKEY *pkey, const char *header, json_t *claims)
{
    igtcloud__buf token = IGTCLOUD_BUF_INIT;
    char *payload = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    igtcloud__base64url_encode(&token, header, strlen(header));
    igtcloud__buf_putc(&token, '.');
    igtcloud__base64url_encode(&token, payload, strlen(payload));
    free(payload);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[512];
    size_t sig_len = sizeof(sig);
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len, (unsigned char *)token.ptr,
                                    token.size), 1);
    EVP_MD_CTX_free(ctx);
    igtcloud__buf_putc(&token, '.');
    igtcloud__base64url_encode(&token, sig, sig_len);
    return igtcloud__buf_detach(&token);
}

static const char rs_header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
static const char aud[] = "http://127.0.0.1:1/api/auth/token";
static const char sid[] = "uploader.abcdefgh@sandbox.igtcloud";

static int check(const char *token, const char **why)
{
    sandbox_jwt jwt = SANDBOX_JWT_INIT;
    int rc = sandbox_jwt_parse(&jwt, token, strlen(token));
    if (rc == 0)
        rc = sandbox_jwt_check_assertion(&jwt, service_pem, aud, sid, now, why);
    sandbox_jwt_dispose(&jwt);
    return rc;
}

static json_t *assertion_claims(json_t *audience, const char *iss, const char *sub,
                                json_int_t exp)
{
    return json_pack("{s:o, s:s, s:s, s:I}", "aud", audience, "iss", iss, "sub", sub,
                     "exp", exp);
}

static void test_sandbox_jwt__assertion_accepted(void **state)
{
    (void)state;
    const char *why = "unset";
    char *token = rs256(service_key, rs_header,
                        assertion_claims(json_pack("[s]", aud), sid, sid, now + 3600));
    assert_int_equal(check(token, &why), SANDBOX_JWT_OK);
    assert_null(why);
    free(token);
    /* aud as a plain string, among others, and exp as a Python float. */
    token = rs256(service_key, rs_header, assertion_claims(json_string(aud), sid, sid, now + 1));
    assert_int_equal(check(token, NULL), SANDBOX_JWT_OK);
    free(token);
    token = rs256(service_key, rs_header,
                  assertion_claims(json_pack("[s, s]", "other", aud), sid, sid, now + 60));
    assert_int_equal(check(token, NULL), SANDBOX_JWT_OK);
    free(token);
    token = rs256(service_key, rs_header,
                  json_pack("{s:[s], s:s, s:s, s:f}", "aud", aud, "iss", sid, "sub", sid,
                            "exp", (double)now + 3600.25));
    assert_int_equal(check(token, NULL), SANDBOX_JWT_OK);
    free(token);
}

static void test_sandbox_jwt__assertion_rejections(void **state)
{
    (void)state;
    const char *why = NULL;
    char *token;

    token = rs256(other_key, rs_header,
                  assertion_claims(json_pack("[s]", aud), sid, sid, now + 3600));
    assert_int_equal(check(token, &why), SANDBOX_JWT_BAD_SIGNATURE);
    assert_non_null(why);
    free(token);

    token = rs256(service_key, rs_header,
                  assertion_claims(json_pack("[s]", "http://elsewhere/api/auth/token"), sid,
                                   sid, now + 3600));
    assert_int_equal(check(token, &why), SANDBOX_JWT_BAD_CLAIMS);
    assert_non_null(strstr(why, "aud"));
    free(token);

    token = rs256(service_key, rs_header, json_pack("{s:s, s:s, s:I}", "iss", sid, "sub", sid,
                                                    "exp", (json_int_t)now + 60));
    assert_int_equal(check(token, NULL), SANDBOX_JWT_BAD_CLAIMS);
    free(token);

    token = rs256(service_key, rs_header,
                  assertion_claims(json_pack("[s]", aud), sid, "someone-else", now + 3600));
    assert_int_equal(check(token, &why), SANDBOX_JWT_BAD_CLAIMS);
    assert_non_null(strstr(why, "iss"));
    free(token);

    token = rs256(service_key, rs_header,
                  assertion_claims(json_pack("[s]", aud), "someone-else", "someone-else",
                                   now + 3600));
    assert_int_equal(check(token, NULL), SANDBOX_JWT_BAD_CLAIMS);
    free(token);

    token = rs256(service_key, rs_header,
                  assertion_claims(json_pack("[s]", aud), sid, sid, now - 5));
    assert_int_equal(check(token, &why), SANDBOX_JWT_EXPIRED);
    assert_non_null(strstr(why, "expired"));
    free(token);

    token = rs256(service_key, "{\"alg\":\"RS512\",\"typ\":\"JWT\"}",
                  assertion_claims(json_pack("[s]", aud), sid, sid, now + 3600));
    assert_int_equal(check(token, NULL), SANDBOX_JWT_BAD_ALGORITHM);
    free(token);

    /* Algorithm confusion: HS256 keyed with the public key text must not pass. */
    igtcloud__buf hs = IGTCLOUD_BUF_INIT;
    json_t *claims = assertion_claims(json_pack("[s]", aud), sid, sid, now + 3600);
    assert_int_equal(sandbox_jwt_sign_hs256(&hs, claims, (unsigned char *)service_pem,
                                            strlen(service_pem)), 0);
    json_decref(claims);
    assert_int_equal(check(hs.ptr, &why), SANDBOX_JWT_BAD_ALGORITHM);
    igtcloud__buf_dispose(&hs);

    /* A public key that is not PEM at all. */
    token = rs256(service_key, rs_header,
                  assertion_claims(json_pack("[s]", aud), sid, sid, now + 3600));
    sandbox_jwt jwt = SANDBOX_JWT_INIT;
    assert_int_equal(sandbox_jwt_parse(&jwt, token, strlen(token)), 0);
    assert_int_not_equal(sandbox_jwt_check_assertion(&jwt, "not a key", aud, sid, now, &why), 0);
    sandbox_jwt_dispose(&jwt);
    free(token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sandbox_jwt__known_answer),
        cmocka_unit_test(test_sandbox_jwt__round_trip_keeps_claims),
        cmocka_unit_test(test_sandbox_jwt__wrong_key_rejected),
        cmocka_unit_test(test_sandbox_jwt__tampered_header_rejected),
        cmocka_unit_test(test_sandbox_jwt__tampered_payload_rejected),
        cmocka_unit_test(test_sandbox_jwt__tampered_signature_rejected),
        cmocka_unit_test(test_sandbox_jwt__expired_rejected),
        cmocka_unit_test(test_sandbox_jwt__session_needs_sub_and_jti),
        cmocka_unit_test(test_sandbox_jwt__malformed_rejected),
        cmocka_unit_test(test_sandbox_jwt__payload_segment_free_of_url_characters),
        cmocka_unit_test(test_sandbox_jwt__escapes_exactly_the_troublemakers),
        cmocka_unit_test(test_sandbox_jwt__assertion_accepted),
        cmocka_unit_test(test_sandbox_jwt__assertion_rejections),
    };
    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
