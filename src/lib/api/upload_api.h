#ifndef IGTCLOUD_API_UPLOAD_API_H
#define IGTCLOUD_API_UPLOAD_API_H

#include <jansson.h>

#include "igtcloud/session.h"
#include "igtcloud/transfer.h"

/*
 * The entity calls upload needs (PROTOCOL.md section 4): lookups, study
 * creation, file registration and completion, the electronic record state,
 * and PUT credentials. Each returns 0 or a negative igtcloud_status with the
 * error set; JSON results are owned by the caller.
 */

/* GET `path` and parse the JSON answer; `what` names the call in errors. */
int igtcloud__api_get_json(json_t **out, igtcloud_session *s, const char *path,
                           const char *what);

/* POST `body` (may be NULL: empty object) to `path`; *out may be NULL to drop the answer. */
int igtcloud__api_post_json(json_t **out, igtcloud_session *s, const char *path,
                            const json_t *body, const char *what);

/* The project named `name` (exact), or IGTCLOUD_ENOTFOUND. */
int igtcloud__upload_find_project(json_t **out, igtcloud_session *s, const char *name);

/* The institutes of a project (an array). */
int igtcloud__upload_list_institutes(json_t **out, igtcloud_session *s, const char *project_id);

/* The studies of an institute (an array). */
int igtcloud__upload_list_studies(json_t **out, igtcloud_session *s, const char *institute_id);

/*
 * The file entries of a study: the `files` category, or with `annotations`
 * the auxiliary `annotations` list (an array either way).
 */
int igtcloud__upload_list_study_files(json_t **out, igtcloud_session *s,
                                      const char *institute_id, const char *study_id,
                                      int annotations);

/* The project-level files (an array). */
int igtcloud__upload_list_project_files(json_t **out, igtcloud_session *s,
                                        const char *project_id);

/* POST a study; the created study (with studyDatabaseId and s3Prefix) into *out. */
int igtcloud__upload_create_study(json_t **out, igtcloud_session *s, const char *institute_id,
                                  const json_t *study);

/*
 * Register keys: `items` is an array of {"key", "fileSize"}; `owner_path` is
 * "/api/data/hospitals/{h}/studies/{s}" or "/api/data/projects/{p}".
 */
int igtcloud__upload_register(igtcloud_session *s, const char *owner_path, const json_t *items);

/* POST .../files/$file-upload-completed {"uploadedPath", "triggerAction": true}. */
int igtcloud__upload_completed(igtcloud_session *s, const char *institute_id,
                               const char *study_id, const char *uploaded_path);

/* POST .../electronic-record-state {"username", "password", "electronicRecordState": "submitted"}. */
int igtcloud__upload_set_record_state(igtcloud_session *s, const char *institute_id,
                                      const char *study_id, const char *password);

/*
 * A transfer credentials provider (igtcloud_transfer_credentials_cb) that
 * asks GET /api/auth/s3credentials?action=&prefix=; payload: the session.
 */
int igtcloud__upload_credentials_cb(igtcloud_s3_credentials *out, const char *action,
                                    const char *prefix, void *payload);

/* "/api/data/hospitals/{h}/studies/{s}" (escaped) into a new string, or NULL. */
char *igtcloud__upload_study_path(const char *institute_id, const char *study_id);

#endif
