/* /api/action (openapi/action.json). */
#include "router.h"
#include "data_access.h"
#include "dicom_import.h"
#include "objects.h"

#include <string.h>

/*
 * POST /api/action/update-database {"hospitalId", "uploadedPath", "isPrefix"}:
 * the cloud files a DICOM import found under the institute's Import/
 * folder. uploadedPath is relative to the institute's s3Prefix
 * ("Import/<uuid>/", as igtcloud sends it); a path without the "Import/"
 * head is taken inside Import/, and the institute's full prefix in front is
 * accepted too. The sandbox checks the call (fields, access, a path that
 * stays inside the import folder), then dicom_import.c files the objects.
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
    if (strncmp(path, inst.s3_prefix, strlen(inst.s3_prefix)) == 0)
        path += strlen(inst.s3_prefix);
    if (strncmp(path, "Import/", 7) == 0)
        path += 7;
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
    sandbox_dicom_update_database(req->sb, res, &inst, key, json_is_true(is_prefix),
                                  who.subject);
done:
    sandbox_institute_row_dispose(&inst);
    json_decref(body);
}

const sandbox_route sandbox_action_routes[] = {
    { "POST", "/api/action/update-database", update_database },
    { NULL, NULL, NULL },
};
