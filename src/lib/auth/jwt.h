#ifndef IGTCLOUD_AUTH_JWT_H
#define IGTCLOUD_AUTH_JWT_H

#include <stddef.h>
#include <time.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "core/buf.h"

/*
 * Decode the payload (second segment) of a JWT "header.payload.signature".
 * Accepts the base64url and the standard alphabet, padded or not (the
 * reference client writes either). The payload must be a JSON object.
 * Returns 0 with *out owned by the caller, or IGTCLOUD_EPROTO.
 */
int igtcloud__jwt_decode_payload(json_t **out, const char *jwt, size_t len);

/*
 * The "exp" claim as epoch seconds. Returns 0, or IGTCLOUD_EPROTO when the
 * claim is missing or not a non-negative number.
 */
int igtcloud__jwt_claim_exp(long long *out, const json_t *payload);

/*
 * Build and sign the RS256 assertion of a service login (PROTOCOL.md section 2):
 * header {"alg":"RS256","typ":"JWT"}, payload {"aud": [aud], "iss": id,
 * "sub": id, "exp": now + 3600}. Appends the compact JWT to out.
 */
int igtcloud__jwt_service_assertion(igtcloud__buf *out, EVP_PKEY *key, const char *service_id,
                                    const char *audience, time_t now);

#endif
