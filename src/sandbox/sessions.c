#include "sessions.h"
#include "store.h"
#include "core/base64.h"
#include "core/random.h"

#include <openssl/crypto.h>
#include <string.h>

#define SECRET_META_KEY "jwt_secret"
#define CSRF_LEN 40
#define OPAQUE_TOKEN_LEN 48

int sandbox_sessions_secret(sandbox *sb, unsigned char out[SANDBOX_JWT_SECRET_LEN])
{
    char text[128];
    unsigned char fresh[SANDBOX_JWT_SECRET_LEN];
    igtcloud__buf buf = IGTCLOUD_BUF_INIT;
    int rc = -1;
    int found = sandbox_store_meta_get(sb->store, SECRET_META_KEY, text, sizeof(text));
    if (found == SQLITE_NOTFOUND) {
        if (igtcloud__random_bytes(fresh, sizeof(fresh)) ||
            igtcloud__base64_encode(&buf, fresh, sizeof(fresh)) ||
            sandbox_store_meta_set(sb->store, SECRET_META_KEY, buf.ptr) != SQLITE_OK)
            goto done;
        memcpy(out, fresh, sizeof(fresh));
        rc = 0;
        goto done;
    }
    if (found != SQLITE_OK || igtcloud__base64_decode(&buf, text, strlen(text)) ||
        buf.size != SANDBOX_JWT_SECRET_LEN)
        goto done;
    memcpy(out, buf.ptr, SANDBOX_JWT_SECRET_LEN);
    rc = 0;
done:
    if (buf.ptr)
        OPENSSL_cleanse(buf.ptr, buf.size);
    OPENSSL_cleanse(fresh, sizeof(fresh));
    OPENSSL_cleanse(text, sizeof(text));
    igtcloud__buf_dispose(&buf);
    return rc;
}

/*
 * Sign a JWT for the session and hand it over as the cloud does: header and
 * payload in one cookie with Max-Age first, the signature in an HttpOnly one.
 */
static int answer_with_token(sandbox *sb, sandbox_response *res, const char *session_id,
                             const char *kind, const char *subject, const char *uid,
                             time_t now)
{
    unsigned char secret[SANDBOX_JWT_SECRET_LEN];
    char access_token[OPAQUE_TOKEN_LEN + 1], refresh_token[OPAQUE_TOKEN_LEN + 1];
    igtcloud__buf token = IGTCLOUD_BUF_INIT, cookie = IGTCLOUD_BUF_INIT;
    json_t *claims = NULL;
    int rc = -1;
    long lifetime = sb->config.token_lifetime;
    if (sandbox_sessions_secret(sb, secret) ||
        igtcloud__random_token(access_token, OPAQUE_TOKEN_LEN) ||
        igtcloud__random_token(refresh_token, OPAQUE_TOKEN_LEN))
        goto done;
    claims = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s}", "sub", subject, "uid", uid,
                       "exp", (json_int_t)(now + lifetime), "iat", (json_int_t)now,
                       "jti", session_id, "access_token", access_token);
    /* Services have no refresh token: they log in again with a new assertion. */
    if (!claims || (strcmp(kind, "user") == 0 &&
                    json_object_set_new(claims, "refresh_token", json_string(refresh_token))))
        goto done;
    if (sandbox_jwt_sign_hs256(&token, claims, secret, sizeof(secret)))
        goto done;
    const char *last_dot = strrchr(token.ptr, '.');
    if (!last_dot ||
        igtcloud__buf_printf(&cookie, "jwt_header_payload=%.*s; Max-Age=%ld; Secure; "
                             "SameSite=Strict; Path=/",
                             (int)(last_dot - token.ptr), token.ptr, lifetime) ||
        sandbox_response_header(res, "Set-Cookie", cookie.ptr))
        goto done;
    igtcloud__buf_clear(&cookie);
    if (igtcloud__buf_printf(&cookie, "jwt_signature=%s; Secure; HttpOnly; Path=/",
                             last_dot + 1) ||
        sandbox_response_header(res, "Set-Cookie", cookie.ptr))
        goto done;
    rc = 0;
done:
    OPENSSL_cleanse(secret, sizeof(secret));
    json_decref(claims);
    igtcloud__buf_dispose(&token);
    igtcloud__buf_dispose(&cookie);
    return rc;
}

/* Drop any cookie already added, so a failed answer carries no token. */
static void fail(sandbox_response *res)
{
    sandbox_response_dispose(res);
    sandbox_response_error(res, 500, "could not issue a session token");
}

int sandbox_sessions_login(sandbox *sb, sandbox_response *res, const char *kind,
                           const char *subject, const char *uid)
{
    char session_id[37], csrf[CSRF_LEN + 1];
    sqlite3_stmt *stmt = NULL;
    time_t now = time(NULL);
    int rc = -1;
    if (sandbox_uuid(session_id) || igtcloud__random_token(csrf, CSRF_LEN))
        goto done;
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                           "INSERT INTO sessions(id, subject, kind, csrf, created, expires, alive)"
                           " VALUES(?, ?, ?, ?, ?, ?, 1)", -1, &stmt, NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_text(stmt, 1, session_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, subject, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, csrf, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 5, (sqlite3_int64)now);
    sqlite3_bind_int64(stmt, 6, (sqlite3_int64)(now + sb->config.token_lifetime));
    if (sqlite3_step(stmt) != SQLITE_DONE)
        goto done;
    if (answer_with_token(sb, res, session_id, kind, subject, uid, now))
        goto done;
    sandbox_response_json(res, 200, json_pack("{s:s, s:s}", "CSRFToken", csrf, "sub", subject));
    rc = 0;
done:
    sqlite3_finalize(stmt);
    OPENSSL_cleanse(csrf, sizeof(csrf));
    if (rc)
        fail(res);
    return rc;
}

int sandbox_sessions_refresh(sandbox *sb, sandbox_response *res, const char *session_id,
                             const char *subject, const char *uid)
{
    sqlite3_stmt *stmt = NULL;
    time_t now = time(NULL);
    int rc = -1;
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                           "UPDATE sessions SET expires = ? WHERE id = ? AND alive = 1", -1,
                           &stmt, NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)(now + sb->config.token_lifetime));
    sqlite3_bind_text(stmt, 2, session_id, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE ||
        sqlite3_changes(sandbox_store_db(sb->store)) != 1)
        goto done;
    if (answer_with_token(sb, res, session_id, "user", subject, uid, now))
        goto done;
    sandbox_response_json(res, 200, json_pack("{s:s}", "sub", subject));
    rc = 0;
done:
    sqlite3_finalize(stmt);
    if (rc)
        fail(res);
    return rc;
}

int sandbox_sessions_end(sandbox *sb, const char *session_id)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                           "UPDATE sessions SET alive = 0 WHERE id = ?", -1, &stmt,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(stmt, 1, session_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(stmt);
    return rc;
}
