/*
 * Upload's send pass (phase 4 of a run): the files the check pass listed are
 * read back one owner (study, or the project's files) at a time. Each file
 * is looked at again (a file that changed since it was checked is checked
 * again, one that is gone fails alone), gets its key, is skipped when the
 * owner's remote index says it is complete with its size, and is otherwise
 * put in a registration batch; upload_transfer.c queues a batch once its
 * registration answered. The owner's remote index is fetched when its files
 * are planned and freed when they are, so what is held is the owner being
 * planned and the files in flight. A dry run reports each file instead.
 */
#include "api/catalog_int.h"
#include "api/upload_api.h"
#include "core/buf.h"
#include "core/error.h"
#include "tools/upload_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------ */
/* Files of the run                                                    */

ufile *igtcloud__upload_file_new(igtcloud_upload *u, const char *path, const char *rel,
                                 const char *key, ustudy *st)
{
    /* One allocation: the struct, then its path, name and key. */
    size_t lp = strlen(path) + 1, lr = strlen(rel) + 1, lk = strlen(key) + 1;
    ufile *f = calloc(1, sizeof(*f) + lp + lr + lk);
    if (!f)
        return NULL;
    f->path = f->names;
    f->rel = f->path + lp;
    f->key = f->rel + lr;
    memcpy(f->path, path, lp);
    memcpy(f->rel, rel, lr);
    memcpy(f->key, key, lk);
    f->study = st;
    f->next = u->live;
    if (u->live)
        u->live->prev = f;
    u->live = f;
    return f;
}

void igtcloud__upload_file_release(igtcloud_upload *u, ufile *f)
{
    if (!f)
        return;
    if (f->prev)
        f->prev->next = f->next;
    else
        u->live = f->next;
    if (f->next)
        f->next->prev = f->prev;
    free(f->journal_id);
    free(f);
}

const char *igtcloud__upload_category_folder(const igtcloud_upload *u)
{
    return u->o.category == IGTCLOUD_UPLOAD_ANNOTATIONS ? "annotations/" : "files/";
}

const char *igtcloud__upload_file_prefix(const igtcloud_upload *u, const ufile *f)
{
    return f->study ? igtcloud_study_s3_prefix(f->study->remote)
                    : igtcloud_project_s3_prefix(u->project);
}

int igtcloud__upload_key(igtcloud__buf *out, const igtcloud_upload *u, const ustudy *st,
                         const char *rel)
{
    const char *prefix = st ? igtcloud_study_s3_prefix(st->remote)
                            : igtcloud_project_s3_prefix(u->project);
    if (!*prefix)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "%s has no s3Prefix",
                                   st ? "the study" : "the project");
    igtcloud__buf_clear(out);
    if (igtcloud__buf_printf(out, "%s%s%s", prefix,
                             st ? igtcloud__upload_category_folder(u) : "", rel))
        return igtcloud__error_oom();
    return 0;
}

int igtcloud__upload_each_record(igtcloud_upload *u, ustudy *st, igtcloud__upload_record_fn fn,
                                 void *payload)
{
    igtcloud__up_list_reader rd = IGTCLOUD__UP_LIST_READER_INIT;
    int rc = 0;
    for (size_t i = st ? st->first_source : u->project_first; rc == 0 && i != NO_SOURCE;
         i = u->sources[i].next) {
        const usource *src = &u->sources[i];
        igtcloud__up_record rec;
        if ((rc = igtcloud__up_list_read(&rd, &u->list, src->from, src->to)))
            break;
        while (rc == 0 && (rc = igtcloud__up_list_next(&rd, &rec)) == 1)
            rc = fn(u, src, &rec, payload);
    }
    igtcloud__up_list_reader_dispose(&rd);
    return rc < 0 ? rc : 0;
}

/* The local path of a record: the source's folder joined with its name, or the file itself. */
static int record_path(igtcloud__buf *out, const usource *src, const char *rel)
{
    size_t ld = strlen(src->dir);
    igtcloud__buf_clear(out);
    int bad = src->single ? igtcloud__buf_puts(out, src->dir)
                          : igtcloud__buf_printf(out, "%s%s%s", src->dir,
                                                 ld && src->dir[ld - 1] == '/' ? "" : "/", rel);
    return bad ? igtcloud__error_oom() : 0;
}

/* ------------------------------------------------------------------ */
/* Registration batches                                                */

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

/* The answer to a registration (on the run's thread); the first failure is kept. */
static void registered(void *item, int status, const char *message, void *payload)
{
    igtcloud_upload *u = payload;
    ubatch *b = item;
    b->answered = 1;
    b->status = status;
    u->batches_out--;
    if (status && !u->register_rc) {
        u->register_rc = status;
        snprintf(u->register_message, sizeof(u->register_message), "%s", message);
    }
}

void igtcloud__upload_batch_add(ubatch *b, ufile *f)
{
    b->study = f->study;
    if (b->tail)
        b->tail->link = f;
    else
        b->head = f;
    b->tail = f;
    b->n++;
    b->bytes += f->size;
}

int igtcloud__upload_post_batch(igtcloud_upload *u, ubatch *b)
{
    char *owner = owner_path(u, b->study), *body = NULL;
    igtcloud__buf path = IGTCLOUD_BUF_INIT;
    json_t *items = json_array();
    int rc = owner && items ? 0 : igtcloud__error_oom();
    if (rc == 0 && igtcloud__buf_printf(&path, "%s/files", owner))
        rc = igtcloud__error_oom();
    for (const ufile *f = b->head; rc == 0 && f; f = f->link)
        if (json_array_append_new(items, json_pack("{s:s, s:I}", "key", f->key, "fileSize",
                                                   (json_int_t)f->size)))
            rc = igtcloud__error_oom();
    if (rc == 0 && !(body = json_dumps(items, JSON_COMPACT)))
        rc = igtcloud__error_oom();
    if (rc == 0) {
        /* In the queue from now on: answered or not, it is freed with the run. */
        if (u->btail)
            u->btail->next = b;
        else
            u->bhead = b;
        u->btail = b;
        u->batches_out++;
        u->batch_files += b->n;
        u->batch_bytes += b->bytes;
        rc = igtcloud__api_async_post(u->completions, path.ptr, body,
                                      IGTCLOUD__UPLOAD_REGISTER_WHAT, registered, b);
        if (rc) {
            /* Never sent: answered with the failure, so no one waits for it. */
            u->batches_out--;
            b->answered = 1;
            b->status = rc;
        }
    }
    free(body);
    json_decref(items);
    igtcloud__buf_dispose(&path);
    free(owner);
    return rc;
}

void igtcloud__upload_free_batches(igtcloud_upload *u)
{
    free(u->filling);
    u->filling = NULL;
    while (u->bhead) {
        ubatch *b = u->bhead;
        u->bhead = b->next;
        free(b);
    }
    u->btail = NULL;
    u->batches_out = u->batch_files = 0;
    u->batch_bytes = 0;
}

/* Send the registration of the files being collected, if any. */
static int post_filling(igtcloud_upload *u)
{
    ubatch *b = u->filling;
    if (!b)
        return 0;
    u->filling = NULL;
    if (b->n == 0) {
        free(b);
        return 0;
    }
    return igtcloud__upload_post_batch(u, b);
}

/* ------------------------------------------------------------------ */
/* Planning                                                            */

/*
 * A file planned now is looked at again: gone, or no longer a regular file,
 * it fails alone; changed since it was checked (size, modification time or
 * inode), it is checked again and registered and sent as it is now (and,
 * like any file, sent once more if it changes while it is sent). Returns 0
 * when f is to be sent, 1 when it failed (reported), or a negative code for
 * a failure of the run.
 */
static int look_again(igtcloud_upload *u, ufile *f, ustudy *st)
{
    struct stat sb;
    char msg[400];
    int status = 0;
    if (stat(f->path, &sb) != 0) {
        status = IGTCLOUD_EIO;
        if (errno == ENOENT)
            snprintf(msg, sizeof(msg), "removed after the local checks; not uploaded");
        else
            snprintf(msg, sizeof(msg), "cannot be read after the local checks (%s); not uploaded",
                     strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        status = IGTCLOUD_EIO;
        snprintf(msg, sizeof(msg), "no longer a regular file after the local checks; not "
                                   "uploaded");
    } else if ((uint64_t)sb.st_size != f->size || sb.st_mtim.tv_sec != f->mtime.tv_sec ||
               sb.st_mtim.tv_nsec != f->mtime.tv_nsec || sb.st_ino != f->ino) {
        int rc = igtcloud__upload_check_file(u, f->path, f->rel, st);
        if (rc == IGTCLOUD_ENOMEM)
            return rc;
        if (rc) {
            status = rc;
            snprintf(msg, sizeof(msg), "changed after the local checks: %s; not uploaded",
                     igtcloud_error_last()->message);
        }
        f->size = (uint64_t)sb.st_size;
        f->mtime = sb.st_mtim;
        f->ino = sb.st_ino;
    }
    if (!status)
        return 0;
    igtcloud__upload_fail_file(u, f, status, msg);
    return 1;
}

/*
 * Plan one record of st's (NULL: the project's): 1 when a registration batch
 * was sent. The file is described in the run's scratch buffers; only a file
 * to send gets a ufile of its own (skipped and failed ones cost no
 * allocation, so a re-run or a dry run over many files churns no memory).
 */
static int plan_record(igtcloud_upload *u, ustudy *st, const usource *src,
                       const igtcloud__up_record *rec, igtcloud__spill_map *index)
{
    ufile tmp;
    int rc = record_path(&u->plan_path, src, rec->rel);
    if (rc)
        return rc;
    memset(&tmp, 0, sizeof(tmp));
    tmp.path = u->plan_path.ptr;
    tmp.rel = (char *)rec->rel;
    tmp.study = st;
    tmp.size = rec->size;
    tmp.mtime.tv_sec = (time_t)rec->mtime_sec;
    tmp.mtime.tv_nsec = rec->mtime_nsec;
    tmp.ino = (ino_t)rec->ino;
    u->left_files -= u->left_files ? 1 : 0;
    u->left_bytes -= u->left_bytes >= rec->size ? rec->size : u->left_bytes;
    if (!u->o.dry_run && (rc = look_again(u, &tmp, st)))
        return rc < 0 ? rc : 0;
    /* A dry run's study to be created has no prefix yet: its files have no key. */
    if (!st || st->remote) {
        if ((rc = igtcloud__upload_key(&u->plan_key, u, st, tmp.rel)))
            return rc;
        tmp.key = u->plan_key.ptr;
        if ((rc = igtcloud__upload_remote_complete(index, tmp.rel, tmp.size)) < 0)
            return rc;
        if (rc) {
            u->sum.files_skipped++;
            igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_FILE_SKIPPED, tmp.path, tmp.key, st,
                                  tmp.size, 0, "already complete with the same size");
            return 0;
        }
    }
    if (u->o.dry_run) {
        u->sum.files_uploaded++;
        u->sum.bytes_uploaded += tmp.size;
        igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_FILE_PLANNED, tmp.path, tmp.key, st,
                              tmp.size, 0, "would be uploaded (dry run)");
        return 0;
    }
    ufile *f = igtcloud__upload_file_new(u, tmp.path, tmp.rel, tmp.key, st);
    if (!f || (!u->filling && !(u->filling = calloc(1, sizeof(*u->filling))))) {
        igtcloud__upload_file_release(u, f);
        return igtcloud__error_oom();
    }
    f->size = tmp.size;
    f->mtime = tmp.mtime;
    f->ino = tmp.ino;
    f->state = F_QUEUED;
    ubatch *b = u->filling;
    igtcloud__upload_batch_add(b, f);
    if (b->n < UPLOAD_REGISTER_BATCH)
        return 0;
    rc = post_filling(u);
    return rc ? rc : 1;
}

void igtcloud__upload_plan_start(igtcloud_upload *u)
{
    u->plan_owner = 0;
    u->plan_open = u->plan_reading = 0;
    u->plan_source = NO_SOURCE;
    u->plan_more = 1;
    u->left_files = 0;
    u->left_bytes = 0;
    for (size_t i = 0; i < u->nowners; i++) {
        const ustudy *st = u->owners[i];
        if (st && st->failed)
            continue;
        u->left_files += st ? st->nfiles : u->project_nfiles;
        u->left_bytes += st ? st->bytes : u->project_bytes;
    }
}

int igtcloud__upload_plan_step(igtcloud_upload *u)
{
    int rc = 0;
    for (;;) {
        if (u->plan_owner >= u->nowners) {
            u->plan_more = 0;
            return 0;
        }
        ustudy *st = u->owners[u->plan_owner];
        igtcloud__spill_map *index = NULL;
        if (!u->plan_open) {
            /* A study that could not be created fails its files at the end (fail_unsent). */
            if (st && (st->failed || (!st->remote && !u->o.dry_run))) {
                u->plan_owner++;
                continue;
            }
            u->plan_open = 1;
            u->plan_reading = 0;
            u->plan_source = st ? st->first_source : u->project_first;
        }
        if ((rc = igtcloud__upload_owner_index(u, st, &index)))
            return rc;
        if (!u->plan_reading) {
            if (u->plan_source == NO_SOURCE) {
                /* The owner is planned: its last batch goes, its index is no longer needed. */
                rc = post_filling(u);
                igtcloud__upload_index_free(st ? &st->files : &u->project_files);
                u->plan_open = 0;
                u->plan_owner++;
                return rc ? rc : 1;
            }
            const usource *src = &u->sources[u->plan_source];
            if ((rc = igtcloud__up_list_read(&u->plan_rd, &u->list, src->from, src->to)))
                return rc;
            u->plan_reading = 1;
        }
        igtcloud__up_record rec;
        rc = igtcloud__up_list_next(&u->plan_rd, &rec);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            u->plan_reading = 0;
            u->plan_source = u->sources[u->plan_source].next;
            continue;
        }
        rc = plan_record(u, st, &u->sources[u->plan_source], &rec, index);
        if (rc)
            return rc;
    }
}

/* ------------------------------------------------------------------ */
/* Files that cannot be sent                                           */

static int fail_record(igtcloud_upload *u, const usource *src, const igtcloud__up_record *rec,
                       void *payload)
{
    (void)payload;
    ufile tmp;
    int rc = record_path(&u->plan_path, src, rec->rel);
    if (rc)
        return rc;
    memset(&tmp, 0, sizeof(tmp));
    tmp.path = u->plan_path.ptr;
    tmp.rel = (char *)rec->rel;
    tmp.study = src->study;
    tmp.size = rec->size;
    igtcloud__upload_fail_file(u, &tmp, IGTCLOUD_ERROR, "not uploaded");
    return 0;
}

int igtcloud__upload_fail_unsent(igtcloud_upload *u)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < u->nowners; i++) {
        ustudy *st = u->owners[i];
        if (st && st->failed)
            rc = igtcloud__upload_each_record(u, st, fail_record, NULL);
    }
    return rc;
}
