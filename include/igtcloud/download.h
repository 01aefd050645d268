#ifndef IGTCLOUD_DOWNLOAD_H
#define IGTCLOUD_DOWNLOAD_H

/**
 * @file igtcloud/download.h
 * @brief Downloading studies, institutes and projects to a local folder
 *        (`igtcloud download`).
 *
 * Layout (PROTOCOL.md section 5): `TARGET/<institute>/<study folder>/`
 * holds `study.json` (the study as the API returned it, 4-space indent) and
 * the study's files; with more than one category each gets a subfolder
 * (`files/`, `dicom/`, `annotations/`). Project files go to `TARGET/files/`.
 * Only completed files are downloaded. Every byte moves through one transfer
 * engine (transfer.h): temporary name, size and MD5 verification, atomic
 * rename, resume after an interruption.
 *
 * A file is skipped only when the run's completion manifest
 * (`TARGET/.igtcloud/download-manifest`) vouches for it: it records size and
 * modification time of every file this library verified and renamed into
 * place. A file of the right size the manifest does not vouch for (written
 * by another tool, torn, or edited since) is downloaded again.
 *
 * Every path is checked to stay inside TARGET: names from the server with
 * `..`, absolute paths, backslashes or control characters fail that file.
 */

#include <stddef.h>
#include <stdint.h>

#include "igtcloud/common.h"
#include "igtcloud/catalog.h"
#include "igtcloud/session.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Overall progress of a download run. */
typedef struct igtcloud_download_progress {
    uint64_t bytes_done;      /**< bytes downloaded so far in this run */
    uint64_t bytes_total;     /**< bytes to download known so far (skipped files excluded) */
    size_t files_done;        /**< files finished (downloaded, failed) */
    size_t files_total;       /**< files to download known so far */
    size_t files_skipped;     /**< files already complete on disk */
    size_t files_failed;
    size_t studies_done;
    size_t studies_total;     /**< studies known so far */
} igtcloud_download_progress;

/**
 * Overall progress; called often from the transfer loop and between
 * listings. Return non-zero to cancel the run (it then returns
 * IGTCLOUD_ECANCELLED; a later run resumes).
 */
typedef int (*igtcloud_download_progress_cb)(const igtcloud_download_progress *progress,
                                             void *payload);

/** What happened to a study. */
typedef enum {
    IGTCLOUD_DOWNLOAD_STUDY_STARTED = 1,  /**< its first files are queued */
    IGTCLOUD_DOWNLOAD_STUDY_PROGRESS = 2, /**< one of its files finished */
    IGTCLOUD_DOWNLOAD_STUDY_FINISHED = 3  /**< every file of it is planned and finished */
} igtcloud_download_study_state;

/**
 * One study's state; pointers are borrowed for the call only. A study is
 * planned a few files at a time, so its totals grow until it is FINISHED.
 */
typedef struct igtcloud_download_study_event {
    igtcloud_download_study_state state;
    const char *folder;       /**< "<institute>/<study folder>" relative to TARGET */
    size_t files_total;       /**< files to download (skipped excluded) */
    size_t files_done;
    size_t files_failed;
    size_t files_skipped;
    uint64_t bytes_total;
    uint64_t bytes_done;      /**< bytes of the finished files */
} igtcloud_download_study_event;

/** Per-study callback (see igtcloud_download_study_state). */
typedef void (*igtcloud_download_study_cb)(const igtcloud_download_study_event *event,
                                           void *payload);

/** The outcome of one file (or of a study or institute that failed as a whole). */
typedef struct igtcloud_download_file_event {
    const char *path;         /**< relative to TARGET (the server's name when refused) */
    const char *key;          /**< S3 key, "" for a study or institute failure */
    int status;               /**< 0 or a negative igtcloud_status */
    int skipped;              /**< 1: already complete on disk */
    uint64_t size;
    const char *message;      /**< "" on success */
} igtcloud_download_file_event;

/** Per-file callback: every file downloaded, skipped or failed, in completion order. */
typedef void (*igtcloud_download_file_cb)(const igtcloud_download_file_event *event,
                                          void *payload);

/** Options of a download. Initialise with IGTCLOUD_DOWNLOAD_OPTIONS_INIT. */
typedef struct igtcloud_download_options {
    unsigned int version;           /**< IGTCLOUD_DOWNLOAD_OPTIONS_VERSION */
    /** Mask of IGTCLOUD_CATEGORY_FILES / DICOM / ANNOTATIONS; 0: files. */
    unsigned int categories;
    /** --ext: NULL-terminated list (".dcm" or "dcm"); NULL: every file. */
    const char *const *extensions;
    /** --start: first day (igtcloud_day_parse()), 0: no bound. */
    int64_t start_day;
    /** --end: last day, included whole; 0: no bound. */
    int64_t end_day;
    /** Set each file's modification time from S3 Last-Modified. */
    int include_modified_date;
    /** 0: flat "patient---study" folders; 1: hierarchical "patient/study". */
    int hierarchical;
    /** Only project files, to TARGET/files/ (igtcloud_download_project()). */
    int project_files;
    /** Studies and files per study in flight; requests in flight are their product. 0: 4. */
    unsigned int concurrent_studies;
    unsigned int concurrent_files;  /**< 0: 4 */
    /** Plan only: list, filter and count what would be downloaded; write nothing. */
    int dry_run;
    /** PEM bundle to trust for S3 instead of the system's; NULL: system. */
    const char *ca_file;
    igtcloud_download_progress_cb progress_cb;
    void *progress_payload;
    igtcloud_download_study_cb study_cb;
    void *study_payload;
    igtcloud_download_file_cb file_cb;
    void *file_payload;
    /**
     * Version 2: S3 endpoint URL (`--s3-endpoint`); NULL: AWS_ENDPOINT_URL_S3,
     * then AWS_ENDPOINT_URL, then the credentials' endpoint, else AWS (see
     * igtcloud/transfer.h).
     */
    const char *s3_endpoint;
    /**
     * Version 3 (`--verify-multipart`): check files a multipart upload made
     * without a CRC32C checksum part by part against their multipart ETag,
     * as igtcloud_transfer_options.verify_multipart does; 0: by their size.
     * (Those with one are checked against it either way.)
     */
    int verify_multipart;
} igtcloud_download_options;

/**
 * Current version of igtcloud_download_options. Versions 1 (without
 * `s3_endpoint`) and 2 (without `verify_multipart`) are still accepted.
 */
#define IGTCLOUD_DOWNLOAD_OPTIONS_VERSION 3
/** Static initialiser: files only, flat, 4 x 4, no filters, no callbacks. */
#define IGTCLOUD_DOWNLOAD_OPTIONS_INIT { IGTCLOUD_DOWNLOAD_OPTIONS_VERSION, 0, NULL, 0, 0, 0, 0, \
                                         0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
                                         NULL, 0 }

/** What a download did. */
typedef struct igtcloud_download_summary {
    size_t studies;             /**< studies that passed the filters */
    size_t files_downloaded;    /**< (with dry_run: files that would be downloaded) */
    size_t files_skipped;       /**< already complete on disk */
    size_t files_failed;        /**< files, studies or institutes that failed */
    uint64_t bytes_downloaded;  /**< (with dry_run: bytes that would be downloaded) */
    uint64_t bytes_skipped;
    double seconds;             /**< wall time of the run */
} igtcloud_download_summary;

/**
 * Initialise an options struct allocated by the caller.
 *
 * @param[out] opts set to IGTCLOUD_DOWNLOAD_OPTIONS_INIT
 * @param version   IGTCLOUD_DOWNLOAD_OPTIONS_VERSION
 * @return 0, or IGTCLOUD_EINVALID for an unknown version.
 */
IGTCLOUD_EXTERN int igtcloud_download_options_init(igtcloud_download_options *opts,
                                                   unsigned int version);

/**
 * Download a project: every institute, or the one named, or (with
 * opts->project_files) only the project files to TARGET/files/.
 *
 * @param[out] out       what was done (may be NULL); filled also on failure
 * @param session        an open session
 * @param target         the local folder (created when missing)
 * @param project        the project (igtcloud_project_find())
 * @param institute_name NULL or "*": every institute; else that institute
 * @param opts           options, or NULL for the defaults
 * @return 0 when everything asked for is on disk and verified;
 *         IGTCLOUD_EPARTIAL when some files failed (see opts->file_cb);
 *         IGTCLOUD_ENOTFOUND (no such institute), IGTCLOUD_EIO (TARGET not
 *         writable), IGTCLOUD_ENOSPACE (TARGET filled up: the run stopped at
 *         the first file that found it full; a later run resumes),
 *         IGTCLOUD_EAUTH (the session ended), IGTCLOUD_ECANCELLED,
 *         IGTCLOUD_EINVALID (bad options), transport codes.
 */
IGTCLOUD_EXTERN int igtcloud_download_project(igtcloud_download_summary *out,
                                              igtcloud_session *session, const char *target,
                                              const igtcloud_project *project,
                                              const char *institute_name,
                                              const igtcloud_download_options *opts);

/**
 * Download every study of one institute to TARGET/<institute name>/.
 *
 * @return as igtcloud_download_project().
 */
IGTCLOUD_EXTERN int igtcloud_download_institute(igtcloud_download_summary *out,
                                                igtcloud_session *session, const char *target,
                                                const igtcloud_institute *institute,
                                                const igtcloud_download_options *opts);

/**
 * Download one study of an institute to TARGET/<institute name>/<study folder>/.
 *
 * @return as igtcloud_download_project().
 */
IGTCLOUD_EXTERN int igtcloud_download_study(igtcloud_download_summary *out,
                                            igtcloud_session *session, const char *target,
                                            const igtcloud_institute *institute,
                                            const igtcloud_study *study,
                                            const igtcloud_download_options *opts);

#ifdef __cplusplus
}
#endif

#endif
