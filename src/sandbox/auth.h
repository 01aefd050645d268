#ifndef SANDBOX_AUTH_H
#define SANDBOX_AUTH_H

#include "sandbox.h"

/* Who made an authenticated request. */
typedef enum { SANDBOX_PRINCIPAL_USER, SANDBOX_PRINCIPAL_SERVICE } sandbox_principal_kind;

typedef struct sandbox_principal {
    sandbox_principal_kind kind;
    char subject[128];         /* user login or service id (the JWT's sub) */
    long long user_id;         /* users.id for users, 0 for services */
    char institute_id[64];     /* the service's institute; "" for users */
    char session_id[64];       /* sessions.id (the JWT's jti) */
} sandbox_principal;

/*
 * Authenticate a request as PROTOCOL.md section 2 says: X-JWT signed by the
 * sandbox and not expired, its session still alive, and X-CSRF-TOKEN equal to
 * the session's CSRF token. Returns 0 and fills *out; otherwise sets a 401 on
 * res and returns -1. Call with the store lock held (API handlers are).
 */
int sandbox_auth_require(const sandbox_request *req, sandbox_response *res,
                         sandbox_principal *out);

/* As sandbox_auth_require without the X-CSRF-TOKEN check: logout sends X-JWT only. */
int sandbox_auth_require_jwt(const sandbox_request *req, sandbox_response *res,
                             sandbox_principal *out);

#endif
