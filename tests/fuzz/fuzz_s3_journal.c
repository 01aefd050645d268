/* The resume journal of ranged downloads: a file on disk a killed run left behind. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "s3/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    igtcloud__journal j = IGTCLOUD__JOURNAL_INIT;
    if (igtcloud__journal_parse(&j, (const char *)data, size) == 0) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < j.count; i++)
            n += j.done[i] ? 1 : 0;
        if (n != j.ndone)
            __builtin_trap();
        igtcloud__buf text = IGTCLOUD_BUF_INIT;
        igtcloud__journal_format_header(&text, &j);
        igtcloud__journal back = IGTCLOUD__JOURNAL_INIT;
        if (igtcloud__journal_parse(&back, text.ptr, text.size) != 0 || back.size != j.size ||
            back.range_size != j.range_size || strcmp(back.etag, j.etag) != 0)
            __builtin_trap();
        igtcloud__journal_dispose(&back);
        igtcloud__buf_dispose(&text);
    }
    igtcloud__journal_dispose(&j);
    return 0;
}
