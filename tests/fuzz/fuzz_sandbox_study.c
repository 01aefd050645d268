/*
 * Study bodies as POST/PUT/PATCH receive them: the validator (which also
 * normalises dates in place), the human-readable id and the merge patch.
 */
#include <stddef.h>
#include <stdint.h>

#include "data_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[300], human[300];
    json_t *study = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!study)
        return 0;
    if (sandbox_study_check(study, msg, sizeof(msg)) == 0) {
        sandbox_study_human_id(human, sizeof(human), study, "p", "0001");
        json_t *copy = json_deep_copy(study);
        sandbox_json_merge_patch(copy, study);
        json_decref(copy);
    }
    json_decref(study);
    return 0;
}
