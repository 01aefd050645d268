#ifndef IGTCLOUD_S3_RETRY_H
#define IGTCLOUD_S3_RETRY_H

#include <stdint.h>

/*
 * Retry policy of the transfer engine, after the AWS SDKs' "standard" mode:
 * which failures are worth another attempt, how long to wait (exponential
 * backoff with full jitter, capped), and a retry budget shared by the run so
 * that a dead server ends it quickly instead of every request retrying ten
 * times.
 */

/* How a request ended below HTTP. */
typedef enum {
    IGTCLOUD__XFER_OK = 0,        /* a complete HTTP response arrived */
    IGTCLOUD__XFER_CONNECT,       /* refused, reset, closed, DNS */
    IGTCLOUD__XFER_TIMEOUT,       /* timeout or stall */
    IGTCLOUD__XFER_SHORT,         /* body shorter than promised */
    IGTCLOUD__XFER_TLS,           /* certificate / handshake */
    IGTCLOUD__XFER_LOCAL,         /* our own write/read failed, or cancel */
    IGTCLOUD__XFER_OTHER
} igtcloud__xfer_outcome;

typedef enum {
    IGTCLOUD__RETRY_NO = 0,       /* final: report the failure */
    IGTCLOUD__RETRY_TRANSIENT,    /* 500, 502, 504, connection errors, short body */
    IGTCLOUD__RETRY_THROTTLE,     /* 503, SlowDown, Throttling */
    IGTCLOUD__RETRY_TIMEOUT,      /* timeouts, stalls, RequestTimeout */
    IGTCLOUD__RETRY_CREDENTIALS,  /* ExpiredToken: renew, retry, not a failure */
    IGTCLOUD__RETRY_REGION        /* wrong region: redirect, retry, not a failure */
} igtcloud__retry_kind;

/* Map a CURLcode to an outcome. */
igtcloud__xfer_outcome igtcloud__retry_outcome_from_curl(int curl_code);

/*
 * Classify a finished attempt. s3_code is the <Code> of an S3 error body
 * (NULL or "" when none).
 */
igtcloud__retry_kind igtcloud__retry_classify(igtcloud__xfer_outcome outcome, long http_status,
                                              const char *s3_code);

/*
 * Backoff before retry number `retry` (1 for the first retry): a uniformly
 * random time in [0, min(cap, base * 2^(retry-1))), `random` being a 32-bit
 * random value.
 */
uint32_t igtcloud__retry_backoff_ms(unsigned int retry, uint32_t random,
                                    unsigned int base_ms, unsigned int cap_ms);

/* The retry budget (token bucket) of one run. */
typedef struct igtcloud__retry_budget {
    unsigned int capacity;
    unsigned int tokens;
} igtcloud__retry_budget;

#define IGTCLOUD__RETRY_COST 5u
#define IGTCLOUD__RETRY_TIMEOUT_COST 10u

void igtcloud__retry_budget_init(igtcloud__retry_budget *b, unsigned int capacity);

/*
 * Take the tokens for one retry of `kind`. Returns the cost taken (to give
 * back if the retry succeeds; 0 for free kinds), or -1 when the budget is
 * exhausted and the failure is final.
 */
int igtcloud__retry_budget_take(igtcloud__retry_budget *b, igtcloud__retry_kind kind);

/*
 * A request succeeded: give back what its retry cost, or one token when it
 * succeeded at the first attempt (refill).
 */
void igtcloud__retry_budget_success(igtcloud__retry_budget *b, unsigned int cost_taken);

#endif
