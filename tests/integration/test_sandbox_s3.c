/*
 * The sandbox's S3 endpoint over real sockets: every operation and error
 * code, ranges, multipart rules, ETags, checksums, credential expiry and
 * prefix scoping, restart, TLS, fault injection (seen by a raw client) and
 * the request log. Requests are signed with the shared SigV4 module with
 * credentials fetched from the sandbox's own API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_run.h"
#include "test_http.h"
#include "test_sandbox.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/hash.h"
#include "igtcloud/transfer.h"
#include "s3/engine.h"
#include "s3/sigv4.h"

#define PROJECT_ID "6f1c2b1e-0000-4000-8000-000000000001"
#define PROJECT_PREFIX "projects/demo-project/"
#define ADMIN_TOKEN "test-admin-token"
#define MIN_PART 1024

/* ---- a small S3 client -------------------------------------------------- */

typedef struct s3_creds {
    char access_key[160];
    char secret_key[160];
    char session_token[1100];
    char endpoint[160];
    char host[160];
    char bucket[80];
    char region[40];
} s3_creds;

static int fetch_creds_as(s3_creds *out, const test_login *login, const char *api_url,
                          const char *action, const char *prefix)
{
    test_response res;
    char url[1024];
    memset(out, 0, sizeof(*out));
    snprintf(url, sizeof(url), "%s/api/auth/s3credentials?action=%s&prefix=%s", api_url,
             action, prefix);
    if (test_api(&res, login, "GET", url, NULL) || res.status != 200) {
        fprintf(stderr, "s3credentials: %ld %s\n", res.status, res.body ? res.body : "");
        test_response_dispose(&res);
        return -1;
    }
    json_t *c = json_object_get(json_array_get(json_object_get(res.json, "policyCredentials"),
                                               0), "credentials");
    struct { const char *name; char *out; size_t size; } fields[] = {
        { "accessKey", out->access_key, sizeof(out->access_key) },
        { "secretKey", out->secret_key, sizeof(out->secret_key) },
        { "sessionToken", out->session_token, sizeof(out->session_token) },
        { "endpoint", out->endpoint, sizeof(out->endpoint) },
        { "bucket", out->bucket, sizeof(out->bucket) },
        { "region", out->region, sizeof(out->region) },
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *v = json_string_value(json_object_get(c, fields[i].name));
        if (!v) {
            fprintf(stderr, "s3credentials: no %s\n", fields[i].name);
            rc = -1;
            continue;
        }
        snprintf(fields[i].out, fields[i].size, "%s", v);
    }
    const char *host = strstr(out->endpoint, "://");
    snprintf(out->host, sizeof(out->host), "%s", host ? host + 3 : out->endpoint);
    test_response_dispose(&res);
    return rc;
}

/* Log in as demo/demo and fetch credentials for action on prefix. */
static int fetch_creds(s3_creds *out, const char *api_url, const char *action,
                       const char *prefix)
{
    test_login login;
    if (test_login_password(&login, api_url, "demo", "demo") != 200)
        return -1;
    return fetch_creds_as(out, &login, api_url, action, prefix);
}

typedef struct s3_call {
    const char *method;
    const char *key;              /* not encoded; NULL: the bucket */
    const char *query;            /* raw, already encoded */
    const char *const *headers;   /* extra "Name: value" lines */
    const char *body;
    size_t body_len;
    int has_body;
    const char *payload_hash;     /* NULL: SHA-256 of the body */
    time_t now;                   /* 0: the clock */
    const char *secret;           /* override */
    const char *token;            /* override; "" sends none */
    const char *access_key;       /* override */
    const char *bucket;           /* override */
} s3_call;

static void object_path(char *out, size_t size, const char *bucket, const char *key)
{
    igtcloud__buf buf = IGTCLOUD_BUF_INIT;
    igtcloud__buf_printf(&buf, "/%s", bucket);
    if (key && *key) {
        igtcloud__buf_putc(&buf, '/');
        igtcloud__sigv4_uri_encode(&buf, key, strlen(key), 1);
    }
    snprintf(out, size, "%s", igtcloud__buf_cstr(&buf));
    igtcloud__buf_dispose(&buf);
}

static int s3_request(test_response *out, const s3_creds *c, const s3_call *call)
{
    char path[4096], url[4400], hash[65];
    const char *bucket = call->bucket ? call->bucket : c->bucket;
    object_path(path, sizeof(path), bucket, call->key);
    snprintf(url, sizeof(url), "%s%s%s%s", c->endpoint, path,
             call->query && *call->query ? "?" : "", call->query ? call->query : "");

    igtcloud__sigv4_header headers[32];
    size_t n = 0;
    char names[32][64];
    headers[n].name = "Host";
    headers[n].value = c->host;
    n++;
    for (size_t i = 0; call->headers && call->headers[i] && n < 31; i++) {
        const char *colon = strchr(call->headers[i], ':');
        size_t len = (size_t)(colon - call->headers[i]);
        snprintf(names[n], sizeof(names[n]), "%.*s", (int)len, call->headers[i]);
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        headers[n].name = names[n];
        headers[n].value = v;
        n++;
    }
    if (call->payload_hash) {
        snprintf(hash, sizeof(hash), "%s", call->payload_hash);
    } else {
        unsigned char digest[32];
        igtcloud__sha256(digest, call->body ? call->body : "", call->body_len);
        igtcloud__hex(hash, digest, 32);
    }
    igtcloud__sigv4_request req = { call->method, path, call->query, headers, n, hash };
    const char *token = call->token ? call->token : c->session_token;
    igtcloud__sigv4_credentials creds = {
        call->access_key ? call->access_key : c->access_key,
        call->secret ? call->secret : c->secret_key, *token ? token : NULL };
    igtcloud__sigv4_options opts = IGTCLOUD__SIGV4_OPTIONS_INIT;
    opts.region = c->region;
    igtcloud__sigv4_signed s = IGTCLOUD__SIGV4_SIGNED_INIT;
    if (igtcloud__sigv4_sign(&s, &req, &creds, call->now ? call->now : time(NULL), &opts))
        return -1;
    char auth[1024], date[64], sha[128], tok[1200];
    const char *lines[40];
    size_t k = 0;
    snprintf(auth, sizeof(auth), "Authorization: %s", igtcloud__buf_cstr(&s.authorization));
    snprintf(date, sizeof(date), "x-amz-date: %s", s.amz_date);
    snprintf(sha, sizeof(sha), "x-amz-content-sha256: %s", s.content_sha256);
    lines[k++] = auth;
    lines[k++] = date;
    lines[k++] = sha;
    if (s.session_token) {
        snprintf(tok, sizeof(tok), "x-amz-security-token: %s", s.session_token);
        lines[k++] = tok;
    }
    for (size_t i = 0; call->headers && call->headers[i] && k < 38; i++)
        lines[k++] = call->headers[i];
    lines[k] = NULL;
    igtcloud__sigv4_signed_dispose(&s);
    const char *body = call->body ? call->body : (call->has_body ? "" : NULL);
    return test_http(out, call->method, url, lines, body, call->body_len);
}

static int s3_put(test_response *out, const s3_creds *c, const char *key, const void *data,
                  size_t len)
{
    s3_call call = { .method = "PUT", .key = key, .body = data, .body_len = len,
                     .has_body = 1 };
    return s3_request(out, c, &call);
}

static int s3_get(test_response *out, const s3_creds *c, const char *key, const char *range)
{
    char line[128];
    const char *headers[2] = { NULL, NULL };
    if (range) {
        snprintf(line, sizeof(line), "Range: %s", range);
        headers[0] = line;
    }
    s3_call call = { .method = "GET", .key = key, .headers = headers };
    return s3_request(out, c, &call);
}

static int s3_simple(test_response *out, const s3_creds *c, const char *method,
                     const char *key, const char *query)
{
    s3_call call = { .method = method, .key = key, .query = query };
    return s3_request(out, c, &call);
}

static int presign(char *url, size_t size, const s3_creds *c, const char *method,
                   const char *key, time_t now, unsigned int expires)
{
    char path[4096];
    object_path(path, sizeof(path), c->bucket, key);
    igtcloud__sigv4_header host = { "Host", c->host };
    igtcloud__sigv4_request req = { method, path, NULL, &host, 1, NULL };
    igtcloud__sigv4_credentials creds = { c->access_key, c->secret_key, c->session_token };
    igtcloud__sigv4_options opts = IGTCLOUD__SIGV4_OPTIONS_INIT;
    opts.region = c->region;
    igtcloud__buf query = IGTCLOUD_BUF_INIT;
    int rc = igtcloud__sigv4_presign(&query, &req, &creds, now, expires, &opts);
    if (rc == 0 && snprintf(url, size, "%s%s?%s", c->endpoint, path,
                            igtcloud__buf_cstr(&query)) >= (int)size)
        rc = -1;
    igtcloud__buf_dispose(&query);
    return rc;
}

/* <Code> of an S3 error body. */
static const char *error_code(const test_response *res, char *out, size_t size)
{
    const char *a = res->body ? strstr(res->body, "<Code>") : NULL;
    const char *b = a ? strstr(a, "</Code>") : NULL;
    if (!a || !b)
        snprintf(out, size, "%s", "");
    else
        snprintf(out, size, "%.*s", (int)(b - a - 6), a + 6);
    return out;
}

#define assert_s3_error(res, status_, code_)                                    \
    do {                                                                          \
        char code_buf_[128];                                                      \
        if ((res).status != (status_) ||                                         \
            strcmp(error_code(&(res), code_buf_, sizeof(code_buf_)), (code_)))  \
            fprintf(stderr, "expected %d %s, got %ld: %s\n", (status_), (code_),  \
                    (res).status, (res).body ? (res).body : "");                 \
        assert_int_equal((res).status, (status_));                                \
        assert_string_equal(code_buf_, (code_));                                  \
    } while (0)

static void md5_hex(char out[33], const void *data, size_t len)
{
    unsigned char d[16];
    igtcloud__md5(d, data, len);
    igtcloud__hex(out, d, 16);
}

static void fill_random(unsigned char *buf, size_t len, unsigned int seed)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL * (seed + 1);
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
}

static void header(const test_response *res, const char *name, char *out, size_t size)
{
    if (test_response_header(res, name, out, size))
        snprintf(out, size, "%s", "");
}

/* ---- a raw client, to see exactly what happened on the wire -------------- */

typedef struct raw_result {
    char *data;
    size_t len;
    int status;
    long long content_length;
    size_t body_len;
    int reset;
    double first_byte_ms;
    double total_ms;
    double ms_at_first_body;
    double ms_at_half_body;
} raw_result;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* GET url (presigned, http://host:port/...) with "Connection: close"; read to the end. */
static int raw_get(raw_result *out, const char *url)
{
    memset(out, 0, sizeof(*out));
    out->content_length = -1;
    const char *hostport = strstr(url, "://") + 3;
    const char *path = strchr(hostport, '/');
    char host[64];
    snprintf(host, sizeof(host), "%.*s", (int)(path - hostport), hostport);
    int port = (int)strtol(strchr(host, ':') + 1, NULL, 10);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { 0 };
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
        return -1;
    struct timeval tv = { 30, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char request[8192];
    int n = snprintf(request, sizeof(request),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host);
    double start = now_ms();
    if (write(fd, request, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t cap = 1 << 16;
    out->data = malloc(cap + 1);
    size_t header_end = 0;
    for (;;) {
        if (out->len == cap) {
            cap *= 2;
            out->data = realloc(out->data, cap + 1);
        }
        ssize_t got = read(fd, out->data + out->len, cap - out->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            out->reset = errno == ECONNRESET;
            break;
        }
        if (got == 0)
            break;
        if (out->len == 0)
            out->first_byte_ms = now_ms() - start;
        out->len += (size_t)got;
        out->data[out->len] = '\0';
        if (!header_end) {
            char *end = strstr(out->data, "\r\n\r\n");
            if (end) {
                header_end = (size_t)(end - out->data) + 4;
                out->ms_at_first_body = now_ms() - start;
                for (char *p = out->data; p < end; p++) {
                    if (strncasecmp(p, "\r\nContent-Length:", 17) == 0) {
                        out->content_length = strtoll(p + 17, NULL, 10);
                        break;
                    }
                }
            }
        }
        if (header_end && out->content_length > 0 && !out->ms_at_half_body &&
            (long long)(out->len - header_end) * 2 >= out->content_length)
            out->ms_at_half_body = now_ms() - start;
    }
    out->total_ms = now_ms() - start;
    close(fd);
    out->data[out->len] = '\0';
    if (out->len > 12 && strncmp(out->data, "HTTP/1.1 ", 9) == 0)
        out->status = (int)strtol(out->data + 9, NULL, 10);
    out->body_len = header_end ? out->len - header_end : 0;
    return 0;
}

/* ---- the shared sandbox -------------------------------------------------- */

static test_sandbox sandbox;
static s3_creds put_creds, get_creds;

static int setup(void **state)
{
    (void)state;
    char min[32];
    snprintf(min, sizeof(min), "%d", MIN_PART);
    const char *args[] = { "--seed", "demo", "--min-part-size", min, "--admin-token",
                           ADMIN_TOKEN, NULL };
    if (test_sandbox_start(&sandbox, args))
        return -1;
    if (fetch_creds(&put_creds, sandbox.api_url, "PUT", PROJECT_PREFIX "t/") ||
        fetch_creds(&get_creds, sandbox.api_url, "GET", PROJECT_PREFIX "t/"))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_sandbox_stop(&sandbox);
    return 0;
}

static void test_s3__ready_line_and_credentials_name_the_endpoint(void **state)
{
    (void)state;
    assert_non_null(strstr(sandbox.s3_url, "http://127.0.0.1:"));
    assert_string_not_equal(sandbox.s3_url, "http://127.0.0.1:0");
    assert_string_equal(put_creds.endpoint, sandbox.s3_url);
    assert_string_equal(put_creds.region, "us-east-1");
}

static void test_s3__put_get_head_round_trip(void **state)
{
    (void)state;
    size_t len = 300000;
    unsigned char *data = malloc(len);
    fill_random(data, len, 1);
    char md5[33], expect[40], value[256];
    md5_hex(md5, data, len);
    snprintf(expect, sizeof(expect), "\"%s\"", md5);

    const char *headers[] = { "Content-Type: text/plain",
                              "x-amz-server-side-encryption: AES256", NULL };
    s3_call put = { .method = "PUT", .key = PROJECT_PREFIX "t/round/trip.bin",
                    .headers = headers, .body = (const char *)data, .body_len = len,
                    .has_body = 1 };
    test_response res;
    assert_int_equal(s3_request(&res, &put_creds, &put), 0);
    assert_int_equal(res.status, 200);
    header(&res, "ETag", value, sizeof(value));
    assert_string_equal(value, expect);
    header(&res, "x-amz-server-side-encryption", value, sizeof(value));
    assert_string_equal(value, "AES256");
    header(&res, "x-amz-request-id", value, sizeof(value));
    assert_true(strlen(value) >= 16);
    test_response_dispose(&res);

    assert_int_equal(s3_get(&res, &get_creds, PROJECT_PREFIX "t/round/trip.bin", NULL), 0);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.body_len, len);
    assert_memory_equal(res.body, data, len);
    header(&res, "ETag", value, sizeof(value));
    assert_string_equal(value, expect);
    header(&res, "Content-Type", value, sizeof(value));
    assert_string_equal(value, "text/plain");
    header(&res, "Content-Length", value, sizeof(value));
    assert_string_equal(value, "300000");
    header(&res, "Last-Modified", value, sizeof(value));
    assert_non_null(strstr(value, " GMT"));
    header(&res, "x-amz-server-side-encryption", value, sizeof(value));
    assert_string_equal(value, "AES256");
    test_response_dispose(&res);

    assert_int_equal(s3_simple(&res, &get_creds, "HEAD", PROJECT_PREFIX "t/round/trip.bin",
                               NULL), 0);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.body_len, 0);
    header(&res, "Content-Length", value, sizeof(value));
    assert_string_equal(value, "300000");
    header(&res, "ETag", value, sizeof(value));
    assert_string_equal(value, expect);
    test_response_dispose(&res);

    /* Overwrite with an empty object. */
    assert_int_equal(s3_put(&res, &put_creds, PROJECT_PREFIX "t/round/trip.bin", "", 0), 0);
    assert_int_equal(res.status, 200);
    header(&res, "ETag", value, sizeof(value));
    assert_string_equal(value, "\"d41d8cd98f00b204e9800998ecf8427e\"");
    test_response_dispose(&res);
    assert_int_equal(s3_get(&res, &get_creds, PROJECT_PREFIX "t/round/trip.bin", NULL), 0);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.body_len, 0);
    test_response_dispose(&res);
    free(data);
}

static void test_s3__ranges(void **state)
{
    (void)state;
    const char *key = PROJECT_PREFIX "t/range.txt";
    const char *text = "0123456789abcdefghij";
    test_response res;
    char value[128];
    assert_int_equal(s3_put(&res, &put_creds, key, text, 20), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);

    struct { const char *range; int status; const char *body; const char *content_range; }
    cases[] = {
        { "bytes=0-9", 206, "0123456789", "bytes 0-9/20" },
        { "bytes=15-", 206, "fghij", "bytes 15-19/20" },
        { "bytes=-3", 206, "hij", "bytes 17-19/20" },
        { "bytes=18-100", 206, "ij", "bytes 18-19/20" },
        { "bytes=-100", 206, "0123456789abcdefghij", "bytes 0-19/20" },
        { "bytes=5-2", 200, "0123456789abcdefghij", "" },        /* invalid: ignored */
        { "bytes=0-1,4-5", 200, "0123456789abcdefghij", "" },    /* multiple: ignored */
        { "items=0-1", 200, "0123456789abcdefghij", "" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(s3_get(&res, &get_creds, key, cases[i].range), 0);
        assert_int_equal(res.status, cases[i].status);
        assert_int_equal(res.body_len, strlen(cases[i].body));
        assert_memory_equal(res.body, cases[i].body, res.body_len);
        header(&res, "Content-Range", value, sizeof(value));
        assert_string_equal(value, cases[i].content_range);
        test_response_dispose(&res);
    }
    assert_int_equal(s3_get(&res, &get_creds, key, "bytes=20-"), 0);
    assert_s3_error(res, 416, "InvalidRange");
    header(&res, "Content-Range", value, sizeof(value));
    assert_string_equal(value, "bytes */20");
    test_response_dispose(&res);
    assert_int_equal(s3_get(&res, &get_creds, key, "bytes=-0"), 0);
    assert_s3_error(res, 416, "InvalidRange");
    test_response_dispose(&res);
}

static void test_s3__errors_are_s3_xml_with_request_ids(void **state)
{
    (void)state;
    test_response res;
    char value[128];
    assert_int_equal(s3_get(&res, &get_creds, PROJECT_PREFIX "t/no/such/key", NULL), 0);
    assert_s3_error(res, 404, "NoSuchKey");
    assert_non_null(strstr(res.body, "<Error>"));
    assert_non_null(strstr(res.body, "<Message>"));
    header(&res, "x-amz-request-id", value, sizeof(value));
    assert_true(value[0] != '\0');
    char tag[160];
    snprintf(tag, sizeof(tag), "<RequestId>%s</RequestId>", value);
    assert_non_null(strstr(res.body, tag));
    header(&res, "Content-Type", value, sizeof(value));
    assert_string_equal(value, "application/xml");
    test_response_dispose(&res);

    assert_int_equal(s3_simple(&res, &get_creds, "HEAD", PROJECT_PREFIX "t/no/such/key", NULL),
                     0);
    assert_int_equal(res.status, 404);
    test_response_dispose(&res);

    s3_call other = { .method = "GET", .key = PROJECT_PREFIX "t/x", .bucket = "other-bucket" };
    assert_int_equal(s3_request(&res, &get_creds, &other), 0);
    assert_s3_error(res, 404, "NoSuchBucket");
    test_response_dispose(&res);

    assert_int_equal(s3_simple(&res, &get_creds, "HEAD", NULL, NULL), 0);
    assert_int_equal(res.status, 200);
    header(&res, "x-amz-bucket-region", value, sizeof(value));
    assert_string_equal(value, "us-east-1");
    test_response_dispose(&res);
}

static void test_s3__delete(void **state)
{
    (void)state;
    test_response res;
    const char *key = PROJECT_PREFIX "t/delete/me.txt";
    assert_int_equal(s3_put(&res, &put_creds, key, "bye", 3), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    assert_int_equal(s3_simple(&res, &put_creds, "DELETE", key, NULL), 0);
    assert_int_equal(res.status, 204);
    test_response_dispose(&res);
    assert_int_equal(s3_get(&res, &get_creds, key, NULL), 0);
    assert_s3_error(res, 404, "NoSuchKey");
    test_response_dispose(&res);
    /* Deleting what is not there is not an error, as in S3. */
    assert_int_equal(s3_simple(&res, &put_creds, "DELETE", key, NULL), 0);
    assert_int_equal(res.status, 204);
    test_response_dispose(&res);
    /* The emptied folder is gone: the key "t/delete" can now be an object. */
    assert_int_equal(s3_put(&res, &put_creds, PROJECT_PREFIX "t/delete", "x", 1), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
}

static int tmp_files(void)
{
    char dir[400];
    snprintf(dir, sizeof(dir), "%s/tmp", sandbox.data_dir);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void test_s3__digests_are_verified(void **state)
{
    (void)state;
    test_response res;
    const char *key = PROJECT_PREFIX "t/digest.txt";
    const char *text = "hello, digests";
    unsigned char md5[16];
    igtcloud__md5(md5, text, strlen(text));
    igtcloud__buf b64 = IGTCLOUD_BUF_INIT;
    igtcloud__base64_encode(&b64, md5, 16);
    char good[80], bad[80];
    snprintf(good, sizeof(good), "Content-MD5: %s", igtcloud__buf_cstr(&b64));
    snprintf(bad, sizeof(bad), "Content-MD5: %s", "AAAAAAAAAAAAAAAAAAAAAA==");
    igtcloud__buf_dispose(&b64);

    const char *good_headers[] = { good, NULL };
    s3_call call = { .method = "PUT", .key = key, .headers = good_headers, .body = text,
                     .body_len = strlen(text), .has_body = 1 };
    assert_int_equal(s3_request(&res, &put_creds, &call), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);

    const char *bad_headers[] = { bad, NULL };
    call.key = PROJECT_PREFIX "t/digest-bad.txt";
    call.headers = bad_headers;
    assert_int_equal(s3_request(&res, &put_creds, &call), 0);
    assert_s3_error(res, 400, "BadDigest");
    test_response_dispose(&res);

    const char *invalid_headers[] = { "Content-MD5: not-base64!", NULL };
    call.headers = invalid_headers;
    assert_int_equal(s3_request(&res, &put_creds, &call), 0);
    assert_s3_error(res, 400, "InvalidDigest");
    test_response_dispose(&res);

    /* x-amz-content-sha256 that is not the body's: the object must not appear. */
    call.headers = NULL;
    call.payload_hash = IGTCLOUD_SIGV4_EMPTY_SHA256;
    assert_int_equal(s3_request(&res, &put_creds, &call), 0);
    assert_s3_error(res, 400, "XAmzContentSHA256Mismatch");
    test_response_dispose(&res);
    assert_int_equal(s3_get(&res, &get_creds, PROJECT_PREFIX "t/digest-bad.txt", NULL), 0);
    assert_s3_error(res, 404, "NoSuchKey");
    test_response_dispose(&res);
    assert_int_equal(tmp_files(), 0);

    call.payload_hash = "UNSIGNED-PAYLOAD";
    call.key = PROJECT_PREFIX "t/unsigned.txt";
    assert_int_equal(s3_request(&res, &put_creds, &call), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    assert_int_equal(s3_get(&res, &get_creds, PROJECT_PREFIX "t/unsigned.txt", NULL), 0);
    assert_int_equal(res.status, 200);
    assert_string_equal(res.body, text);
    test_response_dispose(&res);
}

static void test_s3__checksums(void **state)
{
    (void)state;
    test_response res;
    char value[128];
    const char *key = PROJECT_PREFIX "t/check.txt";
    /* CRC32C("123456789") = 0xE3069283 (RFC 3720); base64 of its big-endian bytes. */
    const char *headers[] = {
        "x-amz-checksum-crc32c: 4waSgw==",
        "x-amz-checksum-sha256: FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=", NULL };
    s3_call call = { .method = "PUT", .key = key, .headers = headers, .body = "123456789",
                     .body_len = 9, .has_body = 1 };
    assert_int_equal(s3_request(&res, &put_creds, &call), 0);
    assert_int_equal(res.status, 200);
    header(&res, "x-amz-checksum-crc32c", value, sizeof(value));
    assert_string_equal(value, "4waSgw==");
    header(&res, "x-amz-checksum-type", value, sizeof(value));
    assert_string_equal(value, "FULL_OBJECT");
    test_response_dispose(&res);

    const char *mode[] = { "x-amz-checksum-mode: ENABLED", NULL };
    s3_call get = { .method = "GET", .key = key, .headers = mode };
    assert_int_equal(s3_request(&res, &get_creds, &get), 0);
    assert_int_equal(res.status, 200);
    header(&res, "x-amz-checksum-crc32c", value, sizeof(value));
    assert_string_equal(value, "4waSgw==");
    header(&res, "x-amz-checksum-sha256", value, sizeof(value));
    assert_string_equal(value, "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=");
    /* A single PUT's checksum is of the whole object. */
    header(&res, "x-amz-checksum-type", value, sizeof(value));
    assert_string_equal(value, "FULL_OBJECT");
    test_response_dispose(&res);
    get.method = "HEAD";
    assert_int_equal(s3_request(&res, &get_creds, &get), 0);
    header(&res, "x-amz-checksum-type", value, sizeof(value));
    assert_string_equal(value, "FULL_OBJECT");
    test_response_dispose(&res);
    /* Not asked: not returned. */
    assert_int_equal(s3_get(&res, &get_creds, key, NULL), 0);
    assert_int_equal(test_response_header(&res, "x-amz-checksum-crc32c", value, sizeof(value)),
                     -1);
    assert_int_equal(test_response_header(&res, "x-amz-checksum-type", value, sizeof(value)),
                     -1);
    test_response_dispose(&res);

    const char *bad_crc[] = { "x-amz-checksum-crc32c: AAAAAA==", NULL };
    call.headers = bad_crc;
    call.key = PROJECT_PREFIX "t/check-bad.txt";
    assert_int_equal(s3_request(&res, &put_creds, &call), 0);
    assert_s3_error(res, 400, "BadDigest");
    test_response_dispose(&res);
    const char *bad_sha[] = {
        "x-amz-checksum-sha256: 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", NULL };
    call.headers = bad_sha;
    assert_int_equal(s3_request(&res, &put_creds, &call), 0);
    assert_s3_error(res, 400, "BadDigest");
    test_response_dispose(&res);
}

static void put_text(const char *key, const char *text)
{
    test_response res;
    assert_int_equal(s3_put(&res, &put_creds, key, text, strlen(text)), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
}

/* Keys (<Key>) and common prefixes (<Prefix> in CommonPrefixes) of a listing, joined by ','. */
static void listing(const test_response *res, char *keys, size_t keys_size, char *prefixes,
                    size_t prefixes_size)
{
    keys[0] = prefixes[0] = '\0';
    for (const char *p = res->body; (p = strstr(p, "<Key>")) != NULL; p += 5) {
        const char *end = strstr(p, "</Key>");
        size_t used = strlen(keys);
        snprintf(keys + used, keys_size - used, "%s%.*s", used ? "," : "", (int)(end - p - 5),
                 p + 5);
    }
    for (const char *p = res->body; (p = strstr(p, "<CommonPrefixes><Prefix>")) != NULL;
         p += 24) {
        const char *end = strstr(p, "</Prefix>");
        size_t used = strlen(prefixes);
        snprintf(prefixes + used, prefixes_size - used, "%s%.*s", used ? "," : "",
                 (int)(end - p - 24), p + 24);
    }
}

static void token_of(const test_response *res, char *out, size_t size)
{
    const char *a = strstr(res->body, "<NextContinuationToken>");
    const char *b = a ? strstr(a, "</NextContinuationToken>") : NULL;
    if (!a || !b) {
        out[0] = '\0';
        return;
    }
    igtcloud__buf enc = IGTCLOUD_BUF_INIT;
    igtcloud__sigv4_uri_encode(&enc, a + 23, (size_t)(b - a - 23), 0);
    snprintf(out, size, "%s", igtcloud__buf_cstr(&enc));
    igtcloud__buf_dispose(&enc);
}

static void test_s3__list_objects_v2(void **state)
{
    (void)state;
    const char *keys[] = { "t/ls/a.txt", "t/ls/b/c.txt", "t/ls/b/d.txt", "t/ls/e-f.txt",
                           "t/ls/e/g.txt", "t/ls/z.txt" };
    char key[256], got_keys[4096], got_prefixes[1024], token[512], query[1024];
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        snprintf(key, sizeof(key), PROJECT_PREFIX "%s", keys[i]);
        put_text(key, keys[i]);
    }
    test_response res;
    assert_int_equal(s3_simple(&res, &get_creds, "GET", NULL,
                               "list-type=2&prefix=projects%2Fdemo-project%2Ft%2Fls%2F"), 0);
    assert_int_equal(res.status, 200);
    listing(&res, got_keys, sizeof(got_keys), got_prefixes, sizeof(got_prefixes));
    /* Byte order: "e-f.txt" (0x2d) sorts before "e/g.txt" (0x2f). */
    assert_string_equal(got_keys,
                        PROJECT_PREFIX "t/ls/a.txt," PROJECT_PREFIX "t/ls/b/c.txt,"
                        PROJECT_PREFIX "t/ls/b/d.txt," PROJECT_PREFIX "t/ls/e-f.txt,"
                        PROJECT_PREFIX "t/ls/e/g.txt," PROJECT_PREFIX "t/ls/z.txt");
    assert_non_null(strstr(res.body, "<KeyCount>6</KeyCount>"));
    assert_non_null(strstr(res.body, "<IsTruncated>false</IsTruncated>"));
    char md5[33], etag[64];
    md5_hex(md5, "t/ls/a.txt", 10);
    snprintf(etag, sizeof(etag), "<ETag>&quot;%s&quot;</ETag>", md5);
    assert_non_null(strstr(res.body, etag));
    assert_non_null(strstr(res.body, "<Size>10</Size>"));
    test_response_dispose(&res);

    assert_int_equal(s3_simple(&res, &get_creds, "GET", NULL,
                               "delimiter=%2F&list-type=2&prefix=projects%2Fdemo-project%2F"
                               "t%2Fls%2F"), 0);
    assert_int_equal(res.status, 200);
    listing(&res, got_keys, sizeof(got_keys), got_prefixes, sizeof(got_prefixes));
    assert_string_equal(got_keys, PROJECT_PREFIX "t/ls/a.txt," PROJECT_PREFIX "t/ls/e-f.txt,"
                                  PROJECT_PREFIX "t/ls/z.txt");
    assert_string_equal(got_prefixes, PROJECT_PREFIX "t/ls/b/," PROJECT_PREFIX "t/ls/e/");
    test_response_dispose(&res);

    /* Pages of two, prefixes counting as items, until the end. */
    const char *pages[][2] = {
        { PROJECT_PREFIX "t/ls/a.txt", PROJECT_PREFIX "t/ls/b/" },
        { PROJECT_PREFIX "t/ls/e-f.txt", PROJECT_PREFIX "t/ls/e/" },
        { PROJECT_PREFIX "t/ls/z.txt", "" },
    };
    token[0] = '\0';
    for (int page = 0; page < 3; page++) {
        snprintf(query, sizeof(query), "%s%s%sdelimiter=%%2F&list-type=2&max-keys=2&"
                 "prefix=projects%%2Fdemo-project%%2Ft%%2Fls%%2F",
                 token[0] ? "continuation-token=" : "", token, token[0] ? "&" : "");
        assert_int_equal(s3_simple(&res, &get_creds, "GET", NULL, query), 0);
        assert_int_equal(res.status, 200);
        listing(&res, got_keys, sizeof(got_keys), got_prefixes, sizeof(got_prefixes));
        char joined[8192];
        snprintf(joined, sizeof(joined), "%s|%s", got_keys, got_prefixes);
        char want[1024];
        if (page < 2)
            snprintf(want, sizeof(want), "%s|%s", pages[page][0], pages[page][1]);
        else
            snprintf(want, sizeof(want), "%s|", pages[page][0]);
        assert_string_equal(joined, want);
        token_of(&res, token, sizeof(token));
        assert_int_equal(token[0] != '\0', page < 2);
        assert_non_null(strstr(res.body, page < 2 ? "<IsTruncated>true</IsTruncated>"
                                                  : "<IsTruncated>false</IsTruncated>"));
        test_response_dispose(&res);
    }

    assert_int_equal(s3_simple(&res, &get_creds, "GET", NULL,
                               "list-type=2&prefix=projects%2Fdemo-project%2Ft%2Fls%2F&"
                               "start-after=projects%2Fdemo-project%2Ft%2Fls%2Fb%2Fd.txt"), 0);
    listing(&res, got_keys, sizeof(got_keys), got_prefixes, sizeof(got_prefixes));
    assert_string_equal(got_keys, PROJECT_PREFIX "t/ls/e-f.txt," PROJECT_PREFIX "t/ls/e/g.txt,"
                                  PROJECT_PREFIX "t/ls/z.txt");
    test_response_dispose(&res);

    assert_int_equal(s3_simple(&res, &get_creds, "GET", NULL,
                               "list-type=2&max-keys=0&prefix=projects%2Fdemo-project%2Ft%2F"), 0);
    assert_non_null(strstr(res.body, "<KeyCount>0</KeyCount>"));
    assert_non_null(strstr(res.body, "<IsTruncated>false</IsTruncated>"));
    test_response_dispose(&res);

    /* encoding-type=url (what awscli asks for) encodes keys. */
    put_text(PROJECT_PREFIX "t/ls2/a b+c.txt", "x");
    assert_int_equal(s3_simple(&res, &get_creds, "GET", NULL,
                               "encoding-type=url&list-type=2&prefix=projects%2Fdemo-project%2F"
                               "t%2Fls2%2F"), 0);
    assert_non_null(strstr(res.body, "<Key>projects/demo-project/t/ls2/a%20b%2Bc.txt</Key>"));
    test_response_dispose(&res);

    assert_int_equal(s3_simple(&res, &get_creds, "GET", NULL,
                               "continuation-token=bm90LWEtdG9rZW4%3D&list-type=2&"
                               "prefix=projects%2Fdemo-project%2Ft%2F"), 0);
    assert_s3_error(res, 400, "InvalidArgument");
    test_response_dispose(&res);

    /* max-keys: not a number is refused, more than 1000 is 1000. */
    const char *bad_max[] = { "abc", "-1", "" };
    for (size_t i = 0; i < sizeof(bad_max) / sizeof(bad_max[0]); i++) {
        snprintf(query, sizeof(query), "list-type=2&max-keys=%s&prefix=projects%%2F"
                 "demo-project%%2Ft%%2Fls%%2F", bad_max[i]);
        assert_int_equal(s3_simple(&res, &get_creds, "GET", NULL, query), 0);
        assert_s3_error(res, 400, "InvalidArgument");
        test_response_dispose(&res);
    }
    assert_int_equal(s3_simple(&res, &get_creds, "GET", NULL,
                               "list-type=2&max-keys=5000&prefix=projects%2Fdemo-project%2Ft%2F"
                               "ls%2F"), 0);
    assert_int_equal(res.status, 200);
    assert_non_null(strstr(res.body, "<MaxKeys>1000</MaxKeys>"));
    test_response_dispose(&res);

    /* A continuation token wins over start-after, as in S3. */
    assert_int_equal(s3_simple(&res, &get_creds, "GET", NULL,
                               "list-type=2&max-keys=1&prefix=projects%2Fdemo-project%2Ft%2Fls%2F"),
                     0);
    token_of(&res, token, sizeof(token));
    assert_true(token[0] != '\0');
    test_response_dispose(&res);
    snprintf(query, sizeof(query), "continuation-token=%s&list-type=2&max-keys=1&"
             "prefix=projects%%2Fdemo-project%%2Ft%%2Fls%%2F&start-after=projects%%2F"
             "demo-project%%2Ft%%2Fls%%2Fz.txt", token);
    assert_int_equal(s3_simple(&res, &get_creds, "GET", NULL, query), 0);
    listing(&res, got_keys, sizeof(got_keys), got_prefixes, sizeof(got_prefixes));
    assert_string_equal(got_keys, PROJECT_PREFIX "t/ls/b/c.txt");
    test_response_dispose(&res);
}

/* One multipart call; returns the response (caller disposes). */
static void mp_call(test_response *res, const char *method, const char *key, const char *query,
                    const char *body, size_t len)
{
    s3_call call = { .method = method, .key = key, .query = query, .body = body,
                     .body_len = len, .has_body = body != NULL };
    assert_int_equal(s3_request(res, &put_creds, &call), 0);
}

static void create_upload(const char *key, char *upload_id, size_t size)
{
    test_response res;
    mp_call(&res, "POST", key, "uploads=", NULL, 0);
    assert_int_equal(res.status, 200);
    const char *a = strstr(res.body, "<UploadId>");
    const char *b = strstr(res.body, "</UploadId>");
    assert_non_null(a);
    snprintf(upload_id, size, "%.*s", (int)(b - a - 10), a + 10);
    test_response_dispose(&res);
}

static void upload_part(const char *key, const char *upload_id, int number, const void *data,
                        size_t len, char *etag, size_t etag_size)
{
    char query[256];
    test_response res;
    snprintf(query, sizeof(query), "partNumber=%d&uploadId=%s", number, upload_id);
    mp_call(&res, "PUT", key, query, data, len);
    assert_int_equal(res.status, 200);
    header(&res, "ETag", etag, etag_size);
    char md5[33], want[40];
    md5_hex(md5, data, len);
    snprintf(want, sizeof(want), "\"%s\"", md5);
    assert_string_equal(etag, want);
    test_response_dispose(&res);
}

static void complete_body(char *out, size_t size, const int *numbers, char etags[][48], int n)
{
    int used = snprintf(out, size, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/"
                                   "doc/2006-03-01/\">");
    for (int i = 0; i < n; i++)
        used += snprintf(out + used, size - (size_t)used,
                         "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", numbers[i],
                         etags[i]);
    snprintf(out + used, size - (size_t)used, "</CompleteMultipartUpload>");
}

static void test_s3__multipart_upload(void **state)
{
    (void)state;
    const char *key = PROJECT_PREFIX "t/mp/object.bin";
    char upload_id[128], query[256], etags[3][48], body[2048], value[128];
    size_t sizes[3] = { 2000, 3000, 100 };
    unsigned char *data = malloc(5100);
    fill_random(data, 5100, 7);
    create_upload(key, upload_id, sizeof(upload_id));
    upload_part(key, upload_id, 1, data, sizes[0], etags[0], sizeof(etags[0]));
    upload_part(key, upload_id, 2, data + 2000, sizes[1], etags[1], sizeof(etags[1]));
    upload_part(key, upload_id, 3, data + 5000, sizes[2], etags[2], sizeof(etags[2]));

    test_response res;
    snprintf(query, sizeof(query), "uploadId=%s", upload_id);
    mp_call(&res, "GET", key, query, NULL, 0);
    assert_int_equal(res.status, 200);
    assert_non_null(strstr(res.body, "<PartNumber>3</PartNumber>"));
    assert_non_null(strstr(res.body, "<Size>3000</Size>"));
    test_response_dispose(&res);

    int numbers[3] = { 1, 2, 3 };
    complete_body(body, sizeof(body), numbers, etags, 3);
    mp_call(&res, "POST", key, query, body, strlen(body));
    assert_int_equal(res.status, 200);
    /* The multipart ETag: MD5 of the binary part MD5s, then "-3". */
    unsigned char md5s[48];
    for (int i = 0, off = 0; i < 3; off += (int)sizes[i], i++)
        igtcloud__md5(md5s + 16 * i, data + off, sizes[i]);
    char hex[33], want[80];
    md5_hex(hex, md5s, sizeof(md5s));
    snprintf(want, sizeof(want), "<ETag>&quot;%s-3&quot;</ETag>", hex);
    if (!strstr(res.body, want))
        fprintf(stderr, "complete: %s\n", res.body);
    assert_non_null(strstr(res.body, want));
    test_response_dispose(&res);

    assert_int_equal(s3_get(&res, &get_creds, key, NULL), 0);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.body_len, 5100);
    assert_memory_equal(res.body, data, 5100);
    header(&res, "ETag", value, sizeof(value));
    snprintf(want, sizeof(want), "\"%s-3\"", hex);
    assert_string_equal(value, want);
    test_response_dispose(&res);

    /* Completed: the upload is gone. */
    mp_call(&res, "GET", key, query, NULL, 0);
    assert_s3_error(res, 404, "NoSuchUpload");
    test_response_dispose(&res);

    /* Each part by its number, GET and HEAD, with the object's number of parts. */
    for (int i = 0, off = 0; i < 3; off += (int)sizes[i], i++) {
        char part_query[32], range[64];
        snprintf(part_query, sizeof(part_query), "partNumber=%d", i + 1);
        snprintf(range, sizeof(range), "bytes %d-%d/5100", off, off + (int)sizes[i] - 1);
        for (int head = 0; head < 2; head++) {
            assert_int_equal(s3_simple(&res, &get_creds, head ? "HEAD" : "GET", key, part_query), 0);
            assert_int_equal(res.status, 206);
            header(&res, "Content-Range", value, sizeof(value));
            assert_string_equal(value, range);
            header(&res, "x-amz-mp-parts-count", value, sizeof(value));
            assert_string_equal(value, "3");
            header(&res, "ETag", value, sizeof(value));
            assert_string_equal(value, want);
            if (!head) {
                assert_int_equal(res.body_len, sizes[i]);
                assert_memory_equal(res.body, data + off, sizes[i]);
            }
            test_response_dispose(&res);
        }
    }
    assert_int_equal(s3_simple(&res, &get_creds, "GET", key, "partNumber=4"), 0);
    assert_s3_error(res, 416, "InvalidPartNumber");
    test_response_dispose(&res);
    static const char *const bad_numbers[] = { "partNumber=0", "partNumber=x", "partNumber=10001",
                                               "partNumber=-1", "partNumber=" };
    for (size_t i = 0; i < sizeof(bad_numbers) / sizeof(bad_numbers[0]); i++) {
        assert_int_equal(s3_simple(&res, &get_creds, "GET", key, bad_numbers[i]), 0);
        assert_s3_error(res, 400, "InvalidArgument");
        test_response_dispose(&res);
    }
    const char *ranged[] = { "Range: bytes=0-9", NULL };
    s3_call both = { .method = "GET", .key = key, .query = "partNumber=1", .headers = ranged };
    assert_int_equal(s3_request(&res, &get_creds, &both), 0);
    assert_s3_error(res, 400, "InvalidRequest");
    test_response_dispose(&res);

    /* An object of one piece: part 1 is all of it, and there is no part 2. */
    const char *single = PROJECT_PREFIX "t/mp/single.bin";
    assert_int_equal(s3_put(&res, &put_creds, single, data, 100), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    assert_int_equal(s3_simple(&res, &get_creds, "GET", single, "partNumber=1"), 0);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.body_len, 100);
    header(&res, "x-amz-mp-parts-count", value, sizeof(value));
    assert_string_equal(value, "");
    test_response_dispose(&res);
    assert_int_equal(s3_simple(&res, &get_creds, "HEAD", single, "partNumber=2"), 0);
    assert_int_equal(res.status, 416);
    test_response_dispose(&res);
    free(data);
}

/*
 * Download key with the engine and GET credentials into dst, in ranges of
 * range_size bytes (0: the engine's default, one GET for these sizes), with
 * verify_multipart or not: the run's code, and its stats.
 */
static int engine_download_with(const char *key, const char *dst, int64_t size,
                                uint64_t range_size, int verify_multipart,
                                igtcloud__engine_stats *st, igtcloud_transfer_result *result)
{
    igtcloud_s3_credentials c;
    memset(&c, 0, sizeof(c));
    snprintf(c.access_key, sizeof(c.access_key), "%s", get_creds.access_key);
    snprintf(c.secret_key, sizeof(c.secret_key), "%s", get_creds.secret_key);
    snprintf(c.session_token, sizeof(c.session_token), "%s", get_creds.session_token);
    snprintf(c.bucket, sizeof(c.bucket), "%s", get_creds.bucket);
    snprintf(c.endpoint, sizeof(c.endpoint), "%s", get_creds.endpoint);
    snprintf(c.region, sizeof(c.region), "%s", get_creds.region);
    igtcloud_transfer_options o = IGTCLOUD_TRANSFER_OPTIONS_INIT;
    o.credentials = &c;
    o.max_attempts = 2;
    o.verify_multipart = verify_multipart;
    o.range_size = range_size;
    o.range_threshold = range_size;
    igtcloud_transfer *t = NULL;
    assert_int_equal(igtcloud_transfer_new(&t, &o), 0);
    assert_int_equal(igtcloud_transfer_add_download(t, key, dst, PROJECT_PREFIX "t/", size, NULL), 0);
    int rc = igtcloud_transfer_run(t);
    igtcloud__engine_get_stats(st, t);
    assert_int_equal(igtcloud_transfer_result_at(result, t, 0), 0);
    static char message[512];
    snprintf(message, sizeof(message), "%s", result->message ? result->message : "");
    result->message = message;
    igtcloud_transfer_free(t);
    return rc;
}

/* The same in one GET, with verify_multipart. */
static int engine_download(const char *key, const char *dst, int64_t size,
                           igtcloud__engine_stats *st, igtcloud_transfer_result *result)
{
    return engine_download_with(key, dst, size, 0, 1, st, result);
}

/*
 * A multipart object of parts of uneven sizes (3000, 3000, 2500, 900 bytes:
 * some uploaders send such): part 1's size alone makes boundaries (3000,
 * 3000, 3000, 400) whose digests do not give the ETag. The engine learns
 * every part's size before it calls the data wrong, hashes again at the real
 * boundaries, and the download is checked. A rotten byte still fails it.
 */
static void test_s3__engine_checks_uneven_parts(void **state)
{
    (void)state;
    const char *key = PROJECT_PREFIX "t/mp/uneven.bin";
    const size_t sizes[4] = { 3000, 3000, 2500, 900 };
    char upload_id[128], query[256], etags[4][48], body[2048], dir[300], dst[400];
    unsigned char *data = malloc(9400);
    fill_random(data, 9400, 21);
    create_upload(key, upload_id, sizeof(upload_id));
    for (int i = 0, off = 0; i < 4; off += (int)sizes[i], i++)
        upload_part(key, upload_id, i + 1, data + off, sizes[i], etags[i], sizeof(etags[i]));
    int numbers[4] = { 1, 2, 3, 4 };
    complete_body(body, sizeof(body), numbers, etags, 4);
    snprintf(query, sizeof(query), "uploadId=%s", upload_id);
    test_response res;
    mp_call(&res, "POST", key, query, body, strlen(body));
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);

    assert_int_equal(test_make_temp_dir(dir, sizeof(dir), "uneven"), 0);
    snprintf(dst, sizeof(dst), "%s/uneven.bin", dir);
    igtcloud__engine_stats st;
    igtcloud_transfer_result r;
    assert_int_equal(engine_download(key, dst, 9400, &st, &r), 0);
    assert_int_equal(st.verified_by_parts, 1);
    assert_int_equal(st.parts_unverified, 0);
    FILE *f = fopen(dst, "rb");
    assert_non_null(f);
    unsigned char back[9401];
    assert_int_equal(fread(back, 1, sizeof(back), f), 9400);
    fclose(f);
    assert_memory_equal(back, data, 9400);
    assert_int_equal(unlink(dst), 0);

    assert_int_equal(test_rot_stored_byte(sandbox.data_dir, key, 6100), 0); /* in part 3 */
    assert_int_equal(engine_download(key, dst, 9400, &st, &r), IGTCLOUD_EPARTIAL);
    assert_int_equal(r.status, IGTCLOUD_EPROTO);
    assert_non_null(strstr(r.message, "multipart ETag"));
    assert_int_equal(access(dst, F_OK), -1);
    test_remove_tree(dir);
    free(data);
}

static void test_s3__multipart_rules(void **state)
{
    (void)state;
    const char *key = PROJECT_PREFIX "t/mp/rules.bin";
    char upload_id[128], query[256], etags[3][48], body[2048];
    unsigned char data[4000];
    fill_random(data, sizeof(data), 3);
    test_response res;
    create_upload(key, upload_id, sizeof(upload_id));
    snprintf(query, sizeof(query), "uploadId=%s", upload_id);
    upload_part(key, upload_id, 1, data, 500, etags[0], sizeof(etags[0]));      /* too small */
    upload_part(key, upload_id, 2, data + 500, 1500, etags[1], sizeof(etags[1]));
    upload_part(key, upload_id, 3, data + 2000, 2000, etags[2], sizeof(etags[2]));

    int order[2] = { 2, 1 };
    char swapped[2][48];
    memcpy(swapped[0], etags[1], 48);
    memcpy(swapped[1], etags[0], 48);
    complete_body(body, sizeof(body), order, swapped, 2);
    mp_call(&res, "POST", key, query, body, strlen(body));
    assert_s3_error(res, 400, "InvalidPartOrder");
    test_response_dispose(&res);

    int wrong[2] = { 2, 3 };
    char wrong_etags[2][48];
    memcpy(wrong_etags[0], etags[1], 48);
    snprintf(wrong_etags[1], 48, "\"00000000000000000000000000000000\"");
    complete_body(body, sizeof(body), wrong, wrong_etags, 2);
    mp_call(&res, "POST", key, query, body, strlen(body));
    assert_s3_error(res, 400, "InvalidPart");
    test_response_dispose(&res);

    int missing[2] = { 2, 4 };
    memcpy(wrong_etags[1], etags[2], 48);
    complete_body(body, sizeof(body), missing, wrong_etags, 2);
    mp_call(&res, "POST", key, query, body, strlen(body));
    assert_s3_error(res, 400, "InvalidPart");
    test_response_dispose(&res);

    int small_first[2] = { 1, 2 };
    complete_body(body, sizeof(body), small_first, etags, 2);
    mp_call(&res, "POST", key, query, body, strlen(body));
    assert_s3_error(res, 400, "EntityTooSmall");
    test_response_dispose(&res);

    mp_call(&res, "POST", key, query, "<CompleteMultipartUpload>", 25);
    assert_s3_error(res, 400, "MalformedXML");
    test_response_dispose(&res);

    /* A small last part is fine: parts 2 and 3 (1500 >= MIN_PART). */
    int fine[2] = { 2, 3 };
    complete_body(body, sizeof(body), fine, etags + 1, 2);
    mp_call(&res, "POST", key, query, body, strlen(body));
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    assert_int_equal(s3_get(&res, &get_creds, key, NULL), 0);
    assert_int_equal(res.body_len, 3500);
    assert_memory_equal(res.body, data + 500, 3500);
    test_response_dispose(&res);

    /* Abort, and unknown uploads. */
    create_upload(key, upload_id, sizeof(upload_id));
    upload_part(key, upload_id, 1, data, 100, etags[0], sizeof(etags[0]));
    snprintf(query, sizeof(query), "uploadId=%s", upload_id);
    mp_call(&res, "DELETE", key, query, NULL, 0);
    assert_int_equal(res.status, 204);
    test_response_dispose(&res);
    mp_call(&res, "DELETE", key, query, NULL, 0);
    assert_s3_error(res, 404, "NoSuchUpload");
    test_response_dispose(&res);
    snprintf(query, sizeof(query), "partNumber=1&uploadId=%s", upload_id);
    mp_call(&res, "PUT", key, query, "x", 1);
    assert_s3_error(res, 404, "NoSuchUpload");
    test_response_dispose(&res);
    mp_call(&res, "POST", key, "uploadId=NoSuchUploadId", body, strlen(body));
    assert_s3_error(res, 404, "NoSuchUpload");
    test_response_dispose(&res);
    mp_call(&res, "PUT", key, "partNumber=1&uploadId=..%2F..%2Fetc", "x", 1);
    assert_s3_error(res, 404, "NoSuchUpload");
    test_response_dispose(&res);
    /* An upload id belongs to its key. */
    create_upload(key, upload_id, sizeof(upload_id));
    snprintf(query, sizeof(query), "partNumber=1&uploadId=%s", upload_id);
    mp_call(&res, "PUT", PROJECT_PREFIX "t/mp/other.bin", query, "x", 1);
    assert_s3_error(res, 404, "NoSuchUpload");
    test_response_dispose(&res);
    snprintf(query, sizeof(query), "partNumber=10001&uploadId=%s", upload_id);
    mp_call(&res, "PUT", key, query, "x", 1);
    assert_s3_error(res, 400, "InvalidArgument");
    test_response_dispose(&res);
}

/* UploadPart checks Content-MD5 and the checksums as PutObject does, and keeps nothing it refused. */
static void test_s3__upload_part_digests_are_verified(void **state)
{
    (void)state;
    const char *key = PROJECT_PREFIX "t/mp/digests.bin";
    char upload_id[128], query[256], value[128];
    test_response res;
    create_upload(key, upload_id, sizeof(upload_id));
    snprintf(query, sizeof(query), "partNumber=1&uploadId=%s", upload_id);

    const char *bad_md5[] = { "Content-MD5: AAAAAAAAAAAAAAAAAAAAAA==", NULL };
    s3_call part = { .method = "PUT", .key = key, .query = query, .headers = bad_md5,
                     .body = "123456789", .body_len = 9, .has_body = 1 };
    assert_int_equal(s3_request(&res, &put_creds, &part), 0);
    assert_s3_error(res, 400, "BadDigest");
    test_response_dispose(&res);
    const char *bad_crc[] = { "x-amz-checksum-crc32c: AAAAAA==", NULL };
    part.headers = bad_crc;
    assert_int_equal(s3_request(&res, &put_creds, &part), 0);
    assert_s3_error(res, 400, "BadDigest");
    test_response_dispose(&res);
    const char *bad_sha[] = {
        "x-amz-checksum-sha256: 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", NULL };
    part.headers = bad_sha;
    assert_int_equal(s3_request(&res, &put_creds, &part), 0);
    assert_s3_error(res, 400, "BadDigest");
    test_response_dispose(&res);
    part.headers = NULL;
    part.payload_hash = IGTCLOUD_SIGV4_EMPTY_SHA256;
    assert_int_equal(s3_request(&res, &put_creds, &part), 0);
    assert_s3_error(res, 400, "XAmzContentSHA256Mismatch");
    test_response_dispose(&res);
    /* A part large enough to be written straight into the assembly file, refused too. */
    unsigned char big[2 * MIN_PART];
    fill_random(big, sizeof(big), 41);
    snprintf(query, sizeof(query), "partNumber=2&uploadId=%s", upload_id);
    s3_call placed = { .method = "PUT", .key = key, .query = query, .headers = bad_md5,
                       .body = (const char *)big, .body_len = sizeof(big), .has_body = 1 };
    assert_int_equal(s3_request(&res, &put_creds, &placed), 0);
    assert_s3_error(res, 400, "BadDigest");
    test_response_dispose(&res);

    /* Nothing of the refused bodies was kept as a part. */
    snprintf(query, sizeof(query), "uploadId=%s", upload_id);
    mp_call(&res, "GET", key, query, NULL, 0);
    assert_int_equal(res.status, 200);
    assert_null(strstr(res.body, "<Part>"));
    test_response_dispose(&res);

    /* Right digests: accepted, the checksums returned with the part's ETag. */
    const char *good[] = { "Content-MD5: JfnnlDI7RTiF9RgfG2JNCw==",
                           "x-amz-checksum-crc32c: 4waSgw==",
                           "x-amz-checksum-sha256: FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=",
                           NULL };
    snprintf(query, sizeof(query), "partNumber=1&uploadId=%s", upload_id);
    part.headers = good;
    part.payload_hash = NULL;
    assert_int_equal(s3_request(&res, &put_creds, &part), 0);
    assert_int_equal(res.status, 200);
    header(&res, "ETag", value, sizeof(value));
    assert_string_equal(value, "\"25f9e794323b453885f5181f1b624d0b\"");
    header(&res, "x-amz-checksum-crc32c", value, sizeof(value));
    assert_string_equal(value, "4waSgw==");
    header(&res, "x-amz-checksum-sha256", value, sizeof(value));
    assert_string_equal(value, "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=");
    test_response_dispose(&res);
    snprintf(query, sizeof(query), "uploadId=%s", upload_id);
    mp_call(&res, "DELETE", key, query, NULL, 0);
    assert_int_equal(res.status, 204);
    test_response_dispose(&res);
}

/* ---- multipart checksums (CRC32C, COMPOSITE and FULL_OBJECT) ------------- */

/* The x-amz-checksum-crc32c text of a CRC: base64 of its four bytes, big-endian. */
static void crc_text(char out[16], uint32_t crc)
{
    unsigned char bytes[4] = { (unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                               (unsigned char)(crc >> 8), (unsigned char)crc };
    igtcloud__buf b64 = IGTCLOUD_BUF_INIT;
    assert_int_equal(igtcloud__base64_encode(&b64, bytes, 4), 0);
    snprintf(out, 16, "%s", igtcloud__buf_cstr(&b64));
    igtcloud__buf_dispose(&b64);
}

/* S3's COMPOSITE checksum of parts: CRC32C of their big-endian CRC32Cs, then "-N". */
static void composite_text(char out[24], const unsigned char *data, const size_t *sizes, int n)
{
    unsigned char crcs[4 * 8];
    char crc[16];
    assert_true(n <= 8);
    for (int i = 0; i < n; data += sizes[i], i++) {
        uint32_t c = igtcloud__crc32c(0, data, sizes[i]);
        crcs[4 * i] = (unsigned char)(c >> 24);
        crcs[4 * i + 1] = (unsigned char)(c >> 16);
        crcs[4 * i + 2] = (unsigned char)(c >> 8);
        crcs[4 * i + 3] = (unsigned char)c;
    }
    crc_text(crc, igtcloud__crc32c(0, crcs, 4 * (size_t)n));
    snprintf(out, 24, "%s-%d", crc, n);
}

/*
 * CreateMultipartUpload with `headers` (NULL-terminated "Name: value", may be
 * NULL): the upload id, and the x-amz-checksum-algorithm and -type answered
 * ("" when absent).
 */
static void create_upload_with(const char *key, const char *const *headers, char *upload_id,
                               size_t size, char algorithm[32], char type[32])
{
    test_response res;
    s3_call call = { .method = "POST", .key = key, .query = "uploads=", .headers = headers };
    assert_int_equal(s3_request(&res, &put_creds, &call), 0);
    assert_int_equal(res.status, 200);
    const char *a = strstr(res.body, "<UploadId>");
    const char *b = a ? strstr(a, "</UploadId>") : NULL;
    assert_non_null(b);
    snprintf(upload_id, size, "%.*s", (int)(b - a - 10), a + 10);
    header(&res, "x-amz-checksum-algorithm", algorithm, 32);
    header(&res, "x-amz-checksum-type", type, 32);
    test_response_dispose(&res);
}

/*
 * UploadPart with its CRC32C header (with_crc) or only Content-MD5 (as our
 * client sends the parts of a resumed upload): its ETag, and the
 * x-amz-checksum-crc32c and -type the response carries ("" when none).
 */
static void upload_part_with(const char *key, const char *upload_id, int number,
                             const unsigned char *data, size_t len, int with_crc,
                             char etag[48], char crc[32], char type[32])
{
    char query[256], line[80], want[16];
    unsigned char md5[16];
    igtcloud__buf b64 = IGTCLOUD_BUF_INIT;
    if (with_crc) {
        crc_text(want, igtcloud__crc32c(0, data, len));
        snprintf(line, sizeof(line), "x-amz-checksum-crc32c: %s", want);
    } else {
        igtcloud__md5(md5, data, len);
        igtcloud__base64_encode(&b64, md5, 16);
        snprintf(line, sizeof(line), "Content-MD5: %s", igtcloud__buf_cstr(&b64));
    }
    igtcloud__buf_dispose(&b64);
    const char *headers[] = { line, NULL };
    snprintf(query, sizeof(query), "partNumber=%d&uploadId=%s", number, upload_id);
    s3_call call = { .method = "PUT", .key = key, .query = query, .headers = headers,
                     .body = (const char *)data, .body_len = len, .has_body = 1 };
    test_response res;
    assert_int_equal(s3_request(&res, &put_creds, &call), 0);
    assert_int_equal(res.status, 200);
    header(&res, "ETag", etag, 48);
    header(&res, "x-amz-checksum-crc32c", crc, 32);
    header(&res, "x-amz-checksum-type", type, 32);
    test_response_dispose(&res);
}

/* A CompleteMultipartUpload body of parts 1..n with each given ChecksumCRC32C (NULL: none). */
static void complete_body_crc(char *out, size_t size, char etags[][48], const char *const *crcs,
                              int n)
{
    int used = snprintf(out, size, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/"
                                   "doc/2006-03-01/\">");
    for (int i = 0; i < n; i++) {
        used += snprintf(out + used, size - (size_t)used,
                         "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag>", i + 1, etags[i]);
        if (crcs && crcs[i])
            used += snprintf(out + used, size - (size_t)used,
                             "<ChecksumCRC32C>%s</ChecksumCRC32C>", crcs[i]);
        used += snprintf(out + used, size - (size_t)used, "</Part>");
    }
    snprintf(out + used, size - (size_t)used, "</CompleteMultipartUpload>");
}

/* POST the completion with `headers` (may be NULL); the caller disposes of res. */
static void complete_with(test_response *res, const char *key, const char *upload_id,
                          const char *body, const char *const *headers)
{
    char query[256];
    snprintf(query, sizeof(query), "uploadId=%s", upload_id);
    s3_call call = { .method = "POST", .key = key, .query = query, .headers = headers,
                     .body = body, .body_len = strlen(body), .has_body = 1 };
    assert_int_equal(s3_request(res, &put_creds, &call), 0);
}

/*
 * GET or HEAD of key with x-amz-checksum-mode: ENABLED (and `range` when
 * not NULL): the status, and the x-amz-checksum-crc32c and -type answered.
 */
static long checksum_read(const char *method, const char *key, const char *range,
                          const char *query, char crc[32], char type[32])
{
    char line[64];
    const char *headers[3] = { "x-amz-checksum-mode: ENABLED", NULL, NULL };
    if (range) {
        snprintf(line, sizeof(line), "Range: %s", range);
        headers[1] = line;
    }
    s3_call call = { .method = method, .key = key, .query = query, .headers = headers };
    test_response res;
    assert_int_equal(s3_request(&res, &get_creds, &call), 0);
    long status = res.status;
    header(&res, "x-amz-checksum-crc32c", crc, 32);
    header(&res, "x-amz-checksum-type", type, 32);
    test_response_dispose(&res);
    return status;
}

/*
 * An upload created with CRC32C (COMPOSITE, S3's default for it): every part's
 * CRC is computed, also of a part sent with only Content-MD5, and the object
 * carries CRC32C(part CRCs) + "-N", returned on whole reads only.
 */
static void test_s3__multipart_composite_crc32c(void **state)
{
    (void)state;
    const char *key = PROJECT_PREFIX "t/mp/composite.bin";
    /* Uneven parts: the second is kept apart and completion concatenates. */
    enum { TOTAL = 1500 + 1200 + 700 };
    size_t sizes[3] = { 1500, 1200, 700 };
    const unsigned char *at[3];
    unsigned char *data = malloc(TOTAL);
    fill_random(data, TOTAL, 51);
    at[0] = data;
    at[1] = data + sizes[0];
    at[2] = data + sizes[0] + sizes[1];
    char upload_id[128], query[256], algorithm[32], type[32], crc[32], want_crc[16],
        part_crcs[3][16], etags[3][48], composite[24], body[4096], want[160];
    test_response res;

    const char *create[] = { "x-amz-checksum-algorithm: CRC32C", NULL };
    create_upload_with(key, create, upload_id, sizeof(upload_id), algorithm, type);
    assert_string_equal(algorithm, "CRC32C");
    assert_string_equal(type, "COMPOSITE");
    for (int i = 0; i < 3; i++) {
        crc_text(part_crcs[i], igtcloud__crc32c(0, at[i], sizes[i]));
        /* Part 2 with only Content-MD5: its CRC32C is computed all the same. */
        upload_part_with(key, upload_id, i + 1, at[i], sizes[i], i != 1, etags[i], crc, type);
        assert_string_equal(crc, part_crcs[i]);
        assert_string_equal(type, "");
    }

    /* ListParts shows the upload's algorithm and type and each part's CRC32C. */
    snprintf(query, sizeof(query), "uploadId=%s", upload_id);
    mp_call(&res, "GET", key, query, NULL, 0);
    assert_int_equal(res.status, 200);
    assert_non_null(strstr(res.body, "<ChecksumAlgorithm>CRC32C</ChecksumAlgorithm>"
                                     "<ChecksumType>COMPOSITE</ChecksumType>"));
    for (int i = 0; i < 3; i++) {
        snprintf(want, sizeof(want), "<ChecksumCRC32C>%s</ChecksumCRC32C><Size>%zu</Size>",
                 part_crcs[i], sizes[i]);
        assert_non_null(strstr(res.body, want));
    }
    test_response_dispose(&res);

    /* A wrong part checksum: InvalidPart, and the upload stays as it was. */
    crc_text(want_crc, igtcloud__crc32c(0, at[0], sizes[0] - 1));
    const char *wrong[] = { part_crcs[0], want_crc, NULL };
    complete_body_crc(body, sizeof(body), etags, wrong, 3);
    complete_with(&res, key, upload_id, body, NULL);
    assert_s3_error(res, 400, "InvalidPart");
    test_response_dispose(&res);

    /* Right checksums for parts 1 and 3, none for part 2 (optional, as in S3). */
    const char *right[] = { part_crcs[0], NULL, part_crcs[2] };
    complete_body_crc(body, sizeof(body), etags, right, 3);
    complete_with(&res, key, upload_id, body, NULL);
    assert_int_equal(res.status, 200);
    composite_text(composite, data, sizes, 3);
    assert_int_equal(strlen(composite), 10);
    snprintf(want, sizeof(want), "<ChecksumCRC32C>%s</ChecksumCRC32C>"
                                 "<ChecksumType>COMPOSITE</ChecksumType>", composite);
    if (!strstr(res.body, want))
        fprintf(stderr, "complete: %s\n", res.body);
    assert_non_null(strstr(res.body, want));
    test_response_dispose(&res);

    /* HEAD and whole GET with checksum mode: the composite value and its type. */
    assert_int_equal(checksum_read("HEAD", key, NULL, NULL, crc, type), 200);
    assert_string_equal(crc, composite);
    assert_string_equal(type, "COMPOSITE");
    assert_int_equal(checksum_read("GET", key, NULL, NULL, crc, type), 200);
    assert_string_equal(crc, composite);
    assert_string_equal(type, "COMPOSITE");
    assert_int_equal(s3_get(&res, &get_creds, key, NULL), 0);
    assert_int_equal(res.body_len, TOTAL);
    assert_memory_equal(res.body, data, TOTAL);
    /* Not asked for: not returned. */
    assert_int_equal(test_response_header(&res, "x-amz-checksum-crc32c", crc, 32), -1);
    assert_int_equal(test_response_header(&res, "x-amz-checksum-type", crc, 32), -1);
    test_response_dispose(&res);
    /* A range, and a part by its number, carry none (as S3's ranged reads). */
    assert_int_equal(checksum_read("GET", key, "bytes=10-2000", NULL, crc, type), 206);
    assert_string_equal(crc, "");
    assert_string_equal(type, "");
    assert_int_equal(checksum_read("GET", key, NULL, "partNumber=2", crc, type), 206);
    assert_string_equal(crc, "");
    assert_string_equal(type, "");
    free(data);
}

/*
 * FULL_OBJECT: the object's CRC32C is that of all its bytes, joined from the
 * parts' CRCs; an x-amz-checksum-crc32c on the completion must be it.
 */
static void test_s3__multipart_full_object_crc32c(void **state)
{
    (void)state;
    const char *key = PROJECT_PREFIX "t/mp/full-object.bin";
    /* Parts of one size and a shorter last one: completed in place. */
    enum { STRIDE = 1300, LAST = 411, TOTAL = 2 * STRIDE + LAST };
    size_t sizes[3] = { STRIDE, STRIDE, LAST };
    unsigned char *data = malloc(TOTAL);
    fill_random(data, TOTAL, 52);
    char upload_id[128], algorithm[32], type[32], crc[32], whole[16], etags[3][48],
        body[4096], want[160], line[80];
    test_response res;

    const char *create[] = { "x-amz-checksum-algorithm: CRC32C",
                             "x-amz-checksum-type: FULL_OBJECT", NULL };
    create_upload_with(key, create, upload_id, sizeof(upload_id), algorithm, type);
    assert_string_equal(algorithm, "CRC32C");
    assert_string_equal(type, "FULL_OBJECT");
    for (int i = 0, off = 0; i < 3; off += (int)sizes[i], i++)
        upload_part_with(key, upload_id, i + 1, data + off, sizes[i], i == 0, etags[i], crc,
                         type);
    crc_text(whole, igtcloud__crc32c(0, data, TOTAL));
    complete_body_crc(body, sizeof(body), etags, NULL, 3);

    /* The whole object's CRC32C, wrong: BadDigest, and the upload is still there. */
    char wrong_crc[16];
    crc_text(wrong_crc, igtcloud__crc32c(0, data, TOTAL - 1));
    snprintf(line, sizeof(line), "x-amz-checksum-crc32c: %s", wrong_crc);
    const char *wrong[] = { line, NULL };
    complete_with(&res, key, upload_id, body, wrong);
    assert_s3_error(res, 400, "BadDigest");
    test_response_dispose(&res);

    snprintf(line, sizeof(line), "x-amz-checksum-crc32c: %s", whole);
    const char *right[] = { line, NULL };
    complete_with(&res, key, upload_id, body, right);
    assert_int_equal(res.status, 200);
    snprintf(want, sizeof(want), "<ChecksumCRC32C>%s</ChecksumCRC32C>"
                                 "<ChecksumType>FULL_OBJECT</ChecksumType>", whole);
    if (!strstr(res.body, want))
        fprintf(stderr, "complete: %s\n", res.body);
    assert_non_null(strstr(res.body, want));
    test_response_dispose(&res);

    assert_int_equal(checksum_read("HEAD", key, NULL, NULL, crc, type), 200);
    assert_string_equal(crc, whole);
    assert_string_equal(type, "FULL_OBJECT");
    assert_int_equal(checksum_read("GET", key, NULL, NULL, crc, type), 200);
    assert_string_equal(crc, whole);
    assert_string_equal(type, "FULL_OBJECT");
    assert_int_equal(checksum_read("GET", key, "bytes=-100", NULL, crc, type), 206);
    assert_string_equal(crc, "");

    /* Without the header the completion computes the same. */
    const char *key2 = PROJECT_PREFIX "t/mp/full-object-2.bin";
    create_upload_with(key2, create, upload_id, sizeof(upload_id), algorithm, type);
    for (int i = 0, off = 0; i < 3; off += (int)sizes[i], i++)
        upload_part_with(key2, upload_id, i + 1, data + off, sizes[i], 0, etags[i], crc, type);
    complete_body_crc(body, sizeof(body), etags, NULL, 3);
    complete_with(&res, key2, upload_id, body, NULL);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    assert_int_equal(checksum_read("HEAD", key2, NULL, NULL, crc, type), 200);
    assert_string_equal(crc, whole);
    assert_string_equal(type, "FULL_OBJECT");
    free(data);
}

/*
 * What is not CRC32C: an unknown checksum type or algorithm is refused;
 * another of S3's algorithms (boto3 asks for CRC32) is accepted and ignored,
 * and an upload without one is as it always was: no object checksum, and
 * part checksums not checked.
 */
static void test_s3__multipart_other_checksums(void **state)
{
    (void)state;
    const char *key = PROJECT_PREFIX "t/mp/other-checksums.bin";
    enum { TOTAL = 1100 + 900 };
    size_t sizes[2] = { 1100, 900 };
    unsigned char data[TOTAL];
    fill_random(data, TOTAL, 53);
    char upload_id[128], query[256], algorithm[32], type[32], crc[32], part_crc[16],
        etags[2][48], body[4096];
    test_response res;

    const char *unknown_type[] = { "x-amz-checksum-algorithm: CRC32C",
                                   "x-amz-checksum-type: PARTIAL", NULL };
    s3_call call = { .method = "POST", .key = key, .query = "uploads=",
                     .headers = unknown_type };
    assert_int_equal(s3_request(&res, &put_creds, &call), 0);
    assert_s3_error(res, 400, "InvalidRequest");
    test_response_dispose(&res);
    const char *unknown_algorithm[] = { "x-amz-checksum-algorithm: MD4", NULL };
    call.headers = unknown_algorithm;
    assert_int_equal(s3_request(&res, &put_creds, &call), 0);
    assert_s3_error(res, 400, "InvalidRequest");
    assert_non_null(strstr(res.body, "x-amz-checksum-algorithm"));
    test_response_dispose(&res);

    static const char *const creates[][3] = {
        { "x-amz-checksum-algorithm: CRC32", NULL, NULL },
        { "x-amz-checksum-algorithm: SHA256", "x-amz-checksum-type: COMPOSITE", NULL },
        { NULL, NULL, NULL },
    };
    for (size_t c = 0; c < sizeof(creates) / sizeof(creates[0]); c++) {
        create_upload_with(key, creates[c][0] ? creates[c] : NULL, upload_id,
                           sizeof(upload_id), algorithm, type);
        assert_string_equal(algorithm, "");
        assert_string_equal(type, "");
        /* Part 1 with a CRC32C header (checked and answered as ever), part 2 without. */
        upload_part_with(key, upload_id, 1, data, sizes[0], 1, etags[0], crc, type);
        crc_text(part_crc, igtcloud__crc32c(0, data, sizes[0]));
        assert_string_equal(crc, part_crc);
        upload_part_with(key, upload_id, 2, data + sizes[0], sizes[1], 0, etags[1], crc, type);
        assert_string_equal(crc, "");
        snprintf(query, sizeof(query), "uploadId=%s", upload_id);
        mp_call(&res, "GET", key, query, NULL, 0);
        assert_int_equal(res.status, 200);
        assert_null(strstr(res.body, "Checksum"));
        test_response_dispose(&res);
        /* A part checksum in the completion is not looked at (this one is wrong). */
        const char *crcs[] = { "AAAAAA==", NULL };
        complete_body_crc(body, sizeof(body), etags, crcs, 2);
        complete_with(&res, key, upload_id, body, NULL);
        assert_int_equal(res.status, 200);
        assert_null(strstr(res.body, "Checksum"));
        test_response_dispose(&res);
        assert_int_equal(checksum_read("HEAD", key, NULL, NULL, crc, type), 200);
        assert_string_equal(crc, "");
        assert_string_equal(type, "");
    }
}

/* Whether file `path` holds exactly data[0..len). */
static int holds(const char *path, const unsigned char *data, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    unsigned char *back = malloc(len + 1);
    size_t got = back ? fread(back, 1, len + 1, f) : 0;
    fclose(f);
    int same = back && got == len && memcmp(back, data, len) == 0;
    free(back);
    return same;
}

/*
 * The engine checks multipart objects against their CRC32C checksum by
 * default, without verify_multipart: a composite one of uneven parts (3000,
 * 3000, 2500, 900 bytes, some sent with only Content-MD5; part 1's size
 * alone makes wrong boundaries, so every part's size is learned before the
 * data is called wrong), and a full-object one. Both in ranges of 1000
 * bytes that cross the part boundaries, in one GET, and in one range of a
 * size not known beforehand (the checksum is asked for after it). A rotten
 * byte fails each, with no file left; the size check alone would have let
 * it through.
 */
static void test_s3__engine_checks_crc32c_of_multipart_objects(void **state)
{
    (void)state;
    const char *composite = PROJECT_PREFIX "t/mp/crc-uneven.bin";
    const char *full = PROJECT_PREFIX "t/mp/crc-full.bin";
    const size_t sizes[4] = { 3000, 3000, 2500, 900 };
    enum { TOTAL = 9400 };
    unsigned char *data = malloc(TOTAL);
    fill_random(data, TOTAL, 61);
    char upload_id[128], algorithm[32], type[32], crc[32], etags[4][48], body[4096];
    const char *create_composite[] = { "x-amz-checksum-algorithm: CRC32C", NULL };
    const char *create_full[] = { "x-amz-checksum-algorithm: CRC32C",
                                  "x-amz-checksum-type: FULL_OBJECT", NULL };
    const char *keys[2] = { composite, full };
    for (int k = 0; k < 2; k++) {
        create_upload_with(keys[k], k ? create_full : create_composite, upload_id,
                           sizeof(upload_id), algorithm, type);
        for (int i = 0, off = 0; i < 4; off += (int)sizes[i], i++)
            upload_part_with(keys[k], upload_id, i + 1, data + off, sizes[i], i != 1, etags[i],
                             crc, type);
        complete_body_crc(body, sizeof(body), etags, NULL, 4);
        test_response res;
        complete_with(&res, keys[k], upload_id, body, NULL);
        assert_int_equal(res.status, 200);
        test_response_dispose(&res);
    }

    char dir[300], dst[400];
    assert_int_equal(test_make_temp_dir(dir, sizeof(dir), "crcmp"), 0);
    snprintf(dst, sizeof(dst), "%s/got.bin", dir);
    igtcloud__engine_stats st;
    igtcloud_transfer_result r;
    const uint64_t ranges[2] = { 1000, 0 };
    for (int k = 0; k < 2; k++) {
        for (int g = 0; g < 2; g++) {
            assert_int_equal(engine_download_with(keys[k], dst, TOTAL, ranges[g], 0, &st, &r), 0);
            assert_true(holds(dst, data, TOTAL));
            assert_int_equal(unlink(dst), 0);
            assert_int_equal(st.verified_by_part_crcs, k == 0 ? 1 : 0);
            assert_int_equal(st.verified_by_crc32c, k == 1 ? 1 : 0);
            assert_int_equal(st.verified_by_parts, 0);
            assert_int_equal(st.parts_unverified, 0);
        }
        /* Size unknown, one range holds it all: the checksum is asked for once it is in. */
        assert_int_equal(engine_download_with(keys[k], dst, -1, 65536, 0, &st, &r), 0);
        assert_true(holds(dst, data, TOTAL));
        assert_int_equal(unlink(dst), 0);
        assert_int_equal(st.verified_by_part_crcs + st.verified_by_crc32c, 1);
        assert_int_equal(test_rot_stored_byte(sandbox.data_dir, keys[k], 6100), 0); /* in part 3 */
        for (int g = 0; g < 3; g++) {
            assert_int_equal(engine_download_with(keys[k], dst, g < 2 ? TOTAL : -1,
                                                  g < 2 ? ranges[g] : 65536, 0, &st, &r),
                             IGTCLOUD_EPARTIAL);
            assert_int_equal(r.status, IGTCLOUD_EPROTO);
            assert_non_null(strstr(r.message, k == 0 ? "composite checksum" : "CRC32C of the data"));
            assert_int_equal(access(dst, F_OK), -1);
        }
    }
    test_remove_tree(dir);
    free(data);
}

static int inode_of(const char *path, ino_t *out)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    *out = st.st_ino;
    return 0;
}

static void test_s3__multipart_parts_in_place_and_reuploaded(void **state)
{
    (void)state;
    const char *key = PROJECT_PREFIX "t/mp/in-place.bin";
    char upload_id[128], query[256], etags[4][48], body[4096], path[700];
    enum { STRIDE = 2000, LAST = 700, TOTAL = 3 * STRIDE + LAST };
    unsigned char *data = malloc(TOTAL), *other = malloc(STRIDE);
    fill_random(data, TOTAL, 31);
    fill_random(other, STRIDE, 32);
    test_response res;

    /* Out of order, the short last part first: parts of one size land in one file. */
    create_upload(key, upload_id, sizeof(upload_id));
    upload_part(key, upload_id, 4, data + 3 * STRIDE, LAST, etags[3], sizeof(etags[3]));
    upload_part(key, upload_id, 2, data + STRIDE, STRIDE, etags[1], sizeof(etags[1]));
    upload_part(key, upload_id, 1, data, STRIDE, etags[0], sizeof(etags[0]));
    upload_part(key, upload_id, 3, data + 2 * STRIDE, STRIDE, etags[2], sizeof(etags[2]));
    snprintf(path, sizeof(path), "%s/multipart/%s/data", sandbox.data_dir, upload_id);
    ino_t assembly = 0, object = 0;
    assert_int_equal(inode_of(path, &assembly), 0);
    int numbers[4] = { 1, 2, 3, 4 };
    complete_body(body, sizeof(body), numbers, etags, 4);
    snprintf(query, sizeof(query), "uploadId=%s", upload_id);
    mp_call(&res, "POST", key, query, body, strlen(body));
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    /* Nothing was copied: the assembly file became the object. */
    snprintf(path, sizeof(path), "%s/objects/%s", sandbox.data_dir, key);
    assert_int_equal(inode_of(path, &object), 0);
    assert_true(object == assembly);
    assert_int_equal(s3_get(&res, &get_creds, key, NULL), 0);
    assert_int_equal(res.body_len, TOTAL);
    assert_memory_equal(res.body, data, TOTAL);
    test_response_dispose(&res);
    snprintf(path, sizeof(path), "%s/multipart/%s", sandbox.data_dir, upload_id);
    assert_int_equal(access(path, F_OK), -1);

    /* A part uploaded again replaces the first upload without touching its bytes in place. */
    create_upload(key, upload_id, sizeof(upload_id));
    upload_part(key, upload_id, 1, data, STRIDE, etags[0], sizeof(etags[0]));
    upload_part(key, upload_id, 2, data + STRIDE, STRIDE, etags[1], sizeof(etags[1]));
    upload_part(key, upload_id, 2, other, STRIDE, etags[1], sizeof(etags[1]));
    upload_part(key, upload_id, 3, data + 2 * STRIDE, 10, etags[2], sizeof(etags[2]));
    snprintf(query, sizeof(query), "uploadId=%s", upload_id);
    mp_call(&res, "GET", key, query, NULL, 0);
    assert_int_equal(res.status, 200);
    char want[96];
    char md5_other[33];
    md5_hex(md5_other, other, STRIDE);
    snprintf(want, sizeof(want), "<PartNumber>2</PartNumber><LastModified>");
    assert_non_null(strstr(res.body, want));
    /* ListParts shows the part's latest ETag. */
    snprintf(want, sizeof(want), "<ETag>&quot;%s&quot;</ETag><Size>2000</Size>", md5_other);
    assert_non_null(strstr(res.body, want));
    test_response_dispose(&res);
    complete_body(body, sizeof(body), numbers, etags, 3);
    mp_call(&res, "POST", key, query, body, strlen(body));
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    assert_int_equal(s3_get(&res, &get_creds, key, NULL), 0);
    assert_int_equal(res.body_len, 2 * STRIDE + 10);
    assert_memory_equal(res.body, data, STRIDE);
    assert_memory_equal(res.body + STRIDE, other, STRIDE);
    assert_memory_equal(res.body + 2 * STRIDE, data + 2 * STRIDE, 10);
    test_response_dispose(&res);

    /* Completing with a gap (parts 1 and 3) concatenates from the file. */
    create_upload(key, upload_id, sizeof(upload_id));
    upload_part(key, upload_id, 1, data, STRIDE, etags[0], sizeof(etags[0]));
    upload_part(key, upload_id, 3, data + 2 * STRIDE, STRIDE, etags[2], sizeof(etags[2]));
    int gap[2] = { 1, 3 };
    memcpy(etags[1], etags[2], sizeof(etags[1]));
    complete_body(body, sizeof(body), gap, etags, 2);
    snprintf(query, sizeof(query), "uploadId=%s", upload_id);
    mp_call(&res, "POST", key, query, body, strlen(body));
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    assert_int_equal(s3_get(&res, &get_creds, key, NULL), 0);
    assert_int_equal(res.body_len, 2 * STRIDE);
    assert_memory_equal(res.body, data, STRIDE);
    assert_memory_equal(res.body + STRIDE, data + 2 * STRIDE, STRIDE);
    test_response_dispose(&res);
    free(data);
    free(other);
}

static void test_s3__signature_and_time_errors(void **state)
{
    (void)state;
    test_response res;
    const char *key = PROJECT_PREFIX "t/auth.txt";
    put_text(key, "auth");

    s3_call call = { .method = "GET", .key = key, .secret = "wrong-secret" };
    assert_int_equal(s3_request(&res, &get_creds, &call), 0);
    assert_s3_error(res, 403, "SignatureDoesNotMatch");
    test_response_dispose(&res);

    s3_call unknown = { .method = "GET", .key = key, .access_key = "ASIANOSUCHKEY0000000" };
    assert_int_equal(s3_request(&res, &get_creds, &unknown), 0);
    assert_s3_error(res, 403, "InvalidAccessKeyId");
    test_response_dispose(&res);

    s3_call skewed = { .method = "GET", .key = key, .now = time(NULL) - 20 * 60 };
    assert_int_equal(s3_request(&res, &get_creds, &skewed), 0);
    assert_s3_error(res, 403, "RequestTimeTooSkewed");
    test_response_dispose(&res);
    skewed.now = time(NULL) + 20 * 60;
    assert_int_equal(s3_request(&res, &get_creds, &skewed), 0);
    assert_s3_error(res, 403, "RequestTimeTooSkewed");
    test_response_dispose(&res);
    skewed.now = time(NULL) - 10 * 60;   /* within 15 minutes */
    assert_int_equal(s3_request(&res, &get_creds, &skewed), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);

    s3_call no_token = { .method = "GET", .key = key, .token = "" };
    assert_int_equal(s3_request(&res, &get_creds, &no_token), 0);
    assert_s3_error(res, 400, "InvalidToken");
    test_response_dispose(&res);
    s3_call wrong_token = { .method = "GET", .key = key, .token = "not-the-token" };
    assert_int_equal(s3_request(&res, &get_creds, &wrong_token), 0);
    assert_s3_error(res, 400, "InvalidToken");
    test_response_dispose(&res);

    char url[4096];
    snprintf(url, sizeof(url), "%s/%s/%s", get_creds.endpoint, get_creds.bucket, key);
    assert_int_equal(test_http(&res, "GET", url, NULL, NULL, 0), 0);
    assert_s3_error(res, 403, "AccessDenied");
    test_response_dispose(&res);

    const char *garbage[] = { "Authorization: AWS4-HMAC-SHA256 Credential=nonsense", NULL };
    assert_int_equal(test_http(&res, "GET", url, garbage, NULL, 0), 0);
    assert_s3_error(res, 400, "AuthorizationHeaderMalformed");
    test_response_dispose(&res);

    s3_creds other_region = get_creds;
    snprintf(other_region.region, sizeof(other_region.region), "eu-west-1");
    s3_call region = { .method = "GET", .key = key };
    assert_int_equal(s3_request(&res, &other_region, &region), 0);
    assert_s3_error(res, 400, "AuthorizationHeaderMalformed");
    test_response_dispose(&res);

    /* Presigned: good, tampered, expired. */
    assert_int_equal(presign(url, sizeof(url), &get_creds, "GET", key, time(NULL), 60), 0);
    assert_int_equal(test_http(&res, "GET", url, NULL, NULL, 0), 0);
    assert_int_equal(res.status, 200);
    assert_string_equal(res.body, "auth");
    test_response_dispose(&res);
    char *sig = strstr(url, "X-Amz-Signature=") + 16;
    *sig = *sig == '0' ? '1' : '0';
    assert_int_equal(test_http(&res, "GET", url, NULL, NULL, 0), 0);
    assert_s3_error(res, 403, "SignatureDoesNotMatch");
    test_response_dispose(&res);
    assert_int_equal(presign(url, sizeof(url), &get_creds, "GET", key, time(NULL) - 120, 60), 0);
    assert_int_equal(test_http(&res, "GET", url, NULL, NULL, 0), 0);
    assert_s3_error(res, 403, "AccessDenied");
    assert_non_null(strstr(res.body, "<Message>Request has expired</Message>"));
    test_response_dispose(&res);
    /* Dated more than 15 minutes ahead: not valid yet; a few minutes ahead: fine. */
    assert_int_equal(presign(url, sizeof(url), &get_creds, "GET", key, time(NULL) + 20 * 60,
                             3600), 0);
    assert_int_equal(test_http(&res, "GET", url, NULL, NULL, 0), 0);
    assert_s3_error(res, 403, "AccessDenied");
    assert_non_null(strstr(res.body, "<Message>Request is not valid yet</Message>"));
    test_response_dispose(&res);
    assert_int_equal(presign(url, sizeof(url), &get_creds, "GET", key, time(NULL) + 5 * 60,
                             60), 0);
    assert_int_equal(test_http(&res, "GET", url, NULL, NULL, 0), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
}

static void test_s3__prefix_scoping(void **state)
{
    (void)state;
    test_response res;
    const char *inside = PROJECT_PREFIX "t/scope.txt";
    put_text(inside, "scope");

    /* PUT credentials of t/ cannot write outside t/. */
    assert_int_equal(s3_put(&res, &put_creds, PROJECT_PREFIX "elsewhere.txt", "x", 1), 0);
    assert_s3_error(res, 403, "AccessDenied");
    test_response_dispose(&res);
    assert_int_equal(s3_put(&res, &put_creds, "institutes/hospital-a/x.txt", "x", 1), 0);
    assert_s3_error(res, 403, "AccessDenied");
    test_response_dispose(&res);
    mp_call(&res, "POST", PROJECT_PREFIX "elsewhere.bin", "uploads=", NULL, 0);
    assert_s3_error(res, 403, "AccessDenied");
    test_response_dispose(&res);

    /* GET credentials cannot PUT, and PUT credentials cannot GET. */
    assert_int_equal(s3_put(&res, &get_creds, inside, "x", 1), 0);
    assert_s3_error(res, 403, "AccessDenied");
    test_response_dispose(&res);
    assert_int_equal(s3_get(&res, &put_creds, inside, NULL), 0);
    assert_s3_error(res, 403, "AccessDenied");
    test_response_dispose(&res);
    s3_call create = { .method = "POST", .key = inside, .query = "uploads=" };
    assert_int_equal(s3_request(&res, &get_creds, &create), 0);
    assert_s3_error(res, 403, "AccessDenied");
    test_response_dispose(&res);

    /* GET credentials read only inside t/, and list only prefixes inside it. */
    assert_int_equal(s3_get(&res, &get_creds, PROJECT_PREFIX "README.txt", NULL), 0);
    assert_s3_error(res, 403, "AccessDenied");
    test_response_dispose(&res);
    assert_int_equal(s3_simple(&res, &get_creds, "GET", NULL,
                               "list-type=2&prefix=projects%2Fdemo-project%2F"), 0);
    assert_s3_error(res, 403, "AccessDenied");
    test_response_dispose(&res);
    assert_int_equal(s3_simple(&res, &get_creds, "GET", NULL, "list-type=2"), 0);
    assert_s3_error(res, 403, "AccessDenied");
    test_response_dispose(&res);
    /* A prefix that climbs out with ".." lists nothing. */
    assert_int_equal(s3_simple(&res, &get_creds, "GET", NULL,
                               "list-type=2&prefix=projects%2Fdemo-project%2Ft%2F..%2F..%2F"), 0);
    assert_int_equal(res.status, 200);
    assert_null(strstr(res.body, "<Contents>"));
    test_response_dispose(&res);

    /* Credentials of another prefix see their own. */
    s3_creds wide;
    assert_int_equal(fetch_creds(&wide, sandbox.api_url, "GET", PROJECT_PREFIX), 0);
    assert_int_equal(s3_get(&res, &wide, PROJECT_PREFIX "README.txt", NULL), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
}

static void test_s3__request_log(void **state)
{
    (void)state;
    test_response res;
    const char *key = PROJECT_PREFIX "t/logged.txt";
    put_text(key, "0123456789");
    assert_int_equal(s3_get(&res, &get_creds, key, "bytes=2-5"), 0);
    assert_int_equal(res.status, 206);
    test_response_dispose(&res);
    char url[4096];
    assert_int_equal(presign(url, sizeof(url), &get_creds, "GET", key, time(NULL), 60), 0);
    assert_int_equal(test_http(&res, "GET", url, NULL, NULL, 0), 0);
    test_response_dispose(&res);

    char *log = test_sandbox_log(&sandbox);
    int found_get = 0, found_put = 0;
    for (char *line = log, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        const char *service = json_string_value(json_object_get(j, "service"));
        const char *op = json_string_value(json_object_get(j, "operation"));
        const char *path = json_string_value(json_object_get(j, "path"));
        if (service && strcmp(service, "s3") == 0 && op && path &&
            strcmp(path, "/igtcloud-sandbox/" PROJECT_PREFIX "t/logged.txt") == 0) {
            const char *range = json_string_value(json_object_get(j, "range"));
            if (strcmp(op, "GetObject") == 0 && range && strcmp(range, "bytes=2-5") == 0) {
                assert_int_equal(json_integer_value(json_object_get(j, "status")), 206);
                assert_int_equal(json_integer_value(json_object_get(j, "bytes")), 4);
                assert_string_equal(json_string_value(json_object_get(j, "method")), "GET");
                found_get++;
            }
            if (strcmp(op, "PutObject") == 0) {
                assert_int_equal(json_integer_value(json_object_get(j, "status")), 200);
                assert_int_equal(json_integer_value(json_object_get(j, "received")), 10);
                found_put++;
            }
        }
        json_decref(j);
    }
    free(log);
    assert_int_equal(found_get, 1);
    assert_true(found_put >= 1);
    /* Never secrets, signatures or session tokens, on the API's lines either. */
    test_login login;
    s3_creds fresh;
    assert_int_equal(test_login_password(&login, sandbox.api_url, "demo", "demo"), 200);
    assert_int_equal(fetch_creds_as(&fresh, &login, sandbox.api_url, "GET", PROJECT_PREFIX "t/"),
                     0);
    log = test_sandbox_log(&sandbox);
    assert_non_null(strstr(log, "\"path\":\"/api/auth/s3credentials"));
    assert_null(strstr(log, strrchr(login.jwt, '.') + 1));
    assert_null(strstr(log, login.csrf));
    assert_null(strstr(log, fresh.secret_key));
    assert_null(strstr(log, fresh.session_token));
    assert_null(strstr(log, get_creds.secret_key));
    assert_null(strstr(log, get_creds.session_token));
    assert_null(strstr(log, "Signature"));
    assert_null(strstr(log, "X-Amz-"));
    free(log);
}

static void test_s3__api_and_store_agree(void **state)
{
    (void)state;
    test_login login;
    test_response res;
    char url[1024];
    assert_int_equal(test_login_password(&login, sandbox.api_url, "demo", "demo"), 200);
    /* Register a project file through the API, upload its bytes through S3. */
    snprintf(url, sizeof(url), "%s/api/data/projects/%s/files", sandbox.api_url, PROJECT_ID);
    assert_int_equal(test_api(&res, &login, "POST", url,
                              "[{\"key\": \"" PROJECT_PREFIX "t/registered.bin\","
                              " \"fileSize\": 1}]"), 0);
    assert_true(res.status == 200 || res.status == 201);
    test_response_dispose(&res);
    unsigned char data[4321];
    fill_random(data, sizeof(data), 11);
    assert_int_equal(s3_put(&res, &put_creds, PROJECT_PREFIX "t/registered.bin", data,
                            sizeof(data)), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    assert_int_equal(test_api(&res, &login, "GET", url, NULL), 0);
    assert_int_equal(res.status, 200);
    json_t *files = json_object_get(res.json, "files");
    if (!files)
        files = res.json;
    int seen = 0;
    for (size_t i = 0; i < json_array_size(files); i++) {
        json_t *f = json_array_get(files, i);
        const char *k = json_string_value(json_object_get(f, "key"));
        if (k && strcmp(k, PROJECT_PREFIX "t/registered.bin") == 0) {
            assert_int_equal(json_integer_value(json_object_get(f, "fileSize")), 4321);
            seen = 1;
        }
    }
    assert_true(seen);
    test_response_dispose(&res);
}

static void test_s3__study_file_completes_and_api_delete_removes_the_object(void **state)
{
    (void)state;
    test_login login;
    test_response res;
    char url[1024], body[1024], prefix[512], sid[128];
    const char *ha = "6f1c2b1e-0000-4000-8000-0000000000a1";
    assert_int_equal(test_login_password(&login, sandbox.api_url, "demo", "demo"), 200);
    snprintf(url, sizeof(url), "%s/api/data/hospitals/%s/studies", sandbox.api_url, ha);
    assert_int_equal(test_api(&res, &login, "GET", url, NULL), 0);
    assert_int_equal(res.status, 200);
    json_t *study = json_array_get(res.json, 0);
    assert_non_null(study);
    snprintf(sid, sizeof(sid), "%s", json_string_value(json_object_get(study, "studyDatabaseId")));
    snprintf(prefix, sizeof(prefix), "%s", json_string_value(json_object_get(study, "s3Prefix")));
    test_response_dispose(&res);

    /* Register, then upload through S3 with credentials for the study's files/. */
    char key[700], files_prefix[600];
    snprintf(files_prefix, sizeof(files_prefix), "%sfiles/", prefix);
    snprintf(key, sizeof(key), "%ss3-agree.bin", files_prefix);
    snprintf(url, sizeof(url), "%s/api/data/hospitals/%s/studies/%s/files", sandbox.api_url, ha,
             sid);
    snprintf(body, sizeof(body), "[{\"key\": \"%s\", \"fileSize\": 4321}]", key);
    assert_int_equal(test_api(&res, &login, "POST", url, body), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    s3_creds study_put, study_get;
    assert_int_equal(fetch_creds_as(&study_put, &login, sandbox.api_url, "PUT", files_prefix), 0);
    assert_int_equal(fetch_creds_as(&study_get, &login, sandbox.api_url, "GET", files_prefix), 0);
    unsigned char data[5000];
    fill_random(data, sizeof(data), 21);
    assert_int_equal(s3_put(&res, &study_put, key, data, sizeof(data)), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);

    char done_url[1200];
    snprintf(done_url, sizeof(done_url), "%s/$file-upload-completed", url);
    assert_int_equal(test_api(&res, &login, "POST", done_url,
                              "{\"uploadedPath\": \"s3-agree.bin\", \"triggerAction\": true}"),
                     0);
    assert_true(res.status == 200 || res.status == 204);
    test_response_dispose(&res);
    assert_int_equal(test_api(&res, &login, "GET", url, NULL), 0);
    json_t *files = json_object_get(res.json, "files");
    int seen = 0;
    for (size_t i = 0; i < json_array_size(files); i++) {
        json_t *f = json_array_get(files, i);
        if (strcmp(json_string_value(json_object_get(f, "key")), key) == 0) {
            assert_true(json_is_true(json_object_get(f, "isCompleted")));
            assert_int_equal(json_integer_value(json_object_get(f, "fileSize")), 5000);
            seen = 1;
        }
    }
    assert_true(seen);
    test_response_dispose(&res);

    /* Deleting the file through the API deletes its object. */
    assert_int_equal(s3_get(&res, &study_get, key, NULL), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    igtcloud__buf del = IGTCLOUD_BUF_INIT;
    igtcloud__buf_printf(&del, "%s?keys=", url);
    igtcloud__sigv4_uri_encode(&del, key, strlen(key), 0);
    assert_int_equal(test_api(&res, &login, "DELETE", igtcloud__buf_cstr(&del), NULL), 0);
    assert_true(res.status == 200 || res.status == 204);
    test_response_dispose(&res);
    igtcloud__buf_dispose(&del);
    assert_int_equal(s3_get(&res, &study_get, key, NULL), 0);
    assert_s3_error(res, 404, "NoSuchKey");
    test_response_dispose(&res);
}

static void test_s3__presigned_put_and_odd_keys(void **state)
{
    (void)state;
    test_response res;
    char url[4096];
    const char *key = PROJECT_PREFIX "t/odd/name with spaces+plus&amp;=%.txt";
    assert_int_equal(presign(url, sizeof(url), &put_creds, "PUT", key, time(NULL), 60), 0);
    assert_int_equal(test_http(&res, "PUT", url, NULL, "presigned", 9), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    assert_int_equal(s3_get(&res, &get_creds, key, NULL), 0);
    assert_int_equal(res.status, 200);
    assert_string_equal(res.body, "presigned");
    test_response_dispose(&res);
    assert_int_equal(s3_simple(&res, &get_creds, "GET", NULL,
                               "list-type=2&prefix=projects%2Fdemo-project%2Ft%2Fodd%2F"), 0);
    assert_non_null(strstr(res.body, "<Key>projects/demo-project/t/odd/name with spaces+plus"
                                     "&amp;amp;=%.txt</Key>"));
    test_response_dispose(&res);

    /* Keys the file store cannot hold, or XML cannot carry, are refused. */
    /* (libcurl removes "/../" from paths itself, so dot segments are not sent here.) */
    const char *bad[] = { PROJECT_PREFIX "t/odd//double",
                          PROJECT_PREFIX "t/odd/folder/", PROJECT_PREFIX "t/odd/\xff\xfe" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(s3_put(&res, &put_creds, bad[i], "x", 1), 0);
        assert_s3_error(res, 400, "InvalidArgument");
        test_response_dispose(&res);
    }
    char long_key[1200];
    memset(long_key, 'k', sizeof(long_key) - 1);
    memcpy(long_key, PROJECT_PREFIX "t/", strlen(PROJECT_PREFIX "t/"));
    long_key[sizeof(long_key) - 1] = '\0';
    assert_int_equal(s3_put(&res, &put_creds, long_key, "x", 1), 0);
    assert_s3_error(res, 400, "KeyTooLongError");
    test_response_dispose(&res);

    /* CompleteMultipartUpload's body is covered by the payload hash too. */
    char upload_id[128], query[256];
    create_upload(PROJECT_PREFIX "t/odd/mp.bin", upload_id, sizeof(upload_id));
    snprintf(query, sizeof(query), "uploadId=%s", upload_id);
    const char *xml = "<CompleteMultipartUpload></CompleteMultipartUpload>";
    s3_call complete = { .method = "POST", .key = PROJECT_PREFIX "t/odd/mp.bin",
                         .query = query, .body = xml, .body_len = strlen(xml),
                         .has_body = 1, .payload_hash = IGTCLOUD_SIGV4_EMPTY_SHA256 };
    assert_int_equal(s3_request(&res, &put_creds, &complete), 0);
    assert_s3_error(res, 400, "XAmzContentSHA256Mismatch");
    test_response_dispose(&res);
}

/* ---- memory with 1 GiB objects ------------------------------------------- */

#define GIB (1024ULL * 1024 * 1024)
#define CHUNK (1024 * 1024)

/* A socket connected to the host:port of url; *path points at its path. */
static int connect_url(const char *url, const char **path, char *host, size_t host_size)
{
    const char *hostport = strstr(url, "://") + 3;
    *path = strchr(hostport, '/');
    snprintf(host, host_size, "%.*s", (int)(*path - hostport), hostport);
    int port = (int)strtol(strchr(host, ':') + 1, NULL, 10);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { 0 };
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct timeval tv = { 120, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read the response head (up to the blank line) into head; the status, or -1. */
static int read_head(int fd, char *head, size_t size, char *extra, size_t *extra_len)
{
    size_t used = 0;
    *extra_len = 0;
    while (used < size - 1) {
        ssize_t n = read(fd, head + used, size - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        used += (size_t)n;
        head[used] = '\0';
        char *end = strstr(head, "\r\n\r\n");
        if (end) {
            *extra_len = used - (size_t)(end + 4 - head);
            memcpy(extra, end + 4, *extra_len);
            end[4] = '\0';
            return strncmp(head, "HTTP/1.1 ", 9) == 0 ? (int)strtol(head + 9, NULL, 10) : -1;
        }
    }
    return -1;
}

/* The sandbox's peak resident set (VmHWM) in KiB. */
static long sandbox_peak_rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

/*
 * Receive and serve a 1 GiB object (presigned, so the raw socket can stream
 * it): the sandbox never holds it, its peak RSS stays under 100 MiB (under
 * AddressSanitizer, whose shadow memory and quarantine inflate every
 * process, the growth during the transfers does).
 */
static void test_s3__memory_stays_small_with_1_gib_objects(void **state)
{
    (void)state;
    const char *key = PROJECT_PREFIX "t/big/1gib.bin";
    char url[4096], host[64], head[8192], value[128];
    const char *path;
    size_t extra_len;
    unsigned char *pattern = malloc(CHUNK), *buf = malloc(CHUNK + sizeof(head));
    assert_non_null(pattern);
    assert_non_null(buf);
    fill_random(pattern, CHUNK, 77);
    long before = sandbox_peak_rss_kib(sandbox.pid);
    assert_true(before > 0);

    /* PutObject of 1 GiB, streamed. */
    assert_int_equal(presign(url, sizeof(url), &put_creds, "PUT", key, time(NULL), 600), 0);
    int fd = connect_url(url, &path, host, sizeof(host));
    assert_true(fd >= 0);
    int n = snprintf(head, sizeof(head), "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %llu\r\n"
                     "Connection: close\r\n\r\n", path, host, GIB);
    assert_int_equal(write_all(fd, head, (size_t)n), 0);
    for (unsigned long long sent = 0; sent < GIB; sent += CHUNK)
        assert_int_equal(write_all(fd, pattern, CHUNK), 0);
    assert_int_equal(read_head(fd, head, sizeof(head), (char *)buf, &extra_len), 200);
    close(fd);
    assert_non_null(strstr(head, "ETag: \""));

    /* GetObject of the whole, compared with what was sent. */
    assert_int_equal(presign(url, sizeof(url), &get_creds, "GET", key, time(NULL), 600), 0);
    fd = connect_url(url, &path, host, sizeof(host));
    assert_true(fd >= 0);
    n = snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                 path, host);
    assert_int_equal(write_all(fd, head, (size_t)n), 0);
    assert_int_equal(read_head(fd, head, sizeof(head), (char *)buf, &extra_len), 200);
    snprintf(value, sizeof(value), "Content-Length: %llu\r\n", GIB);
    assert_non_null(strstr(head, value));
    unsigned long long got = 0;
    int same = 1;
    size_t have = extra_len;
    for (;;) {
        /* Compare what is in buf at offset `got` of the object, then read more. */
        for (size_t i = 0; i < have && same; ) {
            size_t at = (size_t)((got + i) % CHUNK), len = CHUNK - at;
            if (len > have - i)
                len = have - i;
            same = memcmp(buf + i, pattern + at, len) == 0;
            i += len;
        }
        got += have;
        ssize_t r = read(fd, buf, CHUNK);
        if (r < 0 && errno == EINTR) {
            have = 0;
            continue;
        }
        if (r <= 0)
            break;
        have = (size_t)r;
    }
    close(fd);
    assert_true(got == GIB);
    assert_true(same);

    long peak = sandbox_peak_rss_kib(sandbox.pid);
    print_message("sandbox peak RSS: %ld KiB before, %ld KiB after 1 GiB up and down\n", before,
                  peak);
#ifdef SANITIZED
    assert_true(peak - before < 100 * 1024);
#else
    assert_true(peak < 100 * 1024);
#endif
    test_response res;
    assert_int_equal(s3_simple(&res, &put_creds, "DELETE", key, NULL), 0);
    assert_int_equal(res.status, 204);
    test_response_dispose(&res);
    free(pattern);
    free(buf);
}

/* ---- restart, expiry, TLS ------------------------------------------------ */

static void test_s3__restart_keeps_objects(void **state)
{
    (void)state;
    test_response res;
    char etag_before[80], etag_after[80];
    const char *key = PROJECT_PREFIX "t/persist.bin";
    unsigned char data[70000];
    fill_random(data, sizeof(data), 5);
    assert_int_equal(s3_put(&res, &put_creds, key, data, sizeof(data)), 0);
    assert_int_equal(res.status, 200);
    header(&res, "ETag", etag_before, sizeof(etag_before));
    test_response_dispose(&res);

    assert_int_equal(test_sandbox_stop_keep(&sandbox), 0);
    char min[32];
    snprintf(min, sizeof(min), "%d", MIN_PART);
    const char *args[] = { "--min-part-size", min, "--admin-token", ADMIN_TOKEN, NULL };
    assert_int_equal(test_sandbox_restart(&sandbox, args), 0);
    s3_creds fresh;
    assert_int_equal(fetch_creds(&fresh, sandbox.api_url, "GET", PROJECT_PREFIX "t/"), 0);
    assert_int_equal(s3_get(&res, &fresh, key, NULL), 0);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.body_len, sizeof(data));
    assert_memory_equal(res.body, data, sizeof(data));
    header(&res, "ETag", etag_after, sizeof(etag_after));
    assert_string_equal(etag_after, etag_before);
    test_response_dispose(&res);
    /* The credentials of before the restart still work: they are in the database. */
    memcpy(get_creds.endpoint, fresh.endpoint, sizeof(get_creds.endpoint));
    memcpy(get_creds.host, fresh.host, sizeof(get_creds.host));
    assert_int_equal(s3_get(&res, &get_creds, key, NULL), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    assert_int_equal(fetch_creds(&put_creds, sandbox.api_url, "PUT", PROJECT_PREFIX "t/"), 0);
    assert_int_equal(fetch_creds(&get_creds, sandbox.api_url, "GET", PROJECT_PREFIX "t/"), 0);
}

static void test_s3__credentials_expire(void **state)
{
    (void)state;
    test_sandbox sb2;
    const char *args[] = { "--seed", "demo", "--credential-lifetime", "2", NULL };
    assert_int_equal(test_sandbox_start(&sb2, args), 0);
    /* Log in first (slow under sanitizers), then fetch and use at once. */
    test_login login;
    assert_int_equal(test_login_password(&login, sb2.api_url, "demo", "demo"), 200);
    s3_creds c, g;
    assert_int_equal(fetch_creds_as(&g, &login, sb2.api_url, "GET", PROJECT_PREFIX), 0);
    assert_int_equal(fetch_creds_as(&c, &login, sb2.api_url, "PUT", PROJECT_PREFIX), 0);
    test_response res;
    assert_int_equal(s3_put(&res, &c, PROJECT_PREFIX "expiry.txt", "x", 1), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    sleep(3);
    assert_int_equal(s3_put(&res, &c, PROJECT_PREFIX "expiry.txt", "x", 1), 0);
    assert_s3_error(res, 400, "ExpiredToken");
    test_response_dispose(&res);
    assert_int_equal(s3_get(&res, &g, PROJECT_PREFIX "expiry.txt", NULL), 0);
    assert_s3_error(res, 400, "ExpiredToken");
    test_response_dispose(&res);
    test_sandbox_stop(&sb2);
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    igtcloud__buf_put(userdata, ptr, size * nmemb);
    return size * nmemb;
}

static void test_s3__tls_on_both_listeners(void **state)
{
    (void)state;
    char dir[256], cert[320], key[320], cmd[1200];
    assert_int_equal(test_make_temp_dir(dir, sizeof(dir), "tls"), 0);
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 "
             "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             key, cert);
    assert_int_equal(system(cmd), 0);
    test_sandbox sb2;
    const char *args[] = { "--seed", "demo", "--tls-cert", cert, "--tls-key", key, NULL };
    assert_int_equal(test_sandbox_start(&sb2, args), 0);
    assert_non_null(strstr(sb2.api_url, "https://127.0.0.1:"));
    assert_non_null(strstr(sb2.s3_url, "https://127.0.0.1:"));

    /* The API over TLS, checked against the certificate. */
    CURL *curl = curl_easy_init();
    igtcloud__buf body = IGTCLOUD_BUF_INIT;
    char url[512];
    snprintf(url, sizeof(url), "%s/api/auth/login/$aud", sb2.api_url);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CAINFO, cert);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    assert_int_equal(curl_easy_perform(curl), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    /* And the S3 endpoint: an anonymous request gets S3's answer over TLS. */
    igtcloud__buf_clear(&body);
    snprintf(url, sizeof(url), "%s/igtcloud-sandbox/x", sb2.s3_url);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    assert_int_equal(curl_easy_perform(curl), CURLE_OK);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 403);
    assert_non_null(strstr(igtcloud__buf_cstr(&body), "<Code>AccessDenied</Code>"));
    /* Without the certificate, verification fails. */
    curl_easy_setopt(curl, CURLOPT_CAINFO, "/dev/null");
    curl_easy_setopt(curl, CURLOPT_CAPATH, "/nonexistent");
    assert_int_not_equal(curl_easy_perform(curl), CURLE_OK);
    curl_easy_cleanup(curl);
    igtcloud__buf_dispose(&body);
    test_sandbox_stop(&sb2);
    test_remove_tree(dir);
}

/* Write text to dir/name; the path goes to out. */
static void write_file(char *out, size_t size, const char *dir, const char *name,
                       const char *text)
{
    snprintf(out, size, "%s/%s", dir, name);
    FILE *f = fopen(out, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Bad values of the S3 endpoint's options: one line on stderr naming the problem, no ready line. */
static void test_s3__bad_options_are_one_line_errors(void **state)
{
    (void)state;
    char dir[256], cert[320], key[320], other_key[320], junk[320];
    char rules[320], cmd[1600];
    assert_int_equal(test_make_temp_dir(dir, sizeof(dir), "options"), 0);
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(other_key, sizeof(other_key), "%s/other-key.pem", dir);
    snprintf(cmd, sizeof(cmd),
             "for p in '' other-; do openssl req -x509 -newkey ec -pkeyopt "
             "ec_paramgen_curve:prime256v1 -nodes -keyout %s/${p}key.pem -out %s/${p}cert.pem "
             "-days 1 -subj /CN=127.0.0.1 >/dev/null 2>&1 || exit 1; done", dir, dir);
    assert_int_equal(system(cmd), 0);
    write_file(junk, sizeof(junk), dir, "junk.pem", "not a certificate\n");
    write_file(rules, sizeof(rules), dir, "rules.json",
               "{\"operation\": \"GetObjects\", \"effect\": \"close\"}");
    struct { const char *args[6]; int exit_code; const char *says; } cases[] = {
        { { "--credential-lifetime", "0" }, 2, "--credential-lifetime expects seconds, got '0'" },
        { { "--credential-lifetime", "soon" }, 2, "--credential-lifetime expects seconds" },
        { { "--credential-lifetime" }, 2, "option '--credential-lifetime' needs a value" },
        { { "--s3-listen", "nowhere" }, 2, "--s3-listen expects HOST:PORT, got 'nowhere'" },
        { { "--s3-listen", "127.0.0.1:70000" }, 2, "--s3-listen expects HOST:PORT" },
        { { "--s3-listen", "999.0.0.1:0" }, 1, "--s3-listen: '999.0.0.1' is not an IPv4" },
        { { "--region", "us/east" }, 2, "--region expects a region name" },
        { { "--min-part-size", "0" }, 2, "--min-part-size expects bytes" },
        { { "--admin-token", "" }, 2, "--admin-token must not be empty" },
        { { "--tls-cert", cert }, 2, "--tls-cert and --tls-key go together" },
        { { "--tls-key", key }, 2, "--tls-cert and --tls-key go together" },
        { { "--tls-cert", "/nonexistent/cert.pem", "--tls-key", key }, 1,
          "cannot read --tls-cert/--tls-key" },
        { { "--tls-cert", junk, "--tls-key", key }, 1, "is not a PEM certificate" },
        { { "--tls-cert", cert, "--tls-key", cert }, 1, "is not an unencrypted PEM private key" },
        { { "--tls-cert", cert, "--tls-key", other_key }, 1,
          "is not the private key of --tls-cert" },
        { { "--faults", "/nonexistent/rules.json" }, 1, "--faults: cannot open" },
        { { "--faults", junk }, 1, "--faults: malformed JSON" },
        { { "--faults", rules }, 1, "--faults: rule 1: unknown operation 'GetObjects'" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *argv[12] = { IGTCLOUD_SANDBOX_BIN, "--listen", "127.0.0.1:0" };
        size_t n = 3;
        for (size_t a = 0; a < 6 && cases[i].args[a]; a++)
            argv[n++] = cases[i].args[a];
        char out[512], err[1024];
        int rc = cli_run(argv, NULL, NULL, out, sizeof(out), err, sizeof(err));
        print_message("%s %s -> %d: %s", cases[i].args[0],
                      cases[i].args[1] ? cases[i].args[1] : "", rc, err);
        assert_int_equal(rc, cases[i].exit_code);
        assert_string_equal(out, "");
        assert_non_null(strstr(err, cases[i].says));
        assert_true(strncmp(err, "igtcloud-sandbox: ", 18) == 0);
        /* One line: the message and nothing else (no library chatter). */
        assert_non_null(strchr(err, '\n'));
        assert_string_equal(strchr(err, '\n'), "\n");
    }
    /* The good pair works, both listeners over TLS. */
    test_sandbox sb2;
    const char *args[] = { "--tls-cert", cert, "--tls-key", key, "--s3-listen", "127.0.0.1:0",
                           NULL };
    assert_int_equal(test_sandbox_start(&sb2, args), 0);
    assert_non_null(strstr(sb2.s3_url, "https://127.0.0.1:"));
    test_sandbox_stop(&sb2);
    test_remove_tree(dir);
}

/* ---- fault injection ----------------------------------------------------- */

static int admin(test_response *res, const char *method, const char *body, const char *token)
{
    char url[256], line[128];
    snprintf(url, sizeof(url), "%s/_admin/faults", sandbox.s3_url);
    snprintf(line, sizeof(line), "X-Admin-Token: %s", token);
    const char *headers[] = { line, "Content-Type: application/json", NULL };
    return test_http(res, method, url, headers, body, body ? strlen(body) : 0);
}

static void set_rules(const char *json)
{
    test_response res;
    assert_int_equal(admin(&res, "DELETE", NULL, ADMIN_TOKEN), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    if (!json)
        return;
    assert_int_equal(admin(&res, "POST", json, ADMIN_TOKEN), 0);
    if (res.status != 200)
        fprintf(stderr, "admin: %s\n", res.body);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
}

static const char *fault_key = PROJECT_PREFIX "t/faults/data.bin";
static unsigned char fault_data[200000];

static int faults_setup(void **state)
{
    (void)state;
    test_response res;
    fill_random(fault_data, sizeof(fault_data), 99);
    if (s3_put(&res, &put_creds, fault_key, fault_data, sizeof(fault_data)) || res.status != 200)
        return -1;
    test_response_dispose(&res);
    return 0;
}

static int faults_teardown(void **state)
{
    (void)state;
    set_rules(NULL);
    return 0;
}

/* Status of one signed GET of the fault key (0 when no response arrived). */
static long get_status(const char *key)
{
    test_response res;
    if (s3_get(&res, &get_creds, key, NULL))
        return 0;
    long status = res.status;
    test_response_dispose(&res);
    return status;
}

static void test_faults__admin_endpoint_needs_the_token(void **state)
{
    (void)state;
    test_response res;
    assert_int_equal(admin(&res, "GET", NULL, "wrong"), 0);
    assert_int_equal(res.status, 403);
    test_response_dispose(&res);
    assert_int_equal(admin(&res, "POST", "{\"effect\": \"explode\"}", ADMIN_TOKEN), 0);
    assert_int_equal(res.status, 400);
    assert_non_null(strstr(res.body, "explode"));
    test_response_dispose(&res);
    set_rules("{\"operation\": \"GetObject\", \"every\": 1000, \"effect\": \"close\"}");
    assert_int_equal(admin(&res, "GET", NULL, ADMIN_TOKEN), 0);
    assert_int_equal(res.status, 200);
    json_t *rules = json_object_get(res.json, "rules");
    assert_int_equal(json_array_size(rules), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rules, 0), "effect")),
                        "close");
    test_response_dispose(&res);
    set_rules(NULL);
    assert_int_equal(admin(&res, "GET", NULL, ADMIN_TOKEN), 0);
    assert_int_equal(json_array_size(json_object_get(res.json, "rules")), 0);
    test_response_dispose(&res);
}

static void test_faults__nth_match_gets_an_s3_error(void **state)
{
    (void)state;
    set_rules("{\"operation\": \"GetObject\", \"key\": \"*/faults/*\", \"nth\": 2,"
              " \"effect\": \"error\", \"status\": 503, \"code\": \"SlowDown\"}");
    test_response res;
    assert_int_equal(get_status(fault_key), 200);
    assert_int_equal(s3_get(&res, &get_creds, fault_key, NULL), 0);
    assert_s3_error(res, 503, "SlowDown");
    test_response_dispose(&res);
    assert_int_equal(get_status(fault_key), 200);
    assert_int_equal(get_status(fault_key), 200);
    /* Other keys and operations do not match. */
    set_rules("{\"operation\": \"PutObject\", \"effect\": \"error\", \"code\": \"InternalError\"}");
    assert_int_equal(get_status(fault_key), 200);
    assert_int_equal(s3_put(&res, &put_creds, PROJECT_PREFIX "t/faults/x", "x", 1), 0);
    assert_s3_error(res, 500, "InternalError");
    test_response_dispose(&res);
    set_rules("{\"method\": \"GET\", \"key\": \"*/no-match/*\", \"effect\": \"error\"}");
    assert_int_equal(get_status(fault_key), 200);
    set_rules("{\"operation\": \"GetObject\", \"effect\": \"error\", \"code\": \"ExpiredToken\"}");
    assert_int_equal(s3_get(&res, &get_creds, fault_key, NULL), 0);
    assert_s3_error(res, 400, "ExpiredToken");
    test_response_dispose(&res);
}

static void test_faults__every_kth_and_probability_are_deterministic(void **state)
{
    (void)state;
    set_rules("{\"operation\": \"HeadObject\", \"every\": 3, \"effect\": \"error\","
              " \"status\": 500}");
    char pattern[16] = "";
    for (int i = 0; i < 9; i++) {
        test_response res;
        assert_int_equal(s3_simple(&res, &get_creds, "HEAD", fault_key, NULL), 0);
        pattern[i] = res.status == 200 ? '.' : 'X';
        test_response_dispose(&res);
    }
    assert_string_equal(pattern, "..X..X..X");

    const char *rule = "{\"seed\": 42, \"rules\": [{\"operation\": \"HeadObject\","
                       " \"probability\": 0.5, \"effect\": \"error\", \"status\": 503}]}";
    char first[41] = "", second[41] = "";
    for (int round = 0; round < 2; round++) {
        set_rules(rule);
        char *out = round ? second : first;
        for (int i = 0; i < 40; i++) {
            test_response res;
            assert_int_equal(s3_simple(&res, &get_creds, "HEAD", fault_key, NULL), 0);
            out[i] = res.status == 200 ? '.' : 'X';
            test_response_dispose(&res);
        }
    }
    assert_string_equal(first, second);
    int fired = 0;
    for (int i = 0; i < 40; i++)
        fired += first[i] == 'X';
    assert_true(fired > 5 && fired < 35);
    /* "times" bounds how often a rule fires. */
    set_rules("{\"operation\": \"HeadObject\", \"times\": 2, \"effect\": \"error\"}");
    char limited[8] = "";
    for (int i = 0; i < 4; i++) {
        test_response res;
        assert_int_equal(s3_simple(&res, &get_creds, "HEAD", fault_key, NULL), 0);
        limited[i] = res.status == 200 ? '.' : 'X';
        test_response_dispose(&res);
    }
    assert_string_equal(limited, "XX..");
}

static void test_faults__connection_effects_seen_raw(void **state)
{
    (void)state;
    char url[4096];
    raw_result r;
    assert_int_equal(presign(url, sizeof(url), &get_creds, "GET", fault_key, time(NULL), 300), 0);

    /* Control: the whole object. */
    assert_int_equal(raw_get(&r, url), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.content_length, (long long)sizeof(fault_data));
    assert_int_equal(r.body_len, sizeof(fault_data));
    free(r.data);

    set_rules("{\"operation\": \"GetObject\", \"effect\": \"close\"}");
    assert_int_equal(raw_get(&r, url), 0);
    assert_int_equal(r.len, 0);
    free(r.data);

    set_rules("{\"operation\": \"GetObject\", \"effect\": \"short\", \"after_bytes\": 1000}");
    assert_int_equal(raw_get(&r, url), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.content_length, (long long)sizeof(fault_data));
    assert_int_equal(r.body_len, 1000);
    assert_int_equal(r.reset, 0);
    assert_memory_equal(r.data + r.len - 1000, fault_data, 1000);
    free(r.data);

    set_rules("{\"operation\": \"GetObject\", \"effect\": \"reset\", \"after_bytes\": 5000}");
    assert_int_equal(raw_get(&r, url), 0);
    assert_int_equal(r.status, 200);
    assert_true(r.body_len <= 5000);
    assert_int_equal(r.reset, 1);
    free(r.data);

    set_rules("{\"operation\": \"GetObject\", \"effect\": \"delay\", \"ms\": 600,"
              " \"where\": \"headers\"}");
    assert_int_equal(raw_get(&r, url), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, sizeof(fault_data));
    assert_true(r.first_byte_ms >= 550);
    free(r.data);

    set_rules("{\"operation\": \"GetObject\", \"effect\": \"delay\", \"ms\": 600,"
              " \"where\": \"body\", \"after_bytes\": 150000}");
    assert_int_equal(raw_get(&r, url), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, sizeof(fault_data));
    assert_true(r.first_byte_ms < 400);
    assert_true(r.total_ms >= 550);
    assert_memory_equal(r.data + r.len - sizeof(fault_data), fault_data, sizeof(fault_data));
    free(r.data);
}

static void test_faults__upload_reset_and_log(void **state)
{
    (void)state;
    set_rules("{\"operation\": \"PutObject\", \"key\": \"*/faults/upload*\", \"effect\": \"reset\","
              " \"after_bytes\": 1000}");
    test_response res;
    unsigned char data[100000];
    fill_random(data, sizeof(data), 4);
    int rc = s3_put(&res, &put_creds, PROJECT_PREFIX "t/faults/upload.bin", data, sizeof(data));
    assert_int_equal(rc, -1);   /* the transfer failed: connection reset */
    set_rules(NULL);
    assert_int_equal(s3_get(&res, &get_creds, PROJECT_PREFIX "t/faults/upload.bin", NULL), 0);
    assert_s3_error(res, 404, "NoSuchKey");
    test_response_dispose(&res);
    assert_int_equal(tmp_files(), 0);

    char *log = test_sandbox_log(&sandbox);
    assert_non_null(strstr(log, "\"fault\":\"rule"));
    assert_non_null(strstr(log, "reset after 1000 bytes"));
    free(log);
}

static void test_faults__rules_file_at_start(void **state)
{
    (void)state;
    char dir[256], path[320];
    assert_int_equal(test_make_temp_dir(dir, sizeof(dir), "faults"), 0);
    snprintf(path, sizeof(path), "%s/faults.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"seed\": 7, \"rules\": [{\"operation\": \"HeadBucket\", \"nth\": 1,"
          " \"effect\": \"error\", \"status\": 503, \"code\": \"SlowDown\"}]}", f);
    fclose(f);
    test_sandbox sb2;
    const char *args[] = { "--seed", "demo", "--faults", path, NULL };
    assert_int_equal(test_sandbox_start(&sb2, args), 0);
    s3_creds c;
    assert_int_equal(fetch_creds(&c, sb2.api_url, "GET", PROJECT_PREFIX), 0);
    test_response res;
    assert_int_equal(s3_simple(&res, &c, "HEAD", NULL, NULL), 0);
    assert_int_equal(res.status, 503);
    test_response_dispose(&res);
    assert_int_equal(s3_simple(&res, &c, "HEAD", NULL, NULL), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    /* Without --admin-token there is no admin endpoint. */
    char url[256];
    snprintf(url, sizeof(url), "%s/_admin/faults", sb2.s3_url);
    const char *headers[] = { "X-Admin-Token: anything", NULL };
    assert_int_equal(test_http(&res, "GET", url, headers, NULL, 0), 0);
    assert_s3_error(res, 403, "AccessDenied");   /* an ordinary, unsigned S3 request */
    test_response_dispose(&res);
    const char *rule = "{\"operation\": \"HeadBucket\", \"effect\": \"close\"}";
    assert_int_equal(test_http(&res, "POST", url, headers, rule, strlen(rule)), 0);
    assert_int_not_equal(res.status, 200);
    test_response_dispose(&res);
    assert_int_equal(s3_simple(&res, &c, "HEAD", NULL, NULL), 0);
    assert_int_equal(res.status, 200);
    test_response_dispose(&res);
    test_sandbox_stop(&sb2);

    /* A bad rules file stops the start with a message. */
    f = fopen(path, "w");
    fputs("{\"rules\": [{\"effect\": \"error\", \"nth\": 1, \"every\": 2}]}", f);
    fclose(f);
    assert_int_equal(test_sandbox_start(&sb2, args), -1);
    test_sandbox_stop(&sb2);
    test_remove_tree(dir);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3__ready_line_and_credentials_name_the_endpoint),
        cmocka_unit_test(test_s3__put_get_head_round_trip),
        cmocka_unit_test(test_s3__ranges),
        cmocka_unit_test(test_s3__errors_are_s3_xml_with_request_ids),
        cmocka_unit_test(test_s3__delete),
        cmocka_unit_test(test_s3__digests_are_verified),
        cmocka_unit_test(test_s3__checksums),
        cmocka_unit_test(test_s3__list_objects_v2),
        cmocka_unit_test(test_s3__multipart_upload),
        cmocka_unit_test(test_s3__engine_checks_uneven_parts),
        cmocka_unit_test(test_s3__engine_checks_crc32c_of_multipart_objects),
        cmocka_unit_test(test_s3__multipart_rules),
        cmocka_unit_test(test_s3__upload_part_digests_are_verified),
        cmocka_unit_test(test_s3__multipart_parts_in_place_and_reuploaded),
        cmocka_unit_test(test_s3__multipart_composite_crc32c),
        cmocka_unit_test(test_s3__multipart_full_object_crc32c),
        cmocka_unit_test(test_s3__multipart_other_checksums),
        cmocka_unit_test(test_s3__signature_and_time_errors),
        cmocka_unit_test(test_s3__prefix_scoping),
        cmocka_unit_test(test_s3__request_log),
        cmocka_unit_test(test_s3__api_and_store_agree),
        cmocka_unit_test(test_s3__study_file_completes_and_api_delete_removes_the_object),
        cmocka_unit_test(test_s3__presigned_put_and_odd_keys),
        cmocka_unit_test(test_s3__memory_stays_small_with_1_gib_objects),
        cmocka_unit_test(test_s3__restart_keeps_objects),
        cmocka_unit_test(test_s3__credentials_expire),
        cmocka_unit_test(test_s3__tls_on_both_listeners),
        cmocka_unit_test(test_s3__bad_options_are_one_line_errors),
        cmocka_unit_test_setup_teardown(test_faults__admin_endpoint_needs_the_token,
                                        faults_setup, faults_teardown),
        cmocka_unit_test_setup_teardown(test_faults__nth_match_gets_an_s3_error,
                                        faults_setup, faults_teardown),
        cmocka_unit_test_setup_teardown(test_faults__every_kth_and_probability_are_deterministic,
                                        faults_setup, faults_teardown),
        cmocka_unit_test_setup_teardown(test_faults__connection_effects_seen_raw,
                                        faults_setup, faults_teardown),
        cmocka_unit_test_setup_teardown(test_faults__upload_reset_and_log,
                                        faults_setup, faults_teardown),
        cmocka_unit_test(test_faults__rules_file_at_start),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
