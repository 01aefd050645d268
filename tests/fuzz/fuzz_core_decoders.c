/* base64 (both alphabets) and ISO-8601 parsing, which read tokens and dates from the network. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/isotime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    igtcloud__buf out = IGTCLOUD_BUF_INIT;
    igtcloud__base64_decode(&out, (const char *)data, size);
    igtcloud__buf_dispose(&out);

    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    time_t t;
    int zone;
    igtcloud__isotime_parse(&t, &zone, text);
    free(text);
    return 0;
}
