#include "s3.h"
#include "s3_errors.h"
#include "objects.h"
#include "s3/sigv4.h"
#include "core/base64.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * ListObjectsV2 over the object files themselves, so that objects written
 * or deleted through the API are listed truthfully. A depth-first walk that
 * orders each folder's entries as key bytes order them (a folder "a" sorts
 * as "a/") yields keys in S3's lexicographic order; prefix, start and the
 * last common prefix prune whole folders.
 */

typedef struct entry {
    char *name;
    int is_dir;
} entry;

typedef struct lister {
    sandbox_s3_req *req;
    const char *prefix;
    const char *delimiter;
    size_t delimiter_len;
    const char *start;           /* keys <= start are skipped */
    int start_is_prefix;         /* and so is everything under start */
    size_t max;
    size_t emitted;
    int truncated;
    int url_encode;
    int failed;
    char last_prefix[SANDBOX_S3_KEY_MAX + 2];
    char last_item[SANDBOX_S3_KEY_MAX + 2];
    int last_is_prefix;
    igtcloud__buf contents;
    igtcloud__buf prefixes;
} lister;

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The i-th byte of the entry's name as a key sees it: a folder's name ends in '/'. */
static unsigned int key_char(const entry *e, size_t i, size_t len)
{
    if (i < len)
        return (unsigned char)e->name[i];
    return i == len && e->is_dir ? '/' : 0;
}

static int entry_cmp(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    size_t lx = strlen(x->name), ly = strlen(y->name);
    for (size_t i = 0;; i++) {
        unsigned int c = key_char(x, i, lx), d = key_char(y, i, ly);
        if (c != d)
            return c < d ? -1 : 1;
        if (!c)
            return 0;
    }
}

static int put_value(lister *l, igtcloud__buf *out, const char *name, const char *value)
{
    int rc = igtcloud__buf_printf(out, "<%s>", name);
    if (!rc && l->url_encode)
        rc = igtcloud__sigv4_uri_encode(out, value, strlen(value), 1);
    else if (!rc)
        rc = sandbox_s3_xml_escape(out, value);
    return rc ? rc : igtcloud__buf_printf(out, "</%s>", name);
}

/* Room for one more item? Otherwise mark the listing truncated. */
static int room(lister *l)
{
    if (l->emitted < l->max)
        return 1;
    /* max-keys=0 asks for nothing, not for a truncated listing. */
    l->truncated = l->max > 0;
    return 0;
}

static void remember(lister *l, const char *item, int is_prefix)
{
    snprintf(l->last_item, sizeof(l->last_item), "%s", item);
    l->last_is_prefix = is_prefix;
    l->emitted++;
}

static void emit_key(lister *l, const char *key, const struct stat *st)
{
    sandbox_s3_object meta;
    int found = sandbox_s3_object_lookup(l->req->sb, key, &meta, NULL, st);
    if (found > 0)
        return;            /* deleted meanwhile */
    if (found < 0) {
        l->failed = 1;
        return;
    }
    if (!room(l))
        return;
    char date[40];
    sandbox_s3_iso_date(date, sizeof(date), meta.mtime);
    igtcloud__buf *out = &l->contents;
    int rc = igtcloud__buf_puts(out, "<Contents>");
    rc = rc ? rc : put_value(l, out, "Key", key);
    rc = rc ? rc : igtcloud__buf_printf(out, "<LastModified>%s</LastModified>"
                                             "<ETag>&quot;%s&quot;</ETag><Size>%llu</Size>"
                                             "<StorageClass>STANDARD</StorageClass></Contents>",
                                        date, meta.etag, meta.size);
    if (rc)
        l->failed = 1;
    remember(l, key, 0);
}

static void emit_prefix(lister *l, const char *common)
{
    if (!room(l))
        return;
    snprintf(l->last_prefix, sizeof(l->last_prefix), "%s", common);
    igtcloud__buf *out = &l->prefixes;
    int rc = igtcloud__buf_puts(out, "<CommonPrefixes>");
    rc = rc ? rc : put_value(l, out, "Prefix", common);
    rc = rc ? rc : igtcloud__buf_puts(out, "</CommonPrefixes>");
    if (rc)
        l->failed = 1;
    remember(l, common, 1);
}

/* Can any key under folder key-prefix `dp` still be listed? */
static int folder_relevant(const lister *l, const char *dp)
{
    if (!starts_with(dp, l->prefix) && !starts_with(l->prefix, dp))
        return 0;
    if (l->start[0] && strcmp(dp, l->start) < 0 && !starts_with(l->start, dp))
        return 0;
    if (l->start_is_prefix && starts_with(dp, l->start))
        return 0;
    if (l->last_prefix[0] && starts_with(dp, l->last_prefix))
        return 0;
    return 1;
}

static void visit_key(lister *l, const char *key, const struct stat *st)
{
    if (!starts_with(key, l->prefix))
        return;
    if (l->start[0] && (strcmp(key, l->start) <= 0 ||
                        (l->start_is_prefix && starts_with(key, l->start))))
        return;
    if (l->delimiter_len) {
        const char *rest = key + strlen(l->prefix);
        const char *d = strstr(rest, l->delimiter);
        if (d) {
            char common[SANDBOX_S3_KEY_MAX + 2];
            size_t len = (size_t)(d - key) + l->delimiter_len;
            if (len >= sizeof(common))
                return;
            memcpy(common, key, len);
            common[len] = '\0';
            if (strcmp(common, l->last_prefix) != 0)
                emit_prefix(l, common);
            return;
        }
    }
    emit_key(l, key, st);
}

static void free_entries(entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(entries[i].name);
    free(entries);
}

/* Walk folder `path` whose keys start with `key_prefix`. */
static void walk(lister *l, const char *path, const char *key_prefix)
{
    DIR *d = opendir(path);
    entry *entries = NULL;
    size_t n = 0, cap = 0;
    if (!d) {
        if (errno != ENOENT && errno != ENOTDIR)
            l->failed = 1;
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int is_dir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            is_dir = S_ISDIR(st.st_mode);
            if (!is_dir && !S_ISREG(st.st_mode))
                continue;
        } else if (!is_dir && e->d_type != DT_REG) {
            continue;
        }
        if (n == cap) {
            size_t grown_cap = cap ? cap * 2 : 32;
            entry *grown = realloc(entries, grown_cap * sizeof(*grown));
            if (!grown) {
                l->failed = 1;
                break;
            }
            entries = grown;
            cap = grown_cap;
        }
        entries[n].name = strdup(e->d_name);
        entries[n].is_dir = is_dir;
        if (!entries[n].name) {
            l->failed = 1;
            break;
        }
        n++;
    }
    closedir(d);
    if (entries)
        qsort(entries, n, sizeof(*entries), entry_cmp);
    char key[SANDBOX_S3_KEY_MAX + 2], child[4400];
    for (size_t i = 0; i < n && !l->truncated && !l->failed; i++) {
        int len = snprintf(key, sizeof(key), "%s%s%s", key_prefix, entries[i].name,
                           entries[i].is_dir ? "/" : "");
        if (len < 0 || (size_t)len >= sizeof(key))
            continue;
        snprintf(child, sizeof(child), "%s/%s", path, entries[i].name);
        if (entries[i].is_dir) {
            if (folder_relevant(l, key))
                walk(l, child, key);
        } else {
            struct stat st;
            if (stat(child, &st) == 0 && S_ISREG(st.st_mode))
                visit_key(l, key, &st);
        }
    }
    free_entries(entries, n);
}

/* Tokens are base64 of "K<key>" or "P<common prefix>": opaque to clients. */
static int decode_token(const char *token, char *out, size_t size, int *is_prefix)
{
    igtcloud__buf buf = IGTCLOUD_BUF_INIT;
    int rc = -1;
    if (igtcloud__base64_decode(&buf, token, strlen(token)) == 0 && buf.size >= 2 &&
        buf.size < size && (buf.ptr[0] == 'K' || buf.ptr[0] == 'P') &&
        !memchr(buf.ptr, '\0', buf.size)) {
        *is_prefix = buf.ptr[0] == 'P';
        memcpy(out, buf.ptr + 1, buf.size - 1);
        out[buf.size - 1] = '\0';
        rc = 0;
    }
    igtcloud__buf_dispose(&buf);
    return rc;
}

static int encode_token(igtcloud__buf *out, const char *item, int is_prefix)
{
    igtcloud__buf raw = IGTCLOUD_BUF_INIT;
    int rc = igtcloud__buf_putc(&raw, is_prefix ? 'P' : 'K');
    rc = rc ? rc : igtcloud__buf_puts(&raw, item);
    rc = rc ? rc : igtcloud__base64_encode(out, raw.ptr, raw.size);
    igtcloud__buf_dispose(&raw);
    return rc;
}

void sandbox_s3_list_objects_v2(sandbox_s3_req *req)
{
    sandbox *sb = req->sb;
    const sandbox_s3_query *q = &req->query;
    const char *prefix = sandbox_s3_query_get(q, "prefix");
    const char *delimiter = sandbox_s3_query_get(q, "delimiter");
    const char *max_text = sandbox_s3_query_get(q, "max-keys");
    const char *token = sandbox_s3_query_get(q, "continuation-token");
    const char *start_after = sandbox_s3_query_get(q, "start-after");
    const char *encoding = sandbox_s3_query_get(q, "encoding-type");
    char start[SANDBOX_S3_KEY_MAX + 2] = "";
    char root[4300], folder_prefix[SANDBOX_S3_KEY_MAX + 2];
    lister l;
    memset(&l, 0, sizeof(l));
    igtcloud__buf_init(&l.contents);
    igtcloud__buf_init(&l.prefixes);
    l.req = req;
    l.prefix = prefix ? prefix : "";
    l.delimiter = delimiter ? delimiter : "";
    l.delimiter_len = strlen(l.delimiter);
    l.max = 1000;
    l.start = start;

    if (encoding && strcmp(encoding, "url") != 0) {
        sandbox_s3_fail(req, "InvalidArgument", "Invalid Encoding Method specified in Request");
        goto done;
    }
    l.url_encode = encoding != NULL;
    if (max_text) {
        char *end = NULL;
        long max = strtol(max_text, &end, 10);
        if (!*max_text || *end || max < 0) {
            sandbox_s3_fail(req, "InvalidArgument", "Provided max-keys not an integer or "
                                                    "within integer range");
            goto done;
        }
        l.max = max > 1000 ? 1000 : (size_t)max;
    }
    if (token) {
        if (decode_token(token, start, sizeof(start), &l.start_is_prefix)) {
            sandbox_s3_fail(req, "InvalidArgument",
                            "The continuation token provided is incorrect");
            goto done;
        }
    } else if (start_after) {
        snprintf(start, sizeof(start), "%s", start_after);
    }

    /* Start at the deepest folder the prefix names. */
    const char *slash = strrchr(l.prefix, '/');
    size_t folder_len = slash ? (size_t)(slash - l.prefix) + 1 : 0;
    if (folder_len >= sizeof(folder_prefix)) {
        sandbox_s3_fail(req, "InvalidArgument", "The prefix is too long.");
        goto done;
    }
    memcpy(folder_prefix, l.prefix, folder_len);
    folder_prefix[folder_len] = '\0';
    int n = snprintf(root, sizeof(root), "%s/objects%s%.*s", sb->data_dir,
                     folder_len ? "/" : "", folder_len ? (int)folder_len - 1 : 0, l.prefix);
    if (n < 0 || (size_t)n >= sizeof(root)) {
        sandbox_s3_fail(req, "InvalidArgument", "The prefix is too long.");
        goto done;
    }
    /* A prefix with '.', '..' or empty folder segments names no folder of ours. */
    if (l.max > 0 && (!folder_len || !sandbox_object_key_problem_n(folder_prefix,
                                                                   folder_len - 1)))
        walk(&l, root, folder_prefix);
    if (l.failed) {
        sandbox_s3_fail(req, "InternalError", "The listing failed.");
        goto done;
    }

    igtcloud__buf *out = &req->resp_body;
    int rc = igtcloud__buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                     "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/"
                                     "2006-03-01/\">");
    rc = rc ? rc : igtcloud__buf_puts(out, "<Name>");
    rc = rc ? rc : sandbox_s3_xml_escape(out, sb->bucket);
    rc = rc ? rc : igtcloud__buf_puts(out, "</Name>");
    rc = rc ? rc : put_value(&l, out, "Prefix", l.prefix);
    rc = rc ? rc : igtcloud__buf_printf(out, "<KeyCount>%zu</KeyCount><MaxKeys>%zu</MaxKeys>",
                                        l.emitted, l.max);
    if (!rc && l.delimiter_len)
        rc = put_value(&l, out, "Delimiter", l.delimiter);
    rc = rc ? rc : igtcloud__buf_printf(out, "<IsTruncated>%s</IsTruncated>",
                                        l.truncated ? "true" : "false");
    if (!rc && token)
        rc = put_value(&l, out, "ContinuationToken", token);
    if (!rc && l.truncated) {
        rc = igtcloud__buf_puts(out, "<NextContinuationToken>");
        rc = rc ? rc : encode_token(out, l.last_item, l.last_is_prefix);
        rc = rc ? rc : igtcloud__buf_puts(out, "</NextContinuationToken>");
    }
    if (!rc && start_after)
        rc = put_value(&l, out, "StartAfter", start_after);
    if (!rc && l.url_encode)
        rc = igtcloud__buf_puts(out, "<EncodingType>url</EncodingType>");
    rc = rc ? rc : igtcloud__buf_put(out, l.contents.ptr ? l.contents.ptr : "", l.contents.size);
    rc = rc ? rc : igtcloud__buf_put(out, l.prefixes.ptr ? l.prefixes.ptr : "", l.prefixes.size);
    rc = rc ? rc : igtcloud__buf_puts(out, "</ListBucketResult>");
    if (rc) {
        sandbox_s3_fail(req, "InternalError", NULL);
        goto done;
    }
    sandbox_s3_xml_ok(req, 200);
done:
    igtcloud__buf_dispose(&l.contents);
    igtcloud__buf_dispose(&l.prefixes);
}
