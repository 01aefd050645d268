#include "users.h"
#include "password.h"
#include "store.h"

int sandbox_users_create(sandbox *sb, const char *login, const char *password,
                         const char *email, long long *id_out)
{
    char hash[SANDBOX_PASSWORD_HASH_MAX];
    char uuid[37];
    sqlite3_stmt *stmt = NULL;
    sqlite3 *db = sandbox_store_db(sb->store);
    if (sandbox_password_hash(hash, password) || sandbox_uuid(uuid))
        return -1;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO users(login, uuid, password_hash, email) "
                           "VALUES(?, ?, ?, ?)", -1, &stmt, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(stmt, 1, login, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, email, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(stmt);
    if (rc == 0 && id_out)
        *id_out = sqlite3_last_insert_rowid(db);
    return rc;
}

int sandbox_users_add_membership(sandbox *sb, long long user_id, const char *project_id,
                                 const char *role)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                           "INSERT OR REPLACE INTO memberships(user_id, project_id, role) "
                           "VALUES(?, ?, ?)", -1, &stmt, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(stmt, 1, user_id);
    sqlite3_bind_text(stmt, 2, project_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, role, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(stmt);
    return rc;
}

int sandbox_users_find(sandbox *sb, const char *login, long long *id_out)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store), "SELECT id FROM users WHERE login = ?",
                           -1, &stmt, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(stmt, 1, login, -1, SQLITE_STATIC);
    int rc = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        *id_out = sqlite3_column_int64(stmt, 0);
        rc = 0;
    }
    sqlite3_finalize(stmt);
    return rc;
}
