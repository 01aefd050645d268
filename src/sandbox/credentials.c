#include "credentials.h"
#include "store.h"
#include "core/isotime.h"
#include "core/random.h"

#include <openssl/crypto.h>
#include <string.h>

#define MAX_PREFIX_LEN 1024
#define ACCESS_KEY_RANDOM_LEN 16
#define SECRET_KEY_LEN 40
#define SESSION_TOKEN_LEN 320

/*
 * S3 keys are plain strings, but the sandbox keeps objects as files and
 * prefixes end up in policies, so anything that reads like a path escape or
 * a control character is refused outright.
 */
static int prefix_is_sane(const char *prefix)
{
    size_t len = strlen(prefix);
    if (len == 0 || len > MAX_PREFIX_LEN || prefix[0] == '/')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)prefix[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            return 0;
    }
    for (const char *seg = prefix; *seg;) {
        size_t seg_len = strcspn(seg, "/");
        if (seg_len == 2 && seg[0] == '.' && seg[1] == '.')
            return 0;
        seg += seg_len;
        if (*seg == '/')
            seg++;
    }
    return 1;
}

/* `prefix` lies inside `base` (an s3_prefix), respecting segment boundaries. */
static int prefix_within(const char *prefix, const char *base)
{
    size_t len = base ? strlen(base) : 0;
    if (len == 0 || strncmp(prefix, base, len) != 0)
        return 0;
    return base[len - 1] == '/' || prefix[len] == '\0' || prefix[len] == '/';
}

static int any_row_contains(sqlite3_stmt *stmt, const char *prefix, int *allowed)
{
    int rc;
    *allowed = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (prefix_within(prefix, (const char *)sqlite3_column_text(stmt, 0)))
            *allowed = 1;
    }
    return rc == SQLITE_DONE ? 0 : -1;
}

int sandbox_credentials_check(sandbox *sb, const sandbox_principal *who, const char *action,
                              const char *prefix, const char **why)
{
    sqlite3_stmt *stmt = NULL;
    int allowed = 0;
    int status = 500;
    *why = "credential lookup failed";
    if (!action || (strcmp(action, "GET") != 0 && strcmp(action, "PUT") != 0)) {
        *why = "query parameter 'action' must be GET or PUT";
        return 400;
    }
    if (!prefix || !prefix_is_sane(prefix)) {
        *why = "query parameter 'prefix' must be a relative S3 prefix";
        return 400;
    }
    if (who->kind == SANDBOX_PRINCIPAL_SERVICE && strcmp(action, "PUT") != 0) {
        *why = "service identities may upload only";
        return 403;
    }
    const char *sql = who->kind == SANDBOX_PRINCIPAL_SERVICE
        ? "SELECT s3_prefix FROM institutes WHERE id = ?2"
        : "SELECT p.s3_prefix FROM projects p JOIN memberships m ON m.project_id = p.id"
          " WHERE m.user_id = ?1"
          " UNION ALL"
          " SELECT i.s3_prefix FROM institutes i JOIN memberships m"
          " ON m.project_id = i.project_id WHERE m.user_id = ?1";
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store), sql, -1, &stmt, NULL) != SQLITE_OK)
        goto done;
    if (who->kind == SANDBOX_PRINCIPAL_SERVICE)
        sqlite3_bind_text(stmt, 2, who->institute_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(stmt, 1, who->user_id);
    if (any_row_contains(stmt, prefix, &allowed))
        goto done;
    status = allowed ? 0 : 403;
    if (!allowed)
        *why = who->kind == SANDBOX_PRINCIPAL_SERVICE
            ? "the prefix is outside the service's institute"
            : "the prefix is outside every project you are a member of";
done:
    sqlite3_finalize(stmt);
    return status;
}

/* "ASIA" and 16 upper-case letters or digits, as AWS temporary keys look. */
static int make_access_key(char out[4 + ACCESS_KEY_RANDOM_LEN + 1])
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char bytes[64];
    size_t done = 0;
    memcpy(out, "ASIA", 4);
    while (done < ACCESS_KEY_RANDOM_LEN) {
        if (igtcloud__random_bytes(bytes, sizeof(bytes)))
            return -1;
        /* Rejection sampling keeps the characters uniform (252 = 7 * 36). */
        for (size_t i = 0; i < sizeof(bytes) && done < ACCESS_KEY_RANDOM_LEN; i++) {
            if (bytes[i] < 252)
                out[4 + done++] = alphabet[bytes[i] % 36];
        }
    }
    out[4 + ACCESS_KEY_RANDOM_LEN] = '\0';
    return 0;
}

static json_t *allowed_actions(const char *action)
{
    if (strcmp(action, "GET") == 0)
        return json_pack("[s, s]", "s3:GetObject", "s3:ListBucket");
    return json_pack("[s, s, s]", "s3:PutObject", "s3:AbortMultipartUpload",
                     "s3:ListMultipartUploadParts");
}

int sandbox_credentials_issue(json_t **out, sandbox *sb, const sandbox_principal *who,
                              const char *action, const char *prefix, time_t now)
{
    char access_key[4 + ACCESS_KEY_RANDOM_LEN + 1];
    char secret_key[SECRET_KEY_LEN + 1];
    char session_token[SESSION_TOKEN_LEN + 1];
    char expires_text[IGTCLOUD_ISOTIME_LEN];
    igtcloud__buf resource = IGTCLOUD_BUF_INIT;
    sqlite3_stmt *stmt = NULL;
    json_t *credentials = NULL, *body = NULL;
    int rc = -1;
    time_t expires = now + sb->config.credential_lifetime;

    if (make_access_key(access_key) || igtcloud__random_token(secret_key, SECRET_KEY_LEN) ||
        igtcloud__random_token(session_token, SESSION_TOKEN_LEN))
        goto done;
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                           "INSERT INTO credentials(access_key, secret_key, session_token,"
                           " action, prefix, subject, expires) VALUES(?, ?, ?, ?, ?, ?, ?)",
                           -1, &stmt, NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_text(stmt, 1, access_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, secret_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, session_token, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 6, who->subject, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 7, (sqlite3_int64)expires);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        goto done;

    igtcloud__isotime_format(expires_text, expires);
    credentials = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "accessKey", access_key,
                            "secretKey", secret_key, "sessionToken", session_token,
                            "bucket", sb->bucket, "expires", expires_text,
                            "region", sb->region);
    if (!credentials)
        goto done;
    /* Sandbox extension: where to send the S3 requests (absent on the real cloud). */
    if (sb->s3_url[0] &&
        json_object_set_new(credentials, "endpoint", json_string(sb->s3_url)))
        goto done;
    if (igtcloud__buf_printf(&resource, "arn:aws:s3:::%s/%s*", sb->bucket, prefix))
        goto done;
    body = json_pack("{s:[{s:O, s:{s:[s], s:o}, s:s}]}", "policyCredentials",
                     "credentials", credentials,
                     "allowed", "resources", resource.ptr, "actions", allowed_actions(action),
                     "resourceType", "S3");
    if (!body)
        goto done;
    *out = body;
    rc = 0;
done:
    OPENSSL_cleanse(secret_key, sizeof(secret_key));
    OPENSSL_cleanse(session_token, sizeof(session_token));
    json_decref(credentials);
    sqlite3_finalize(stmt);
    igtcloud__buf_dispose(&resource);
    return rc;
}
