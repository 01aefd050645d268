#include "router.h"
#include "auth.h"
#include "store.h"
#include "core/isotime.h"
#include "core/random.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <string.h>

/*
 * Service identities of an institute (/api/data/organizations/{id}/services).
 * A service logs in with an RS256 assertion signed by its private key; the
 * sandbox keeps only the public key, so the private key is shown once, in
 * the creation response.
 *
 * Like the real cloud, privateKey is one line: the PEM armour and the base64
 * body with every newline removed ("-----BEGIN PRIVATE KEY-----MIIE...
 * -----END PRIVATE KEY-----"). Clients must put the armour on lines of their
 * own and re-wrap the body at 64 characters before handing it to a PEM
 * parser.
 */

#define SERVICE_KEY_BITS 2048
#define SERVICE_NAME_MAX 64
#define SERVICE_SUFFIX_LEN 8
#define SERVICE_DOMAIN "@sandbox.igtcloud"
#define SERVICE_VALIDITY (365L * 86400)

/*
 * Answer 403 for services and 404 unless the institute exists and the user
 * is a member of its project (not telling the two apart, as the cloud does).
 */
static int authorize(sandbox_request *req, sandbox_response *res)
{
    sandbox_principal who;
    sqlite3_stmt *stmt = NULL;
    if (sandbox_auth_require(req, res, &who))
        return -1;
    if (who.kind == SANDBOX_PRINCIPAL_SERVICE) {
        sandbox_response_error(res, 403, "service identities cannot manage services");
        return -1;
    }
    if (sqlite3_prepare_v2(sandbox_store_db(req->sb->store),
                           "SELECT 1 FROM institutes i JOIN memberships m"
                           " ON m.project_id = i.project_id WHERE i.id = ? AND m.user_id = ?",
                           -1, &stmt, NULL) != SQLITE_OK) {
        sandbox_response_error(res, 500, "institute lookup failed");
        return -1;
    }
    sqlite3_bind_text(stmt, 1, req->params[0], -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, who.user_id);
    int found = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_finalize(stmt);
    if (!found) {
        sandbox_response_error(res, 404, "no such institute: %s", req->params[0]);
        return -1;
    }
    return 0;
}

/* The name becomes part of the service id, which clients use as a file name. */
static int valid_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > SERVICE_NAME_MAX || name[0] == '.' || name[0] == '-')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

static int random_lower(char *out, size_t len)
{
    unsigned char bytes[32];
    size_t done = 0;
    while (done < len) {
        if (igtcloud__random_bytes(bytes, sizeof(bytes)))
            return -1;
        /* Rejection sampling keeps the letters uniform (234 = 9 * 26). */
        for (size_t i = 0; i < sizeof(bytes) && done < len; i++) {
            if (bytes[i] < 234)
                out[done++] = (char)('a' + bytes[i] % 26);
        }
    }
    out[len] = '\0';
    return 0;
}

/* Append the PEM text of a BIO to out, without newlines when `one_line`. */
static int take_pem(igtcloud__buf *out, BIO *bio, int one_line)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    if (len <= 0)
        return -1;
    for (long i = 0; i < len; i++) {
        if (one_line && (data[i] == '\n' || data[i] == '\r'))
            continue;
        if (igtcloud__buf_putc(out, data[i]))
            return -1;
    }
    return 0;
}

static int generate_key_pair(igtcloud__buf *private_pem, igtcloud__buf *public_pem)
{
    EVP_PKEY *key = EVP_RSA_gen(SERVICE_KEY_BITS);
    BIO *priv = BIO_new(BIO_s_mem());
    BIO *pub = BIO_new(BIO_s_mem());
    int rc = -1;
    if (!key || !priv || !pub ||
        PEM_write_bio_PrivateKey(priv, key, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_bio_PUBKEY(pub, key) != 1 ||
        take_pem(private_pem, priv, 1) || take_pem(public_pem, pub, 0))
        goto done;
    rc = 0;
done:
    /* The memory BIO held the private key; wipe it before it is freed. */
    if (priv) {
        char *data = NULL;
        long len = BIO_get_mem_data(priv, &data);
        if (len > 0)
            OPENSSL_cleanse(data, (size_t)len);
    }
    BIO_free(priv);
    BIO_free(pub);
    EVP_PKEY_free(key);
    return rc;
}

/* POST /api/data/organizations/{institute}/services {"name"} */
static void post_service(sandbox_request *req, sandbox_response *res)
{
    igtcloud__buf private_pem = IGTCLOUD_BUF_INIT, public_pem = IGTCLOUD_BUF_INIT;
    igtcloud__buf service_id = IGTCLOUD_BUF_INIT;
    json_t *body = NULL, *service = NULL, *reply = NULL;
    sqlite3_stmt *stmt = NULL;
    char *stored = NULL;
    char id[37], suffix[SERVICE_SUFFIX_LEN + 1], expires[IGTCLOUD_ISOTIME_LEN];
    time_t now = time(NULL);

    if (authorize(req, res))
        return;
    body = sandbox_request_json(req, res);
    if (!body)
        goto done;
    const char *name = json_string_value(json_object_get(body, "name"));
    if (!json_is_object(body) || !name) {
        sandbox_response_error(res, 400, "missing field 'name' (a string)");
        goto done;
    }
    if (!valid_name(name)) {
        sandbox_response_error(res, 400, "field 'name' must be 1 to %d letters, digits, "
                               "'-', '_' or '.', starting with a letter or digit",
                               SERVICE_NAME_MAX);
        goto done;
    }
    if (sandbox_uuid(id) || random_lower(suffix, SERVICE_SUFFIX_LEN) ||
        igtcloud__buf_printf(&service_id, "%s.%s%s", name, suffix, SERVICE_DOMAIN) ||
        generate_key_pair(&private_pem, &public_pem))
        goto fail;
    igtcloud__isotime_format(expires, now + SERVICE_VALIDITY);
    service = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s], s:[s], s:s}", "id", id,
                        "serviceId", service_id.ptr, "name", name,
                        "organizationId", req->params[0], "expiresOn", expires,
                        "scopes", "openid", "defaultScopes", "openid",
                        "applicationId", "igtcloud-sandbox");
    stored = service ? json_dumps(service, JSON_COMPACT) : NULL;
    if (!stored)
        goto fail;
    if (sqlite3_prepare_v2(sandbox_store_db(req->sb->store),
                           "INSERT INTO services(service_id, name, institute_id,"
                           " public_key_pem, created, json) VALUES(?, ?, ?, ?, ?, ?)",
                           -1, &stmt, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(stmt, 1, service_id.ptr, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, req->params[0], -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, public_pem.ptr, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 5, (sqlite3_int64)now);
    sqlite3_bind_text(stmt, 6, stored, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        goto fail;
    reply = json_deep_copy(service);
    if (!reply || json_object_set_new(reply, "privateKey", json_string(private_pem.ptr)))
        goto fail;
    sandbox_response_json(res, 201, reply);
    reply = NULL;
    goto done;
fail:
    sandbox_response_error(res, 500, "could not create the service identity");
done:
    if (private_pem.ptr)
        OPENSSL_cleanse(private_pem.ptr, private_pem.size);
    igtcloud__buf_dispose(&private_pem);
    igtcloud__buf_dispose(&public_pem);
    igtcloud__buf_dispose(&service_id);
    sqlite3_finalize(stmt);
    free(stored);
    json_decref(reply);
    json_decref(service);
    json_decref(body);
}

/* GET /api/data/organizations/{institute}/services: never with private keys. */
static void get_services(sandbox_request *req, sandbox_response *res)
{
    sqlite3_stmt *stmt = NULL;
    json_t *list = NULL;
    int rc;
    if (authorize(req, res))
        return;
    list = json_array();
    if (!list || sqlite3_prepare_v2(sandbox_store_db(req->sb->store),
                                    "SELECT json FROM services WHERE institute_id = ?"
                                    " ORDER BY created, rowid", -1, &stmt, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(stmt, 1, req->params[0], -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        json_t *item = json_loads((const char *)sqlite3_column_text(stmt, 0), 0, NULL);
        if (!item || json_array_append_new(list, item))
            goto fail;
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sandbox_response_json(res, 200, list);
    list = NULL;
    goto done;
fail:
    sandbox_response_error(res, 500, "could not list the service identities");
done:
    sqlite3_finalize(stmt);
    json_decref(list);
}

static int exec_bound(sqlite3 *db, const char *sql, const char *value)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(stmt, 1, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(stmt);
    return rc;
}

/*
 * DELETE /api/data/organizations/{institute}/services/{id or serviceId}:
 * the identity's sessions end and its S3 credentials go with it.
 */
static void delete_service(sandbox_request *req, sandbox_response *res)
{
    sqlite3 *db = sandbox_store_db(req->sb->store);
    sqlite3_stmt *stmt = NULL;
    char *service_id = NULL;
    int in_transaction = 0;
    if (authorize(req, res))
        return;
    if (sqlite3_prepare_v2(db, "SELECT service_id FROM services WHERE institute_id = ?"
                               " AND (service_id = ?2 OR json_extract(json, '$.id') = ?2)",
                           -1, &stmt, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(stmt, 1, req->params[0], -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, req->params[1], -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        service_id = strdup((const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    if (!service_id) {
        sandbox_response_error(res, 404, "no such service: %s", req->params[1]);
        return;
    }
    if (sandbox_store_begin(req->sb->store) != SQLITE_OK)
        goto fail;
    in_transaction = 1;
    if (exec_bound(db, "DELETE FROM services WHERE service_id = ?", service_id) ||
        exec_bound(db, "UPDATE sessions SET alive = 0 WHERE kind = 'service' AND subject = ?",
                   service_id) ||
        exec_bound(db, "DELETE FROM credentials WHERE subject = ?", service_id) ||
        sandbox_store_commit(req->sb->store) != SQLITE_OK)
        goto fail;
    in_transaction = 0;
    res->status = 204;
    goto done;
fail:
    if (in_transaction)
        sandbox_store_rollback(req->sb->store);
    sandbox_response_error(res, 500, "could not delete the service identity");
done:
    free(service_id);
}

const sandbox_route sandbox_service_routes[] = {
    { "GET", "/api/data/organizations/{}/services", get_services },
    { "POST", "/api/data/organizations/{}/services", post_service },
    { "DELETE", "/api/data/organizations/{}/services/{}", delete_service },
    { NULL, NULL, NULL },
};
