/* /api/action (openapi/action.json). */
#include "router.h"
#include "data_access.h"
#include "objects.h"

#include <string.h>

/*
 * POST /api/action/update-database {"hospitalId", "uploadedPath", "isPrefix"}:
 * the cloud files a DICOM import found under the institute's
 * "Import/<uploadedPath>". The sandbox checks the call (fields, access, a
 * path that stays inside the import folder) and accepts it; it does not
 * file the DICOM objects into studies.
 */
static void update_database(sandbox_request *req, sandbox_response *res)
{
    sandbox_principal who;
    sandbox_institute_row inst;
    char key[SANDBOX_OBJECT_KEY_MAX + 200];
    json_t *body = NULL;
    memset(&inst, 0, sizeof(inst));
    if (sandbox_data_auth(req, res, &who))
        return;
    body = sandbox_request_json(req, res);
    if (!body)
        return;
    const char *hospital = json_string_value(json_object_get(body, "hospitalId"));
    const char *path = json_string_value(json_object_get(body, "uploadedPath"));
    json_t *is_prefix = json_object_get(body, "isPrefix");
    if (!hospital || !*hospital) {
        sandbox_response_error(res, 400, "field 'hospitalId' is required and must be a "
                                         "non-empty string");
        goto done;
    }
    if (!path || !*path) {
        sandbox_response_error(res, 400, "field 'uploadedPath' is required and must be a "
                                         "non-empty string");
        goto done;
    }
    if (is_prefix && !json_is_boolean(is_prefix)) {
        sandbox_response_error(res, 400, "field 'isPrefix' must be a boolean");
        goto done;
    }
    if (sandbox_data_institute(res, req->sb->store, &who, hospital, 1, &inst))
        goto done;
    /* A prefix ends in '/'; the part before it must still be a clean key. */
    size_t len = strlen(path);
    int n = snprintf(key, sizeof(key), "%sImport/%.*s", inst.s3_prefix,
                     (int)(len > 1 && path[len - 1] == '/' ? len - 1 : len), path);
    const char *problem = n > 0 && (size_t)n < sizeof(key) ? sandbox_object_key_problem(key)
                                                          : "the path is too long";
    if (problem) {
        sandbox_response_error(res, 400, "field 'uploadedPath' is not a valid path below "
                                         "the hospital's Import/ folder: %s", problem);
        goto done;
    }
    sandbox_response_json(res, 200, json_object());
done:
    sandbox_institute_row_dispose(&inst);
    json_decref(body);
}

const sandbox_route sandbox_action_routes[] = {
    { "POST", "/api/action/update-database", update_database },
    { NULL, NULL, NULL },
};
