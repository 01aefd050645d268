#ifndef IGTCLOUD_HTTP_HTTP_H
#define IGTCLOUD_HTTP_HTTP_H

#include <signal.h>
#include <stddef.h>

#include "core/buf.h"

/*
 * A small libcurl wrapper for the API calls: one request at a time on one
 * reused connection, TLS verified by default, proxies from the environment
 * (http_proxy, https_proxy, HTTPS_PROXY, all_proxy, no_proxy / NO_PROXY, as
 * libcurl reads them). Transport failures become IGTCLOUD_ENET, ETIMEOUT,
 * ETLS or EPROTO with a one-line message that names the URL but never a
 * header or body, so no secret can leak through an error.
 */

typedef void (*igtcloud__http_debug_fn)(const char *line, void *payload);

typedef struct igtcloud__http_config {
    const char *ca_file;               /* PEM bundle to trust instead of the system's */
    long connect_timeout;              /* seconds; 0: 30 */
    long timeout;                      /* whole request, seconds; 0: 300 */
    igtcloud__http_debug_fn debug;     /* one line per request and response, or NULL */
    void *debug_payload;
} igtcloud__http_config;

#define IGTCLOUD__HTTP_CONFIG_INIT { NULL, 0, 0, NULL, NULL }

typedef struct igtcloud__http_client igtcloud__http_client;

/* The response of one request. Header lines are those of the final response. */
typedef struct igtcloud__http_response {
    long status;
    char **header_lines;               /* "Name: value", CRLF stripped */
    size_t nheaders;
    size_t aheaders;
    igtcloud__buf body;
} igtcloud__http_response;

void igtcloud__http_response_init(igtcloud__http_response *res);
void igtcloud__http_response_dispose(igtcloud__http_response *res);

/*
 * Find the next header called `name` (case-insensitive) at or after index
 * *pos; returns its value (leading blanks skipped, borrowed) and sets *pos to
 * the index after it, or returns NULL. Start with *pos = 0 to walk repeated
 * headers such as Set-Cookie.
 */
const char *igtcloud__http_response_header(const igtcloud__http_response *res,
                                           const char *name, size_t *pos);

int igtcloud__http_client_new(igtcloud__http_client **out, const igtcloud__http_config *cfg);
void igtcloud__http_client_free(igtcloud__http_client *client);

/*
 * Requests stop with IGTCLOUD_ECANCELLED soon after *flag becomes non-zero
 * (NULL: never). Used by long-running loops driven by signal handlers.
 */
void igtcloud__http_client_set_cancel(igtcloud__http_client *client,
                                      volatile sig_atomic_t *flag);

/*
 * Follow up to 5 redirects (https only, or http too when the first URL was
 * http). Off by default: API calls carry X-JWT, which must never reach another
 * host; turn it on only for unauthenticated downloads such as upgrades.
 */
void igtcloud__http_client_set_follow_redirects(igtcloud__http_client *client, int on);

/* Override the whole-request timeout (seconds, 0: the configured one). */
void igtcloud__http_client_set_timeout(igtcloud__http_client *client, long seconds);

/*
 * Format one line for the client's debug callback (nothing without one); the
 * session's refresh loop writes its notes through it too.
 */
void igtcloud__http_debug(igtcloud__http_client *client, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Where the body of a successful answer goes instead of res->body: `fn` is
 * handed its bytes as they arrive, so a large answer (a listing) is never
 * held whole. It returns 0 to go on, or a negative igtcloud_status with the
 * error set, which stops the request and becomes its result.
 */
typedef int (*igtcloud__http_body_fn)(const char *data, size_t len, void *payload);

/*
 * Stream the body of 2xx answers to requests for exactly `url` to `fn`
 * (igtcloud__http_request then leaves res->body empty for them, and no size
 * limit applies); answers with another status, and requests for any other
 * URL, fill res->body as usual, so error messages and the session's own
 * calls (a refresh made on the way to the listing) are unaffected. `url` is
 * borrowed until the sink is removed with fn NULL.
 */
void igtcloud__http_client_set_body_sink(igtcloud__http_client *client, const char *url,
                                         igtcloud__http_body_fn fn, void *payload);

/*
 * Perform one request. `headers` is a NULL-terminated list of "Name: value"
 * (may be NULL); body may be NULL. Returns 0 whenever an HTTP response arrived,
 * whatever its status, and fills *out (which the caller disposes); otherwise
 * a negative igtcloud_status with the error set.
 */
int igtcloud__http_request(igtcloud__http_response *out, igtcloud__http_client *client,
                           const char *method, const char *url,
                           const char *const *headers, const void *body, size_t body_len);

/* Largest response body accepted (bytes). */
#define IGTCLOUD__HTTP_MAX_BODY ((size_t)256 * 1024 * 1024)

/* Test hook: the limit buffered bodies are held to (IGTCLOUD__HTTP_MAX_BODY). */
extern size_t igtcloud__http_max_body;

#endif
