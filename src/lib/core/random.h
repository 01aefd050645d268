#ifndef IGTCLOUD_CORE_RANDOM_H
#define IGTCLOUD_CORE_RANDOM_H

#include <stddef.h>

/* Cryptographically strong random bytes. Returns 0 or a negative status. */
int igtcloud__random_bytes(void *out, size_t len);

/* `len` random characters from [A-Za-z0-9] plus NUL into out (len + 1 bytes). */
int igtcloud__random_token(char *out, size_t len);

#endif
