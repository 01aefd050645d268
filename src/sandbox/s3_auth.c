#include "s3.h"
#include "store.h"
#include "s3/sigv4.h"
#include "core/error.h"
#include "core/hash.h"

#include <microhttpd.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/*
 * Authentication with the shared SigV4 module (src/lib/s3/sigv4.c, the same
 * canonicalisation the client signs with) and authorisation from the
 * credentials table that /api/auth/s3credentials fills.
 */

#define MAX_HEADERS 96

struct header_list {
    igtcloud__sigv4_header items[MAX_HEADERS];
    size_t count;
    int overflow;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    struct header_list *list = cls;
    if (list->count >= MAX_HEADERS) {
        list->overflow = 1;
        return MHD_NO;
    }
    list->items[list->count].name = key;
    list->items[list->count].value = value ? value : "";
    list->count++;
    return MHD_YES;
}

typedef struct credential_row {
    char secret[256];
    char session_token[1024];
    long long expires;
} credential_row;

/* 0 found, 1 unknown access key, -1 store error. */
static int load_credential(sandbox *sb, const char *access_key, sandbox_s3_grant *grant,
                           credential_row *row)
{
    sqlite3_stmt *stmt = NULL;
    int rc = -1;
    sandbox_store_lock(sb->store);
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                           "SELECT secret_key, session_token, action, prefix, expires"
                           " FROM credentials WHERE access_key = ?", -1, &stmt,
                           NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_text(stmt, 1, access_key, -1, SQLITE_STATIC);
    int step = sqlite3_step(stmt);
    if (step == SQLITE_DONE) {
        rc = 1;
    } else if (step == SQLITE_ROW) {
        const char *secret = (const char *)sqlite3_column_text(stmt, 0);
        const char *token = (const char *)sqlite3_column_text(stmt, 1);
        const char *action = (const char *)sqlite3_column_text(stmt, 2);
        const char *prefix = (const char *)sqlite3_column_text(stmt, 3);
        snprintf(row->secret, sizeof(row->secret), "%s", secret ? secret : "");
        snprintf(row->session_token, sizeof(row->session_token), "%s", token ? token : "");
        snprintf(grant->action, sizeof(grant->action), "%s", action ? action : "");
        snprintf(grant->prefix, sizeof(grant->prefix), "%s", prefix ? prefix : "");
        snprintf(grant->access_key, sizeof(grant->access_key), "%s", access_key);
        row->expires = sqlite3_column_int64(stmt, 4);
        rc = 0;
    }
done:
    sqlite3_finalize(stmt);
    sandbox_store_unlock(sb->store);
    return rc;
}

static int inside(const char *prefix, const char *key)
{
    return strncmp(key, prefix, strlen(prefix)) == 0;
}

/* May a credential with `grant` do req->op on req->key (or the listed prefix)? */
static int allowed(const sandbox_s3_req *req, const sandbox_s3_grant *grant)
{
    int get = strcmp(grant->action, "GET") == 0, put = strcmp(grant->action, "PUT") == 0;
    switch (req->op) {
    case SANDBOX_S3_OP_HEAD_BUCKET:
    case SANDBOX_S3_OP_LIST_BUCKETS:
        return get || put;
    case SANDBOX_S3_OP_LIST_OBJECTS_V2: {
        const char *prefix = sandbox_s3_query_get(&req->query, "prefix");
        return get && inside(grant->prefix, prefix ? prefix : "");
    }
    case SANDBOX_S3_OP_GET_OBJECT:
    case SANDBOX_S3_OP_HEAD_OBJECT:
        return get && inside(grant->prefix, req->key);
    case SANDBOX_S3_OP_PUT_OBJECT:
    case SANDBOX_S3_OP_DELETE_OBJECT:
    case SANDBOX_S3_OP_CREATE_MULTIPART_UPLOAD:
    case SANDBOX_S3_OP_UPLOAD_PART:
    case SANDBOX_S3_OP_COMPLETE_MULTIPART_UPLOAD:
    case SANDBOX_S3_OP_ABORT_MULTIPART_UPLOAD:
    case SANDBOX_S3_OP_LIST_PARTS:
        return put && inside(grant->prefix, req->key);
    default:
        return 0;
    }
}

static void malformed(sandbox_s3_req *req, int presigned, const char *detail)
{
    char message[400];
    snprintf(message, sizeof(message), "%s",
             detail && *detail ? detail : "The authorization is malformed.");
    sandbox_s3_fail(req, presigned ? "AuthorizationQueryParametersError"
                                   : "AuthorizationHeaderMalformed", message);
}

int sandbox_s3_authorize(sandbox_s3_req *req)
{
    sandbox *sb = req->sb;
    struct header_list headers;
    igtcloud__sigv4_auth auth;
    igtcloud__sigv4_signed computed;
    credential_row row;
    char message[300];
    int rc = -1;
    memset(&headers, 0, sizeof(headers));
    memset(&row, 0, sizeof(row));
    igtcloud__sigv4_auth_init(&auth);
    igtcloud__sigv4_signed_init(&computed);

    MHD_get_connection_values(req->connection, MHD_HEADER_KIND, collect_header, &headers);
    if (headers.overflow) {
        sandbox_s3_fail(req, "InvalidRequest", "Too many request headers.");
        goto done;
    }
    igtcloud__sigv4_request r;
    memset(&r, 0, sizeof(r));
    r.method = req->method;
    r.path = req->raw_path;
    r.query = req->raw_query;
    r.headers = headers.items;
    r.header_count = headers.count;
    r.payload_hash = NULL;

    int parsed = igtcloud__sigv4_parse_request(&auth, &r);
    if (parsed == IGTCLOUD_EAUTH) {
        sandbox_s3_fail(req, "AccessDenied", "Anonymous access is not allowed.");
        goto done;
    }
    if (parsed != 0) {
        malformed(req, sandbox_s3_query_get(&req->query, "X-Amz-Credential") != NULL,
                  igtcloud_error_last()->message);
        goto done;
    }
    if (strcmp(auth.region, sb->region) != 0) {
        snprintf(message, sizeof(message), "The authorization region '%s' is wrong; expecting '%s'.",
                 auth.region, sb->region);
        malformed(req, auth.presigned, message);
        goto done;
    }
    if (strcmp(auth.service, "s3") != 0) {
        malformed(req, auth.presigned, "The credential scope must name the service 's3'.");
        goto done;
    }
    if (!auth.presigned) {
        const char *content = sandbox_s3_header(req, "x-amz-content-sha256");
        if (!content) {
            sandbox_s3_fail(req, "InvalidRequest",
                            "Missing required header for this request: x-amz-content-sha256");
            goto done;
        }
    }
    int found = load_credential(sb, auth.access_key, &req->grant, &row);
    if (found < 0) {
        sandbox_s3_fail(req, "InternalError", NULL);
        goto done;
    }
    if (found > 0) {
        sandbox_s3_fail(req, "InvalidAccessKeyId", NULL);
        goto done;
    }
    time_t now = time(NULL);
    if (igtcloud__sigv4_check_time(&auth, now, IGTCLOUD_SIGV4_MAX_SKEW)) {
        if (auth.presigned)
            sandbox_s3_fail(req, "AccessDenied", auth.time > now ? "Request is not valid yet"
                                                                 : "Request has expired");
        else
            sandbox_s3_fail(req, "RequestTimeTooSkewed", NULL);
        goto done;
    }
    /* Every sandbox credential is temporary: its session token must come along. */
    size_t token_len = strlen(row.session_token);
    if (!auth.has_session_token || auth.session_token.size != token_len ||
        !igtcloud__equal_secret(igtcloud__buf_cstr(&auth.session_token), row.session_token,
                                token_len)) {
        sandbox_s3_fail(req, "InvalidToken", NULL);
        goto done;
    }
    if (row.expires <= (long long)now) {
        sandbox_s3_fail(req, "ExpiredToken", NULL);
        goto done;
    }
    int verified = igtcloud__sigv4_verify(&computed, &auth, &r, row.secret, NULL);
    if (verified == IGTCLOUD_EAUTH) {
        sandbox_s3_fail(req, "SignatureDoesNotMatch", NULL);
        goto done;
    }
    if (verified != 0) {
        malformed(req, auth.presigned, igtcloud_error_last()->message);
        goto done;
    }
    if (!allowed(req, &req->grant)) {
        sandbox_s3_fail(req, "AccessDenied", NULL);
        goto done;
    }
    rc = 0;
done:
    igtcloud__sigv4_signed_dispose(&computed);
    igtcloud__sigv4_auth_dispose(&auth);
    memset(&row, 0, sizeof(row));
    return rc;
}
