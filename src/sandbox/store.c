#include "store.h"
#include "core/random.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sandbox_store {
    sqlite3 *db;
    pthread_mutex_t lock;
};

/*
 * Study, project and institute objects are kept whole as JSON so that
 * type-specific and unknown fields round-trip unchanged; the columns beside
 * the JSON are the ones queries need.
 */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta("
    "  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS users("
    "  id INTEGER PRIMARY KEY, login TEXT UNIQUE NOT NULL, uuid TEXT UNIQUE NOT NULL,"
    "  password_hash TEXT NOT NULL, email TEXT, given_name TEXT, family_name TEXT);"
    "CREATE TABLE IF NOT EXISTS sessions("
    "  id TEXT PRIMARY KEY, subject TEXT NOT NULL, kind TEXT NOT NULL,"
    "  csrf TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL,"
    "  alive INTEGER NOT NULL DEFAULT 1);"
    "CREATE TABLE IF NOT EXISTS projects("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL, s3_prefix TEXT UNIQUE NOT NULL,"
    "  json TEXT NOT NULL, seq INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS memberships("
    "  user_id INTEGER NOT NULL REFERENCES users(id),"
    "  project_id TEXT NOT NULL REFERENCES projects(id), role TEXT,"
    "  PRIMARY KEY(user_id, project_id));"
    "CREATE TABLE IF NOT EXISTS institutes("
    "  id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id),"
    "  name TEXT NOT NULL, s3_prefix TEXT UNIQUE NOT NULL, json TEXT NOT NULL,"
    "  seq INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS services("
    "  service_id TEXT PRIMARY KEY, name TEXT NOT NULL,"
    "  institute_id TEXT NOT NULL REFERENCES institutes(id),"
    "  public_key_pem TEXT NOT NULL, created INTEGER NOT NULL, json TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS patients("
    "  id TEXT PRIMARY KEY, institute_id TEXT NOT NULL REFERENCES institutes(id),"
    "  patient_key TEXT NOT NULL, s3_prefix TEXT UNIQUE NOT NULL, json TEXT,"
    "  UNIQUE(institute_id, patient_key));"
    "CREATE TABLE IF NOT EXISTS studies("
    "  id TEXT PRIMARY KEY, institute_id TEXT NOT NULL REFERENCES institutes(id),"
    "  patient_id TEXT REFERENCES patients(id), study_type TEXT NOT NULL,"
    "  human_id TEXT NOT NULL, s3_prefix TEXT UNIQUE NOT NULL, json TEXT NOT NULL,"
    "  seq INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS studies_institute ON studies(institute_id, seq);"
    "CREATE INDEX IF NOT EXISTS studies_human ON studies(institute_id, human_id);"
    "CREATE TABLE IF NOT EXISTS files("
    "  id INTEGER PRIMARY KEY, owner_kind TEXT NOT NULL, owner_id TEXT NOT NULL,"
    "  category TEXT NOT NULL, key TEXT UNIQUE NOT NULL, file_name TEXT NOT NULL,"
    "  file_size INTEGER NOT NULL, is_completed INTEGER NOT NULL DEFAULT 0,"
    "  is_new INTEGER NOT NULL DEFAULT 1, upload_id TEXT,"
    "  progress_bytes INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS files_owner ON files(owner_kind, owner_id, category, id);"
    "CREATE TABLE IF NOT EXISTS credentials("
    "  access_key TEXT PRIMARY KEY, secret_key TEXT NOT NULL,"
    "  session_token TEXT NOT NULL, action TEXT NOT NULL, prefix TEXT NOT NULL,"
    "  subject TEXT NOT NULL, expires INTEGER NOT NULL);";

int sandbox_store_open(sandbox_store **out, const char *data_dir)
{
    char path[4200];
    char *errmsg = NULL;
    snprintf(path, sizeof(path), "%s/sandbox.db", data_dir);
    sandbox_store *store = calloc(1, sizeof(*store));
    if (!store)
        return SQLITE_NOMEM;
    pthread_mutex_init(&store->lock, NULL);
    int rc = sqlite3_open_v2(path, &store->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                 SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(store->db, 5000);
    rc = sqlite3_exec(store->db,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                      "PRAGMA foreign_keys=ON;", NULL, NULL, &errmsg);
    if (rc != SQLITE_OK)
        goto fail;
    rc = sqlite3_exec(store->db, schema, NULL, NULL, &errmsg);
    if (rc != SQLITE_OK)
        goto fail;
    *out = store;
    return SQLITE_OK;
fail:
    if (errmsg)
        fprintf(stderr, "igtcloud-sandbox: %s: %s\n", path, errmsg);
    sqlite3_free(errmsg);
    sandbox_store_close(store);
    return rc;
}

void sandbox_store_close(sandbox_store *store)
{
    if (!store)
        return;
    sqlite3_close(store->db);
    pthread_mutex_destroy(&store->lock);
    free(store);
}

void sandbox_store_lock(sandbox_store *store)
{
    pthread_mutex_lock(&store->lock);
}

void sandbox_store_unlock(sandbox_store *store)
{
    pthread_mutex_unlock(&store->lock);
}

sqlite3 *sandbox_store_db(sandbox_store *store)
{
    return store->db;
}

int sandbox_store_begin(sandbox_store *store)
{
    return sqlite3_exec(store->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
}

int sandbox_store_commit(sandbox_store *store)
{
    return sqlite3_exec(store->db, "COMMIT", NULL, NULL, NULL);
}

void sandbox_store_rollback(sandbox_store *store)
{
    sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
}

int sandbox_store_meta_get(sandbox_store *store, const char *key, char *out, size_t out_size)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(store->db, "SELECT value FROM meta WHERE key = ?", -1,
                                &stmt, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        snprintf(out, out_size, "%s", (const char *)sqlite3_column_text(stmt, 0));
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_NOTFOUND;
    }
    sqlite3_finalize(stmt);
    return rc;
}

int sandbox_store_meta_set(sandbox_store *store, const char *key, const char *value)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(store->db,
                                "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1,
                                &stmt, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(store->db);
    sqlite3_finalize(stmt);
    return rc;
}

int sandbox_uuid(char out[37])
{
    unsigned char b[16];
    if (igtcloud__random_bytes(b, sizeof(b)))
        return -1;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
             b[12], b[13], b[14], b[15]);
    return 0;
}
