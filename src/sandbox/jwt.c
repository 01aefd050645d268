#include "jwt.h"
#include "core/base64.h"
#include "core/hash.h"

#include <math.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>

static const char hs256_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/*
 * Base64 turns a byte into '-' (62) or '_' (63) only through the last sextet
 * of a 3-byte group, and only for bytes whose low six bits are 62 or 63 and
 * whose top bit is clear: '>', '?', '~' and DEL (the other sextets of ASCII
 * input stay below 62). With JSON_ENSURE_ASCII every byte is ASCII, and in
 * compact JSON those four characters can only occur inside strings, so
 * writing them as \u escapes keeps '-' and '_' out of the payload segment
 * whatever the claims hold. That does deterministically what a filler claim
 * tuned by trial would do, and the JSON means the same to every parser.
 */
static int put_payload_json(igtcloud__buf *out, const json_t *claims)
{
    char *text = json_dumps(claims, JSON_COMPACT | JSON_ENSURE_ASCII);
    int rc = 0;
    if (!text)
        return -1;
    for (const char *p = text; *p && rc == 0; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '>' || c == '?' || c == '~' || c == 0x7f)
            rc = igtcloud__buf_printf(out, "\\u%04x", c);
        else
            rc = igtcloud__buf_putc(out, (char)c);
    }
    free(text);
    return rc ? -1 : 0;
}

static int hs256_signature(igtcloud__buf *out, const char *data, size_t len,
                           const unsigned char *key, size_t key_len)
{
    unsigned char mac[IGTCLOUD_SHA256_LEN];
    if (igtcloud__hmac_sha256(mac, key, key_len, data, len) ||
        igtcloud__base64url_encode(out, mac, sizeof(mac)))
        return -1;
    return 0;
}

int sandbox_jwt_sign_hs256(igtcloud__buf *out, const json_t *claims,
                           const unsigned char *key, size_t key_len)
{
    igtcloud__buf payload = IGTCLOUD_BUF_INIT, token = IGTCLOUD_BUF_INIT;
    igtcloud__buf signature = IGTCLOUD_BUF_INIT;
    int rc = SANDBOX_JWT_INTERNAL;
    if (!json_is_object(claims) || put_payload_json(&payload, claims))
        goto done;
    if (igtcloud__base64url_encode(&token, hs256_header, sizeof(hs256_header) - 1) ||
        igtcloud__buf_putc(&token, '.'))
        goto done;
    size_t payload_start = token.size;
    if (igtcloud__base64url_encode(&token, payload.ptr, payload.size))
        goto done;
    /* The escaping above makes this impossible; refuse rather than emit a bad token. */
    if (strcspn(token.ptr + payload_start, "-_") != token.size - payload_start)
        goto done;
    if (hs256_signature(&signature, token.ptr, token.size, key, key_len) ||
        igtcloud__buf_putc(&token, '.') ||
        igtcloud__buf_put(&token, signature.ptr, signature.size) ||
        igtcloud__buf_put(out, token.ptr, token.size))
        goto done;
    rc = SANDBOX_JWT_OK;
done:
    igtcloud__buf_dispose(&payload);
    igtcloud__buf_dispose(&token);
    igtcloud__buf_dispose(&signature);
    return rc;
}

static int is_base64url(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

static json_t *decode_object(const char *segment, size_t len)
{
    igtcloud__buf raw = IGTCLOUD_BUF_INIT;
    json_t *json = NULL;
    if (len == 0 || !is_base64url(segment, len) || igtcloud__base64_decode(&raw, segment, len))
        goto done;
    json = json_loadb(raw.ptr, raw.size, JSON_REJECT_DUPLICATES, NULL);
    if (json && !json_is_object(json)) {
        json_decref(json);
        json = NULL;
    }
done:
    igtcloud__buf_dispose(&raw);
    return json;
}

int sandbox_jwt_parse(sandbox_jwt *out, const char *token, size_t len)
{
    sandbox_jwt jwt = SANDBOX_JWT_INIT;
    *out = jwt;
    if (!token || len == 0 || len > SANDBOX_JWT_MAX_LEN || memchr(token, '\0', len))
        return SANDBOX_JWT_MALFORMED;
    const char *dot1 = memchr(token, '.', len);
    if (!dot1)
        return SANDBOX_JWT_MALFORMED;
    const char *dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
    if (!dot2)
        return SANDBOX_JWT_MALFORMED;
    const char *end = token + len;
    if (memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) || dot2 + 1 == end ||
        !is_base64url(dot2 + 1, (size_t)(end - dot2 - 1)))
        return SANDBOX_JWT_MALFORMED;
    jwt.header = decode_object(token, (size_t)(dot1 - token));
    jwt.claims = decode_object(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!jwt.header || !jwt.claims) {
        sandbox_jwt_dispose(&jwt);
        return SANDBOX_JWT_MALFORMED;
    }
    jwt.text = token;
    jwt.signed_len = (size_t)(dot2 - token);
    jwt.signature = dot2 + 1;
    jwt.signature_len = (size_t)(end - dot2 - 1);
    *out = jwt;
    return SANDBOX_JWT_OK;
}

void sandbox_jwt_dispose(sandbox_jwt *jwt)
{
    if (!jwt)
        return;
    json_decref(jwt->header);
    json_decref(jwt->claims);
    jwt->header = NULL;
    jwt->claims = NULL;
}

static int header_alg_is(const sandbox_jwt *jwt, const char *alg)
{
    const char *value = json_string_value(json_object_get(jwt->header, "alg"));
    return value && strcmp(value, alg) == 0;
}

int sandbox_jwt_verify_hs256(const sandbox_jwt *jwt, const unsigned char *key, size_t key_len)
{
    igtcloud__buf expected = IGTCLOUD_BUF_INIT;
    int rc = SANDBOX_JWT_BAD_SIGNATURE;
    if (!jwt->text)
        return SANDBOX_JWT_MALFORMED;
    if (!header_alg_is(jwt, "HS256"))
        return SANDBOX_JWT_BAD_ALGORITHM;
    if (hs256_signature(&expected, jwt->text, jwt->signed_len, key, key_len)) {
        rc = SANDBOX_JWT_INTERNAL;
        goto done;
    }
    /* Comparing the canonical text also refuses other encodings of the same bytes. */
    if (expected.size == jwt->signature_len &&
        igtcloud__equal_secret(expected.ptr, jwt->signature, expected.size))
        rc = SANDBOX_JWT_OK;
done:
    igtcloud__buf_dispose(&expected);
    return rc;
}

int sandbox_jwt_verify_rs256(const sandbox_jwt *jwt, const char *public_key_pem)
{
    igtcloud__buf signature = IGTCLOUD_BUF_INIT;
    BIO *bio = NULL;
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *ctx = NULL;
    int rc = SANDBOX_JWT_INTERNAL;
    if (!jwt->text)
        return SANDBOX_JWT_MALFORMED;
    if (!header_alg_is(jwt, "RS256"))
        return SANDBOX_JWT_BAD_ALGORITHM;
    if (igtcloud__base64_decode(&signature, jwt->signature, jwt->signature_len)) {
        rc = SANDBOX_JWT_MALFORMED;
        goto done;
    }
    bio = BIO_new_mem_buf(public_key_pem, -1);
    key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    if (!key || !EVP_PKEY_is_a(key, "RSA"))
        goto done;
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) != 1)
        goto done;
    rc = EVP_DigestVerify(ctx, (const unsigned char *)signature.ptr, signature.size,
                          (const unsigned char *)jwt->text, jwt->signed_len) == 1
             ? SANDBOX_JWT_OK
             : SANDBOX_JWT_BAD_SIGNATURE;
done:
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    BIO_free(bio);
    igtcloud__buf_dispose(&signature);
    return rc;
}

int sandbox_jwt_alive(const sandbox_jwt *jwt, time_t now)
{
    json_t *exp = json_object_get(jwt->claims, "exp");
    if (!json_is_number(exp))
        return 0;
    double value = json_number_value(exp);
    return isfinite(value) && value > (double)now;
}

int sandbox_jwt_verify_session(sandbox_jwt *out, const char *token, size_t len,
                               const unsigned char *key, size_t key_len, time_t now)
{
    sandbox_jwt jwt = SANDBOX_JWT_INIT;
    int rc = sandbox_jwt_parse(&jwt, token, len);
    if (rc)
        goto done;
    rc = sandbox_jwt_verify_hs256(&jwt, key, key_len);
    if (rc)
        goto done;
    if (!json_is_integer(json_object_get(jwt.claims, "exp")) || !sandbox_jwt_alive(&jwt, now)) {
        rc = SANDBOX_JWT_EXPIRED;
        goto done;
    }
    if (!json_string_value(json_object_get(jwt.claims, "sub")) ||
        !json_string_value(json_object_get(jwt.claims, "jti")))
        rc = SANDBOX_JWT_BAD_CLAIMS;
done:
    if (rc == SANDBOX_JWT_OK)
        *out = jwt;
    else
        sandbox_jwt_dispose(&jwt);
    return rc;
}

static int audience_matches(json_t *aud, const char *audience)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), audience) == 0;
    if (!json_is_array(aud))
        return 0;
    size_t i;
    json_t *item;
    json_array_foreach(aud, i, item) {
        if (json_is_string(item) && strcmp(json_string_value(item), audience) == 0)
            return 1;
    }
    return 0;
}

int sandbox_jwt_check_assertion(const sandbox_jwt *jwt, const char *public_key_pem,
                                const char *audience, const char *service_id, time_t now,
                                const char **why)
{
    const char *reason = NULL;
    int rc = sandbox_jwt_verify_rs256(jwt, public_key_pem);
    if (rc == SANDBOX_JWT_BAD_ALGORITHM) {
        reason = "assertion must be signed with RS256";
        goto done;
    }
    if (rc == SANDBOX_JWT_MALFORMED) {
        reason = "assertion is not a valid JWT";
        goto done;
    }
    if (rc) {
        reason = "assertion signature does not match the service's public key";
        goto done;
    }
    const char *iss = json_string_value(json_object_get(jwt->claims, "iss"));
    const char *sub = json_string_value(json_object_get(jwt->claims, "sub"));
    if (!iss || !sub || strcmp(iss, service_id) != 0 || strcmp(sub, service_id) != 0) {
        rc = SANDBOX_JWT_BAD_CLAIMS;
        reason = "assertion iss and sub must both be the service id";
        goto done;
    }
    if (!audience_matches(json_object_get(jwt->claims, "aud"), audience)) {
        rc = SANDBOX_JWT_BAD_CLAIMS;
        reason = "assertion aud does not name this server's audience (GET /api/auth/login/$aud)";
        goto done;
    }
    if (!sandbox_jwt_alive(jwt, now)) {
        rc = SANDBOX_JWT_EXPIRED;
        reason = "assertion has expired or has no exp";
    }
done:
    if (why)
        *why = reason;
    return rc;
}
