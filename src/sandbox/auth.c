#include "auth.h"
#include "jwt.h"
#include "sessions.h"
#include "store.h"
#include "users.h"
#include "core/hash.h"

#include <openssl/crypto.h>
#include <string.h>

/* Copy src into a fixed field; 0 when it fits. */
static int copy_field(char *dst, size_t size, const char *src)
{
    return src && (size_t)snprintf(dst, size, "%s", src) < size ? 0 : -1;
}

static int find_service_institute(sandbox *sb, const char *service_id, char *out, size_t size)
{
    sqlite3_stmt *stmt = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                           "SELECT institute_id FROM services WHERE service_id = ?", -1, &stmt,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(stmt, 1, service_id, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        rc = copy_field(out, size, (const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return rc;
}

/*
 * The checks shared by every protected call. Messages name what is wrong
 * with the request but never echo a token.
 */
static int authenticate(const sandbox_request *req, sandbox_response *res,
                        sandbox_principal *out, int need_csrf)
{
    unsigned char secret[SANDBOX_JWT_SECRET_LEN];
    sandbox_jwt jwt = SANDBOX_JWT_INIT;
    sqlite3_stmt *stmt = NULL;
    sandbox_principal p;
    const char *message = "invalid token";
    int status = 401;
    time_t now = time(NULL);
    memset(&p, 0, sizeof(p));

    const char *token = sandbox_request_header(req, "X-JWT");
    if (!token || !*token) {
        message = "missing X-JWT header";
        goto done;
    }
    if (sandbox_sessions_secret(req->sb, secret)) {
        status = 500;
        message = "cannot read the token signing secret";
        goto done;
    }
    int verified = sandbox_jwt_verify_session(&jwt, token, strlen(token), secret,
                                              sizeof(secret), now);
    if (verified == SANDBOX_JWT_EXPIRED) {
        message = "token has expired";
        goto done;
    }
    if (verified)
        goto done;
    const char *sub = json_string_value(json_object_get(jwt.claims, "sub"));
    const char *jti = json_string_value(json_object_get(jwt.claims, "jti"));
    if (sqlite3_prepare_v2(sandbox_store_db(req->sb->store),
                           "SELECT subject, kind, csrf, expires, alive FROM sessions"
                           " WHERE id = ?", -1, &stmt, NULL) != SQLITE_OK) {
        status = 500;
        message = "session lookup failed";
        goto done;
    }
    sqlite3_bind_text(stmt, 1, jti, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_ROW || sqlite3_column_int(stmt, 4) != 1) {
        message = "session has ended";
        goto done;
    }
    if (sqlite3_column_int64(stmt, 3) <= (sqlite3_int64)now) {
        message = "session has expired";
        goto done;
    }
    const char *subject = (const char *)sqlite3_column_text(stmt, 0);
    const char *kind = (const char *)sqlite3_column_text(stmt, 1);
    const char *csrf = (const char *)sqlite3_column_text(stmt, 2);
    if (!subject || !kind || !csrf || strcmp(subject, sub) != 0)
        goto done;
    if (need_csrf) {
        const char *given = sandbox_request_header(req, "X-CSRF-TOKEN");
        size_t len = strlen(csrf);
        if (!given || strlen(given) != len || !igtcloud__equal_secret(given, csrf, len)) {
            message = "missing or wrong X-CSRF-TOKEN header";
            goto done;
        }
    }
    if (copy_field(p.subject, sizeof(p.subject), subject) ||
        copy_field(p.session_id, sizeof(p.session_id), jti))
        goto done;
    if (strcmp(kind, "service") == 0) {
        p.kind = SANDBOX_PRINCIPAL_SERVICE;
        if (find_service_institute(req->sb, subject, p.institute_id, sizeof(p.institute_id))) {
            message = "service identity no longer exists";
            goto done;
        }
    } else {
        p.kind = SANDBOX_PRINCIPAL_USER;
        if (sandbox_users_find(req->sb, subject, &p.user_id)) {
            message = "user no longer exists";
            goto done;
        }
    }
    *out = p;
    status = 0;
done:
    OPENSSL_cleanse(secret, sizeof(secret));
    sqlite3_finalize(stmt);
    sandbox_jwt_dispose(&jwt);
    if (status) {
        sandbox_response_error(res, status, "%s", message);
        return -1;
    }
    return 0;
}

int sandbox_auth_require(const sandbox_request *req, sandbox_response *res,
                         sandbox_principal *out)
{
    return authenticate(req, res, out, 1);
}

int sandbox_auth_require_jwt(const sandbox_request *req, sandbox_response *res,
                             sandbox_principal *out)
{
    return authenticate(req, res, out, 0);
}
