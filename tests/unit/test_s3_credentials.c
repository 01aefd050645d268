/* s3/credentials: response parsing, renewal margin, the shared cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "s3/credentials.h"

static const char good_json[] =
    "{\"policyCredentials\": [{\"credentials\": {\"accessKey\": \"AK1\", \"secretKey\": \"SK1\","
    " \"sessionToken\": \"TOK\", \"bucket\": \"bkt\", \"expires\": \"2030-01-02T03:04:05\","
    " \"endpoint\": \"http://127.0.0.1:9\", \"region\": \"eu-west-1\"},"
    " \"allowed\": {\"resources\": [\"x\"], \"actions\": [\"GET\"]}, \"resourceType\": \"S3\"}]}";

static void test_s3_credentials__parses_the_api_response(void **state)
{
    (void)state;
    igtcloud_s3_credentials c;
    assert_int_equal(igtcloud_s3_credentials_from_json(&c, good_json, strlen(good_json)), 0);
    assert_string_equal(c.access_key, "AK1");
    assert_string_equal(c.secret_key, "SK1");
    assert_string_equal(c.session_token, "TOK");
    assert_string_equal(c.bucket, "bkt");
    assert_string_equal(c.endpoint, "http://127.0.0.1:9");
    assert_string_equal(c.region, "eu-west-1");
    /* No zone: UTC. */
    assert_int_equal(c.expires, 1893553445);
}

static void test_s3_credentials__rejects_incomplete_responses(void **state)
{
    (void)state;
    const char *bad[] = {
        "", "[]", "{}", "{\"policyCredentials\": []}",
        "{\"policyCredentials\": [{\"credentials\": {\"secretKey\": \"S\", \"bucket\": \"b\"}}]}",
        "{\"policyCredentials\": [{\"credentials\": {\"accessKey\": \"A\", \"secretKey\": \"S\"}}]}",
        "{\"policyCredentials\": [{\"credentials\": {\"accessKey\": \"A\", \"secretKey\": \"S\","
        " \"bucket\": \"b\", \"expires\": \"tomorrow\"}}]}",
        "{\"policyCredentials\": [{\"credentials\": {\"accessKey\": 5, \"secretKey\": \"S\","
        " \"bucket\": \"b\"}}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        igtcloud_s3_credentials c;
        assert_int_equal(igtcloud_s3_credentials_from_json(&c, bad[i], strlen(bad[i])),
                         IGTCLOUD_EPROTO);
    }
}

static void test_s3_credentials__margin_is_relative_to_the_lifetime(void **state)
{
    (void)state;
    assert_int_equal(igtcloud__credentials_margin(3600), 720);
    assert_int_equal(igtcloud__credentials_margin(900), 180);
    assert_int_equal(igtcloud__credentials_margin(43200), 900);
    assert_int_equal(igtcloud__credentials_margin(30), 10);
    assert_int_equal(igtcloud__credentials_margin(8), 4);
    /* One-hour credentials are used for 48 minutes, not refetched before every file. */
    assert_true(igtcloud__credentials_fresh(1000, 4600, 1000));
    assert_true(igtcloud__credentials_fresh(1000, 4600, 3879));
    assert_false(igtcloud__credentials_fresh(1000, 4600, 3880));
    assert_true(igtcloud__credentials_fresh(1000, 0, 999999999));
}

struct provider {
    int calls;
    int64_t lifetime;
    int64_t now;
};

static int provide(igtcloud_s3_credentials *out, const char *action, const char *prefix,
                   void *payload)
{
    struct provider *p = payload;
    p->calls++;
    snprintf(out->access_key, sizeof(out->access_key), "AK%d", p->calls);
    snprintf(out->secret_key, sizeof(out->secret_key), "%s:%s", action, prefix);
    snprintf(out->bucket, sizeof(out->bucket), "b");
    out->expires = p->now + p->lifetime;
    return 0;
}

static void test_s3_credentials__cache_is_shared_and_renewed(void **state)
{
    (void)state;
    struct provider p = { 0, 3600, 1000 };
    igtcloud__cred_cache c;
    igtcloud__cred_cache_init(&c, provide, &p, NULL);
    igtcloud__cred_entry *e1, *e2, *e3;
    assert_int_equal(igtcloud__cred_cache_get(&e1, &c, "GET", "a/", 1000), 0);
    assert_int_equal(igtcloud__cred_cache_get(&e2, &c, "GET", "a/", 1500), 0);
    assert_ptr_equal(e1, e2);
    assert_int_equal(p.calls, 1);
    assert_int_equal(igtcloud__cred_cache_get(&e3, &c, "PUT", "a/", 1500), 0);
    assert_ptr_not_equal(e1, e3);
    assert_string_equal(e3->creds.secret_key, "PUT:a/");
    assert_int_equal(p.calls, 2);
    /* Close to expiry: renewed. */
    p.now = 3900;
    assert_int_equal(igtcloud__cred_cache_get(&e2, &c, "GET", "a/", 3900), 0);
    assert_int_equal(p.calls, 3);
    assert_string_equal(e2->creds.access_key, "AK3");
    /* ExpiredToken from many requests of one generation renews once. */
    unsigned int gen = e2->generation;
    igtcloud__cred_cache_expire(e2, gen);
    assert_int_equal(igtcloud__cred_cache_get(&e2, &c, "GET", "a/", 3901), 0);
    assert_int_equal(p.calls, 4);
    igtcloud__cred_cache_expire(e2, gen);
    assert_int_equal(igtcloud__cred_cache_get(&e2, &c, "GET", "a/", 3902), 0);
    assert_int_equal(p.calls, 4);
    igtcloud__cred_cache_dispose(&c);
}

static int prefix_is_b(const char *prefix, void *payload)
{
    (void)payload;
    return strcmp(prefix, "b/") == 0;
}

/* Evicted entries are gone (fetched again when asked for), kept ones stay put. */
static void test_s3_credentials__evict_keeps_what_is_in_use(void **state)
{
    (void)state;
    struct provider p = { 0, 3600, 1000 };
    igtcloud__cred_cache c;
    igtcloud__cred_cache_init(&c, provide, &p, NULL);
    igtcloud__cred_entry *a, *b, *again;
    assert_int_equal(igtcloud__cred_cache_get(&a, &c, "GET", "a/", 1000), 0);
    assert_int_equal(igtcloud__cred_cache_get(&b, &c, "GET", "b/", 1000), 0);
    assert_int_equal(igtcloud__cred_cache_get(&a, &c, "PUT", "a/", 1000), 0);
    assert_int_equal(c.count, 3);
    igtcloud__cred_cache_evict(&c, prefix_is_b, NULL);
    assert_int_equal(c.count, 1);
    assert_int_equal(igtcloud__cred_cache_get(&again, &c, "GET", "b/", 1001), 0);
    assert_ptr_equal(again, b);
    assert_int_equal(p.calls, 3);
    assert_int_equal(igtcloud__cred_cache_get(&again, &c, "GET", "a/", 1001), 0);
    assert_int_equal(p.calls, 4);
    igtcloud__cred_cache_dispose(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3_credentials__parses_the_api_response),
        cmocka_unit_test(test_s3_credentials__rejects_incomplete_responses),
        cmocka_unit_test(test_s3_credentials__margin_is_relative_to_the_lifetime),
        cmocka_unit_test(test_s3_credentials__cache_is_shared_and_renewed),
        cmocka_unit_test(test_s3_credentials__evict_keeps_what_is_in_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
