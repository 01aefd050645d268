/*
 * Upload runs (include/igtcloud/upload.h): the public API, the look-ups, and
 * the run itself: roots -> look-ups -> local checks (upload_scan.c) ->
 * studies (upload_studies.c) -> registration -> one transfer -> completion
 * (upload_transfer.c) -> submit. Also the single calls of upload.h.
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
    json_decref(s->files);
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
    for (size_t i = 0; i < u->nstudies; i++)
        igtcloud__upload_study_free(u->studies[i]);
    free(u->studies);
    for (size_t i = 0; i < u->nfiles; i++) {
        free(u->files[i].path);
        free(u->files[i].rel);
        free(u->files[i].key);
        free(u->files[i].journal_id);
    }
    free(u->files);
    igtcloud__up_journal_close(&u->journal);
    igtcloud_project_free(u->project);
    igtcloud_institute_list_free(u->institutes);
    json_decref(u->project_files);
    igtcloud_transfer_free(u->transfer);
    igtcloud__api_async_free(u->completions);
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

/* Files that changed during their upload: sent once more when stable, else failed. */
static int retry_changed(igtcloud_upload *u, int *again)
{
    *again = 0;
    for (size_t i = 0; i < u->nfiles; i++) {
        ufile *f = &u->files[i];
        if (f->state != F_PLANNED || !f->key)
            continue;
        struct stat sb;
        if (f->retried || stat(f->path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            igtcloud__upload_fail_file(u, f, IGTCLOUD_EIO, "the file changed while it was "
                                                           "uploaded; not marked complete");
            continue;
        }
        f->retried = 1;
        f->size = (uint64_t)sb.st_size;
        f->mtime = sb.st_mtim;
        f->ino = sb.st_ino;
        f->state = F_QUEUED;
        *again = 1;
    }
    return 0;
}

static int dry_run_report(igtcloud_upload *u)
{
    for (size_t i = 0; i < u->nstudies; i++) {
        ustudy *st = u->studies[i];
        if (!st->remote)
            igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_STUDY_CREATED, st->folder, NULL, st,
                                  0, 0, "would be created (dry run)");
    }
    for (size_t i = 0; i < u->nfiles; i++) {
        ufile *f = &u->files[i];
        if (f->state == F_QUEUED || (f->state == F_PLANNED && f->study && !f->study->remote)) {
            u->sum.files_uploaded++;
            u->sum.bytes_uploaded += f->size;
            igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_FILE_PLANNED, f->path, f->key,
                                  f->study, f->size, 0, "would be uploaded (dry run)");
        }
    }
    return 0;
}

int igtcloud_upload_run(igtcloud_upload *u)
{
    if (!u)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no upload run");
    if (u->o.submit && (!u->password || !*u->password))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "submit needs the user's password");
    int rc = lookups(u);
    if (rc == 0)
        rc = igtcloud__upload_scan(u);
    int has_project_files = 0;
    for (size_t i = 0; rc == 0 && i < u->nfiles; i++)
        has_project_files |= u->files[i].study == NULL;
    if (rc == 0 && has_project_files) {
        igtcloud_file_list *list = NULL;
        rc = igtcloud_file_list_fetch_project(&list, u->session, u->project);
        if (rc == 0)
            rc = igtcloud__upload_index_files(&u->project_files, list);
        igtcloud_file_list_free(list);
    }
    if (rc == 0)
        rc = igtcloud__upload_find_studies(u);
    if (rc == 0)
        rc = igtcloud__upload_plan_files(u);
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
    if ((rc = igtcloud__upload_plan_files(u)) || (rc = igtcloud__upload_new_transfer(u)) ||
        (rc = igtcloud__upload_register_all(u)))
        return rc;
    for (int round = 0; round < 2; round++) {
        if ((rc = igtcloud__upload_move(u)))
            break;
        int again = 0;
        retry_changed(u, &again);
        if (!again)
            break;
        /* The size may differ now: register again before sending. */
        if ((rc = igtcloud__upload_register_all(u)))
            break;
    }
    if (rc == IGTCLOUD_ECANCELLED || u->cancelled)
        return igtcloud__error_set(IGTCLOUD_ECANCELLED, "upload cancelled; run it again to "
                                                        "finish (complete files are skipped)");
    if (rc)
        return rc;
    for (size_t i = 0; i < u->nfiles; i++)
        if (u->files[i].state == F_PLANNED || u->files[i].state == F_QUEUED)
            igtcloud__upload_fail_file(u, &u->files[i], IGTCLOUD_ERROR, "not uploaded");
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
