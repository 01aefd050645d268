/* GET /api/data/users/me: the User of openapi/entities.json for the caller. */
#include "api_data.h"
#include "data_access.h"
#include "store.h"

#include <string.h>

static const char *column(sqlite3_stmt *stmt, int col)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    return text ? (const char *)text : "";
}

void sandbox_api_users_me(sandbox_request *req, sandbox_response *res)
{
    sandbox_principal who;
    sqlite3_stmt *stmt = NULL;
    json_t *user = NULL;
    if (sandbox_data_auth(req, res, &who) || sandbox_data_users_only(&who, res))
        return;
    if (sqlite3_prepare_v2(sandbox_store_db(req->sb->store),
                           "SELECT login, uuid, email, given_name, family_name FROM users"
                           " WHERE id = ?", -1, &stmt, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(stmt, 1, who.user_id);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        sandbox_response_error(res, 404, "no such user");
        goto done;
    }
    if (rc != SQLITE_ROW)
        goto fail;
    /* The sandbox has no organisations, MFA or training; those fields stay plain. */
    user = json_pack("{s:s, s:s, s:{s:[], s:{s:s, s:s}, s:b, s:s, s:s, s:[], s:s, s:[s]},"
                     " s:{s:s}, s:{s:s, s:b, s:b, s:i}}",
                     "loginId", column(stmt, 0),
                     "userUUID", column(stmt, 1),
                     "profile",
                     "addresses",
                     "contact", "emailAddress", column(stmt, 2), "mobilePhone", "",
                     "disabled", 0,
                     "familyName", column(stmt, 4),
                     "givenName", column(stmt, 3),
                     "organizationRoles",
                     "preferredLanguage", "en-US",
                     "roles", "DATA_MANAGER",
                     "settings", "preferredLanguage", "en-US",
                     "accountStatus", "mfaStatus", "DISABLED", "emailVerified", 1,
                     "disabled", 0, "numberOfInvalidAttempt", 0);
    if (!user)
        goto fail;
    sandbox_response_json(res, 200, user);
    goto done;
fail:
    sandbox_data_store_error(res, req->sb->store, 0);
done:
    sqlite3_finalize(stmt);
}
