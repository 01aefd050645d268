/*
 * Download planning inputs from the network and the disk: the completion
 * manifest's lines, and study / file-listing JSON turned into study folders
 * (which must never escape the target) through the public catalog.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "igtcloud/catalog.h"
#include "core/safepath.h"
#include "tools/download_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *rel;
    long long fsize, sec;
    long nsec;
    if (igtcloud__dl_manifest_parse_line((const char *)data, size, &rel, &fsize, &sec, &nsec) == 0) {
        if (rel < (const char *)data || rel >= (const char *)data + size || fsize < 0 || sec < 0 ||
            nsec < 0 || nsec > 999999999)
            abort();
    }
    igtcloud_study *study = NULL;
    if (igtcloud_study_from_json(&study, (const char *)data, size) == 0) {
        char folder[4096];
        for (int h = 0; h < 2; h++) {
            if (igtcloud_study_folder(folder, sizeof(folder), study, h) == 0 &&
                igtcloud__safepath_check(folder) != 0)
                abort();   /* a folder we would write must be safe */
        }
        int64_t date;
        (void)igtcloud_study_date(&date, study);
        (void)igtcloud_study_key(study);
        igtcloud_study_free(study);
    }
    return 0;
}
