/*
 * What an owner (a study, or the project's files) already has on the server:
 * the sizes of its complete files by fileName, for skipping what is there.
 * The listing is walked as it is parsed into a map kept out of memory
 * (core/spill_map.h), so a study of any number of files costs about 12
 * bytes a file while it is planned, and nothing after.
 */
#include "tools/upload_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static int index_file(const igtcloud_file_info *f, void *payload)
{
    if (!f->completed || f->size < 0)
        return 0;
    return igtcloud__spill_map_set(payload, f->name, strlen(f->name), (uint64_t)f->size);
}

/* List st's files (NULL: the project's) into a new index. */
static int fetch_index(igtcloud__spill_map **out, igtcloud_upload *u, const ustudy *st)
{
    igtcloud__spill_map *m = malloc(sizeof(*m));
    if (!m)
        return igtcloud__error_oom();
    igtcloud__spill_map_open(m, NULL);
    unsigned int category = u->o.category == IGTCLOUD_UPLOAD_ANNOTATIONS
                                ? IGTCLOUD_CATEGORY_ANNOTATIONS : IGTCLOUD_CATEGORY_FILES;
    /* While the engine runs, the completion workers share the session. */
    igtcloud__api_async_lock(u->completions);
    int rc = st ? igtcloud__file_walk_study(u->session, st->remote, category, index_file, m)
                : igtcloud__file_walk_project(u->session, u->project, index_file, m);
    igtcloud__api_async_unlock(u->completions);
    if (rc) {
        igtcloud__upload_index_free(&m);
        return rc;
    }
    *out = m;
    return 0;
}

int igtcloud__upload_owner_index(igtcloud_upload *u, ustudy *st, igtcloud__spill_map **out)
{
    int rc = 0;
    *out = NULL;
    if (!st && !u->project_files && u->project_nfiles > 0)
        rc = fetch_index(&u->project_files, u, NULL);
    else if (st && st->remote && !st->created && !st->files)
        rc = fetch_index(&st->files, u, st);
    if (rc == 0)
        *out = st ? st->files : u->project_files;
    return rc;
}

int igtcloud__upload_remote_complete(igtcloud__spill_map *index, const char *rel, uint64_t size)
{
    uint64_t remote_size;
    if (!index)
        return 0;
    int rc = igtcloud__spill_map_get(index, rel, strlen(rel), &remote_size);
    return rc == 1 ? remote_size == size : rc;
}

void igtcloud__upload_index_free(igtcloud__spill_map **index)
{
    if (!*index)
        return;
    igtcloud__spill_map_close(*index);
    free(*index);
    *index = NULL;
}
