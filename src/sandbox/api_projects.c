/* Projects and their institutes ("hospitals"): /api/data/projects..., /api/data/hospitals. */
#include "api_data.h"
#include "data_access.h"
#include "objects.h"
#include "store.h"
#include "users.h"

#include <string.h>

void sandbox_api_projects_list(sandbox_request *req, sandbox_response *res)
{
    sandbox_principal who;
    sandbox_store *store = req->sb->store;
    sandbox_project_row project;
    json_t *list = NULL;
    memset(&project, 0, sizeof(project));
    if (sandbox_data_auth(req, res, &who))
        return;
    list = json_array();
    if (!list)
        goto fail;
    if (who.kind == SANDBOX_PRINCIPAL_SERVICE) {
        /* A service sees its own project, holding only its own institute. */
        sandbox_institute_row own;
        int rc = sandbox_db_institute_load(store, who.institute_id, &own);
        if (rc < 0)
            goto fail;
        if (rc == 0) {
            rc = sandbox_db_project_load(store, own.project_id, &project);
            sandbox_institute_row_dispose(&own);
            if (rc < 0)
                goto fail;
            if (rc == 0) {
                json_t *p = sandbox_db_project_json(store, &project, who.institute_id);
                if (!p || json_array_append_new(list, p))
                    goto fail;
            }
        }
    } else if (sandbox_db_projects_of_user(store, who.user_id, list)) {
        goto fail;
    }
    sandbox_project_row_dispose(&project);
    sandbox_response_json(res, 200, list);
    return;
fail:
    sandbox_project_row_dispose(&project);
    json_decref(list);
    sandbox_data_store_error(res, store, 0);
}

/* A required, non-empty string field of body; 400 naming it otherwise. */
static const char *required_string(sandbox_response *res, const json_t *body, const char *name)
{
    const char *value = json_string_value(json_object_get(body, name));
    if (!value || !*value) {
        sandbox_response_error(res, 400, "field '%s' is required and must be a non-empty string",
                               name);
        return NULL;
    }
    return value;
}

/* An optional study type: absent is fine, anything else must be a known type. */
static int check_study_type(sandbox_response *res, const json_t *body)
{
    json_t *type = json_object_get(body, "studyType");
    if (!type || json_is_null(type) ||
        (json_is_string(type) && sandbox_study_type_known(json_string_value(type))))
        return 0;
    sandbox_response_error(res, 400, "field 'studyType' must be one of the study types "
                                     "(Study, BaseStudy, AnnotationStudy, ...)");
    return -1;
}

/* Set `name` when the body did not give it. */
static int set_default(json_t *obj, const char *name, json_t *value)
{
    if (json_object_get(obj, name) && !json_is_null(json_object_get(obj, name))) {
        json_decref(value);
        return 0;
    }
    return json_object_set_new(obj, name, value);
}

/* Who may use a project call: services too (their own project), or users only. */
typedef enum { PROJECT_SERVICES_TOO, PROJECT_USERS_ONLY } project_access;

typedef void (*project_call)(sandbox_request *req, sandbox_response *res,
                             const sandbox_principal *who, const sandbox_project_row *row);

/* Run `call` on the URL's project (params[0]). */
static void on_project(sandbox_request *req, sandbox_response *res, project_access access,
                       project_call call)
{
    sandbox_principal who;
    sandbox_project_row row;
    int users_only = access == PROJECT_USERS_ONLY;
    if (sandbox_data_auth(req, res, &who) ||
        (users_only && sandbox_data_users_only(&who, res)) ||
        sandbox_data_project(res, req->sb->store, &who, req->params[0], !users_only, &row))
        return;
    call(req, res, &who, &row);
    sandbox_project_row_dispose(&row);
}

/* What a service identity sees of a project's institutes: its own only. */
static const char *only_own_institute(const sandbox_principal *who)
{
    return who->kind == SANDBOX_PRINCIPAL_SERVICE ? who->institute_id : NULL;
}

void sandbox_api_projects_create(sandbox_request *req, sandbox_response *res)
{
    sandbox_principal who;
    sandbox_store *store = req->sb->store;
    json_t *body = NULL, *project = NULL, *list = NULL;
    sandbox_project_row row;
    char id[37], prefix[64];
    int in_tx = 0;
    memset(&row, 0, sizeof(row));
    if (sandbox_data_auth(req, res, &who) || sandbox_data_users_only(&who, res))
        return;
    body = sandbox_request_json(req, res);
    if (!body)
        return;
    if (!json_is_object(body)) {
        sandbox_response_error(res, 400, "a project must be a JSON object");
        goto done;
    }
    const char *name = required_string(res, body, "name");
    if (!name || check_study_type(res, body))
        goto done;
    json_t *continents = json_object_get(body, "continents");
    if (continents && !json_is_null(continents) && !json_is_array(continents)) {
        sandbox_response_error(res, 400, "field 'continents' must be an array of strings");
        goto done;
    }
    int taken = sandbox_db_project_name_taken(store, name);
    if (taken) {
        if (taken < 0)
            sandbox_data_store_error(res, store, 0);
        else
            sandbox_response_error(res, 409, "a project named '%s' exists", name);
        goto done;
    }
    if (sandbox_uuid(id))
        goto fail;
    snprintf(prefix, sizeof(prefix), "projects/%s/", id);

    /* The id first, then the body's fields in their order, then defaults. */
    project = json_pack("{s:s}", "id", id);
    if (!project || json_object_update(project, body))
        goto fail;
    json_object_del(project, "institutes");
    if (json_object_set_new(project, "id", json_string(id)) ||
        json_object_set_new(project, "s3Prefix", json_string(prefix)) ||
        set_default(project, "description", json_string("")) ||
        set_default(project, "projectTypeName", json_string("IGT Cloud")) ||
        set_default(project, "studyType", json_string("Study")) ||
        set_default(project, "continents", json_array()))
        goto fail;

    if (sandbox_store_begin(store) != SQLITE_OK)
        goto fail;
    in_tx = 1;
    if (sandbox_db_project_insert(store, id, name, prefix, project) ||
        sandbox_users_add_membership(req->sb, who.user_id, id, "DATA_MANAGER") ||
        sandbox_db_project_load(store, id, &row) != 0 ||
        sandbox_store_commit(store) != SQLITE_OK)
        goto fail;
    in_tx = 0;
    /* As openapi/entities.json says, POST answers 200 with a list: the new project. */
    list = json_array();
    json_t *full = sandbox_db_project_json(store, &row, NULL);
    if (!list || !full || json_array_append_new(list, full))
        goto fail;
    sandbox_response_json(res, 200, list);
    list = NULL;
    goto done;
fail:
    sandbox_data_store_error(res, store, in_tx);
done:
    sandbox_project_row_dispose(&row);
    json_decref(list);
    json_decref(project);
    json_decref(body);
}

static void get_project(sandbox_request *req, sandbox_response *res, const sandbox_principal *who,
                        const sandbox_project_row *row)
{
    json_t *project = sandbox_db_project_json(req->sb->store, row, only_own_institute(who));
    if (!project)
        sandbox_data_store_error(res, req->sb->store, 0);
    else
        sandbox_response_json(res, 200, project);
}

/*
 * Remove an institute with everything in it. Service identities belong to
 * the auth service, so an institute that still has some is refused (409).
 */
static int delete_institute(sandbox_request *req, sandbox_response *res,
                            const sandbox_institute_row *inst)
{
    long long services = 0;
    if (sandbox_db_institute_service_count(req->sb->store, inst->id, &services))
        return -1;
    if (services > 0) {
        sandbox_response_error(res, 409, "hospital '%s' still has %lld service identities",
                               inst->id, services);
        return 1;
    }
    if (sandbox_db_institute_delete(req->sb->store, inst->id))
        return -1;
    return sandbox_object_delete_prefix(req->sb->data_dir, inst->s3_prefix) ? -1 : 0;
}

static void delete_project(sandbox_request *req, sandbox_response *res,
                           const sandbox_principal *who, const sandbox_project_row *row)
{
    sandbox_store *store = req->sb->store;
    json_t *institutes = json_array();
    int in_tx = 0;
    (void)who;
    if (!institutes || sandbox_db_institutes_append(store, row->id, NULL, institutes) ||
        sandbox_store_begin(store) != SQLITE_OK)
        goto fail;
    in_tx = 1;
    size_t i;
    json_t *item;
    json_array_foreach(institutes, i, item) {
        sandbox_institute_row inst;
        if (sandbox_db_institute_load(store, json_string_value(json_object_get(item, "id")),
                                      &inst) != 0)
            goto fail;
        int rc = delete_institute(req, res, &inst);
        sandbox_institute_row_dispose(&inst);
        if (rc > 0) {
            sandbox_store_rollback(store);
            goto done;
        }
        if (rc < 0)
            goto fail;
    }
    if (sandbox_db_project_delete(store, row->id) ||
        sandbox_object_delete_prefix(req->sb->data_dir, row->s3_prefix) ||
        sandbox_store_commit(store) != SQLITE_OK)
        goto fail;
    sandbox_data_no_content(res);
    goto done;
fail:
    sandbox_data_store_error(res, store, in_tx);
done:
    json_decref(institutes);
}

static void list_hospitals(sandbox_request *req, sandbox_response *res,
                           const sandbox_principal *who, const sandbox_project_row *row)
{
    json_t *list = json_array();
    if (!list ||
        sandbox_db_institutes_append(req->sb->store, row->id, only_own_institute(who), list)) {
        json_decref(list);
        sandbox_data_store_error(res, req->sb->store, 0);
    } else {
        sandbox_response_json(res, 200, list);
    }
}

static void create_hospital(sandbox_request *req, sandbox_response *res,
                            const sandbox_principal *who, const sandbox_project_row *row)
{
    sandbox_store *store = req->sb->store;
    json_t *body = sandbox_request_json(req, res), *inst = NULL;
    char id[37], prefix[64];
    (void)who;
    if (!body)
        return;
    if (!json_is_object(body)) {
        sandbox_response_error(res, 400, "a hospital must be a JSON object");
        goto done;
    }
    const char *name = required_string(res, body, "name");
    if (!name || check_study_type(res, body))
        goto done;
    int taken = sandbox_db_institute_name_taken(store, row->id, name);
    if (taken) {
        if (taken < 0)
            sandbox_data_store_error(res, store, 0);
        else
            sandbox_response_error(res, 409, "project '%s' has a hospital named '%s'", row->id,
                                   name);
        goto done;
    }
    if (sandbox_uuid(id))
        goto fail;
    snprintf(prefix, sizeof(prefix), "institutes/%s/", id);
    inst = json_pack("{s:s}", "id", id);
    if (!inst || json_object_update(inst, body))
        goto fail;
    json_object_del(inst, "studies");
    json_t *project_type = json_object_get(row->json, "projectTypeName");
    json_t *study_type = json_object_get(row->json, "studyType");
    if (json_object_set_new(inst, "id", json_string(id)) ||
        json_object_set_new(inst, "s3Prefix", json_string(prefix)) ||
        set_default(inst, "description", json_string("")) ||
        set_default(inst, "parentId", json_null()) ||
        set_default(inst, "hasSeries", json_false()) ||
        json_object_set_new(inst, "projectTypeName", project_type ? json_incref(project_type)
                                                                  : json_string("IGT Cloud")) ||
        set_default(inst, "studyType", study_type ? json_incref(study_type)
                                                  : json_string("Study")))
        goto fail;
    if (sandbox_db_institute_insert(store, id, row->id, name, prefix, inst))
        goto fail;
    sandbox_response_json(res, 201, inst);
    inst = NULL;
    goto done;
fail:
    sandbox_data_store_error(res, store, 0);
done:
    json_decref(inst);
    json_decref(body);
}

static void delete_hospital(sandbox_request *req, sandbox_response *res,
                            const sandbox_principal *who, const sandbox_project_row *row)
{
    sandbox_institute_row inst;
    sandbox_store *store = req->sb->store;
    (void)who;
    int rc = sandbox_db_institute_load(store, req->params[1], &inst);
    if (rc < 0)
        goto fail;
    if (rc > 0 || strcmp(inst.project_id, row->id) != 0) {
        sandbox_response_error(res, 404, "no hospital '%s' in project '%s'", req->params[1],
                               row->id);
        goto done;
    }
    if (sandbox_store_begin(store) != SQLITE_OK)
        goto fail;
    rc = delete_institute(req, res, &inst);
    if (rc > 0) {
        sandbox_store_rollback(store);
        goto done;
    }
    if (rc < 0 || sandbox_store_commit(store) != SQLITE_OK) {
        sandbox_data_store_error(res, store, 1);
        goto done;
    }
    sandbox_data_no_content(res);
    goto done;
fail:
    sandbox_data_store_error(res, store, 0);
done:
    sandbox_institute_row_dispose(&inst);
}

void sandbox_api_project_get(sandbox_request *req, sandbox_response *res)
{
    on_project(req, res, PROJECT_SERVICES_TOO, get_project);
}

void sandbox_api_project_delete(sandbox_request *req, sandbox_response *res)
{
    on_project(req, res, PROJECT_USERS_ONLY, delete_project);
}

void sandbox_api_project_hospitals_list(sandbox_request *req, sandbox_response *res)
{
    on_project(req, res, PROJECT_SERVICES_TOO, list_hospitals);
}

void sandbox_api_project_hospitals_create(sandbox_request *req, sandbox_response *res)
{
    on_project(req, res, PROJECT_USERS_ONLY, create_hospital);
}

void sandbox_api_project_hospital_delete(sandbox_request *req, sandbox_response *res)
{
    on_project(req, res, PROJECT_USERS_ONLY, delete_hospital);
}

void sandbox_api_hospitals_list(sandbox_request *req, sandbox_response *res)
{
    sandbox_principal who;
    sandbox_store *store = req->sb->store;
    if (sandbox_data_auth(req, res, &who))
        return;
    json_t *list = json_array();
    int rc = list ? 0 : -1;
    if (rc == 0 && who.kind == SANDBOX_PRINCIPAL_SERVICE) {
        sandbox_institute_row own;
        int found = sandbox_db_institute_load(store, who.institute_id, &own);
        if (found < 0)
            rc = -1;
        else if (found == 0 && json_array_append(list, own.json))
            rc = -1;
        sandbox_institute_row_dispose(&own);
    } else if (rc == 0) {
        rc = sandbox_db_institutes_of_user(store, who.user_id, list);
    }
    if (rc) {
        json_decref(list);
        sandbox_data_store_error(res, store, 0);
        return;
    }
    sandbox_response_json(res, 200, list);
}

void sandbox_api_hospital_get(sandbox_request *req, sandbox_response *res)
{
    sandbox_principal who;
    sandbox_institute_row inst;
    if (sandbox_data_auth(req, res, &who) ||
        sandbox_data_institute(res, req->sb->store, &who, req->params[0], 1, &inst))
        return;
    sandbox_response_json(res, 200, json_incref(inst.json));
    sandbox_institute_row_dispose(&inst);
}
