#include "seed.h"
#include "store.h"

#include <string.h>

int sandbox_seed(sandbox *sb, const char *spec)
{
    char seeded[16];
    if (sandbox_store_meta_get(sb->store, "seeded", seeded, sizeof(seeded)) == SQLITE_OK)
        return 0;
    if (strcmp(spec, "demo") != 0) {
        fprintf(stderr, "igtcloud-sandbox: seed files are not supported yet: %s\n", spec);
        return -1;
    }
    return sandbox_store_meta_set(sb->store, "seeded", spec) == SQLITE_OK ? 0 : -1;
}
