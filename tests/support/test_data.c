#include "test_data.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

long test_data_call(test_response *out, const test_sandbox *sb, const test_login *login,
                    const char *method, const char *body, const char *path_fmt, ...)
{
    char path[2048], url[2300];
    va_list ap;
    va_start(ap, path_fmt);
    vsnprintf(path, sizeof(path), path_fmt, ap);
    va_end(ap);
    snprintf(url, sizeof(url), "%s%s", sb->api_url, path);
    if (test_api(out, login, method, url, body))
        return -1;
    return out->status;
}

void test_data_generated(unsigned char *out, size_t len, uint64_t seed, const char *path)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    uint64_t state = seed ^ h;
    for (size_t i = 0; i < len; i += 8) {
        state += 0x9E3779B97F4A7C15ULL;
        uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        for (size_t b = 0; b < 8 && i + b < len; b++)
            out[i + b] = (unsigned char)(z >> (8 * b));
    }
}

char *test_data_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat st;
    char *data = NULL;
    if (fstat(fileno(f), &st) == 0 && (data = malloc((size_t)st.st_size + 1)) != NULL) {
        size_t got = fread(data, 1, (size_t)st.st_size, f);
        data[got] = '\0';
        if (len)
            *len = got;
    }
    fclose(f);
    return data;
}

int test_data_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t put = fwrite(data, 1, len, f);
    return fclose(f) == 0 && put == len ? 0 : -1;
}

char *test_data_read_object(const test_sandbox *sb, const char *key, size_t *len)
{
    char path[2048];
    snprintf(path, sizeof(path), "%s/objects/%s", sb->data_dir, key);
    return test_data_read_file(path, len);
}

/* base64url without padding, as JWT segments are written. */
static char *b64url(const unsigned char *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        return NULL;
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return out;
}

/* The one-line PEM the cloud hands out, with line breaks OpenSSL can read. */
static EVP_PKEY *read_key(const char *one_line)
{
    const char *body = strstr(one_line + 5, "-----");
    const char *footer = body ? strstr(body + 5, "-----END ") : NULL;
    if (!footer)
        return NULL;
    body += 5;
    size_t cap = strlen(one_line) * 2 + 16, used = 0;
    char *pem = malloc(cap);
    if (!pem)
        return NULL;
    used += (size_t)snprintf(pem, cap, "%.*s\n", (int)(body - one_line), one_line);
    for (const char *p = body; p < footer; p += 64) {
        int n = (int)((size_t)(footer - p) < 64 ? (size_t)(footer - p) : 64);
        used += (size_t)snprintf(pem + used, cap - used, "%.*s\n", n, p);
    }
    snprintf(pem + used, cap - used, "%s\n", footer);
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    free(pem);
    return key;
}

/* The JWT assembled from the two login cookies into out. */
static int jwt_from_cookies(const test_response *res, char *out, size_t size)
{
    char hp[4096] = "", sig[2048] = "";
    for (const char *line = res->headers; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > 11 && strncmp(line, "Set-Cookie:", 11) == 0) {
            const char *v = line + 11;
            while (*v == ' ')
                v++;
            size_t vlen = strcspn(v, ";\r\n");
            if (strncmp(v, "jwt_header_payload=", 19) == 0)
                snprintf(hp, sizeof(hp), "%.*s", (int)(vlen - 19), v + 19);
            else if (strncmp(v, "jwt_signature=", 14) == 0)
                snprintf(sig, sizeof(sig), "%.*s", (int)(vlen - 14), v + 14);
        }
        line += len;
        if (*line)
            line += 2;
    }
    if (!hp[0] || !sig[0])
        return -1;
    snprintf(out, size, "%s.%s", hp, sig);
    return 0;
}

long test_data_service_login(test_login *out, const test_sandbox *sb, const test_login *creator,
                             const char *institute_id, const char *name)
{
    test_response res;
    char body[256], service_id[256] = "", aud[512] = "";
    char *key_text = NULL, *head = NULL, *claims = NULL, *sig64 = NULL, *token = NULL;
    char *login_body = NULL;
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *ctx = NULL;
    long status = -1;
    memset(out, 0, sizeof(*out));

    snprintf(body, sizeof(body), "{\"name\": \"%s\"}", name);
    if (test_data_call(&res, sb, creator, "POST", body, "/api/data/organizations/%s/services",
                       institute_id) != 201) {
        test_response_dispose(&res);
        return -1;
    }
    snprintf(service_id, sizeof(service_id), "%s",
             json_string_value(json_object_get(res.json, "serviceId")));
    const char *pk = json_string_value(json_object_get(res.json, "privateKey"));
    key_text = pk ? strdup(pk) : NULL;
    test_response_dispose(&res);
    if (test_data_call(&res, sb, NULL, "GET", NULL, "/api/auth/login/$aud") == 200 &&
        json_is_string(res.json))
        snprintf(aud, sizeof(aud), "%s", json_string_value(res.json));
    test_response_dispose(&res);
    if (!key_text || !aud[0] || !(key = read_key(key_text)))
        goto done;

    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    json_t *payload = json_pack("{s:[s], s:s, s:s, s:I}", "aud", aud, "iss", service_id,
                                "sub", service_id, "exp", (json_int_t)(time(NULL) + 3600));
    char *payload_text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    if (!payload_text)
        goto done;
    head = b64url((const unsigned char *)header, strlen(header));
    claims = b64url((const unsigned char *)payload_text, strlen(payload_text));
    free(payload_text);
    if (!head || !claims)
        goto done;
    size_t input_len = strlen(head) + 1 + strlen(claims);
    token = malloc(input_len + 1024);
    if (!token)
        goto done;
    snprintf(token, input_len + 1, "%s.%s", head, claims);
    unsigned char sig[1024];
    size_t sig_len = sizeof(sig);
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, sig, &sig_len, (unsigned char *)token, input_len) != 1)
        goto done;
    sig64 = b64url(sig, sig_len);
    if (!sig64)
        goto done;
    snprintf(token + input_len, 1024, ".%s", sig64);

    json_t *grant = json_pack("{s:s, s:s, s:s}", "grantType", "jwt-key", "assertion", token,
                              "hospitalOrgId", "");
    login_body = grant ? json_dumps(grant, JSON_COMPACT) : NULL;
    json_decref(grant);
    if (!login_body)
        goto done;
    status = test_data_call(&res, sb, NULL, "POST", login_body, "/api/auth/login");
    if (status == 200) {
        const char *csrf = json_string_value(json_object_get(res.json, "CSRFToken"));
        snprintf(out->csrf, sizeof(out->csrf), "%s", csrf ? csrf : "");
        snprintf(out->sub, sizeof(out->sub), "%s", service_id);
        if (jwt_from_cookies(&res, out->jwt, sizeof(out->jwt)))
            status = -1;
    }
    test_response_dispose(&res);
done:
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    free(key_text);
    free(head);
    free(claims);
    free(sig64);
    free(token);
    free(login_body);
    return status;
}
