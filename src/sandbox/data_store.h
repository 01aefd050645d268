#ifndef SANDBOX_DATA_STORE_H
#define SANDBOX_DATA_STORE_H

#include "sandbox.h"
#include "data_model.h"

/*
 * SQL of the data service: projects, institutes, patients, studies and file
 * rows. Call with the store lock held. Functions returning int answer 0 on
 * success, 1 for "no such row" where a lookup can miss, and -1 on a store
 * error. Row structs own their `json` (release with _dispose).
 */

#define SANDBOX_ID_MAX 128
#define SANDBOX_PREFIX_MAX 1100

typedef struct sandbox_project_row {
    char id[SANDBOX_ID_MAX];
    char s3_prefix[SANDBOX_PREFIX_MAX];
    json_t *json;
} sandbox_project_row;

typedef struct sandbox_institute_row {
    char id[SANDBOX_ID_MAX];
    char project_id[SANDBOX_ID_MAX];
    char s3_prefix[SANDBOX_PREFIX_MAX];
    json_t *json;
} sandbox_institute_row;

typedef struct sandbox_study_row {
    char id[SANDBOX_ID_MAX];
    char institute_id[SANDBOX_ID_MAX];
    char patient_id[SANDBOX_ID_MAX];   /* "" when the study has no patient */
    char s3_prefix[SANDBOX_PREFIX_MAX];
    json_t *json;
} sandbox_study_row;

void sandbox_project_row_dispose(sandbox_project_row *row);
void sandbox_institute_row_dispose(sandbox_institute_row *row);
void sandbox_study_row_dispose(sandbox_study_row *row);

int sandbox_db_project_load(sandbox_store *store, const char *id, sandbox_project_row *out);
int sandbox_db_institute_load(sandbox_store *store, const char *id, sandbox_institute_row *out);
/* The study `id` of institute `institute_id`. */
int sandbox_db_study_load(sandbox_store *store, const char *institute_id, const char *id,
                          sandbox_study_row *out);

/* 1 when user_id is a member of project_id, 0 when not, -1 on error. */
int sandbox_db_is_member(sandbox_store *store, long long user_id, const char *project_id);

/* 1 when a project (or an institute of `project_id`) already has this name. */
int sandbox_db_project_name_taken(sandbox_store *store, const char *name);
int sandbox_db_institute_name_taken(sandbox_store *store, const char *project_id,
                                    const char *name);

/*
 * Append the Institute objects of project_id to `array` in creation order;
 * only `only_id` when it is not NULL.
 */
int sandbox_db_institutes_append(sandbox_store *store, const char *project_id,
                                 const char *only_id, json_t *array);

/* The Project object: the stored JSON plus `institutes` (only `only_institute` if set). */
json_t *sandbox_db_project_json(sandbox_store *store, const sandbox_project_row *row,
                                const char *only_institute);

/* Append the Project objects of every project user_id is a member of. */
int sandbox_db_projects_of_user(sandbox_store *store, long long user_id, json_t *array);

/* Append the Institute objects of every project user_id is a member of. */
int sandbox_db_institutes_of_user(sandbox_store *store, long long user_id, json_t *array);

/* Insert rows; `json` is stored as given (compact). */
int sandbox_db_project_insert(sandbox_store *store, const char *id, const char *name,
                              const char *s3_prefix, const json_t *json);
int sandbox_db_institute_insert(sandbox_store *store, const char *id, const char *project_id,
                                const char *name, const char *s3_prefix, const json_t *json);

/* Number of service identities of an institute (they must go first). */
int sandbox_db_institute_service_count(sandbox_store *store, const char *institute_id,
                                       long long *count);

/* Delete an institute with its studies, patients and file rows (not the objects). */
int sandbox_db_institute_delete(sandbox_store *store, const char *institute_id);
/* Delete a project with memberships and project file rows; institutes go first. */
int sandbox_db_project_delete(sandbox_store *store, const char *project_id);

/*
 * Create a study in `inst` from a body that passed sandbox_study_check:
 * assigns studyDatabaseId, instituteId, hospitalId, projectId,
 * studyIdHumanReadable (unique in the institute), s3Prefix (under the
 * patient's or the institute's prefix), createdOn/By, lastUpdatedOn/By, and
 * links or creates the patient when the type has one. The other fields keep
 * their values and order. `study` is updated in place; *out (may be NULL) gets
 * the new row's ids.
 */
int sandbox_db_study_create(sandbox_store *store, const sandbox_institute_row *inst,
                            json_t *study, const char *creator, sandbox_study_row *out);

/*
 * Store row->json as the study's new content after PUT/PATCH, re-imposing
 * the server-owned fields of `current` (ids, prefix, creation) and setting
 * lastUpdatedOn/By.
 */
int sandbox_db_study_update(sandbox_store *store, const sandbox_study_row *current,
                            json_t *study, const char *updater);

/*
 * Give a study the readable id `human` and store `json` as its content, with
 * no check at all: the seeder's "unchecked" documents plant ids the API would
 * never assign (docs/sandbox-seed.md). Tests only.
 */
int sandbox_db_study_set_human_id(sandbox_store *store, const char *study_id, const char *human,
                                  const json_t *json);

/* Delete a study and its file rows (not the objects). */
int sandbox_db_study_delete(sandbox_store *store, const char *study_id);

/* Append the institute's studies in creation order. */
int sandbox_db_studies_append(sandbox_store *store, const char *institute_id, json_t *array);

/* Owners of file rows. */
#define SANDBOX_OWNER_STUDY "study"
#define SANDBOX_OWNER_PROJECT "project"

/*
 * Register `key` (or update its row when it exists): size, and completion
 * state. `stmt` caches the prepared statement between calls (start with
 * NULL; finalize it with sqlite3_finalize). Returns 0, 1 when the key belongs
 * to another owner, -1 on error.
 */
int sandbox_db_file_put(sandbox_store *store, sqlite3_stmt **stmt, const char *owner_kind,
                        const char *owner_id, sandbox_category category, const char *key,
                        const char *file_name, long long size, int completed);

/* The File JSON of one row of this owner; 1 when there is none. */
int sandbox_db_file_get(sandbox_store *store, const char *owner_kind, const char *owner_id,
                        const char *key, json_t **out);

/*
 * Append the owner's File objects in registration order to `array`:
 * only `category` unless it is NONE, only completed ones when asked,
 * leaving out `skip_keys` (a JSON array of key strings, may be NULL).
 */
int sandbox_db_files_append(sandbox_store *store, const char *owner_kind, const char *owner_id,
                            sandbox_category category, int completed_only,
                            const json_t *skip_keys, json_t *array);

/* Mark complete; size < 0 keeps the registered size. 1 when there is no such row. */
int sandbox_db_file_complete(sandbox_store *store, const char *owner_kind, const char *owner_id,
                             const char *key, long long size);

/* Delete one row of this owner; 1 when there was none. */
int sandbox_db_file_delete(sandbox_store *store, const char *owner_kind, const char *owner_id,
                           const char *key);

#endif
