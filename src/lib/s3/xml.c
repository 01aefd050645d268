/*
 * S3 XML with expat: a small driver tracks the path of open elements
 * ("/ListBucketResult/Contents/Key") and the text of the innermost one, and
 * each document type maps paths to struct fields. Bounds are enforced as the
 * bytes arrive, so a hostile answer costs no more than its own size.
 */
#include "s3/xml.h"

#include "core/error.h"
#include "core/isotime.h"

#include <expat.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ELEMENTS 200000
#define MAX_NAME 64

struct doc;
typedef int (*start_fn)(struct doc *d, void *target);
typedef int (*end_fn)(struct doc *d, void *target, const char *text, size_t len);

struct doc {
    XML_Parser parser;
    igtcloud__buf path;                          /* "/Root/Child" of the open elements */
    size_t lens[IGTCLOUD_XML_MAX_DEPTH + 1];     /* path length before each level */
    int depth;
    igtcloud__buf text;                          /* text of the innermost element */
    size_t elements;
    int rc;                                      /* first failure; stops the parser */
    const char *root;                            /* the expected root element */
    int root_is_error;
    igtcloud__xml_error error;                   /* collected when the root is <Error> */
    start_fn on_start;
    end_fn on_end;
    void *target;
};

static void fail(struct doc *d, int rc)
{
    if (!d->rc)
        d->rc = rc;
    XML_StopParser(d->parser, XML_FALSE);
}

static int path_is(const struct doc *d, const char *path)
{
    return strcmp(igtcloud__buf_cstr(&d->path), path) == 0;
}

/* ---- field converters ---- */

static int set_string(const struct doc *d, char **field, const char *text, size_t len)
{
    if (*field)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "XML element %.128s is given twice",
                                   igtcloud__buf_cstr(&d->path));
    char *copy = malloc(len + 1);
    if (!copy)
        return igtcloud__error_oom();
    memcpy(copy, text, len);
    copy[len] = '\0';
    *field = copy;
    return 0;
}

static int set_u64(const struct doc *d, uint64_t *out, const char *text, size_t len)
{
    uint64_t v = 0;
    int ok = len > 0 && len <= 20;
    for (size_t i = 0; i < len && ok; i++) {
        unsigned digit = (unsigned)(text[i] - '0');
        ok = digit <= 9 && v <= (UINT64_MAX - digit) / 10;
        v = v * 10 + digit;
    }
    if (!ok)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "XML element %.128s is not a size: '%.32s'",
                                   igtcloud__buf_cstr(&d->path), text);
    *out = v;
    return 0;
}

static int set_int(const struct doc *d, long *out, const char *text, size_t len, long min, long max)
{
    uint64_t v = 0;
    if (set_u64(d, &v, text, len))
        return IGTCLOUD_EPROTO;
    if (v < (uint64_t)min || v > (uint64_t)max)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "XML element %.128s is out of range: %.32s",
                                   igtcloud__buf_cstr(&d->path), text);
    *out = (long)v;
    return 0;
}

static int set_bool(const struct doc *d, int *out, const char *text, size_t len)
{
    if (len == 4 && memcmp(text, "true", 4) == 0)
        *out = 1;
    else if (len == 5 && memcmp(text, "false", 5) == 0)
        *out = 0;
    else
        return igtcloud__error_set(IGTCLOUD_EPROTO, "XML element %.128s is not true or false",
                                   igtcloud__buf_cstr(&d->path));
    return 0;
}

/* Append one zeroed item to a bounded array that grows by doubling. */
static int grow_array(void **items, size_t *count, size_t *cap, size_t item_size, const char *what)
{
    if (*count >= IGTCLOUD_XML_MAX_ITEMS)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "more than %d %s in one S3 answer",
                                   IGTCLOUD_XML_MAX_ITEMS, what);
    if (*count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        void *p = realloc(*items, ncap * item_size);
        if (!p)
            return igtcloud__error_oom();
        *items = p;
        *cap = ncap;
    }
    memset((char *)*items + *count * item_size, 0, item_size);
    (*count)++;
    return 0;
}

/* ---- the expat driver ---- */

static int error_end(struct doc *d, void *target, const char *text, size_t len);

static void XMLCALL on_start(void *user, const XML_Char *name, const XML_Char **attrs)
{
    struct doc *d = user;
    (void)attrs;
    if (d->rc)
        return;
    /* S3 uses a default namespace; tolerate a prefix by keeping the local name. */
    const char *local = strrchr(name, ':');
    local = local ? local + 1 : name;
    size_t len = strlen(local);
    if (++d->elements > MAX_ELEMENTS) {
        fail(d, igtcloud__error_set(IGTCLOUD_EPROTO, "more than %d XML elements", MAX_ELEMENTS));
        return;
    }
    if (d->depth >= IGTCLOUD_XML_MAX_DEPTH) {
        fail(d, igtcloud__error_set(IGTCLOUD_EPROTO, "XML nested deeper than %d levels",
                                    IGTCLOUD_XML_MAX_DEPTH));
        return;
    }
    if (len == 0 || len > MAX_NAME) {
        fail(d, igtcloud__error_set(IGTCLOUD_EPROTO, "XML element name is empty or too long"));
        return;
    }
    d->lens[d->depth++] = d->path.size;
    int rc = igtcloud__buf_putc(&d->path, '/');
    if (!rc)
        rc = igtcloud__buf_put(&d->path, local, len);
    igtcloud__buf_clear(&d->text);
    if (!rc && d->depth == 1 && strcmp(local, d->root) != 0) {
        if (strcmp(local, "Error") == 0) {
            /* Any S3 answer can be an error document, even with status 200. */
            d->root_is_error = 1;
            d->on_start = NULL;
            d->on_end = error_end;
            d->target = &d->error;
        } else {
            rc = igtcloud__error_set(IGTCLOUD_EPROTO, "expected an S3 <%s> document, got <%.64s>",
                                     d->root, local);
        }
    }
    if (!rc && d->on_start)
        rc = d->on_start(d, d->target);
    if (rc)
        fail(d, rc);
}

static void XMLCALL on_end(void *user, const XML_Char *name)
{
    struct doc *d = user;
    (void)name;
    if (d->rc)
        return;
    int rc = d->on_end ? d->on_end(d, d->target, igtcloud__buf_cstr(&d->text), d->text.size) : 0;
    igtcloud__buf_clear(&d->text);
    d->path.size = d->lens[--d->depth];
    d->path.ptr[d->path.size] = '\0';
    if (rc)
        fail(d, rc);
}

static void XMLCALL on_text(void *user, const XML_Char *s, int len)
{
    struct doc *d = user;
    if (d->rc || len <= 0)
        return;
    if (d->text.size + (size_t)len > IGTCLOUD_XML_MAX_TEXT) {
        fail(d, igtcloud__error_set(IGTCLOUD_EPROTO, "XML text of %.128s is longer than %u bytes",
                                    igtcloud__buf_cstr(&d->path), IGTCLOUD_XML_MAX_TEXT));
        return;
    }
    int rc = igtcloud__buf_put(&d->text, s, (size_t)len);
    if (rc)
        fail(d, rc);
}

/* No S3 answer has a DOCTYPE; refusing it rules out entity expansion tricks. */
static void XMLCALL on_doctype(void *user, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    fail(user, igtcloud__error_set(IGTCLOUD_EPROTO, "XML with a DOCTYPE is refused"));
}

static int run(const char *root, start_fn start, end_fn end, void *target,
               const char *data, size_t len)
{
    struct doc d;
    memset(&d, 0, sizeof(d));
    igtcloud__buf_init(&d.path);
    igtcloud__buf_init(&d.text);
    d.root = root;
    d.on_start = start;
    d.on_end = end;
    d.target = target;
    if (!data || len == 0)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "S3 sent an empty body where XML was expected");
    if (len > IGTCLOUD_XML_MAX_DOCUMENT)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "S3 XML answer is larger than %u bytes",
                                   IGTCLOUD_XML_MAX_DOCUMENT);
    d.parser = XML_ParserCreate(NULL);
    if (!d.parser)
        return igtcloud__error_oom();
    XML_SetUserData(d.parser, &d);
    XML_SetElementHandler(d.parser, on_start, on_end);
    XML_SetCharacterDataHandler(d.parser, on_text);
    XML_SetStartDoctypeDeclHandler(d.parser, on_doctype);
    if (XML_Parse(d.parser, data, (int)len, XML_TRUE) == XML_STATUS_ERROR && !d.rc)
        d.rc = igtcloud__error_set(IGTCLOUD_EPROTO, "malformed S3 XML at line %lu: %s",
                                   (unsigned long)XML_GetCurrentLineNumber(d.parser),
                                   XML_ErrorString(XML_GetErrorCode(d.parser)));
    if (!d.rc && d.root_is_error)
        d.rc = igtcloud__error_set(IGTCLOUD_EPROTO, "S3 answered with an error: %.64s: %.200s",
                                   d.error.code ? d.error.code : "(no code)",
                                   d.error.message ? d.error.message : "");
    XML_ParserFree(d.parser);
    igtcloud__buf_dispose(&d.path);
    igtcloud__buf_dispose(&d.text);
    igtcloud__xml_error_dispose(&d.error);
    return d.rc;
}

/* ---- <Error> ---- */

static int error_end(struct doc *d, void *target, const char *text, size_t len)
{
    igtcloud__xml_error *e = target;
    if (path_is(d, "/Error/Code"))
        return set_string(d, &e->code, text, len);
    if (path_is(d, "/Error/Message"))
        return set_string(d, &e->message, text, len);
    if (path_is(d, "/Error/RequestId"))
        return set_string(d, &e->request_id, text, len);
    if (path_is(d, "/Error/HostId"))
        return set_string(d, &e->host_id, text, len);
    if (path_is(d, "/Error/Region"))
        return set_string(d, &e->region, text, len);
    if (path_is(d, "/Error/Endpoint"))
        return set_string(d, &e->endpoint, text, len);
    return 0;
}

void igtcloud__xml_error_dispose(igtcloud__xml_error *err)
{
    if (!err)
        return;
    free(err->code);
    free(err->message);
    free(err->request_id);
    free(err->host_id);
    free(err->region);
    free(err->endpoint);
    memset(err, 0, sizeof(*err));
}

int igtcloud__xml_parse_error(igtcloud__xml_error *out, const char *data, size_t len)
{
    igtcloud__xml_error e = IGTCLOUD__XML_ERROR_INIT;
    int rc = run("Error", NULL, error_end, &e, data, len);
    if (!rc && !e.code)
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "S3 error document has no Code");
    if (rc) {
        igtcloud__xml_error_dispose(&e);
        return rc;
    }
    igtcloud__xml_error_dispose(out);
    *out = e;
    return 0;
}

/* ---- <InitiateMultipartUploadResult> ---- */

static int initiate_end(struct doc *d, void *target, const char *text, size_t len)
{
    igtcloud__xml_initiate *r = target;
    if (path_is(d, "/InitiateMultipartUploadResult/Bucket"))
        return set_string(d, &r->bucket, text, len);
    if (path_is(d, "/InitiateMultipartUploadResult/Key"))
        return set_string(d, &r->key, text, len);
    if (path_is(d, "/InitiateMultipartUploadResult/UploadId"))
        return set_string(d, &r->upload_id, text, len);
    return 0;
}

void igtcloud__xml_initiate_dispose(igtcloud__xml_initiate *res)
{
    if (!res)
        return;
    free(res->bucket);
    free(res->key);
    free(res->upload_id);
    memset(res, 0, sizeof(*res));
}

int igtcloud__xml_parse_initiate(igtcloud__xml_initiate *out, const char *data, size_t len)
{
    igtcloud__xml_initiate r = IGTCLOUD__XML_INITIATE_INIT;
    int rc = run("InitiateMultipartUploadResult", NULL, initiate_end, &r, data, len);
    if (!rc && (!r.upload_id || !*r.upload_id))
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "InitiateMultipartUploadResult has no UploadId");
    if (rc) {
        igtcloud__xml_initiate_dispose(&r);
        return rc;
    }
    igtcloud__xml_initiate_dispose(out);
    *out = r;
    return 0;
}

/* ---- <CompleteMultipartUploadResult> ---- */

static int complete_end(struct doc *d, void *target, const char *text, size_t len)
{
    igtcloud__xml_complete *r = target;
    if (path_is(d, "/CompleteMultipartUploadResult/Location"))
        return set_string(d, &r->location, text, len);
    if (path_is(d, "/CompleteMultipartUploadResult/Bucket"))
        return set_string(d, &r->bucket, text, len);
    if (path_is(d, "/CompleteMultipartUploadResult/Key"))
        return set_string(d, &r->key, text, len);
    if (path_is(d, "/CompleteMultipartUploadResult/ETag"))
        return set_string(d, &r->etag, text, len);
    return 0;
}

void igtcloud__xml_complete_dispose(igtcloud__xml_complete *res)
{
    if (!res)
        return;
    free(res->location);
    free(res->bucket);
    free(res->key);
    free(res->etag);
    memset(res, 0, sizeof(*res));
}

int igtcloud__xml_parse_complete(igtcloud__xml_complete *out, const char *data, size_t len)
{
    igtcloud__xml_complete r = IGTCLOUD__XML_COMPLETE_INIT;
    int rc = run("CompleteMultipartUploadResult", NULL, complete_end, &r, data, len);
    if (!rc && (!r.etag || !*r.etag))
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "CompleteMultipartUploadResult has no ETag");
    if (rc) {
        igtcloud__xml_complete_dispose(&r);
        return rc;
    }
    igtcloud__xml_complete_dispose(out);
    *out = r;
    return 0;
}

/* ---- <ListPartsResult> ---- */

enum { SEEN_NUMBER = 1, SEEN_ETAG = 2, SEEN_SIZE = 4, SEEN_KEY = 8 };

struct parts_state {
    igtcloud__xml_parts *res;
    size_t cap;
    unsigned seen;     /* fields of the current <Part> */
    int has_marker;
};

static int parts_start(struct doc *d, void *target)
{
    struct parts_state *st = target;
    if (!path_is(d, "/ListPartsResult/Part"))
        return 0;
    st->seen = 0;
    return grow_array((void **)&st->res->parts, &st->res->count, &st->cap,
                      sizeof(*st->res->parts), "parts");
}

static int parts_end(struct doc *d, void *target, const char *text, size_t len)
{
    struct parts_state *st = target;
    igtcloud__xml_parts *r = st->res;
    igtcloud__xml_part *part = r->count ? &r->parts[r->count - 1] : NULL;
    long v = 0;
    int rc = 0;
    if (path_is(d, "/ListPartsResult/UploadId"))
        return set_string(d, &r->upload_id, text, len);
    if (path_is(d, "/ListPartsResult/ChecksumAlgorithm"))
        return set_string(d, &r->checksum_algorithm, text, len);
    if (path_is(d, "/ListPartsResult/Part/ChecksumCRC32C"))
        return set_string(d, &part->checksum_crc32c, text, len);
    if (path_is(d, "/ListPartsResult/IsTruncated"))
        return set_bool(d, &r->is_truncated, text, len);
    if (path_is(d, "/ListPartsResult/NextPartNumberMarker")) {
        rc = set_int(d, &v, text, len, 0, IGTCLOUD_XML_MAX_PART_NUMBER);
        r->next_part_number_marker = (int)v;
        st->has_marker = !rc;
        return rc;
    }
    if (path_is(d, "/ListPartsResult/Part/PartNumber")) {
        rc = set_int(d, &v, text, len, 1, IGTCLOUD_XML_MAX_PART_NUMBER);
        part->part_number = (int)v;
        st->seen |= SEEN_NUMBER;
        return rc;
    }
    if (path_is(d, "/ListPartsResult/Part/ETag")) {
        st->seen |= SEEN_ETAG;
        return set_string(d, &part->etag, text, len);
    }
    if (path_is(d, "/ListPartsResult/Part/Size")) {
        st->seen |= SEEN_SIZE;
        return set_u64(d, &part->size, text, len);
    }
    if (path_is(d, "/ListPartsResult/Part") && st->seen != (SEEN_NUMBER | SEEN_ETAG | SEEN_SIZE))
        return igtcloud__error_set(IGTCLOUD_EPROTO,
                                   "ListPartsResult has a Part without PartNumber, ETag or Size");
    return 0;
}

void igtcloud__xml_parts_dispose(igtcloud__xml_parts *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->count; i++) {
        free(res->parts[i].etag);
        free(res->parts[i].checksum_crc32c);
    }
    free(res->parts);
    free(res->upload_id);
    free(res->checksum_algorithm);
    memset(res, 0, sizeof(*res));
}

int igtcloud__xml_parse_list_parts(igtcloud__xml_parts *out, const char *data, size_t len)
{
    igtcloud__xml_parts r = IGTCLOUD__XML_PARTS_INIT;
    struct parts_state st = { &r, 0, 0, 0 };
    int rc = run("ListPartsResult", parts_start, parts_end, &st, data, len);
    /* Without a marker, a client following the pages would loop forever. */
    if (!rc && r.is_truncated && (!st.has_marker || r.next_part_number_marker == 0))
        rc = igtcloud__error_set(IGTCLOUD_EPROTO,
                                 "ListPartsResult is truncated but has no NextPartNumberMarker");
    if (rc) {
        igtcloud__xml_parts_dispose(&r);
        return rc;
    }
    igtcloud__xml_parts_dispose(out);
    *out = r;
    return 0;
}

/* ---- <ListBucketResult> (ListObjectsV2) ---- */

struct listing_state {
    igtcloud__xml_listing *res;
    size_t cap;
    size_t prefix_cap;
    unsigned seen;     /* fields of the current <Contents> */
};

static int listing_start(struct doc *d, void *target)
{
    struct listing_state *st = target;
    if (!path_is(d, "/ListBucketResult/Contents"))
        return 0;
    st->seen = 0;
    return grow_array((void **)&st->res->objects, &st->res->count, &st->cap,
                      sizeof(*st->res->objects), "objects");
}

static int listing_end(struct doc *d, void *target, const char *text, size_t len)
{
    struct listing_state *st = target;
    igtcloud__xml_listing *r = st->res;
    igtcloud__xml_object *obj = r->count ? &r->objects[r->count - 1] : NULL;
    int rc = 0;
    if (path_is(d, "/ListBucketResult/Name"))
        return set_string(d, &r->name, text, len);
    if (path_is(d, "/ListBucketResult/Prefix"))
        return set_string(d, &r->prefix, text, len);
    if (path_is(d, "/ListBucketResult/IsTruncated"))
        return set_bool(d, &r->is_truncated, text, len);
    if (path_is(d, "/ListBucketResult/NextContinuationToken"))
        return set_string(d, &r->next_continuation_token, text, len);
    if (path_is(d, "/ListBucketResult/KeyCount"))
        return set_int(d, &r->key_count, text, len, 0, 2 * IGTCLOUD_XML_MAX_ITEMS);
    if (path_is(d, "/ListBucketResult/CommonPrefixes/Prefix")) {
        rc = grow_array((void **)&r->common_prefixes, &r->prefix_count, &st->prefix_cap,
                        sizeof(*r->common_prefixes), "common prefixes");
        return rc ? rc : set_string(d, &r->common_prefixes[r->prefix_count - 1], text, len);
    }
    if (path_is(d, "/ListBucketResult/Contents/Key")) {
        st->seen |= SEEN_KEY;
        return set_string(d, &obj->key, text, len);
    }
    if (path_is(d, "/ListBucketResult/Contents/Size")) {
        st->seen |= SEEN_SIZE;
        return set_u64(d, &obj->size, text, len);
    }
    if (path_is(d, "/ListBucketResult/Contents/ETag"))
        return set_string(d, &obj->etag, text, len);
    if (path_is(d, "/ListBucketResult/Contents/LastModified")) {
        rc = set_string(d, &obj->last_modified, text, len);
        if (!rc && igtcloud__isotime_parse(&obj->mtime, NULL, obj->last_modified))
            rc = igtcloud__error_set(IGTCLOUD_EPROTO, "LastModified is not an ISO 8601 time: '%.40s'",
                                     obj->last_modified);
        return rc;
    }
    if (path_is(d, "/ListBucketResult/Contents") && st->seen != (SEEN_KEY | SEEN_SIZE))
        return igtcloud__error_set(IGTCLOUD_EPROTO, "ListBucketResult has Contents without Key or Size");
    return 0;
}

void igtcloud__xml_listing_dispose(igtcloud__xml_listing *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->count; i++) {
        free(res->objects[i].key);
        free(res->objects[i].etag);
        free(res->objects[i].last_modified);
    }
    for (size_t i = 0; i < res->prefix_count; i++)
        free(res->common_prefixes[i]);
    free(res->objects);
    free(res->common_prefixes);
    free(res->name);
    free(res->prefix);
    free(res->next_continuation_token);
    igtcloud__xml_listing empty = IGTCLOUD__XML_LISTING_INIT;
    *res = empty;
}

int igtcloud__xml_parse_list_objects(igtcloud__xml_listing *out, const char *data, size_t len)
{
    igtcloud__xml_listing r = IGTCLOUD__XML_LISTING_INIT;
    struct listing_state st = { &r, 0, 0, 0 };
    int rc = run("ListBucketResult", listing_start, listing_end, &st, data, len);
    if (!rc && r.is_truncated && (!r.next_continuation_token || !*r.next_continuation_token))
        rc = igtcloud__error_set(IGTCLOUD_EPROTO,
                                 "ListBucketResult is truncated but has no NextContinuationToken");
    if (rc) {
        igtcloud__xml_listing_dispose(&r);
        return rc;
    }
    igtcloud__xml_listing_dispose(out);
    *out = r;
    return 0;
}

/* ---- writers ---- */

/* Length of the valid UTF-8 sequence at s (XML 1.0 characters only), or 0. */
static size_t xml_char_len(const unsigned char *s, size_t len)
{
    unsigned c = s[0];
    if (c < 0x80)
        return (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') ? 1 : 0;
    size_t n;
    unsigned cp, min;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2; cp = c & 0x1f; min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3; cp = c & 0x0f; min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4; cp = c & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
        return 0;
    return n;
}

int igtcloud__xml_escape(igtcloud__buf *out, const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        size_t n = xml_char_len(s + i, len - i);
        if (n == 0)
            return igtcloud__error_set(IGTCLOUD_EINVALID,
                                       "text at byte %zu cannot be carried in XML 1.0", i);
        i += n;
    }
    int rc = len ? igtcloud__buf_grow(out, len) : 0;
    for (size_t i = 0; i < len && !rc; i++) {
        switch (text[i]) {
        case '&': rc = igtcloud__buf_puts(out, "&amp;"); break;
        case '<': rc = igtcloud__buf_puts(out, "&lt;"); break;
        case '>': rc = igtcloud__buf_puts(out, "&gt;"); break;
        case '"': rc = igtcloud__buf_puts(out, "&quot;"); break;
        case '\'': rc = igtcloud__buf_puts(out, "&apos;"); break;
        /* A raw CR would be read back as LF. */
        case '\r': rc = igtcloud__buf_puts(out, "&#13;"); break;
        default: rc = igtcloud__buf_putc(out, text[i]); break;
        }
    }
    return rc;
}

int igtcloud__xml_put_element(igtcloud__buf *out, const char *name, const char *text)
{
    size_t mark = out->size;
    int rc = igtcloud__buf_printf(out, "<%s>", name);
    if (!rc)
        rc = igtcloud__xml_escape(out, text ? text : "", text ? strlen(text) : 0);
    if (!rc)
        rc = igtcloud__buf_printf(out, "</%s>", name);
    /* Leave no half element behind. */
    if (rc && out->ptr) {
        out->size = mark;
        out->ptr[mark] = '\0';
    }
    return rc;
}

int igtcloud__xml_write_complete(igtcloud__buf *out, const igtcloud__xml_part *parts,
                                 size_t count)
{
    if (count == 0 || count > IGTCLOUD_XML_MAX_PART_NUMBER || !parts)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "a multipart upload has 1 to %d parts",
                                   IGTCLOUD_XML_MAX_PART_NUMBER);
    for (size_t i = 0; i < count; i++) {
        if (parts[i].part_number < 1 || parts[i].part_number > IGTCLOUD_XML_MAX_PART_NUMBER ||
            (i > 0 && parts[i].part_number <= parts[i - 1].part_number))
            return igtcloud__error_set(IGTCLOUD_EINVALID,
                                       "part numbers must be 1 to %d in ascending order",
                                       IGTCLOUD_XML_MAX_PART_NUMBER);
        if (!parts[i].etag || !*parts[i].etag)
            return igtcloud__error_set(IGTCLOUD_EINVALID, "part %d has no ETag",
                                       parts[i].part_number);
    }
    size_t mark = out->size;
    int rc = igtcloud__buf_puts(out, "<CompleteMultipartUpload "
                                     "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (size_t i = 0; i < count && !rc; i++) {
        rc = igtcloud__buf_printf(out, "<Part><PartNumber>%d</PartNumber>", parts[i].part_number);
        if (!rc)
            rc = igtcloud__xml_put_element(out, "ETag", parts[i].etag);
        if (!rc)
            rc = igtcloud__buf_puts(out, "</Part>");
    }
    if (!rc)
        rc = igtcloud__buf_puts(out, "</CompleteMultipartUpload>");
    if (rc && out->ptr) {
        out->size = mark;
        out->ptr[mark] = '\0';
    }
    return rc;
}
