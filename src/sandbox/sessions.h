#ifndef SANDBOX_SESSIONS_H
#define SANDBOX_SESSIONS_H

#include "sandbox.h"
#include "jwt.h"

/*
 * Login sessions: one row of the sessions table per login, and the HS256
 * JWTs that name it (claim jti). Call with the store lock held.
 */

/*
 * The JWT signing secret, kept in the meta table so that a restarted sandbox
 * still accepts the tokens it issued; created (32 random bytes) on first use.
 */
int sandbox_sessions_secret(sandbox *sb, unsigned char out[SANDBOX_JWT_SECRET_LEN]);

/*
 * Start a session for `subject` (kind "user" or "service", `uid` the user's
 * uuid or the service id) and answer the login on `res`: 200, the two
 * Set-Cookie headers carrying the JWT and {"CSRFToken", "sub"}. On failure
 * sets a 500 on res and returns -1.
 */
int sandbox_sessions_login(sandbox *sb, sandbox_response *res, const char *kind,
                           const char *subject, const char *uid);

/*
 * Issue a new JWT for user session `session_id` (same CSRF token), extend the
 * session, and answer the refresh on `res`: 200, the cookies and {"sub"}.
 */
int sandbox_sessions_refresh(sandbox *sb, sandbox_response *res, const char *session_id,
                             const char *subject, const char *uid);

/* Mark a session dead; every later use of its tokens is refused. */
int sandbox_sessions_end(sandbox *sb, const char *session_id);

#endif
