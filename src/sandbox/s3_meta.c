#include "s3_meta.h"
#include "objects.h"
#include "store.h"
#include "core/hash.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The S3 endpoint's own tables; additive to store.c's schema. */
static const char s3_schema[] =
    "CREATE TABLE IF NOT EXISTS s3_objects("
    "  key TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
    "  inode INTEGER NOT NULL, etag TEXT NOT NULL, content_type TEXT NOT NULL,"
    "  sse TEXT NOT NULL DEFAULT '', crc32c TEXT NOT NULL DEFAULT '',"
    "  sha256 TEXT NOT NULL DEFAULT '', parts TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE IF NOT EXISTS s3_uploads("
    "  upload_id TEXT PRIMARY KEY, key TEXT NOT NULL, content_type TEXT NOT NULL,"
    "  sse TEXT NOT NULL DEFAULT '', access_key TEXT NOT NULL, initiated INTEGER NOT NULL,"
    "  stride INTEGER NOT NULL DEFAULT 0, checksum_algorithm TEXT NOT NULL DEFAULT '',"
    "  checksum_type TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE IF NOT EXISTS s3_parts("
    "  upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, size INTEGER NOT NULL,"
    "  etag TEXT NOT NULL, crc32c TEXT NOT NULL DEFAULT '',"
    "  sha256 TEXT NOT NULL DEFAULT '', modified INTEGER NOT NULL,"
    "  placed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(upload_id, part_number));";

/* Columns added after the first version of the tables; "duplicate column" is fine. */
static const char *const s3_migrations[] = {
    "ALTER TABLE s3_uploads ADD COLUMN stride INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE s3_parts ADD COLUMN placed INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE s3_objects ADD COLUMN parts TEXT NOT NULL DEFAULT ''",
    /* An upload's x-amz-checksum-algorithm (only CRC32C is kept) and -type. */
    "ALTER TABLE s3_uploads ADD COLUMN checksum_algorithm TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE s3_uploads ADD COLUMN checksum_type TEXT NOT NULL DEFAULT ''",
};

#define DEFAULT_CONTENT_TYPE "binary/octet-stream"

int sandbox_s3_meta_init(sandbox *sb)
{
    char *errmsg = NULL;
    sandbox_store_lock(sb->store);
    int rc = sqlite3_exec(sandbox_store_db(sb->store), s3_schema, NULL, NULL, &errmsg);
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof(s3_migrations) / sizeof(s3_migrations[0]);
         i++)
        sqlite3_exec(sandbox_store_db(sb->store), s3_migrations[i], NULL, NULL, NULL);
    sandbox_store_unlock(sb->store);
    if (rc != SQLITE_OK)
        fprintf(stderr, "igtcloud-sandbox: S3 tables: %s\n", errmsg ? errmsg : "?");
    sqlite3_free(errmsg);
    return rc == SQLITE_OK ? 0 : -1;
}

static long long mtime_ns(const struct stat *st)
{
    return (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

static void copy_column(char *out, size_t size, sqlite3_stmt *stmt, int col)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    snprintf(out, size, "%s", text ? (const char *)text : "");
}

/* Fill out from the cache row when it still describes this file; 1 when it does. */
static int cached(sandbox *sb, const char *key, const struct stat *st, sandbox_s3_object *out)
{
    sqlite3_stmt *stmt = NULL;
    int hit = 0;
    sandbox_store_lock(sb->store);
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                           "SELECT size, mtime_ns, inode, etag, content_type, sse, crc32c,"
                           " sha256 FROM s3_objects WHERE key = ?", -1, &stmt,
                           NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW &&
        (unsigned long long)sqlite3_column_int64(stmt, 0) == (unsigned long long)st->st_size &&
        sqlite3_column_int64(stmt, 1) == mtime_ns(st) &&
        (unsigned long long)sqlite3_column_int64(stmt, 2) == (unsigned long long)st->st_ino) {
        copy_column(out->etag, sizeof(out->etag), stmt, 3);
        copy_column(out->content_type, sizeof(out->content_type), stmt, 4);
        copy_column(out->sse, sizeof(out->sse), stmt, 5);
        copy_column(out->crc32c, sizeof(out->crc32c), stmt, 6);
        copy_column(out->sha256, sizeof(out->sha256), stmt, 7);
        hit = 1;
    }
done:
    sqlite3_finalize(stmt);
    sandbox_store_unlock(sb->store);
    return hit;
}

/* Record meta for the file `st` describes; call with the store lock held. */
static int record(sandbox *sb, const char *key, const struct stat *st,
                  const sandbox_s3_object *meta)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(sandbox_store_db(sb->store),
                                "INSERT OR REPLACE INTO s3_objects(key, size, mtime_ns, inode,"
                                " etag, content_type, sse, crc32c, sha256, parts)"
                                " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 2, (sqlite3_int64)st->st_size);
        sqlite3_bind_int64(stmt, 3, mtime_ns(st));
        sqlite3_bind_int64(stmt, 4, (sqlite3_int64)st->st_ino);
        sqlite3_bind_text(stmt, 5, meta->etag, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 6, meta->content_type[0] ? meta->content_type
                                                         : DEFAULT_CONTENT_TYPE,
                          -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 7, meta->sse, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 8, meta->crc32c, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 9, meta->sha256, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 10, meta->parts ? meta->parts : "", -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_OK ? 0 : -1;
}

/* MD5 of a whole file, for objects that reached objects/ without the S3 path. */
static int file_md5(int fd, char etag[72])
{
    enum { CHUNK = 1 << 18 };
    unsigned char digest[16];
    int rc = -1;
    off_t at = 0;
    char *chunk = malloc(CHUNK);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!chunk || !ctx || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1)
        goto done;
    for (;;) {
        ssize_t got = pread(fd, chunk, CHUNK, at);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            goto done;
        if (got == 0)
            break;
        if (EVP_DigestUpdate(ctx, chunk, (size_t)got) != 1)
            goto done;
        at += got;
    }
    if (EVP_DigestFinal_ex(ctx, digest, NULL) != 1)
        goto done;
    igtcloud__hex(etag, digest, sizeof(digest));
    rc = 0;
done:
    EVP_MD_CTX_free(ctx);
    free(chunk);
    return rc;
}

int sandbox_s3_object_lookup(sandbox *sb, const char *key, sandbox_s3_object *out,
                             int *fd_out, const struct stat *st_given)
{
    char path[4300];
    struct stat st;
    int fd = -1, rc = -1;
    memset(out, 0, sizeof(*out));
    if (sandbox_object_path(path, sizeof(path), sb->data_dir, key))
        return 1;
    if (st_given && !fd_out) {
        st = *st_given;
    } else {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return errno == ENOENT || errno == ENOTDIR || errno == EISDIR ? 1 : -1;
        if (fstat(fd, &st) != 0)
            goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = 1;
        goto done;
    }
    out->size = (unsigned long long)st.st_size;
    out->mtime = (long long)st.st_mtim.tv_sec;
    if (!cached(sb, key, &st, out)) {
        if (fd < 0) {
            fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                rc = errno == ENOENT ? 1 : -1;
                goto done;
            }
        }
        if (file_md5(fd, out->etag))
            goto done;
        snprintf(out->content_type, sizeof(out->content_type), "%s", DEFAULT_CONTENT_TYPE);
        sandbox_store_lock(sb->store);
        record(sb, key, &st, out);
        sandbox_store_unlock(sb->store);
    }
    rc = 0;
    if (fd_out) {
        *fd_out = fd;
        fd = -1;
    }
done:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* mkdir -p of the folders above path's last segment. */
static int make_parents(const char *path, size_t base_len)
{
    char copy[4300];
    snprintf(copy, sizeof(copy), "%s", path);
    for (char *p = copy + base_len + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

/* Registered API files learn their real size once the object exists. */
static void update_file_row(sandbox *sb, const char *key, unsigned long long size)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store),
                           "UPDATE files SET file_size = ?, progress_bytes = ? WHERE key = ?",
                           -1, &stmt, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(stmt, 1, (sqlite3_int64)size);
        sqlite3_bind_int64(stmt, 2, (sqlite3_int64)size);
        sqlite3_bind_text(stmt, 3, key, -1, SQLITE_STATIC);
        sqlite3_step(stmt);
    }
    sqlite3_finalize(stmt);
}

int sandbox_s3_object_commit(sandbox *sb, const char *key, const char *tmp_path,
                             const sandbox_s3_object *meta)
{
    char path[4300], objects[4300];
    struct stat st;
    int rc = -1;
    if (sandbox_object_path(path, sizeof(path), sb->data_dir, key)) {
        errno = EINVAL;
        return -1;
    }
    snprintf(objects, sizeof(objects), "%s/objects", sb->data_dir);
    if (make_parents(path, strlen(objects)))
        return -1;
    /* Rename and record under one lock so readers never pair new bytes with old meta. */
    sandbox_store_lock(sb->store);
    if (rename(tmp_path, path) != 0 || stat(path, &st) != 0)
        goto done;
    if (record(sb, key, &st, meta))
        goto done;
    update_file_row(sb, key, (unsigned long long)st.st_size);
    rc = 0;
done:
    sandbox_store_unlock(sb->store);
    return rc;
}

int sandbox_s3_object_remove(sandbox *sb, const char *key)
{
    sqlite3_stmt *stmt = NULL;
    sandbox_store_lock(sb->store);
    int rc = sandbox_object_delete(sb->data_dir, key);
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store), "DELETE FROM s3_objects WHERE key = ?",
                           -1, &stmt, NULL) == SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
        sqlite3_step(stmt);
    }
    sqlite3_finalize(stmt);
    sandbox_store_unlock(sb->store);
    return rc;
}

int sandbox_s3_parts_add(igtcloud__buf *runs, unsigned long long size)
{
    /* The last run: its size, and how many parts it holds. */
    const char *start = runs->size ? runs->ptr : "";
    const char *comma = strrchr(start, ',');
    const char *last = comma ? comma + 1 : start;
    char *end;
    unsigned long long run_size = *last ? strtoull(last, &end, 10) : 0;
    if (*last && run_size == size) {
        unsigned long long count = *end == '*' ? strtoull(end + 1, NULL, 10) : 1;
        runs->size = (size_t)(last - start);
        runs->ptr[runs->size] = '\0';
        return igtcloud__buf_printf(runs, "%llu*%llu", size, count + 1);
    }
    return igtcloud__buf_printf(runs, "%s%llu", runs->size ? "," : "", size);
}

int sandbox_s3_parts_find(const char *runs, unsigned long number, unsigned long long *first,
                          unsigned long long *length, unsigned long *count)
{
    unsigned long long at = 0, n = 0;
    int found = 0;
    if (!*runs)
        return 1;
    for (const char *p = runs;;) {
        char *end;
        if (*p < '0' || *p > '9')
            return -1;
        unsigned long long size = strtoull(p, &end, 10), times = 1;
        if (*end == '*') {
            if (end[1] < '0' || end[1] > '9')
                return -1;
            times = strtoull(end + 1, &end, 10);
        }
        /* The bytes before and within the run must be countable: never wrap around. */
        if (times == 0 || times > 10000 || n + times > 10000 || size > (ULLONG_MAX - at) / times)
            return -1;
        if (!found && number > n && number <= n + times) {
            *first = at + (number - n - 1) * size;
            *length = size;
            found = 1;
        }
        at += size * times;
        n += times;
        if (*end == '\0')
            break;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
    *count = (unsigned long)n;
    return found ? 0 : 1;
}

int sandbox_s3_object_parts(sandbox *sb, const char *key, igtcloud__buf *out)
{
    sqlite3_stmt *stmt = NULL;
    int rc = -1;
    igtcloud__buf_clear(out);
    sandbox_store_lock(sb->store);
    if (sqlite3_prepare_v2(sandbox_store_db(sb->store), "SELECT parts FROM s3_objects WHERE key = ?",
                           -1, &stmt, NULL) == SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
        int step = sqlite3_step(stmt);
        const unsigned char *text = step == SQLITE_ROW ? sqlite3_column_text(stmt, 0) : NULL;
        rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -1;
        if (rc == 0 && igtcloud__buf_puts(out, text ? (const char *)text : ""))
            rc = -1;
    }
    sqlite3_finalize(stmt);
    sandbox_store_unlock(sb->store);
    return rc;
}
