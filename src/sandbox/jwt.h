#ifndef SANDBOX_JWT_H
#define SANDBOX_JWT_H

#include <stddef.h>
#include <time.h>
#include <jansson.h>

#include "core/buf.h"

/*
 * JSON Web Tokens as the sandbox needs them: HS256 session tokens it signs
 * and verifies itself, and RS256 assertions that service identities sign with
 * their private key. Nothing here touches the store; time is a parameter.
 */

#define SANDBOX_JWT_SECRET_LEN 32
#define SANDBOX_JWT_MAX_LEN 16384

/* Outcomes; every failure is negative. */
enum {
    SANDBOX_JWT_OK = 0,
    SANDBOX_JWT_MALFORMED = -1,      /* not three base64url segments of JSON objects */
    SANDBOX_JWT_BAD_ALGORITHM = -2,  /* header alg is not the one expected */
    SANDBOX_JWT_BAD_SIGNATURE = -3,
    SANDBOX_JWT_EXPIRED = -4,        /* exp missing, not a number, or not in the future */
    SANDBOX_JWT_BAD_CLAIMS = -5,     /* aud / iss / sub do not fit */
    SANDBOX_JWT_INTERNAL = -6,       /* out of memory, OpenSSL failure */
};

/* A parsed (not yet verified) token. The text is borrowed from the caller. */
typedef struct sandbox_jwt {
    json_t *header;
    json_t *claims;
    const char *text;
    size_t signed_len;         /* length of "header.payload" */
    const char *signature;     /* the third segment as text */
    size_t signature_len;
} sandbox_jwt;

#define SANDBOX_JWT_INIT { NULL, NULL, NULL, 0, NULL, 0 }

/*
 * Sign `claims` with HS256 and append "header.payload.signature" to out.
 * The payload is serialised so that its base64url form never contains '-'
 * or '_' (see jwt.c), because the reference client decodes it with the
 * standard alphabet. Returns 0 or SANDBOX_JWT_INTERNAL.
 */
int sandbox_jwt_sign_hs256(igtcloud__buf *out, const json_t *claims,
                           const unsigned char *key, size_t key_len);

/*
 * Split and decode a token of `len` bytes. On success *out holds the header
 * and claims (free with sandbox_jwt_dispose); on failure *out is left empty.
 */
int sandbox_jwt_parse(sandbox_jwt *out, const char *token, size_t len);

/* Release what sandbox_jwt_parse allocated; safe on an empty struct. */
void sandbox_jwt_dispose(sandbox_jwt *jwt);

/* Check the header names HS256 and the signature in constant time. */
int sandbox_jwt_verify_hs256(const sandbox_jwt *jwt, const unsigned char *key, size_t key_len);

/* Check the header names RS256 and the signature against an RSA public key (PEM). */
int sandbox_jwt_verify_rs256(const sandbox_jwt *jwt, const char *public_key_pem);

/* 1 when the `exp` claim is a number later than `now`. */
int sandbox_jwt_alive(const sandbox_jwt *jwt, time_t now);

/*
 * Parse a sandbox session token and verify it: HS256 signature with `key`,
 * `exp` after `now`, string claims `sub` and `jti` present. On success *out
 * holds the parsed token; on failure it is empty.
 */
int sandbox_jwt_verify_session(sandbox_jwt *out, const char *token, size_t len,
                               const unsigned char *key, size_t key_len, time_t now);

/*
 * Verify a service's login assertion that was parsed already: RS256 signed
 * by `public_key_pem`, `aud` (a string or an array) containing `audience`,
 * `iss` and `sub` both equal to `service_id`, `exp` after `now`. On failure
 * *why (may be NULL) gets a static one-line reason fit for a 401 body.
 */
int sandbox_jwt_check_assertion(const sandbox_jwt *jwt, const char *public_key_pem,
                                const char *audience, const char *service_id, time_t now,
                                const char **why);

#endif
