#include "s3_parse.h"

#include "core/buf.h"
#include "s3/sigv4.h"

#include <errno.h>
#include <expat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {
    [SANDBOX_S3_OP_UNKNOWN] = "Unknown",
    [SANDBOX_S3_OP_LIST_BUCKETS] = "ListBuckets",
    [SANDBOX_S3_OP_HEAD_BUCKET] = "HeadBucket",
    [SANDBOX_S3_OP_LIST_OBJECTS_V2] = "ListObjectsV2",
    [SANDBOX_S3_OP_GET_OBJECT] = "GetObject",
    [SANDBOX_S3_OP_HEAD_OBJECT] = "HeadObject",
    [SANDBOX_S3_OP_PUT_OBJECT] = "PutObject",
    [SANDBOX_S3_OP_DELETE_OBJECT] = "DeleteObject",
    [SANDBOX_S3_OP_CREATE_MULTIPART_UPLOAD] = "CreateMultipartUpload",
    [SANDBOX_S3_OP_UPLOAD_PART] = "UploadPart",
    [SANDBOX_S3_OP_COMPLETE_MULTIPART_UPLOAD] = "CompleteMultipartUpload",
    [SANDBOX_S3_OP_ABORT_MULTIPART_UPLOAD] = "AbortMultipartUpload",
    [SANDBOX_S3_OP_LIST_PARTS] = "ListParts",
    [SANDBOX_S3_OP_NOT_IMPLEMENTED] = "NotImplemented",
};

const char *sandbox_s3_op_name(sandbox_s3_op op)
{
    if ((unsigned)op >= sizeof(op_names) / sizeof(op_names[0]))
        return "Unknown";
    return op_names[op];
}

/*
 * Percent-decode `len` bytes of `in` into out (NUL-terminated) with the
 * library's decoder. Fails (-1) on bad escapes, a NUL (raw or encoded), or
 * when out is too small.
 */
static int percent_decode(char *out, size_t out_size, const char *in, size_t len,
                          unsigned int flags)
{
    igtcloud__buf buf = IGTCLOUD_BUF_INIT;
    int rc = igtcloud__sigv4_uri_decode(&buf, in, len, flags);
    const char *text = igtcloud__buf_cstr(&buf);
    if (rc == 0 && (buf.size >= out_size || memchr(text, '\0', buf.size)))
        rc = -1;
    if (rc == 0)
        memcpy(out, text, buf.size + 1);
    igtcloud__buf_dispose(&buf);
    return rc ? -1 : 0;
}

int sandbox_s3_uri_split(const char *uri, char *bucket, size_t bucket_size, char *key,
                         size_t key_size, const char **raw_query)
{
    if (!uri || uri[0] != '/' || bucket_size == 0 || key_size == 0)
        return -1;
    const char *q = strchr(uri, '?');
    size_t path_len = q ? (size_t)(q - uri) : strlen(uri);
    *raw_query = q ? q + 1 : "";
    const char *p = uri + 1;
    const char *end = uri + path_len;
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *bucket_end = slash ? slash : end;
    if (percent_decode(bucket, bucket_size, p, (size_t)(bucket_end - p), 0))
        return -1;
    if (strchr(bucket, '/'))
        return -1;
    key[0] = '\0';
    if (slash && percent_decode(key, key_size, slash + 1, (size_t)(end - slash - 1), 0))
        return -1;
    return 0;
}

int sandbox_s3_query_parse(sandbox_s3_query *q, const char *raw)
{
    q->count = 0;
    size_t used = 0;
    const char *p = raw;
    while (*p) {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        if (end > p) {
            const char *eq = memchr(p, '=', (size_t)(end - p));
            const char *name_end = eq ? eq : end;
            if (q->count >= SANDBOX_S3_MAX_QUERY)
                return -1;
            char *name = q->storage + used;
            if (percent_decode(name, sizeof(q->storage) - used, p, (size_t)(name_end - p),
                               IGTCLOUD__URI_PLUS_IS_SPACE))
                return -1;
            used += strlen(name) + 1;
            char *value = q->storage + used;
            if (percent_decode(value, sizeof(q->storage) - used, eq ? eq + 1 : end,
                               eq ? (size_t)(end - eq - 1) : 0, IGTCLOUD__URI_PLUS_IS_SPACE))
                return -1;
            used += strlen(value) + 1;
            q->names[q->count] = name;
            q->values[q->count] = value;
            q->count++;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

const char *sandbox_s3_query_get(const sandbox_s3_query *q, const char *name)
{
    for (size_t i = 0; i < q->count; i++)
        if (strcmp(q->names[i], name) == 0)
            return q->values[i];
    return NULL;
}

/* Sub-resources we do not offer; S3 answers them, so refuse them explicitly. */
static int has_unsupported_subresource(const sandbox_s3_query *q)
{
    static const char *const names[] = {
        "acl", "tagging", "versioning", "versions", "policy", "cors", "lifecycle",
        "location", "website", "logging", "notification", "replication", "encryption",
        "object-lock", "retention", "legal-hold", "torrent", "restore", "select",
        "attributes", "delete", "uploads",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (sandbox_s3_query_get(q, names[i]))
            return 1;
    return 0;
}

sandbox_s3_op sandbox_s3_classify(const char *method, const char *bucket, const char *key,
                                  const sandbox_s3_query *q, int has_copy_source)
{
    int is_get = strcmp(method, "GET") == 0, is_head = strcmp(method, "HEAD") == 0;
    int is_put = strcmp(method, "PUT") == 0, is_post = strcmp(method, "POST") == 0;
    int is_delete = strcmp(method, "DELETE") == 0;
    const char *upload_id = sandbox_s3_query_get(q, "uploadId");

    if (!bucket[0])
        return is_get ? SANDBOX_S3_OP_LIST_BUCKETS : SANDBOX_S3_OP_UNKNOWN;
    if (!key[0]) {
        if (is_head)
            return SANDBOX_S3_OP_HEAD_BUCKET;
        if (is_get && !has_unsupported_subresource(q)) {
            const char *list_type = sandbox_s3_query_get(q, "list-type");
            /* ListObjects (v1) shares the path; only v2 is offered. */
            return list_type && strcmp(list_type, "2") == 0 ? SANDBOX_S3_OP_LIST_OBJECTS_V2
                                                             : SANDBOX_S3_OP_NOT_IMPLEMENTED;
        }
        return is_get || is_put || is_post || is_delete ? SANDBOX_S3_OP_NOT_IMPLEMENTED
                                                        : SANDBOX_S3_OP_UNKNOWN;
    }
    if (is_post && sandbox_s3_query_get(q, "uploads") && !upload_id)
        return SANDBOX_S3_OP_CREATE_MULTIPART_UPLOAD;
    if (upload_id) {
        if (is_put && sandbox_s3_query_get(q, "partNumber") && !has_copy_source)
            return SANDBOX_S3_OP_UPLOAD_PART;
        if (is_post)
            return SANDBOX_S3_OP_COMPLETE_MULTIPART_UPLOAD;
        if (is_delete)
            return SANDBOX_S3_OP_ABORT_MULTIPART_UPLOAD;
        if (is_get)
            return SANDBOX_S3_OP_LIST_PARTS;
        return SANDBOX_S3_OP_NOT_IMPLEMENTED;
    }
    if (has_unsupported_subresource(q))
        return SANDBOX_S3_OP_NOT_IMPLEMENTED;
    if (is_get)
        return SANDBOX_S3_OP_GET_OBJECT;
    if (is_head)
        return SANDBOX_S3_OP_HEAD_OBJECT;
    if (is_put)
        return has_copy_source ? SANDBOX_S3_OP_NOT_IMPLEMENTED : SANDBOX_S3_OP_PUT_OBJECT;
    if (is_delete)
        return SANDBOX_S3_OP_DELETE_OBJECT;
    return is_post ? SANDBOX_S3_OP_NOT_IMPLEMENTED : SANDBOX_S3_OP_UNKNOWN;
}

/* Parse a decimal without sign or whitespace; -1 when it is not one. */
static int parse_decimal(const char *p, const char *end, unsigned long long *out)
{
    if (p == end)
        return -1;
    unsigned long long v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (v > (~0ULL - 9) / 10)
            return -1;
        v = v * 10 + (unsigned long long)(*p - '0');
    }
    *out = v;
    return 0;
}

sandbox_s3_range_result sandbox_s3_parse_range(const char *header, unsigned long long size,
                                               unsigned long long *first,
                                               unsigned long long *last)
{
    if (!header)
        return SANDBOX_S3_RANGE_NONE;
    while (*header == ' ' || *header == '\t')
        header++;
    if (strncmp(header, "bytes=", 6) != 0)
        return SANDBOX_S3_RANGE_NONE;
    const char *spec = header + 6;
    const char *end = spec + strlen(spec);
    while (end > spec && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (memchr(spec, ',', (size_t)(end - spec)))
        return SANDBOX_S3_RANGE_NONE;
    const char *dash = memchr(spec, '-', (size_t)(end - spec));
    if (!dash)
        return SANDBOX_S3_RANGE_NONE;
    unsigned long long a = 0, b = 0;
    if (dash == spec) {
        /* Suffix range: the last b bytes. */
        if (parse_decimal(dash + 1, end, &b))
            return SANDBOX_S3_RANGE_NONE;
        if (b == 0 || size == 0)
            return SANDBOX_S3_RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return SANDBOX_S3_RANGE_OK;
    }
    if (parse_decimal(spec, dash, &a))
        return SANDBOX_S3_RANGE_NONE;
    if (dash + 1 == end) {
        b = ~0ULL;
    } else if (parse_decimal(dash + 1, end, &b) || b < a) {
        return SANDBOX_S3_RANGE_NONE;
    }
    if (a >= size)
        return SANDBOX_S3_RANGE_UNSATISFIABLE;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return SANDBOX_S3_RANGE_OK;
}

void sandbox_s3_etag_unquote(char *out, size_t out_size, const char *etag)
{
    if (out_size == 0)
        return;
    const char *p = etag;
    if (strncmp(p, "W/", 2) == 0)
        p += 2;
    size_t len = strlen(p);
    if (len >= 2 && p[0] == '"' && p[len - 1] == '"') {
        p++;
        len -= 2;
    } else if (len >= 12 && strncmp(p, "&quot;", 6) == 0 &&
               strcmp(p + len - 6, "&quot;") == 0) {
        p += 6;
        len -= 12;
    }
    if (len >= out_size)
        len = out_size - 1;
    memcpy(out, p, len);
    out[len] = '\0';
}

/* Expat state for CompleteMultipartUpload: Root > Part > (PartNumber|ETag|ChecksumCRC32C). */
struct complete_parse {
    XML_Parser parser;
    int depth;
    int in_part;
    int field;            /* 1 PartNumber, 2 ETag, 3 ChecksumCRC32C, 0 other */
    int failed;
    char text[96];
    size_t text_len;
    int text_overflow;
    int have_number, have_etag;
    sandbox_s3_part_ref current;
    sandbox_s3_part_ref *parts;
    size_t count, cap;
};

static void fail_parse(struct complete_parse *c)
{
    c->failed = 1;
    XML_StopParser(c->parser, XML_FALSE);
}

static void XMLCALL on_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    struct complete_parse *c = data;
    c->depth++;
    if (c->depth == 1) {
        if (strcmp(name, "CompleteMultipartUpload") != 0)
            fail_parse(c);
    } else if (c->depth == 2 && strcmp(name, "Part") == 0) {
        c->in_part = 1;
        c->have_number = c->have_etag = 0;
        memset(&c->current, 0, sizeof(c->current));
    } else if (c->depth == 3 && c->in_part) {
        if (strcmp(name, "PartNumber") == 0)
            c->field = 1;
        else if (strcmp(name, "ETag") == 0)
            c->field = 2;
        else
            c->field = strcmp(name, "ChecksumCRC32C") == 0 ? 3 : 0;
        c->text_len = 0;
        c->text_overflow = 0;
    }
}

static void XMLCALL on_text(void *data, const XML_Char *s, int len)
{
    struct complete_parse *c = data;
    if (c->depth != 3 || !c->in_part || !c->field || len <= 0)
        return;
    if (c->text_len + (size_t)len >= sizeof(c->text)) {
        c->text_overflow = 1;
        return;
    }
    memcpy(c->text + c->text_len, s, (size_t)len);
    c->text_len += (size_t)len;
}

static void trim(char *s)
{
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\r' ||
                   s[len - 1] == '\t'))
        s[--len] = '\0';
    size_t skip = strspn(s, " \n\r\t");
    memmove(s, s + skip, len - skip + 1);
}

static void finish_field(struct complete_parse *c)
{
    if (c->text_overflow && c->field == 3) {
        /* Not a CRC32C: it matches no part's (and was ignored before it was read). */
        snprintf(c->current.crc32c, sizeof(c->current.crc32c), "%s", "?");
        return;
    }
    if (c->text_overflow) {
        fail_parse(c);
        return;
    }
    c->text[c->text_len] = '\0';
    trim(c->text);
    if (c->field == 1) {
        unsigned long long n = 0;
        if (parse_decimal(c->text, c->text + strlen(c->text), &n) || n < 1 ||
            n > SANDBOX_S3_MAX_PARTS) {
            fail_parse(c);
            return;
        }
        c->current.number = (int)n;
        c->have_number = 1;
    } else if (c->field == 2) {
        sandbox_s3_etag_unquote(c->current.etag, sizeof(c->current.etag), c->text);
        c->have_etag = 1;
    } else {
        /* Compared with the part's stored CRC32C later; a value cut short never matches one. */
        size_t len = strlen(c->text);
        if (len >= sizeof(c->current.crc32c))
            len = sizeof(c->current.crc32c) - 1;
        memcpy(c->current.crc32c, c->text, len);
        c->current.crc32c[len] = '\0';
    }
}

static void XMLCALL on_end(void *data, const XML_Char *name)
{
    (void)name;
    struct complete_parse *c = data;
    if (c->depth == 3 && c->in_part && c->field) {
        finish_field(c);
        c->field = 0;
    } else if (c->depth == 2 && c->in_part) {
        c->in_part = 0;
        if (!c->have_number || !c->have_etag || c->count >= SANDBOX_S3_MAX_PARTS) {
            fail_parse(c);
        } else {
            if (c->count == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 16;
                sandbox_s3_part_ref *grown = realloc(c->parts, cap * sizeof(*grown));
                if (!grown) {
                    fail_parse(c);
                    c->depth--;
                    return;
                }
                c->parts = grown;
                c->cap = cap;
            }
            c->parts[c->count++] = c->current;
        }
    }
    c->depth--;
}

int sandbox_s3_parse_complete(sandbox_s3_part_ref **out, size_t *count, const char *xml,
                              size_t len)
{
    struct complete_parse c;
    memset(&c, 0, sizeof(c));
    int rc = -1;
    if (len > (size_t)INT32_MAX)
        return -1;
    c.parser = XML_ParserCreate("UTF-8");
    if (!c.parser)
        return -1;
    XML_SetUserData(c.parser, &c);
    XML_SetElementHandler(c.parser, on_start, on_end);
    XML_SetCharacterDataHandler(c.parser, on_text);
    if (XML_Parse(c.parser, xml, (int)len, XML_TRUE) != XML_STATUS_OK || c.failed ||
        c.count == 0)
        goto done;
    *out = c.parts;
    *count = c.count;
    c.parts = NULL;
    rc = 0;
done:
    XML_ParserFree(c.parser);
    free(c.parts);
    return rc;
}
