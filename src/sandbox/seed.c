#include "seed.h"
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Seed files larger than this are certainly mistakes (use "generate"). */
#define MAX_SEED_FILE (64L << 20)

static char *read_file(const char *path, size_t *len, char *msg, size_t msg_size)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    if (!f) {
        snprintf(msg, msg_size, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        snprintf(msg, msg_size, "cannot read: %s", strerror(errno));
        goto done;
    }
    long size = ftell(f);
    if (size < 0 || size > MAX_SEED_FILE) {
        snprintf(msg, msg_size, size < 0 ? "cannot read the file" : "larger than 64 MiB");
        goto done;
    }
    rewind(f);
    text = malloc((size_t)size + 1);
    if (!text || fread(text, 1, (size_t)size, f) != (size_t)size) {
        snprintf(msg, msg_size, "cannot read the file");
        free(text);
        text = NULL;
        goto done;
    }
    text[size] = '\0';
    *len = (size_t)size;
done:
    fclose(f);
    return text;
}

int sandbox_seed(sandbox *sb, const char *spec)
{
    char seeded[16], msg[600] = "";
    json_t *doc = NULL;
    char *text = NULL;
    size_t len = 0;
    int demo = strcmp(spec, "demo") == 0;
    int rc = -1;

    sandbox_store_lock(sb->store);
    if (sandbox_store_meta_get(sb->store, "seeded", seeded, sizeof(seeded)) == SQLITE_OK) {
        rc = 0;
        goto done;
    }
    if (demo) {
        text = strdup(sandbox_seed_demo_json);
        len = text ? strlen(text) : 0;
    } else {
        text = read_file(spec, &len, msg, sizeof(msg));
    }
    if (!text) {
        if (!msg[0])
            snprintf(msg, sizeof(msg), "out of memory");
        goto done;
    }
    if (sandbox_seed_parse(&doc, text, len, msg, sizeof(msg)))
        goto done;
    if (sandbox_store_begin(sb->store) != SQLITE_OK) {
        snprintf(msg, sizeof(msg), "cannot start a transaction in the store");
        goto done;
    }
    if (sandbox_seed_apply(sb, doc, msg, sizeof(msg)) ||
        sandbox_store_meta_set(sb->store, "seeded", demo ? "demo" : "file") != SQLITE_OK ||
        sandbox_store_commit(sb->store) != SQLITE_OK) {
        if (!msg[0])
            snprintf(msg, sizeof(msg), "cannot commit to the store");
        sandbox_store_rollback(sb->store);
        goto done;
    }
    rc = 0;
done:
    sandbox_store_unlock(sb->store);
    /* Names from the file may hold anything; the report stays one line. */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    if (rc)
        fprintf(stderr, "igtcloud-sandbox: seed %s%s%s: %s\n", demo ? "demo" : "file '",
                demo ? "" : spec, demo ? "" : "'", msg);
    json_decref(doc);
    free(text);
    return rc;
}
