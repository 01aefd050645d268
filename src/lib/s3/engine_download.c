/*
 * Downloads: a temporary file beside the final name, a journal of finished
 * ranges so a killed run resumes, size and MD5 verification, atomic rename.
 */
#include "s3/engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"
#include "core/hash.h"

static void download_rename(job *j);

static int make_side_path(char **out, const char *path, const char *suffix)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path + 1) : 0;
    igtcloud__buf b = IGTCLOUD_BUF_INIT;
    int rc = igtcloud__buf_put(&b, path, dir_len);
    if (!rc)
        rc = igtcloud__buf_printf(&b, ".%s%s", path + dir_len, suffix);
    if (rc) {
        igtcloud__buf_dispose(&b);
        return igtcloud__error_oom();
    }
    *out = igtcloud__buf_detach(&b);
    return 0;
}

/* Close and remove j's journal, unless the start found none (most files: no failing unlink). */
static void drop_journal(job *j)
{
    igtcloud__engine_close_fd(&j->journal_fd);
    if (j->journal_path && !j->journal_absent)
        unlink(j->journal_path);
    j->journal_absent = 1;
}

void igtcloud__engine_discard_partial(job *j)
{
    igtcloud__engine_close_fd(&j->fd);
    if (j->tmp_path)
        unlink(j->tmp_path);
    drop_journal(j);
}

/* Every byte is in the temporary file: verify, then give it its final name. */
void igtcloud__engine_download_finish(igtcloud_transfer *t, job *j)
{
    struct stat st;
    j->finished = 1;
    if (fstat(j->fd, &st) || (uint64_t)st.st_size != j->size) {
        igtcloud__engine_job_error(j, IGTCLOUD_EPROTO, 0, NULL, "download of %s: size %lld on disk, %" PRIu64 " expected",
                  j->key, (long long)st.st_size, j->size);
        igtcloud__engine_discard_partial(j);
        return;
    }
    if (j->expected >= 0 && (uint64_t)j->expected != j->size) {
        igtcloud__engine_job_error(j, IGTCLOUD_EPROTO, 0, NULL, "download of %s: object has %" PRIu64 " bytes, %" PRId64 " expected",
                  j->key, j->size, j->expected);
        igtcloud__engine_discard_partial(j);
        return;
    }
    if (j->crc32c_known && j->crc32c_pos == j->size) {
        t->stats.verified_by_crc32c++;
        if (j->crc32c != j->crc32c_expected) {
            igtcloud__engine_job_error(j, IGTCLOUD_EPROTO, 0, NULL,
                      "download of %s: CRC32C of the data differs from the object's checksum", j->key);
            igtcloud__engine_discard_partial(j);
            return;
        }
        download_rename(j);
        return;
    }
    if (j->crc_state == CRC_PENDING) {
        /* One range held it all (its size was not known): ask; the answer finishes it. */
        igtcloud__engine_crc_ask(t, j);
        if (j->crc_state == CRC_PENDING)
            return;
    }
    if (j->crc_state == CRC_FULL) {
        int v = igtcloud__engine_crc_conclude(t, j);
        if (v == 0)
            t->stats.verified_by_crc32c++;
        igtcloud__engine_download_verified(t, j, v);
        return;
    }
    /*
     * No worker holds j's digest here (a job settles only with nothing
     * pending): the rest of the MD5 goes to a worker, or is done here.
     */
    if (igtcloud__wire_etag_is_md5(j->etag)) {
        if (!(j->md5 && j->md5_pos == j->size) && igtcloud__engine_verify_submit(t, j) == 0)
            return; /* igtcloud__engine_download_verified() when the worker is done */
        igtcloud__engine_download_verified(t, j, igtcloud__engine_verify_here(t, j));
        return;
    }
    if (igtcloud__engine_parts_wanted(t, j)) {
        igtcloud__engine_parts_check(t, j); /* igtcloud__engine_download_verified() in the end */
        return;
    }
    download_rename(j);
}

/* The MD5 check's outcome v (0 match, 1 mismatch, < 0 error, message set). */
void igtcloud__engine_download_verified(igtcloud_transfer *t, job *j, int v)
{
    (void)t;
    if (v) {
        if (v > 0)
            igtcloud__engine_job_error(j, IGTCLOUD_EPROTO, 0, NULL,
                      "download of %s: %s", j->key,
                      j->crc_state == CRC_COMPOSITE
                          ? "the CRC32C of its parts differs from the object's composite checksum"
                      : j->crc_state == CRC_FULL
                          ? "CRC32C of the data differs from the object's checksum"
                      : j->mp_state == MP_KNOWN ? "the MD5 of its parts differs from the multipart ETag"
                                                : "MD5 of the data differs from the ETag");
        else
            igtcloud__engine_job_error(j, v, 0, NULL, "download of %s: %s", j->key, igtcloud_error_last()->message);
        igtcloud__engine_discard_partial(j);
        return;
    }
    download_rename(j);
}

static void download_rename(job *j)
{
    igtcloud__engine_close_fd(&j->fd);
    if (rename(j->tmp_path, j->path) != 0) {
        igtcloud__engine_job_error(j, IGTCLOUD_EIO, 0, NULL, "cannot rename %s to %s: %s", j->tmp_path, j->path,
                  strerror(errno));
        unlink(j->tmp_path);
        return;
    }
    drop_journal(j);
}

int igtcloud__engine_write_status(int err)
{
    return err == ENOSPC || err == EDQUOT || err == EFBIG ? IGTCLOUD_ENOSPACE : IGTCLOUD_EIO;
}

static int open_tmp(job *j, int truncate)
{
    int flags = O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (truncate ? O_TRUNC : 0);
    j->fd = open(j->tmp_path, flags, 0644);
    if (j->fd < 0)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot create %s: %s", j->tmp_path, strerror(errno));
    return 0;
}

/*
 * Start a download from nothing: one GET, or the first range of many. The
 * temporary file is truncated as it opens; a journal is unlinked unless the
 * start found none (most files: three fewer system calls each).
 */
int igtcloud__engine_download_fresh(igtcloud_transfer *t, job *j)
{
    igtcloud__engine_close_fd(&j->fd);
    drop_journal(j);
    igtcloud__journal_dispose(&j->journal);
    j->ranged = 0;
    j->etag[0] = '\0';
    j->last_modified = 0;
    j->size_known = j->expected >= 0;
    j->size = j->expected >= 0 ? (uint64_t)j->expected : 0;
    int rc = open_tmp(j, 1);
    if (rc) {
        /* Whatever holds the name (a symlink, a folder) goes, as it did before. */
        unlink(j->tmp_path);
        rc = open_tmp(j, 1);
    }
    if (rc)
        return rc;
    free(j->md5);
    j->md5 = NULL;
    j->md5_pos = 0;
    j->md5_range = 0;
    j->md5_broken = 0;
    igtcloud__engine_parts_reset(j);
    igtcloud__engine_crc_reset(j);
    j->crc32c_known = 0;
    j->finished = 0;
    j->md5_on_loop = t->verify_failed;
    if (j->md5_on_loop) {
        /* No workers: hash on the loop while the bytes arrive in order. */
        j->md5 = malloc(sizeof(*j->md5));
        if (!j->md5)
            return igtcloud__error_oom();
        igtcloud__md5_init(j->md5);
    }
    req *r;
    if (j->size_known && j->size <= t->o.range_threshold) {
        r = igtcloud__engine_req_new(j, RK_GET, 0, 0, j->size);
        if (r)
            r->whole = 1;
    } else {
        r = igtcloud__engine_req_new(j, RK_GET, 0, 0, t->o.range_size);
    }
    if (!r)
        return igtcloud__error_oom();
    igtcloud__engine_enqueue(t, r, 0);
    return 0;
}

/*
 * Write the ranges finished since the last flush to the journal. A journal
 * of this boot (see journal.h) needs no sync: its lines go out at once. One
 * without a boot id needs the bytes synced first: at most about once a second
 * (or when forced), so the loop rarely waits on the disk (writeback was
 * started per range already), and a killed run loses at most a second.
 */
#define JOURNAL_FLUSH_MS 1000
int igtcloud__engine_journal_flush(job *j, int force)
{
    if (j->nunjournaled == 0 || j->journal_fd < 0)
        return 0;
    int64_t now = igtcloud__engine_mono_ms();
    if (j->journal_sync && !force && now - j->journal_synced_ms < JOURNAL_FLUSH_MS)
        return 0;
    if (j->journal_sync && fdatasync(j->fd) != 0)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot sync %s: %s", j->tmp_path, strerror(errno));
    igtcloud__buf lines = IGTCLOUD_BUF_INIT;
    int rc = 0;
    for (uint32_t i = 0; !rc && i < j->nunjournaled; i++)
        rc = igtcloud__buf_printf(&lines, "done %" PRIu32 "\n", j->unjournaled[i]);
    if (!rc && igtcloud__write_all(j->journal_fd, lines.ptr, lines.size))
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot append to %s", j->journal_path);
    igtcloud__buf_dispose(&lines);
    j->nunjournaled = 0;
    j->journal_synced_ms = now;
    return rc;
}

/* The first GET of a large object told its size: plan and journal the rest. */
int igtcloud__engine_download_plan_ranges(igtcloud_transfer *t, job *j)
{
    int rc = igtcloud__journal_init(&j->journal, j->size, t->o.range_size,
                                    j->etag[0] ? j->etag : "-", j->last_modified);
    if (rc)
        return rc;
    snprintf(j->journal.boot, sizeof(j->journal.boot), "%s", t->boot_id);
    j->journal_sync = !j->journal.boot[0];
    if (ftruncate(j->fd, (off_t)j->size) != 0)
        return igtcloud__error_set(igtcloud__engine_write_status(errno), "cannot size %s: %s",
                                   j->tmp_path, strerror(errno));
    j->journal_absent = 0;
    rc = igtcloud__journal_create(&j->journal_fd, j->journal_path, &j->journal);
    if (rc)
        return rc;
    free(j->unjournaled);
    j->unjournaled = calloc(j->journal.count, sizeof(*j->unjournaled));
    if (!j->unjournaled)
        return igtcloud__error_oom();
    j->nunjournaled = 0;
    j->journal_synced_ms = igtcloud__engine_mono_ms();
    j->ranged = 1;
    j->next_range = 1;
    igtcloud__engine_pieces_reset(j);
    /* Range 0 arrived with the first GET. */
    if ((!j->journal_sync || fdatasync(j->fd) == 0) &&
        igtcloud__journal_append(j->journal_fd, 0) == 0)
        igtcloud__journal_mark(&j->journal, 0);
    else
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot journal %s", j->tmp_path);
    return 0;
}

/* Resume from a journal left by an earlier run, when it matches. */
static int download_try_resume(igtcloud_transfer *t, job *j)
{
    igtcloud__journal jr = IGTCLOUD__JOURNAL_INIT;
    int loaded = igtcloud__journal_load(&jr, j->journal_path);
    if (loaded != 0) {
        j->journal_absent = loaded == IGTCLOUD_ENOTFOUND;
        return 0;
    }
    struct stat st;
    /* Unsynced ranges of another boot may never have reached the disk. */
    int same_boot = !jr.boot[0] || strcmp(jr.boot, t->boot_id) == 0;
    int usable = jr.range_size > 0 && (j->expected < 0 || (uint64_t)j->expected == jr.size) &&
                 stat(j->tmp_path, &st) == 0 && (uint64_t)st.st_size == jr.size &&
                 strcmp(jr.etag, "-") != 0 && same_boot;
    if (!usable) {
        igtcloud__journal_dispose(&jr);
        return 0;
    }
    if (open_tmp(j, 0) || igtcloud__journal_open_append(&j->journal_fd, j->journal_path)) {
        igtcloud__engine_close_fd(&j->fd);
        igtcloud__journal_dispose(&jr);
        return 0;
    }
    j->unjournaled = calloc(jr.count, sizeof(*j->unjournaled));
    if (!j->unjournaled) {
        igtcloud__engine_close_fd(&j->fd);
        igtcloud__engine_close_fd(&j->journal_fd);
        igtcloud__journal_dispose(&jr);
        return 0;
    }
    j->nunjournaled = 0;
    j->journal_synced_ms = igtcloud__engine_mono_ms();
    j->journal = jr;
    j->journal_sync = !jr.boot[0];
    j->size = jr.size;
    j->size_known = 1;
    snprintf(j->etag, sizeof(j->etag), "%s", jr.etag);
    j->last_modified = jr.modified;
    j->ranged = 1;
    j->next_range = 0;
    igtcloud__engine_pieces_reset(j);
    j->md5_on_loop = t->verify_failed;
    igtcloud__engine_parts_reset(j);
    igtcloud__engine_crc_resumed(j);
    t->stats.ranges_resumed += jr.ndone;
    t->progress.bytes_done += (uint64_t)jr.ndone * jr.range_size > jr.size
                                  ? jr.size
                                  : (uint64_t)jr.ndone * jr.range_size;
    return 1;
}

int igtcloud__engine_download_start(igtcloud_transfer *t, job *j)
{
    struct stat st;
    if (j->expected >= 0 && stat(j->path, &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size == (uint64_t)j->expected) {
        j->skipped = 1;
        j->size = (uint64_t)j->expected;
        j->size_known = 1;
        return 1;
    }
    int rc = make_side_path(&j->tmp_path, j->path, IGTCLOUD__ENGINE_PART_SUFFIX);
    if (!rc)
        rc = make_side_path(&j->journal_path, j->path, IGTCLOUD__ENGINE_JOURNAL_SUFFIX);
    if (rc)
        return rc;
    if (j->expected >= 0)
        t->progress.bytes_total += (uint64_t)j->expected;
    if (download_try_resume(t, j))
        return 0;
    return igtcloud__engine_download_fresh(t, j);
}
