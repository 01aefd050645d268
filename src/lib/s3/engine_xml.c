#include "s3/engine_xml.h"

#include <expat.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "s3/wire.h"

struct scan {
    igtcloud__s3_error_body *out;
    int depth;
    char *target;       /* field receiving text, or NULL */
    size_t target_size;
    size_t used;
};

static const char *local_name(const char *name)
{
    /* expat without namespace processing: names may carry a prefix. */
    const char *colon = strrchr(name, ':');
    return colon ? colon + 1 : name;
}

static void scan_start(void *data, const char *name, const char **attrs)
{
    (void)attrs;
    struct scan *s = data;
    const char *n = local_name(name);
    s->depth++;
    s->target = NULL;
    if (s->depth == 1) {
        s->out->is_error = strcmp(n, "Error") == 0;
        s->out->is_complete = strcmp(n, "CompleteMultipartUploadResult") == 0;
        return;
    }
    if (s->depth != 2)
        return;
    if (strcmp(n, "Code") == 0) {
        s->target = s->out->code;
        s->target_size = sizeof(s->out->code);
    } else if (strcmp(n, "Message") == 0) {
        s->target = s->out->message;
        s->target_size = sizeof(s->out->message);
    } else if (strcmp(n, "RequestId") == 0) {
        s->target = s->out->request_id;
        s->target_size = sizeof(s->out->request_id);
    } else if (strcmp(n, "Region") == 0) {
        s->target = s->out->region;
        s->target_size = sizeof(s->out->region);
    } else if (strcmp(n, "UploadId") == 0) {
        s->target = s->out->upload_id;
        s->target_size = sizeof(s->out->upload_id);
    }
    if (s->target)
        s->target[0] = '\0';
    s->used = 0;
}

static void scan_end(void *data, const char *name)
{
    (void)name;
    struct scan *s = data;
    s->depth--;
    s->target = NULL;
}

static void scan_text(void *data, const char *text, int len)
{
    struct scan *s = data;
    if (!s->target || len <= 0)
        return;
    size_t room = s->target_size - 1 - s->used;
    size_t n = (size_t)len < room ? (size_t)len : room;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        s->target[s->used++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    }
    s->target[s->used] = '\0';
}

void igtcloud__s3_xml_scan(igtcloud__s3_error_body *out, const char *body, size_t len)
{
    memset(out, 0, sizeof(*out));
    if (!body || len == 0 || len > (size_t)INT32_MAX)
        return;
    XML_Parser p = XML_ParserCreate(NULL);
    if (!p)
        return;
    struct scan s = { out, 0, NULL, 0, 0 };
    XML_SetUserData(p, &s);
    XML_SetElementHandler(p, scan_start, scan_end);
    XML_SetCharacterDataHandler(p, scan_text);
    if (XML_Parse(p, body, (int)len, 1) == XML_STATUS_ERROR && !out->is_error) {
        /* Keep what a truncated error body told; forget a malformed anything-else. */
        memset(out, 0, sizeof(*out));
    }
    XML_ParserFree(p);
}

struct parts {
    void (*on_part)(const igtcloud__s3_part *part, void *payload);
    void *payload;
    int depth;
    int in_part;
    char field[32];
    char text[160];
    size_t used;
    igtcloud__s3_part part;
    int truncated;
    uint32_t next_marker;
    int bad;
};

static void parts_start(void *data, const char *name, const char **attrs)
{
    (void)attrs;
    struct parts *s = data;
    const char *n = local_name(name);
    s->depth++;
    s->used = 0;
    s->text[0] = '\0';
    if (s->depth == 2 && strcmp(n, "Part") == 0) {
        s->in_part = 1;
        memset(&s->part, 0, sizeof(s->part));
    }
    size_t nl = strlen(n);
    if (nl >= sizeof(s->field))
        nl = sizeof(s->field) - 1;
    memcpy(s->field, n, nl);
    s->field[nl] = '\0';
}

static int parse_num(uint64_t *out, const char *text)
{
    return igtcloud__wire_u64(out, text, strlen(text)) == 0 ? 0 : -1;
}

static void parts_end(void *data, const char *name)
{
    struct parts *s = data;
    const char *n = local_name(name);
    uint64_t v;
    if (s->depth == 3 && s->in_part) {
        if (strcmp(n, "PartNumber") == 0) {
            if (parse_num(&v, s->text) || v == 0 || v > 10000)
                s->bad = 1;
            else
                s->part.number = (uint32_t)v;
        } else if (strcmp(n, "Size") == 0) {
            if (parse_num(&v, s->text))
                s->bad = 1;
            else
                s->part.size = v;
        } else if (strcmp(n, "ETag") == 0) {
            if (igtcloud__wire_etag(s->part.etag, s->text, strlen(s->text)))
                s->bad = 1;
        }
    } else if (s->depth == 2 && strcmp(n, "Part") == 0) {
        if (s->part.number && s->part.etag[0] && !s->bad)
            s->on_part(&s->part, s->payload);
        s->in_part = 0;
    } else if (s->depth == 2 && strcmp(n, "IsTruncated") == 0) {
        s->truncated = strcmp(s->text, "true") == 0;
    } else if (s->depth == 2 && strcmp(n, "NextPartNumberMarker") == 0) {
        if (parse_num(&v, s->text) == 0 && v <= 10000)
            s->next_marker = (uint32_t)v;
    }
    s->depth--;
    s->used = 0;
    s->text[0] = '\0';
}

static void parts_text(void *data, const char *text, int len)
{
    struct parts *s = data;
    for (int i = 0; i < len && s->used + 1 < sizeof(s->text); i++)
        s->text[s->used++] = text[i];
    s->text[s->used] = '\0';
}

int igtcloud__s3_xml_list_parts(const char *body, size_t len,
                                void (*on_part)(const igtcloud__s3_part *part, void *payload),
                                void *payload, int *truncated, uint32_t *next_marker)
{
    if (!body || len > (size_t)INT32_MAX)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "ListParts: no body");
    XML_Parser p = XML_ParserCreate(NULL);
    if (!p)
        return igtcloud__error_oom();
    struct parts s;
    memset(&s, 0, sizeof(s));
    s.on_part = on_part;
    s.payload = payload;
    XML_SetUserData(p, &s);
    XML_SetElementHandler(p, parts_start, parts_end);
    XML_SetCharacterDataHandler(p, parts_text);
    int ok = XML_Parse(p, body, (int)len, 1) != XML_STATUS_ERROR && !s.bad;
    XML_ParserFree(p);
    if (!ok)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "malformed ListParts response");
    *truncated = s.truncated;
    *next_marker = s.next_marker;
    return 0;
}
