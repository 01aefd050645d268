#ifndef IGTCLOUD_CORE_BASE64_H
#define IGTCLOUD_CORE_BASE64_H

#include <stddef.h>
#include "core/buf.h"

/* Append the standard base64 (with '=' padding) of data to out. */
int igtcloud__base64_encode(igtcloud__buf *out, const void *data, size_t len);

/* Append the base64url form without padding (JWT segments). */
int igtcloud__base64url_encode(igtcloud__buf *out, const void *data, size_t len);

/*
 * Decode either alphabet ('+/' or '-_'), padded or not, and append the bytes
 * to out. Whitespace is not allowed. Returns 0 or IGTCLOUD_EINVALID.
 */
int igtcloud__base64_decode(igtcloud__buf *out, const char *text, size_t len);

#endif
