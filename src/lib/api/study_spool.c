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
#include "core/spill.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint32_t igtcloud__study_spool_hash_mask = UINT32_MAX;

/* A study of the index: where its record starts, and the hashes of what it is looked up by. */
typedef struct spool_slot {
    uint64_t offset;
    uint32_t hash[4];   /* by igtcloud__study_match */
} spool_slot;

struct igtcloud__study_spool {
    igtcloud__spill file; /* the records */
    igtcloud__spill_window in;
    igtcloud__buf record; /* the study being added, packed */
    char *dir;            /* where the file is (for messages) */
    size_t count;
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
    if (errno == ENOMEM)
        return igtcloud__error_oom();
    return igtcloud__error_set(IGTCLOUD_EIO, "cannot %s the temporary file of studies in %s: %s",
                               doing, sp->dir, errno == EIO ? "shorter than written"
                                                            : strerror(errno));
}

/* An unlinked file in $TMPDIR (else /tmp): nothing is left behind, however the process ends. */
static int open_file(igtcloud__study_spool *sp)
{
    const char *dir = getenv("TMPDIR");
    sp->dir = strdup(dir && *dir ? dir : "/tmp");
    if (!sp->dir)
        return igtcloud__error_oom();
    igtcloud__spill_init(&sp->file, igtcloud__open_unnamed(sp->dir, "igtcloud-studies"));
    return sp->file.fd < 0 ? tmp_error(sp, "create") : 0;
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
    uint64_t at = sp->file.size;
    igtcloud__buf_clear(&sp->record);
    int rc = igtcloud__study_pack(&sp->record, study);
    if (!rc && sp->record.size > UINT32_MAX)
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "listing studies: study %zu is too large",
                                 sp->count);
    if (!rc) {
        uint32_t len32 = (uint32_t)sp->record.size;
        if (igtcloud__spill_put(&sp->file, &len32, sizeof(len32)) ||
            igtcloud__spill_put(&sp->file, sp->record.ptr, sp->record.size))
            rc = tmp_error(sp, "write");
    }
    if (!rc && sp->indexed)
        rc = index_study(sp, study, at);
    igtcloud_study_free(study);
    if (!rc)
        sp->count++;
    return rc;
}

int igtcloud__study_spool_fetch(igtcloud__study_spool **out, igtcloud_session *session,
                                const char *institute_id, unsigned int flags)
{
    igtcloud__study_spool *sp = calloc(1, sizeof(*sp));
    if (!sp)
        return igtcloud__error_oom();
    sp->file.fd = -1;
    sp->indexed = (flags & IGTCLOUD__STUDY_SPOOL_INDEX) != 0;
    int rc = open_file(sp);
    if (!rc)
        rc = igtcloud__study_walk_fetch(session, institute_id, spool_add, sp);
    if (!rc && igtcloud__spill_flush(&sp->file))
        rc = tmp_error(sp, "write");
    if (rc) {
        igtcloud__study_spool_free(sp);
        return rc;
    }
    /* Written once, read many times: the writer's buffers are no longer needed. */
    igtcloud__buf_dispose(&sp->file.pending);
    igtcloud__buf_dispose(&sp->record);
    *out = sp;
    return 0;
}

size_t igtcloud__study_spool_count(const igtcloud__study_spool *spool)
{
    return spool ? spool->count : 0;
}

/* Point *p at `len` bytes of the file at `offset`. */
static int file_bytes(const char **p, igtcloud__study_spool *sp, uint64_t offset, size_t len)
{
    if (igtcloud__spill_read(p, &sp->file, &sp->in, offset, len, sp->file.size))
        return tmp_error(sp, "read");
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
    if (!spool || spool->next >= spool->file.size)
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
    igtcloud__spill_close(&spool->file);
    igtcloud__buf_dispose(&spool->in.buf);
    igtcloud__buf_dispose(&spool->record);
    free(spool->slots);
    free(spool->dir);
    free(spool);
}
