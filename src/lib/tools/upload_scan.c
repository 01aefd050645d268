/*
 * Upload's check pass (phase 2 of a run): walking the roots' folders, the
 * study folders in them and their files, with the local checks that must
 * pass before anything is sent. Each file checked becomes a record of the
 * run's list (upload_list.c), read back by the send pass; here only the
 * studies, the sources of their files and their counts are kept.
 */
#include "core/buf.h"
#include "core/error.h"
#include "core/safepath.h"
#include "tools/upload_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define STUDY_JSON_MAX ((size_t)4 * 1024 * 1024)
#define ANNOTATION_MAX ((size_t)64 * 1024 * 1024)
#define WALK_DEPTH_MAX 64

static int join(igtcloud__buf *out, const char *a, const char *b)
{
    igtcloud__buf_clear(out);
    size_t la = strlen(a);
    return igtcloud__buf_printf(out, "%s%s%s", a, la && a[la - 1] == '/' ? "" : "/", b)
               ? igtcloud__error_oom() : 0;
}

/* ------------------------------------------------------------------ */
/* Phase 2: the local walk and checks                                  */

/* Names in strcmp order (qsort: a folder of 100,000 files sorts in milliseconds). */
static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct walk_dir {
    dev_t dev;
    ino_t ino;
} walk_dir;

int igtcloud__upload_check_file(igtcloud_upload *u, const char *path, const char *rel,
                                const ustudy *st)
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
    return 0;
}

/* A checked file: its record goes to the list, its size to its owner's counts. */
static int add_file(igtcloud_upload *u, const char *path, const char *rel, ustudy *st,
                    const struct stat *sb)
{
    int rc = igtcloud__upload_check_file(u, path, rel, st);
    if (rc == 0)
        rc = igtcloud__up_list_add(&u->list, rel, sb);
    if (rc)
        return rc;
    if (st) {
        st->nfiles++;
        st->bytes += (uint64_t)sb->st_size;
    } else {
        u->project_nfiles++;
        u->project_bytes += (uint64_t)sb->st_size;
    }
    return 0;
}

/* Studies and project files are planned in the order they were first met. */
static int add_owner(igtcloud_upload *u, ustudy *st)
{
    if (u->nowners == u->aowners) {
        size_t n = u->aowners ? 2 * u->aowners : 16;
        ustudy **o = realloc(u->owners, n * sizeof(*o));
        if (!o)
            return igtcloud__error_oom();
        u->owners = o;
        u->aowners = n;
    }
    u->owners[u->nowners++] = st;
    return 0;
}

/*
 * Start a source of files for st (NULL: project files): a folder walked, or
 * (single) one file; its records are those added until end_source.
 */
static int begin_source(igtcloud_upload *u, ustudy *st, const char *dir, int single,
                        size_t *out)
{
    if (!st && u->project_first == NO_SOURCE && add_owner(u, NULL))
        return igtcloud__error_oom();
    if (u->nsources == u->asources) {
        size_t n = u->asources ? 2 * u->asources : 16;
        usource *s = realloc(u->sources, n * sizeof(*s));
        if (!s)
            return igtcloud__error_oom();
        u->sources = s;
        u->asources = n;
    }
    usource *src = &u->sources[u->nsources];
    memset(src, 0, sizeof(*src));
    if (!(src->dir = strdup(dir)))
        return igtcloud__error_oom();
    src->study = st;
    src->single = single;
    src->from = src->to = igtcloud__up_list_tell(&u->list);
    src->next = NO_SOURCE;
    size_t i = u->nsources++;
    size_t *first = st ? &st->first_source : &u->project_first;
    size_t *last = st ? &st->last_source : &u->project_last;
    if (*first == NO_SOURCE)
        *first = i;
    else
        u->sources[*last].next = i;
    *last = i;
    *out = i;
    return 0;
}

static void end_source(igtcloud_upload *u, size_t i)
{
    u->sources[i].to = igtcloud__up_list_tell(&u->list);
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
    if (n > 1)
        qsort(names, n, sizeof(*names), compare_names);
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

/* Walk one folder of st (NULL: project files) as a source of its own. */
static int walk_source(igtcloud_upload *u, const char *dir, ustudy *st, const char *skip_top)
{
    walk_dir chain[WALK_DEPTH_MAX];
    size_t src = NO_SOURCE;
    int rc = begin_source(u, st, dir, 0, &src);
    if (rc == 0)
        rc = walk(u, dir, "", st, chain, 0, skip_top);
    if (src != NO_SOURCE)
        end_source(u, src);
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
    s->first_source = s->last_source = NO_SOURCE;
    if (!s->name || !s->folder || add_owner(u, s)) {
        igtcloud__upload_study_free(s);
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
                igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_IGNORED, dicom.ptr, NULL, st, 0, 0,
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
    rc = only ? walk_source(u, sub.ptr, st, NULL) : walk_source(u, folder, st, "study.json");
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
            igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_IGNORED, p.ptr, NULL, ctx, 0, 0,
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
    if (n > 1)
        qsort(names, n, sizeof(*names), compare_names);
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
    igtcloud__buf p = IGTCLOUD_BUF_INIT;
    int rc = list_subdirs(u, &names, &n, r->path, NULL);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if ((rc = join(&p, r->path, names[i])))
            break;
        if (strcmp(names[i], "files") == 0) {
            /* Project files go with every run that names no single institute. */
            if (!r->institute)
                rc = walk_source(u, p.ptr, NULL, NULL);
            continue;
        }
        uinst *inst = igtcloud__upload_find_inst(u, names[i]);
        if (!inst || (r->institute && strcmp(r->institute, names[i]) != 0)) {
            u->sum.ignored++;
            igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_IGNORED, p.ptr, NULL, NULL, 0, 0,
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

int igtcloud__upload_scan(igtcloud_upload *u)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < u->nroots; i++) {
        const root *r = &u->roots[i];
        uinst *inst = r->institute ? igtcloud__upload_find_inst(u, r->institute) : NULL;
        switch (r->kind) {
        case ROOT_TREE:
            rc = scan_tree(u, r);
            break;
        case ROOT_PROJECT:
            rc = walk_source(u, r->path, NULL, NULL);
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
            size_t src = NO_SOURCE;
            rc = new_study(&st, u, inst, r->name, "");
            if (rc == 0 && stat(r->path, &sb) != 0)
                rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", r->path,
                                         strerror(errno));
            if (rc == 0 && (rc = begin_source(u, st, r->path, 1, &src)) == 0)
                rc = add_file(u, r->path, r->rel, st, &sb);
            if (src != NO_SOURCE)
                end_source(u, src);
            break;
        }
        }
    }
    return rc;
}
