#ifndef TEST_HTTP_H
#define TEST_HTTP_H

#include <stddef.h>
#include <jansson.h>

/* A response as the test saw it on the wire. */
typedef struct test_response {
    long status;
    char *headers;     /* raw header block, every line, "Name: value\r\n" */
    char *body;        /* NUL-terminated */
    size_t body_len;
    json_t *json;      /* body parsed as JSON when it is JSON, else NULL */
} test_response;

/*
 * One HTTP request with libcurl. `headers` is a NULL-terminated list of
 * "Name: value" strings (may be NULL); body may be NULL. Returns 0 when an
 * HTTP response arrived (any status), -1 on transport failure.
 */
int test_http(test_response *out, const char *method, const char *url,
              const char *const *headers, const char *body, size_t body_len);

void test_response_dispose(test_response *res);

/* Value of the first header `name` (case-insensitive), copied into out. */
int test_response_header(const test_response *res, const char *name, char *out, size_t size);

/* Count the header lines named `name` (e.g. Set-Cookie). */
int test_response_header_count(const test_response *res, const char *name);

/* A logged-in user session as the tests use it. */
typedef struct test_login {
    char jwt[4096];
    char csrf[256];
    char sub[128];
    long max_age;
} test_login;

/*
 * POST /api/auth/login with a password grant and assemble the JWT from the
 * two cookies. Returns the HTTP status (200 on success) or -1.
 */
long test_login_password(test_login *out, const char *api_url, const char *user,
                         const char *password);

/* Request with X-JWT / X-CSRF-TOKEN / JSON headers of `login` (may be NULL). */
int test_api(test_response *out, const test_login *login, const char *method,
             const char *url, const char *json_body);

#endif
