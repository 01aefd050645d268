/*
 * File rows of studies and projects: listing, registration before an upload,
 * completion after it, deletion (rows and object files).
 */
#include "api_data.h"
#include "data_access.h"
#include "objects.h"
#include "store.h"

#include <string.h>

#define MAX_DELETE_KEYS 1000

/* Whose files a call is about, and how its keys are laid out. */
typedef struct owner {
    const char *kind;            /* SANDBOX_OWNER_STUDY or _PROJECT */
    const char *id;
    const char *prefix;
} owner;

/*
 * The category and file name of `key` for this owner; NONE when the key is
 * outside the owner's folders. A project's files sit right under its prefix.
 */
static sandbox_category classify(const owner *o, const char *key, const char **rel)
{
    if (strcmp(o->kind, SANDBOX_OWNER_STUDY) == 0)
        return sandbox_study_file_category(o->prefix, key, rel);
    size_t plen = strlen(o->prefix);
    if (!key || strncmp(key, o->prefix, plen) != 0 || key[plen] == '\0' ||
        sandbox_object_key_problem(key))
        return SANDBOX_CATEGORY_NONE;
    *rel = key + plen;
    return SANDBOX_CATEGORY_PROJECT;
}

static void refuse_key(sandbox_response *res, const owner *o, const char *key)
{
    const char *problem = key ? sandbox_object_key_problem(key) : "the key is missing";
    if (strcmp(o->kind, SANDBOX_OWNER_STUDY) == 0)
        sandbox_response_error(res, 400, "key '%.300s' is not inside the study's files/, 0/ or "
                                         "annotations/ folders under '%s'%s%s",
                               key ? key : "", o->prefix, problem ? ": " : "",
                               problem ? problem : "");
    else
        sandbox_response_error(res, 400, "key '%.300s' is not inside the project's prefix '%s'%s%s",
                               key ? key : "", o->prefix, problem ? ": " : "",
                               problem ? problem : "");
}

/*
 * The data API has no completion call for project files (PROTOCOL.md section
 * 4: only study files have $file-upload-completed), so a project file is
 * complete once its object is stored with exactly the registered size. This
 * is decided when the files are listed, the only moment anyone can see it,
 * so the S3 endpoint needs no knowledge of the data service's rows. Returns 0
 * or -1 (store error).
 */
static int complete_uploaded_project_files(sandbox_request *req, const owner *o)
{
    sandbox_store *store = req->sb->store;
    json_t *rows = json_array();
    int rc = rows ? sandbox_db_files_append(store, o->kind, o->id, SANDBOX_CATEGORY_NONE, 0,
                                            NULL, rows)
                  : -1;
    size_t i;
    json_t *f;
    json_array_foreach(rows, i, f) {
        const char *key = json_string_value(json_object_get(f, "key"));
        json_t *size = json_object_get(f, "fileSize");
        long long stored;
        if (rc || !key || json_is_true(json_object_get(f, "isCompleted")) ||
            !json_is_integer(size) ||
            sandbox_object_size(&stored, req->sb->data_dir, key) != 0 ||
            stored != (long long)json_integer_value(size))
            continue;
        if (sandbox_db_file_complete(store, o->kind, o->id, key, stored) < 0)
            rc = -1;
    }
    json_decref(rows);
    return rc;
}

static void list_files(sandbox_request *req, sandbox_response *res, const owner *o)
{
    int completed = sandbox_query_flag(sandbox_request_query(req, "completed"));
    int auxiliary = strcmp(o->kind, SANDBOX_OWNER_STUDY) == 0 &&
                    sandbox_query_flag(sandbox_request_query(req, "auxiliary"));
    sandbox_store *store = req->sb->store;
    json_t *body = json_object();
    json_t *files = json_array(), *dicom = json_array(), *annotations = json_array();
    int rc = body && files && dicom && annotations ? 0 : -1;
    if (rc == 0 && strcmp(o->kind, SANDBOX_OWNER_PROJECT) == 0)
        rc = complete_uploaded_project_files(req, o);
    if (rc == 0 && auxiliary) {
        rc = sandbox_db_files_append(store, o->kind, o->id, SANDBOX_CATEGORY_DICOM, completed,
                                     NULL, dicom) ||
             sandbox_db_files_append(store, o->kind, o->id, SANDBOX_CATEGORY_ANNOTATIONS,
                                     completed, NULL, annotations) ||
             json_object_set(body, "dicom", dicom) ||
             json_object_set(body, "annotations", annotations);
    } else if (rc == 0) {
        sandbox_category c = strcmp(o->kind, SANDBOX_OWNER_STUDY) == 0 ? SANDBOX_CATEGORY_FILES
                                                                      : SANDBOX_CATEGORY_NONE;
        rc = sandbox_db_files_append(store, o->kind, o->id, c, completed, NULL, files) ||
             json_object_set(body, "files", files);
    }
    json_decref(files);
    json_decref(dicom);
    json_decref(annotations);
    if (rc) {
        json_decref(body);
        sandbox_data_store_error(res, store, 0);
        return;
    }
    sandbox_response_json(res, 200, body);
}

/*
 * POST [{"key", "fileSize"}]: register the keys (or register them again for a
 * new upload) and answer {"files": [...]} with the registered entries first,
 * in request order, then the owner's other files.
 */
static void register_files(sandbox_request *req, sandbox_response *res, const owner *o)
{
    sandbox_store *store = req->sb->store;
    sqlite3_stmt *put = NULL;
    json_t *body = sandbox_request_json(req, res);
    json_t *keys = NULL, *files = NULL;
    int in_tx = 0;
    size_t i;
    json_t *item;
    if (!body)
        return;
    if (!json_is_array(body)) {
        sandbox_response_error(res, 400, "the body must be a JSON array of {\"key\", \"fileSize\"}");
        goto done;
    }
    json_array_foreach(body, i, item) {
        const char *key = json_string_value(json_object_get(item, "key"));
        json_t *size = json_object_get(item, "fileSize");
        const char *rel = NULL;
        if (!key) {
            sandbox_response_error(res, 400, "field 'key' of item %zu is required and must be "
                                             "a string", i);
            goto done;
        }
        if (!json_is_integer(size) || json_integer_value(size) < 0) {
            sandbox_response_error(res, 400, "field 'fileSize' of item %zu is required and must "
                                             "be a non-negative integer", i);
            goto done;
        }
        if (classify(o, key, &rel) == SANDBOX_CATEGORY_NONE) {
            refuse_key(res, o, key);
            goto done;
        }
    }
    keys = json_array();
    files = json_array();
    if (!keys || !files || sandbox_store_begin(store) != SQLITE_OK)
        goto fail;
    in_tx = 1;
    json_array_foreach(body, i, item) {
        const char *key = json_string_value(json_object_get(item, "key"));
        const char *rel = NULL;
        sandbox_category c = classify(o, key, &rel);
        int rc = sandbox_db_file_put(store, &put, o->kind, o->id, c, key, rel,
                                     json_integer_value(json_object_get(item, "fileSize")), 0);
        if (rc > 0) {
            sandbox_store_rollback(store);
            in_tx = 0;
            sandbox_response_error(res, 409, "key '%.300s' belongs to another owner", key);
            goto done;
        }
        if (rc < 0)
            goto fail;
        if (json_array_append_new(keys, json_string(key)))
            goto fail;
    }
    if (sandbox_store_commit(store) != SQLITE_OK)
        goto fail;
    in_tx = 0;
    json_array_foreach(keys, i, item) {
        json_t *file = NULL;
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= json_equal(json_array_get(keys, j), item);
        if (seen)
            continue;
        if (sandbox_db_file_get(store, o->kind, o->id, json_string_value(item), &file) != 0 ||
            json_array_append_new(files, file))
            goto fail;
    }
    sandbox_category rest = strcmp(o->kind, SANDBOX_OWNER_STUDY) == 0 ? SANDBOX_CATEGORY_FILES
                                                                     : SANDBOX_CATEGORY_NONE;
    if (sandbox_db_files_append(store, o->kind, o->id, rest, 0, keys, files))
        goto fail;
    sandbox_response_json(res, 200, json_pack("{s:O}", "files", files));
    goto done;
fail:
    sandbox_data_store_error(res, store, in_tx);
done:
    sqlite3_finalize(put);
    json_decref(files);
    json_decref(keys);
    json_decref(body);
}

/* DELETE ?keys=K&keys=K2: the rows and the object files (also unregistered ones). */
static void delete_files(sandbox_request *req, sandbox_response *res, const owner *o)
{
    const char *keys[MAX_DELETE_KEYS];
    sandbox_store *store = req->sb->store;
    size_t n = sandbox_request_query_all(req, "keys", keys, MAX_DELETE_KEYS);
    if (n == 0) {
        sandbox_response_error(res, 400, "query parameter 'keys' is required");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *rel;
        if (classify(o, keys[i], &rel) == SANDBOX_CATEGORY_NONE) {
            refuse_key(res, o, keys[i]);
            return;
        }
    }
    if (sandbox_store_begin(store) != SQLITE_OK) {
        sandbox_data_store_error(res, store, 0);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (sandbox_db_file_delete(store, o->kind, o->id, keys[i]) < 0 ||
            sandbox_object_delete(req->sb->data_dir, keys[i])) {
            sandbox_data_store_error(res, store, 1);
            return;
        }
    }
    if (sandbox_store_commit(store) != SQLITE_OK) {
        sandbox_data_store_error(res, store, 1);
        return;
    }
    sandbox_data_no_content(res);
}

typedef void (*files_call)(sandbox_request *req, sandbox_response *res, const owner *o);

/* Run `call` on the files of the URL's study (hospital params[0], study params[1]). */
static void on_study_files(sandbox_request *req, sandbox_response *res, int service_ok,
                           files_call call)
{
    sandbox_principal who;
    sandbox_institute_row inst;
    sandbox_study_row study;
    if (sandbox_data_auth(req, res, &who) ||
        sandbox_data_study(res, req->sb->store, &who, req->params[0], req->params[1],
                           service_ok, &inst, &study))
        return;
    owner o = { SANDBOX_OWNER_STUDY, study.id, study.s3_prefix };
    call(req, res, &o);
    sandbox_study_row_dispose(&study);
    sandbox_institute_row_dispose(&inst);
}

/* Run `call` on the files of the URL's project (params[0]); users only. */
static void on_project_files(sandbox_request *req, sandbox_response *res, files_call call)
{
    sandbox_principal who;
    sandbox_project_row project;
    if (sandbox_data_auth(req, res, &who) || sandbox_data_users_only(&who, res) ||
        sandbox_data_project(res, req->sb->store, &who, req->params[0], 0, &project))
        return;
    owner o = { SANDBOX_OWNER_PROJECT, project.id, project.s3_prefix };
    call(req, res, &o);
    sandbox_project_row_dispose(&project);
}

/*
 * POST .../files/$file-upload-completed {"uploadedPath": P}. The reference
 * sends the name relative to the files/ folder; a path relative to the
 * study's prefix ("0/x.dcm") or the full key are accepted too. The first
 * candidate that is registered wins; a candidate that was uploaded without
 * being registered is registered now. The size becomes the object's size.
 */
static void complete_file(sandbox_request *req, sandbox_response *res, const owner *o)
{
    sandbox_store *store = req->sb->store;
    sqlite3_stmt *put = NULL;
    json_t *body = sandbox_request_json(req, res);
    char candidates[3][SANDBOX_OBJECT_KEY_MAX + 64];
    int ncand = 0;
    if (!body)
        return;
    const char *path = json_string_value(json_object_get(body, "uploadedPath"));
    json_t *trigger = json_object_get(body, "triggerAction");
    if (!path || !*path) {
        sandbox_response_error(res, 400, "field 'uploadedPath' is required and must be a "
                                         "non-empty string");
        goto done;
    }
    if (trigger && !json_is_boolean(trigger)) {
        sandbox_response_error(res, 400, "field 'triggerAction' must be a boolean");
        goto done;
    }
    /* A candidate that does not fit is no key at all; leave it out. */
    const char *folders[] = { sandbox_category_folder(SANDBOX_CATEGORY_FILES), "", NULL };
    for (int i = 0; i < 3; i++) {
        int n = i < 2 ? snprintf(candidates[ncand], sizeof(candidates[0]), "%s%s%s", o->prefix,
                                 folders[i], path)
                      : snprintf(candidates[ncand], sizeof(candidates[0]), "%s", path);
        if (n > 0 && (size_t)n < sizeof(candidates[0]))
            ncand++;
    }

    const char *chosen = NULL;
    int registered = 0;
    for (int i = 0; i < ncand && !registered; i++) {
        const char *rel;
        json_t *file = NULL;
        if (classify(o, candidates[i], &rel) == SANDBOX_CATEGORY_NONE)
            continue;
        int rc = sandbox_db_file_get(store, o->kind, o->id, candidates[i], &file);
        json_decref(file);
        if (rc < 0)
            goto fail;
        long long size;
        if (rc == 0) {
            chosen = candidates[i];
            registered = 1;
        } else if (!chosen && sandbox_object_size(&size, req->sb->data_dir, candidates[i]) == 0) {
            chosen = candidates[i];
        }
    }
    if (!chosen) {
        sandbox_response_error(res, 404, "no file '%.300s' registered or uploaded in this study",
                               path);
        goto done;
    }
    long long size = -1;
    if (sandbox_object_size(&size, req->sb->data_dir, chosen))
        size = -1;
    const char *rel = NULL;
    sandbox_category c = classify(o, chosen, &rel);
    int rc = registered ? sandbox_db_file_complete(store, o->kind, o->id, chosen, size)
                        : sandbox_db_file_put(store, &put, o->kind, o->id, c, chosen, rel, size, 1);
    if (rc != 0)
        goto fail;
    sandbox_data_no_content(res);
    goto done;
fail:
    sandbox_data_store_error(res, store, 0);
done:
    sqlite3_finalize(put);
    json_decref(body);
}

void sandbox_api_study_files_list(sandbox_request *req, sandbox_response *res)
{
    on_study_files(req, res, 1, list_files);
}

void sandbox_api_study_files_register(sandbox_request *req, sandbox_response *res)
{
    on_study_files(req, res, 1, register_files);
}

void sandbox_api_study_files_delete(sandbox_request *req, sandbox_response *res)
{
    on_study_files(req, res, 0, delete_files);
}

void sandbox_api_study_file_completed(sandbox_request *req, sandbox_response *res)
{
    on_study_files(req, res, 1, complete_file);
}

void sandbox_api_project_files_list(sandbox_request *req, sandbox_response *res)
{
    on_project_files(req, res, list_files);
}

void sandbox_api_project_files_register(sandbox_request *req, sandbox_response *res)
{
    on_project_files(req, res, register_files);
}

void sandbox_api_project_files_delete(sandbox_request *req, sandbox_response *res)
{
    on_project_files(req, res, delete_files);
}
