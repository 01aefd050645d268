/*
 * Download planning inputs from the network and the disk: the completion
 * manifest's lines, the whole manifest as its index reads it (checked
 * against reading every line, the last one for a path winning), study /
 * file-listing JSON turned into study folders (which must never escape the
 * target) through the public catalog, and listings parsed as they arrive
 * (api/json_stream), in chunks cut from the input, which must hand over
 * exactly what the whole document parsed at once holds, or refuse exactly
 * what it refuses; the studies they hold must survive the spool's records.
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
#include "igtcloud/error.h"
#include "api/catalog_int.h"
#include "api/json_stream.h"
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

/* What a stream handed over: [member or null, index or -1, value] rows, and the member names. */
typedef struct streamed {
    json_t *rows;
    json_t *names;
    int twice;      /* a member was named twice */
} streamed;

static int collect(json_t *value, const char *member, size_t index, void *payload)
{
    streamed *st = payload;
    json_t *row = json_pack("[s?, I, O]", member,
                            index == IGTCLOUD__JSON_STREAM_WHOLE ? (json_int_t)-1
                                                                 : (json_int_t)index,
                            value);
    if (!row || json_array_append_new(st->rows, row))
        abort();
    return 0;
}

static int collect_name(const char *member, void *payload)
{
    streamed *st = payload;
    if (json_object_get(st->names, member))
        st->twice = 1;
    json_object_set_new(st->names, member, json_true());
    return 0;
}

/* What the whole parse holds, as the stream hands it over; NULL: not of this shape. */
static json_t *whole_rows(const json_t *doc, igtcloud__json_stream_shape shape)
{
    json_t *rows = json_array();
    size_t i;
    json_t *v;
    if (shape == IGTCLOUD__JSON_STREAM_ARRAY ? !json_is_array(doc) : !json_is_object(doc)) {
        json_decref(rows);
        return NULL;
    }
    if (shape == IGTCLOUD__JSON_STREAM_ARRAY) {
        json_array_foreach(doc, i, v)
            json_array_append_new(rows, json_pack("[n, I, O]", (json_int_t)i, v));
        return rows;
    }
    const char *key;
    json_t *member;
    json_object_foreach((json_t *)doc, key, member) {
        if (!json_is_array(member)) {
            json_array_append_new(rows, json_pack("[s, I, O]", key, (json_int_t)-1, member));
            continue;
        }
        json_array_foreach(member, i, v)
            json_array_append_new(rows, json_pack("[s, I, O]", key, (json_int_t)i, v));
    }
    return rows;
}

/* A study survives its record in the spool: every field read back as it was. */
static void check_record(const json_t *obj)
{
    igtcloud_study *a = NULL, *b = NULL;
    igtcloud__buf rec = IGTCLOUD_BUF_INIT;
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text || igtcloud_study_from_json(&a, text, strlen(text)) != 0 ||
        igtcloud__study_pack(&rec, a) != 0 || igtcloud__study_unpack(&b, rec.ptr, rec.size) != 0)
        abort();
    int64_t da = 0, db = 0;
    if (strcmp(igtcloud_study_json(a), igtcloud_study_json(b)) != 0 ||
        strcmp(igtcloud_study_id(a), igtcloud_study_id(b)) != 0 ||
        strcmp(igtcloud_study_human_id(a), igtcloud_study_human_id(b)) != 0 ||
        strcmp(igtcloud_study_institute_id(a), igtcloud_study_institute_id(b)) != 0 ||
        strcmp(igtcloud_study_type(a), igtcloud_study_type(b)) != 0 ||
        strcmp(igtcloud_study_s3_prefix(a), igtcloud_study_s3_prefix(b)) != 0 ||
        strcmp(igtcloud_study_key(a), igtcloud_study_key(b)) != 0 ||
        igtcloud_study_date(&da, a) != igtcloud_study_date(&db, b) || da != db)
        abort();
    free(text);
    igtcloud__buf_dispose(&rec);
    igtcloud_study_free(a);
    igtcloud_study_free(b);
}

/*
 * The data as a listing's body, fed to the stream in chunks whose sizes come
 * from the data itself, in both shapes: it must agree with json_loadb on the
 * whole body.
 */
static void check_stream(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    uint32_t seed = 2166136261u;
    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 16777619u;
    for (int shape = 0; shape < 2; shape++) {
        streamed st = { json_array(), json_object(), 0 };
        igtcloud__json_stream s;
        igtcloud__json_stream_init(&s, (igtcloud__json_stream_shape)shape, "listing", collect,
                                   &st);
        s.member_fn = collect_name;
        int rc = 0;
        for (size_t at = 0; !rc && at < size;) {
            seed = seed * 1103515245u + 12345u;
            size_t len = (seed >> 16) % 8 == 0 ? 1 + (seed >> 8) % 512 : 1 + (seed >> 20) % 8;
            if (len > size - at)
                len = size - at;
            /* Each chunk in its own allocation, so a read past its end is seen. */
            char *chunk = malloc(len);
            if (!chunk)
                abort();
            memcpy(chunk, data + at, len);
            rc = igtcloud__json_stream_feed(&s, chunk, len);
            free(chunk);
            at += len;
        }
        if (!rc)
            rc = igtcloud__json_stream_finish(&s);
        igtcloud__json_stream_dispose(&s);
        json_t *want = doc ? whole_rows(doc, (igtcloud__json_stream_shape)shape) : NULL;
        if (rc) {
            const char *m = igtcloud_error_last()->message;
            if (want || strncmp(m, "listing: ", 9) != 0 || strchr(m, '\n'))
                abort(); /* refused what the whole parse takes, or a bad message */
        } else if (!want) {
            abort(); /* took what the whole parse refuses */
        } else if (!st.twice && !json_equal(st.rows, want)) {
            abort(); /* (a member named twice: the whole parse keeps its last value only) */
        }
        if (!rc && shape == IGTCLOUD__JSON_STREAM_ARRAY) {
            size_t i;
            json_t *row;
            json_array_foreach(st.rows, i, row) {
                json_t *v = json_array_get(row, 2);
                if (json_is_object(v))
                    check_record(v);
            }
        }
        json_decref(want);
        json_decref(st.rows);
        json_decref(st.names);
    }
    json_decref(doc);
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
    check_stream(data, size);
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
