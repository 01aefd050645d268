/* Upload's local checks: study.json (parsed and type-checked) and annotation JSON. */
#include <stddef.h>
#include <stdint.h>

#include "tools/layout.h"
#include "tools/upload_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *study = NULL;
    if (igtcloud__upload_study_check(&study, (const char *)data, size, "study.json") == 0) {
        igtcloud__buf folder = IGTCLOUD_BUF_INIT;
        (void)igtcloud__layout_study_key(study);
        (void)igtcloud__layout_study_folder(&folder, study, 0);
        igtcloud__buf_dispose(&folder);
        json_decref(study);
    }
    (void)igtcloud__upload_annotation_check((const char *)data, size, "labels.json");
    return 0;
}
