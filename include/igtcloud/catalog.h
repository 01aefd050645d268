#ifndef IGTCLOUD_CATALOG_H
#define IGTCLOUD_CATALOG_H

/**
 * @file igtcloud/catalog.h
 * @brief Browsing a data lake: projects, institutes, studies and their files.
 *
 * Every listing is fetched once (one API call) and kept in a compact form:
 * the fields callers branch on are extracted, and each entity's full JSON is
 * kept as compact text (igtcloud_project_json(), igtcloud_study_json() ...)
 * rather than as a parsed tree, so 100,000 studies or files cost tens of
 * megabytes, never memory proportional to file contents.
 *
 * Objects returned through `T **out` are owned by the caller and freed with
 * the matching `_free` (NULL is a no-op). Pointers returned by getters and by
 * `_at` are borrowed and stay valid until their list or object is freed.
 */

#include <stddef.h>
#include <stdint.h>

#include "igtcloud/common.h"
#include "igtcloud/session.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A project (`GET /api/data/projects`). */
typedef struct igtcloud_project igtcloud_project;
/** The projects visible to the user. */
typedef struct igtcloud_project_list igtcloud_project_list;
/** An institute (hospital) of a project. */
typedef struct igtcloud_institute igtcloud_institute;
/** Institutes of a project. */
typedef struct igtcloud_institute_list igtcloud_institute_list;
/** A study of an institute. */
typedef struct igtcloud_study igtcloud_study;
/** Studies of an institute. */
typedef struct igtcloud_study_list igtcloud_study_list;
/** Files of a study (one or more categories) or of a project. */
typedef struct igtcloud_file_list igtcloud_file_list;

/** File categories; combine them as a bit mask where a mask is asked for. */
typedef enum {
    IGTCLOUD_CATEGORY_FILES = 1,        /**< study files: `s3Prefix + "files/"` */
    IGTCLOUD_CATEGORY_DICOM = 2,        /**< DICOM: `s3Prefix + "0/"` (`?auxiliary=True`) */
    IGTCLOUD_CATEGORY_ANNOTATIONS = 4,  /**< `s3Prefix + "annotations/"` (`?auxiliary=True`) */
    IGTCLOUD_CATEGORY_PROJECT = 8       /**< project-level files */
} igtcloud_category;

/** Every study category. */
#define IGTCLOUD_CATEGORY_ALL_STUDY \
    (IGTCLOUD_CATEGORY_FILES | IGTCLOUD_CATEGORY_DICOM | IGTCLOUD_CATEGORY_ANNOTATIONS)

/**
 * The name of a category as the CLI and folder layout spell it: "files",
 * "dicom", "annotations", "project".
 *
 * @return a static string; "" for a value that is not one category.
 */
IGTCLOUD_EXTERN const char *igtcloud_category_name(igtcloud_category category);

/**
 * Parse a category name ("files", "dicom", "annotations"; case-insensitive).
 *
 * @param[out] out the category
 * @param name     the name
 * @return 0, or IGTCLOUD_EINVALID for an unknown name.
 */
IGTCLOUD_EXTERN int igtcloud_category_parse(igtcloud_category *out, const char *name);

/* ---- projects ------------------------------------------------------------ */

/**
 * List the projects the user can see (`GET /api/data/projects`).
 *
 * @param[out] out  the list, freed with igtcloud_project_list_free(); set only on success
 * @param session   an open session
 * @return 0; IGTCLOUD_EAUTH / EPERM, IGTCLOUD_EPROTO (not an array of
 *         projects), transport codes.
 */
IGTCLOUD_EXTERN int igtcloud_project_list_fetch(igtcloud_project_list **out,
                                                igtcloud_session *session);

/** Number of projects in the list. */
IGTCLOUD_EXTERN size_t igtcloud_project_list_count(const igtcloud_project_list *list);

/** The project at `index`, or NULL when out of range; borrowed from the list. */
IGTCLOUD_EXTERN const igtcloud_project *igtcloud_project_list_at(const igtcloud_project_list *list,
                                                                  size_t index);

/** Free a project list. NULL is a no-op. */
IGTCLOUD_EXTERN void igtcloud_project_list_free(igtcloud_project_list *list);

/**
 * Find a project by its exact name (as the reference client does).
 *
 * @param[out] out  the project, freed with igtcloud_project_free(); set only on success
 * @param session   an open session
 * @param name      the project's name, compared exactly
 * @return 0; IGTCLOUD_ENOTFOUND when no visible project has that name;
 *         the codes of igtcloud_project_list_fetch().
 */
IGTCLOUD_EXTERN int igtcloud_project_find(igtcloud_project **out, igtcloud_session *session,
                                          const char *name);

/**
 * Copy a project (e.g. one borrowed from a list).
 *
 * @param[out] out the copy, freed with igtcloud_project_free()
 * @param project  the project to copy
 * @return 0 or IGTCLOUD_ENOMEM.
 */
IGTCLOUD_EXTERN int igtcloud_project_dup(igtcloud_project **out, const igtcloud_project *project);

/** Free a project returned by igtcloud_project_find() or _dup(). NULL is a no-op. */
IGTCLOUD_EXTERN void igtcloud_project_free(igtcloud_project *project);

/** The project's `id`; borrowed. */
IGTCLOUD_EXTERN const char *igtcloud_project_id(const igtcloud_project *project);
/** The project's `name`; borrowed. */
IGTCLOUD_EXTERN const char *igtcloud_project_name(const igtcloud_project *project);
/** The project's `s3Prefix` (where project files live); borrowed, "" when absent. */
IGTCLOUD_EXTERN const char *igtcloud_project_s3_prefix(const igtcloud_project *project);
/** The project's `studyType`; borrowed, "" when absent. */
IGTCLOUD_EXTERN const char *igtcloud_project_study_type(const igtcloud_project *project);
/** The project as the API returned it, compact JSON text; borrowed. */
IGTCLOUD_EXTERN const char *igtcloud_project_json(const igtcloud_project *project);

/* ---- institutes ---------------------------------------------------------- */

/**
 * List a project's institutes (`GET /api/data/projects/{id}/hospitals`),
 * optionally only the one with an exact name.
 *
 * @param[out] out  the list, freed with igtcloud_institute_list_free(); set only on success
 * @param session   an open session
 * @param project   the project
 * @param name      NULL or "*": every institute; otherwise the institute with
 *                  exactly this name
 * @return 0; IGTCLOUD_ENOTFOUND when `name` names no institute of the
 *         project; IGTCLOUD_EAUTH / EPERM, EPROTO, transport codes.
 */
IGTCLOUD_EXTERN int igtcloud_institute_list_fetch(igtcloud_institute_list **out,
                                                  igtcloud_session *session,
                                                  const igtcloud_project *project,
                                                  const char *name);

/** Number of institutes in the list. */
IGTCLOUD_EXTERN size_t igtcloud_institute_list_count(const igtcloud_institute_list *list);

/** The institute at `index`, or NULL when out of range; borrowed from the list. */
IGTCLOUD_EXTERN const igtcloud_institute *
igtcloud_institute_list_at(const igtcloud_institute_list *list, size_t index);

/** Free an institute list. NULL is a no-op. */
IGTCLOUD_EXTERN void igtcloud_institute_list_free(igtcloud_institute_list *list);

/** The institute's `id`; borrowed. */
IGTCLOUD_EXTERN const char *igtcloud_institute_id(const igtcloud_institute *institute);
/** The institute's `name` (its folder name on disk); borrowed. */
IGTCLOUD_EXTERN const char *igtcloud_institute_name(const igtcloud_institute *institute);
/** The institute's `s3Prefix`; borrowed, "" when absent. */
IGTCLOUD_EXTERN const char *igtcloud_institute_s3_prefix(const igtcloud_institute *institute);
/** The institute's `studyType` (the type of new studies); borrowed, "" when absent. */
IGTCLOUD_EXTERN const char *igtcloud_institute_study_type(const igtcloud_institute *institute);
/** The institute as the API returned it, compact JSON text; borrowed. */
IGTCLOUD_EXTERN const char *igtcloud_institute_json(const igtcloud_institute *institute);

/* ---- studies ------------------------------------------------------------- */

/**
 * List an institute's studies (`GET /api/data/hospitals/{id}/studies`), in
 * the order the API returned them.
 *
 * @param[out] out      the list, freed with igtcloud_study_list_free(); set only on success
 * @param session       an open session
 * @param institute_id  the institute's id (igtcloud_institute_id())
 * @return 0; IGTCLOUD_ENOTFOUND (no such institute), IGTCLOUD_EAUTH / EPERM,
 *         EPROTO, transport codes.
 */
IGTCLOUD_EXTERN int igtcloud_study_list_fetch(igtcloud_study_list **out,
                                              igtcloud_session *session,
                                              const char *institute_id);

/** Number of studies in the list. */
IGTCLOUD_EXTERN size_t igtcloud_study_list_count(const igtcloud_study_list *list);

/** The study at `index`, or NULL when out of range; borrowed from the list. */
IGTCLOUD_EXTERN const igtcloud_study *igtcloud_study_list_at(const igtcloud_study_list *list,
                                                              size_t index);

/**
 * The first study of the list whose key (igtcloud_study_key()) is `key`.
 *
 * @return the study, borrowed from the list, or NULL when none matches.
 */
IGTCLOUD_EXTERN const igtcloud_study *igtcloud_study_list_find_key(const igtcloud_study_list *list,
                                                                    const char *key);

/** Free a study list. NULL is a no-op. */
IGTCLOUD_EXTERN void igtcloud_study_list_free(igtcloud_study_list *list);

/**
 * Parse one study from JSON text (e.g. a study.json on disk, or the body of
 * `POST .../studies`).
 *
 * @param[out] out the study, freed with igtcloud_study_free(); set only on success
 * @param json     the text (need not be NUL-terminated)
 * @param len      its length in bytes
 * @return 0; IGTCLOUD_EPROTO when it is not a JSON object; IGTCLOUD_ENOMEM.
 */
IGTCLOUD_EXTERN int igtcloud_study_from_json(igtcloud_study **out, const char *json, size_t len);

/**
 * Copy a study (e.g. one borrowed from a list).
 *
 * @param[out] out the copy, freed with igtcloud_study_free()
 * @param study    the study to copy
 * @return 0 or IGTCLOUD_ENOMEM.
 */
IGTCLOUD_EXTERN int igtcloud_study_dup(igtcloud_study **out, const igtcloud_study *study);

/** Free a study from igtcloud_study_from_json() or _dup(). NULL is a no-op. */
IGTCLOUD_EXTERN void igtcloud_study_free(igtcloud_study *study);

/** `studyDatabaseId`; borrowed, "" when absent. */
IGTCLOUD_EXTERN const char *igtcloud_study_id(const igtcloud_study *study);
/** `studyIdHumanReadable` ("patient/study"); borrowed, "" when absent. */
IGTCLOUD_EXTERN const char *igtcloud_study_human_id(const igtcloud_study *study);
/** `instituteId` (else `hospitalId`); borrowed, "" when absent. */
IGTCLOUD_EXTERN const char *igtcloud_study_institute_id(const igtcloud_study *study);
/** `studyType`; borrowed, "" when absent. */
IGTCLOUD_EXTERN const char *igtcloud_study_type(const igtcloud_study *study);
/** `s3Prefix`; borrowed, "" when absent. */
IGTCLOUD_EXTERN const char *igtcloud_study_s3_prefix(const igtcloud_study *study);
/**
 * The key local folders are matched with (PROTOCOL.md section 4): the first
 * present of name, clinicalStudy, subjectId, patient.patientName,
 * studyDatabaseId; borrowed, "" when none is present.
 */
IGTCLOUD_EXTERN const char *igtcloud_study_key(const igtcloud_study *study);
/**
 * The date --start/--end filter on: `studyDate`, or `datetime` for EpdStudy.
 *
 * @param[out] out seconds since the epoch (UTC when the value has no zone)
 * @param study    the study
 * @return 0, or IGTCLOUD_ENOTFOUND when the study has no such date.
 */
IGTCLOUD_EXTERN int igtcloud_study_date(int64_t *out, const igtcloud_study *study);
/** The study as the API returned it (field order kept), compact JSON text; borrowed. */
IGTCLOUD_EXTERN const char *igtcloud_study_json(const igtcloud_study *study);

/**
 * The study's folder relative to its institute folder, as download writes it
 * and upload matches it: flat "patient---study" or hierarchical
 * "patient/study", from `studyIdHumanReadable`.
 *
 * @param[out] out  buffer for the NUL-terminated folder
 * @param size      size of out
 * @param study     the study
 * @param hierarchical 0: flat, 1: hierarchical
 * @return 0; IGTCLOUD_EINVALID when the id is missing or would leave the
 *         institute folder (`..`, absolute, control characters), or when out
 *         is too small.
 */
IGTCLOUD_EXTERN int igtcloud_study_folder(char *out, size_t size, const igtcloud_study *study,
                                          int hierarchical);

/* ---- files --------------------------------------------------------------- */

/** One file of a listing; every pointer is borrowed from the list. */
typedef struct igtcloud_file_info {
    igtcloud_category category; /**< which listing it came from */
    const char *key;            /**< the full S3 key */
    const char *name;           /**< `fileName`: relative to the category prefix */
    const char *type;           /**< extension with dot (".dcm"), "" when absent */
    int64_t size;               /**< `fileSize`, -1 when absent */
    int completed;              /**< `isCompleted` */
    int is_new;                 /**< `isNew` */
    const char *upload_id;      /**< `uploadId`, "" when none */
} igtcloud_file_info;

/**
 * List a study's files of the categories in `categories` (a mask of
 * IGTCLOUD_CATEGORY_FILES / DICOM / ANNOTATIONS): one
 * `GET .../studies/{sid}/files` for files and one `?auxiliary=True` for
 * dicom and annotations together. Entries keep the API's order, files first.
 *
 * @param[out] out  the list, freed with igtcloud_file_list_free(); set only on success
 * @param session   an open session
 * @param study     the study (its institute id and id are used)
 * @param categories the categories wanted
 * @return 0; IGTCLOUD_EINVALID (empty mask), IGTCLOUD_ENOTFOUND,
 *         IGTCLOUD_EAUTH / EPERM, EPROTO, transport codes.
 */
IGTCLOUD_EXTERN int igtcloud_file_list_fetch_study(igtcloud_file_list **out,
                                                   igtcloud_session *session,
                                                   const igtcloud_study *study,
                                                   unsigned int categories);

/**
 * List a project's project-level files (`GET /api/data/projects/{id}/files`);
 * their category is IGTCLOUD_CATEGORY_PROJECT.
 *
 * @param[out] out  the list, freed with igtcloud_file_list_free(); set only on success
 * @param session   an open session
 * @param project   the project
 * @return as igtcloud_file_list_fetch_study().
 */
IGTCLOUD_EXTERN int igtcloud_file_list_fetch_project(igtcloud_file_list **out,
                                                     igtcloud_session *session,
                                                     const igtcloud_project *project);

/** Number of files in the list. */
IGTCLOUD_EXTERN size_t igtcloud_file_list_count(const igtcloud_file_list *list);

/**
 * The file at `index`.
 *
 * @param[out] out filled with pointers borrowed from the list
 * @param list     the list
 * @param index    0-based
 * @return 0, or IGTCLOUD_EINVALID for an index out of range.
 */
IGTCLOUD_EXTERN int igtcloud_file_list_at(igtcloud_file_info *out, const igtcloud_file_list *list,
                                          size_t index);

/** Free a file list. NULL is a no-op. */
IGTCLOUD_EXTERN void igtcloud_file_list_free(igtcloud_file_list *list);

/**
 * Parse a day "YYYY-MM-DD" (the --start/--end format) strictly.
 *
 * @param[out] out seconds since the epoch of the day's start, UTC
 * @param text     the date
 * @return 0, or IGTCLOUD_EINVALID with a message naming the text.
 */
IGTCLOUD_EXTERN int igtcloud_day_parse(int64_t *out, const char *text);

/**
 * Whether a file passes an --ext filter: `exts` is a NULL-terminated list
 * (".dcm" or "dcm", case-insensitive), matched against the file's type and
 * else the extension of its name; NULL or an empty list passes everything.
 *
 * @return 1 when it passes, 0 otherwise.
 */
IGTCLOUD_EXTERN int igtcloud_file_ext_match(const char *const *exts, const igtcloud_file_info *file);

#ifdef __cplusplus
}
#endif

#endif
