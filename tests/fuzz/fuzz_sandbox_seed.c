/*
 * Seed documents (docs/sandbox-seed.md): arbitrary bytes through the parser
 * and validator. Validation touches neither a store nor the disk, so nothing
 * here can write objects anywhere.
 */
#include <stddef.h>
#include <stdint.h>

#include "seed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[600];
    json_t *doc = NULL;
    if (sandbox_seed_parse(&doc, (const char *)data, size, msg, sizeof(msg)) == 0)
        json_decref(doc);
    return 0;
}
