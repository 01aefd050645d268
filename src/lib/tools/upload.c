/*
 * Upload runs (include/igtcloud/upload.h): the public API, the look-ups, and
 * the run itself: roots -> look-ups -> the check pass (upload_scan.c, every
 * file's record into the list) -> studies (upload_studies.c) -> the send
 * pass: each study's files planned from the list and registered
 * (upload_plan.c) as one transfer moves them and completion follows
 * (upload_transfer.c) -> files that changed while sent, once more -> submit.
 * Also the single calls of upload.h.
 */
#include "igtcloud/upload.h"

#include "igtcloud/catalog.h"
#include "api/upload_api.h"
#include "core/error.h"
#include "core/safepath.h"
#include "tools/upload_int.h"

#include <errno.h>
#include <stddef.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

void igtcloud__upload_emit(igtcloud_upload *u, igtcloud_upload_event_kind kind,
                           const char *path, const char *key, const ustudy *st, uint64_t size,
                           int status, const char *message)
{
    if (!u->o.event_cb)
        return;
    igtcloud_upload_event ev;
    ev.kind = kind;
    ev.path = path ? path : "";
    ev.key = key ? key : "";
    ev.institute = st && st->inst ? igtcloud_institute_name(st->inst->inst) : "";
    ev.study = st ? st->name : "";
    ev.size = size;
    ev.status = status;
    ev.message = message ? message : "";
    u->o.event_cb(&ev, u->o.event_payload);
}

static char *dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ------------------------------------------------------------------ */
/* Options, lifetime, roots                                            */

/* Bytes of the options struct a caller of `version` has (version 1 ends before checksum). */
static size_t options_size(unsigned int version)
{
    if (version == 1)
        return offsetof(igtcloud_upload_options, checksum);
    return version == IGTCLOUD_UPLOAD_OPTIONS_VERSION ? sizeof(igtcloud_upload_options) : 0;
}

int igtcloud_upload_options_init(igtcloud_upload_options *opts, unsigned int version)
{
    size_t size = options_size(version);
    if (!opts || !size)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "unknown upload options version %u",
                                   version);
    igtcloud_upload_options init = IGTCLOUD_UPLOAD_OPTIONS_INIT;
    init.version = version;
    memcpy(opts, &init, size);
    return 0;
}

int igtcloud_upload_new(igtcloud_upload **out, igtcloud_session *session, const char *project,
                        const igtcloud_upload_options *opts)
{
    if (!out || !session || !project || !*project)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "a session and a project name are needed");
    if (opts && !options_size(opts->version))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "unknown upload options version %u",
                                   opts->version);
    if (opts && opts->category != IGTCLOUD_UPLOAD_FILES &&
        opts->category != IGTCLOUD_UPLOAD_ANNOTATIONS)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "unknown upload category %d",
                                   (int)opts->category);
    if (opts && opts->version >= 2 && opts->checksum != IGTCLOUD_CHECKSUM_MD5 &&
        opts->checksum != IGTCLOUD_CHECKSUM_CRC32C && opts->checksum != IGTCLOUD_CHECKSUM_SHA256)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "unknown upload checksum %d",
                                   (int)opts->checksum);
    igtcloud_upload *u = calloc(1, sizeof(*u));
    if (!u)
        return igtcloud__error_oom();
    u->journal.fd = -1;
    u->list.fd = -1;
    u->project_first = u->project_last = NO_SOURCE;
    igtcloud_upload_options init = IGTCLOUD_UPLOAD_OPTIONS_INIT;
    u->o = init;
    if (opts)
        memcpy(&u->o, opts, options_size(opts->version));
    if (opts && opts->version == 1)
        u->o.checksum = IGTCLOUD_CHECKSUM_MD5; /* what version 1 always sent */
    u->session = session;
    u->project_name = strdup(project);
    u->password = dupstr(u->o.submit_password);
    u->o.submit_password = NULL;
    u->o.ca_file = NULL;
    u->o.s3_endpoint = NULL;
    char *ca = opts ? dupstr(opts->ca_file) : NULL;
    char *ep = opts ? dupstr(opts->s3_endpoint) : NULL;
    u->o.ca_file = ca;
    u->o.s3_endpoint = ep;
    if (!u->project_name || (opts && opts->submit_password && !u->password) ||
        (opts && opts->ca_file && !ca) || (opts && opts->s3_endpoint && !ep)) {
        igtcloud_upload_free(u);
        return igtcloud__error_oom();
    }
    *out = u;
    return 0;
}

void igtcloud__upload_study_free(ustudy *s)
{
    if (!s)
        return;
    free(s->name);
    free(s->folder);
    json_decref(s->local);
    igtcloud_study_free(s->remote);
    igtcloud__upload_index_free(&s->files);
    free(s);
}

void igtcloud_upload_free(igtcloud_upload *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->nroots; i++) {
        free(u->roots[i].path);
        free(u->roots[i].institute);
        free(u->roots[i].name);
        free(u->roots[i].rel);
    }
    free(u->roots);
    for (size_t i = 0; i < u->ninsts; i++)
        igtcloud__study_spool_free(u->insts[i].studies);
    free(u->insts);
    /* No callback reports a file after these: what a run cut short left is freed below. */
    igtcloud_transfer_free(u->transfer);
    igtcloud__api_async_free(u->completions);
    igtcloud__upload_free_batches(u);
    while (u->live)
        igtcloud__upload_file_release(u, u->live);
    for (size_t i = 0; i < u->nstudies; i++)
        igtcloud__upload_study_free(u->studies[i]);
    free(u->studies);
    free(u->owners);
    for (size_t i = 0; i < u->nsources; i++)
        free(u->sources[i].dir);
    free(u->sources);
    igtcloud__up_list_reader_dispose(&u->plan_rd);
    igtcloud__buf_dispose(&u->plan_path);
    igtcloud__buf_dispose(&u->plan_key);
    igtcloud__up_list_close(&u->list);
    igtcloud__up_journal_close(&u->journal);
    igtcloud_project_free(u->project);
    igtcloud_institute_list_free(u->institutes);
    igtcloud__upload_index_free(&u->project_files);
    if (u->password) {
        OPENSSL_cleanse(u->password, strlen(u->password));
        free(u->password);
    }
    free((char *)u->o.ca_file);
    free((char *)u->o.s3_endpoint);
    free(u->project_name);
    free(u);
}

static int add_root(igtcloud_upload *u, root_kind kind, const char *path, const char *institute,
                    const char *name, const char *rel)
{
    if (!u || !path || !*path)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "a local path is needed");
    struct stat st;
    if (stat(path, &st) != 0)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", path, strerror(errno));
    if (kind == ROOT_FILE ? !S_ISREG(st.st_mode) : !S_ISDIR(st.st_mode))
        return igtcloud__error_set(IGTCLOUD_EIO, "%s is not a %s", path,
                                   kind == ROOT_FILE ? "regular file" : "folder");
    if (rel && igtcloud__safepath_check(rel))
        return igtcloud_error_last()->code;
    if (u->nroots == u->aroots) {
        size_t n = u->aroots ? 2 * u->aroots : 8;
        root *r = realloc(u->roots, n * sizeof(*r));
        if (!r)
            return igtcloud__error_oom();
        u->roots = r;
        u->aroots = n;
    }
    root *r = &u->roots[u->nroots];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->path = strdup(path);
    r->institute = institute && strcmp(institute, "*") != 0 ? strdup(institute) : NULL;
    r->name = dupstr(name);
    r->rel = dupstr(rel);
    if (!r->path || (institute && strcmp(institute, "*") != 0 && !r->institute) ||
        (name && !r->name) || (rel && !r->rel)) {
        free(r->path);
        free(r->institute);
        free(r->name);
        free(r->rel);
        return igtcloud__error_oom();
    }
    u->nroots++;
    return 0;
}

int igtcloud_upload_add_tree(igtcloud_upload *u, const char *local, const char *institute)
{
    return add_root(u, ROOT_TREE, local, institute, NULL, NULL);
}

int igtcloud_upload_add_project_files(igtcloud_upload *u, const char *folder)
{
    return add_root(u, ROOT_PROJECT, folder, NULL, NULL, NULL);
}

int igtcloud_upload_add_institute(igtcloud_upload *u, const char *folder, const char *institute)
{
    if (!institute || !*institute)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "an institute name is needed");
    return add_root(u, ROOT_INSTITUTE, folder, institute, NULL, NULL);
}

int igtcloud_upload_add_study(igtcloud_upload *u, const char *folder, const char *institute,
                              const char *name)
{
    if (!institute || !*institute)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "an institute name is needed");
    return add_root(u, ROOT_STUDY, folder, institute, name, NULL);
}

int igtcloud_upload_add_file(igtcloud_upload *u, const char *path, const char *institute,
                             const char *study, const char *name)
{
    if (!institute || !*institute || !study || !*study || !name || !*name)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "an institute, a study and a name are "
                                                      "needed");
    return add_root(u, ROOT_FILE, path, institute, study, name);
}

void igtcloud_upload_cancel(igtcloud_upload *u)
{
    if (!u)
        return;
    u->cancelled = 1;
    if (u->transfer)
        igtcloud_transfer_cancel(u->transfer);
}

void igtcloud_upload_summary_get(igtcloud_upload_summary *out, const igtcloud_upload *u)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (u)
        *out = u->sum;
}

/* ------------------------------------------------------------------ */
/* Phase 1: look-ups                                                   */

uinst *igtcloud__upload_find_inst(igtcloud_upload *u, const char *name)
{
    for (size_t i = 0; i < u->ninsts; i++)
        if (strcmp(igtcloud_institute_name(u->insts[i].inst), name) == 0)
            return &u->insts[i];
    return NULL;
}

static int lookups(igtcloud_upload *u)
{
    int rc = igtcloud_project_find(&u->project, u->session, u->project_name);
    if (rc == IGTCLOUD_ENOTFOUND)
        return igtcloud__error_set(rc, "no project named '%s' that %s may see (check the "
                                       "name, or ask for access to it)",
                                   u->project_name, igtcloud_session_user(u->session));
    if (rc == 0 && !*igtcloud_project_id(u->project))
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "project '%s' has no id", u->project_name);
    if (rc == 0)
        rc = igtcloud_institute_list_fetch(&u->institutes, u->session, u->project, NULL);
    if (rc)
        return rc;
    size_t n = igtcloud_institute_list_count(u->institutes);
    u->insts = calloc(n ? n : 1, sizeof(*u->insts));
    if (!u->insts)
        return igtcloud__error_oom();
    for (size_t i = 0; i < n; i++) {
        const igtcloud_institute *inst = igtcloud_institute_list_at(u->institutes, i);
        if (!*igtcloud_institute_name(inst))
            continue;
        u->insts[u->ninsts++].inst = inst;
    }
    /* Every institute named by a root must exist. */
    for (size_t i = 0; i < u->nroots; i++) {
        const char *want = u->roots[i].institute;
        if (want && !igtcloud__upload_find_inst(u, want))
            return igtcloud__error_set(IGTCLOUD_ENOTFOUND, "no institute named '%s' in project "
                                                           "'%s' that %s may see",
                                       want, u->project_name, igtcloud_session_user(u->session));
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The run                                                             */

static int submit(igtcloud_upload *u)
{
    for (size_t i = 0; i < u->nstudies; i++) {
        ustudy *st = u->studies[i];
        if (!st->remote || st->failed)
            continue;
        if (st->nfailed) {
            u->sum.studies_failed++;
            igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_STUDY_FAILED, st->folder, NULL, st, 0,
                                  IGTCLOUD_EPARTIAL, "not submitted: some of its files failed");
            continue;
        }
        int rc = igtcloud__upload_set_record_state(u->session,
                                                   igtcloud_institute_id(st->inst->inst),
                                                   igtcloud_study_id(st->remote),
                                                   u->password);
        if (rc == IGTCLOUD_ENET || rc == IGTCLOUD_ETIMEOUT || rc == IGTCLOUD_ECANCELLED)
            return rc;
        if (rc) {
            u->sum.studies_failed++;
            igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_STUDY_FAILED, st->folder, NULL, st, 0,
                                  rc, igtcloud_error_last()->message);
            /* A wrong password is wrong for every study: stop asking the server. */
            if (rc == IGTCLOUD_EPERM || rc == IGTCLOUD_EAUTH)
                return igtcloud__error_set(rc, "submit: %s", igtcloud_error_last()->message);
            continue;
        }
        u->sum.studies_submitted++;
        igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_STUDY_SUBMITTED, st->folder, NULL, st, 0,
                              0, NULL);
    }
    return 0;
}

/*
 * A dry run: the studies that would be created, then each file that would
 * be sent (or is skipped), planned from the list as a real run would.
 */
static int dry_run_report(igtcloud_upload *u)
{
    for (size_t i = 0; i < u->nstudies; i++) {
        ustudy *st = u->studies[i];
        if (!st->remote)
            igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_STUDY_CREATED, st->folder, NULL, st,
                                  0, 0, "would be created (dry run)");
    }
    int rc;
    igtcloud__upload_plan_start(u);
    while ((rc = igtcloud__upload_plan_step(u)) == 1 && !u->cancelled)
        ;
    return rc < 0 ? rc : 0;
}

/*
 * The list of the files checked lives beside the journal (the state folder
 * is made for a real run, which journals anyway; a dry run uses it only if
 * it exists), else in $TMPDIR or /tmp.
 */
static void open_list(igtcloud_upload *u)
{
    igtcloud__buf dir = IGTCLOUD_BUF_INIT;
    int rc = igtcloud__up_state_dir(&dir, !u->o.dry_run);
    igtcloud_error_clear();
    igtcloud__up_list_close(&u->list);
    igtcloud__up_list_open(&u->list, rc == 0 ? dir.ptr : NULL);
    igtcloud__buf_dispose(&dir);
}

int igtcloud_upload_run(igtcloud_upload *u)
{
    if (!u)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no upload run");
    if (u->o.submit && (!u->password || !*u->password))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "submit needs the user's password");
    int rc = lookups(u);
    if (rc == 0) {
        open_list(u);
        rc = igtcloud__upload_scan(u);
    }
    /*
     * The project's files are listed before anything is written, as a user
     * not allowed to write them is told so before any study is created; the
     * index is kept until they are planned. A study's files are listed
     * when they are planned.
     */
    igtcloud__spill_map *project_index = NULL;
    if (rc == 0 && u->project_nfiles > 0)
        rc = igtcloud__upload_owner_index(u, NULL, &project_index);
    if (rc == 0)
        rc = igtcloud__upload_find_studies(u);
    if (rc || u->o.dry_run) {
        if (rc == 0)
            rc = dry_run_report(u);
        return rc;
    }
    if (u->cancelled)
        return igtcloud__error_set(IGTCLOUD_ECANCELLED, "upload cancelled");

    /* Writes start here: every local check has passed. Without a journal uploads still run. */
    if (igtcloud__up_journal_open(&u->journal))
        igtcloud_error_clear();
    for (size_t i = 0; i < u->nstudies; i++) {
        ustudy *st = u->studies[i];
        if (st->remote || (st->nfiles == 0 && !st->local))
            continue;
        rc = igtcloud__upload_study_create(u, st);
        if (rc == IGTCLOUD_EPERM || rc == IGTCLOUD_EAUTH || rc == IGTCLOUD_ENET ||
            rc == IGTCLOUD_ETIMEOUT)
            return rc;
        if (rc) {
            st->failed = 1;
            u->sum.studies_failed++;
            igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_STUDY_FAILED, st->folder, NULL, st, 0,
                                  rc, igtcloud_error_last()->message);
            continue;
        }
        u->sum.studies_created++;
        igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_STUDY_CREATED, st->folder, NULL, st, 0, 0,
                              igtcloud_study_human_id(st->remote));
    }
    if ((rc = igtcloud__upload_new_transfer(u)) == 0)
        rc = igtcloud__upload_send(u);
    /* Files that changed while they were sent: once more, then (changed again) failed. */
    for (int again = 1; rc == 0 && again && !u->cancelled;)
        rc = igtcloud__upload_send_changed(u, &again);
    if (rc == IGTCLOUD_ECANCELLED || u->cancelled)
        return igtcloud__error_set(IGTCLOUD_ECANCELLED, "upload cancelled; run it again to "
                                                        "finish (complete files are skipped)");
    if (rc)
        return rc;
    if ((rc = igtcloud__upload_fail_unsent(u)))
        return rc;
    if (u->o.submit && (rc = submit(u)))
        return rc;
    if (u->sum.files_failed || u->sum.studies_failed)
        return igtcloud__error_set(IGTCLOUD_EPARTIAL, "%zu file(s) and %zu study(ies) failed",
                                   u->sum.files_failed, u->sum.studies_failed);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Single calls                                                        */

int igtcloud_upload_register_file(igtcloud_session *s, const char *institute_id,
                                  const char *study_id, const char *key, uint64_t size)
{
    if (!s || !institute_id || !study_id || !key)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "a session, ids and a key are needed");
    char *path = igtcloud__upload_study_path(institute_id, study_id);
    json_t *items = json_pack("[{s:s, s:I}]", "key", key, "fileSize", (json_int_t)size);
    int rc = path && items ? igtcloud__upload_register(s, path, items) : igtcloud__error_oom();
    json_decref(items);
    free(path);
    return rc;
}

int igtcloud_upload_complete_file(igtcloud_session *s, const char *institute_id,
                                  const char *study_id, const char *uploaded_path)
{
    if (!s || !institute_id || !study_id || !uploaded_path)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "a session, ids and a path are needed");
    return igtcloud__upload_completed(s, institute_id, study_id, uploaded_path);
}

int igtcloud_upload_submit_study(igtcloud_session *s, const char *institute_id,
                                 const char *study_id, const char *password)
{
    if (!s || !institute_id || !study_id || !password)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "a session, ids and a password are "
                                                      "needed");
    return igtcloud__upload_set_record_state(s, institute_id, study_id, password);
}
