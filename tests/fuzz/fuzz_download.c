/*
 * Download planning inputs from the network and the disk: the completion
 * manifest's lines, the whole manifest as its index reads it (checked
 * against reading every line, the last one for a path winning), and
 * study / file-listing JSON turned into study folders (which must never
 * escape the target) through the public catalog.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "igtcloud/catalog.h"
#include "core/safepath.h"
#include "tools/download_int.h"

static char target[256];
static char manifest[320];

static void remove_target(void)
{
    unlink(manifest);
    snprintf(manifest, sizeof(manifest), "%s/.igtcloud", target);
    rmdir(manifest);
    rmdir(target);
}

/* A folder holding TARGET/.igtcloud, made once per process. */
static int make_target(void)
{
    if (*target)
        return 0;
    const char *tmp = getenv("TMPDIR");
    snprintf(target, sizeof(target), "%s/fuzz_download.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(target))
        return -1;
    snprintf(manifest, sizeof(manifest), "%s/.igtcloud", target);
    if (mkdir(manifest, 0755) != 0)
        return -1;
    snprintf(manifest, sizeof(manifest), "%s/.igtcloud/download-manifest", target);
    atexit(remove_target);
    return 0;
}

typedef struct parsed {
    const char *rel;
    size_t rel_len;
    long long size, sec;
    long nsec;
} parsed;

/* The data as a whole manifest: every path of a complete line is answered as its last line says. */
static void check_index(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    parsed *lines = calloc(size / 2 + 1, sizeof(*lines));
    size_t n = 0;
    if (!lines || make_target() != 0)
        abort();
    for (const char *p = text, *end = text + size;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        parsed *l = &lines[n];
        if (igtcloud__dl_manifest_parse_line(p, (size_t)(nl - p), &l->rel, &l->size, &l->sec,
                                             &l->nsec) == 0) {
            l->rel_len = (size_t)(nl - l->rel);
            n++;
        }
        p = nl + 1;
    }
    int fd = open(manifest, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd) != 0)
        abort();
    igtcloud__dl_manifest_hash_mask = size & 1 ? 3 : UINT64_MAX; /* collisions in half the runs */
    igtcloud__dl_manifest m;
    if (igtcloud__dl_manifest_open(&m, target, 1) != 0)
        abort();
    char *rel = malloc(size + 2);
    if (!rel)
        abort();
    for (size_t i = 0; i < n; i++) {
        const parsed *last = &lines[i];
        for (size_t j = i + 1; j < n; j++)
            if (lines[j].rel_len == last->rel_len && memcmp(lines[j].rel, last->rel, last->rel_len) == 0)
                last = &lines[j];
        memcpy(rel, last->rel, last->rel_len);
        rel[last->rel_len] = '\0';
        struct stat st;
        memset(&st, 0, sizeof(st));
        st.st_size = (off_t)last->size;
        st.st_mtim.tv_sec = (time_t)last->sec;
        st.st_mtim.tv_nsec = last->nsec;
        if (!igtcloud__dl_manifest_vouches(&m, rel, &st))
            abort(); /* the last line for a path must vouch */
        st.st_mtim.tv_nsec = last->nsec ^ 1;
        if (igtcloud__dl_manifest_vouches(&m, rel, &st))
            abort(); /* ... and no earlier one */
        rel[last->rel_len] = '~';
        rel[last->rel_len + 1] = '\0';
        st.st_mtim.tv_nsec = last->nsec;
        int recorded = 0;
        for (size_t j = 0; j < n && !recorded; j++)
            recorded = lines[j].rel_len == last->rel_len + 1 &&
                       memcmp(lines[j].rel, rel, last->rel_len + 1) == 0;
        if (!recorded && igtcloud__dl_manifest_vouches(&m, rel, &st))
            abort(); /* a path never recorded */
    }
    igtcloud__dl_manifest_close(&m);
    igtcloud__dl_manifest_hash_mask = UINT64_MAX;
    free(rel);
    free(lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *rel;
    long long fsize, sec;
    long nsec;
    if (igtcloud__dl_manifest_parse_line((const char *)data, size, &rel, &fsize, &sec, &nsec) == 0) {
        if (rel < (const char *)data || rel >= (const char *)data + size || fsize < 0 || sec < 0 ||
            nsec < 0 || nsec > 999999999)
            abort();
    }
    check_index(data, size);
    igtcloud_study *study = NULL;
    if (igtcloud_study_from_json(&study, (const char *)data, size) == 0) {
        char folder[4096];
        for (int h = 0; h < 2; h++) {
            if (igtcloud_study_folder(folder, sizeof(folder), study, h) == 0 &&
                igtcloud__safepath_check(folder) != 0)
                abort();   /* a folder we would write must be safe */
        }
        int64_t date;
        (void)igtcloud_study_date(&date, study);
        (void)igtcloud_study_key(study);
        igtcloud_study_free(study);
    }
    return 0;
}
