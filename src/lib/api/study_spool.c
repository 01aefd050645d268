/*
 * An institute's studies in an unlinked temporary file (catalog_int.h): the
 * listing is parsed as it arrives and each study's compact form appended as
 * a record (a 4-byte length in this machine's order, then
 * igtcloud__study_pack's bytes); memory keeps nothing per study for a walk,
 * or 24 bytes with the look-up index.
 */
#include "api/catalog_int.h"
#include "core/error.h"
#include "core/fdio.h"
#include "core/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint32_t igtcloud__study_spool_hash_mask = UINT32_MAX;

/* Records are written and read through buffers of this size (a larger record: its size). */
#define SPOOL_BUFFER ((size_t)64 * 1024)

/* A study of the index: where its record starts, and the hashes of what it is looked up by. */
typedef struct spool_slot {
    uint64_t offset;
    uint32_t hash[4];   /* by igtcloud__study_match */
} spool_slot;

struct igtcloud__study_spool {
    int fd;
    char *dir;            /* where the file is (for messages) */
    uint64_t size;        /* bytes in the file */
    size_t count;
    igtcloud__buf out;    /* records not yet written */
    igtcloud__buf in;     /* the bytes of the file at in_offset */
    uint64_t in_offset;
    uint64_t next;        /* offset of the record igtcloud__study_spool_next reads */
    int indexed;
    spool_slot *slots;
    size_t alloc;
};

static uint32_t hash_of(const char *text)
{
    return igtcloud__crc32c(0, text, strlen(text)) & igtcloud__study_spool_hash_mask;
}

/* What a study is looked up by, as a string (folder: into buf, "" when it has none). */
static const char *match_value(char *buf, size_t size, const igtcloud_study *study,
                               igtcloud__study_match by)
{
    switch (by) {
    case IGTCLOUD__STUDY_BY_ID:
        return igtcloud_study_id(study);
    case IGTCLOUD__STUDY_BY_KEY:
        return igtcloud_study_key(study);
    default:
        if (igtcloud_study_folder(buf, size, study, by == IGTCLOUD__STUDY_BY_TREE_FOLDER) != 0)
            return NULL; /* never matches */
        return buf;
    }
}

static int tmp_error(const igtcloud__study_spool *sp, const char *doing)
{
    return igtcloud__error_set(IGTCLOUD_EIO, "cannot %s the temporary file of studies in %s: %s",
                               doing, sp->dir, strerror(errno));
}

/* An unlinked file in $TMPDIR (else /tmp): nothing is left behind, however the process ends. */
static int open_file(igtcloud__study_spool *sp)
{
    const char *dir = getenv("TMPDIR");
    sp->dir = strdup(dir && *dir ? dir : "/tmp");
    if (!sp->dir)
        return igtcloud__error_oom();
    sp->fd = igtcloud__open_unnamed(sp->dir, "igtcloud-studies");
    return sp->fd < 0 ? tmp_error(sp, "create") : 0;
}

static int flush_out(igtcloud__study_spool *sp)
{
    if (igtcloud__write_all(sp->fd, sp->out.ptr, sp->out.size) != 0)
        return tmp_error(sp, "write");
    sp->size += sp->out.size;
    igtcloud__buf_clear(&sp->out);
    return 0;
}

static int index_study(igtcloud__study_spool *sp, const igtcloud_study *study, uint64_t offset)
{
    char folder[1024];
    if (sp->count == sp->alloc) {
        size_t n = sp->alloc ? sp->alloc * 2 : 256;
        spool_slot *grown = realloc(sp->slots, n * sizeof(*grown));
        if (!grown)
            return igtcloud__error_oom();
        sp->slots = grown;
        sp->alloc = n;
    }
    spool_slot *slot = &sp->slots[sp->count];
    slot->offset = offset;
    for (int by = 0; by < 4; by++) {
        const char *v = match_value(folder, sizeof(folder), study, (igtcloud__study_match)by);
        slot->hash[by] = v ? hash_of(v) : 0;
    }
    igtcloud_error_clear(); /* a study without a folder is not an error here */
    return 0;
}

/* igtcloud__study_fn: append the study's record. */
static int spool_add(igtcloud_study *study, void *payload)
{
    igtcloud__study_spool *sp = payload;
    size_t at = sp->out.size;
    uint32_t len32 = 0;
    int rc = igtcloud__buf_put(&sp->out, &len32, sizeof(len32));
    if (!rc)
        rc = igtcloud__study_pack(&sp->out, study);
    if (!rc && sp->out.size - at - sizeof(len32) > UINT32_MAX)
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "listing studies: study %zu is too large",
                                 sp->count);
    if (!rc) {
        len32 = (uint32_t)(sp->out.size - at - sizeof(len32));
        memcpy(sp->out.ptr + at, &len32, sizeof(len32));
        if (sp->indexed)
            rc = index_study(sp, study, sp->size + at);
    }
    igtcloud_study_free(study);
    if (!rc) {
        sp->count++;
        if (sp->out.size >= SPOOL_BUFFER)
            rc = flush_out(sp);
    }
    return rc;
}

int igtcloud__study_spool_fetch(igtcloud__study_spool **out, igtcloud_session *session,
                                const char *institute_id, unsigned int flags)
{
    igtcloud__study_spool *sp = calloc(1, sizeof(*sp));
    if (!sp)
        return igtcloud__error_oom();
    sp->fd = -1;
    sp->indexed = (flags & IGTCLOUD__STUDY_SPOOL_INDEX) != 0;
    int rc = open_file(sp);
    if (!rc)
        rc = igtcloud__study_walk_fetch(session, institute_id, spool_add, sp);
    if (!rc)
        rc = flush_out(sp);
    if (rc) {
        igtcloud__study_spool_free(sp);
        return rc;
    }
    /* Written once, read many times: the writer's buffer is no longer needed. */
    igtcloud__buf_dispose(&sp->out);
    *out = sp;
    return 0;
}

size_t igtcloud__study_spool_count(const igtcloud__study_spool *spool)
{
    return spool ? spool->count : 0;
}

/* Point *p at `len` bytes of the file at `offset`, read into the input buffer if need be. */
static int file_bytes(const char **p, igtcloud__study_spool *sp, uint64_t offset, size_t len)
{
    if (offset > sp->size || len > sp->size - offset)
        return igtcloud__error_set(IGTCLOUD_EIO, "the temporary file of studies in %s is "
                                   "damaged (a record past its end)", sp->dir);
    if (offset < sp->in_offset || offset + len > sp->in_offset + sp->in.size) {
        uint64_t left = sp->size - offset;
        size_t want = len > SPOOL_BUFFER ? len : SPOOL_BUFFER;
        if (want > left)
            want = (size_t)left;
        igtcloud__buf_clear(&sp->in);
        int rc = igtcloud__buf_grow(&sp->in, want);
        if (rc)
            return rc;
        ssize_t got = igtcloud__pread_full(sp->fd, sp->in.ptr, want, (off_t)offset);
        if (got < 0)
            return tmp_error(sp, "read");
        if ((size_t)got < len)
            return igtcloud__error_set(IGTCLOUD_EIO, "the temporary file of studies in %s is "
                                       "shorter than written", sp->dir);
        sp->in.size = (size_t)got;
        sp->in_offset = offset;
    }
    *p = sp->in.ptr + (offset - sp->in_offset);
    return 0;
}

/* The study whose record starts at `offset`; *end: the offset after it. */
static int read_study(igtcloud_study **out, igtcloud__study_spool *sp, uint64_t offset,
                      uint64_t *end)
{
    const char *p;
    uint32_t len;
    int rc = file_bytes(&p, sp, offset, sizeof(len));
    if (rc)
        return rc;
    memcpy(&len, p, sizeof(len));
    if ((rc = file_bytes(&p, sp, offset + sizeof(len), len)))
        return rc;
    if ((rc = igtcloud__study_unpack(out, p, len)))
        return rc;
    if (end)
        *end = offset + sizeof(len) + len;
    return 0;
}

int igtcloud__study_spool_next(igtcloud_study **out, igtcloud__study_spool *spool)
{
    *out = NULL;
    if (!spool || spool->next >= spool->size)
        return 0;
    return read_study(out, spool, spool->next, &spool->next);
}

int igtcloud__study_spool_find(igtcloud_study **out, igtcloud__study_spool *spool,
                               igtcloud__study_match by, const char *value)
{
    char folder[1024];
    *out = NULL;
    if (!spool || !spool->indexed || !value || (unsigned int)by > IGTCLOUD__STUDY_BY_TREE_FOLDER)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no study index to look up");
    uint32_t h = hash_of(value);
    for (size_t i = 0; i < spool->count; i++) {
        if (spool->slots[i].hash[by] != h)
            continue;
        igtcloud_study *study = NULL;
        int rc = read_study(&study, spool, spool->slots[i].offset, NULL);
        if (rc)
            return rc;
        const char *v = match_value(folder, sizeof(folder), study, by);
        if (v && strcmp(v, value) == 0) {
            *out = study;
            return 0;
        }
        igtcloud_study_free(study); /* another study with the same hash */
    }
    igtcloud_error_clear();
    return 0;
}

void igtcloud__study_spool_free(igtcloud__study_spool *spool)
{
    if (!spool)
        return;
    if (spool->fd >= 0)
        close(spool->fd);
    igtcloud__buf_dispose(&spool->out);
    igtcloud__buf_dispose(&spool->in);
    free(spool->slots);
    free(spool->dir);
    free(spool);
}
