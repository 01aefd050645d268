#ifndef SANDBOX_CREDENTIALS_H
#define SANDBOX_CREDENTIALS_H

#include <time.h>

#include "auth.h"
#include "sandbox.h"

/*
 * Prefix-scoped S3 credentials (GET /api/auth/s3credentials). The S3
 * endpoint finds them again in the credentials table by access key. Call
 * with the store lock held.
 */

/*
 * May `who` have credentials for `action` ("GET" or "PUT") on `prefix`?
 * A user: inside the s3_prefix of a project they are a member of or of one
 * of its institutes. A service: PUT only, inside its institute's s3_prefix.
 * Returns 0 when allowed, else the HTTP status (400 for a missing or
 * malformed action or prefix, 403 when not allowed, 500) with *why set to a
 * static message.
 */
int sandbox_credentials_check(sandbox *sb, const sandbox_principal *who, const char *action,
                              const char *prefix, const char **why);

/*
 * Create credentials for an allowed request, store them (expiring
 * credential_lifetime seconds after `now`) and set *out to the response
 * {"policyCredentials": [...]}. Returns 0 or -1.
 */
int sandbox_credentials_issue(json_t **out, sandbox *sb, const sandbox_principal *who,
                              const char *action, const char *prefix, time_t now);

#endif
