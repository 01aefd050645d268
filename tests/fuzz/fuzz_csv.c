/* CSV: the header of an existing file (appending) and study JSON from the network. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    igtcloud__csv_columns header = { NULL, 0 };
    igtcloud__csv_columns_parse(&header, text);

    json_t *study = json_loadb((const char *)data, size, 0, NULL);
    if (study) {
        igtcloud__csv_columns columns = { NULL, 0 };
        json_t *flat = NULL;
        igtcloud__buf out = IGTCLOUD_BUF_INIT;
        if (igtcloud__csv_columns_from_study(&columns, study, 1) == 0 &&
            igtcloud__csv_flatten(&flat, study) == 0) {
            igtcloud__csv_write_header(&out, &columns);
            igtcloud__csv_write_row(&out, &columns, flat, "f", 1);
            igtcloud__csv_write_row(&out, &header, flat, NULL, -1);
        }
        igtcloud__buf_dispose(&out);
        json_decref(flat);
        igtcloud__csv_columns_dispose(&columns);
        json_decref(study);
    }
    igtcloud__csv_columns_dispose(&header);
    free(text);
    return 0;
}
