#ifndef IGTCLOUD_AUTH_COOKIE_H
#define IGTCLOUD_AUTH_COOKIE_H

#include <stddef.h>

/* One Set-Cookie header as far as the login needs it. */
typedef struct igtcloud__cookie {
    char *name;
    char *value;
    long long max_age;   /* -1 when there is no valid Max-Age attribute */
} igtcloud__cookie;

/*
 * Parse a Set-Cookie value ("name=value; Max-Age=3600; Secure; ...") of `len`
 * bytes (RFC 6265 section 5.2): name and value are trimmed, a quoted value is
 * unquoted, attributes other than Max-Age are ignored. Returns 0 or
 * IGTCLOUD_EPROTO (no '=' or an empty name) / IGTCLOUD_ENOMEM.
 */
int igtcloud__cookie_parse(igtcloud__cookie *out, const char *text, size_t len);

void igtcloud__cookie_dispose(igtcloud__cookie *cookie);

#endif
