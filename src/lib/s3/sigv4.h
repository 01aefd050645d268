#ifndef IGTCLOUD_S3_SIGV4_H
#define IGTCLOUD_S3_SIGV4_H

/*
 * AWS Signature Version 4: signing (header form and presigned URLs) for the
 * client, and parsing plus verification for the sandbox's S3 endpoint. Both
 * sides build the canonical request with the same code, so they agree byte
 * for byte. Nothing here reads the clock: the time is always a parameter.
 */

#include <stddef.h>
#include <time.h>

#include "core/buf.h"

#define IGTCLOUD_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define IGTCLOUD_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* SHA-256 of the empty string: the payload hash of GET, HEAD and DELETE. */
#define IGTCLOUD_SIGV4_EMPTY_SHA256 \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define IGTCLOUD_SIGV4_MAX_EXPIRES 604800u  /* presigned URLs: 7 days at most */
#define IGTCLOUD_SIGV4_MAX_SKEW 900u        /* S3 allows 15 minutes of clock skew */

#define IGTCLOUD_SIGV4_ACCESS_KEY_MAX 128
#define IGTCLOUD_SIGV4_REGION_MAX 64
#define IGTCLOUD_SIGV4_SERVICE_MAX 64
#define IGTCLOUD_SIGV4_SIGNATURE_LEN 64

/* One request header; name and value are NUL-terminated and borrowed. */
typedef struct igtcloud__sigv4_header {
    const char *name;
    const char *value;
} igtcloud__sigv4_header;

/*
 * The parts of an HTTP request that a signature covers. Everything is
 * borrowed. The same struct describes a request to sign and a request
 * received by the sandbox.
 */
typedef struct igtcloud__sigv4_request {
    const char *method;   /* "GET", "PUT", ... */
    const char *path;     /* exactly as on the wire: already URI-encoded, no query */
    const char *query;    /* raw query without '?'; NULL or "" for none */
    const igtcloud__sigv4_header *headers;  /* must include Host */
    size_t header_count;
    /*
     * Lower-case hex SHA-256 of the body or "UNSIGNED-PAYLOAD". Required to
     * sign. To verify, NULL means: take x-amz-content-sha256 (header form) or
     * UNSIGNED-PAYLOAD (presigned form).
     */
    const char *payload_hash;
} igtcloud__sigv4_request;

typedef struct igtcloud__sigv4_credentials {
    const char *access_key;
    const char *secret_key;
    const char *session_token;  /* NULL or "" for long-term keys */
} igtcloud__sigv4_credentials;

typedef struct igtcloud__sigv4_options {
    unsigned int version;
    const char *region;          /* "us-east-1" by default */
    const char *service;         /* "s3" by default */
    /*
     * Non-S3 services remove "." / ".." / empty path segments and encode the
     * path a second time. S3 does neither, so this is off by default and the
     * wire path is signed verbatim. Sign and verify must agree on it.
     */
    int normalize_path;
    /*
     * Sign every header given (the generic AWS rule). Off by default: S3
     * requests sign Host, x-amz-*, Content-MD5, Content-Type, Range, Date and
     * the other headers S3 interprets, so that proxies may touch the rest.
     */
    int sign_all_headers;
    /* Send and sign x-amz-content-sha256, which S3 requires. On by default. */
    int content_sha256_header;
} igtcloud__sigv4_options;

#define IGTCLOUD__SIGV4_OPTIONS_VERSION 1
#define IGTCLOUD__SIGV4_OPTIONS_INIT \
    { IGTCLOUD__SIGV4_OPTIONS_VERSION, "us-east-1", "s3", 0, 0, 1 }

/*
 * The outcome of signing: the headers to add to the request, and the
 * intermediate strings (for tests and for S3's SignatureDoesNotMatch body).
 * Initialise with IGTCLOUD__SIGV4_SIGNED_INIT, release with _dispose.
 */
typedef struct igtcloud__sigv4_signed {
    igtcloud__buf authorization;      /* value of the Authorization header */
    char amz_date[17];                /* value of x-amz-date, "20130524T000000Z" */
    char content_sha256[72];          /* value of x-amz-content-sha256; "" when not sent */
    const char *session_token;        /* value of x-amz-security-token (borrowed
                                         from the credentials); NULL when not sent */
    igtcloud__buf signed_headers;     /* "host;range;x-amz-date" */
    igtcloud__buf canonical_request;
    igtcloud__buf string_to_sign;
    char signature[IGTCLOUD_SIGV4_SIGNATURE_LEN + 1];
} igtcloud__sigv4_signed;

#define IGTCLOUD__SIGV4_SIGNED_INIT \
    { IGTCLOUD_BUF_INIT, "", "", NULL, IGTCLOUD_BUF_INIT, IGTCLOUD_BUF_INIT, \
      IGTCLOUD_BUF_INIT, "" }

void igtcloud__sigv4_signed_init(igtcloud__sigv4_signed *s);
void igtcloud__sigv4_signed_dispose(igtcloud__sigv4_signed *s);

/*
 * Append the S3 URI encoding of data: RFC 3986 unreserved characters
 * (A-Z a-z 0-9 - . _ ~) are kept, '/' too when keep_slash (object keys in
 * paths), every other byte becomes %XX with upper-case hex.
 */
int igtcloud__sigv4_uri_encode(igtcloud__buf *out, const char *data, size_t len,
                               int keep_slash);

#define IGTCLOUD__URI_PLUS_IS_SPACE 1u  /* form-encoded query strings: '+' is a space */

/*
 * Append the percent-decoding of data; '+' stays '+' unless flags has
 * IGTCLOUD__URI_PLUS_IS_SPACE. EINVALID on a bad %XX. The one decoder of the
 * project: the sandbox decodes request paths and queries with it too.
 */
int igtcloud__sigv4_uri_decode(igtcloud__buf *out, const char *data, size_t len,
                               unsigned int flags);

/*
 * Build the canonical request of req into out (cleared first). The signed
 * headers are `signed_headers` ("a;b", as a verifier receives them) or, when
 * NULL, the set the signer chooses under opts; their list is written to
 * out_signed when that is not NULL. req->payload_hash must be set.
 * opts may be NULL for the defaults. Returns 0, EINVALID, EAUTH (a signed
 * header is missing from the request) or ENOMEM.
 */
int igtcloud__sigv4_canonical_request(igtcloud__buf *out, igtcloud__buf *out_signed,
                                      const igtcloud__sigv4_request *req,
                                      const char *signed_headers,
                                      const igtcloud__sigv4_options *opts);

/*
 * Sign req in header form at time `now`: fills out (initialise it first; it is
 * set only on success) with the Authorization, x-amz-date,
 * x-amz-content-sha256 and x-amz-security-token values to send. req must not
 * already carry those headers. opts may be NULL for S3 in us-east-1.
 */
int igtcloud__sigv4_sign(igtcloud__sigv4_signed *out,
                         const igtcloud__sigv4_request *req,
                         const igtcloud__sigv4_credentials *creds,
                         time_t now, const igtcloud__sigv4_options *opts);

/*
 * Presign req at time `now` for `expires` seconds (1 to 7 days): appends to
 * out_query the complete query string to put after '?' — req's own
 * parameters and the X-Amz-* ones, in canonical order, X-Amz-Signature last.
 * The payload is always UNSIGNED-PAYLOAD (a URL cannot carry a body hash), so
 * req->payload_hash must be NULL or UNSIGNED-PAYLOAD.
 */
int igtcloud__sigv4_presign(igtcloud__buf *out_query,
                            const igtcloud__sigv4_request *req,
                            const igtcloud__sigv4_credentials *creds,
                            time_t now, unsigned int expires,
                            const igtcloud__sigv4_options *opts);

/*
 * What a signed request claims, as parsed by the verifier. The server looks
 * up the secret by access_key, checks region, service, time and session
 * token, then calls igtcloud__sigv4_verify. Initialise with
 * IGTCLOUD__SIGV4_AUTH_INIT, release with _dispose.
 */
typedef struct igtcloud__sigv4_auth {
    int presigned;                                    /* query form, not header form */
    char access_key[IGTCLOUD_SIGV4_ACCESS_KEY_MAX + 1];
    char date[9];                                     /* credential scope date, YYYYMMDD */
    char region[IGTCLOUD_SIGV4_REGION_MAX + 1];
    char service[IGTCLOUD_SIGV4_SERVICE_MAX + 1];
    igtcloud__buf signed_headers;                     /* "host;x-amz-date", validated */
    char signature[IGTCLOUD_SIGV4_SIGNATURE_LEN + 1];
    char amz_date[17];                                /* request time as sent */
    time_t time;                                      /* the same, parsed */
    unsigned int expires;                             /* presigned only, seconds */
    int has_session_token;
    igtcloud__buf session_token;                      /* decoded */
} igtcloud__sigv4_auth;

#define IGTCLOUD__SIGV4_AUTH_INIT \
    { 0, "", "", "", "", IGTCLOUD_BUF_INIT, "", "", 0, 0, 0, IGTCLOUD_BUF_INIT }

void igtcloud__sigv4_auth_init(igtcloud__sigv4_auth *auth);
void igtcloud__sigv4_auth_dispose(igtcloud__sigv4_auth *auth);

/*
 * Parse an Authorization header value ("AWS4-HMAC-SHA256 Credential=AK/DATE/
 * REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=hex") into the
 * credential, signed-headers and signature fields of out. Spacing around
 * the separators is free; the content is strict. Returns 0 or EINVALID with
 * one message naming the defect.
 */
int igtcloud__sigv4_parse_authorization(igtcloud__sigv4_auth *out, const char *value);

/*
 * Parse the X-Amz-* parameters of a presigned URL's raw query into out
 * (credential, date, expires, signed headers, signature, session token).
 * Returns 0 or EINVALID.
 */
int igtcloud__sigv4_parse_presigned(igtcloud__sigv4_auth *out, const char *query);

/*
 * Find and parse the authentication of a received request: the Authorization
 * header with x-amz-date and x-amz-security-token, or the presigned query.
 * Checks that the request date matches the credential date. Returns 0,
 * EINVALID (malformed) or EAUTH (the request is not signed at all).
 */
int igtcloud__sigv4_parse_request(igtcloud__sigv4_auth *out,
                                  const igtcloud__sigv4_request *req);

/*
 * Check the request time against `now`: within max_skew seconds for the
 * header form; not before time - max_skew and not after time + expires for
 * presigned URLs. Returns 0 or EAUTH.
 */
int igtcloud__sigv4_check_time(const igtcloud__sigv4_auth *auth, time_t now,
                               unsigned int max_skew);

/*
 * Recompute the signature of req from auth and secret_key and compare it in
 * constant time. Also insists that Host and every x-amz-* header present are
 * signed. `computed` (may be NULL; initialised by the caller) receives the
 * canonical request and string to sign, for S3's error body. opts supplies
 * normalize_path only and may be NULL. Returns 0, EAUTH (mismatch), EINVALID.
 */
int igtcloud__sigv4_verify(igtcloud__sigv4_signed *computed,
                           const igtcloud__sigv4_auth *auth,
                           const igtcloud__sigv4_request *req,
                           const char *secret_key,
                           const igtcloud__sigv4_options *opts);

/*
 * The building blocks, exposed for tests: the signing key chain
 * HMAC("AWS4" + secret, date) -> region -> service -> "aws4_request", applied
 * to string_to_sign, as lower-case hex.
 */
int igtcloud__sigv4_signature(char out[IGTCLOUD_SIGV4_SIGNATURE_LEN + 1],
                              const char *secret_key, const char *date,
                              const char *region, const char *service,
                              const char *string_to_sign, size_t len);

/* Is `list` a valid SignedHeaders value: sorted, unique, lower-case tokens? */
int igtcloud__sigv4_signed_headers_valid(const char *list, size_t len);

#endif
