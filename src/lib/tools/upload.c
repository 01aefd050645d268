/*
 * Upload runs (include/igtcloud/upload.h): roots -> look-ups -> local checks
 * -> studies -> registration -> one transfer -> completion -> submit.
 */
#include "igtcloud/upload.h"

#include "igtcloud/catalog.h"
#include "api/api_async.h"
#include "api/s3_credentials.h"
#include "api/catalog_int.h"
#include "api/upload_api.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/safepath.h"
#include "tools/layout.h"
#include "tools/upload_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define STUDY_JSON_MAX ((size_t)4 * 1024 * 1024)
#define ANNOTATION_MAX ((size_t)64 * 1024 * 1024)
#define REGISTER_BATCH 500
#define WALK_DEPTH_MAX 64
/*
 * Completion calls queued beside the transfer: two connections keep up with
 * the sandbox's and the cloud's answer times at 16 transfers in flight, and
 * 64 unreported calls are a few KiB (the engine's loop waits when full).
 */
#define COMPLETE_WORKERS 2
#define COMPLETE_QUEUE 64
/* The engine's default multipart threshold (transfer.h). */
#define MULTIPART_THRESHOLD ((uint64_t)16 * 1024 * 1024)

typedef enum { ROOT_TREE, ROOT_PROJECT, ROOT_INSTITUTE, ROOT_STUDY, ROOT_FILE } root_kind;

typedef struct root {
    root_kind kind;
    char *path;
    char *institute;   /* NULL: every institute (tree) */
    char *name;        /* study name (study, file) */
    char *rel;         /* file name (file) */
} root;

typedef struct uinst {
    const igtcloud_institute *inst;  /* borrowed from the institutes list */
    igtcloud_study_list *studies;    /* fetched when first needed */
} uinst;

typedef struct ustudy {
    uinst *inst;
    char *name;        /* "folder" (flat) or "patient/study" (hierarchical) */
    char *folder;      /* local folder, "" for single files */
    json_t *local;     /* parsed study.json, or NULL */
    igtcloud_study *remote; /* the study found or created, or NULL (to create) */
    json_t *files;     /* sizes of the remote complete files of the category, by fileName */
    int failed;        /* could not be created */
    size_t nfiles, nfailed;
} ustudy;

/* F_COMPLETING: the bytes are stored and the completion call is queued or running. */
enum { F_PLANNED, F_SKIPPED, F_QUEUED, F_COMPLETING, F_DONE, F_FAILED };

typedef struct ufile {
    char *path;
    char *rel;         /* relative to the category folder (or the project prefix) */
    char *key;
    ustudy *study;     /* NULL: project file */
    uint64_t size;
    struct timespec mtime;
    ino_t ino;
    int state;
    int retried;       /* re-sent once after changing during the upload */
    char *journal_id;  /* the upload id journaled for this run, or NULL */
} ufile;

struct igtcloud_upload {
    igtcloud_session *session;
    igtcloud_upload_options o;
    char *project_name;
    char *password;
    root *roots;
    size_t nroots, aroots;
    igtcloud_project *project;
    igtcloud_institute_list *institutes;
    uinst *insts;
    size_t ninsts;
    ustudy **studies;
    size_t nstudies, astudies;
    ufile *files;
    size_t nfiles, afiles;
    json_t *project_files;   /* sizes of complete remote project files by fileName, or NULL */
    igtcloud_transfer *transfer;
    igtcloud__api_async *completions; /* registration and completion calls beside the run */
    int register_rc;         /* the first failed registration of a round, or 0 */
    char register_message[320];
    igtcloud__up_journal journal;
    igtcloud__session_keeper keeper; /* the session kept fresh while bytes move */
    volatile sig_atomic_t cancelled;
    igtcloud_upload_summary sum;
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static void emit(igtcloud_upload *u, igtcloud_upload_event_kind kind, const char *path,
                 const char *key, const ustudy *st, uint64_t size, int status,
                 const char *message)
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

static const char *jstr(const json_t *obj, const char *field)
{
    return json_string_value(json_object_get(obj, field));
}

static int join(igtcloud__buf *out, const char *a, const char *b)
{
    igtcloud__buf_clear(out);
    size_t la = strlen(a);
    return igtcloud__buf_printf(out, "%s%s%s", a, la && a[la - 1] == '/' ? "" : "/", b)
               ? igtcloud__error_oom() : 0;
}

/* ------------------------------------------------------------------ */
/* Options, lifetime, roots                                            */

int igtcloud_upload_options_init(igtcloud_upload_options *opts, unsigned int version)
{
    if (!opts || version != IGTCLOUD_UPLOAD_OPTIONS_VERSION)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "unknown upload options version %u",
                                   version);
    igtcloud_upload_options init = IGTCLOUD_UPLOAD_OPTIONS_INIT;
    *opts = init;
    return 0;
}

int igtcloud_upload_new(igtcloud_upload **out, igtcloud_session *session, const char *project,
                        const igtcloud_upload_options *opts)
{
    if (!out || !session || !project || !*project)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "a session and a project name are needed");
    if (opts && opts->version != IGTCLOUD_UPLOAD_OPTIONS_VERSION)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "unknown upload options version %u",
                                   opts->version);
    if (opts && opts->category != IGTCLOUD_UPLOAD_FILES &&
        opts->category != IGTCLOUD_UPLOAD_ANNOTATIONS)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "unknown upload category %d",
                                   (int)opts->category);
    igtcloud_upload *u = calloc(1, sizeof(*u));
    if (!u)
        return igtcloud__error_oom();
    u->journal.fd = -1;
    igtcloud_upload_options init = IGTCLOUD_UPLOAD_OPTIONS_INIT;
    u->o = opts ? *opts : init;
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

static void ustudy_free(ustudy *s)
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
        igtcloud_study_list_free(u->insts[i].studies);
    free(u->insts);
    for (size_t i = 0; i < u->nstudies; i++)
        ustudy_free(u->studies[i]);
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

static uinst *find_inst(igtcloud_upload *u, const char *name)
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
        if (want && !find_inst(u, want))
            return igtcloud__error_set(IGTCLOUD_ENOTFOUND, "no institute named '%s' in project "
                                                           "'%s' that %s may see",
                                       want, u->project_name, igtcloud_session_user(u->session));
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Phase 2: the local walk and checks                                  */

typedef struct walk_dir {
    dev_t dev;
    ino_t ino;
} walk_dir;

static int add_file(igtcloud_upload *u, const char *path, const char *rel, ustudy *st,
                    const struct stat *sb)
{
    if (igtcloud__safepath_check(rel))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "%s: the name cannot be used as a key "
                                                      "(%s)", path, igtcloud_error_last()->message);
    /* Readable now, or fail before anything is sent. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", path, strerror(errno));
    close(fd);
    if (u->o.category == IGTCLOUD_UPLOAD_ANNOTATIONS && st) {
        size_t len = strlen(rel);
        if (len >= 5 && strcasecmp(rel + len - 5, ".json") == 0) {
            char *text = NULL;
            size_t tlen = 0;
            int rc = igtcloud__upload_read_file(&text, &tlen, path, ANNOTATION_MAX);
            if (rc == 0)
                rc = igtcloud__upload_annotation_check(text, tlen, path);
            free(text);
            if (rc)
                return rc;
        }
    }
    if (u->nfiles == u->afiles) {
        size_t n = u->afiles ? 2 * u->afiles : 64;
        ufile *f = realloc(u->files, n * sizeof(*f));
        if (!f)
            return igtcloud__error_oom();
        u->files = f;
        u->afiles = n;
    }
    ufile *f = &u->files[u->nfiles];
    memset(f, 0, sizeof(*f));
    f->path = strdup(path);
    f->rel = strdup(rel);
    if (!f->path || !f->rel) {
        free(f->path);
        free(f->rel);
        return igtcloud__error_oom();
    }
    f->study = st;
    f->size = (uint64_t)sb->st_size;
    f->mtime = sb->st_mtim;
    f->ino = sb->st_ino;
    u->nfiles++;
    if (st)
        st->nfiles++;
    return 0;
}

/*
 * Walk `dir` and add its regular files with names `prefix` + relative path.
 * Symlinks are followed; a folder that is its own ancestor is a loop.
 * `skip_top` names a top-level entry to leave out (study.json).
 */
static int walk(igtcloud_upload *u, const char *dir, const char *prefix, ustudy *st,
                walk_dir *chain, int depth, const char *skip_top)
{
    int rc = 0;
    DIR *d = NULL;
    igtcloud__buf path = IGTCLOUD_BUF_INIT, rel = IGTCLOUD_BUF_INIT;
    char **names = NULL;
    size_t n = 0, a = 0;
    struct stat sb;
    if (depth >= WALK_DEPTH_MAX)
        return igtcloud__error_set(IGTCLOUD_EIO, "%s: folders nested too deep (symlink loop?)", dir);
    if (stat(dir, &sb) != 0)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", dir, strerror(errno));
    for (int i = 0; i < depth; i++)
        if (chain[i].dev == sb.st_dev && chain[i].ino == sb.st_ino)
            return igtcloud__error_set(IGTCLOUD_EIO, "%s: symlink loop (the folder contains "
                                                     "itself)", dir);
    chain[depth].dev = sb.st_dev;
    chain[depth].ino = sb.st_ino;
    d = opendir(dir);
    if (!d)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", dir, strerror(errno));
    /* Sorted names: the same order every run, so logs and retries compare. */
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (depth == 0 && skip_top && strcmp(e->d_name, skip_top) == 0)
            continue;
        if (n == a) {
            size_t na = a ? 2 * a : 32;
            char **nn = realloc(names, na * sizeof(*nn));
            if (!nn) {
                rc = igtcloud__error_oom();
                goto done;
            }
            names = nn;
            a = na;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = igtcloud__error_oom();
            goto done;
        }
        n++;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if ((rc = join(&path, dir, names[i])))
            break;
        igtcloud__buf_clear(&rel);
        if (igtcloud__buf_printf(&rel, "%s%s", prefix, names[i])) {
            rc = igtcloud__error_oom();
            break;
        }
        if (stat(path.ptr, &sb) != 0) {
            struct stat lsb;
            int dangling = lstat(path.ptr, &lsb) == 0 && S_ISLNK(lsb.st_mode);
            rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", path.ptr,
                                     errno == ELOOP ? "symlink loop"
                                     : dangling     ? "broken symlink"
                                                    : strerror(errno));
        } else if (S_ISDIR(sb.st_mode)) {
            if (igtcloud__buf_putc(&rel, '/'))
                rc = igtcloud__error_oom();
            else
                rc = walk(u, path.ptr, rel.ptr, st, chain, depth + 1, NULL);
        } else if (S_ISREG(sb.st_mode)) {
            rc = add_file(u, path.ptr, rel.ptr, st, &sb);
        } else {
            rc = igtcloud__error_set(IGTCLOUD_EIO, "%s is not a regular file or folder",
                                     path.ptr);
        }
    }
done:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (d)
        closedir(d);
    igtcloud__buf_dispose(&path);
    igtcloud__buf_dispose(&rel);
    return rc;
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int new_study(ustudy **out, igtcloud_upload *u, uinst *inst, const char *name,
                     const char *folder)
{
    /* One target per (institute, name): two roots naming the same study share it. */
    for (size_t i = 0; i < u->nstudies; i++)
        if (u->studies[i]->inst == inst && strcmp(u->studies[i]->name, name) == 0) {
            *out = u->studies[i];
            return 0;
        }
    if (u->nstudies == u->astudies) {
        size_t n = u->astudies ? 2 * u->astudies : 16;
        ustudy **s = realloc(u->studies, n * sizeof(*s));
        if (!s)
            return igtcloud__error_oom();
        u->studies = s;
        u->astudies = n;
    }
    ustudy *s = calloc(1, sizeof(*s));
    if (!s)
        return igtcloud__error_oom();
    s->inst = inst;
    s->name = strdup(name);
    s->folder = strdup(folder);
    if (!s->name || !s->folder) {
        ustudy_free(s);
        return igtcloud__error_oom();
    }
    u->studies[u->nstudies++] = s;
    *out = s;
    return 0;
}

/* One study folder: study.json, then the files/ and dicom/ rule, then its files. */
static int scan_study(igtcloud_upload *u, uinst *inst, const char *folder, const char *name)
{
    igtcloud__buf p = IGTCLOUD_BUF_INIT, sub = IGTCLOUD_BUF_INIT;
    walk_dir chain[WALK_DEPTH_MAX];
    ustudy *st = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = new_study(&st, u, inst, name, folder);
    if (rc == 0)
        rc = join(&p, folder, "study.json");
    if (rc == 0 && access(p.ptr, F_OK) == 0 && !st->local) {
        rc = igtcloud__upload_read_file(&text, &len, p.ptr, STUDY_JSON_MAX);
        if (rc == 0)
            rc = igtcloud__upload_study_check(&st->local, text, len, p.ptr);
    }
    if (rc)
        goto done;
    const char *only = NULL;
    if (u->o.category == IGTCLOUD_UPLOAD_ANNOTATIONS) {
        if ((rc = join(&sub, folder, "annotations")))
            goto done;
        if (is_dir(sub.ptr))
            only = "annotations";
    } else {
        igtcloud__buf dicom = IGTCLOUD_BUF_INIT;
        if ((rc = join(&sub, folder, "files")) == 0 && (rc = join(&dicom, folder, "dicom")) == 0) {
            int has_files = is_dir(sub.ptr), has_dicom = is_dir(dicom.ptr);
            if (has_files || has_dicom)
                only = "files";
            if (has_dicom) {
                u->sum.ignored++;
                emit(u, IGTCLOUD_UPLOAD_EVENT_IGNORED, dicom.ptr, NULL, st, 0, 0,
                     "a study's dicom/ folder is not uploaded (only files/ is)");
            }
            if (has_dicom && !has_files)
                only = "";
        }
        igtcloud__buf_dispose(&dicom);
        if (rc)
            goto done;
    }
    if (only && !*only)
        goto done;
    rc = only ? walk(u, sub.ptr, "", st, chain, 0, NULL)
              : walk(u, folder, "", st, chain, 0, "study.json");
done:
    free(text);
    igtcloud__buf_dispose(&p);
    igtcloud__buf_dispose(&sub);
    return rc;
}

/* The sorted sub-folders of dir; plain files are reported as ignored. */
static int list_subdirs(igtcloud_upload *u, char ***out, size_t *count, const char *dir,
                        const ustudy *ctx)
{
    int rc = 0;
    char **names = NULL;
    size_t n = 0, a = 0;
    igtcloud__buf p = IGTCLOUD_BUF_INIT;
    DIR *d = opendir(dir);
    if (!d)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        if ((rc = join(&p, dir, e->d_name)))
            break;
        if (!is_dir(p.ptr)) {
            u->sum.ignored++;
            emit(u, IGTCLOUD_UPLOAD_EVENT_IGNORED, p.ptr, NULL, ctx, 0, 0,
                 "not a folder; ignored");
            continue;
        }
        if (n == a) {
            size_t na = a ? 2 * a : 16;
            char **nn = realloc(names, na * sizeof(*nn));
            if (!nn) {
                rc = igtcloud__error_oom();
                break;
            }
            names = nn;
            a = na;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = igtcloud__error_oom();
            break;
        }
        n++;
    }
    closedir(d);
    igtcloud__buf_dispose(&p);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    if (rc) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return rc;
    }
    *out = names;
    *count = n;
    return 0;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int scan_institute(igtcloud_upload *u, uinst *inst, const char *folder)
{
    char **names = NULL, **inner = NULL;
    size_t n = 0, ni = 0;
    igtcloud__buf p = IGTCLOUD_BUF_INIT, q = IGTCLOUD_BUF_INIT, name = IGTCLOUD_BUF_INIT;
    int rc = list_subdirs(u, &names, &n, folder, NULL);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if ((rc = join(&p, folder, names[i])))
            break;
        if (!u->o.hierarchical) {
            rc = scan_study(u, inst, p.ptr, names[i]);
            continue;
        }
        if ((rc = list_subdirs(u, &inner, &ni, p.ptr, NULL)))
            break;
        for (size_t j = 0; rc == 0 && j < ni; j++) {
            igtcloud__buf_clear(&name);
            if (igtcloud__buf_printf(&name, "%s/%s", names[i], inner[j]))
                rc = igtcloud__error_oom();
            else if ((rc = join(&q, p.ptr, inner[j])) == 0)
                rc = scan_study(u, inst, q.ptr, name.ptr);
        }
        free_names(inner, ni);
        inner = NULL;
        ni = 0;
    }
    free_names(names, n);
    igtcloud__buf_dispose(&p);
    igtcloud__buf_dispose(&q);
    igtcloud__buf_dispose(&name);
    return rc;
}

static int scan_tree(igtcloud_upload *u, const root *r)
{
    char **names = NULL;
    size_t n = 0;
    walk_dir chain[WALK_DEPTH_MAX];
    igtcloud__buf p = IGTCLOUD_BUF_INIT;
    int rc = list_subdirs(u, &names, &n, r->path, NULL);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if ((rc = join(&p, r->path, names[i])))
            break;
        if (strcmp(names[i], "files") == 0) {
            /* Project files go with every run that names no single institute. */
            if (!r->institute)
                rc = walk(u, p.ptr, "", NULL, chain, 0, NULL);
            continue;
        }
        uinst *inst = find_inst(u, names[i]);
        if (!inst || (r->institute && strcmp(r->institute, names[i]) != 0)) {
            u->sum.ignored++;
            emit(u, IGTCLOUD_UPLOAD_EVENT_IGNORED, p.ptr, NULL, NULL, 0, 0,
                 inst ? "not the institute asked for; ignored"
                      : "no institute of this name in the project; ignored");
            continue;
        }
        rc = scan_institute(u, inst, p.ptr);
    }
    free_names(names, n);
    igtcloud__buf_dispose(&p);
    return rc;
}

static int scan(igtcloud_upload *u)
{
    int rc = 0;
    walk_dir chain[WALK_DEPTH_MAX];
    for (size_t i = 0; rc == 0 && i < u->nroots; i++) {
        const root *r = &u->roots[i];
        uinst *inst = r->institute ? find_inst(u, r->institute) : NULL;
        switch (r->kind) {
        case ROOT_TREE:
            rc = scan_tree(u, r);
            break;
        case ROOT_PROJECT:
            rc = walk(u, r->path, "", NULL, chain, 0, NULL);
            break;
        case ROOT_INSTITUTE:
            rc = scan_institute(u, inst, r->path);
            break;
        case ROOT_STUDY: {
            const char *name = r->name;
            if (!name) {
                name = strrchr(r->path, '/');
                name = name && name[1] ? name + 1 : r->path;
            }
            rc = scan_study(u, inst, r->path, name);
            break;
        }
        case ROOT_FILE: {
            ustudy *st = NULL;
            struct stat sb;
            rc = new_study(&st, u, inst, r->name, "");
            if (rc == 0 && stat(r->path, &sb) != 0)
                rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", r->path,
                                         strerror(errno));
            if (rc == 0)
                rc = add_file(u, r->path, r->rel, st, &sb);
            break;
        }
        }
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Phase 3: studies                                                    */

/* Study types without a patient (PROTOCOL.md section 4; entities.json). */
static int type_has_patient(const char *type)
{
    return strcmp(type, "EpdStudy") != 0 && strcmp(type, "IGuideUStudy") != 0;
}

/* The existing study a folder stands for, or NULL. */
static const igtcloud_study *match_study(const igtcloud_study_list *studies, const json_t *local,
                                         const char *name, int hierarchical)
{
    size_t n = igtcloud_study_list_count(studies);
    const char *id = local ? jstr(local, "studyDatabaseId") : NULL;
    for (size_t i = 0; id && i < n; i++) {
        const igtcloud_study *s = igtcloud_study_list_at(studies, i);
        if (strcmp(igtcloud_study_id(s), id) == 0)
            return s;
    }
    const char *key = local ? igtcloud__layout_study_key(local) : NULL;
    if (key && (!id || strcmp(key, id) != 0)) {
        const igtcloud_study *s = igtcloud_study_list_find_key(studies, key);
        if (s)
            return s;
    }
    if (local && (id || key))
        return NULL;
    /* A folder as download writes it ("patient---study"), then the study key. */
    char folder[1024];
    for (size_t i = 0; i < n; i++) {
        const igtcloud_study *s = igtcloud_study_list_at(studies, i);
        if (igtcloud_study_folder(folder, sizeof(folder), s, hierarchical) == 0 &&
            strcmp(folder, name) == 0)
            return s;
    }
    igtcloud_error_clear();
    return igtcloud_study_list_find_key(studies, name);
}

/* The body of a new study: study.json without server-owned fields, or one from the name. */
static json_t *study_body(const json_t *local, const char *type, const char *name,
                          int hierarchical)
{
    static const char *const server_owned[] = {
        "studyDatabaseId", "instituteId", "hospitalId", "s3Prefix", "patientS3Prefix",
        "studyIdHumanReadable", "electronicRecordState", NULL
    };
    json_t *body;
    if (local) {
        body = json_deep_copy(local);
        for (int i = 0; body && server_owned[i]; i++)
            json_object_del(body, server_owned[i]);
        if (body && !jstr(body, "studyType"))
            json_object_set_new(body, "studyType", json_string(type));
        return body;
    }
    body = json_pack("{s:s}", "studyType", type);
    if (!body)
        return NULL;
    const char *slash = hierarchical ? strchr(name, '/') : NULL;
    char patient[512];
    snprintf(patient, sizeof(patient), "%.*s", slash ? (int)(slash - name) : (int)strlen(name),
             name);
    int rc = 0;
    if (type_has_patient(type)) {
        rc = json_object_set_new(body, "patient", json_pack("{s:s, s:s}", "patientId", patient,
                                                            "patientName", patient));
        if (rc == 0 && slash)
            rc = json_object_set_new(body, "studyId", json_string(slash + 1));
    } else {
        rc = json_object_set_new(body, strcmp(type, "EpdStudy") == 0 ? "name" : "subjectId",
                                 json_string(slash ? slash + 1 : name));
    }
    if (rc) {
        json_decref(body);
        return NULL;
    }
    return body;
}

static int inst_studies(igtcloud_upload *u, uinst *inst)
{
    if (inst->studies)
        return 0;
    return igtcloud_study_list_fetch(&inst->studies, u->session,
                                     igtcloud_institute_id(inst->inst));
}

/* The sizes of the complete files of a listing, by fileName. */
static int index_files(json_t **out, const igtcloud_file_list *list)
{
    json_t *map = json_object();
    if (!map)
        return igtcloud__error_oom();
    for (size_t i = 0; i < igtcloud_file_list_count(list); i++) {
        igtcloud_file_info f;
        if (igtcloud_file_list_at(&f, list, i) == 0 && f.completed && f.size >= 0 &&
            json_object_set_new(map, f.name, json_integer((json_int_t)f.size))) {
            json_decref(map);
            return igtcloud__error_oom();
        }
    }
    *out = map;
    return 0;
}

static int study_files(igtcloud_upload *u, ustudy *st)
{
    igtcloud_file_list *list = NULL;
    unsigned int category = u->o.category == IGTCLOUD_UPLOAD_ANNOTATIONS
                                ? IGTCLOUD_CATEGORY_ANNOTATIONS : IGTCLOUD_CATEGORY_FILES;
    int rc = igtcloud_file_list_fetch_study(&list, u->session, st->remote, category);
    if (rc == 0)
        rc = index_files(&st->files, list);
    igtcloud_file_list_free(list);
    return rc;
}

/* Find every study (read-only); nothing is created here. */
static int find_studies(igtcloud_upload *u)
{
    for (size_t i = 0; i < u->nstudies; i++) {
        ustudy *st = u->studies[i];
        int rc = inst_studies(u, st->inst);
        if (rc)
            return rc;
        const igtcloud_study *found = match_study(st->inst->studies, st->local, st->name,
                                                  u->o.hierarchical);
        if (!found)
            continue;
        if ((rc = igtcloud_study_dup(&st->remote, found)))
            return rc;
        u->sum.studies_found++;
        emit(u, IGTCLOUD_UPLOAD_EVENT_STUDY_FOUND, st->folder, NULL, st, 0, 0,
             igtcloud_study_human_id(found));
        if ((rc = study_files(u, st)))
            return rc;
    }
    return 0;
}

/* POST a study; the created study (with studyDatabaseId and s3Prefix) into *out. */
static int post_study(igtcloud_study **out, igtcloud_session *s, const char *institute_id,
                      const json_t *body)
{
    json_t *made = NULL;
    char *text = NULL;
    int rc = igtcloud__upload_create_study(&made, s, institute_id, body);
    if (rc == 0 && !(text = json_dumps(made, JSON_COMPACT | JSON_PRESERVE_ORDER)))
        rc = igtcloud__error_oom();
    if (rc == 0)
        rc = igtcloud_study_from_json(out, text, strlen(text));
    free(text);
    json_decref(made);
    return rc;
}

static int create_study(igtcloud_upload *u, ustudy *st)
{
    const char *type = igtcloud_institute_study_type(st->inst->inst);
    if (!*type)
        type = igtcloud_project_study_type(u->project);
    json_t *body = study_body(st->local, *type ? type : "Study", st->name, u->o.hierarchical);
    if (!body)
        return igtcloud__error_oom();
    int rc = post_study(&st->remote, u->session, igtcloud_institute_id(st->inst->inst), body);
    json_decref(body);
    if (rc == 0 && !(st->files = json_object()))
        rc = igtcloud__error_oom();
    return rc;
}

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

static void fail_file(igtcloud_upload *u, ufile *f, int status, const char *message)
{
    f->state = F_FAILED;
    u->sum.files_failed++;
    if (f->study)
        f->study->nfailed++;
    emit(u, IGTCLOUD_UPLOAD_EVENT_FILE_FAILED, f->path, f->key, f->study, f->size, status,
         message);
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
 * register_all waits for them.
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
    emit(u, IGTCLOUD_UPLOAD_EVENT_FILE_DONE, f->path, f->key, f->study, f->size, 0, NULL);
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
        fail_file(u, f, r->status, r->message);
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
            fail_file(u, f, rc, igtcloud_error_last()->message);
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
        fail_file(u, f, status, line);
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

static int new_transfer(igtcloud_upload *u)
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
static int move(igtcloud_upload *u)
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

static int submit(igtcloud_upload *u)
{
    for (size_t i = 0; i < u->nstudies; i++) {
        ustudy *st = u->studies[i];
        if (!st->remote || st->failed)
            continue;
        if (st->nfailed) {
            u->sum.studies_failed++;
            emit(u, IGTCLOUD_UPLOAD_EVENT_STUDY_FAILED, st->folder, NULL, st, 0, IGTCLOUD_EPARTIAL,
                 "not submitted: some of its files failed");
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
            emit(u, IGTCLOUD_UPLOAD_EVENT_STUDY_FAILED, st->folder, NULL, st, 0, rc,
                 igtcloud_error_last()->message);
            /* A wrong password is wrong for every study: stop asking the server. */
            if (rc == IGTCLOUD_EPERM || rc == IGTCLOUD_EAUTH)
                return igtcloud__error_set(rc, "submit: %s", igtcloud_error_last()->message);
            continue;
        }
        u->sum.studies_submitted++;
        emit(u, IGTCLOUD_UPLOAD_EVENT_STUDY_SUBMITTED, st->folder, NULL, st, 0, 0, NULL);
    }
    return 0;
}

static int plan_files(igtcloud_upload *u)
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
            emit(u, IGTCLOUD_UPLOAD_EVENT_FILE_SKIPPED, f->path, f->key, f->study, f->size, 0,
                 "already complete with the same size");
            continue;
        }
        f->state = F_QUEUED;
    }
    return rc;
}

/* Register every queued file before any of them is sent. */
static int register_all(igtcloud_upload *u)
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
            fail_file(u, f, IGTCLOUD_EIO, "the file changed while it was uploaded; not marked "
                                          "complete");
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
            emit(u, IGTCLOUD_UPLOAD_EVENT_STUDY_CREATED, st->folder, NULL, st, 0, 0,
                 "would be created (dry run)");
    }
    for (size_t i = 0; i < u->nfiles; i++) {
        ufile *f = &u->files[i];
        if (f->state == F_QUEUED || (f->state == F_PLANNED && f->study && !f->study->remote)) {
            u->sum.files_uploaded++;
            u->sum.bytes_uploaded += f->size;
            emit(u, IGTCLOUD_UPLOAD_EVENT_FILE_PLANNED, f->path, f->key, f->study, f->size, 0,
                 "would be uploaded (dry run)");
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
        rc = scan(u);
    int has_project_files = 0;
    for (size_t i = 0; rc == 0 && i < u->nfiles; i++)
        has_project_files |= u->files[i].study == NULL;
    if (rc == 0 && has_project_files) {
        igtcloud_file_list *list = NULL;
        rc = igtcloud_file_list_fetch_project(&list, u->session, u->project);
        if (rc == 0)
            rc = index_files(&u->project_files, list);
        igtcloud_file_list_free(list);
    }
    if (rc == 0)
        rc = find_studies(u);
    if (rc == 0)
        rc = plan_files(u);
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
        rc = create_study(u, st);
        if (rc == IGTCLOUD_EPERM || rc == IGTCLOUD_EAUTH || rc == IGTCLOUD_ENET ||
            rc == IGTCLOUD_ETIMEOUT)
            return rc;
        if (rc) {
            st->failed = 1;
            u->sum.studies_failed++;
            emit(u, IGTCLOUD_UPLOAD_EVENT_STUDY_FAILED, st->folder, NULL, st, 0, rc,
                 igtcloud_error_last()->message);
            continue;
        }
        u->sum.studies_created++;
        emit(u, IGTCLOUD_UPLOAD_EVENT_STUDY_CREATED, st->folder, NULL, st, 0, 0,
             igtcloud_study_human_id(st->remote));
    }
    if ((rc = plan_files(u)) || (rc = new_transfer(u)) || (rc = register_all(u)))
        return rc;
    for (int round = 0; round < 2; round++) {
        if ((rc = move(u)))
            break;
        int again = 0;
        retry_changed(u, &again);
        if (!again)
            break;
        /* The size may differ now: register again before sending. */
        if ((rc = register_all(u)))
            break;
    }
    if (rc == IGTCLOUD_ECANCELLED || u->cancelled)
        return igtcloud__error_set(IGTCLOUD_ECANCELLED, "upload cancelled; run it again to "
                                                        "finish (complete files are skipped)");
    if (rc)
        return rc;
    for (size_t i = 0; i < u->nfiles; i++)
        if (u->files[i].state == F_PLANNED || u->files[i].state == F_QUEUED)
            fail_file(u, &u->files[i], IGTCLOUD_ERROR, "not uploaded");
    if (u->o.submit && (rc = submit(u)))
        return rc;
    if (u->sum.files_failed || u->sum.studies_failed)
        return igtcloud__error_set(IGTCLOUD_EPARTIAL, "%zu file(s) and %zu study(ies) failed",
                                   u->sum.files_failed, u->sum.studies_failed);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Single calls                                                        */

int igtcloud_upload_study_find_or_create(char **out_json, int *created, igtcloud_session *s,
                                         const char *institute_id, const char *study_type,
                                         const char *name, const char *study_json)
{
    json_t *local = NULL, *body = NULL;
    igtcloud_study_list *studies = NULL;
    igtcloud_study *made = NULL;
    char *text = NULL;
    int rc = 0;
    if (!out_json || !s || !institute_id || !name)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "a session, institute id and name are "
                                                      "needed");
    if (study_json &&
        (rc = igtcloud__upload_study_check(&local, study_json, strlen(study_json), "study.json")))
        return rc;
    int hierarchical = strchr(name, '/') != NULL;
    if ((rc = igtcloud_study_list_fetch(&studies, s, institute_id)))
        goto done;
    const igtcloud_study *found = match_study(studies, local, name, hierarchical);
    if (found) {
        rc = igtcloud_study_dup(&made, found);
    } else {
        body = study_body(local, study_type ? study_type : "Study", name, hierarchical);
        rc = body ? post_study(&made, s, institute_id, body) : igtcloud__error_oom();
    }
    if (rc)
        goto done;
    if (!(text = strdup(igtcloud_study_json(made)))) {
        rc = igtcloud__error_oom();
        goto done;
    }
    *out_json = text;
    if (created)
        *created = found == NULL;
done:
    json_decref(local);
    igtcloud_study_list_free(studies);
    igtcloud_study_free(made);
    json_decref(body);
    return rc;
}

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
