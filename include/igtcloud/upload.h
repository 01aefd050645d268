#ifndef IGTCLOUD_UPLOAD_H
#define IGTCLOUD_UPLOAD_H

/**
 * @file igtcloud/upload.h
 * @brief Uploading files, study folders, institute folders and project files
 *        into a project, as the reference client's `upload` does, and safer.
 *
 * An upload run collects local roots with the igtcloud_upload_add_*() calls
 * (nothing is read or sent yet), then igtcloud_upload_run() does, in order:
 * 1. look-ups only (project, institutes, studies, the project's files);
 * 2. a full local check of everything it will send: unreadable files,
 *    symlink loops, special files, `study.json` (valid JSON, right types),
 *    annotation JSON files; any problem stops the run before anything is
 *    written on the server;
 * 3. study creation (from `study.json`, else from the folder name with the
 *    institute's studyType), then study by study its remote file list, file
 *    registration, the bytes through one transfer engine (PUT with
 *    `x-amz-server-side-encryption: AES256`, multipart for large files),
 *    `$file-upload-completed` for each file that arrived whole and
 *    unchanged, and, when asked, the electronic record state.
 * A remote file that is already complete with the local size is skipped. A
 * file that fails, or changes while it is sent, is never marked complete; a
 * file that changed after the checks of step 2 is checked again (or fails
 * alone) before it is sent. The run's memory does not grow with the number
 * of files (the files checked are listed in a temporary file).
 */

#include <stddef.h>
#include <stdint.h>

#include "igtcloud/common.h"
#include "igtcloud/session.h"
#include "igtcloud/transfer.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An upload run (opaque). */
typedef struct igtcloud_upload igtcloud_upload;

/** Which category of a study the files go to. */
typedef enum {
    IGTCLOUD_UPLOAD_FILES = 0,       /**< study.s3Prefix + "files/" */
    IGTCLOUD_UPLOAD_ANNOTATIONS = 1  /**< study.s3Prefix + "annotations/"; JSON files validated */
} igtcloud_upload_category;

/** What an event reports. */
typedef enum {
    IGTCLOUD_UPLOAD_EVENT_IGNORED = 1,       /**< a local folder or file that is not uploaded */
    IGTCLOUD_UPLOAD_EVENT_STUDY_FOUND,       /**< a folder matched an existing study */
    IGTCLOUD_UPLOAD_EVENT_STUDY_CREATED,     /**< a study was created (or would be, dry run) */
    IGTCLOUD_UPLOAD_EVENT_FILE_SKIPPED,      /**< already complete with the same size */
    IGTCLOUD_UPLOAD_EVENT_FILE_PLANNED,      /**< dry run: would be uploaded */
    IGTCLOUD_UPLOAD_EVENT_FILE_DONE,         /**< uploaded and completed */
    IGTCLOUD_UPLOAD_EVENT_FILE_FAILED,       /**< not completed; message says why */
    IGTCLOUD_UPLOAD_EVENT_STUDY_SUBMITTED,   /**< electronic record state set to submitted */
    IGTCLOUD_UPLOAD_EVENT_STUDY_FAILED,      /**< study could not be created or submitted */
    /**
     * DICOM import: the server filed files into a study. `study` is its
     * studyIdHumanReadable, `key` its studyDatabaseId, `size` the number of
     * files, `message` "created" or "existing".
     */
    IGTCLOUD_UPLOAD_EVENT_DICOM_STUDY,
    /** DICOM import: the server could not file an uploaded file; `message` says why. */
    IGTCLOUD_UPLOAD_EVENT_DICOM_REJECTED
} igtcloud_upload_event_kind;

/** One event; every pointer is borrowed for the duration of the callback. */
typedef struct igtcloud_upload_event {
    igtcloud_upload_event_kind kind;
    const char *path;       /**< the local file or folder, or "" */
    const char *key;        /**< the S3 key (files), or "" */
    const char *institute;  /**< institute name, or "" (project files) */
    const char *study;      /**< the study folder's name, or "" */
    uint64_t size;          /**< file size in bytes (files) */
    int status;             /**< 0, or a negative igtcloud_status for failures */
    const char *message;    /**< one line, or "" */
} igtcloud_upload_event;

/** Receives events as the run goes. */
typedef void (*igtcloud_upload_event_cb)(const igtcloud_upload_event *event, void *payload);

/** Options of an upload run. Initialise with IGTCLOUD_UPLOAD_OPTIONS_INIT. */
typedef struct igtcloud_upload_options {
    unsigned int version;            /**< IGTCLOUD_UPLOAD_OPTIONS_VERSION */
    int hierarchical;                /**< study folders are patient/study (else flat) */
    igtcloud_upload_category category;
    unsigned int concurrent_studies; /**< 0: 4 */
    unsigned int concurrent_files;   /**< per study; 0: 4. Requests in flight: the product */
    int dry_run;                     /**< look up and check, but write nothing */
    int submit;                      /**< set each uploaded study to "submitted" */
    /** The user's password for submit (checked again by the server); copied, wiped at free. */
    const char *submit_password;
    igtcloud_upload_event_cb event_cb;
    void *event_payload;
    igtcloud_transfer_progress_cb progress_cb; /**< byte progress from the engine */
    void *progress_payload;
    const char *ca_file;             /**< PEM bundle for S3, or NULL: system */
    const char *s3_endpoint;         /**< S3 endpoint override, or NULL */
    uint64_t multipart_threshold;    /**< 0: the engine's default (16 MiB) */
    uint64_t part_size;              /**< 0: the engine's default (8 MiB) */
    /**
     * Integrity header of every body (version 2): CRC32C (the default; S3
     * verifies it, servers that predate S3's additional checksums accept it
     * unchecked), Content-MD5 (every S3 implementation verifies it; MD5's
     * CPU) or SHA-256. See igtcloud/transfer.h.
     */
    igtcloud_transfer_checksum checksum;
} igtcloud_upload_options;

/**
 * Current version of igtcloud_upload_options. Version 1 (without `checksum`)
 * is still accepted: a caller built against it gets Content-MD5.
 */
#define IGTCLOUD_UPLOAD_OPTIONS_VERSION 2
/** Static initialiser: defaults. */
#define IGTCLOUD_UPLOAD_OPTIONS_INIT { IGTCLOUD_UPLOAD_OPTIONS_VERSION, 0, \
    IGTCLOUD_UPLOAD_FILES, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, \
    IGTCLOUD_CHECKSUM_CRC32C }

/** Totals of a run. */
typedef struct igtcloud_upload_summary {
    size_t files_uploaded;   /**< uploaded and completed (planned, in a dry run) */
    size_t files_skipped;    /**< already complete */
    size_t files_failed;
    uint64_t bytes_uploaded;
    size_t studies_found;
    size_t studies_created;
    size_t studies_submitted;
    size_t studies_failed;   /**< creation or submit failed */
    size_t ignored;          /**< local folders and files not uploaded */
} igtcloud_upload_summary;

/**
 * Initialise an options struct allocated by the caller.
 *
 * @param[out] opts  set to IGTCLOUD_UPLOAD_OPTIONS_INIT
 * @param version    IGTCLOUD_UPLOAD_OPTIONS_VERSION
 * @return 0, or IGTCLOUD_EINVALID for an unknown version.
 */
IGTCLOUD_EXTERN int igtcloud_upload_options_init(igtcloud_upload_options *opts,
                                                 unsigned int version);

/**
 * Create an upload run into a project.
 *
 * @param[out] out  the run, freed with igtcloud_upload_free(); set only on success
 * @param session   an open session (user or service identity), borrowed for the run's life
 * @param project   the project's exact name
 * @param opts      options (copied), or NULL for defaults
 * @return 0, IGTCLOUD_EINVALID, IGTCLOUD_ENOMEM.
 */
IGTCLOUD_EXTERN int igtcloud_upload_new(igtcloud_upload **out, igtcloud_session *session,
                                        const char *project,
                                        const igtcloud_upload_options *opts);

/** Free a run (wiping the submit password). NULL is a no-op. */
IGTCLOUD_EXTERN void igtcloud_upload_free(igtcloud_upload *upload);

/**
 * Add a local folder in the reference layout: `LOCAL/files/` holds project
 * files, each `LOCAL/<institute name>/` holds study folders; other entries
 * are ignored (and reported as IGTCLOUD_UPLOAD_EVENT_IGNORED).
 *
 * @param upload     the run
 * @param local      the folder
 * @param institute  only this institute's folder; NULL or "*": all institutes
 * @return 0; IGTCLOUD_EIO when `local` is not a readable folder.
 */
IGTCLOUD_EXTERN int igtcloud_upload_add_tree(igtcloud_upload *upload, const char *local,
                                             const char *institute);

/**
 * Add every file below `folder` as project-level files (keys: the project's
 * s3Prefix + the path relative to `folder`). Not allowed to services.
 *
 * @return 0; IGTCLOUD_EIO when `folder` is not a readable folder.
 */
IGTCLOUD_EXTERN int igtcloud_upload_add_project_files(igtcloud_upload *upload,
                                                      const char *folder);

/**
 * Add a folder of study folders (flat or hierarchical, see the options) for
 * the institute named `institute`.
 *
 * @return 0; IGTCLOUD_EIO when `folder` is not a readable folder.
 */
IGTCLOUD_EXTERN int igtcloud_upload_add_institute(igtcloud_upload *upload, const char *folder,
                                                  const char *institute);

/**
 * Add one study folder for the institute named `institute`. The study is
 * found by its `study.json` (studyDatabaseId, then its study key) or by
 * `name` (the folder's name when NULL; "patient/study" when hierarchical)
 * matched against the study key of the institute's studies, else created.
 * When the folder has a `files/` or `dicom/` subfolder only `files/` is sent.
 *
 * @return 0; IGTCLOUD_EIO when `folder` is not a readable folder.
 */
IGTCLOUD_EXTERN int igtcloud_upload_add_study(igtcloud_upload *upload, const char *folder,
                                              const char *institute, const char *name);

/**
 * Add one file to a study (found or created as for igtcloud_upload_add_study()
 * with `study` as its name), stored under the category folder as `name`
 * (a relative '/'-separated path).
 *
 * @return 0; IGTCLOUD_EINVALID (unsafe name), IGTCLOUD_EIO (not a readable file).
 */
IGTCLOUD_EXTERN int igtcloud_upload_add_file(igtcloud_upload *upload, const char *path,
                                             const char *institute, const char *study,
                                             const char *name);

/**
 * Run the upload (see the file comment for the phases).
 *
 * @return 0 when every file was uploaded or skipped (and every study
 *         submitted, when asked); IGTCLOUD_EPARTIAL when some failed (see
 *         the events); IGTCLOUD_EINVALID / IGTCLOUD_EIO for local problems
 *         found before anything was written (the message names the file and
 *         field); IGTCLOUD_ENOTFOUND (project or institute); IGTCLOUD_EAUTH /
 *         IGTCLOUD_EPERM (not allowed); IGTCLOUD_ECANCELLED; transport codes.
 */
IGTCLOUD_EXTERN int igtcloud_upload_run(igtcloud_upload *upload);

/** Ask a running igtcloud_upload_run() to stop soon. Safe from a signal handler. */
IGTCLOUD_EXTERN void igtcloud_upload_cancel(igtcloud_upload *upload);

/**
 * The totals so far.
 *
 * @param[out] out  filled
 * @param upload    the run
 */
IGTCLOUD_EXTERN void igtcloud_upload_summary_get(igtcloud_upload_summary *out,
                                                 const igtcloud_upload *upload);

/**
 * Check a `study.json` as upload does before anything is sent: valid JSON,
 * an object, and the fields it uses of the right types (studyType a known
 * type, patient an object with string patientId/patientName, dates ISO
 * strings, ids and names strings).
 *
 * @param text    the file's contents (need not be NUL-terminated)
 * @param len     its length
 * @param origin  the file's path, used in the message
 * @return 0, or IGTCLOUD_EINVALID with one line naming origin and the field.
 */
IGTCLOUD_EXTERN int igtcloud_upload_check_study_json(const char *text, size_t len,
                                                     const char *origin);

/**
 * Create a study in an institute, or find the one it matches.
 *
 * @param[out] out_json  the study as JSON text (malloc'd, caller frees with
 *                       free()); set only on success
 * @param[out] created   1 when a study was created, 0 when one was found (may be NULL)
 * @param session        an open session
 * @param institute_id   the institute's id
 * @param study_type     the institute's studyType (used when study_json is NULL)
 * @param name           the folder name ("patient---study", or "patient/study")
 * @param study_json     the contents of a study.json, or NULL
 * @return 0, IGTCLOUD_EINVALID (bad study_json), IGTCLOUD_EPERM, transport codes.
 */
IGTCLOUD_EXTERN int igtcloud_upload_study_find_or_create(char **out_json, int *created,
                                                         igtcloud_session *session,
                                                         const char *institute_id,
                                                         const char *study_type,
                                                         const char *name,
                                                         const char *study_json);

/**
 * Register one file of a study before its upload (POST .../files).
 *
 * @param session       an open session
 * @param institute_id  the institute's id
 * @param study_id      the study's studyDatabaseId
 * @param key           the full S3 key (study.s3Prefix + "files/" + name)
 * @param size          its size in bytes
 * @return 0, IGTCLOUD_EINVALID (key outside the study), IGTCLOUD_EPERM, transport codes.
 */
IGTCLOUD_EXTERN int igtcloud_upload_register_file(igtcloud_session *session,
                                                  const char *institute_id,
                                                  const char *study_id, const char *key,
                                                  uint64_t size);

/**
 * Mark an uploaded file complete (POST .../files/$file-upload-completed).
 *
 * @param uploaded_path  the name relative to the study's files/ folder, or
 *                       relative to the study's prefix ("annotations/x.json")
 * @return 0, IGTCLOUD_ENOTFOUND (nothing registered or uploaded), transport codes.
 */
IGTCLOUD_EXTERN int igtcloud_upload_complete_file(igtcloud_session *session,
                                                  const char *institute_id,
                                                  const char *study_id,
                                                  const char *uploaded_path);

/**
 * Set a study's electronic record state to "submitted" as the session's user,
 * who must give the password again.
 *
 * @return 0, IGTCLOUD_EPERM (wrong password), transport codes.
 */
IGTCLOUD_EXTERN int igtcloud_upload_submit_study(igtcloud_session *session,
                                                 const char *institute_id,
                                                 const char *study_id, const char *password);

/** Totals of a DICOM import (igtcloud_upload_dicom_import()). */
typedef struct igtcloud_dicom_import_summary {
    size_t files_found;      /**< DICOM Part-10 files found under the folder */
    size_t files_not_dicom;  /**< other files: reported (IGNORED events) and skipped */
    size_t files_uploaded;   /**< uploaded (planned, in a dry run) */
    size_t files_failed;     /**< upload failed */
    uint64_t bytes_uploaded;
    int server_reported;     /**< 1 when the server's answer said what it filed */
    size_t files_filed;      /**< filed into studies by the server */
    size_t files_rejected;   /**< not filed by the server (DICOM_REJECTED events) */
    size_t studies;          /**< studies the files were filed into */
    size_t studies_created;  /**< of which new */
    /** The run's folder, relative to the institute's s3Prefix: "Import/<uuid>/". */
    char uploaded_path[64];
} igtcloud_dicom_import_summary;

/**
 * Import a folder of DICOM files into an institute (PROTOCOL.md section 4):
 * every DICOM Part-10 file below `folder` (recursively; a file is DICOM when
 * it has the 128-byte preamble and "DICM") is uploaded under the institute's
 * `s3Prefix + "Import/<uuid>/"` (a fresh uuid per call) with PUT credentials
 * for that prefix, then `POST /api/action/update-database {"hospitalId",
 * "uploadedPath": "Import/<uuid>/", "isPrefix": true}` asks the server to
 * file them into patients, studies and series from their headers. Other
 * files are reported as IGTCLOUD_UPLOAD_EVENT_IGNORED and skipped. The
 * server's answer, when it says what it filed, is reported as
 * IGTCLOUD_UPLOAD_EVENT_DICOM_STUDY and _DICOM_REJECTED events.
 *
 * Of `opts` (may be NULL) these apply: event and progress callbacks,
 * dry_run (look up and scan, send nothing), concurrent_studies x
 * concurrent_files (requests in flight), ca_file, s3_endpoint,
 * multipart_threshold, part_size. The engine's progress callback may
 * return non-zero to cancel.
 *
 * @param[out] out   totals (may be NULL); filled on success and on failure
 * @param session    an open session (user of the project, or the institute's service)
 * @param project    the project's exact name
 * @param institute  the institute's exact name
 * @param folder     the local folder of DICOM files
 * @param opts       options, or NULL for defaults
 * @return 0 when every DICOM file was uploaded and none was refused by the
 *         server (also when there was none); IGTCLOUD_EPARTIAL when some
 *         failed or were not filed (see the events); IGTCLOUD_EIO (the
 *         folder or a file cannot be read; nothing was sent);
 *         IGTCLOUD_ENOTFOUND (project or institute); IGTCLOUD_EAUTH /
 *         IGTCLOUD_EPERM; IGTCLOUD_ECANCELLED; transport codes.
 */
IGTCLOUD_EXTERN int igtcloud_upload_dicom_import(igtcloud_dicom_import_summary *out,
                                                 igtcloud_session *session,
                                                 const char *project, const char *institute,
                                                 const char *folder,
                                                 const igtcloud_upload_options *opts);

#ifdef __cplusplus
}
#endif

#endif
