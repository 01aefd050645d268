/* Studies of an institute: /api/data/hospitals/{hid}/studies[/{sid}[/electronic-record-state]]. */
#include "api_data.h"
#include "data_access.h"
#include "objects.h"
#include "password.h"
#include "store.h"

#include <string.h>

void sandbox_api_studies_list(sandbox_request *req, sandbox_response *res)
{
    sandbox_principal who;
    sandbox_institute_row inst;
    if (sandbox_data_auth(req, res, &who) ||
        sandbox_data_institute(res, req->sb->store, &who, req->params[0], 1, &inst))
        return;
    json_t *list = json_array();
    if (!list || sandbox_db_studies_append(req->sb->store, inst.id, list)) {
        json_decref(list);
        sandbox_data_store_error(res, req->sb->store, 0);
    } else {
        sandbox_response_json(res, 200, list);
    }
    sandbox_institute_row_dispose(&inst);
}

/* sandbox_study_check plus "the body's instituteId, if any, is the URL's". */
static int check_body(sandbox_response *res, json_t *study, const char *institute_id)
{
    char msg[300];
    if (sandbox_study_check(study, msg, sizeof(msg))) {
        sandbox_response_error(res, 400, "%s", msg);
        return -1;
    }
    const char *given = json_string_value(json_object_get(study, "instituteId"));
    if (given && strcmp(given, institute_id) != 0) {
        sandbox_response_error(res, 400, "field 'instituteId' ('%s') does not match the "
                                         "hospital of the URL", given);
        return -1;
    }
    return 0;
}

void sandbox_api_studies_create(sandbox_request *req, sandbox_response *res)
{
    sandbox_principal who;
    sandbox_institute_row inst;
    sandbox_store *store = req->sb->store;
    json_t *study = NULL;
    if (sandbox_data_auth(req, res, &who) ||
        sandbox_data_institute(res, store, &who, req->params[0], 1, &inst))
        return;
    study = sandbox_request_json(req, res);
    if (!study || check_body(res, study, inst.id))
        goto done;
    if (sandbox_store_begin(store) != SQLITE_OK) {
        sandbox_data_store_error(res, store, 0);
        goto done;
    }
    if (sandbox_db_study_create(store, &inst, study, who.subject, NULL) ||
        sandbox_store_commit(store) != SQLITE_OK) {
        sandbox_data_store_error(res, store, 1);
        goto done;
    }
    sandbox_response_json(res, 201, study);
    study = NULL;
done:
    json_decref(study);
    sandbox_institute_row_dispose(&inst);
}

typedef void (*study_call)(sandbox_request *req, sandbox_response *res,
                           const sandbox_principal *who, const sandbox_study_row *study);

/* Run `call` on the URL's study (hospital params[0], study params[1]); 403 for services. */
static void on_study(sandbox_request *req, sandbox_response *res, study_call call)
{
    sandbox_principal who;
    sandbox_institute_row inst;
    sandbox_study_row study;
    if (sandbox_data_auth(req, res, &who) ||
        sandbox_data_study(res, req->sb->store, &who, req->params[0], req->params[1], 0, &inst,
                           &study))
        return;
    call(req, res, &who, &study);
    sandbox_study_row_dispose(&study);
    sandbox_institute_row_dispose(&inst);
}

static void get_study(sandbox_request *req, sandbox_response *res, const sandbox_principal *who,
                      const sandbox_study_row *study)
{
    (void)req;
    (void)who;
    sandbox_response_json(res, 200, json_incref(study->json));
}

/* Validate `next` as the study's new content, store it and answer with it. */
static void save_study(sandbox_request *req, sandbox_response *res, const sandbox_principal *who,
                       const sandbox_study_row *current, json_t *next)
{
    if (check_body(res, next, current->institute_id))
        return;
    if (sandbox_db_study_update(req->sb->store, current, next, who->subject)) {
        sandbox_data_store_error(res, req->sb->store, 0);
        return;
    }
    sandbox_response_json(res, 200, json_incref(next));
}

static void put_study(sandbox_request *req, sandbox_response *res, const sandbox_principal *who,
                      const sandbox_study_row *study)
{
    json_t *body = sandbox_request_json(req, res);
    if (!body)
        return;
    /* A PUT without a type keeps the study's type. */
    if (json_is_object(body) && !json_object_get(body, "studyType"))
        json_object_set(body, "studyType", json_object_get(study->json, "studyType"));
    save_study(req, res, who, study, body);
    json_decref(body);
}

static void patch_study(sandbox_request *req, sandbox_response *res, const sandbox_principal *who,
                        const sandbox_study_row *study)
{
    json_t *body = sandbox_request_json(req, res), *next = NULL;
    if (!body)
        return;
    if (!json_is_object(body)) {
        sandbox_response_error(res, 400, "a study patch must be a JSON object");
        goto done;
    }
    next = json_deep_copy(study->json);
    if (!next || sandbox_json_merge_patch(next, body)) {
        sandbox_data_store_error(res, req->sb->store, 0);
        goto done;
    }
    save_study(req, res, who, study, next);
done:
    json_decref(next);
    json_decref(body);
}

static void delete_study(sandbox_request *req, sandbox_response *res,
                         const sandbox_principal *who, const sandbox_study_row *study)
{
    sandbox_store *store = req->sb->store;
    (void)who;
    if (sandbox_store_begin(store) != SQLITE_OK) {
        sandbox_data_store_error(res, store, 0);
        return;
    }
    if (sandbox_db_study_delete(store, study->id) ||
        sandbox_object_delete_prefix(req->sb->data_dir, study->s3_prefix) ||
        sandbox_store_commit(store) != SQLITE_OK) {
        sandbox_data_store_error(res, store, 1);
        return;
    }
    sandbox_data_no_content(res);
}

/* The stored password hash of `login` into out; 0, 1 when unknown, -1 on error. */
static int password_hash_of(sandbox_store *store, const char *login, char *out, size_t size)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(sandbox_store_db(store),
                           "SELECT password_hash FROM users WHERE login = ?", -1, &stmt,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(stmt, 1, login, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

static void set_record_state(sandbox_request *req, sandbox_response *res,
                             const sandbox_principal *who, const sandbox_study_row *study)
{
    static const char *const fields[] = { "username", "password", "electronicRecordState", NULL };
    json_t *body = sandbox_request_json(req, res), *next = NULL;
    char hash[256];
    if (!body)
        return;
    for (int i = 0; fields[i]; i++) {
        const char *value = json_string_value(json_object_get(body, fields[i]));
        if (!value || !*value) {
            sandbox_response_error(res, 400, "field '%s' is required and must be a non-empty "
                                             "string", fields[i]);
            goto done;
        }
    }
    /*
     * Signing a record needs the signer's own password again: the user of
     * the session, checked against the stored hash.
     */
    const char *username = json_string_value(json_object_get(body, "username"));
    const char *password = json_string_value(json_object_get(body, "password"));
    int rc = strcmp(username, who->subject) == 0
                 ? password_hash_of(req->sb->store, username, hash, sizeof(hash)) : 1;
    if (rc < 0) {
        sandbox_data_store_error(res, req->sb->store, 0);
        goto done;
    }
    if (rc > 0 || !sandbox_password_verify(hash, password)) {
        sandbox_response_error(res, 403, "username or password is not correct");
        goto done;
    }
    next = json_deep_copy(study->json);
    if (!next || json_object_set(next, "electronicRecordState",
                                 json_object_get(body, "electronicRecordState"))) {
        sandbox_data_store_error(res, req->sb->store, 0);
        goto done;
    }
    save_study(req, res, who, study, next);
done:
    json_decref(next);
    json_decref(body);
}

void sandbox_api_study_get(sandbox_request *req, sandbox_response *res)
{
    on_study(req, res, get_study);
}

void sandbox_api_study_put(sandbox_request *req, sandbox_response *res)
{
    on_study(req, res, put_study);
}

void sandbox_api_study_patch(sandbox_request *req, sandbox_response *res)
{
    on_study(req, res, patch_study);
}

void sandbox_api_study_delete(sandbox_request *req, sandbox_response *res)
{
    on_study(req, res, delete_study);
}

void sandbox_api_study_record_state(sandbox_request *req, sandbox_response *res)
{
    on_study(req, res, set_record_state);
}
