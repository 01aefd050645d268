/* copy_file_range(2) */
#define _GNU_SOURCE
#include "s3.h"
#include "s3_errors.h"
#include "store.h"
#include "core/hash.h"
#include "core/random.h"
#include "s3/sigv4.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * Multipart uploads: state in the s3_uploads / s3_parts tables, bytes in
 * DATA_DIR/multipart/<uploadId>/. Clients cut objects into parts of one size
 * (the last one shorter), so the first part of at least the minimum size
 * sets the upload's stride and every part that fits is written straight to
 * offset (n - 1) * stride of the upload's assembly file "data": completing
 * such an upload truncates that file and renames it into place, copying
 * nothing. Parts that do not fit (other sizes, re-uploads of a part, which
 * must not overwrite the bytes a failed attempt would leave behind) go to
 * their own file, and completion then concatenates in the kernel
 * (copy_file_range).
 */

#define UPLOAD_ID_LEN 40

typedef struct upload_row {
    char key[SANDBOX_S3_KEY_MAX + 1];
    char content_type[256];
    char sse[32];
    long long initiated;
    unsigned long long stride;      /* 0 until a part sets it */
    int sealed;                     /* completing in place: no more parts placed */
    int crc32c;                     /* created with x-amz-checksum-algorithm CRC32C */
    int full_object;                /* ... and x-amz-checksum-type FULL_OBJECT */
} upload_row;

typedef struct part_row {
    int number;
    unsigned long long size;
    char etag[72];
    char crc32c[SANDBOX_S3_CRC32C_TEXT];   /* "" unless computed (s3_ops.c, wants_crc32c) */
    long long modified;
    int placed;                     /* in the assembly file at (number - 1) * stride */
} part_row;

/* s3_parts.placed: 0 own file, 1 in the assembly file, 2 being written there. */
enum { PART_OWN_FILE = 0, PART_PLACED = 1, PART_PLACING = 2 };

/* Upload ids are ours ([A-Za-z0-9]); anything else cannot name one and never reaches a path. */
static int upload_id_valid(const char *id)
{
    size_t len = id ? strlen(id) : 0;
    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

static int upload_dir(const sandbox *sb, const char *upload_id, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/multipart/%s", sb->data_dir, upload_id);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int part_path(const sandbox *sb, const char *upload_id, int number, char *out,
                     size_t size)
{
    int n = snprintf(out, size, "%s/multipart/%s/%05d", sb->data_dir, upload_id, number);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int assembly_path(const sandbox *sb, const char *upload_id, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/multipart/%s/data", sb->data_dir, upload_id);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static void copy_text(char *out, size_t size, sqlite3_stmt *stmt, int col)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    snprintf(out, size, "%s", text ? (const char *)text : "");
}

/* 0 found, 1 no such upload (or another key's), -1 store error. Takes the lock. */
static int load_upload(sandbox *sb, const char *upload_id, const char *key, upload_row *out)
{
    sqlite3_stmt *stmt = NULL;
    int rc = -1;
    if (!upload_id_valid(upload_id))
        return 1;
    sandbox_store_lock(sb->store);
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                           "SELECT key, content_type, sse, initiated, stride,"
                           " checksum_algorithm, checksum_type FROM s3_uploads"
                           " WHERE upload_id = ?", -1, &stmt, NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_text(stmt, 1, upload_id, -1, SQLITE_STATIC);
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW) {
        copy_text(out->key, sizeof(out->key), stmt, 0);
        copy_text(out->content_type, sizeof(out->content_type), stmt, 1);
        copy_text(out->sse, sizeof(out->sse), stmt, 2);
        out->initiated = sqlite3_column_int64(stmt, 3);
        /* A negative stride is a sealed one (see seal_in_place). */
        long long stride = sqlite3_column_int64(stmt, 4);
        out->sealed = stride < 0;
        out->stride = (unsigned long long)(stride < 0 ? -stride : stride);
        const unsigned char *algorithm = sqlite3_column_text(stmt, 5);
        const unsigned char *type = sqlite3_column_text(stmt, 6);
        out->crc32c = algorithm && strcmp((const char *)algorithm, "CRC32C") == 0;
        out->full_object = type && strcmp((const char *)type, "FULL_OBJECT") == 0;
        rc = strcmp(out->key, key) == 0 ? 0 : 1;
    } else if (step == SQLITE_DONE) {
        rc = 1;
    }
done:
    sqlite3_finalize(stmt);
    sandbox_store_unlock(sb->store);
    return rc;
}

/* The upload of the request, or an S3 error set on req. */
static int require_upload(sandbox_s3_req *req, upload_row *out)
{
    int rc = load_upload(req->sb, sandbox_s3_query_get(&req->query, "uploadId"), req->key, out);
    if (rc)
        sandbox_s3_fail(req, rc > 0 ? "NoSuchUpload" : "InternalError", NULL);
    return rc ? -1 : 0;
}

/* Parts of an upload in part-number order; *out is malloc'd. Takes the lock. */
static int load_parts(sandbox *sb, const char *upload_id, int after, part_row **out,
                      size_t *count)
{
    sqlite3_stmt *stmt = NULL;
    part_row *parts = NULL;
    size_t n = 0, cap = 0;
    int rc = -1;
    sandbox_store_lock(sb->store);
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                           "SELECT part_number, size, etag, modified, placed, crc32c FROM s3_parts"
                           " WHERE upload_id = ? AND part_number > ? AND placed != 2"
                           " ORDER BY part_number",
                           -1, &stmt, NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_text(stmt, 1, upload_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, after);
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (n == cap) {
            size_t grown_cap = cap ? cap * 2 : 64;
            part_row *grown = realloc(parts, grown_cap * sizeof(*grown));
            if (!grown)
                goto done;
            parts = grown;
            cap = grown_cap;
        }
        parts[n].number = sqlite3_column_int(stmt, 0);
        parts[n].size = (unsigned long long)sqlite3_column_int64(stmt, 1);
        copy_text(parts[n].etag, sizeof(parts[n].etag), stmt, 2);
        parts[n].modified = sqlite3_column_int64(stmt, 3);
        parts[n].placed = sqlite3_column_int(stmt, 4) == PART_PLACED;
        copy_text(parts[n].crc32c, sizeof(parts[n].crc32c), stmt, 5);
        n++;
    }
    if (step != SQLITE_DONE)
        goto done;
    *out = parts;
    *count = n;
    parts = NULL;
    rc = 0;
done:
    sqlite3_finalize(stmt);
    sandbox_store_unlock(sb->store);
    free(parts);
    return rc;
}

/* Forget an upload: rows and part files. */
static void drop_upload(sandbox *sb, const char *upload_id)
{
    char dir[4300], path[4400];
    sqlite3_stmt *stmt = NULL;
    sandbox_store_lock(sb->store);
    sqlite3 *db = sandbox_store_db(sb->store);
    static const char *const sql[] = {
        "DELETE FROM s3_parts WHERE upload_id = ?",
        "DELETE FROM s3_uploads WHERE upload_id = ?",
    };
    for (size_t i = 0; i < 2; i++) {
        if (sqlite3_prepare_v2(db, sql[i], -1, &stmt, NULL) == SQLITE_OK) {
            sqlite3_bind_text(stmt, 1, upload_id, -1, SQLITE_STATIC);
            sqlite3_step(stmt);
        }
        sqlite3_finalize(stmt);
        stmt = NULL;
    }
    sandbox_store_unlock(sb->store);
    if (upload_dir(sb, upload_id, dir, sizeof(dir)))
        return;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (n > 0 && (size_t)n < sizeof(path))
                unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

static int part_number(const sandbox_s3_req *req)
{
    const char *text = sandbox_s3_query_get(&req->query, "partNumber");
    char *end = NULL;
    if (!text || !*text)
        return -1;
    errno = 0;
    long n = strtol(text, &end, 10);
    if (errno || *end || n < 1 || n > SANDBOX_S3_MAX_PARTS)
        return -1;
    return (int)n;
}

int sandbox_s3_upload_check(sandbox_s3_req *req)
{
    upload_row upload;
    if (part_number(req) < 0) {
        sandbox_s3_fail(req, "InvalidArgument",
                        "Part number must be an integer between 1 and 10000, inclusive");
        return -1;
    }
    if (require_upload(req, &upload))
        return -1;
    /* The object's checksum is joined from its parts': each part's is computed, asked or not. */
    req->part_crc32c = upload.crc32c;
    return 0;
}

/*
 * Claim the place of part `number` (of `length` bytes) in the assembly file:
 * 1 when claimed (a PART_PLACING row now reserves it), 0 when the part must
 * go to a file of its own, -1 on a store error. Sets the stride on the
 * first part of at least `min` bytes.
 */
static int claim_place(sandbox *sb, const char *upload_id, int number, unsigned long long length,
                       unsigned long long min, unsigned long long *stride)
{
    sqlite3 *db = sandbox_store_db(sb->store);
    sqlite3_stmt *stmt = NULL;
    int rc = -1;
    sandbox_store_lock(sb->store);
    if (sqlite3_prepare_v2(db, "SELECT stride FROM s3_uploads WHERE upload_id = ?", -1, &stmt,
                           NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_text(stmt, 1, upload_id, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_ROW) {
        rc = 0;
        goto done;
    }
    long long current = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    stmt = NULL;
    if (current < 0) {
        rc = 0;             /* sealed: being completed in place */
        goto done;
    }
    *stride = (unsigned long long)current;
    if (*stride == 0 && length >= min && length > 0) {
        if (sqlite3_prepare_v2(db, "UPDATE s3_uploads SET stride = ? WHERE upload_id = ?", -1,
                               &stmt, NULL) != SQLITE_OK)
            goto done;
        sqlite3_bind_int64(stmt, 1, (sqlite3_int64)length);
        sqlite3_bind_text(stmt, 2, upload_id, -1, SQLITE_STATIC);
        if (sqlite3_step(stmt) != SQLITE_DONE)
            goto done;
        sqlite3_finalize(stmt);
        stmt = NULL;
        *stride = length;
    }
    if (*stride == 0 || length == 0 || length > *stride) {
        rc = 0;
        goto done;
    }
    /* A row that exists (an earlier upload of this part) makes the insert fail: own file. */
    if (sqlite3_prepare_v2(db, "INSERT INTO s3_parts(upload_id, part_number, size, etag,"
                               " modified, placed) VALUES(?, ?, 0, '', 0, 2)", -1, &stmt,
                           NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_text(stmt, 1, upload_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, number);
    int step = sqlite3_step(stmt);
    rc = step == SQLITE_DONE ? 1 : step == SQLITE_CONSTRAINT ? 0 : -1;
done:
    sqlite3_finalize(stmt);
    sandbox_store_unlock(sb->store);
    return rc;
}

int sandbox_s3_part_open(sandbox_s3_req *req)
{
    sandbox *sb = req->sb;
    const char *upload_id = sandbox_s3_query_get(&req->query, "uploadId");
    int number = part_number(req);
    unsigned long long stride = 0;
    char path[4400];
    int want_sha = sandbox_s3_wants_sha256(req), want_crc = sandbox_s3_wants_crc32c(req);
    int placed = claim_place(sb, upload_id, number, req->expected,
                             sandbox_s3_min_part_size(sb), &stride);
    if (placed < 0) {
        sandbox_s3_fail(req, "InternalError", NULL);
        return -1;
    }
    if (placed) {
        req->part_placed = 1;
        if (assembly_path(sb, upload_id, path, sizeof(path)) ||
            sandbox_s3_body_open_at(&req->body, path,
                                    (unsigned long long)(number - 1) * stride, want_sha,
                                    want_crc)) {
            sandbox_s3_fail(req, "InternalError", "The part could not be started.");
            return -1;
        }
        return 0;
    }
    if (sandbox_s3_tmp_dir(sb, path, sizeof(path)) ||
        sandbox_s3_body_open(&req->body, path, want_sha, want_crc)) {
        sandbox_s3_fail(req, "InternalError", "The part could not be started.");
        return -1;
    }
    return 0;
}

void sandbox_s3_part_abandon(sandbox_s3_req *req)
{
    sandbox *sb = req->sb;
    sqlite3_stmt *stmt = NULL;
    sandbox_store_lock(sb->store);
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                           "DELETE FROM s3_parts WHERE upload_id = ? AND part_number = ?"
                           " AND placed = 2", -1, &stmt, NULL) == SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, sandbox_s3_query_get(&req->query, "uploadId"), -1,
                          SQLITE_STATIC);
        sqlite3_bind_int(stmt, 2, part_number(req));
        sqlite3_step(stmt);
    }
    sqlite3_finalize(stmt);
    sandbox_store_unlock(sb->store);
    req->part_placed = 0;
}

static int append_xml_element(igtcloud__buf *out, const char *name, const char *value)
{
    int rc = igtcloud__buf_printf(out, "<%s>", name);
    rc = rc ? rc : sandbox_s3_xml_escape(out, value);
    rc = rc ? rc : igtcloud__buf_printf(out, "</%s>", name);
    return rc;
}

/*
 * The checksum the upload's object is to carry: *algorithm "CRC32C" and
 * *type "COMPOSITE" (S3's default for it) or "FULL_OBJECT", or both "" when
 * none is kept. CRC32C is the only algorithm the sandbox computes; S3's
 * others are accepted and ignored, as boto3 asks for CRC32 by default.
 * Returns -1 with InvalidRequest set for an algorithm or a checksum type S3
 * does not know, as S3 answers them.
 */
static int upload_checksum(sandbox_s3_req *req, const char **algorithm, const char **type)
{
    const char *given = sandbox_s3_header(req, "x-amz-checksum-algorithm");
    const char *given_type = sandbox_s3_header(req, "x-amz-checksum-type");
    int full_object = given_type && strcasecmp(given_type, "FULL_OBJECT") == 0;
    *algorithm = *type = "";
    if (given_type && !full_object && strcasecmp(given_type, "COMPOSITE") != 0) {
        sandbox_s3_fail(req, "InvalidRequest", "Value for x-amz-checksum-type header is invalid"
                                               " (COMPOSITE or FULL_OBJECT).");
        return -1;
    }
    static const char *const known[] = { "CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME" };
    int is_known = 0;
    for (size_t i = 0; given && i < sizeof(known) / sizeof(known[0]); i++)
        is_known |= strcasecmp(given, known[i]) == 0;
    if (given && !is_known) {
        sandbox_s3_fail(req, "InvalidRequest", "Value for x-amz-checksum-algorithm header is invalid.");
        return -1;
    }
    if (given && strcasecmp(given, "CRC32C") == 0) {
        *algorithm = "CRC32C";
        *type = full_object ? "FULL_OBJECT" : "COMPOSITE";
    }
    return 0;
}

void sandbox_s3_create_multipart(sandbox_s3_req *req)
{
    sandbox *sb = req->sb;
    char upload_id[UPLOAD_ID_LEN + 1], dir[4300];
    sqlite3_stmt *stmt = NULL;
    const char *type = sandbox_s3_header(req, "Content-Type");
    const char *sse = sandbox_s3_header(req, "x-amz-server-side-encryption");
    const char *checksum_algorithm, *checksum_type;
    if (upload_checksum(req, &checksum_algorithm, &checksum_type))
        return;
    if (igtcloud__random_token(upload_id, UPLOAD_ID_LEN) ||
        upload_dir(sb, upload_id, dir, sizeof(dir))) {
        sandbox_s3_fail(req, "InternalError", NULL);
        return;
    }
    char parent[4300];
    snprintf(parent, sizeof(parent), "%s/multipart", sb->data_dir);
    if ((mkdir(parent, 0700) != 0 && errno != EEXIST) || mkdir(dir, 0700) != 0) {
        sandbox_s3_fail(req, "InternalError", "The upload folder could not be created.");
        return;
    }
    int rc = SQLITE_ERROR;
    sandbox_store_lock(sb->store);
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                           "INSERT INTO s3_uploads(upload_id, key, content_type, sse,"
                           " access_key, initiated, checksum_algorithm, checksum_type)"
                           " VALUES(?, ?, ?, ?, ?, ?, ?, ?)", -1, &stmt, NULL) == SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, upload_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, req->key, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, type ? type : "binary/octet-stream", -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 4, sse ? sse : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 5, req->grant.access_key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 6, (sqlite3_int64)time(NULL));
        sqlite3_bind_text(stmt, 7, checksum_algorithm, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 8, checksum_type, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(stmt);
    sandbox_store_unlock(sb->store);
    if (rc != SQLITE_OK) {
        rmdir(dir);
        sandbox_s3_fail(req, "InternalError", NULL);
        return;
    }
    igtcloud__buf *out = &req->resp_body;
    int err = igtcloud__buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                      "<InitiateMultipartUploadResult xmlns=\"http://s3."
                                      "amazonaws.com/doc/2006-03-01/\">");
    err = err ? err : append_xml_element(out, "Bucket", sb->bucket);
    err = err ? err : append_xml_element(out, "Key", req->key);
    err = err ? err : append_xml_element(out, "UploadId", upload_id);
    err = err ? err : igtcloud__buf_puts(out, "</InitiateMultipartUploadResult>");
    if (err) {
        sandbox_s3_fail(req, "InternalError", NULL);
        return;
    }
    if (sse)
        sandbox_s3_add_header(req, "x-amz-server-side-encryption", sse);
    if (*checksum_algorithm) {
        sandbox_s3_add_header(req, "x-amz-checksum-algorithm", checksum_algorithm);
        sandbox_s3_add_header(req, "x-amz-checksum-type", checksum_type);
    }
    sandbox_s3_xml_ok(req, 200);
}

void sandbox_s3_upload_part(sandbox_s3_req *req)
{
    sandbox *sb = req->sb;
    sandbox_s3_object meta;
    unsigned char md5[16];
    char path[4400];
    upload_row upload;
    const char *upload_id = sandbox_s3_query_get(&req->query, "uploadId");
    int number = part_number(req);
    if (sandbox_s3_finish_body(req, &meta, md5))
        return;
    if (require_upload(req, &upload) ||
        (!req->part_placed && part_path(sb, upload_id, number, path, sizeof(path)))) {
        sandbox_s3_body_discard(&req->body);
        return;
    }
    sqlite3_stmt *stmt = NULL;
    int rc = -1;
    sandbox_store_lock(sb->store);
    if (req->part_placed) {
        if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                               "UPDATE s3_parts SET size = ?3, etag = ?4, crc32c = ?5,"
                               " sha256 = ?6, modified = ?7, placed = 1"
                               " WHERE upload_id = ?1 AND part_number = ?2 AND placed = 2", -1,
                               &stmt, NULL) != SQLITE_OK)
            stmt = NULL;
    } else if (rename(req->body.path, path) == 0) {
        req->body.path[0] = '\0';
        if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                               "INSERT OR REPLACE INTO s3_parts(upload_id, part_number, size,"
                               " etag, crc32c, sha256, modified, placed)"
                               " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)", -1, &stmt,
                               NULL) != SQLITE_OK)
            stmt = NULL;
    }
    if (stmt) {
        sqlite3_bind_text(stmt, 1, upload_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(stmt, 2, number);
        sqlite3_bind_int64(stmt, 3, (sqlite3_int64)meta.size);
        sqlite3_bind_text(stmt, 4, meta.etag, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 5, meta.crc32c, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 6, meta.sha256, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 7, (sqlite3_int64)time(NULL));
        rc = sqlite3_step(stmt) == SQLITE_DONE &&
             sqlite3_changes(sandbox_store_db(sb->store)) == 1 ? 0 : -1;
    }
    sqlite3_finalize(stmt);
    sandbox_store_unlock(sb->store);
    if (rc) {
        sandbox_s3_body_discard(&req->body);
        sandbox_s3_fail(req, errno == ENOENT ? "NoSuchUpload" : "InternalError", NULL);
        return;
    }
    req->part_committed = 1;
    snprintf(meta.sse, sizeof(meta.sse), "%s", upload.sse);
    sandbox_s3_add_object_headers(req, &meta, 1);
    req->status = 200;
}

/* Append `size` bytes of the file at `path` from `from` on to fd, in the kernel where it can. */
static int append_file(int fd, const char *path, unsigned long long from,
                       unsigned long long size, off_t *at)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    unsigned long long left = size;
    off_t in_off = (off_t)from;
    int rc = 0;
    while (left > 0) {
        ssize_t n = copy_file_range(in, &in_off, fd, at, (size_t)left, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
                      errno == EINVAL)) {
            char buf[65536];
            size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);
            ssize_t got = pread(in, buf, want, in_off);
            if (got <= 0 || pwrite(fd, buf, (size_t)got, *at) != got) {
                rc = -1;
                break;
            }
            in_off += got;
            *at += got;
            left -= (unsigned long long)got;
            continue;
        }
        if (n <= 0) {
            rc = -1;
            break;
        }
        left -= (unsigned long long)n;
    }
    close(in);
    return rc;
}

static int hex_to_bytes(unsigned char out[16], const char *hex)
{
    if (strlen(hex) != 32)
        return -1;
    for (int i = 0; i < 16; i++) {
        unsigned int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + k];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else
                return -1;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

static const part_row *find_part(const part_row *parts, size_t count, int number)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (parts[mid].number == number)
            return &parts[mid];
        if (parts[mid].number < number)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/*
 * Check the listed parts against the stored ones (S3's rules, in S3's order);
 * with `crc32c`, a part's ChecksumCRC32C, when given, too.
 */
static int check_parts(sandbox_s3_req *req, const sandbox_s3_part_ref *listed, size_t n,
                       const part_row *parts, size_t count, int crc32c)
{
    unsigned long long min = sandbox_s3_min_part_size(req->sb);
    for (size_t i = 1; i < n; i++) {
        if (listed[i].number <= listed[i - 1].number) {
            sandbox_s3_fail(req, "InvalidPartOrder", NULL);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const part_row *p = find_part(parts, count, listed[i].number);
        if (!p || strcmp(p->etag, listed[i].etag) != 0) {
            sandbox_s3_fail(req, "InvalidPart", NULL);
            return -1;
        }
        /* Stored CRCs are S3's text (padded base64): the listed one must be that text. */
        if (crc32c && listed[i].crc32c[0] && strcmp(listed[i].crc32c, p->crc32c) != 0) {
            char message[128];
            snprintf(message, sizeof(message),
                     "The ChecksumCRC32C of part %d is not the uploaded part's.", p->number);
            sandbox_s3_fail(req, "InvalidPart", message);
            return -1;
        }
    }
    for (size_t i = 0; i + 1 < n; i++) {
        if (find_part(parts, count, listed[i].number)->size < min) {
            sandbox_s3_fail(req, "EntityTooSmall", NULL);
            return -1;
        }
    }
    return 0;
}

/*
 * The CRC32C of the object of a CRC32C upload, joined from its parts' as the
 * upload's checksum type says, into out. An x-amz-checksum-crc32c of the
 * completion names the object's and must be it (COMPOSITE: with or without
 * its "-N"). Returns 0, or -1 with the error set.
 */
static int object_crc32c(sandbox_s3_req *req, const upload_row *upload,
                         const sandbox_s3_part_ref *listed, size_t n, const part_row *parts,
                         size_t count, char out[SANDBOX_S3_CRC32C_TEXT])
{
    sandbox_s3_crc32c_join join;
    sandbox_s3_crc32c_join_init(&join, upload->full_object);
    for (size_t i = 0; i < n; i++) {
        const part_row *p = find_part(parts, count, listed[i].number);
        uint32_t crc;
        /* Every part of a CRC32C upload had it computed (sandbox_s3_upload_check). */
        if (sandbox_s3_crc32c_parse(&crc, p->crc32c)) {
            sandbox_s3_fail(req, "InternalError", "A part's CRC32C is unknown.");
            return -1;
        }
        sandbox_s3_crc32c_join_add(&join, crc, p->size);
    }
    sandbox_s3_crc32c_join_text(&join, out);
    const char *given = sandbox_s3_header(req, "x-amz-checksum-crc32c");
    uint32_t want;
    if (given && strcmp(given, out) != 0 &&
        (sandbox_s3_crc32c_parse(&want, given) || want != join.crc)) {
        sandbox_s3_fail(req, "BadDigest",
                        "The CRC32C you specified did not match the calculated checksum.");
        return -1;
    }
    return 0;
}

/*
 * Before the assembly file becomes the object, stop new parts from being
 * placed into it (the stride turns negative) — only when no part is being
 * written into it right now. Returns 1 when sealed, 0 otherwise.
 */
static int seal_in_place(sandbox *sb, const char *upload_id)
{
    sqlite3_stmt *stmt = NULL;
    int sealed = 0;
    sandbox_store_lock(sb->store);
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                           "UPDATE s3_uploads SET stride = -stride WHERE upload_id = ?1"
                           " AND stride > 0 AND NOT EXISTS (SELECT 1 FROM s3_parts"
                           " WHERE upload_id = ?1 AND placed = 2)", -1, &stmt,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, upload_id, -1, SQLITE_STATIC);
        sealed = sqlite3_step(stmt) == SQLITE_DONE &&
                 sqlite3_changes(sandbox_store_db(sb->store)) == 1;
    }
    sqlite3_finalize(stmt);
    sandbox_store_unlock(sb->store);
    return sealed;
}

/*
 * Parts 1..n, all of the stride but the last: the object can be built in the
 * assembly file, copying only the parts that are not in it yet.
 */
static int in_place(const sandbox_s3_part_ref *listed, size_t n, const part_row *parts,
                    size_t count, unsigned long long stride)
{
    if (stride == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const part_row *p = find_part(parts, count, listed[i].number);
        if (listed[i].number != (int)i + 1 || !p ||
            (i + 1 < n ? p->size != stride : p->size > stride))
            return 0;
    }
    return 1;
}

void sandbox_s3_complete_multipart(sandbox_s3_req *req)
{
    sandbox *sb = req->sb;
    const char *upload_id = sandbox_s3_query_get(&req->query, "uploadId");
    sandbox_s3_part_ref *listed = NULL;
    part_row *parts = NULL;
    size_t n = 0, count = 0;
    upload_row upload;
    sandbox_s3_body body;
    EVP_MD_CTX *ctx = NULL;
    char dir[4300], path[4400], assembly[4400];
    const char *source = NULL;
    igtcloud__buf runs = IGTCLOUD_BUF_INIT;
    sandbox_s3_body_init(&body);

    if (require_upload(req, &upload))
        goto done;
    /* The XML body is covered by the payload hash and Content-MD5 like any other. */
    unsigned char body_md5[16], body_sha256[32];
    if (igtcloud__md5(body_md5, req->small_body.ptr ? req->small_body.ptr : "",
                      req->small_body.size) ||
        igtcloud__sha256(body_sha256, req->small_body.ptr ? req->small_body.ptr : "",
                         req->small_body.size)) {
        sandbox_s3_fail(req, "InternalError", NULL);
        goto done;
    }
    if (sandbox_s3_verify_body(req, body_md5, body_sha256,
                               sandbox_crc32c(0, req->small_body.ptr ? req->small_body.ptr : "",
                                              req->small_body.size),
                               !upload.crc32c))
        goto done;
    if (sandbox_s3_parse_complete(&listed, &n, igtcloud__buf_cstr(&req->small_body),
                                  req->small_body.size)) {
        sandbox_s3_fail(req, "MalformedXML", NULL);
        goto done;
    }
    if (load_parts(sb, upload_id, 0, &parts, &count)) {
        sandbox_s3_fail(req, "InternalError", NULL);
        goto done;
    }
    char crc32c[SANDBOX_S3_CRC32C_TEXT] = "";
    if (check_parts(req, listed, n, parts, count, upload.crc32c) ||
        (upload.crc32c && object_crc32c(req, &upload, listed, n, parts, count, crc32c)))
        goto done;

    /* The multipart ETag: MD5 of the binary part MD5s, then "-N". */
    unsigned char digest[16], part_md5[16];
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1)
        goto internal;
    for (size_t i = 0; i < n; i++) {
        const part_row *p = find_part(parts, count, listed[i].number);
        if (hex_to_bytes(part_md5, p->etag) ||
            EVP_DigestUpdate(ctx, part_md5, sizeof(part_md5)) != 1)
            goto internal;
    }
    if (EVP_DigestFinal_ex(ctx, digest, NULL) != 1 ||
        assembly_path(sb, upload_id, assembly, sizeof(assembly)))
        goto internal;
    if (!upload.sealed && in_place(listed, n, parts, count, upload.stride) &&
        seal_in_place(sb, upload_id)) {
        /* The assembly file becomes the object; parts kept apart join it at their place. */
        const part_row *last = find_part(parts, count, listed[n - 1].number);
        body.fd = open(assembly, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (body.fd < 0)
            goto internal;
        for (size_t i = 0; i < n; i++) {
            const part_row *p = find_part(parts, count, listed[i].number);
            off_t at = (off_t)((unsigned long long)(p->number - 1) * upload.stride);
            if (!p->placed && (part_path(sb, upload_id, p->number, path, sizeof(path)) ||
                               append_file(body.fd, path, 0, p->size, &at)))
                goto internal;
        }
        int failed = ftruncate(body.fd, (off_t)((n - 1) * upload.stride + last->size));
        failed |= close(body.fd);
        body.fd = -1;
        if (failed)
            goto internal;
        source = assembly;
    } else {
        if (sandbox_s3_tmp_dir(sb, dir, sizeof(dir)))
            goto internal;
        int len = snprintf(body.path, sizeof(body.path), "%s/s3-XXXXXX", dir);
        body.fd = len > 0 && (size_t)len < sizeof(body.path) ? mkstemp(body.path) : -1;
        if (body.fd < 0) {
            body.path[0] = '\0';
            goto internal;
        }
        off_t at = 0;
        for (size_t i = 0; i < n; i++) {
            const part_row *p = find_part(parts, count, listed[i].number);
            int rc = p->placed
                ? append_file(body.fd, assembly,
                              (unsigned long long)(p->number - 1) * upload.stride, p->size, &at)
                : part_path(sb, upload_id, p->number, path, sizeof(path)) ||
                      append_file(body.fd, path, 0, p->size, &at);
            if (rc)
                goto internal;
        }
        int closed = close(body.fd);
        body.fd = -1;
        if (closed != 0)
            goto internal;
        source = body.path;
    }
    sandbox_s3_object meta;
    memset(&meta, 0, sizeof(meta));
    /* The parts' sizes, for GET and HEAD with partNumber. */
    for (size_t i = 0; i < n; i++)
        if (sandbox_s3_parts_add(&runs, find_part(parts, count, listed[i].number)->size))
            goto internal;
    meta.parts = igtcloud__buf_cstr(&runs);
    char hex[33];
    igtcloud__hex(hex, digest, sizeof(digest));
    snprintf(meta.etag, sizeof(meta.etag), "%s-%zu", hex, n);
    snprintf(meta.content_type, sizeof(meta.content_type), "%s", upload.content_type);
    snprintf(meta.sse, sizeof(meta.sse), "%s", upload.sse);
    snprintf(meta.crc32c, sizeof(meta.crc32c), "%s", crc32c);
    if (sandbox_s3_object_commit(sb, req->key, source, &meta)) {
        sandbox_s3_fail(req, errno == ENOTDIR || errno == EISDIR ? "InvalidArgument"
                                                                 : "InternalError",
                        errno == ENOTDIR || errno == EISDIR
                            ? "The key collides with a folder of other keys in the sandbox."
                            : NULL);
        goto done;
    }
    body.path[0] = '\0';
    drop_upload(sb, upload_id);

    igtcloud__buf *out = &req->resp_body;
    char etag[80];
    igtcloud__buf location = IGTCLOUD_BUF_INIT;
    snprintf(etag, sizeof(etag), "\"%s\"", meta.etag);
    int err = igtcloud__buf_printf(&location, "%s/%s/", sb->s3_url, sb->bucket);
    err = err ? err : igtcloud__sigv4_uri_encode(&location, req->key, strlen(req->key), 1);
    err = err ? err : igtcloud__buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                      "<CompleteMultipartUploadResult xmlns=\"http://s3."
                                      "amazonaws.com/doc/2006-03-01/\">");
    err = err ? err : append_xml_element(out, "Location", igtcloud__buf_cstr(&location));
    igtcloud__buf_dispose(&location);
    err = err ? err : append_xml_element(out, "Bucket", sb->bucket);
    err = err ? err : append_xml_element(out, "Key", req->key);
    err = err ? err : append_xml_element(out, "ETag", etag);
    if (!err && meta.crc32c[0]) {
        err = append_xml_element(out, "ChecksumCRC32C", meta.crc32c);
        err = err ? err : append_xml_element(out, "ChecksumType",
                                             sandbox_s3_checksum_type(meta.crc32c));
    }
    err = err ? err : igtcloud__buf_puts(out, "</CompleteMultipartUploadResult>");
    if (err)
        goto internal;
    if (meta.sse[0])
        sandbox_s3_add_header(req, "x-amz-server-side-encryption", meta.sse);
    sandbox_s3_xml_ok(req, 200);
    goto done;
internal:
    sandbox_s3_fail(req, "InternalError", "The parts could not be assembled.");
done:
    sandbox_s3_body_discard(&body);
    EVP_MD_CTX_free(ctx);
    igtcloud__buf_dispose(&runs);
    free(listed);
    free(parts);
}

void sandbox_s3_abort_multipart(sandbox_s3_req *req)
{
    upload_row upload;
    if (require_upload(req, &upload))
        return;
    drop_upload(req->sb, sandbox_s3_query_get(&req->query, "uploadId"));
    req->status = 204;
}

void sandbox_s3_list_parts(sandbox_s3_req *req)
{
    sandbox *sb = req->sb;
    upload_row upload;
    part_row *parts = NULL;
    size_t count = 0;
    const char *upload_id = sandbox_s3_query_get(&req->query, "uploadId");
    const char *max_text = sandbox_s3_query_get(&req->query, "max-parts");
    const char *marker_text = sandbox_s3_query_get(&req->query, "part-number-marker");
    long max = 1000, marker = 0;
    char *end = NULL;
    if (require_upload(req, &upload))
        return;
    if (max_text) {
        max = strtol(max_text, &end, 10);
        if (!*max_text || *end || max < 0) {
            sandbox_s3_fail(req, "InvalidArgument", "max-parts must be a non-negative integer");
            return;
        }
        if (max > 1000)
            max = 1000;
    }
    if (marker_text) {
        marker = strtol(marker_text, &end, 10);
        if (!*marker_text || *end || marker < 0 || marker > SANDBOX_S3_MAX_PARTS) {
            sandbox_s3_fail(req, "InvalidArgument", "part-number-marker must be a part number");
            return;
        }
    }
    if (load_parts(sb, upload_id, (int)marker, &parts, &count)) {
        sandbox_s3_fail(req, "InternalError", NULL);
        return;
    }
    size_t shown = count < (size_t)max ? count : (size_t)max;
    int truncated = count > shown;
    igtcloud__buf *out = &req->resp_body;
    char date[40], etag[80];
    int err = igtcloud__buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                      "<ListPartsResult xmlns=\"http://s3.amazonaws.com/doc/"
                                      "2006-03-01/\">");
    err = err ? err : append_xml_element(out, "Bucket", sb->bucket);
    err = err ? err : append_xml_element(out, "Key", req->key);
    err = err ? err : append_xml_element(out, "UploadId", upload_id);
    err = err ? err : igtcloud__buf_printf(out, "<PartNumberMarker>%ld</PartNumberMarker>",
                                           marker);
    if (!err && shown)
        err = igtcloud__buf_printf(out, "<NextPartNumberMarker>%d</NextPartNumberMarker>",
                                   parts[shown - 1].number);
    err = err ? err : igtcloud__buf_printf(out, "<MaxParts>%ld</MaxParts><IsTruncated>%s"
                                           "</IsTruncated><StorageClass>STANDARD"
                                           "</StorageClass>", max, truncated ? "true" : "false");
    if (!err && upload.crc32c)
        err = igtcloud__buf_printf(out, "<ChecksumAlgorithm>CRC32C</ChecksumAlgorithm>"
                                        "<ChecksumType>%s</ChecksumType>",
                                   upload.full_object ? "FULL_OBJECT" : "COMPOSITE");
    for (size_t i = 0; !err && i < shown; i++) {
        sandbox_s3_iso_date(date, sizeof(date), parts[i].modified);
        snprintf(etag, sizeof(etag), "\"%s\"", parts[i].etag);
        err = igtcloud__buf_printf(out, "<Part><PartNumber>%d</PartNumber><LastModified>%s"
                                        "</LastModified>", parts[i].number, date);
        err = err ? err : append_xml_element(out, "ETag", etag);
        /* Listed for CRC32C uploads only: the others list their parts as they always did. */
        if (!err && upload.crc32c && parts[i].crc32c[0])
            err = append_xml_element(out, "ChecksumCRC32C", parts[i].crc32c);
        err = err ? err : igtcloud__buf_printf(out, "<Size>%llu</Size></Part>", parts[i].size);
    }
    err = err ? err : igtcloud__buf_puts(out, "</ListPartsResult>");
    free(parts);
    if (err) {
        sandbox_s3_fail(req, "InternalError", NULL);
        return;
    }
    sandbox_s3_xml_ok(req, 200);
}
