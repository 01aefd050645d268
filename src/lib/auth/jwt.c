#include "auth/jwt.h"
#include "core/base64.h"
#include "core/error.h"

#include <math.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

int igtcloud__jwt_decode_payload(json_t **out, const char *jwt, size_t len)
{
    int rc = 0;
    igtcloud__buf raw = IGTCLOUD_BUF_INIT;
    json_t *payload = NULL;
    const char *end = jwt + len;
    const char *dot1 = memchr(jwt, '.', len);
    if (!dot1)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "the JWT has no payload segment");
    const char *seg = dot1 + 1;
    const char *dot2 = memchr(seg, '.', (size_t)(end - seg));
    size_t seg_len = (size_t)((dot2 ? dot2 : end) - seg);
    if (seg_len == 0) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "the JWT payload is empty");
        goto done;
    }
    if (igtcloud__base64_decode(&raw, seg, seg_len)) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "the JWT payload is not base64");
        goto done;
    }
    payload = json_loadb(raw.ptr, raw.size, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(payload)) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "the JWT payload is not a JSON object");
        goto done;
    }
    *out = payload;
    payload = NULL;
done:
    json_decref(payload);
    igtcloud__buf_dispose(&raw);
    return rc;
}

int igtcloud__jwt_claim_exp(long long *out, const json_t *payload)
{
    const json_t *exp = json_object_get(payload, "exp");
    if (json_is_integer(exp) && json_integer_value(exp) >= 0) {
        *out = (long long)json_integer_value(exp);
        return 0;
    }
    if (json_is_real(exp)) {
        double v = json_real_value(exp);
        if (isfinite(v) && v >= 0 && v < 9.2e18) {
            *out = (long long)v;
            return 0;
        }
    }
    return igtcloud__error_set(IGTCLOUD_EPROTO, "the JWT has no valid 'exp' claim");
}

static int append_segment(igtcloud__buf *out, json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text)
        return igtcloud__error_oom();
    int rc = igtcloud__base64url_encode(out, text, strlen(text));
    free(text);
    return rc;
}

int igtcloud__jwt_service_assertion(igtcloud__buf *out, EVP_PKEY *key, const char *service_id,
                                    const char *audience, time_t now)
{
    int rc = 0;
    igtcloud__buf signing = IGTCLOUD_BUF_INIT;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    EVP_MD_CTX *md = NULL;
    json_t *header = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
    json_t *payload = json_pack("{s:[s], s:s, s:s, s:I}", "aud", audience, "iss", service_id,
                                "sub", service_id, "exp", (json_int_t)now + 3600);
    if (!header || !payload) {
        rc = igtcloud__error_oom();
        goto done;
    }
    rc = append_segment(&signing, header);
    if (!rc)
        rc = igtcloud__buf_putc(&signing, '.');
    if (!rc)
        rc = append_segment(&signing, payload);
    if (rc)
        goto done;
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, NULL, &sig_len, (const unsigned char *)signing.ptr, signing.size) != 1) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "cannot sign with the service key");
        goto done;
    }
    sig = malloc(sig_len);
    if (!sig) {
        rc = igtcloud__error_oom();
        goto done;
    }
    if (EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)signing.ptr, signing.size) != 1) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "cannot sign with the service key");
        goto done;
    }
    rc = igtcloud__buf_put(out, signing.ptr, signing.size);
    if (!rc)
        rc = igtcloud__buf_putc(out, '.');
    if (!rc)
        rc = igtcloud__base64url_encode(out, sig, sig_len);
done:
    EVP_MD_CTX_free(md);
    free(sig);
    json_decref(header);
    json_decref(payload);
    igtcloud__buf_dispose(&signing);
    return rc;
}
