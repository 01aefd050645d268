#ifndef IGTCLOUD_API_UPLOAD_API_H
#define IGTCLOUD_API_UPLOAD_API_H

#include <jansson.h>

#include "core/buf.h"
#include "igtcloud/session.h"

/*
 * The entity writes upload needs (PROTOCOL.md section 4): study creation,
 * file registration and completion, the electronic record state. Look-ups
 * are the public catalog's (igtcloud/catalog.h); S3 credentials come from
 * api/s3_credentials.h. Each returns 0 or a negative igtcloud_status with the
 * error set; JSON results are owned by the caller.
 */

/* POST `body` (may be NULL: empty object) to `path`; *out may be NULL to drop the answer. */
int igtcloud__api_post_json(json_t **out, igtcloud_session *s, const char *path,
                            const json_t *body, const char *what);

/* POST a study; the created study (with studyDatabaseId and s3Prefix) into *out. */
int igtcloud__upload_create_study(json_t **out, igtcloud_session *s, const char *institute_id,
                                  const json_t *study);

/* How a failed registration is named in its error message. */
#define IGTCLOUD__UPLOAD_REGISTER_WHAT "register files"

/*
 * Register keys: `items` is an array of {"key", "fileSize"}; `owner_path` is
 * "/api/data/hospitals/{h}/studies/{s}" or "/api/data/projects/{p}".
 */
int igtcloud__upload_register(igtcloud_session *s, const char *owner_path, const json_t *items);

/* How a failed completion call is named in its error message. */
#define IGTCLOUD__UPLOAD_COMPLETED_WHAT "$file-upload-completed"

/*
 * The path and JSON body (caller frees) of a completion call, for callers
 * that send it themselves (upload sends it beside the transfer, api_async.h).
 */
int igtcloud__upload_completed_call(igtcloud__buf *path, char **body, const char *institute_id,
                                    const char *study_id, const char *uploaded_path);

/* POST .../files/$file-upload-completed {"uploadedPath", "triggerAction": true}. */
int igtcloud__upload_completed(igtcloud_session *s, const char *institute_id,
                               const char *study_id, const char *uploaded_path);

/* POST .../electronic-record-state {"username", "password", "electronicRecordState": "submitted"}. */
int igtcloud__upload_set_record_state(igtcloud_session *s, const char *institute_id,
                                      const char *study_id, const char *password);

/* "/api/data/hospitals/{h}/studies/{s}" (escaped) into a new string, or NULL. */
char *igtcloud__upload_study_path(const char *institute_id, const char *study_id);

#endif
