/*
 * Upload's local checks: study.json (parsed and type-checked), annotation JSON,
 * and lines of the multipart upload journal (read back from disk).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    char *line = malloc(size + 1);
    if (line) {
        memcpy(line, data, size);
        line[size] = '\0';
        igtcloud__up_journal_entry e;
        if (igtcloud__up_journal_parse_line(&e, line) == 0 && e.live &&
            (e.upload_id_len == 0 || e.upload_id + e.upload_id_len > line + size))
            abort();
        free(line);
    }
    return 0;
}
