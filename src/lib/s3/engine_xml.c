#include "s3/engine_xml.h"

#include <expat.h>
#include <string.h>

#include "core/error.h"
#include "s3/wire.h"
#include "s3/xml.h"

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

int igtcloud__s3_xml_list_parts(const char *body, size_t len,
                                void (*on_part)(const igtcloud__s3_part *part, void *payload),
                                void *payload, int *truncated, uint32_t *next_marker,
                                int *upload_crc32c)
{
    igtcloud__xml_parts list = IGTCLOUD__XML_PARTS_INIT;
    int rc = igtcloud__xml_parse_list_parts(&list, body, len);
    for (size_t i = 0; rc == 0 && i < list.count; i++) {
        const igtcloud__xml_part *p = &list.parts[i];
        igtcloud__s3_part part = { (uint32_t)p->part_number, p->size, "", 0, 0 };
        uint32_t whole;
        part.has_crc32c = p->checksum_crc32c &&
                          igtcloud__wire_checksum_crc32c(&part.crc32c, &whole, p->checksum_crc32c,
                                                         strlen(p->checksum_crc32c)) == 0 &&
                          whole == 0;
        if (igtcloud__wire_etag(part.etag, p->etag, strlen(p->etag)))
            rc = igtcloud__error_set(IGTCLOUD_EPROTO, "malformed ListParts response");
        else
            on_part(&part, payload);
    }
    if (rc == 0) {
        *truncated = list.is_truncated;
        *next_marker = (uint32_t)list.next_part_number_marker;
        *upload_crc32c = list.checksum_algorithm && strcmp(list.checksum_algorithm, "CRC32C") == 0;
    }
    igtcloud__xml_parts_dispose(&list);
    return rc;
}
