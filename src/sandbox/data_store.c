#include "data_store.h"
#include "store.h"
#include "core/isotime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static sqlite3_stmt *prepare(sandbox_store *store, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(sandbox_store_db(store), sql, -1, &stmt, NULL) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return NULL;
    }
    return stmt;
}

static void bind_text(sqlite3_stmt *stmt, int i, const char *text)
{
    if (text)
        sqlite3_bind_text(stmt, i, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, i);
}

/* Prepare `sql` with texts[0..n) bound to ?1..?n (NULL binds SQL NULL). */
static sqlite3_stmt *prepare_texts(sandbox_store *store, const char *sql,
                                   const char *const *texts, size_t n)
{
    sqlite3_stmt *stmt = prepare(store, sql);
    for (size_t i = 0; stmt && i < n; i++)
        bind_text(stmt, (int)i + 1, texts[i]);
    return stmt;
}

/* QUERY(store, sql, text1, text2, ...): the statement with its text parameters bound. */
#define QUERY(store, sql, ...)                                                              \
    prepare_texts((store), (sql), (const char *const[]){ __VA_ARGS__ },                     \
                  sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

/* Step a query of at most one row: 0 on the row, 1 when there is none, -1 on error. */
static int step_one(sqlite3_stmt *stmt)
{
    if (!stmt)
        return -1;
    int rc = sqlite3_step(stmt);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

static void copy_column(char *out, size_t size, sqlite3_stmt *stmt, int col)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    snprintf(out, size, "%s", text ? (const char *)text : "");
}

static json_t *column_json(sqlite3_stmt *stmt, int col)
{
    const char *text = (const char *)sqlite3_column_text(stmt, col);
    return text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
}

/* Run a statement that returns no rows; finalizes it. */
static int run(sqlite3_stmt *stmt)
{
    if (!stmt)
        return -1;
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Bind `json` (compact text) to parameter i and run the statement; finalizes it. */
static int run_with_json(sqlite3_stmt *stmt, int i, const json_t *json)
{
    char *text = stmt ? json_dumps(json, JSON_COMPACT) : NULL;
    if (!text) {
        sqlite3_finalize(stmt);
        return -1;
    }
    sqlite3_bind_text(stmt, i, text, -1, free);
    return run(stmt);
}

/* Run a statement that changes rows: 0, 1 when it changed none, -1 on error. */
static int run_change(sandbox_store *store, sqlite3_stmt *stmt)
{
    if (run(stmt))
        return -1;
    return sqlite3_changes(sandbox_store_db(store)) == 0 ? 1 : 0;
}

/* Where load_row copies a text column. */
typedef struct text_out {
    char *buf;
    size_t size;
} text_out;

#define TEXT_OUT(field) { (field), sizeof(field) }

/*
 * Step a query of one row: its first n columns into cols, column n parsed as
 * JSON into *json. 0, 1 when there is no row, -1 on error. Finalizes.
 */
static int load_row(sqlite3_stmt *stmt, const text_out *cols, int n, json_t **json)
{
    int rc = step_one(stmt);
    if (rc == 0) {
        for (int i = 0; i < n; i++)
            copy_column(cols[i].buf, cols[i].size, stmt, i);
        *json = column_json(stmt, n);
        rc = *json ? 0 : -1;
    }
    sqlite3_finalize(stmt);
    return rc;
}

void sandbox_project_row_dispose(sandbox_project_row *row)
{
    json_decref(row->json);
    row->json = NULL;
}

void sandbox_institute_row_dispose(sandbox_institute_row *row)
{
    json_decref(row->json);
    row->json = NULL;
}

void sandbox_study_row_dispose(sandbox_study_row *row)
{
    json_decref(row->json);
    row->json = NULL;
}

int sandbox_db_project_load(sandbox_store *store, const char *id, sandbox_project_row *out)
{
    memset(out, 0, sizeof(*out));
    const text_out cols[] = { TEXT_OUT(out->id), TEXT_OUT(out->s3_prefix) };
    return load_row(QUERY(store, "SELECT id, s3_prefix, json FROM projects WHERE id = ?", id),
                    cols, 2, &out->json);
}

int sandbox_db_institute_load(sandbox_store *store, const char *id, sandbox_institute_row *out)
{
    memset(out, 0, sizeof(*out));
    const text_out cols[] = { TEXT_OUT(out->id), TEXT_OUT(out->project_id),
                              TEXT_OUT(out->s3_prefix) };
    return load_row(QUERY(store, "SELECT id, project_id, s3_prefix, json FROM institutes"
                                 " WHERE id = ?", id),
                    cols, 3, &out->json);
}

int sandbox_db_study_load(sandbox_store *store, const char *institute_id, const char *id,
                          sandbox_study_row *out)
{
    memset(out, 0, sizeof(*out));
    const text_out cols[] = { TEXT_OUT(out->id), TEXT_OUT(out->institute_id),
                              TEXT_OUT(out->patient_id), TEXT_OUT(out->s3_prefix) };
    return load_row(QUERY(store, "SELECT id, institute_id, patient_id, s3_prefix, json"
                                 " FROM studies WHERE id = ? AND institute_id = ?",
                          id, institute_id),
                    cols, 4, &out->json);
}

/* 1 when the query returns a row, 0 when not, -1 on error. Finalizes. */
static int exists(sqlite3_stmt *stmt)
{
    int rc = step_one(stmt);
    sqlite3_finalize(stmt);
    return rc == 0 ? 1 : rc == 1 ? 0 : -1;
}

int sandbox_db_is_member(sandbox_store *store, long long user_id, const char *project_id)
{
    sqlite3_stmt *stmt = QUERY(store,
        "SELECT 1 FROM memberships WHERE user_id = ?2 AND project_id = ?1", project_id);
    if (stmt)
        sqlite3_bind_int64(stmt, 2, user_id);
    return exists(stmt);
}

int sandbox_db_project_name_taken(sandbox_store *store, const char *name)
{
    return exists(QUERY(store, "SELECT 1 FROM projects WHERE name = ?", name));
}

int sandbox_db_institute_name_taken(sandbox_store *store, const char *project_id,
                                    const char *name)
{
    return exists(QUERY(store, "SELECT 1 FROM institutes WHERE project_id = ? AND name = ?",
                        project_id, name));
}

/* Append column 0 of every row, parsed as JSON, to array. */
static int append_json_rows(sqlite3_stmt *stmt, json_t *array)
{
    int rc;
    if (!stmt)
        return -1;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        json_t *item = column_json(stmt, 0);
        if (!item || json_array_append_new(array, item)) {
            sqlite3_finalize(stmt);
            return -1;
        }
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

int sandbox_db_institutes_append(sandbox_store *store, const char *project_id,
                                 const char *only_id, json_t *array)
{
    return append_json_rows(QUERY(store,
        "SELECT json FROM institutes WHERE project_id = ?1 AND (?2 IS NULL OR id = ?2)"
        " ORDER BY seq, rowid", project_id, only_id), array);
}

json_t *sandbox_db_project_json(sandbox_store *store, const sandbox_project_row *row,
                                const char *only_institute)
{
    json_t *project = json_deep_copy(row->json);
    json_t *institutes = json_array();
    if (!project || !institutes ||
        sandbox_db_institutes_append(store, row->id, only_institute, institutes) ||
        json_object_set(project, "institutes", institutes)) {
        json_decref(project);
        json_decref(institutes);
        return NULL;
    }
    json_decref(institutes);
    return project;
}

int sandbox_db_projects_of_user(sandbox_store *store, long long user_id, json_t *array)
{
    sqlite3_stmt *stmt = prepare(store,
        "SELECT p.id FROM projects p JOIN memberships m ON m.project_id = p.id"
        " WHERE m.user_id = ? ORDER BY p.seq, p.rowid");
    int rc;
    if (!stmt)
        return -1;
    sqlite3_bind_int64(stmt, 1, user_id);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        char id[SANDBOX_ID_MAX];
        sandbox_project_row row;
        copy_column(id, sizeof(id), stmt, 0);
        if (sandbox_db_project_load(store, id, &row) != 0)
            break;
        json_t *project = sandbox_db_project_json(store, &row, NULL);
        sandbox_project_row_dispose(&row);
        if (!project || json_array_append_new(array, project))
            break;
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

int sandbox_db_institutes_of_user(sandbox_store *store, long long user_id, json_t *array)
{
    sqlite3_stmt *stmt = prepare(store,
        "SELECT i.json FROM institutes i JOIN projects p ON p.id = i.project_id"
        " JOIN memberships m ON m.project_id = p.id WHERE m.user_id = ?"
        " ORDER BY p.seq, p.rowid, i.seq, i.rowid");
    if (!stmt)
        return -1;
    sqlite3_bind_int64(stmt, 1, user_id);
    return append_json_rows(stmt, array);
}

int sandbox_db_project_insert(sandbox_store *store, const char *id, const char *name,
                              const char *s3_prefix, const json_t *json)
{
    return run_with_json(QUERY(store,
        "INSERT INTO projects(id, name, s3_prefix, json, seq)"
        " VALUES(?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM projects))",
        id, name, s3_prefix), 4, json);
}

int sandbox_db_institute_insert(sandbox_store *store, const char *id, const char *project_id,
                                const char *name, const char *s3_prefix, const json_t *json)
{
    return run_with_json(QUERY(store,
        "INSERT INTO institutes(id, project_id, name, s3_prefix, json, seq)"
        " VALUES(?1, ?2, ?3, ?4, ?5,"
        " (SELECT COALESCE(MAX(seq), 0) + 1 FROM institutes WHERE project_id = ?2))",
        id, project_id, name, s3_prefix), 5, json);
}

int sandbox_db_institute_service_count(sandbox_store *store, const char *institute_id,
                                       long long *count)
{
    sqlite3_stmt *stmt = QUERY(store, "SELECT COUNT(*) FROM services WHERE institute_id = ?",
                               institute_id);
    int rc = step_one(stmt) == 0 ? 0 : -1;
    if (rc == 0)
        *count = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return rc;
}

/* Run `sql` with one text parameter; for the cascades below. */
static int run1(sandbox_store *store, const char *sql, const char *a)
{
    return run(QUERY(store, sql, a));
}

int sandbox_db_institute_delete(sandbox_store *store, const char *institute_id)
{
    if (run1(store,
             "DELETE FROM files WHERE owner_kind = 'study' AND owner_id IN"
             " (SELECT id FROM studies WHERE institute_id = ?)", institute_id) ||
        run1(store, "DELETE FROM studies WHERE institute_id = ?", institute_id) ||
        run1(store, "DELETE FROM patients WHERE institute_id = ?", institute_id) ||
        run1(store, "DELETE FROM institutes WHERE id = ?", institute_id))
        return -1;
    return 0;
}

int sandbox_db_project_delete(sandbox_store *store, const char *project_id)
{
    if (run1(store, "DELETE FROM files WHERE owner_kind = 'project' AND owner_id = ?",
             project_id) ||
        run1(store, "DELETE FROM memberships WHERE project_id = ?", project_id) ||
        run1(store, "DELETE FROM projects WHERE id = ?", project_id))
        return -1;
    return 0;
}

/* Set `name` to `value` (a new reference), keeping the field's place when it exists. */
static int set_field(json_t *obj, const char *name, json_t *value)
{
    return value ? json_object_set_new(obj, name, value) : -1;
}

/* Find or create the patient of `study` in the institute; fills id and prefix. */
static int link_patient(sandbox_store *store, const sandbox_institute_row *inst,
                        json_t *patient, char *patient_id, size_t id_size,
                        char *prefix, size_t prefix_size)
{
    const char *key = json_string_value(json_object_get(patient, "patientId"));
    if (!key || !*key)
        key = json_string_value(json_object_get(patient, "patientName"));
    char uuid[37];
    if (sandbox_uuid(uuid))
        return -1;
    if (!key || !*key)
        key = uuid;   /* an anonymous patient of its own */

    sqlite3_stmt *stmt = QUERY(store,
        "SELECT id, s3_prefix FROM patients WHERE institute_id = ? AND patient_key = ?",
        inst->id, key);
    int rc = step_one(stmt);
    if (rc == 0) {
        copy_column(patient_id, id_size, stmt, 0);
        copy_column(prefix, prefix_size, stmt, 1);
    }
    sqlite3_finalize(stmt);
    if (rc <= 0)
        return rc;

    snprintf(patient_id, id_size, "%s", uuid);
    int n = snprintf(prefix, prefix_size, "%s%s/", inst->s3_prefix, uuid);
    if (n < 0 || (size_t)n >= prefix_size)
        return -1;
    return run_with_json(QUERY(store,
        "INSERT INTO patients(id, institute_id, patient_key, s3_prefix, json)"
        " VALUES(?, ?, ?, ?, ?)", patient_id, inst->id, key, prefix), 5, patient);
}

static void now_iso(char out[IGTCLOUD_ISOTIME_LEN])
{
    igtcloud__isotime_format(out, time(NULL));
}

int sandbox_db_study_create(sandbox_store *store, const sandbox_institute_row *inst,
                            json_t *study, const char *creator, sandbox_study_row *out)
{
    char study_id[37], patient_id[SANDBOX_ID_MAX] = "", base[SANDBOX_PREFIX_MAX];
    char prefix[SANDBOX_PREFIX_MAX], human[300], candidate[320], seq_text[24];
    char now[IGTCLOUD_ISOTIME_LEN];
    const char *type = json_string_value(json_object_get(study, "studyType"));
    json_t *patient = json_object_get(study, "patient");
    const char *project_id = inst->project_id;
    sqlite3_stmt *stmt = NULL;
    long long seq = 0;
    int rc = -1;

    if (sandbox_uuid(study_id))
        goto done;
    snprintf(base, sizeof(base), "%s", inst->s3_prefix);
    if (sandbox_study_type_has_patient(type) && json_is_object(patient)) {
        if (link_patient(store, inst, patient, patient_id, sizeof(patient_id), base,
                         sizeof(base)))
            goto done;
        if (set_field(patient, "patientDatabaseId", json_string(patient_id)) ||
            set_field(patient, "s3Prefix", json_string(base)))
            goto done;
    }
    int n = snprintf(prefix, sizeof(prefix), "%s%s/", base, study_id);
    if (n < 0 || (size_t)n >= sizeof(prefix))
        goto done;

    stmt = QUERY(store, "SELECT COALESCE(MAX(seq), 0) + 1 FROM studies WHERE institute_id = ?",
                 inst->id);
    if (step_one(stmt) != 0)
        goto done;
    seq = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    stmt = NULL;

    /* A readable id that names the study uniquely within its institute. */
    snprintf(seq_text, sizeof(seq_text), "%04lld", seq);
    sandbox_study_human_id(human, sizeof(human), study,
                           patient_id[0] ? patient_id : "study", seq_text);
    snprintf(candidate, sizeof(candidate), "%s", human);
    for (int i = 2;; i++) {
        int taken = exists(QUERY(store,
            "SELECT 1 FROM studies WHERE institute_id = ? AND human_id = ?", inst->id, candidate));
        if (taken < 0)
            goto done;
        if (!taken)
            break;
        snprintf(candidate, sizeof(candidate), "%s-%d", human, i);
    }

    now_iso(now);
    if (set_field(study, "studyDatabaseId", json_string(study_id)) ||
        set_field(study, "instituteId", json_string(inst->id)) ||
        set_field(study, "hospitalId", json_string(inst->id)) ||
        set_field(study, "projectId", json_string(project_id)) ||
        set_field(study, "studyIdHumanReadable", json_string(candidate)) ||
        set_field(study, "s3Prefix", json_string(prefix)) ||
        set_field(study, "createdOn", json_string(now)) ||
        set_field(study, "createdBy", json_string(creator)) ||
        set_field(study, "lastUpdatedOn", json_string(now)) ||
        set_field(study, "lastUpdatedBy", json_string(creator)))
        goto done;
    if (patient_id[0] && set_field(study, "patientDatabaseId", json_string(patient_id)))
        goto done;

    stmt = QUERY(store,
        "INSERT INTO studies(id, institute_id, patient_id, study_type, human_id, s3_prefix,"
        " json, seq) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
        study_id, inst->id, patient_id[0] ? patient_id : NULL, type, candidate, prefix);
    if (stmt)
        sqlite3_bind_int64(stmt, 8, seq);
    rc = run_with_json(stmt, 7, study);
    stmt = NULL;
    if (rc == 0 && out) {
        memset(out, 0, sizeof(*out));
        snprintf(out->id, sizeof(out->id), "%s", study_id);
        snprintf(out->institute_id, sizeof(out->institute_id), "%s", inst->id);
        snprintf(out->patient_id, sizeof(out->patient_id), "%s", patient_id);
        snprintf(out->s3_prefix, sizeof(out->s3_prefix), "%s", prefix);
    }
done:
    sqlite3_finalize(stmt);
    return rc;
}

int sandbox_db_study_update(sandbox_store *store, const sandbox_study_row *current,
                            json_t *study, const char *updater)
{
    /* Fields only the server writes: the stored values win over the body's. */
    static const char *const owned[] = {
        "studyDatabaseId", "instituteId", "hospitalId", "projectId", "studyIdHumanReadable",
        "s3Prefix", "createdOn", "createdBy", "patientDatabaseId", NULL,
    };
    char now[IGTCLOUD_ISOTIME_LEN];
    for (int i = 0; owned[i]; i++) {
        json_t *value = json_object_get(current->json, owned[i]);
        if (value) {
            if (json_object_set(study, owned[i], value))
                return -1;
        } else {
            json_object_del(study, owned[i]);
        }
    }
    json_t *old_patient = json_object_get(current->json, "patient");
    json_t *patient = json_object_get(study, "patient");
    if (current->patient_id[0] && json_is_object(patient) && json_is_object(old_patient)) {
        static const char *const linked[] = { "patientDatabaseId", "s3Prefix", NULL };
        for (int i = 0; linked[i]; i++) {
            json_t *value = json_object_get(old_patient, linked[i]);
            if (value && json_object_set(patient, linked[i], value))
                return -1;
        }
    }
    now_iso(now);
    if (set_field(study, "lastUpdatedOn", json_string(now)) ||
        set_field(study, "lastUpdatedBy", json_string(updater)))
        return -1;
    return run_with_json(QUERY(store, "UPDATE studies SET json = ?3, study_type = ?1 WHERE id = ?2",
                               json_string_value(json_object_get(study, "studyType")),
                               current->id),
                         3, study);
}

int sandbox_db_study_set_human_id(sandbox_store *store, const char *study_id, const char *human,
                                  const json_t *json)
{
    return run_with_json(QUERY(store, "UPDATE studies SET human_id = ?1, json = ?3 WHERE id = ?2",
                               human, study_id),
                         3, json);
}

int sandbox_db_study_delete(sandbox_store *store, const char *study_id)
{
    if (run1(store, "DELETE FROM files WHERE owner_kind = 'study' AND owner_id = ?", study_id) ||
        run1(store, "DELETE FROM studies WHERE id = ?", study_id))
        return -1;
    return 0;
}

int sandbox_db_studies_append(sandbox_store *store, const char *institute_id, json_t *array)
{
    return append_json_rows(QUERY(store,
        "SELECT json FROM studies WHERE institute_id = ? ORDER BY seq, rowid", institute_id),
        array);
}

int sandbox_db_file_put(sandbox_store *store, sqlite3_stmt **stmt, const char *owner_kind,
                        const char *owner_id, sandbox_category category, const char *key,
                        const char *file_name, long long size, int completed)
{
    /*
     * A new registration starts incomplete and new; registering the key
     * again (a new upload of it) resets it the same way. The WHERE clause
     * keeps a key of another owner untouched, which then counts as a conflict.
     */
    if (!*stmt) {
        *stmt = prepare(store,
            "INSERT INTO files(owner_kind, owner_id, category, key, file_name, file_size,"
            " is_completed, is_new, progress_bytes, created)"
            " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9)"
            " ON CONFLICT(key) DO UPDATE SET file_size = excluded.file_size,"
            " is_completed = excluded.is_completed, is_new = excluded.is_new,"
            " progress_bytes = 0, upload_id = NULL"
            " WHERE owner_kind = excluded.owner_kind AND owner_id = excluded.owner_id");
        if (!*stmt)
            return -1;
    }
    sqlite3_stmt *s = *stmt;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    sqlite3_bind_text(s, 1, owner_kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, owner_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, sandbox_category_name(category), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, file_name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, size);
    sqlite3_bind_int(s, 7, completed ? 1 : 0);
    sqlite3_bind_int(s, 8, completed ? 0 : 1);
    sqlite3_bind_int64(s, 9, (long long)time(NULL));
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return -1;
    return sqlite3_changes(sandbox_store_db(store)) == 0 ? 1 : 0;
}

#define FILE_COLUMNS "key, file_name, file_size, is_completed, is_new, upload_id, progress_bytes"

static json_t *file_row_json(sqlite3_stmt *stmt)
{
    sandbox_file_info info;
    info.key = (const char *)sqlite3_column_text(stmt, 0);
    info.file_name = (const char *)sqlite3_column_text(stmt, 1);
    info.file_size = sqlite3_column_int64(stmt, 2);
    info.is_completed = sqlite3_column_int(stmt, 3);
    info.is_new = sqlite3_column_int(stmt, 4);
    info.upload_id = (const char *)sqlite3_column_text(stmt, 5);
    info.progress_bytes = sqlite3_column_int64(stmt, 6);
    if (!info.key || !info.file_name)
        return NULL;
    return sandbox_file_json(&info);
}

int sandbox_db_file_get(sandbox_store *store, const char *owner_kind, const char *owner_id,
                        const char *key, json_t **out)
{
    sqlite3_stmt *stmt = QUERY(store,
        "SELECT " FILE_COLUMNS " FROM files WHERE owner_kind = ? AND owner_id = ? AND key = ?",
        owner_kind, owner_id, key);
    int rc = step_one(stmt);
    if (rc == 0) {
        *out = file_row_json(stmt);
        rc = *out ? 0 : -1;
    }
    sqlite3_finalize(stmt);
    return rc;
}

static int key_in(const json_t *keys, const char *key)
{
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        const char *text = json_string_value(k);
        if (text && strcmp(text, key) == 0)
            return 1;
    }
    return 0;
}

int sandbox_db_files_append(sandbox_store *store, const char *owner_kind, const char *owner_id,
                            sandbox_category category, int completed_only,
                            const json_t *skip_keys, json_t *array)
{
    sqlite3_stmt *stmt = QUERY(store,
        "SELECT " FILE_COLUMNS " FROM files WHERE owner_kind = ?1 AND owner_id = ?2"
        " AND (?3 IS NULL OR category = ?3) AND (?4 = 0 OR is_completed = 1)"
        " ORDER BY id",
        owner_kind, owner_id,
        category == SANDBOX_CATEGORY_NONE ? NULL : sandbox_category_name(category));
    int rc;
    if (!stmt)
        return -1;
    sqlite3_bind_int(stmt, 4, completed_only ? 1 : 0);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(stmt, 0);
        if (skip_keys && key && key_in(skip_keys, key))
            continue;
        json_t *file = file_row_json(stmt);
        if (!file || json_array_append_new(array, file)) {
            rc = SQLITE_ERROR;
            break;
        }
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

int sandbox_db_file_complete(sandbox_store *store, const char *owner_kind, const char *owner_id,
                             const char *key, long long size)
{
    sqlite3_stmt *stmt = QUERY(store,
        "UPDATE files SET is_completed = 1, is_new = 0,"
        " file_size = CASE WHEN ?4 < 0 THEN file_size ELSE ?4 END,"
        " progress_bytes = CASE WHEN ?4 < 0 THEN file_size ELSE ?4 END"
        " WHERE owner_kind = ?1 AND owner_id = ?2 AND key = ?3", owner_kind, owner_id, key);
    if (stmt)
        sqlite3_bind_int64(stmt, 4, size);
    return run_change(store, stmt);
}

int sandbox_db_file_delete(sandbox_store *store, const char *owner_kind, const char *owner_id,
                           const char *key)
{
    return run_change(store, QUERY(store,
        "DELETE FROM files WHERE owner_kind = ? AND owner_id = ? AND key = ?",
        owner_kind, owner_id, key));
}
