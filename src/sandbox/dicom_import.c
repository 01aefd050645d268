/*
 * update-database: file imported DICOM objects into patients, studies and
 * series of an institute (dicom_import.h, docs/sandbox-dicom.md).
 */
#include "dicom_import.h"

#include "dicom.h"
#include "objects.h"
#include "store.h"
#include "core/fdio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The header must lie within the first HEADER_READ_MAX bytes of an object. */
#define HEADER_READ_MAX ((size_t)4 * 1024 * 1024)
#define WALK_DEPTH_MAX 32
#define COPY_CHUNK 65536

typedef struct keylist {
    char **keys;
    size_t n, cap;
} keylist;

/* One import: where it files and what it has filed so far. */
typedef struct import {
    sandbox *sb;
    const sandbox_institute_row *inst;
    const char *who;
    sqlite3_stmt *file_put;
    json_t *studies;   /* array of the study entries of the answer */
    json_t *rejected;  /* array of {"key", "reason"} */
    long long filed;
} import;

static void keylist_dispose(keylist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i]);
    free(l->keys);
}

static int keylist_add(keylist *l, const char *key)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **keys = realloc(l->keys, cap * sizeof(*keys));
        if (!keys)
            return -1;
        l->keys = keys;
        l->cap = cap;
    }
    l->keys[l->n] = strdup(key);
    return l->keys[l->n] ? (int)(l->n++, 0) : -1;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The keys of the regular files below the folder `path` (whose key is
 * `key`). Symlinks and other special files are not objects and are left out.
 */
static int collect(keylist *l, const char *path, const char *key, int depth)
{
    if (depth > WALK_DEPTH_MAX)
        return 0;
    DIR *dir = opendir(path);
    if (!dir)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *d = readdir(dir);
        if (!d) {
            rc = errno ? -1 : 0;
            break;
        }
        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
            continue;
        char child_path[4200], child_key[SANDBOX_OBJECT_KEY_MAX + 2];
        struct stat st;
        int np = snprintf(child_path, sizeof(child_path), "%s/%s", path, d->d_name);
        int nk = snprintf(child_key, sizeof(child_key), "%s/%s", key, d->d_name);
        if (np < 0 || (size_t)np >= sizeof(child_path) || nk < 0 ||
            (size_t)nk >= sizeof(child_key) || lstat(child_path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = collect(l, child_path, child_key, depth + 1);
        else if (S_ISREG(st.st_mode) && !sandbox_object_key_problem(child_key))
            rc = keylist_add(l, child_key);
        if (rc)
            break;
    }
    closedir(dir);
    return rc;
}

static int reject(import *im, const char *key, const char *reason)
{
    json_t *entry = json_pack("{s:s, s:s}", "key", key, "reason", reason);
    return entry ? json_array_append_new(im->rejected, entry) : -1;
}

/* Copy the open object `fd` to object `key` (temporary file + rename). */
static int copy_object(const char *data_dir, int fd, const char *key)
{
    sandbox_object_writer w;
    unsigned char chunk[COPY_CHUNK];
    off_t at = 0;
    if (sandbox_object_writer_open(&w, data_dir, key))
        return -1;
    for (;;) {
        ssize_t n = pread(fd, chunk, sizeof(chunk), at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n > 0 && sandbox_object_writer_write(&w, chunk, (size_t)n))) {
            sandbox_object_writer_abort(&w);
            return -1;
        }
        if (n == 0)
            break;
        at += n;
    }
    return sandbox_object_writer_commit(&w);
}

/* The id of the institute's study with this StudyInstanceUID: 0, 1 when none, -1 on error. */
static int find_study(import *im, const char *uid, char *id, size_t id_size)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(sandbox_store_db(im->sb->store),
                           "SELECT id FROM studies WHERE institute_id = ?"
                           " AND json_extract(json, '$.instanceUid') = ? ORDER BY seq LIMIT 1",
                           -1, &stmt, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(stmt, 1, im->inst->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, uid, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        snprintf(id, id_size, "%s", (const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

static int set_text(json_t *obj, const char *name, const char *value)
{
    return *value ? json_object_set_new(obj, name, json_string(value)) : 0;
}

/* The body of a new study for this header, in the institute's studyType. */
static json_t *study_body(const import *im, const sandbox_dicom_header *h)
{
    const char *type = json_string_value(json_object_get(im->inst->json, "studyType"));
    if (!sandbox_study_type_known(type))
        type = "Study";
    json_t *study = json_pack("{s:s, s:s}", "studyType", type, "instanceUid", h->study_uid);
    if (!study || !sandbox_study_type_has_patient(type))
        return study;
    char date[32];
    json_t *patient = json_object();
    int rc = patient ? 0 : -1;
    if (rc == 0)
        rc = set_text(patient, "patientId", h->patient_id) ||
             set_text(patient, "patientName", h->patient_name) ||
             set_text(study, "studyId", h->study_id) ||
             set_text(study, "description", h->study_description) ||
             set_text(study, "accessionNumber", h->accession_number) ||
             (sandbox_dicom_iso_datetime(date, sizeof(date), h->study_date, h->study_time) == 0 &&
              set_text(study, "studyDate", date)) ||
             json_object_set(study, "patient", patient);
    json_decref(patient);
    if (rc) {
        json_decref(study);
        return NULL;
    }
    return study;
}

/* The answer's entry of study `id`, added on first use. */
static json_t *study_entry(import *im, const sandbox_study_row *row, const char *human,
                           const sandbox_dicom_header *h, int created)
{
    size_t i;
    json_t *entry;
    json_array_foreach(im->studies, i, entry) {
        if (strcmp(json_string_value(json_object_get(entry, "studyDatabaseId")), row->id) == 0)
            return entry;
    }
    entry = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:[]}", "studyDatabaseId", row->id,
                      "studyIdHumanReadable", human, "instanceUid", h->study_uid, "patientId",
                      h->patient_id, "created", created, "files", (json_int_t)0, "series");
    if (!entry || json_array_append_new(im->studies, entry))
        return NULL;
    return entry;
}

/* Count one file in its study's entry and its series. */
static int count_file(json_t *entry, const sandbox_dicom_header *h)
{
    json_t *files = json_object_get(entry, "files");
    json_t *series = json_object_get(entry, "series");
    size_t i;
    json_t *s;
    if (json_integer_set(files, json_integer_value(files) + 1))
        return -1;
    json_array_foreach(series, i, s) {
        if (strcmp(json_string_value(json_object_get(s, "instanceUid")), h->series_uid) == 0) {
            json_t *n = json_object_get(s, "files");
            return json_integer_set(n, json_integer_value(n) + 1);
        }
    }
    return json_array_append_new(series, json_pack("{s:s, s:s, s:I}", "instanceUid",
                                                   h->series_uid, "modality", h->modality,
                                                   "files", (json_int_t)1));
}

/*
 * Find or create the study of header `h` and register `key` in it; on
 * success *row holds the study. 0, 1 when the study body was refused
 * (msg says why), -1 on a store error.
 */
static int study_of(import *im, const sandbox_dicom_header *h, sandbox_study_row *row,
                    char *human, size_t human_size, int *created, char *msg, size_t msg_size)
{
    char id[SANDBOX_ID_MAX];
    sandbox_store *store = im->sb->store;
    int rc = find_study(im, h->study_uid, id, sizeof(id));
    *created = 0;
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (sandbox_db_study_load(store, im->inst->id, id, row) != 0)
            return -1;
        snprintf(human, human_size, "%s",
                 json_string_value(json_object_get(row->json, "studyIdHumanReadable")));
        return 0;
    }
    json_t *study = study_body(im, h);
    if (!study)
        return -1;
    if (sandbox_study_check(study, msg, msg_size)) {
        json_decref(study);
        return 1;
    }
    rc = sandbox_db_study_create(store, im->inst, study, im->who, row);
    if (rc == 0) {
        snprintf(human, human_size, "%s",
                 json_string_value(json_object_get(study, "studyIdHumanReadable")));
        *created = 1;
    }
    json_decref(study);
    return rc;
}

/*
 * File one object. Returns 0 when it was filed or rejected, -1 when the
 * store failed (the answer is then a 500).
 */
static int file_object(import *im, const char *key)
{
    char path[4200], reason[300], human[320], target[SANDBOX_OBJECT_KEY_MAX + 200];
    sandbox_dicom_header h;
    sandbox_study_row row;
    unsigned char *head = NULL;
    struct stat st;
    int fd = -1, rc = 0, in_tx = 0, created = 0;
    sandbox_store *store = im->sb->store;
    memset(&row, 0, sizeof(row));

    if (sandbox_object_path(path, sizeof(path), im->sb->data_dir, key) ||
        (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0 ||
        !S_ISREG(st.st_mode)) {
        rc = reject(im, key, "no such object");
        goto done;
    }
    size_t want = (unsigned long long)st.st_size < HEADER_READ_MAX ? (size_t)st.st_size
                                                                   : HEADER_READ_MAX;
    head = malloc(want ? want : 1);
    ssize_t head_len = head ? igtcloud__pread_full(fd, head, want, 0) : -1;
    if (head_len < 0) {
        rc = head ? reject(im, key, "the object could not be read") : -1;
        goto done;
    }
    if (sandbox_dicom_read(&h, head, (size_t)head_len, (unsigned long long)st.st_size, reason,
                           sizeof(reason))) {
        rc = reject(im, key, reason);
        goto done;
    }
    static const struct { size_t offset; const char *name; } required[] = {
        { offsetof(sandbox_dicom_header, study_uid), "(0020,000D) StudyInstanceUID" },
        { offsetof(sandbox_dicom_header, series_uid), "(0020,000E) SeriesInstanceUID" },
        { offsetof(sandbox_dicom_header, sop_uid), "(0008,0018) SOPInstanceUID" },
    };
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!((const char *)&h)[required[i].offset]) {
            snprintf(reason, sizeof(reason), "no %s in the header", required[i].name);
            rc = reject(im, key, reason);
            goto done;
        }
    }

    if (sandbox_store_begin(store) != SQLITE_OK) {
        rc = -1;
        goto done;
    }
    in_tx = 1;
    int found = study_of(im, &h, &row, human, sizeof(human), &created, reason, sizeof(reason));
    if (found < 0) {
        rc = -1;
        goto done;
    }
    if (found > 0) {
        rc = reject(im, key, reason);
        goto done;
    }
    int n = snprintf(target, sizeof(target), "%s%s%s/%s.dcm", row.s3_prefix,
                     sandbox_category_folder(SANDBOX_CATEGORY_DICOM), h.series_uid, h.sop_uid);
    if (n < 0 || (size_t)n >= sizeof(target) || sandbox_object_key_problem(target)) {
        rc = reject(im, key, "the study's key for this file would be too long");
        goto done;
    }
    if (strcmp(target, key) != 0 && copy_object(im->sb->data_dir, fd, target)) {
        snprintf(reason, sizeof(reason), "could not be moved to %.200s: %s", target,
                 strerror(errno));
        rc = reject(im, key, reason);
        goto done;
    }
    const char *rel = target + strlen(row.s3_prefix) +
                      strlen(sandbox_category_folder(SANDBOX_CATEGORY_DICOM));
    json_t *entry = NULL;
    if (sandbox_db_file_put(store, &im->file_put, SANDBOX_OWNER_STUDY, row.id,
                            SANDBOX_CATEGORY_DICOM, target, rel, (long long)st.st_size, 1) != 0 ||
        !(entry = study_entry(im, &row, human, &h, created)) || count_file(entry, &h) ||
        sandbox_store_commit(store) != SQLITE_OK) {
        if (strcmp(target, key) != 0)
            sandbox_object_delete(im->sb->data_dir, target);
        rc = -1;
        goto done;
    }
    in_tx = 0;
    im->filed++;
    /* Filed: the import copy goes, as the cloud empties its Import/ folder. */
    if (strcmp(target, key) != 0)
        sandbox_object_delete(im->sb->data_dir, key);
done:
    if (in_tx)
        sandbox_store_rollback(store);
    if (fd >= 0)
        close(fd);
    free(head);
    sandbox_study_row_dispose(&row);
    return rc;
}

void sandbox_dicom_update_database(sandbox *sb, sandbox_response *res,
                                   const sandbox_institute_row *inst, const char *key,
                                   int is_prefix, const char *who)
{
    import im;
    keylist keys;
    char path[4200];
    memset(&im, 0, sizeof(im));
    memset(&keys, 0, sizeof(keys));
    im.sb = sb;
    im.inst = inst;
    im.who = who;
    im.studies = json_array();
    im.rejected = json_array();
    int rc = im.studies && im.rejected ? 0 : -1;
    if (rc == 0 && is_prefix) {
        rc = sandbox_object_path(path, sizeof(path), sb->data_dir, key) ? -1
                                                                        : collect(&keys, path, key, 0);
        if (rc == 0 && keys.n)
            qsort(keys.keys, keys.n, sizeof(*keys.keys), cmp_keys);
    } else if (rc == 0) {
        rc = keylist_add(&keys, key);
    }
    for (size_t i = 0; rc == 0 && i < keys.n; i++)
        rc = file_object(&im, keys.keys[i]);
    if (rc) {
        sandbox_response_error(res, 500, "the sandbox store failed while filing the import");
    } else {
        json_t *answer = json_pack("{s:I, s:O, s:O}", "filed", (json_int_t)im.filed, "studies",
                                   im.studies, "rejected", im.rejected);
        if (answer)
            sandbox_response_json(res, 200, answer);
        else
            sandbox_response_error(res, 500, "out of memory");
    }
    sqlite3_finalize(im.file_put);
    json_decref(im.studies);
    json_decref(im.rejected);
    keylist_dispose(&keys);
}
