#ifndef IGTCLOUD_CSV_H
#define IGTCLOUD_CSV_H

/**
 * @file igtcloud/csv.h
 * @brief The CSV listing of a project or institute (`igtcloud csv`).
 *
 * One row per study (or per file with `files`) into
 * `TARGET/cloud_<project name>.csv`, or `TARGET/cloud_<institute id>.csv`
 * when one institute is asked for, exactly as the reference client writes
 * it: columns are the first study's fields flattened in the API's order minus
 * studyType, s3Prefix and patientS3Prefix; values as Python prints them;
 * RFC 4180 quoting; CRLF line ends. An existing file is appended to, with
 * the columns of its header line.
 */

#include <stddef.h>
#include <stdint.h>

#include "igtcloud/common.h"
#include "igtcloud/catalog.h"
#include "igtcloud/session.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options of igtcloud_csv_write(). */
typedef struct igtcloud_csv_options {
    unsigned int version;          /**< IGTCLOUD_CSV_OPTIONS_VERSION */
    /** One row per file of the `files` category, with filename and filesize columns. */
    int files;
    /** --ext: NULL-terminated list (".dcm" or "dcm"); NULL: every file. Only with `files`. */
    const char *const *extensions;
    /** --start: first day (igtcloud_day_parse()), 0: no bound. */
    int64_t start_day;
    /** --end: last day, included whole; 0: no bound. */
    int64_t end_day;
} igtcloud_csv_options;

/** Current version of igtcloud_csv_options. */
#define IGTCLOUD_CSV_OPTIONS_VERSION 1
/** Static initialiser: a row per study, no filter. */
#define IGTCLOUD_CSV_OPTIONS_INIT { IGTCLOUD_CSV_OPTIONS_VERSION, 0, NULL, 0, 0 }

/** What igtcloud_csv_write() did. */
typedef struct igtcloud_csv_summary {
    char path[4096];     /**< the file written ("" when there was nothing to write) */
    size_t studies;      /**< studies listed */
    size_t rows;         /**< rows appended */
    int appended;        /**< 1 when an existing file was appended to */
} igtcloud_csv_summary;

/**
 * Initialise an options struct allocated by the caller.
 *
 * @param[out] opts set to IGTCLOUD_CSV_OPTIONS_INIT
 * @param version   IGTCLOUD_CSV_OPTIONS_VERSION
 * @return 0, or IGTCLOUD_EINVALID for an unknown version.
 */
IGTCLOUD_EXTERN int igtcloud_csv_options_init(igtcloud_csv_options *opts, unsigned int version);

/**
 * Write (or append to) the CSV listing of a project's studies.
 *
 * @param[out] out       what was written (may be NULL)
 * @param session        an open session
 * @param target         the folder to write the file in (must exist)
 * @param project        the project (igtcloud_project_find())
 * @param institute_name NULL or "*": every institute, file named after the
 *                       project; otherwise that institute only, file named
 *                       after its id
 * @param opts           options, or NULL for the defaults
 * @return 0; IGTCLOUD_ENOTFOUND (no such institute), IGTCLOUD_EINVALID (a
 *         name that cannot be a file name, bad options), IGTCLOUD_EIO
 *         (cannot write the file), IGTCLOUD_EAUTH / EPERM, EPROTO, transport
 *         codes.
 */
IGTCLOUD_EXTERN int igtcloud_csv_write(igtcloud_csv_summary *out, igtcloud_session *session,
                                       const char *target, const igtcloud_project *project,
                                       const char *institute_name,
                                       const igtcloud_csv_options *opts);

#ifdef __cplusplus
}
#endif

#endif
