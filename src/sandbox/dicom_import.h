#ifndef SANDBOX_DICOM_IMPORT_H
#define SANDBOX_DICOM_IMPORT_H

#include "sandbox.h"
#include "data_store.h"

/*
 * The filing half of POST /api/action/update-database (docs/sandbox-dicom.md):
 * every object at `key` (or below `key` + "/" when is_prefix) is read as a
 * DICOM Part-10 file and filed into the institute: the patient by PatientID,
 * the study by StudyInstanceUID (created with the institute's studyType when
 * new), and the object moved to the study's s3Prefix + "0/<SeriesInstanceUID>/
 * <SOPInstanceUID>.dcm" and registered there as a completed `dicom` file.
 * Objects that are not DICOM, are truncated or lack the UIDs stay where they
 * are and are listed as rejected. Answers 200 with
 * {"filed": N, "studies": [...], "rejected": [{"key", "reason"}]}, or 500
 * when the store fails. Call with the store lock held (handlers are).
 */
void sandbox_dicom_update_database(sandbox *sb, sandbox_response *res,
                                   const sandbox_institute_row *inst, const char *key,
                                   int is_prefix, const char *who);

#endif
