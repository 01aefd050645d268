#ifndef SANDBOX_DATA_MODEL_H
#define SANDBOX_DATA_MODEL_H

#include <stddef.h>
#include <jansson.h>

/*
 * Pure rules of the data service (no store, no HTTP): study types and their
 * validation, the human-readable id, file categories and file JSON. Kept
 * apart so unit tests and fuzzers can drive them directly.
 */

/* 1 when `type` is one of the study types of PROTOCOL.md section 4. */
int sandbox_study_type_known(const char *type);

/* 1 when studies of `type` carry a `patient` (the BaseStudy family). */
int sandbox_study_type_has_patient(const char *type);

/* The study types, NULL-terminated, for messages and seeding. */
extern const char *const sandbox_study_types[];

/*
 * Check a study body as POST/PUT receive it and normalise it in place:
 * an object, `studyType` a known type, `patient` an object when present,
 * `instituteId` a string when present, and the known date fields full ISO
 * date-times (a date-only value gets "T00:00:00"; anything unparseable is
 * refused). Every other field is left exactly as it is. On failure returns
 * -1 and writes a one-line message naming the field into msg.
 */
int sandbox_study_check(json_t *study, char *msg, size_t msg_size);

/*
 * The two halves of studyIdHumanReadable ("<patient>/<study>"), taken from
 * the study's own fields (see data_model.c). `fallback_patient` and
 * `fallback_study` are used when no field gives one. Slashes and control
 * characters in a part become '_'; parts are cut at 120 bytes.
 */
void sandbox_study_human_id(char *out, size_t out_size, const json_t *study,
                            const char *fallback_patient, const char *fallback_study);

/* RFC 7386 JSON merge patch of `patch` into `target` (an object), in place. */
int sandbox_json_merge_patch(json_t *target, const json_t *patch);

/* Where a study's file lives; the names are the File listing's keys. */
typedef enum {
    SANDBOX_CATEGORY_NONE = 0,
    SANDBOX_CATEGORY_FILES,        /* s3Prefix + "files/" */
    SANDBOX_CATEGORY_DICOM,        /* s3Prefix + "0/" */
    SANDBOX_CATEGORY_ANNOTATIONS,  /* s3Prefix + "annotations/" */
    SANDBOX_CATEGORY_PROJECT,      /* the project's s3Prefix */
} sandbox_category;

/* "files", "dicom", "annotations", "project"; "" for NONE. */
const char *sandbox_category_name(sandbox_category c);

/* The sub-folder of a study's prefix for c ("files/", "0/", "annotations/"); "" otherwise. */
const char *sandbox_category_folder(sandbox_category c);

/* Parse "files" / "dicom" / "annotations" (study categories only). */
sandbox_category sandbox_category_parse(const char *name);

/*
 * Which category of a study with `study_prefix` the S3 `key` belongs to;
 * *rel points into key at the file name relative to the category folder.
 * NONE when the key is outside the three folders, names the folder itself,
 * or is not a valid object key.
 */
sandbox_category sandbox_study_file_category(const char *study_prefix, const char *key,
                                             const char **rel);

/*
 * The File `type`: the extension of the last path segment with its dot, as
 * Python's os.path.splitext gives it ("a/b.tar.gz" -> ".gz", ".hidden" -> "",
 * "noext" -> ""). Written into out.
 */
void sandbox_file_type(char *out, size_t out_size, const char *file_name);

/* One row of the files table, as the File JSON is built from it. */
typedef struct sandbox_file_info {
    const char *key;
    const char *file_name;
    long long file_size;
    int is_completed;
    int is_new;
    const char *upload_id;      /* NULL: none */
    long long progress_bytes;
} sandbox_file_info;

/* The File object of openapi/entities.json. New reference; NULL on OOM. */
json_t *sandbox_file_json(const sandbox_file_info *f);

#endif
