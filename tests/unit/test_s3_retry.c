/* s3/retry: AWS standard-mode classification, full-jitter backoff, budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "s3/retry.h"

static void test_s3_retry__classifies_like_the_standard_mode(void **state)
{
    (void)state;
    static const struct {
        igtcloud__xfer_outcome outcome;
        long status;
        const char *code;
        igtcloud__retry_kind want;
    } cases[] = {
        { IGTCLOUD__XFER_OK, 200, NULL, IGTCLOUD__RETRY_NO },
        { IGTCLOUD__XFER_OK, 404, "NoSuchKey", IGTCLOUD__RETRY_NO },
        { IGTCLOUD__XFER_OK, 403, "AccessDenied", IGTCLOUD__RETRY_NO },
        { IGTCLOUD__XFER_OK, 403, "SignatureDoesNotMatch", IGTCLOUD__RETRY_NO },
        { IGTCLOUD__XFER_OK, 400, "ExpiredToken", IGTCLOUD__RETRY_CREDENTIALS },
        { IGTCLOUD__XFER_OK, 403, "ExpiredToken", IGTCLOUD__RETRY_CREDENTIALS },
        { IGTCLOUD__XFER_OK, 500, "InternalError", IGTCLOUD__RETRY_TRANSIENT },
        { IGTCLOUD__XFER_OK, 500, NULL, IGTCLOUD__RETRY_TRANSIENT },
        { IGTCLOUD__XFER_OK, 502, NULL, IGTCLOUD__RETRY_TRANSIENT },
        { IGTCLOUD__XFER_OK, 504, NULL, IGTCLOUD__RETRY_TRANSIENT },
        { IGTCLOUD__XFER_OK, 503, "SlowDown", IGTCLOUD__RETRY_THROTTLE },
        { IGTCLOUD__XFER_OK, 503, NULL, IGTCLOUD__RETRY_THROTTLE },
        { IGTCLOUD__XFER_OK, 400, "Throttling", IGTCLOUD__RETRY_THROTTLE },
        { IGTCLOUD__XFER_OK, 429, NULL, IGTCLOUD__RETRY_THROTTLE },
        { IGTCLOUD__XFER_OK, 400, "RequestTimeout", IGTCLOUD__RETRY_TIMEOUT },
        { IGTCLOUD__XFER_OK, 301, "PermanentRedirect", IGTCLOUD__RETRY_REGION },
        { IGTCLOUD__XFER_OK, 400, "AuthorizationHeaderMalformed", IGTCLOUD__RETRY_REGION },
        { IGTCLOUD__XFER_CONNECT, 0, NULL, IGTCLOUD__RETRY_TRANSIENT },
        { IGTCLOUD__XFER_SHORT, 200, NULL, IGTCLOUD__RETRY_TRANSIENT },
        { IGTCLOUD__XFER_TIMEOUT, 0, NULL, IGTCLOUD__RETRY_TIMEOUT },
        { IGTCLOUD__XFER_TLS, 0, NULL, IGTCLOUD__RETRY_NO },
        { IGTCLOUD__XFER_LOCAL, 0, NULL, IGTCLOUD__RETRY_NO },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(igtcloud__retry_classify(cases[i].outcome, cases[i].status, cases[i].code),
                         cases[i].want);
    assert_int_equal(igtcloud__retry_outcome_from_curl(CURLE_COULDNT_CONNECT), IGTCLOUD__XFER_CONNECT);
    assert_int_equal(igtcloud__retry_outcome_from_curl(CURLE_RECV_ERROR), IGTCLOUD__XFER_CONNECT);
    assert_int_equal(igtcloud__retry_outcome_from_curl(CURLE_GOT_NOTHING), IGTCLOUD__XFER_CONNECT);
    assert_int_equal(igtcloud__retry_outcome_from_curl(CURLE_PARTIAL_FILE), IGTCLOUD__XFER_SHORT);
    assert_int_equal(igtcloud__retry_outcome_from_curl(CURLE_OPERATION_TIMEDOUT), IGTCLOUD__XFER_TIMEOUT);
    assert_int_equal(igtcloud__retry_outcome_from_curl(CURLE_PEER_FAILED_VERIFICATION), IGTCLOUD__XFER_TLS);
    assert_int_equal(igtcloud__retry_outcome_from_curl(CURLE_WRITE_ERROR), IGTCLOUD__XFER_LOCAL);
}

static void test_s3_retry__backoff_is_full_jitter_capped(void **state)
{
    (void)state;
    /* random = 0 waits nothing; random near 2^32 waits almost the ceiling. */
    assert_int_equal(igtcloud__retry_backoff_ms(1, 0, 1000, 20000), 0);
    assert_int_equal(igtcloud__retry_backoff_ms(1, UINT32_MAX, 1000, 20000), 999);
    assert_int_equal(igtcloud__retry_backoff_ms(2, UINT32_MAX, 1000, 20000), 1999);
    assert_int_equal(igtcloud__retry_backoff_ms(3, 0x80000000u, 1000, 20000), 2000);
    assert_int_equal(igtcloud__retry_backoff_ms(5, UINT32_MAX, 1000, 20000), 15999);
    assert_int_equal(igtcloud__retry_backoff_ms(6, UINT32_MAX, 1000, 20000), 19999);
    assert_int_equal(igtcloud__retry_backoff_ms(60, UINT32_MAX, 1000, 20000), 19999);
    assert_int_equal(igtcloud__retry_backoff_ms(10, 0x40000000u, 1000, 20000), 5000);
}

static void test_s3_retry__budget_ends_a_dead_run(void **state)
{
    (void)state;
    igtcloud__retry_budget b;
    igtcloud__retry_budget_init(&b, 500);
    int taken = 0;
    while (igtcloud__retry_budget_take(&b, IGTCLOUD__RETRY_TRANSIENT) >= 0)
        taken++;
    assert_int_equal(taken, 100);
    /* Free kinds still pass; final failures never do. */
    assert_int_equal(igtcloud__retry_budget_take(&b, IGTCLOUD__RETRY_CREDENTIALS), 0);
    assert_int_equal(igtcloud__retry_budget_take(&b, IGTCLOUD__RETRY_REGION), 0);
    assert_int_equal(igtcloud__retry_budget_take(&b, IGTCLOUD__RETRY_NO), -1);
    igtcloud__retry_budget_success(&b, 5);
    assert_int_equal(igtcloud__retry_budget_take(&b, IGTCLOUD__RETRY_THROTTLE), 5);
    assert_int_equal(igtcloud__retry_budget_take(&b, IGTCLOUD__RETRY_THROTTLE), -1);
    igtcloud__retry_budget_init(&b, 500);
    assert_int_equal(igtcloud__retry_budget_take(&b, IGTCLOUD__RETRY_TIMEOUT), 10);
    igtcloud__retry_budget_success(&b, 0);
    igtcloud__retry_budget_success(&b, 10);
    assert_int_equal(b.tokens, 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3_retry__classifies_like_the_standard_mode),
        cmocka_unit_test(test_s3_retry__backoff_is_full_jitter_capped),
        cmocka_unit_test(test_s3_retry__budget_ends_a_dead_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
