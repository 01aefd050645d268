#include "data_access.h"

#include "store.h"

#include <string.h>
#include <strings.h>

int sandbox_data_auth(const sandbox_request *req, sandbox_response *res,
                      sandbox_principal *who)
{
    memset(who, 0, sizeof(*who));
    return sandbox_auth_require(req, res, who);
}

int sandbox_data_users_only(const sandbox_principal *who, sandbox_response *res)
{
    if (who->kind == SANDBOX_PRINCIPAL_USER)
        return 0;
    sandbox_response_error(res, 403, "service identities may not make this call");
    return -1;
}

static int is_service(const sandbox_principal *who)
{
    return who->kind == SANDBOX_PRINCIPAL_SERVICE;
}

int sandbox_data_project(sandbox_response *res, sandbox_store *store,
                         const sandbox_principal *who, const char *project_id, int service_ok,
                         sandbox_project_row *out)
{
    memset(out, 0, sizeof(*out));
    if (is_service(who)) {
        sandbox_institute_row own;
        memset(&own, 0, sizeof(own));
        int rc = service_ok ? sandbox_db_institute_load(store, who->institute_id, &own) : 1;
        int mine = rc == 0 && strcmp(own.project_id, project_id) == 0;
        sandbox_institute_row_dispose(&own);
        if (rc < 0) {
            sandbox_response_error(res, 500, "store error");
            return -1;
        }
        if (!mine) {
            sandbox_response_error(res, 403, "service identities may only use their institute");
            return -1;
        }
    } else {
        int member = sandbox_db_is_member(store, who->user_id, project_id);
        if (member < 0) {
            sandbox_response_error(res, 500, "store error");
            return -1;
        }
        if (!member) {
            sandbox_response_error(res, 404, "no project '%s'", project_id);
            return -1;
        }
    }
    int rc = sandbox_db_project_load(store, project_id, out);
    if (rc != 0) {
        sandbox_response_error(res, rc < 0 ? 500 : 404, rc < 0 ? "store error" : "no project '%s'",
                               project_id);
        return -1;
    }
    return 0;
}

int sandbox_data_institute(sandbox_response *res, sandbox_store *store,
                           const sandbox_principal *who, const char *institute_id,
                           int service_ok, sandbox_institute_row *out)
{
    memset(out, 0, sizeof(*out));
    if (is_service(who) && (!service_ok || strcmp(who->institute_id, institute_id) != 0)) {
        sandbox_response_error(res, 403, "service identities may only use their institute");
        return -1;
    }
    int rc = sandbox_db_institute_load(store, institute_id, out);
    int visible = rc == 0;
    if (visible && !is_service(who)) {
        int member = sandbox_db_is_member(store, who->user_id, out->project_id);
        if (member < 0)
            rc = -1;
        visible = member == 1;
    }
    if (rc < 0 || !visible) {
        sandbox_institute_row_dispose(out);
        if (rc < 0)
            sandbox_response_error(res, 500, "store error");
        else
            sandbox_response_error(res, 404, "no hospital '%s'", institute_id);
        return -1;
    }
    return 0;
}

int sandbox_data_study(sandbox_response *res, sandbox_store *store,
                       const sandbox_principal *who, const char *institute_id,
                       const char *study_id, int service_ok, sandbox_institute_row *inst,
                       sandbox_study_row *out)
{
    memset(out, 0, sizeof(*out));
    if (sandbox_data_institute(res, store, who, institute_id, service_ok, inst))
        return -1;
    int rc = sandbox_db_study_load(store, institute_id, study_id, out);
    if (rc != 0) {
        sandbox_institute_row_dispose(inst);
        if (rc < 0)
            sandbox_response_error(res, 500, "store error");
        else
            sandbox_response_error(res, 404, "no study '%s' in hospital '%s'", study_id,
                                   institute_id);
        return -1;
    }
    return 0;
}

int sandbox_query_flag(const char *value)
{
    return value && (strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0);
}

void sandbox_data_no_content(sandbox_response *res)
{
    igtcloud__buf_clear(&res->body);
    res->status = 204;
    res->content_type = NULL;
}

void sandbox_data_store_error(sandbox_response *res, sandbox_store *store, int in_tx)
{
    if (in_tx)
        sandbox_store_rollback(store);
    sandbox_response_error(res, 500, "the sandbox store failed");
}
