/*
 * Upload's transfer (phase 4 of a run): S3 keys and skips, registration,
 * the transfer engine and its callbacks, the completion calls beside it, and
 * settling the journal of multipart uploads before the bytes move.
 */
#include "api/catalog_int.h"
#include "api/s3_credentials.h"
#include "api/upload_api.h"
#include "core/buf.h"
#include "core/error.h"
#include "tools/upload_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REGISTER_BATCH 500
/*
 * Completion calls queued beside the transfer: two connections keep up with
 * the sandbox's and the cloud's answer times at 16 transfers in flight, and
 * 64 unreported calls are a few KiB (the engine's loop waits when full).
 */
#define COMPLETE_WORKERS 2
#define COMPLETE_QUEUE 64
/* The engine's default multipart threshold (transfer.h). */
#define MULTIPART_THRESHOLD ((uint64_t)16 * 1024 * 1024)

/* ------------------------------------------------------------------ */
/* Phase 4: keys, skips, registration, transfer, completion            */

static const char *category_folder(const igtcloud_upload *u)
{
    return u->o.category == IGTCLOUD_UPLOAD_ANNOTATIONS ? "annotations/" : "files/";
}

static int make_key(igtcloud_upload *u, ufile *f)
{
    igtcloud__buf k = IGTCLOUD_BUF_INIT;
    const char *prefix = f->study ? igtcloud_study_s3_prefix(f->study->remote)
                                  : igtcloud_project_s3_prefix(u->project);
    if (!*prefix)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "%s has no s3Prefix",
                                   f->study ? "the study" : "the project");
    if (igtcloud__buf_printf(&k, "%s%s%s", prefix, f->study ? category_folder(u) : "", f->rel))
        return igtcloud__error_oom();
    free(f->key);
    f->key = igtcloud__buf_detach(&k);
    return 0;
}

/* Already complete on the server with the same size? */
static int remote_complete(const json_t *files, const ufile *f)
{
    json_t *size = json_object_get(files, f->rel);
    return json_is_integer(size) && (uint64_t)json_integer_value(size) == f->size;
}

int igtcloud__upload_plan_files(igtcloud_upload *u)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < u->nfiles; i++) {
        ufile *f = &u->files[i];
        if (f->state != F_PLANNED)
            continue;
        if (f->study && (f->study->failed || !f->study->remote))
            continue;
        if ((rc = make_key(u, f)))
            break;
        if (remote_complete(f->study ? f->study->files : u->project_files, f)) {
            f->state = F_SKIPPED;
            u->sum.files_skipped++;
            igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_FILE_SKIPPED, f->path, f->key,
                                  f->study, f->size, 0, "already complete with the same size");
            continue;
        }
        f->state = F_QUEUED;
    }
    return rc;
}

static char *owner_path(igtcloud_upload *u, const ustudy *st)
{
    if (st)
        return igtcloud__upload_study_path(igtcloud_institute_id(st->inst->inst),
                                           igtcloud_study_id(st->remote));
    igtcloud__buf p = IGTCLOUD_BUF_INIT;
    if (igtcloud__buf_puts(&p, "/api/data/projects/") ||
        igtcloud__catalog_put_segment(&p, igtcloud_project_id(u->project))) {
        igtcloud__buf_dispose(&p);
        return NULL;
    }
    return igtcloud__buf_detach(&p);
}

void igtcloud__upload_fail_file(igtcloud_upload *u, ufile *f, int status, const char *message)
{
    f->state = F_FAILED;
    u->sum.files_failed++;
    if (f->study)
        f->study->nfailed++;
    igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_FILE_FAILED, f->path, f->key, f->study,
                          f->size, status, message);
}

/* The answer to a registration (on the run's thread); the first failure is kept. */
static void registered(void *item, int status, const char *message, void *payload)
{
    igtcloud_upload *u = payload;
    (void)item;
    if (status && !u->register_rc) {
        u->register_rc = status;
        snprintf(u->register_message, sizeof(u->register_message), "%s", message);
    }
}

/*
 * Queue the registration of the queued files of one owner (st NULL: the
 * project), in batches; the calls of all owners run side by side and
 * igtcloud__upload_register_all waits for them.
 */
static int register_owner(igtcloud_upload *u, const ustudy *st)
{
    char *owner = owner_path(u, st);
    igtcloud__buf path = IGTCLOUD_BUF_INIT;
    json_t *items = json_array();
    int rc = owner && items ? 0 : igtcloud__error_oom();
    if (rc == 0 && igtcloud__buf_printf(&path, "%s/files", owner))
        rc = igtcloud__error_oom();
    for (size_t i = 0; rc == 0 && i <= u->nfiles; i++) {
        int flush = i == u->nfiles || json_array_size(items) == REGISTER_BATCH;
        if (flush && json_array_size(items) > 0) {
            char *body = json_dumps(items, JSON_COMPACT);
            rc = body ? igtcloud__api_async_post(u->completions, path.ptr, body,
                                                 IGTCLOUD__UPLOAD_REGISTER_WHAT, registered, NULL)
                      : igtcloud__error_oom();
            free(body);
            json_array_clear(items);
        }
        if (rc || i == u->nfiles)
            break;
        ufile *f = &u->files[i];
        if (f->study != st || f->state != F_QUEUED)
            continue;
        if (json_array_append_new(items, json_pack("{s:s, s:I}", "key", f->key, "fileSize",
                                                   (json_int_t)f->size)))
            rc = igtcloud__error_oom();
    }
    json_decref(items);
    igtcloud__buf_dispose(&path);
    free(owner);
    return rc;
}

/* Register every queued file before any of them is sent. */
int igtcloud__upload_register_all(igtcloud_upload *u)
{
    u->register_rc = 0;
    int rc = register_owner(u, NULL);
    for (size_t i = 0; rc == 0 && i < u->nstudies; i++)
        rc = register_owner(u, u->studies[i]);
    igtcloud__api_async_harvest(u->completions, 1);
    if (rc == 0 && u->register_rc)
        rc = igtcloud__error_set(u->register_rc, "%s", u->register_message);
    return rc;
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

static int progress_cb(const igtcloud_transfer_progress *p, void *payload)
{
    igtcloud_upload *u = payload;
    /* A large file can outlive the JWT; the completion workers share the session. */
    igtcloud__api_async_keep_fresh(u->completions, &u->keeper);
    igtcloud__api_async_harvest(u->completions, 0);
    return u->o.progress_cb ? u->o.progress_cb(p, u->o.progress_payload) : 0;
}

static void file_completed(void *item, int status, const char *message, void *payload);

static void file_done(igtcloud_upload *u, ufile *f)
{
    f->state = F_DONE;
    u->sum.files_uploaded++;
    u->sum.bytes_uploaded += f->size;
    igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_FILE_DONE, f->path, f->key, f->study,
                          f->size, 0, NULL);
}

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
        return 0;
    }
    /* A file that changed while it was read may have been sent torn: never complete it. */
    struct stat sb;
    if (stat(f->path, &sb) != 0 || (uint64_t)sb.st_size != f->size || sb.st_ino != f->ino ||
        sb.st_mtim.tv_sec != f->mtime.tv_sec || sb.st_mtim.tv_nsec != f->mtime.tv_nsec) {
        f->state = F_PLANNED; /* decided after the run: sent again once, or failed */
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
            f->state = F_QUEUED; /* stored but not complete: the next run sends it again */
        } else if (rc) {
            igtcloud__upload_fail_file(u, f, rc, igtcloud_error_last()->message);
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
        f->state = F_QUEUED; /* stored but not complete: the next run sends it again */
        return;
    }
    if (status) {
        char line[400];
        snprintf(line, sizeof(line), "uploaded but not marked complete (%s)", message);
        igtcloud__upload_fail_file(u, f, status, line);
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

int igtcloud__upload_new_transfer(igtcloud_upload *u)
{
    igtcloud_transfer_options t = IGTCLOUD_TRANSFER_OPTIONS_INIT;
    unsigned int studies = u->o.concurrent_studies ? u->o.concurrent_studies : 4;
    unsigned int files = u->o.concurrent_files ? u->o.concurrent_files : 4;
    unsigned long n = (unsigned long)studies * files;
    t.max_requests = (unsigned int)(n > 64 ? 64 : n);
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

static const char *file_prefix(const igtcloud_upload *u, const ufile *f)
{
    return f->study ? igtcloud_study_s3_prefix(f->study->remote)
                    : igtcloud_project_s3_prefix(u->project);
}

/*
 * The S3 prefix of this run that `key` lies under when no file of the run
 * has that key: the folder of the category in one of the run's studies, or
 * the project's files when the run sends project files. NULL when the key
 * belongs to no part of this run (another project, study or category).
 */
static const char *run_scope(const igtcloud_upload *u, const char *key, int project_files)
{
    const char *cat = category_folder(u);
    size_t lc = strlen(cat);
    for (size_t i = 0; i < u->nstudies; i++) {
        const ustudy *st = u->studies[i];
        if (!st->remote || st->failed)
            continue;
        const char *p = igtcloud_study_s3_prefix(st->remote);
        size_t lp = strlen(p);
        if (lp && strncmp(key, p, lp) == 0 && strncmp(key + lp, cat, lc) == 0)
            return p;
    }
    if (!project_files || !u->project)
        return NULL;
    /* Project files never lie under an institute's (and so a study's) prefix. */
    const char *p = igtcloud_project_s3_prefix(u->project);
    size_t lp = strlen(p);
    if (!lp || strncmp(key, p, lp) != 0)
        return NULL;
    for (size_t i = 0; i < u->ninsts; i++) {
        const char *ip = igtcloud_institute_s3_prefix(u->insts[i].inst);
        if (*ip && strncmp(key, ip, strlen(ip)) == 0)
            return NULL;
    }
    return p;
}

/*
 * Abort the journaled multipart uploads this run will not resume, so none is
 * left open on the server: the key's local file changed since the upload
 * started (or is small enough now for one PUT), the key is already complete
 * on the server, or the key lies in a study folder (or the project files) of
 * this run that no local file maps to any more. An upload that cannot be
 * aborted now stays journaled, and a queued file then resumes it instead
 * (parts that no longer match are sent again under the same id), so it is
 * completed rather than left behind. Journaled keys outside this run are
 * left for a run that covers them.
 */
static int settle_journal(igtcloud_upload *u)
{
    json_t *entries = u->journal.entries, *bykey = NULL, *v;
    const char *key;
    void *tmp;
    int rc = 0, project_files = 0;
    if (!entries || json_object_size(entries) == 0)
        return 0;
    if (!(bykey = json_object()))
        return igtcloud__error_oom();
    for (size_t i = 0; i < u->nfiles; i++) {
        const ufile *f = &u->files[i];
        project_files |= f->study == NULL;
        if (f->key && json_object_set_new(bykey, f->key, json_integer((json_int_t)i))) {
            json_decref(bykey);
            return igtcloud__error_oom();
        }
    }
    json_object_foreach_safe(entries, tmp, key, v) {
        if (u->cancelled)
            break;
        json_t *at = json_object_get(bykey, key);
        ufile *f = at ? &u->files[json_integer_value(at)] : NULL;
        const char *prefix = NULL;
        if (f && f->state == F_SKIPPED) {
            prefix = file_prefix(u, f);
        } else if (f && f->state == F_QUEUED) {
            int same = 0;
            igtcloud__up_journal_find(&u->journal, key, f->size, (int64_t)f->mtime.tv_sec,
                                      (long)f->mtime.tv_nsec, &same);
            if (!same || f->size <= multipart_threshold(u))
                prefix = file_prefix(u, f);
        } else if (!f) {
            prefix = run_scope(u, key, project_files);
        }
        if (!prefix)
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
    json_decref(bykey);
    return rc;
}

/* Queue every F_QUEUED file and move them. */
int igtcloud__upload_move(igtcloud_upload *u)
{
    size_t queued = 0;
    int rc = settle_journal(u);
    if (rc)
        return rc;
    for (size_t i = 0; i < u->nfiles; i++) {
        ufile *f = &u->files[i];
        if (f->state != F_QUEUED)
            continue;
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
        rc = igtcloud_transfer_add_upload(u->transfer, f->path, f->key, file_prefix(u, f),
                                          resume, f);
        if (rc)
            return rc;
        queued++;
    }
    if (!queued)
        return 0;
    rc = igtcloud_transfer_run(u->transfer);
    /* Every completion call is answered before the session is used again. */
    igtcloud__api_async_harvest(u->completions, 1);
    return rc == IGTCLOUD_EPARTIAL ? 0 : rc;
}
