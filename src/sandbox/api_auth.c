#include "router.h"
#include "auth.h"
#include "credentials.h"
#include "jwt.h"
#include "password.h"
#include "sessions.h"
#include "store.h"

#include <string.h>

/*
 * The auth service (/api/auth, PROTOCOL.md section 2): logins with a
 * password or a service's RS256 assertion, refresh, logout, introspection
 * and prefix-scoped S3 credentials.
 */

/* Same iteration count as password.c, so an unknown user costs what a known one does. */
static const char dummy_hash[] =
    "pbkdf2-sha256$600000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

static void audience(const sandbox *sb, char *out, size_t size)
{
    snprintf(out, size, "%s/api/auth/token", sb->api_url);
}

/* GET /api/auth/login/$aud: the audience a service's assertion must name. */
static void get_audience(sandbox_request *req, sandbox_response *res)
{
    char aud[256];
    audience(req->sb, aud, sizeof(aud));
    sandbox_response_json(res, 200, json_string(aud));
}

/* A required string field of the login body; sets a 400 naming it when absent. */
static const char *required_string(json_t *body, const char *name, sandbox_response *res)
{
    const char *value = json_string_value(json_object_get(body, name));
    if (!value)
        sandbox_response_error(res, 400, "missing field '%s' (a string)", name);
    return value;
}

static void login_password(sandbox_request *req, sandbox_response *res, json_t *body)
{
    char uuid[64] = "";
    char *stored_hash = NULL;
    sqlite3_stmt *stmt = NULL;
    const char *username = required_string(body, "username", res);
    const char *password = username ? required_string(body, "password", res) : NULL;
    if (!username || !password)
        return;
    if (sqlite3_prepare_v2(sandbox_store_db(req->sb->store),
                           "SELECT uuid, password_hash FROM users WHERE login = ?", -1, &stmt,
                           NULL) != SQLITE_OK) {
        sandbox_response_error(res, 500, "user lookup failed");
        return;
    }
    sqlite3_bind_text(stmt, 1, username, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        snprintf(uuid, sizeof(uuid), "%s", (const char *)sqlite3_column_text(stmt, 0));
        stored_hash = strdup((const char *)sqlite3_column_text(stmt, 1));
    }
    sqlite3_finalize(stmt);
    int ok = sandbox_password_verify(stored_hash ? stored_hash : dummy_hash, password);
    if (!stored_hash || !ok)
        sandbox_response_error(res, 401, "invalid username or password");
    else
        sandbox_sessions_login(req->sb, res, "user", username, uuid);
    free(stored_hash);
}

static char *service_public_key(sandbox *sb, const char *service_id)
{
    sqlite3_stmt *stmt = NULL;
    char *pem = NULL;
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                           "SELECT public_key_pem FROM services WHERE service_id = ?", -1,
                           &stmt, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(stmt, 1, service_id, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        pem = strdup((const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return pem;
}

static void login_service(sandbox_request *req, sandbox_response *res, json_t *body)
{
    sandbox_jwt jwt = SANDBOX_JWT_INIT;
    char *pem = NULL;
    char aud[256];
    const char *why = NULL;
    const char *assertion = required_string(body, "assertion", res);
    if (!assertion)
        return;
    if (sandbox_jwt_parse(&jwt, assertion, strlen(assertion))) {
        sandbox_response_error(res, 401, "assertion is not a valid JWT");
        goto done;
    }
    const char *iss = json_string_value(json_object_get(jwt.claims, "iss"));
    pem = iss ? service_public_key(req->sb, iss) : NULL;
    if (!pem) {
        sandbox_response_error(res, 401, "assertion iss does not name a known service identity");
        goto done;
    }
    audience(req->sb, aud, sizeof(aud));
    if (sandbox_jwt_check_assertion(&jwt, pem, aud, iss, time(NULL), &why)) {
        sandbox_response_error(res, 401, "%s", why);
        goto done;
    }
    sandbox_sessions_login(req->sb, res, "service", iss, iss);
done:
    free(pem);
    sandbox_jwt_dispose(&jwt);
}

/* POST /api/auth/login */
static void post_login(sandbox_request *req, sandbox_response *res)
{
    json_t *body = sandbox_request_json(req, res);
    if (!body)
        return;
    if (!json_is_object(body)) {
        sandbox_response_error(res, 400, "a JSON object is expected");
        goto done;
    }
    const char *grant = required_string(body, "grantType", res);
    if (!grant)
        goto done;
    if (strcmp(grant, "password") == 0)
        login_password(req, res, body);
    else if (strcmp(grant, "jwt-key") == 0)
        login_service(req, res, body);
    else
        sandbox_response_error(res, 400, "unknown grantType; use 'password' or 'jwt-key'");
done:
    json_decref(body);
}

static int user_uuid(sandbox *sb, long long user_id, char *out, size_t size)
{
    sqlite3_stmt *stmt = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store), "SELECT uuid FROM users WHERE id = ?",
                           -1, &stmt, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(stmt, 1, user_id);
    if (sqlite3_step(stmt) == SQLITE_ROW &&
        (size_t)snprintf(out, size, "%s", (const char *)sqlite3_column_text(stmt, 0)) < size)
        rc = 0;
    sqlite3_finalize(stmt);
    return rc;
}

/* POST /api/auth/refresh */
static void post_refresh(sandbox_request *req, sandbox_response *res)
{
    sandbox_principal who;
    char uuid[64];
    if (sandbox_auth_require(req, res, &who))
        return;
    if (who.kind == SANDBOX_PRINCIPAL_SERVICE) {
        sandbox_response_error(res, 400, "service identities cannot refresh; "
                                         "log in again with a new assertion");
        return;
    }
    if (user_uuid(req->sb, who.user_id, uuid, sizeof(uuid))) {
        sandbox_response_error(res, 500, "user lookup failed");
        return;
    }
    sandbox_sessions_refresh(req->sb, res, who.session_id, who.subject, uuid);
}

/* POST /api/auth/logout: X-JWT only, as the reference sends it. */
static void post_logout(sandbox_request *req, sandbox_response *res)
{
    sandbox_principal who;
    if (sandbox_auth_require_jwt(req, res, &who))
        return;
    if (sandbox_sessions_end(req->sb, who.session_id)) {
        sandbox_response_error(res, 500, "could not end the session");
        return;
    }
    sandbox_response_json(res, 200, json_pack("{s:b}", "success", 1));
}

static json_t *permissions_of(const sandbox_principal *who, int has_membership)
{
    if (who->kind == SANDBOX_PRINCIPAL_SERVICE)
        return json_pack("[s]", "S3.PUT");
    if (!has_membership)
        return json_array();
    return json_pack("[s, s, s, s, s]", "DATA.READ", "DATA.WRITE", "S3.GET", "S3.PUT",
                     "SERVICE.MANAGE");
}

/*
 * The organisations the principal belongs to: for a user every project they
 * are a member of and its institutes (with the membership role); for a
 * service its institute.
 */
static json_t *organizations_of(sandbox *sb, const sandbox_principal *who, json_t *roles)
{
    sqlite3_stmt *stmt = NULL;
    json_t *list = json_array();
    json_t *result = NULL;
    const char *sql = who->kind == SANDBOX_PRINCIPAL_SERVICE
        ? "SELECT id, name, 'SERVICE' FROM institutes WHERE id = ?2"
        : "SELECT p.id, p.name, COALESCE(m.role, 'MEMBER') FROM memberships m"
          " JOIN projects p ON p.id = m.project_id WHERE m.user_id = ?1"
          " UNION ALL"
          " SELECT i.id, i.name, COALESCE(m.role, 'MEMBER') FROM memberships m"
          " JOIN institutes i ON i.project_id = m.project_id WHERE m.user_id = ?1";
    if (!list || sqlite3_prepare_v2(sandbox_store_db(sb->store), sql, -1, &stmt, NULL) != SQLITE_OK)
        goto done;
    if (who->kind == SANDBOX_PRINCIPAL_SERVICE)
        sqlite3_bind_text(stmt, 2, who->institute_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(stmt, 1, who->user_id);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *role = (const char *)sqlite3_column_text(stmt, 2);
        json_t *org = json_pack("{s:s, s:s, s:o, s:[s], s:[]}",
                                "organizationId", (const char *)sqlite3_column_text(stmt, 0),
                                "organizationName", (const char *)sqlite3_column_text(stmt, 1),
                                "permissions", permissions_of(who, 1), "roles", role,
                                "groups");
        if (!org || json_array_append_new(list, org))
            goto done;
        int known = 0;
        size_t i;
        json_t *r;
        json_array_foreach(roles, i, r) {
            known |= strcmp(json_string_value(r), role) == 0;
        }
        if (!known && json_array_append_new(roles, json_string(role)))
            goto done;
    }
    if (rc != SQLITE_DONE)
        goto done;
    json_t *first = json_array_get(list, 0);
    const char *managing = json_string_value(json_object_get(first, "organizationId"));
    result = json_pack("{s:s, s:O}", "managingOrganization", managing ? managing : "",
                       "organizationList", list);
done:
    sqlite3_finalize(stmt);
    json_decref(list);
    return result;
}

/* GET /api/auth/introspect */
static void get_introspect(sandbox_request *req, sandbox_response *res)
{
    sandbox_principal who;
    sandbox_jwt jwt = SANDBOX_JWT_INIT;
    json_t *roles = NULL, *orgs = NULL, *body = NULL;
    if (sandbox_auth_require(req, res, &who))
        return;
    /* Verified just now; parse again for the claims. */
    const char *token = sandbox_request_header(req, "X-JWT");
    roles = json_array();
    if (sandbox_jwt_parse(&jwt, token, strlen(token)) || !roles)
        goto fail;
    orgs = organizations_of(req->sb, &who, roles);
    const char *uid = json_string_value(json_object_get(jwt.claims, "uid"));
    json_t *exp = json_object_get(jwt.claims, "exp");
    int service = who.kind == SANDBOX_PRINCIPAL_SERVICE;
    if (!orgs || !json_is_integer(exp))
        goto fail;
    body = json_pack("{s:b, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:O}",
                     "active", 1, "exp", json_integer_value(exp), "sub", who.subject,
                     "user", uid ? uid : who.subject,
                     "identity_type", service ? "Service" : "User",
                     "token_type", "Bearer", "client_id", "igtcloud-sandbox",
                     "iss", req->sb->api_url,
                     "scope", service ? "openid s3.put" : "openid s3.get s3.put",
                     "organizations", orgs, "roles", roles);
    if (!body)
        goto fail;
    sandbox_response_json(res, 200, body);
    goto done;
fail:
    sandbox_response_error(res, 500, "could not describe the token");
done:
    json_decref(orgs);
    json_decref(roles);
    sandbox_jwt_dispose(&jwt);
}

static int has_membership(sandbox *sb, long long user_id)
{
    sqlite3_stmt *stmt = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                           "SELECT 1 FROM memberships WHERE user_id = ? LIMIT 1", -1, &stmt,
                           NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(stmt, 1, user_id);
    found = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_finalize(stmt);
    return found;
}

/* GET /api/auth/permissions */
static void get_permissions(sandbox_request *req, sandbox_response *res)
{
    sandbox_principal who;
    if (sandbox_auth_require(req, res, &who))
        return;
    int member = who.kind == SANDBOX_PRINCIPAL_USER && has_membership(req->sb, who.user_id);
    sandbox_response_json(res, 200, json_pack("{s:o}", "permissions",
                                              permissions_of(&who, member)));
}

/* POST /api/auth/audit-trail: accepted and dropped; the sandbox keeps no audit log. */
static void post_audit_trail(sandbox_request *req, sandbox_response *res)
{
    sandbox_principal who;
    if (sandbox_auth_require(req, res, &who))
        return;
    json_t *body = sandbox_request_json(req, res);
    if (!body)
        return;
    if (!json_is_object(body))
        sandbox_response_error(res, 400, "an AuditTrail JSON object is expected");
    else
        sandbox_response_json(res, 200, json_object());
    json_decref(body);
}

/* GET /api/auth/s3credentials?action=GET|PUT&prefix=P */
static void get_s3credentials(sandbox_request *req, sandbox_response *res)
{
    sandbox_principal who;
    const char *why = NULL;
    json_t *body = NULL;
    if (sandbox_auth_require(req, res, &who))
        return;
    const char *action = sandbox_request_query(req, "action");
    const char *prefix = sandbox_request_query(req, "prefix");
    int status = sandbox_credentials_check(req->sb, &who, action, prefix, &why);
    if (status) {
        sandbox_response_error(res, status, "%s", why);
        return;
    }
    if (sandbox_credentials_issue(&body, req->sb, &who, action, prefix, time(NULL))) {
        sandbox_response_error(res, 500, "could not issue credentials");
        return;
    }
    sandbox_response_json(res, 200, body);
}

const sandbox_route sandbox_auth_routes[] = {
    { "GET", "/api/auth/login/$aud", get_audience },
    { "POST", "/api/auth/login", post_login },
    { "POST", "/api/auth/refresh", post_refresh },
    { "POST", "/api/auth/logout", post_logout },
    { "GET", "/api/auth/introspect", get_introspect },
    { "GET", "/api/auth/permissions", get_permissions },
    { "POST", "/api/auth/audit-trail", post_audit_trail },
    { "GET", "/api/auth/s3credentials", get_s3credentials },
    { NULL, NULL, NULL },
};
