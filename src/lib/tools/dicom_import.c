/*
 * DICOM import (igtcloud_upload_dicom_import in include/igtcloud/upload.h):
 * local scan -> look-ups -> one transfer into Import/<uuid>/ -> update-database.
 */
#include "igtcloud/upload.h"

#include "igtcloud/catalog.h"

#include "api/s3_credentials.h"
#include "api/upload_api.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/random.h"
#include "core/safepath.h"

#include <dirent.h>
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PART10_HEAD 132
#define WALK_DEPTH_MAX 64

typedef struct dfile {
    char *path;
    char *key;
    uint64_t size;
    int done;
} dfile;

typedef struct seen_dir {
    dev_t dev;
    ino_t ino;
} seen_dir;

typedef struct dimport {
    const igtcloud_upload_options *o;
    const char *institute;
    dfile *files;
    size_t nfiles, afiles;
    seen_dir *dirs;          /* the folders on the current walk path (loops) */
    size_t ndirs, adirs;
    igtcloud_dicom_import_summary sum;
} dimport;

static void emit(dimport *im, igtcloud_upload_event_kind kind, const char *path,
                 const char *key, const char *study, uint64_t size, int status,
                 const char *message)
{
    if (!im->o->event_cb)
        return;
    igtcloud_upload_event ev;
    ev.kind = kind;
    ev.path = path ? path : "";
    ev.key = key ? key : "";
    ev.institute = im->institute;
    ev.study = study ? study : "";
    ev.size = size;
    ev.status = status;
    ev.message = message ? message : "";
    im->o->event_cb(&ev, im->o->event_payload);
}

/* 1 when the file starts with the 128-byte preamble and "DICM"; -1 when unreadable. */
static int is_part10(const char *path)
{
    unsigned char head[PART10_HEAD];
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while (got < sizeof(head)) {
        ssize_t n = read(fd, head + got, sizeof(head) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    return got == sizeof(head) && memcmp(head + 128, "DICM", 4) == 0;
}

static int add_file(dimport *im, const char *path, const char *rel, uint64_t size)
{
    if (im->nfiles == im->afiles) {
        size_t n = im->afiles ? im->afiles * 2 : 64;
        dfile *files = realloc(im->files, n * sizeof(*files));
        if (!files)
            return igtcloud__error_oom();
        im->files = files;
        im->afiles = n;
    }
    dfile *f = &im->files[im->nfiles];
    memset(f, 0, sizeof(*f));
    f->path = strdup(path);
    /* The key is made once the prefix is known; keep the relative name until then. */
    f->key = strdup(rel);
    f->size = size;
    if (!f->path || !f->key) {
        free(f->path);
        free(f->key);
        return igtcloud__error_oom();
    }
    im->nfiles++;
    return 0;
}

/* Every regular file below `dir`; `rel` is dir relative to the root ("" at the root). */
static int walk(dimport *im, const char *dir, const char *rel, int depth)
{
    struct stat sb;
    if (depth > WALK_DEPTH_MAX)
        return igtcloud__error_set(IGTCLOUD_EIO, "%s: folders nested deeper than %d", dir,
                                   WALK_DEPTH_MAX);
    if (stat(dir, &sb) != 0)
        return igtcloud__error_set(IGTCLOUD_EIO, "%s: %s", dir, strerror(errno));
    for (size_t i = 0; i < im->ndirs; i++)
        if (im->dirs[i].dev == sb.st_dev && im->dirs[i].ino == sb.st_ino)
            return igtcloud__error_set(IGTCLOUD_EIO, "%s: a symlink loop", dir);
    if (im->ndirs == im->adirs) {
        size_t n = im->adirs ? im->adirs * 2 : 16;
        seen_dir *d = realloc(im->dirs, n * sizeof(*d));
        if (!d)
            return igtcloud__error_oom();
        im->dirs = d;
        im->adirs = n;
    }
    im->dirs[im->ndirs].dev = sb.st_dev;
    im->dirs[im->ndirs++].ino = sb.st_ino;

    igtcloud__buf path = IGTCLOUD_BUF_INIT, sub = IGTCLOUD_BUF_INIT;
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    int rc = n < 0 ? igtcloud__error_set(IGTCLOUD_EIO, "%s: %s", dir, strerror(errno)) : 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        const char *name = names[i]->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        igtcloud__buf_clear(&path);
        igtcloud__buf_clear(&sub);
        if (igtcloud__buf_printf(&path, "%s/%s", dir, name) ||
            igtcloud__buf_printf(&sub, "%s%s%s", rel, *rel ? "/" : "", name)) {
            rc = igtcloud__error_oom();
            break;
        }
        if (stat(path.ptr, &sb) != 0) {
            rc = igtcloud__error_set(IGTCLOUD_EIO, "%s: %s", path.ptr, strerror(errno));
            break;
        }
        if (S_ISDIR(sb.st_mode)) {
            rc = walk(im, path.ptr, sub.ptr, depth + 1);
            continue;
        }
        if (!S_ISREG(sb.st_mode)) {
            emit(im, IGTCLOUD_UPLOAD_EVENT_IGNORED, path.ptr, NULL, NULL, 0, 0,
                 "not a regular file");
            im->sum.files_not_dicom++;
            continue;
        }
        int dicom = is_part10(path.ptr);
        if (dicom < 0) {
            rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", path.ptr,
                                     strerror(errno));
        } else if (!dicom) {
            emit(im, IGTCLOUD_UPLOAD_EVENT_IGNORED, path.ptr, NULL, NULL, (uint64_t)sb.st_size,
                 0, "not a DICOM Part-10 file (no 'DICM' after the 128-byte preamble)");
            im->sum.files_not_dicom++;
        } else {
            rc = add_file(im, path.ptr, sub.ptr, (uint64_t)sb.st_size);
            im->sum.files_found += rc == 0;
        }
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    igtcloud__buf_dispose(&path);
    igtcloud__buf_dispose(&sub);
    im->ndirs--;
    return rc;
}

/* POST update-database and parse its answer (an empty answer is an empty object). */
static int update_database(json_t **out, igtcloud_session *s, const json_t *body)
{
    return igtcloud__api_post_json(out, s, "/api/action/update-database", body,
                                   "update-database");
}

/* A random RFC 4122 version 4 UUID, lower-case. */
static int new_uuid(char out[37])
{
    unsigned char b[16];
    int rc = igtcloud__random_bytes(b, sizeof(b));
    if (rc)
        return rc;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
    return 0;
}

/* Full keys under the import prefix; a local name that is no safe key gets a numbered one. */
static int make_keys(dimport *im, const char *prefix)
{
    igtcloud__buf k = IGTCLOUD_BUF_INIT;
    for (size_t i = 0; i < im->nfiles; i++) {
        dfile *f = &im->files[i];
        igtcloud__buf_clear(&k);
        int bad = igtcloud__safepath_check(f->key) != 0;
        if (bad ? igtcloud__buf_printf(&k, "%sfile-%zu.dcm", prefix, i)
                : igtcloud__buf_printf(&k, "%s%s", prefix, f->key)) {
            igtcloud__buf_dispose(&k);
            return igtcloud__error_oom();
        }
        char *key = igtcloud__buf_detach(&k);
        if (!key)
            return igtcloud__error_oom();
        free(f->key);
        f->key = key;
    }
    return 0;
}

static int file_cb(const igtcloud_transfer_result *r, void *payload)
{
    dimport *im = payload;
    dfile *f = r->payload;
    if (r->status != 0) {
        im->sum.files_failed++;
        emit(im, IGTCLOUD_UPLOAD_EVENT_FILE_FAILED, f->path, f->key, NULL, f->size, r->status,
             r->message);
        return 0;
    }
    f->done = 1;
    im->sum.files_uploaded++;
    im->sum.bytes_uploaded += f->size;
    emit(im, IGTCLOUD_UPLOAD_EVENT_FILE_DONE, f->path, f->key, NULL, f->size, 0, NULL);
    return 0;
}

/* Report what the server says it filed; an answer without "filed" reports nothing. */
static void report_answer(dimport *im, const json_t *answer)
{
    json_t *filed = json_object_get(answer, "filed");
    if (!json_is_integer(filed))
        return;
    im->sum.server_reported = 1;
    im->sum.files_filed = (size_t)json_integer_value(filed);
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(answer, "studies"), i, s) {
        int created = json_is_true(json_object_get(s, "created"));
        json_t *nfiles = json_object_get(s, "files");
        im->sum.studies++;
        im->sum.studies_created += created;
        emit(im, IGTCLOUD_UPLOAD_EVENT_DICOM_STUDY, NULL,
             json_string_value(json_object_get(s, "studyDatabaseId")),
             json_string_value(json_object_get(s, "studyIdHumanReadable")),
             json_is_integer(nfiles) ? (uint64_t)json_integer_value(nfiles) : 0, 0,
             created ? "created" : "existing");
    }
    json_array_foreach(json_object_get(answer, "rejected"), i, s) {
        const char *key = json_string_value(json_object_get(s, "key"));
        const char *path = NULL;
        for (size_t j = 0; key && j < im->nfiles && !path; j++)
            if (strcmp(im->files[j].key, key) == 0)
                path = im->files[j].path;
        im->sum.files_rejected++;
        emit(im, IGTCLOUD_UPLOAD_EVENT_DICOM_REJECTED, path ? path : key, key, NULL, 0,
             IGTCLOUD_EPARTIAL, json_string_value(json_object_get(s, "reason")));
    }
}

int igtcloud_upload_dicom_import(igtcloud_dicom_import_summary *out, igtcloud_session *session,
                                 const char *project, const char *institute,
                                 const char *folder, const igtcloud_upload_options *opts)
{
    igtcloud_upload_options defaults = IGTCLOUD_UPLOAD_OPTIONS_INIT;
    igtcloud_transfer_options t = IGTCLOUD_TRANSFER_OPTIONS_INIT;
    igtcloud_transfer *transfer = NULL;
    dimport im;
    igtcloud_project *proj = NULL;
    igtcloud_institute_list *insts = NULL;
    const igtcloud_institute *inst = NULL;
    json_t *body = NULL, *answer = NULL;
    igtcloud__buf prefix = IGTCLOUD_BUF_INIT;
    char uuid[37];
    int rc = 0;
    memset(&im, 0, sizeof(im));
    im.o = opts ? opts : &defaults;
    im.institute = institute ? institute : "";

    if (!session || !project || !*project || !institute || !*institute || !folder || !*folder) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "a session, a project, an institute and a "
                                                    "folder are needed");
        goto done;
    }
    if (im.o->version != IGTCLOUD_UPLOAD_OPTIONS_VERSION) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "unknown upload options version %u",
                                 im.o->version);
        goto done;
    }
    /* Local problems first: nothing is asked or sent before the folder was read. */
    if ((rc = walk(&im, folder, "", 0)))
        goto done;
    if ((rc = igtcloud_project_find(&proj, session, project)) ||
        (rc = igtcloud_institute_list_fetch(&insts, session, proj, institute)))
        goto done;
    inst = igtcloud_institute_list_at(insts, 0);
    if (!inst || !*igtcloud_institute_id(inst) || !*igtcloud_institute_s3_prefix(inst)) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "institute '%s' has no id or s3Prefix",
                                 institute);
        goto done;
    }
    if ((rc = new_uuid(uuid)))
        goto done;
    snprintf(im.sum.uploaded_path, sizeof(im.sum.uploaded_path), "Import/%s/", uuid);
    /* PROTOCOL.md section 4: institute.s3Prefix + "Import/<uuid>/", never built otherwise. */
    if (igtcloud__buf_printf(&prefix, "%s%s",
                             igtcloud_institute_s3_prefix(inst), im.sum.uploaded_path)) {
        rc = igtcloud__error_oom();
        goto done;
    }
    if ((rc = make_keys(&im, prefix.ptr)))
        goto done;
    if (im.nfiles == 0)
        goto done;
    if (im.o->dry_run) {
        for (size_t i = 0; i < im.nfiles; i++)
            emit(&im, IGTCLOUD_UPLOAD_EVENT_FILE_PLANNED, im.files[i].path, im.files[i].key,
                 NULL, im.files[i].size, 0, NULL);
        im.sum.files_uploaded = im.nfiles;
        goto done;
    }

    unsigned int studies = im.o->concurrent_studies ? im.o->concurrent_studies : 4;
    unsigned int files = im.o->concurrent_files ? im.o->concurrent_files : 4;
    unsigned long n = (unsigned long)studies * files;
    t.max_requests = (unsigned int)(n > 64 ? 64 : n);
    t.credentials_cb = igtcloud__s3_credentials_cb;
    t.credentials_payload = session;
    t.endpoint = im.o->s3_endpoint;
    t.ca_file = im.o->ca_file;
    t.multipart_threshold = im.o->multipart_threshold;
    t.part_size = im.o->part_size;
    t.server_side_encryption = 1;
    t.progress_cb = im.o->progress_cb;
    t.progress_payload = im.o->progress_payload;
    t.file_cb = file_cb;
    t.file_payload = &im;
    if ((rc = igtcloud_transfer_new(&transfer, &t)))
        goto done;
    for (size_t i = 0; i < im.nfiles; i++)
        if ((rc = igtcloud_transfer_add_upload(transfer, im.files[i].path, im.files[i].key,
                                               prefix.ptr, NULL, &im.files[i])))
            goto done;
    rc = igtcloud_transfer_run(transfer);
    if (rc != 0 && rc != IGTCLOUD_EPARTIAL)
        goto done;
    rc = 0;
    /* What arrived is filed; a file that failed is not there to be filed. */
    if (im.sum.files_uploaded == 0) {
        rc = igtcloud__error_set(IGTCLOUD_EPARTIAL, "none of the %zu DICOM file(s) could be "
                                                    "uploaded; nothing was filed", im.nfiles);
        goto done;
    }
    body = json_pack("{s:s, s:s, s:b}", "hospitalId", igtcloud_institute_id(inst),
                     "uploadedPath", im.sum.uploaded_path, "isPrefix", 1);
    if (!body) {
        rc = igtcloud__error_oom();
        goto done;
    }
    if ((rc = update_database(&answer, session, body)))
        goto done;
    report_answer(&im, answer);
    if (im.sum.files_failed || im.sum.files_rejected)
        rc = igtcloud__error_set(IGTCLOUD_EPARTIAL, "%zu file(s) failed to upload, %zu were not "
                                                    "filed by the server",
                                 im.sum.files_failed, im.sum.files_rejected);
done:
    if (out)
        *out = im.sum;
    for (size_t i = 0; i < im.nfiles; i++) {
        free(im.files[i].path);
        free(im.files[i].key);
    }
    free(im.files);
    free(im.dirs);
    igtcloud_transfer_free(transfer);
    igtcloud_institute_list_free(insts);
    igtcloud_project_free(proj);
    json_decref(body);
    json_decref(answer);
    igtcloud__buf_dispose(&prefix);
    return rc;
}
