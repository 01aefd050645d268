#include "s3/retry.h"

#include <curl/curl.h>
#include <string.h>

igtcloud__xfer_outcome igtcloud__retry_outcome_from_curl(int curl_code)
{
    switch ((CURLcode)curl_code) {
    case CURLE_OK:
        return IGTCLOUD__XFER_OK;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
        return IGTCLOUD__XFER_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return IGTCLOUD__XFER_TIMEOUT;
    case CURLE_PARTIAL_FILE:
        return IGTCLOUD__XFER_SHORT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
        return IGTCLOUD__XFER_TLS;
    case CURLE_WRITE_ERROR:
    case CURLE_READ_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_OUT_OF_MEMORY:
        return IGTCLOUD__XFER_LOCAL;
    default:
        return IGTCLOUD__XFER_OTHER;
    }
}

static int code_is(const char *code, const char *name)
{
    return code && strcmp(code, name) == 0;
}

igtcloud__retry_kind igtcloud__retry_classify(igtcloud__xfer_outcome outcome, long http_status,
                                              const char *s3_code)
{
    switch (outcome) {
    case IGTCLOUD__XFER_CONNECT:
    case IGTCLOUD__XFER_SHORT:
        return IGTCLOUD__RETRY_TRANSIENT;
    case IGTCLOUD__XFER_TIMEOUT:
        return IGTCLOUD__RETRY_TIMEOUT;
    case IGTCLOUD__XFER_TLS:
    case IGTCLOUD__XFER_LOCAL:
    case IGTCLOUD__XFER_OTHER:
        return IGTCLOUD__RETRY_NO;
    case IGTCLOUD__XFER_OK:
        break;
    }
    if (code_is(s3_code, "ExpiredToken") || code_is(s3_code, "TokenRefreshRequired"))
        return IGTCLOUD__RETRY_CREDENTIALS;
    if (code_is(s3_code, "AuthorizationHeaderMalformed") || code_is(s3_code, "PermanentRedirect") ||
        http_status == 301 || http_status == 307)
        return IGTCLOUD__RETRY_REGION;
    if (code_is(s3_code, "SlowDown") || code_is(s3_code, "Throttling") ||
        code_is(s3_code, "ThrottlingException") || code_is(s3_code, "RequestLimitExceeded") ||
        code_is(s3_code, "TooManyRequestsException") || http_status == 429)
        return IGTCLOUD__RETRY_THROTTLE;
    if (code_is(s3_code, "RequestTimeout") || code_is(s3_code, "RequestTimeoutException"))
        return IGTCLOUD__RETRY_TIMEOUT;
    if (code_is(s3_code, "InternalError") || code_is(s3_code, "ServiceUnavailable"))
        return http_status == 503 ? IGTCLOUD__RETRY_THROTTLE : IGTCLOUD__RETRY_TRANSIENT;
    if (http_status == 503)
        return IGTCLOUD__RETRY_THROTTLE;
    if (http_status == 500 || http_status == 502 || http_status == 504)
        return IGTCLOUD__RETRY_TRANSIENT;
    return IGTCLOUD__RETRY_NO;
}

uint32_t igtcloud__retry_backoff_ms(unsigned int retry, uint32_t random,
                                    unsigned int base_ms, unsigned int cap_ms)
{
    uint64_t ceiling = base_ms;
    for (unsigned int i = 1; i < retry && ceiling < cap_ms; i++)
        ceiling *= 2;
    if (ceiling > cap_ms)
        ceiling = cap_ms;
    return (uint32_t)((ceiling * (uint64_t)random) >> 32);
}

void igtcloud__retry_budget_init(igtcloud__retry_budget *b, unsigned int capacity)
{
    b->capacity = capacity;
    b->tokens = capacity;
}

int igtcloud__retry_budget_take(igtcloud__retry_budget *b, igtcloud__retry_kind kind)
{
    unsigned int cost;
    switch (kind) {
    case IGTCLOUD__RETRY_NO:
        return -1;
    case IGTCLOUD__RETRY_CREDENTIALS:
    case IGTCLOUD__RETRY_REGION:
        return 0;
    case IGTCLOUD__RETRY_TIMEOUT:
        cost = IGTCLOUD__RETRY_TIMEOUT_COST;
        break;
    default:
        cost = IGTCLOUD__RETRY_COST;
        break;
    }
    if (b->tokens < cost)
        return -1;
    b->tokens -= cost;
    return (int)cost;
}

void igtcloud__retry_budget_success(igtcloud__retry_budget *b, unsigned int cost_taken)
{
    unsigned int back = cost_taken ? cost_taken : 1;
    b->tokens = b->tokens + back > b->capacity ? b->capacity : b->tokens + back;
}
