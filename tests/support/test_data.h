#ifndef TEST_DATA_H
#define TEST_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "test_http.h"
#include "test_sandbox.h"

/* Ids and prefixes of the demo world (docs/sandbox-seed.md). */
#define TEST_DEMO_PROJECT "6f1c2b1e-0000-4000-8000-000000000001"
#define TEST_DEMO_PROJECT_PREFIX "projects/demo-project/"
#define TEST_DEMO_HOSPITAL_A "6f1c2b1e-0000-4000-8000-0000000000a1"
#define TEST_DEMO_HOSPITAL_B "6f1c2b1e-0000-4000-8000-0000000000b2"
#define TEST_DEMO_SEED 2021

/*
 * One data-service call: METHOD api_url + printf-formatted path, with the
 * login's headers and an optional JSON body. Returns the HTTP status, or -1
 * when no response arrived.
 */
long test_data_call(test_response *out, const test_sandbox *sb, const test_login *login,
                    const char *method, const char *body, const char *path_fmt, ...)
    __attribute__((format(printf, 6, 7)));

/*
 * The seeder's content generator, written again from its description in
 * docs/sandbox-seed.md (SplitMix64 from seed XOR FNV-1a-64(path)), so tests
 * check the sandbox against the document rather than against itself.
 */
void test_data_generated(unsigned char *out, size_t len, uint64_t seed, const char *path);

/* The whole file at `path`, NUL-terminated; NULL when unreadable. Caller frees. */
char *test_data_read_file(const char *path, size_t *len);

/* Write `text` to `path`; 0 or -1. */
int test_data_write_file(const char *path, const void *data, size_t len);

/* The object file of `key` in the sandbox's data folder, read whole. */
char *test_data_read_object(const test_sandbox *sb, const char *key, size_t *len);

/*
 * Create a service identity for `institute_id` (as `creator`, a user) and log
 * in with it the way the reference does (RS256 assertion, grantType jwt-key).
 * Returns the login's HTTP status (200 on success) or -1.
 */
long test_data_service_login(test_login *out, const test_sandbox *sb, const test_login *creator,
                             const char *institute_id, const char *name);

#endif
