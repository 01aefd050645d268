/*
 * The entity writes of upload: study creation, registration, completion,
 * submit. Reads go through the catalog (catalog.h), S3 credentials through
 * api/s3_credentials.h.
 */
#include "api/upload_api.h"

#include "api/catalog_int.h"
#include "auth/session_int.h"
#include "core/buf.h"
#include "core/error.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* Parse a 2xx answer as JSON, or turn anything else into an error. */
static int answer_json(json_t **out, const igtcloud__http_response *res, const char *what)
{
    if (res->status < 200 || res->status > 299)
        return igtcloud__session_error(res, what);
    if (!out)
        return 0;
    if (res->body.size == 0) {
        *out = json_object();
        return *out ? 0 : igtcloud__error_oom();
    }
    json_error_t jerr;
    json_t *j = json_loadb(res->body.ptr, res->body.size, 0, &jerr);
    if (!j)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "%s: the answer is not JSON (%s)", what,
                                   jerr.text);
    *out = j;
    return 0;
}

int igtcloud__api_post_json(json_t **out, igtcloud_session *s, const char *path,
                            const json_t *body, const char *what)
{
    igtcloud__http_response res;
    igtcloud__http_response_init(&res);
    char *text = json_dumps(body ? body : json_object(), JSON_COMPACT);
    int rc = text ? igtcloud__session_request(&res, s, "POST", path, text) : igtcloud__error_oom();
    if (rc == 0)
        rc = answer_json(out, &res, what);
    free(text);
    igtcloud__http_response_dispose(&res);
    return rc;
}

/* Append a, then b URL-escaped, then c, then d URL-escaped (NULL ends early). */
static int path_of(igtcloud__buf *out, const char *a, const char *b, const char *c,
                   const char *d)
{
    const char *parts[4] = { a, b, c, d };
    for (int i = 0; i < 4 && parts[i]; i++) {
        int rc = i % 2 == 0 ? igtcloud__buf_puts(out, parts[i])
                            : igtcloud__catalog_put_segment(out, parts[i]);
        if (rc)
            return rc;
    }
    return 0;
}

char *igtcloud__upload_study_path(const char *institute_id, const char *study_id)
{
    igtcloud__buf b = IGTCLOUD_BUF_INIT;
    if (path_of(&b, "/api/data/hospitals/", institute_id, "/studies/", study_id)) {
        igtcloud__buf_dispose(&b);
        return NULL;
    }
    return igtcloud__buf_detach(&b);
}

int igtcloud__upload_create_study(json_t **out, igtcloud_session *s, const char *institute_id,
                                  const json_t *study)
{
    igtcloud__buf p = IGTCLOUD_BUF_INIT;
    json_t *created = NULL;
    int rc = path_of(&p, "/api/data/hospitals/", institute_id, "/studies", NULL);
    if (rc == 0)
        rc = igtcloud__api_post_json(&created, s, p.ptr, study, "create study");
    if (rc == 0 && (!json_is_object(created) ||
                    !json_string_value(json_object_get(created, "studyDatabaseId")) ||
                    !json_string_value(json_object_get(created, "s3Prefix"))))
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "create study: the answer has no "
                                                  "studyDatabaseId or s3Prefix");
    if (rc == 0) {
        *out = created;
        created = NULL;
    }
    json_decref(created);
    igtcloud__buf_dispose(&p);
    return rc;
}

int igtcloud__upload_register(igtcloud_session *s, const char *owner_path, const json_t *items)
{
    igtcloud__buf p = IGTCLOUD_BUF_INIT;
    int rc = igtcloud__buf_printf(&p, "%s/files", owner_path) ? igtcloud__error_oom() : 0;
    if (rc == 0)
        rc = igtcloud__api_post_json(NULL, s, p.ptr, items, IGTCLOUD__UPLOAD_REGISTER_WHAT);
    igtcloud__buf_dispose(&p);
    return rc;
}

int igtcloud__upload_completed_call(igtcloud__buf *path, char **body, const char *institute_id,
                                    const char *study_id, const char *uploaded_path)
{
    json_t *j = json_pack("{s:s, s:b}", "uploadedPath", uploaded_path, "triggerAction", 1);
    if (!j)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "the file name is not UTF-8");
    int rc = path_of(path, "/api/data/hospitals/", institute_id, "/studies/", study_id);
    if (rc == 0 && igtcloud__buf_puts(path, "/files/$file-upload-completed"))
        rc = igtcloud__error_oom();
    if (rc == 0 && !(*body = json_dumps(j, JSON_COMPACT)))
        rc = igtcloud__error_oom();
    json_decref(j);
    return rc;
}

int igtcloud__upload_completed(igtcloud_session *s, const char *institute_id,
                               const char *study_id, const char *uploaded_path)
{
    igtcloud__buf p = IGTCLOUD_BUF_INIT;
    igtcloud__http_response res;
    igtcloud__http_response_init(&res);
    char *body = NULL;
    int rc = igtcloud__upload_completed_call(&p, &body, institute_id, study_id, uploaded_path);
    if (rc == 0)
        rc = igtcloud__session_request(&res, s, "POST", p.ptr, body);
    if (rc == 0)
        rc = answer_json(NULL, &res, IGTCLOUD__UPLOAD_COMPLETED_WHAT);
    igtcloud__http_response_dispose(&res);
    free(body);
    igtcloud__buf_dispose(&p);
    return rc;
}

int igtcloud__upload_set_record_state(igtcloud_session *s, const char *institute_id,
                                      const char *study_id, const char *password)
{
    igtcloud__buf p = IGTCLOUD_BUF_INIT;
    const char *user = igtcloud_session_user(s);
    json_t *body = json_pack("{s:s, s:s, s:s}", "username", user ? user : "", "password",
                             password ? password : "", "electronicRecordState", "submitted");
    int rc = body ? path_of(&p, "/api/data/hospitals/", institute_id, "/studies/", study_id)
                  : igtcloud__error_set(IGTCLOUD_EINVALID, "the password is not UTF-8");
    if (rc == 0 && igtcloud__buf_puts(&p, "/electronic-record-state"))
        rc = igtcloud__error_oom();
    if (rc == 0)
        rc = igtcloud__api_post_json(NULL, s, p.ptr, body, "submit study");
    if (body) {
        /* The password was copied into the body; do not leave it in freed memory. */
        json_t *pw = json_object_get(body, "password");
        const char *v = json_string_value(pw);
        if (v)
            OPENSSL_cleanse((void *)v, strlen(v));
    }
    json_decref(body);
    igtcloud__buf_dispose(&p);
    return rc;
}
