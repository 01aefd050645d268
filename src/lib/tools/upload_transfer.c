/*
 * Upload's transfer (phase 4 of a run): one transfer engine run fed by the
 * planner (upload_plan.c) as it goes, queueing each batch of files once its
 * registration answered and retiring finished files; the engine's
 * callbacks, the completion calls beside it; settling the journal of
 * multipart uploads before the bytes move; the second round for files that
 * changed while they were sent.
 */
#include "api/s3_credentials.h"
#include "api/upload_api.h"
#include "core/buf.h"
#include "core/error.h"
#include "s3/engine.h"
#include "tools/upload_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * Completion calls queued beside the transfer: two connections keep up with
 * the sandbox's and the cloud's answer times at 16 transfers in flight, and
 * 64 unreported calls are a few KiB (the engine's loop waits when full).
 */
#define COMPLETE_WORKERS 2
#define COMPLETE_QUEUE 64
/* The engine's default multipart threshold (transfer.h). */
#define MULTIPART_THRESHOLD ((uint64_t)16 * 1024 * 1024)
/*
 * Planned ahead of the engine: the files of registrations sent and not yet
 * queued, so that the next batch is registered while the current one is
 * sent, and at most this many calls of them at once, leaving the rest of the
 * queue to completion calls.
 */
#define AHEAD_FILES UPLOAD_REGISTER_BATCH
#define AHEAD_CALLS 8

/* ------------------------------------------------------------------ */
/* Phase 4: the engine, its callbacks, completion                      */

void igtcloud__upload_fail_file(igtcloud_upload *u, ufile *f, int status, const char *message)
{
    f->state = F_FAILED;
    u->sum.files_failed++;
    if (f->study)
        f->study->nfailed++;
    igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_FILE_FAILED, f->path, f->key, f->study,
                          f->size, status, message);
}

static uint64_t multipart_threshold(const igtcloud_upload *u)
{
    return u->o.multipart_threshold ? u->o.multipart_threshold : MULTIPART_THRESHOLD;
}

/* Journal the upload id the engine runs a large file as, once it is known. */
static void journal_upload_id(igtcloud_upload *u, ufile *f, const char *upload_id)
{
    if (!upload_id || !*upload_id || (f->journal_id && strcmp(f->journal_id, upload_id) == 0))
        return;
    char *copy = strdup(upload_id);
    if (!copy || igtcloud__up_journal_started(&u->journal, f->key, f->size,
                                              (int64_t)f->mtime.tv_sec, (long)f->mtime.tv_nsec,
                                              upload_id)) {
        free(copy);
        return; /* without a journal line this upload cannot resume; nothing worse */
    }
    free(f->journal_id);
    f->journal_id = copy;
}

/*
 * Called by the engine when a multipart upload was created, before any of
 * its parts leaves: the id is on disk before there is anything to lose, so
 * even a SIGKILL right after CreateMultipartUpload leaves it resumable or
 * abortable by the next run.
 */
static int multipart_created(const igtcloud_transfer_result *r, void *payload)
{
    igtcloud_upload *u = payload;
    ufile *f = r->payload;
    if (f)
        journal_upload_id(u, f, r->upload_id);
    return 0;
}

/*
 * The engine knows the files queued so far; the totals shown add those
 * planned but not queued yet and those not planned yet (their sizes as
 * checked), so they start near the run's whole and end exact.
 */
static int progress_cb(const igtcloud_transfer_progress *p, void *payload)
{
    igtcloud_upload *u = payload;
    /* A large file can outlive the JWT; the completion workers share the session. */
    igtcloud__api_async_keep_fresh(u->completions, &u->keeper);
    igtcloud__api_async_harvest(u->completions, 0);
    if (!u->o.progress_cb)
        return 0;
    igtcloud_transfer_progress shown = *p;
    size_t filling = u->filling ? u->filling->n : 0;
    uint64_t filling_bytes = u->filling ? u->filling->bytes : 0;
    uint64_t known = p->bytes_total > u->queued_bytes ? p->bytes_total : u->queued_bytes;
    shown.files_total += u->batch_files + filling + u->left_files;
    shown.bytes_total = known + u->batch_bytes + filling_bytes + u->left_bytes;
    return u->o.progress_cb(&shown, u->o.progress_payload);
}

static void file_completed(void *item, int status, const char *message, void *payload);

static void file_done(igtcloud_upload *u, ufile *f)
{
    f->state = F_DONE;
    u->sum.files_uploaded++;
    u->sum.bytes_uploaded += f->size;
    igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_FILE_DONE, f->path, f->key, f->study,
                          f->size, 0, NULL);
    igtcloud__upload_file_release(u, f);
}

/* The engine calls each file back once, and never looks at its payload again. */
static int file_cb(const igtcloud_transfer_result *r, void *payload)
{
    igtcloud_upload *u = payload;
    ufile *f = r->payload;
    if (f->size > multipart_threshold(u)) {
        /* A failed or cancelled upload stays journaled: the next run resumes or reuses it. */
        if (r->status == 0)
            igtcloud__up_journal_ended(&u->journal, f->key);
        else
            journal_upload_id(u, f, r->upload_id);
    }
    if (r->status != 0) {
        igtcloud__upload_fail_file(u, f, r->status, r->message);
        igtcloud__upload_file_release(u, f);
        return 0;
    }
    /* A file that changed while it was read may have been sent torn: never complete it. */
    struct stat sb;
    if (stat(f->path, &sb) != 0 || (uint64_t)sb.st_size != f->size || sb.st_ino != f->ino ||
        sb.st_mtim.tv_sec != f->mtime.tv_sec || sb.st_mtim.tv_nsec != f->mtime.tv_nsec) {
        /* Decided after the run: sent again once, or failed (igtcloud__upload_send_changed). */
        f->state = F_PLANNED;
        f->link = u->changed;
        u->changed = f;
        return 0;
    }
    if (f->study) {
        /*
         * The completion call runs beside the transfer (api_async.h): the
         * bytes are stored now, so the call may go; the file counts as done
         * only when it succeeded (file_completed).
         */
        igtcloud__buf rel = IGTCLOUD_BUF_INIT, path = IGTCLOUD_BUF_INIT;
        char *body = NULL;
        int rc = u->o.category == IGTCLOUD_UPLOAD_ANNOTATIONS
                     ? igtcloud__buf_printf(&rel, "annotations/%s", f->rel)
                     : igtcloud__buf_puts(&rel, f->rel);
        rc = rc ? igtcloud__error_oom() : 0;
        if (rc == 0)
            rc = igtcloud__upload_completed_call(&path, &body,
                                                 igtcloud_institute_id(f->study->inst->inst),
                                                 igtcloud_study_id(f->study->remote), rel.ptr);
        if (rc == 0) {
            f->state = F_COMPLETING;
            rc = igtcloud__api_async_post(u->completions, path.ptr, body,
                                          IGTCLOUD__UPLOAD_COMPLETED_WHAT, file_completed, f);
        }
        free(body);
        igtcloud__buf_dispose(&rel);
        igtcloud__buf_dispose(&path);
        if (rc == IGTCLOUD_ECANCELLED) {
            /* Stored but not complete: the next run sends it again. */
            igtcloud__upload_file_release(u, f);
        } else if (rc) {
            igtcloud__upload_fail_file(u, f, rc, igtcloud_error_last()->message);
            igtcloud__upload_file_release(u, f);
        }
        return 0;
    }
    file_done(u, f);
    return 0;
}

/* The answer to a completion call (on the run's thread, from the queue's harvest). */
static void file_completed(void *item, int status, const char *message, void *payload)
{
    igtcloud_upload *u = payload;
    ufile *f = item;
    if (status == IGTCLOUD_ECANCELLED) {
        /* Stored but not complete: the next run sends it again. */
        igtcloud__upload_file_release(u, f);
        return;
    }
    if (status) {
        char line[400];
        snprintf(line, sizeof(line), "uploaded but not marked complete (%s)", message);
        igtcloud__upload_fail_file(u, f, status, line);
        igtcloud__upload_file_release(u, f);
        return;
    }
    file_done(u, f);
}

/* Credentials through the session, which the completion workers share. */
static int credentials_cb(igtcloud_s3_credentials *out, const char *action, const char *prefix,
                          void *payload)
{
    igtcloud_upload *u = payload;
    igtcloud__api_async_lock(u->completions);
    int rc = igtcloud__s3_credentials_cb(out, action, prefix, u->session);
    igtcloud__api_async_unlock(u->completions);
    return rc;
}

/* Requests in flight: --concurrent-studies x --concurrent-files, at most 64. */
static unsigned int max_requests(const igtcloud_upload *u)
{
    unsigned int studies = u->o.concurrent_studies ? u->o.concurrent_studies : 4;
    unsigned int files = u->o.concurrent_files ? u->o.concurrent_files : 4;
    unsigned long n = (unsigned long)studies * files;
    return (unsigned int)(n > 64 ? 64 : n);
}

int igtcloud__upload_new_transfer(igtcloud_upload *u)
{
    igtcloud_transfer_options t = IGTCLOUD_TRANSFER_OPTIONS_INIT;
    t.max_requests = max_requests(u);
    t.credentials_cb = credentials_cb;
    t.credentials_payload = u;
    t.endpoint = u->o.s3_endpoint;
    t.ca_file = u->o.ca_file;
    t.multipart_threshold = u->o.multipart_threshold;
    t.part_size = u->o.part_size;
    t.checksum = u->o.checksum;
    t.server_side_encryption = 1;
    t.progress_cb = progress_cb;
    t.progress_payload = u;
    t.file_cb = file_cb;
    t.file_payload = u;
    igtcloud__api_async_options c = IGTCLOUD__API_ASYNC_OPTIONS_INIT;
    c.workers = COMPLETE_WORKERS;
    c.capacity = COMPLETE_QUEUE;
    c.ca_file = u->o.ca_file;
    c.cancel = &u->cancelled;
    c.done_payload = u;
    int rc = igtcloud__api_async_new(&u->completions, u->session, &c);
    if (rc == 0)
        rc = igtcloud_transfer_new(&u->transfer, &t);
    if (rc == 0)
        igtcloud_transfer_on_multipart_created(u->transfer, multipart_created, u);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The journal of multipart uploads                                    */

/*
 * The owner (index into u->owners) whose files a journaled key would be
 * when no file of the run has that key: the folder of the category in one
 * of the run's studies, or the project's files when the run sends project
 * files. *prefix receives the S3 prefix of its credentials and *scope the
 * length of the part before the file's name. -1 when the key belongs to no
 * part of this run (another project, study or category).
 */
static long owner_of_key(const igtcloud_upload *u, const char *key, const char **prefix,
                         size_t *scope)
{
    const char *cat = igtcloud__upload_category_folder(u);
    size_t lc = strlen(cat);
    long project = -1;
    for (size_t i = 0; i < u->nowners; i++) {
        const ustudy *st = u->owners[i];
        if (!st) {
            project = (long)i;
            continue;
        }
        if (!st->remote || st->failed)
            continue;
        const char *p = igtcloud_study_s3_prefix(st->remote);
        size_t lp = strlen(p);
        if (lp && strncmp(key, p, lp) == 0 && strncmp(key + lp, cat, lc) == 0) {
            *prefix = p;
            *scope = lp + lc;
            return (long)i;
        }
    }
    if (project < 0 || !u->project_nfiles || !u->project)
        return -1;
    /* Project files never lie under an institute's (and so a study's) prefix. */
    const char *p = igtcloud_project_s3_prefix(u->project);
    size_t lp = strlen(p);
    if (!lp || strncmp(key, p, lp) != 0)
        return -1;
    for (size_t i = 0; i < u->ninsts; i++) {
        const char *ip = igtcloud_institute_s3_prefix(u->insts[i].inst);
        if (*ip && strncmp(key, ip, strlen(ip)) == 0)
            return -1;
    }
    *prefix = p;
    *scope = lp;
    return project;
}

/* What the files of a run have to say about the journaled keys of their owner. */
typedef struct journal_match {
    json_t *found;      /* key -> [size, mtime seconds, mtime nanoseconds] of its local file */
    igtcloud__buf key;
    const char *scope;  /* the owner's prefix (and category folder) */
} journal_match;

static int match_record(igtcloud_upload *u, const usource *src, const igtcloud__up_record *rec,
                        void *payload)
{
    journal_match *m = payload;
    (void)src;
    igtcloud__buf_clear(&m->key);
    if (igtcloud__buf_printf(&m->key, "%s%s", m->scope, rec->rel))
        return igtcloud__error_oom();
    if (!json_object_get(u->journal.entries, m->key.ptr))
        return 0;
    json_t *v = json_pack("[I, I, I]", (json_int_t)rec->size, (json_int_t)rec->mtime_sec,
                          (json_int_t)rec->mtime_nsec);
    return v && json_object_set_new(m->found, m->key.ptr, v) == 0 ? 0 : igtcloud__error_oom();
}

/*
 * Abort the journaled multipart uploads this run will not resume, so none is
 * left open on the server: the key's local file changed since the upload
 * started (or is small enough now for one PUT), the key is already complete
 * on the server, or the key lies in a study folder (or the project files) of
 * this run that no local file maps to any more. An upload that cannot be
 * aborted now stays journaled, and the file then resumes it instead (parts
 * that no longer match are sent again under the same id), so it is
 * completed rather than left behind. Journaled keys outside this run are
 * left for a run that covers them.
 *
 * The journal holds few keys, the run possibly millions of files: only the
 * owners of journaled keys have their files read back from the list (and
 * their remote index fetched, kept for the send pass).
 */
static int settle_journal(igtcloud_upload *u)
{
    json_t *entries = u->journal.entries, *v;
    journal_match m = { NULL, IGTCLOUD_BUF_INIT, NULL };
    unsigned char *owned = NULL;
    const char *key, *prefix;
    size_t scope;
    void *tmp;
    int rc = 0;
    if (!entries || json_object_size(entries) == 0)
        return 0;
    if (!(m.found = json_object()) || !(owned = calloc(u->nowners ? u->nowners : 1, 1))) {
        rc = igtcloud__error_oom();
        goto done;
    }
    json_object_foreach(entries, key, v) {
        long i = owner_of_key(u, key, &prefix, &scope);
        if (i >= 0)
            owned[i] = 1;
    }
    for (size_t i = 0; rc == 0 && i < u->nowners; i++) {
        if (!owned[i])
            continue;
        ustudy *st = u->owners[i];
        igtcloud__buf s = IGTCLOUD_BUF_INIT;
        if (igtcloud__buf_printf(&s, "%s%s",
                                 st ? igtcloud_study_s3_prefix(st->remote)
                                    : igtcloud_project_s3_prefix(u->project),
                                 st ? igtcloud__upload_category_folder(u) : "")) {
            rc = igtcloud__error_oom();
            break;
        }
        m.scope = s.ptr;
        rc = igtcloud__upload_each_record(u, st, match_record, &m);
        igtcloud__buf_dispose(&s);
    }
    if (rc)
        goto done;
    json_object_foreach_safe(entries, tmp, key, v) {
        if (u->cancelled)
            break;
        long i = owner_of_key(u, key, &prefix, &scope);
        if (i < 0)
            continue;
        json_t *local = json_object_get(m.found, key);
        int abort_it = 1; /* in this run's scope, and no local file maps to it */
        if (local) {
            uint64_t size = (uint64_t)json_integer_value(json_array_get(local, 0));
            igtcloud__spill_map *index = NULL;
            if ((rc = igtcloud__upload_owner_index(u, u->owners[i], &index)))
                break;
            int same = 0;
            igtcloud__up_journal_find(&u->journal, key, size,
                                      (int64_t)json_integer_value(json_array_get(local, 1)),
                                      (long)json_integer_value(json_array_get(local, 2)), &same);
            int complete = igtcloud__upload_remote_complete(index, key + scope, size);
            if (complete < 0) {
                rc = complete;
                break;
            }
            abort_it = complete || !same || size <= multipart_threshold(u);
        }
        if (!abort_it)
            continue;
        char *k = strdup(key), *id = strdup(json_string_value(json_array_get(v, 3)));
        if (!k || !id) {
            free(k);
            free(id);
            rc = igtcloud__error_oom();
            break;
        }
        if (igtcloud_transfer_abort_upload(u->transfer, k, prefix, id) == 0)
            igtcloud__up_journal_ended(&u->journal, k);
        igtcloud_error_clear(); /* not aborted: still journaled, for this run or the next */
        free(k);
        free(id);
    }
done:
    json_decref(m.found);
    igtcloud__buf_dispose(&m.key);
    free(owned);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Feeding the engine                                                  */

/* Hand a registered file to the engine, resuming its journaled multipart upload. */
static int queue_file(igtcloud_upload *u, ufile *f)
{
    const char *resume = NULL;
    if (f->size > multipart_threshold(u)) {
        /*
         * Still journaled after settle_journal: started from this very
         * file, or an upload of an older version that could not be
         * aborted, which is then resumed (the engine keeps only listed
         * parts whose MD5 matches the file now) so it is completed,
         * never left open.
         */
        resume = igtcloud__up_journal_find(&u->journal, f->key, f->size,
                                           (int64_t)f->mtime.tv_sec, (long)f->mtime.tv_nsec,
                                           NULL);
        free(f->journal_id);
        f->journal_id = NULL;
    }
    int rc = igtcloud_transfer_add_upload(u->transfer, f->path, f->key,
                                          igtcloud__upload_file_prefix(u, f), resume, f);
    if (rc == 0)
        u->queued_bytes += f->size;
    return rc;
}

/* Queue the files of answered registrations, in order, at most `max` of them. */
static int queue_answered(igtcloud_upload *u, size_t max, size_t *queued)
{
    while (u->bhead && u->bhead->answered && *queued < max) {
        ubatch *b = u->bhead;
        if (b->status == IGTCLOUD_ECANCELLED)
            return igtcloud__error_set(IGTCLOUD_ECANCELLED, "upload cancelled");
        if (b->status)
            return igtcloud__error_set(b->status, "%s", u->register_message);
        ufile *f = b->head;
        if (f) {
            b->head = f->link;
            f->link = NULL;
            b->n--;
            b->bytes -= f->size;
            u->batch_files--;
            u->batch_bytes -= f->size;
            int rc = queue_file(u, f);
            if (rc)
                return rc;
            (*queued)++;
        }
        if (!b->head) {
            u->bhead = b->next;
            if (!u->bhead)
                u->btail = NULL;
            free(b);
        }
    }
    return 0;
}

/*
 * Queue up to `max` files, planning ahead as far as AHEAD_FILES: waits for
 * a registration only when nothing else can be queued. *queued is 0 on
 * return only when every file is planned and queued.
 */
static int feed_more(igtcloud_upload *u, size_t max, size_t *queued)
{
    *queued = 0;
    for (;;) {
        igtcloud__api_async_harvest(u->completions, 0);
        int rc = queue_answered(u, max, queued);
        while (rc == 0 && u->plan_more && u->batch_files < AHEAD_FILES &&
               u->batches_out < AHEAD_CALLS && !u->cancelled)
            rc = igtcloud__upload_plan_step(u) < 0 ? igtcloud_error_last()->code : 0;
        if (rc)
            return rc;
        if (u->cancelled)
            return igtcloud__error_set(IGTCLOUD_ECANCELLED, "upload cancelled");
        if (*queued > 0 || !u->bhead)
            return 0;
        ubatch *oldest = u->bhead;
        igtcloud__api_async_harvest_until(u->completions, &oldest->answered);
        if (!oldest->answered)
            return igtcloud__error_set(IGTCLOUD_ERROR, "a registration call was not answered");
    }
}

/* The engine's queue runs low: queue the next files (api_async answers come meanwhile). */
static int engine_feed(igtcloud_transfer *t, void *payload)
{
    igtcloud_upload *u = payload;
    size_t queued = 0;
    if (u->feed_rc || u->cancelled)
        return 0;
    int rc = feed_more(u, max_requests(u), &queued);
    if (rc) {
        u->feed_rc = rc;
        snprintf(u->feed_message, sizeof(u->feed_message), "%s", igtcloud_error_last()->message);
        if (rc == IGTCLOUD_ECANCELLED)
            igtcloud_transfer_cancel(t);
        return 0;
    }
    return queued > 0;
}

int igtcloud__upload_send(igtcloud_upload *u)
{
    size_t queued = 0;
    int rc = settle_journal(u);
    if (rc)
        return rc;
    igtcloud__upload_plan_start(u);
    /* Plan until a file is queued: a run with nothing to send never starts the engine. */
    rc = feed_more(u, max_requests(u), &queued);
    if (rc == 0 && queued > 0) {
        igtcloud__transfer_set_feeder(u->transfer, engine_feed, u);
        igtcloud__transfer_set_retire(u->transfer, 1);
        rc = igtcloud_transfer_run(u->transfer);
        igtcloud__transfer_set_feeder(u->transfer, NULL, NULL);
    }
    /* Every call is answered before the session is used again. */
    igtcloud__api_async_harvest(u->completions, 1);
    if (rc == IGTCLOUD_EPARTIAL)
        rc = 0; /* counted per file */
    if (u->feed_rc && (rc == 0 || rc == IGTCLOUD_ECANCELLED))
        rc = igtcloud__error_set(u->feed_rc, "%s", u->feed_message);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The second round: files that changed while they were sent           */

int igtcloud__upload_send_changed(igtcloud_upload *u, int *again)
{
    ufile *todo = NULL, *f, *next;
    int rc = 0;
    *again = 0;
    /* In the order they were called back. */
    for (f = u->changed; f; f = next) {
        next = f->link;
        f->link = todo;
        todo = f;
    }
    u->changed = NULL;
    ufile **tail = &todo;
    for (f = todo; f; f = next) {
        next = f->link;
        struct stat sb;
        if (f->retried || stat(f->path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            *tail = next;
            igtcloud__upload_fail_file(u, f, IGTCLOUD_EIO, "the file changed while it was "
                                                           "uploaded; not marked complete");
            igtcloud__upload_file_release(u, f);
            continue;
        }
        f->retried = 1;
        f->size = (uint64_t)sb.st_size;
        f->mtime = sb.st_mtim;
        f->ino = sb.st_ino;
        f->state = F_QUEUED;
        tail = &f->link;
    }
    if (!todo)
        return 0;
    *again = 1;
    /* The size may differ now: registered again (per owner, in batches) before it is sent. */
    u->register_rc = 0;
    for (size_t i = 0; rc == 0 && i < u->nowners; i++) {
        ubatch *b = NULL;
        for (ufile **p = &todo; rc == 0 && *p;) {
            f = *p;
            if (f->study != u->owners[i]) {
                p = &f->link;
                continue;
            }
            *p = f->link;
            f->link = NULL;
            if (!b && !(b = calloc(1, sizeof(*b)))) {
                igtcloud__upload_file_release(u, f);
                rc = igtcloud__error_oom();
                break;
            }
            igtcloud__upload_batch_add(b, f);
            if (b->n == UPLOAD_REGISTER_BATCH) {
                rc = igtcloud__upload_post_batch(u, b);
                b = NULL;
            }
        }
        if (rc == 0 && b)
            rc = igtcloud__upload_post_batch(u, b);
        else
            free(b);
    }
    igtcloud__api_async_harvest(u->completions, 1);
    if (rc == 0 && u->register_rc)
        rc = igtcloud__error_set(u->register_rc, "%s", u->register_message);
    for (ubatch *b = u->bhead; rc == 0 && b; b = b->next)
        for (f = b->head; rc == 0 && f; f = f->link) {
            /* A journaled upload of its older self is aborted, as settle_journal would. */
            int same = 0;
            const char *id = igtcloud__up_journal_find(&u->journal, f->key, f->size,
                                                       (int64_t)f->mtime.tv_sec,
                                                       (long)f->mtime.tv_nsec, &same);
            if (id && (!same || f->size <= multipart_threshold(u))) {
                char *copy = strdup(id);
                if (copy && igtcloud_transfer_abort_upload(u->transfer, f->key,
                                                           igtcloud__upload_file_prefix(u, f),
                                                           copy) == 0)
                    igtcloud__up_journal_ended(&u->journal, f->key);
                igtcloud_error_clear();
                free(copy);
            }
        }
    size_t queued = 0;
    if (rc == 0)
        rc = queue_answered(u, (size_t)-1, &queued);
    if (rc)
        return rc;
    rc = igtcloud_transfer_run(u->transfer);
    igtcloud__api_async_harvest(u->completions, 1);
    return rc == IGTCLOUD_EPARTIAL ? 0 : rc;
}
