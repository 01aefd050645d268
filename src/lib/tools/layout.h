#ifndef IGTCLOUD_TOOLS_LAYOUT_H
#define IGTCLOUD_TOOLS_LAYOUT_H

#include <jansson.h>
#include <time.h>

#include "core/buf.h"

/*
 * How studies map to folders on disk (PROTOCOL.md section 5), shared by
 * download and upload so both sides agree.
 */

/*
 * Append the study's folder relative to the institute folder: flat
 * "patient---study" or hierarchical "patient/study", from
 * studyIdHumanReadable. The result passes igtcloud__safepath_check.
 */
int igtcloud__layout_study_folder(igtcloud__buf *out, const json_t *study, int hierarchical);

/*
 * The key a local folder is matched with: the first present of name,
 * clinicalStudy, subjectId, patient.patientName, studyDatabaseId; NULL when
 * none is. Borrowed from `study`.
 */
const char *igtcloud__layout_study_key(const json_t *study);

/*
 * The date --start/--end filter on: studyDate, or datetime for EpdStudy.
 * Returns 0 with *out set, or IGTCLOUD_ENOTFOUND when the study has none.
 */
int igtcloud__layout_study_date(time_t *out, const json_t *study);

/*
 * Whether a study passes --start/--end (either may be 0 for "not given").
 * Both bounds are whole days: end 2021-03-04 includes that whole day. A study
 * without a date passes only when no bound is given.
 */
int igtcloud__layout_date_match(const json_t *study, time_t start_day, time_t end_day);

/*
 * Whether a file passes --ext: `exts` is a NULL-terminated list such as
 * {".dcm", "json", NULL} (leading dot optional, case-insensitive); a NULL or
 * empty list passes everything. Matched against the file's `type`, falling
 * back to the extension of its name.
 */
int igtcloud__layout_ext_match(const char *const *exts, const char *type, const char *name);

#endif
