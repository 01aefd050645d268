/*
 * The sandbox's DICOM header reader on arbitrary bytes: as a whole file, as
 * the first part of a longer file, and the extracted date and time as an
 * ISO date-time. Any read outside the input is a finding.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dicom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sandbox_dicom_header h;
    char err[300], iso[32];
    if (sandbox_dicom_read(&h, data, size, size, err, sizeof(err)) == 0) {
        if (h.data_end > size || strlen(h.patient_name) >= sizeof(h.patient_name))
            __builtin_trap();
        sandbox_dicom_iso_datetime(iso, sizeof(iso), h.study_date, h.study_time);
    } else if (!err[0]) {
        __builtin_trap();   /* a failure always says why */
    }
    sandbox_dicom_read(&h, data, size / 2, size, err, sizeof(err));
    return 0;
}
