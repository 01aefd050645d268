#ifndef SANDBOX_PASSWORD_H
#define SANDBOX_PASSWORD_H

#include <stddef.h>

#define SANDBOX_PASSWORD_HASH_MAX 160

/*
 * Salted PBKDF2-HMAC-SHA256, stored as
 * "pbkdf2-sha256$ITERATIONS$SALT_B64$HASH_B64". Returns 0 or -1.
 */
int sandbox_password_hash(char out[SANDBOX_PASSWORD_HASH_MAX], const char *password);

/* 1 when password matches the stored hash, 0 otherwise (also for a malformed hash). */
int sandbox_password_verify(const char *stored, const char *password);

#endif
