/* The shared token file's contents, as any process that can write it may leave them. */
#include <stddef.h>
#include <stdint.h>

#include "auth/token_file.h"
#include "core/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    igtcloud__token t;
    if (igtcloud__token_decode(&t, (const char *)data, size) == 0) {
        /* Whatever decodes must encode again and decode to the same token. */
        igtcloud__buf text = IGTCLOUD_BUF_INIT;
        igtcloud__token back;
        if (igtcloud__token_encode(&text, &t) == 0 &&
            igtcloud__token_decode(&back, text.ptr, text.size) == 0) {
            if (back.exp != t.exp)
                __builtin_trap();
            igtcloud__token_dispose(&back);
        }
        igtcloud__buf_dispose(&text);
        igtcloud__token_dispose(&t);
    }
    return 0;
}
