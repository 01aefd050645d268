/*
 * Download planner (PROTOCOL.md section 5, `download`): institutes ->
 * studies -> file listings -> queued into one transfer engine run for the
 * whole download.
 *
 * The run is fed: the first files to fetch start the engine, and the engine
 * asks for more (engine_feed) whenever few files wait to start, so listing
 * overlaps moving bytes and the pipeline never drains until the end. A
 * study is opened (open_study: its folder claimed, its files listed, its
 * study.json written) and then planned a step at a time (plan_step), across
 * as many of the engine's calls as it takes, so however many files a study
 * has only a few are queued at once; it finishes once its last file is
 * planned and called back.
 *
 * Memory stays bounded however many files there are: the engine frees each
 * finished file once its callback returned (igtcloud__transfer_set_retire),
 * and the file's and its study's bookkeeping here is freed in that callback.
 * The open study's listing waits in a temporary file (download_listing.c),
 * its files' collision claims and the run's study folders are spill maps
 * (about 12 bytes an entry in memory, download_names.c), and the completion
 * manifest is an index of about 12 bytes a line (download_manifest.c), so
 * nothing else here grows with the files of a study or of a run.
 * One run also means one credentials cache and one region memo for every
 * file. Skips are decided here, not by size alone: the completion manifest
 * vouches for files we verified ourselves.
 */
#include "igtcloud/download.h"
#include "igtcloud/transfer.h"
#include "api/catalog_int.h"
#include "api/s3_credentials.h"
#include "auth/session_int.h"
#include "core/error.h"
#include "core/safepath.h"
#include "s3/engine.h"
#include "tools/download_int.h"
#include "tools/layout.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Studies and files not yet finished, in doubly linked lists (freed as they finish). */
typedef struct dl_link {
    struct dl_link *prev, *next;
} dl_link;

typedef struct dl_study {
    dl_link link;                  /* first: a dl_link * is its dl_study * */
    char *folder;                  /* "<institute>/<study folder>" */
    size_t files_total, files_done, files_failed, files_skipped;
    uint64_t bytes_total, bytes_done;
    int planning;                  /* files of it are still to plan: it cannot finish */
    int started;                   /* IGTCLOUD_DOWNLOAD_STUDY_STARTED was emitted */
} dl_study;

typedef struct dl_item {
    dl_link link;                  /* first: a dl_link * is its dl_item * */
    dl_study *study;               /* NULL for project files */
    char *rel;                     /* path relative to TARGET */
    int64_t size;                  /* the API's fileSize */
    int unsized;                   /* queued without a size: re-verify a same-size file */
} dl_item;

/*
 * The study (or the project's files) being planned. Its listing is read back
 * a step at a time (plan_step), so a study stays open across the engine's
 * calls for more files, and only a few of its files are queued at once.
 */
typedef struct dl_open {
    int active;
    dl_study *s;                   /* NULL for project files */
    char *dir;                     /* the folder of its files, relative to TARGET */
    char *prefix;                  /* the S3 prefix of its keys */
    size_t skip;                   /* bytes of dir claimed with the study (igtcloud__dl_claim) */
    int by_category;               /* each category in a subfolder of its own */
} dl_open;

typedef struct dl_run {
    igtcloud_session *session;
    const igtcloud_download_options *o; /* &opts */
    igtcloud_download_options opts;     /* the caller's, whatever their version */
    char *target;
    igtcloud__dl_manifest manifest;
    igtcloud_transfer *t;
    dl_link items;                     /* files queued and not yet called back */
    dl_link studies;                   /* studies with files not yet called back */
    size_t queued;                     /* files handed to the engine in this run */
    igtcloud_download_progress cur;    /* what the callback sees */
    igtcloud_download_summary summary;
    int cancelled;
    struct timespec started;
    /* What is left to plan (plan_next): the institutes of a project, or one
     * institute, then the studies of the institute being planned. */
    const igtcloud_institute_list *institutes;
    size_t next_institute;
    const igtcloud_institute *institute;
    igtcloud__study_spool *feed_studies; /* read back one study at a time */
    const char *feed_inst;
    dl_open open;                      /* the study being planned, if any */
    igtcloud__dl_listing files;        /* ... its files left to plan */
    /* ... and the paths of its files (igtcloud__dl_claim). A study's files
     * all lie in its folder, which no other study shares or nests in
     * (r->claims), so they can only collide with each other, and paths
     * claimed by the studies before never answer for them: the map is kept
     * from one study to the next (a temporary file per study would cost
     * more than listing a small study), and emptied (its file kept)
     * between studies once it holds FILE_CLAIMS_KEPT paths. */
    igtcloud__spill_map file_claims;
    int files_open;                    /* `files` and `file_claims` are open */
    size_t feed_until;                 /* plan_step stops once `queued` reaches it */
    int more;                          /* plan_next may have more */
    int feed_rc;                       /* a fatal error while planning from the engine */
    char feed_msg[512];                /* ... and its message */
    /* The folders this run writes in (relative to TARGET) -> what they are
     * (igtcloud__dl_claim_kind): institutes, the folders on the way to a
     * study, and the study folders, so two studies landing on one folder
     * (or one inside the other) are a collision. The run keeps state per
     * study (about 12 bytes an entry here), none per file. */
    igtcloud__spill_map claims;
    int claims_open;                   /* run_begin opened `claims` */
    int manifest_open;                 /* ... and `manifest` (a zeroed one has fd 0) */
    int fold_case;                     /* TARGET ignores case: "A" and "a" are one path */
    /* Keeping the session alive while the engine moves bytes (engine_progress). */
    igtcloud__session_keeper keeper;
    /* TARGET is full: the run stops after the first file that found it so. */
    int disk_full;
    char disk_msg[640];
} dl_run;

static int open_study(dl_run *r, const char *inst_name, const igtcloud_study *study);
static int plan_step(dl_run *r);
static void open_dispose(dl_run *r);
static int open_institute(dl_run *r, const igtcloud_institute *inst);

/* The bytes of igtcloud_download_options a caller of `version` has; 0: unknown. */
static size_t options_size(unsigned int version)
{
    if (version == 1)
        return offsetof(igtcloud_download_options, s3_endpoint);
    if (version == 2)
        return offsetof(igtcloud_download_options, verify_multipart);
    return version == IGTCLOUD_DOWNLOAD_OPTIONS_VERSION ? sizeof(igtcloud_download_options) : 0;
}

int igtcloud_download_options_init(igtcloud_download_options *opts, unsigned int version)
{
    size_t size = options_size(version);
    if (!opts || !size)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "unknown download options version %u",
                                   version);
    igtcloud_download_options init = IGTCLOUD_DOWNLOAD_OPTIONS_INIT;
    init.version = version;
    memcpy(opts, &init, size);
    return 0;
}

/* ---- events -------------------------------------------------------------- */

static void emit_file(dl_run *r, const char *path, const char *key, int status, int skipped,
                      uint64_t size, const char *message)
{
    if (!r->o->file_cb)
        return;
    igtcloud_download_file_event ev = { path, key ? key : "", status, skipped, size,
                                        message ? message : "" };
    r->o->file_cb(&ev, r->o->file_payload);
}

static void emit_study(dl_run *r, const dl_study *s, igtcloud_download_study_state state)
{
    if (!r->o->study_cb || !s)
        return;
    igtcloud_download_study_event ev = { state, s->folder, s->files_total, s->files_done,
                                         s->files_failed, s->files_skipped, s->bytes_total,
                                         s->bytes_done };
    r->o->study_cb(&ev, r->o->study_payload);
}

static int emit_progress(dl_run *r)
{
    if (r->o->progress_cb && r->o->progress_cb(&r->cur, r->o->progress_payload)) {
        r->cancelled = 1;
        return 1;
    }
    return 0;
}

/* A whole study, institute or file failed before anything was queued. */
static void fail_item(dl_run *r, const char *path, const char *key, int status)
{
    r->summary.files_failed++;
    r->cur.files_failed++;
    emit_file(r, path, key, status, 0, 0, igtcloud_error_last()->message);
}

/* The session is gone or TARGET is unusable: no later study can succeed. */
static int is_fatal(int status)
{
    return status == IGTCLOUD_EAUTH || status == IGTCLOUD_ECANCELLED || status == IGTCLOUD_ENOMEM;
}

/* ---- live bookkeeping ---------------------------------------------------- */

static void link_init(dl_link *head)
{
    head->prev = head->next = head;
}

static void link_add(dl_link *head, dl_link *l)
{
    l->prev = head->prev;
    l->next = head;
    head->prev->next = l;
    head->prev = l;
}

static void link_remove(dl_link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = l;
}

static void study_free(dl_study *s)
{
    link_remove(&s->link);
    free(s->folder);
    free(s);
}

static void item_free(dl_item *it)
{
    link_remove(&it->link);
    free(it->rel);
    free(it);
}

/* Studies and files never called back: the run stopped before they were moved. */
static void free_live(dl_run *r)
{
    if (!r->items.next)
        return; /* the run never began */
    while (r->items.next != &r->items)
        item_free((dl_item *)r->items.next);
    while (r->studies.next != &r->studies)
        study_free((dl_study *)r->studies.next);
}

/* ---- the engine's callbacks ---------------------------------------------- */

static int engine_progress(const igtcloud_transfer_progress *p, void *payload)
{
    dl_run *r = payload;
    /* A large file can outlive the JWT: refresh it while bytes move (session_int.h). */
    igtcloud__session_keep_fresh(&r->keeper, r->session, NULL);
    r->cur.bytes_done = p->bytes_done;
    return emit_progress(r);
}

/* s has every file planned and none in flight (or a dry run planned them): it is done. */
static void finish_study(dl_run *r, dl_study *s)
{
    r->cur.studies_done++;
    emit_study(r, s, IGTCLOUD_DOWNLOAD_STUDY_FINISHED);
    study_free(s);
}

/*
 * One of s's files was called back. Its last one finishes (and frees) s,
 * unless files of s are still to plan: then the study ends when the last of
 * them is planned (open_close) or called back.
 */
static void finish_study_file(dl_run *r, dl_study *s, uint64_t bytes, int failed)
{
    if (!s)
        return;
    s->files_done++;
    s->bytes_done += bytes;
    if (failed)
        s->files_failed++;
    if (!s->planning && s->files_done == s->files_total)
        finish_study(r, s);
    else
        emit_study(r, s, IGTCLOUD_DOWNLOAD_STUDY_PROGRESS);
}

static int file_result(dl_run *r, const igtcloud_transfer_result *res, dl_item *it)
{
    int status = res->status;
    /* After the disk filled up, the cancelled files are not failures of their own. */
    if (r->disk_full && status == IGTCLOUD_ECANCELLED)
        return 1;
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", res->message ? res->message : "");
    if (!status && it->unsized && it->size >= 0 && res->size != (uint64_t)it->size) {
        status = igtcloud__error_set(IGTCLOUD_EPROTO, "%s: %llu bytes on S3, %lld listed",
                                     it->rel, (unsigned long long)res->size, (long long)it->size);
        snprintf(msg, sizeof(msg), "%s", igtcloud_error_last()->message);
    }
    if (!status && r->o->include_modified_date && res->last_modified > 0) {
        struct timespec times[2] = { { 0, UTIME_OMIT }, { (time_t)res->last_modified, 0 } };
        if (utimensat(AT_FDCWD, res->path, times, 0) != 0) {
            status = IGTCLOUD_EIO;
            snprintf(msg, sizeof(msg), "cannot set the time of %s: %s", res->path, strerror(errno));
        }
    }
    if (!status) {
        int mrc = igtcloud__dl_manifest_record(&r->manifest, it->rel, res->path, res->etag);
        if (mrc) {
            status = mrc;
            snprintf(msg, sizeof(msg), "%s", igtcloud_error_last()->message);
        }
    }
    uint64_t bytes = status ? 0 : res->size;
    if (status) {
        r->summary.files_failed++;
        r->cur.files_failed++;
    } else if (res->skipped) {
        r->summary.files_skipped++;
        r->summary.bytes_skipped += bytes;
        r->cur.files_skipped++;
    } else {
        r->summary.files_downloaded++;
        r->summary.bytes_downloaded += bytes;
    }
    r->cur.files_done++;
    emit_file(r, it->rel, res->key, status, res->skipped, bytes, status ? msg : "");
    finish_study_file(r, it->study, bytes, status != 0);
    /* The disk (or quota, or file size limit) is full: every later file would fail so. */
    if (!r->disk_full && status == IGTCLOUD_ENOSPACE) {
        r->disk_full = 1;
        snprintf(r->disk_msg, sizeof(r->disk_msg), "%s", msg);
    }
    return r->cancelled || r->disk_full;
}

/* The engine calls each file back once, and never looks at its payload again. */
static int engine_file(const igtcloud_transfer_result *res, void *payload)
{
    dl_run *r = payload;
    dl_item *it = res->payload;
    int stop = file_result(r, res, it);
    item_free(it);
    return stop;
}

/* ---- the run ------------------------------------------------------------- */

/*
 * Plan a step of what is left: the next files of the open study, else open
 * the next study (r->institutes, r->institute, and the studies of the
 * institute being planned). Returns 1 when it did, 0 when nothing is left,
 * or a fatal error.
 */
static int plan_next(dl_run *r)
{
    if (r->open.active) {
        int rc = plan_step(r);
        return rc ? rc : 1;
    }
    for (;;) {
        igtcloud_study *study = NULL;
        int rc = r->feed_studies ? igtcloud__study_spool_next(&study, r->feed_studies) : 0;
        if (study) {
            rc = open_study(r, r->feed_inst, study);
            igtcloud_study_free(study);
            return rc ? rc : 1;
        }
        if (rc) {
            /* The spool could not be read back: the rest of this institute is lost. */
            if (is_fatal(rc))
                return rc;
            fail_item(r, r->feed_inst, "", rc);
        }
        igtcloud__study_spool_free(r->feed_studies);
        r->feed_studies = NULL;
        const igtcloud_institute *inst = NULL;
        if (r->institutes && r->next_institute < igtcloud_institute_list_count(r->institutes)) {
            inst = igtcloud_institute_list_at(r->institutes, r->next_institute++);
        } else if (r->institute) {
            inst = r->institute;
            r->institute = NULL;
        }
        if (!inst)
            return 0;
        if ((rc = open_institute(r, inst)))
            return rc;
    }
}

/* Requests in flight: the engine asks for files while fewer than that wait to start. */
static size_t max_requests(const dl_run *r)
{
    unsigned int studies = r->o->concurrent_studies ? r->o->concurrent_studies : 4;
    unsigned int files = r->o->concurrent_files ? r->o->concurrent_files : 4;
    return (size_t)studies * files;
}

/*
 * The engine's queue runs low: plan until files are queued (as many as
 * requests may be in flight at most), or nothing is left. Listing a study
 * blocks the loop for its API calls while the requests in flight keep moving.
 */
static int engine_feed(igtcloud_transfer *t, void *payload)
{
    dl_run *r = payload;
    if (!r->more || r->feed_rc || r->cancelled || r->disk_full)
        return 0;
    size_t before = r->queued;
    r->feed_until = before + max_requests(r);
    while (r->queued == before) {
        int rc = plan_next(r);
        if (rc == 1)
            continue;
        r->more = 0;
        if (rc) {
            r->feed_rc = rc;
            snprintf(r->feed_msg, sizeof(r->feed_msg), "%s", igtcloud_error_last()->message);
            if (r->cancelled)
                igtcloud_transfer_cancel(t);
        }
        return 0;
    }
    return 1;
}

static int ensure_transfer(dl_run *r)
{
    if (r->t)
        return 0;
    igtcloud_transfer_options to = IGTCLOUD_TRANSFER_OPTIONS_INIT;
    to.credentials_cb = igtcloud__s3_credentials_cb;
    to.credentials_payload = r->session;
    to.max_requests = (unsigned int)max_requests(r);
    to.ca_file = r->o->ca_file;
    to.endpoint = r->o->s3_endpoint;
    to.verify_multipart = r->o->verify_multipart;
    to.progress_cb = engine_progress;
    to.progress_payload = r;
    to.file_cb = engine_file;
    to.file_payload = r;
    int rc = igtcloud_transfer_new(&r->t, &to);
    if (!rc) {
        igtcloud__transfer_set_feeder(r->t, engine_feed, r);
        igtcloud__transfer_set_retire(r->t, 1);
    }
    return rc;
}

/*
 * Plan until a file is queued (or nothing is left), then move everything in
 * one engine run that plans the rest as it goes (engine_feed).
 */
static int plan_and_run(dl_run *r)
{
    int rc = 0;
    r->feed_until = max_requests(r);
    while (r->more && r->queued == 0 && !r->cancelled) {
        rc = plan_next(r);
        if (rc != 1)
            r->more = 0;
        if (rc < 0)
            return rc;
        rc = 0;
    }
    if (!r->t || r->queued == 0 || r->cancelled)
        return rc;
    rc = igtcloud_transfer_run(r->t);
    if (rc == IGTCLOUD_EPARTIAL)
        rc = 0; /* counted per file */
    if (r->disk_full)
        rc = igtcloud__error_set(IGTCLOUD_ENOSPACE, "stopped: the target is full (%.500s); "
                                 "free space and run again to resume", r->disk_msg);
    else if (rc == IGTCLOUD_ECANCELLED)
        r->cancelled = 1;
    r->cur.bytes_done = r->summary.bytes_downloaded;
    if (r->feed_rc && (!rc || rc == IGTCLOUD_ECANCELLED))
        rc = igtcloud__error_set(r->feed_rc, "%s", r->feed_msg);
    else if (r->cancelled)
        rc = igtcloud__error_set(IGTCLOUD_ECANCELLED, "download cancelled");
    return rc;
}

/*
 * Plan one file: refuse unsafe names, skip what the manifest vouches for,
 * queue the rest. `dir_rel` is the folder relative to TARGET; the file is
 * claimed in `claims` past its first `skip` bytes (igtcloud__dl_claim).
 */
static int plan_file(dl_run *r, dl_study *study, igtcloud__spill_map *claims, size_t skip,
                     const char *dir_rel,
                     const igtcloud_file_info *f, const char *prefix)
{
    igtcloud__buf rel = IGTCLOUD_BUF_INIT, full = IGTCLOUD_BUF_INIT;
    dl_item *it = NULL;
    int rc;
    const char *problem = igtcloud__dl_name_problem(f->name);
    if ((rc = igtcloud__buf_printf(&rel, "%s/%s", dir_rel, f->name)))
        goto done;
    if (problem || (rc = igtcloud__dl_claim(claims, r->fold_case, rel.ptr, skip,
                                            IGTCLOUD__DL_CLAIM_FILE)) == 1) {
        char shown[400], name[200], why[300];
        igtcloud__safepath_show(shown, sizeof(shown), rel.ptr);
        igtcloud__safepath_show(name, sizeof(name), f->name);
        snprintf(why, sizeof(why), "%s%s", problem ? "it " : "",
                 problem ? problem : igtcloud_error_last()->message);
        igtcloud__error_set(IGTCLOUD_EINVALID, "refused the server's file name '%s': %s", name,
                            why);
        fail_item(r, shown, f->key, IGTCLOUD_EINVALID);
        rc = 0;
        goto done;
    }
    if (rc || (rc = igtcloud__safepath_join(&full, r->target, rel.ptr)))
        goto done;
    struct stat st;
    int exists = lstat(full.ptr, &st) == 0;
    if (exists && S_ISREG(st.st_mode) && f->size >= 0 && st.st_size == f->size &&
        igtcloud__dl_manifest_vouches(&r->manifest, rel.ptr, &st)) {
        r->summary.files_skipped++;
        r->summary.bytes_skipped += (uint64_t)f->size;
        r->cur.files_skipped++;
        if (study)
            study->files_skipped++;
        emit_file(r, rel.ptr, f->key, 0, 1, (uint64_t)f->size, "");
        goto done;
    }
    if (exists && !S_ISREG(st.st_mode)) {
        igtcloud__error_set(IGTCLOUD_EIO, "%s exists and is not a regular file", full.ptr);
        fail_item(r, rel.ptr, f->key, IGTCLOUD_EIO);
        goto done;
    }
    uint64_t size = f->size > 0 ? (uint64_t)f->size : 0;
    r->cur.files_total++;
    r->cur.bytes_total += size;
    if (study) {
        study->files_total++;
        study->bytes_total += size;
    }
    if (r->o->dry_run) {
        r->summary.files_downloaded++;
        r->summary.bytes_downloaded += size;
        goto done;
    }
    if ((rc = igtcloud__safepath_mkdirs(r->target, full.ptr))) {
        fail_item(r, rel.ptr, f->key, rc);
        if (study) {
            study->files_total--;
            study->bytes_total -= size;
        }
        rc = 0;
        goto done;
    }
    if ((rc = ensure_transfer(r)))
        goto done;
    it = calloc(1, sizeof(*it));
    if (!it) {
        rc = igtcloud__error_oom();
        goto done;
    }
    it->study = study;
    it->size = f->size;
    /* A same-size file the manifest does not vouch for is fetched again and renamed over. */
    it->unsized = exists && f->size >= 0 && st.st_size == f->size;
    it->rel = igtcloud__buf_detach(&rel);
    link_add(&r->items, &it->link);
    rc = igtcloud_transfer_add_download(r->t, f->key, full.ptr, prefix,
                                        it->unsized ? -1 : f->size, it);
    if (rc)
        item_free(it);
    else
        r->queued++;
done:
    igtcloud__buf_dispose(&rel);
    igtcloud__buf_dispose(&full);
    return rc;
}

/* Write study.json (4-space indent, the API's field order) unless it already says the same. */
static int write_study_json(dl_run *r, const char *dir_rel, const igtcloud_study *study)
{
    igtcloud__buf rel = IGTCLOUD_BUF_INIT, full = IGTCLOUD_BUF_INIT, tmp = IGTCLOUD_BUF_INIT;
    json_t *obj = NULL;
    char *text = NULL, *old = NULL;
    int fd = -1, rc;
    if ((rc = igtcloud__study_parse(&obj, study)))
        goto done;
    text = json_dumps(obj, JSON_INDENT(4) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (!text) {
        rc = igtcloud__error_oom();
        goto done;
    }
    size_t len = strlen(text);
    if ((rc = igtcloud__buf_printf(&rel, "%s/study.json", dir_rel)) ||
        (rc = igtcloud__safepath_join(&full, r->target, rel.ptr)) ||
        (rc = igtcloud__safepath_mkdirs(r->target, full.ptr)) ||
        (rc = igtcloud__buf_printf(&tmp, "%s.igtcloud-part", full.ptr)))
        goto done;
    FILE *f = fopen(full.ptr, "rb");
    if (f) {
        old = malloc(len + 2);
        size_t got = old ? fread(old, 1, len + 1, f) : 0;
        fclose(f);
        if (old && got == len && memcmp(old, text, len) == 0)
            goto done;
    }
    fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot create %s: %s", tmp.ptr, strerror(errno));
        goto done;
    }
    if (write(fd, text, len) != (ssize_t)len || close(fd) != 0) {
        fd = -1;
        unlink(tmp.ptr);
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write %s: %s", tmp.ptr, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp.ptr, full.ptr) != 0) {
        unlink(tmp.ptr);
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot rename %s: %s", tmp.ptr, strerror(errno));
    }
done:
    if (fd >= 0)
        close(fd);
    free(old);
    free(text);
    json_decref(obj);
    igtcloud__buf_dispose(&rel);
    igtcloud__buf_dispose(&full);
    igtcloud__buf_dispose(&tmp);
    return rc;
}

static unsigned int categories_of(const igtcloud_download_options *o)
{
    unsigned int c = o->categories & IGTCLOUD_CATEGORY_ALL_STUDY;
    return c ? c : IGTCLOUD_CATEGORY_FILES;
}

static int several_categories(unsigned int c)
{
    return (c & (c - 1)) != 0;
}

/* ---- the study being planned --------------------------------------------- */

/* Files looked at per step: the most planned between two progress calls (and cancel checks). */
#define PLAN_STEP 256

/* A listed file worth planning goes to the open study's listing. */
static int listed_file(const igtcloud_file_info *f, void *payload)
{
    dl_run *r = payload;
    if (!f->completed || !igtcloud_file_ext_match(r->o->extensions, f))
        return 0;
    return igtcloud__dl_listing_add(&r->files, f);
}

/* List the study's (or project's) files into r->files as the answers are parsed. */
static int list_files(dl_run *r, const igtcloud_study *study, const igtcloud_project *project,
                      unsigned int cats)
{
    if (study)
        return igtcloud__file_walk_study(r->session, study, cats, listed_file, r);
    return igtcloud__file_walk_project(r->session, project, listed_file, r);
}

/* Paths of files kept claimed between studies (see dl_run.file_claims): an index of 256 KiB. */
#define FILE_CLAIMS_KEPT 16384

/* Start r->open over `dir` (taken) and `prefix`, with an empty listing. */
static int open_begin(dl_run *r, char *dir, size_t skip, const char *prefix, int by_category)
{
    dl_open *o = &r->open;
    memset(o, 0, sizeof(*o));
    o->dir = dir;
    o->skip = skip;
    o->by_category = by_category;
    if (r->files_open && igtcloud__spill_map_count(&r->file_claims) >= FILE_CLAIMS_KEPT &&
        igtcloud__spill_map_clear(&r->file_claims))
        igtcloud_error_clear(); /* emptied all the same, in memory */
    if (!r->files_open) {
        igtcloud__dl_listing_open(&r->files);
        igtcloud__spill_map_open(&r->file_claims, NULL);
        r->files_open = 1;
    }
    o->prefix = strdup(prefix);
    return o->dir && o->prefix ? 0 : igtcloud__error_oom();
}

/* Forget r->open and its listing (its study, if any, is left as it is). */
static void open_dispose(dl_run *r)
{
    dl_open *o = &r->open;
    if (r->files_open)
        igtcloud__dl_listing_clear(&r->files);
    free(o->dir);
    free(o->prefix);
    memset(o, 0, sizeof(*o));
}

/* Once files of s are queued (and before any is called back), s has started. */
static void study_started(dl_run *r, dl_study *s)
{
    if (s && !s->started && !r->o->dry_run && s->files_total > 0) {
        s->started = 1;
        emit_study(r, s, IGTCLOUD_DOWNLOAD_STUDY_STARTED);
    }
}

/* The last file of the open study is planned: it finishes now, or with its last file in flight. */
static void open_close(dl_run *r)
{
    dl_study *s = r->open.s;
    open_dispose(r);
    if (!s)
        return;
    s->planning = 0;
    if (s->files_done == s->files_total || r->o->dry_run)
        finish_study(r, s); /* none of its files is in flight */
    else
        study_started(r, s);
}

/*
 * Plan the open study's next files: PLAN_STEP of them at most, and none once
 * `feed_until` files are queued, so what the engine holds stays bounded
 * however many files the study has. Its last file closes it. Returns 0 or a
 * fatal error.
 */
static int plan_step(dl_run *r)
{
    dl_open *o = &r->open;
    int rc = 0;
    for (size_t n = 0; n < PLAN_STEP && r->queued < r->feed_until && !rc; n++) {
        igtcloud_file_info f;
        char sub[2200];
        rc = igtcloud__dl_listing_next(&r->files, &f);
        if (rc == 0) {
            open_close(r);
            break;
        }
        if (rc < 0) {
            /* The listing cannot be read back: the rest of the study is lost. */
            if (is_fatal(rc))
                return rc;
            fail_item(r, o->dir, "", rc);
            open_close(r);
            rc = 0;
            break;
        }
        if (o->by_category)
            snprintf(sub, sizeof(sub), "%s/%s", o->dir, igtcloud_category_name(f.category));
        else
            snprintf(sub, sizeof(sub), "%s", o->dir);
        rc = plan_file(r, o->s, &r->file_claims, o->skip, sub, &f, o->prefix);
    }
    if (rc)
        return rc;
    study_started(r, o->active ? o->s : NULL);
    if (emit_progress(r))
        return igtcloud__error_set(IGTCLOUD_ECANCELLED, "download cancelled");
    return 0;
}

/*
 * Open one study of an institute whose folder name is `inst_name` (already
 * checked): its folder claimed, its files listed, its study.json written.
 * A refused study or a failed listing is reported and nothing is opened;
 * only a fatal error is returned.
 */
static int open_study(dl_run *r, const char *inst_name, const igtcloud_study *study)
{
    char folder[2048];
    igtcloud__buf dir = IGTCLOUD_BUF_INIT, json_rel = IGTCLOUD_BUF_INIT;
    dl_study *s = NULL;
    int rc = 0;
    int64_t date = 0;
    int has_date = igtcloud_study_date(&date, study) == 0;
    if (r->o->start_day || r->o->end_day) {
        if (!has_date || (r->o->start_day && date < r->o->start_day) ||
            (r->o->end_day && date >= r->o->end_day + 86400))
            return 0;
    }
    r->summary.studies++;
    r->cur.studies_total++;
    if (igtcloud_study_folder(folder, sizeof(folder), study, r->o->hierarchical)) {
        char shown[400], why[300];
        snprintf(why, sizeof(why), "%s", igtcloud_error_last()->message);
        igtcloud__error_set(IGTCLOUD_EINVALID, "refused %s", why);
        if ((rc = igtcloud__buf_printf(&dir, "%s/%s", inst_name, igtcloud_study_human_id(study))))
            goto done;
        igtcloud__safepath_show(shown, sizeof(shown), dir.ptr);
        fail_item(r, shown, "", IGTCLOUD_EINVALID);
        goto done;
    }
    unsigned int cats = categories_of(r->o);
    size_t skip;
    if ((rc = igtcloud__buf_printf(&dir, "%s/%s", inst_name, folder)))
        goto done;
    skip = dir.size + 1;
    if ((rc = open_begin(r, igtcloud__buf_detach(&dir), skip, igtcloud_study_s3_prefix(study),
                         several_categories(cats))))
        goto done;
    /* The study's folder and its study.json are this study's alone. */
    rc = igtcloud__dl_claim(&r->claims, r->fold_case, r->open.dir, 0, IGTCLOUD__DL_CLAIM_STUDY);
    if (rc == 0 && !(rc = igtcloud__buf_printf(&json_rel, "%s/study.json", r->open.dir)))
        rc = igtcloud__dl_claim(&r->file_claims, r->fold_case, json_rel.ptr, skip,
                                IGTCLOUD__DL_CLAIM_FILE);
    if (rc == 1) {
        char shown[400], why[300];
        igtcloud__safepath_show(shown, sizeof(shown), r->open.dir);
        snprintf(why, sizeof(why), "%s", igtcloud_error_last()->message);
        igtcloud__error_set(IGTCLOUD_EINVALID, "refused study %s: %s", igtcloud_study_id(study),
                            why);
        fail_item(r, shown, "", IGTCLOUD_EINVALID);
        rc = 0;
        goto done;
    }
    if (rc)
        goto done;
    if ((rc = list_files(r, study, NULL, cats)) ||
        (!r->o->dry_run && (rc = write_study_json(r, r->open.dir, study)))) {
        if (!is_fatal(rc)) {
            fail_item(r, r->open.dir, "", rc);
            rc = 0;
        }
        goto done;
    }
    s = calloc(1, sizeof(*s));
    if (!s || !(s->folder = strdup(r->open.dir))) {
        free(s);
        rc = igtcloud__error_oom();
        goto done;
    }
    s->planning = 1;
    link_add(&r->studies, &s->link);
    r->open.s = s;
    r->open.active = 1;
done:
    if (!r->open.active)
        open_dispose(r);
    igtcloud__buf_dispose(&dir);
    igtcloud__buf_dispose(&json_rel);
    return rc;
}

/*
 * Make `inst` the institute being planned (plan_next): its name checked and
 * its studies listed into a spool, so the run keeps no study in memory but
 * the one being planned. A refused name or a failed listing is reported and
 * planning goes on with the next institute; only a fatal error is returned.
 */
static int open_institute(dl_run *r, const igtcloud_institute *inst)
{
    igtcloud__study_spool *studies = NULL;
    const char *name = igtcloud_institute_name(inst);
    const char *problem = igtcloud__dl_institute_problem(name, r->fold_case);
    if (problem) {
        char shown[200];
        igtcloud__safepath_show(shown, sizeof(shown), name);
        igtcloud__error_set(IGTCLOUD_EINVALID, "refused institute '%s': its name %s", shown,
                            problem);
        fail_item(r, igtcloud_institute_id(inst), "", IGTCLOUD_EINVALID);
        return 0;
    }
    int rc = igtcloud__study_spool_fetch(&studies, r->session, igtcloud_institute_id(inst), 0);
    if (rc) {
        if (is_fatal(rc))
            return rc;
        fail_item(r, name, "", rc);
        return 0;
    }
    r->feed_studies = studies;
    r->feed_inst = name;
    return 0;
}

/* Project files share one folder, files/: they are planned as one study's are, with no study. */
static int open_project_files(dl_run *r, const igtcloud_project *project)
{
    int rc = open_begin(r, strdup("files"), 0, igtcloud_project_s3_prefix(project), 0);
    if (!rc)
        rc = list_files(r, NULL, project, 0);
    if (rc)
        open_dispose(r);
    else
        r->open.active = 1;
    return rc;
}

/* ---- runs ---------------------------------------------------------------- */

/*
 * Whether TARGET's file system takes "A" and "a" for one name (macOS, Windows
 * shares, vfat, ext4 with casefold): then TARGET/.igtcloud, made by the
 * manifest, is also TARGET/.IGTCLOUD.
 */
static int target_ignores_case(const char *target)
{
    igtcloud__buf lower = IGTCLOUD_BUF_INIT, upper = IGTCLOUD_BUF_INIT;
    struct stat a, b;
    int same = 0;
    if (!igtcloud__buf_printf(&lower, "%s/" IGTCLOUD__DL_RESERVED_TOP, target) &&
        !igtcloud__buf_printf(&upper, "%s/.IGTCLOUD", target) && lstat(lower.ptr, &a) == 0 &&
        lstat(upper.ptr, &b) == 0)
        same = a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    igtcloud__buf_dispose(&lower);
    igtcloud__buf_dispose(&upper);
    return same;
}

static int run_begin(dl_run *r, igtcloud_session *session, const char *target,
                     const igtcloud_download_options *opts, const igtcloud_download_options *defaults)
{
    memset(r, 0, sizeof(*r));
    link_init(&r->items);
    link_init(&r->studies);
    clock_gettime(CLOCK_MONOTONIC, &r->started);
    r->session = session;
    const igtcloud_download_options *given = opts ? opts : defaults;
    size_t size = options_size(given->version);
    if (!session || !target || !*target || !size)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "download: missing session, target or options");
    r->opts = *defaults;
    memcpy(&r->opts, given, size); /* a version 1 caller: no s3_endpoint */
    r->o = &r->opts;
    size_t len = strlen(target);
    while (len > 1 && target[len - 1] == '/')
        len--;
    r->target = strndup(target, len);
    if (!r->target)
        return igtcloud__error_oom();
    if (!r->o->dry_run) {
        if (mkdir(r->target, 0755) != 0 && errno != EEXIST)
            return igtcloud__error_set(IGTCLOUD_EIO, "cannot create %s: %s", r->target,
                                       strerror(errno));
    }
    igtcloud__spill_map_open(&r->claims, NULL);
    r->claims_open = 1;
    int rc = igtcloud__dl_manifest_open(&r->manifest, r->target, r->o->dry_run);
    r->manifest_open = 1;
    if (!rc)
        r->fold_case = target_ignores_case(r->target);
    return rc;
}

static int run_end(dl_run *r, igtcloud_download_summary *out, int rc)
{
    igtcloud_transfer_free(r->t);
    r->t = NULL;
    free_live(r);
    open_dispose(r);
    if (r->files_open) {
        igtcloud__dl_listing_close(&r->files);
        igtcloud__spill_map_close(&r->file_claims);
        r->files_open = 0;
    }
    igtcloud__study_spool_free(r->feed_studies);
    r->feed_studies = NULL;
    int mrc = r->manifest_open ? igtcloud__dl_manifest_close(&r->manifest) : 0;
    if (!rc)
        rc = mrc;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    r->summary.seconds = (double)(now.tv_sec - r->started.tv_sec) +
                         (double)(now.tv_nsec - r->started.tv_nsec) / 1e9;
    if (out)
        *out = r->summary;
    if (!rc && r->cancelled)
        rc = igtcloud__error_set(IGTCLOUD_ECANCELLED, "download cancelled");
    if (!rc && r->summary.files_failed > 0)
        rc = igtcloud__error_set(IGTCLOUD_EPARTIAL, "%zu of %zu files failed",
                                 r->summary.files_failed,
                                 r->summary.files_failed + r->summary.files_downloaded +
                                     r->summary.files_skipped);
    free(r->target);
    if (r->claims_open)
        igtcloud__spill_map_close(&r->claims);
    return rc;
}

int igtcloud_download_project(igtcloud_download_summary *out, igtcloud_session *session,
                              const char *target, const igtcloud_project *project,
                              const char *institute_name, const igtcloud_download_options *opts)
{
    igtcloud_download_options defaults = IGTCLOUD_DOWNLOAD_OPTIONS_INIT;
    igtcloud_institute_list *institutes = NULL;
    dl_run r;
    int rc = project ? 0 : igtcloud__error_set(IGTCLOUD_EINVALID, "download: no project");
    if (!rc)
        rc = run_begin(&r, session, target, opts, &defaults);
    else
        memset(&r, 0, sizeof(r));
    if (rc)
        goto done;
    if (r.o->project_files) {
        r.more = 1;
        if (!(rc = open_project_files(&r, project)))
            rc = plan_and_run(&r);
        goto done;
    }
    if ((rc = igtcloud_institute_list_fetch(&institutes, session, project, institute_name)))
        goto done;
    r.institutes = institutes;
    r.more = 1;
    rc = plan_and_run(&r);
done:
    igtcloud_institute_list_free(institutes);
    return run_end(&r, out, rc);
}

int igtcloud_download_institute(igtcloud_download_summary *out, igtcloud_session *session,
                                const char *target, const igtcloud_institute *institute,
                                const igtcloud_download_options *opts)
{
    igtcloud_download_options defaults = IGTCLOUD_DOWNLOAD_OPTIONS_INIT;
    dl_run r;
    int rc = institute ? run_begin(&r, session, target, opts, &defaults)
                       : igtcloud__error_set(IGTCLOUD_EINVALID, "download: no institute");
    if (!institute)
        memset(&r, 0, sizeof(r));
    if (!rc) {
        r.institute = institute;
        r.more = 1;
        rc = plan_and_run(&r);
    }
    return run_end(&r, out, rc);
}

int igtcloud_download_study(igtcloud_download_summary *out, igtcloud_session *session,
                            const char *target, const igtcloud_institute *institute,
                            const igtcloud_study *study, const igtcloud_download_options *opts)
{
    igtcloud_download_options defaults = IGTCLOUD_DOWNLOAD_OPTIONS_INIT;
    dl_run r;
    int rc = institute && study ? run_begin(&r, session, target, opts, &defaults)
                                : igtcloud__error_set(IGTCLOUD_EINVALID, "download: no study");
    if (!institute || !study)
        memset(&r, 0, sizeof(r));
    if (!rc) {
        const char *name = igtcloud_institute_name(institute);
        const char *problem = igtcloud__dl_institute_problem(name, r.fold_case);
        char shown[200];
        igtcloud__safepath_show(shown, sizeof(shown), name);
        if (problem)
            rc = igtcloud__error_set(IGTCLOUD_EINVALID, "refused institute '%s': its name %s",
                                     shown, problem);
        else if (!(rc = open_study(&r, name, study))) {
            r.more = 1;
            rc = plan_and_run(&r);
        }
    }
    return run_end(&r, out, rc);
}
