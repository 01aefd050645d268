/* The entity calls of upload: lookups, study creation, registration, completion, submit. */
#include "api/upload_api.h"

#include "auth/session_int.h"
#include "core/buf.h"
#include "core/error.h"

#include <curl/curl.h>
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

int igtcloud__api_get_json(json_t **out, igtcloud_session *s, const char *path, const char *what)
{
    igtcloud__http_response res;
    igtcloud__http_response_init(&res);
    int rc = igtcloud__session_request(&res, s, "GET", path, NULL);
    if (rc == 0)
        rc = answer_json(out, &res, what);
    igtcloud__http_response_dispose(&res);
    return rc;
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
        if (i % 2 == 0) {
            if (igtcloud__buf_puts(out, parts[i]))
                return igtcloud__error_oom();
            continue;
        }
        char *e = curl_easy_escape(NULL, parts[i], 0);
        int rc = e ? igtcloud__buf_puts(out, e) : igtcloud__error_oom();
        curl_free(e);
        if (rc)
            return igtcloud__error_oom();
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

int igtcloud__upload_find_project(json_t **out, igtcloud_session *s, const char *name)
{
    json_t *list = NULL;
    int rc = igtcloud__api_get_json(&list, s, "/api/data/projects", "list projects");
    if (rc)
        return rc;
    size_t i;
    json_t *p;
    rc = IGTCLOUD_ENOTFOUND;
    json_array_foreach(list, i, p) {
        const char *n = json_string_value(json_object_get(p, "name"));
        if (n && strcmp(n, name) == 0) {
            *out = json_incref(p);
            rc = 0;
            break;
        }
    }
    json_decref(list);
    if (rc)
        return igtcloud__error_set(rc, "no project named '%s' that %s may see (check the "
                                       "name, or ask for access to it)",
                                   name, igtcloud_session_user(s));
    return 0;
}

/* GET a path and insist on an array (or an object's `field` array). */
static int get_array(json_t **out, igtcloud_session *s, const char *path, const char *field,
                     const char *what)
{
    json_t *j = NULL;
    int rc = igtcloud__api_get_json(&j, s, path, what);
    if (rc)
        return rc;
    json_t *arr = field ? json_object_get(j, field) : j;
    if (!arr) { /* an absent list is an empty one */
        json_decref(j);
        *out = json_array();
        return *out ? 0 : igtcloud__error_oom();
    }
    if (!json_is_array(arr)) {
        json_decref(j);
        return igtcloud__error_set(IGTCLOUD_EPROTO, "%s: the answer is not a list", what);
    }
    *out = json_incref(arr);
    json_decref(j);
    return 0;
}

int igtcloud__upload_list_institutes(json_t **out, igtcloud_session *s, const char *project_id)
{
    igtcloud__buf p = IGTCLOUD_BUF_INIT;
    int rc = path_of(&p, "/api/data/projects/", project_id, "/hospitals", NULL);
    if (rc == 0)
        rc = get_array(out, s, p.ptr, NULL, "list institutes");
    igtcloud__buf_dispose(&p);
    return rc;
}

int igtcloud__upload_list_studies(json_t **out, igtcloud_session *s, const char *institute_id)
{
    igtcloud__buf p = IGTCLOUD_BUF_INIT;
    int rc = path_of(&p, "/api/data/hospitals/", institute_id, "/studies", NULL);
    if (rc == 0)
        rc = get_array(out, s, p.ptr, NULL, "list studies");
    igtcloud__buf_dispose(&p);
    return rc;
}

int igtcloud__upload_list_study_files(json_t **out, igtcloud_session *s,
                                      const char *institute_id, const char *study_id,
                                      int annotations)
{
    igtcloud__buf p = IGTCLOUD_BUF_INIT;
    int rc = path_of(&p, "/api/data/hospitals/", institute_id, "/studies/", study_id);
    if (rc == 0)
        rc = igtcloud__buf_puts(&p, annotations ? "/files?auxiliary=True" : "/files")
                 ? igtcloud__error_oom() : 0;
    if (rc == 0)
        rc = get_array(out, s, p.ptr, annotations ? "annotations" : "files", "list study files");
    igtcloud__buf_dispose(&p);
    return rc;
}

int igtcloud__upload_list_project_files(json_t **out, igtcloud_session *s,
                                        const char *project_id)
{
    igtcloud__buf p = IGTCLOUD_BUF_INIT;
    int rc = path_of(&p, "/api/data/projects/", project_id, "/files", NULL);
    if (rc == 0)
        rc = get_array(out, s, p.ptr, "files", "list project files");
    igtcloud__buf_dispose(&p);
    return rc;
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
        rc = igtcloud__api_post_json(NULL, s, p.ptr, items, "register files");
    igtcloud__buf_dispose(&p);
    return rc;
}

int igtcloud__upload_completed(igtcloud_session *s, const char *institute_id,
                               const char *study_id, const char *uploaded_path)
{
    igtcloud__buf p = IGTCLOUD_BUF_INIT;
    json_t *body = json_pack("{s:s, s:b}", "uploadedPath", uploaded_path, "triggerAction", 1);
    int rc = body ? path_of(&p, "/api/data/hospitals/", institute_id, "/studies/", study_id)
                  : igtcloud__error_set(IGTCLOUD_EINVALID, "the file name is not UTF-8");
    if (rc == 0 && igtcloud__buf_puts(&p, "/files/$file-upload-completed"))
        rc = igtcloud__error_oom();
    if (rc == 0)
        rc = igtcloud__api_post_json(NULL, s, p.ptr, body, "complete upload");
    json_decref(body);
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

int igtcloud__upload_credentials_cb(igtcloud_s3_credentials *out, const char *action,
                                    const char *prefix, void *payload)
{
    igtcloud_session *s = payload;
    igtcloud__buf p = IGTCLOUD_BUF_INIT;
    igtcloud__http_response res;
    igtcloud__http_response_init(&res);
    int rc = path_of(&p, "/api/auth/s3credentials?action=", action, "&prefix=", prefix);
    if (rc == 0)
        rc = igtcloud__session_request(&res, s, "GET", p.ptr, NULL);
    if (rc == 0 && (res.status < 200 || res.status > 299))
        rc = igtcloud__session_error(&res, "S3 credentials");
    if (rc == 0)
        rc = igtcloud_s3_credentials_from_json(out, res.body.ptr ? res.body.ptr : "",
                                               res.body.size);
    igtcloud__http_response_dispose(&res);
    igtcloud__buf_dispose(&p);
    return rc;
}
