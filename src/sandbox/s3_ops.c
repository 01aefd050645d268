#include "s3.h"
#include "s3_errors.h"
#include "s3_meta.h"
#include "core/base64.h"
#include "core/hash.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* PutObject, GetObject, HeadObject, DeleteObject, HeadBucket and ListBuckets. */

static int is_hex_sha256(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isxdigit((unsigned char)*p))
            return 0;
    return 1;
}

int sandbox_s3_wants_sha256(const sandbox_s3_req *req)
{
    return is_hex_sha256(sandbox_s3_header(req, "x-amz-content-sha256")) ||
           sandbox_s3_header(req, "x-amz-checksum-sha256") != NULL;
}

int sandbox_s3_wants_crc32c(const sandbox_s3_req *req)
{
    return req->part_crc32c || sandbox_s3_header(req, "x-amz-checksum-crc32c") != NULL;
}

/* Decode base64 `text` into exactly `len` bytes; -1 when it is not that. */
static int decode_exact(unsigned char *out, size_t len, const char *text)
{
    igtcloud__buf buf = IGTCLOUD_BUF_INIT;
    int rc = -1;
    if (igtcloud__base64_decode(&buf, text, strlen(text)) == 0 && buf.size == len) {
        memcpy(out, buf.ptr, len);
        rc = 0;
    }
    igtcloud__buf_dispose(&buf);
    return rc;
}

static void to_base64(char *out, size_t size, const unsigned char *data, size_t len)
{
    igtcloud__buf buf = IGTCLOUD_BUF_INIT;
    if (igtcloud__base64_encode(&buf, data, len) == 0)
        snprintf(out, size, "%s", igtcloud__buf_cstr(&buf));
    else if (size)
        out[0] = '\0';
    igtcloud__buf_dispose(&buf);
}

int sandbox_s3_verify_body(sandbox_s3_req *req, const unsigned char md5[16],
                           const unsigned char sha256[32], uint32_t crc32c, int check_crc32c)
{
    unsigned char want[32];
    const char *content_md5 = sandbox_s3_header(req, "Content-MD5");
    if (content_md5 && (decode_exact(want, 16, content_md5) || memcmp(want, md5, 16) != 0)) {
        sandbox_s3_fail(req, "BadDigest", NULL);
        return -1;
    }
    const char *content_sha = sandbox_s3_header(req, "x-amz-content-sha256");
    if (is_hex_sha256(content_sha)) {
        char hex[65];
        igtcloud__hex(hex, sha256, 32);
        if (strcasecmp(hex, content_sha) != 0) {
            sandbox_s3_fail(req, "XAmzContentSHA256Mismatch", NULL);
            return -1;
        }
    }
    const char *checksum = sandbox_s3_header(req, "x-amz-checksum-sha256");
    if (checksum && (decode_exact(want, 32, checksum) || memcmp(want, sha256, 32) != 0)) {
        sandbox_s3_fail(req, "BadDigest",
                        "The SHA256 you specified did not match the calculated checksum.");
        return -1;
    }
    checksum = check_crc32c ? sandbox_s3_header(req, "x-amz-checksum-crc32c") : NULL;
    if (checksum) {
        uint32_t given;
        if (sandbox_s3_crc32c_parse(&given, checksum) || given != crc32c) {
            sandbox_s3_fail(req, "BadDigest",
                            "The CRC32C you specified did not match the calculated checksum.");
            return -1;
        }
    }
    return 0;
}

int sandbox_s3_begin_put(sandbox_s3_req *req)
{
    unsigned char md5[16];
    const char *content_sha = sandbox_s3_header(req, "x-amz-content-sha256");
    const char *content_md5 = sandbox_s3_header(req, "Content-MD5");
    if (content_sha && strncmp(content_sha, "STREAMING-", 10) == 0) {
        sandbox_s3_fail(req, "NotImplemented",
                        "aws-chunked uploads (STREAMING-* payloads) are not supported.");
        return -1;
    }
    if (content_sha && !is_hex_sha256(content_sha) &&
        strcmp(content_sha, "UNSIGNED-PAYLOAD") != 0) {
        sandbox_s3_fail(req, "InvalidArgument", "x-amz-content-sha256 must be a SHA-256 "
                                                "hex digest or UNSIGNED-PAYLOAD.");
        return -1;
    }
    if (!sandbox_s3_header(req, "Content-Length")) {
        sandbox_s3_fail(req, "MissingContentLength", NULL);
        return -1;
    }
    if (req->expected > SANDBOX_S3_MAX_OBJECT) {
        sandbox_s3_fail(req, "EntityTooLarge", NULL);
        return -1;
    }
    if (content_md5 && decode_exact(md5, 16, content_md5)) {
        sandbox_s3_fail(req, "InvalidDigest", NULL);
        return -1;
    }
    if (req->op == SANDBOX_S3_OP_UPLOAD_PART) {
        if (sandbox_s3_upload_check(req) || sandbox_s3_part_open(req))
            return -1;
        req->body_mode = SANDBOX_S3_BODY_FILE;
        return 0;
    }
    char dir[4300];
    if (sandbox_s3_tmp_dir(req->sb, dir, sizeof(dir)) ||
        sandbox_s3_body_open(&req->body, dir, sandbox_s3_wants_sha256(req),
                             sandbox_s3_wants_crc32c(req))) {
        sandbox_s3_fail(req, "InternalError", "The upload could not be started.");
        return -1;
    }
    req->body_mode = SANDBOX_S3_BODY_FILE;
    return 0;
}

/* Finish the streamed body and check it; fills the object's digests. */
int sandbox_s3_finish_body(sandbox_s3_req *req, sandbox_s3_object *meta,
                           unsigned char md5[16])
{
    unsigned char sha256[32];
    uint32_t crc = 0;
    if (req->body_mode != SANDBOX_S3_BODY_FILE) {
        sandbox_s3_fail(req, "InternalError", NULL);
        return -1;
    }
    if (sandbox_s3_body_finish(&req->body, md5, sha256, &crc)) {
        sandbox_s3_body_discard(&req->body);
        sandbox_s3_fail(req, "InternalError", "The upload could not be written.");
        return -1;
    }
    if (req->expected != req->body.size) {
        sandbox_s3_body_discard(&req->body);
        sandbox_s3_fail(req, "IncompleteBody", NULL);
        return -1;
    }
    if (sandbox_s3_verify_body(req, md5, sha256, crc, 1)) {
        sandbox_s3_body_discard(&req->body);
        return -1;
    }
    memset(meta, 0, sizeof(*meta));
    igtcloud__hex(meta->etag, md5, 16);
    meta->size = req->body.size;
    if (sandbox_s3_wants_crc32c(req))
        sandbox_s3_crc32c_text(meta->crc32c, crc);
    if (sandbox_s3_header(req, "x-amz-checksum-sha256"))
        to_base64(meta->sha256, sizeof(meta->sha256), sha256, 32);
    return 0;
}

/* ETag, encryption and checksum headers of a stored object or part. */
int sandbox_s3_add_object_headers(sandbox_s3_req *req, const sandbox_s3_object *meta,
                                  int with_checksums)
{
    char etag[80];
    snprintf(etag, sizeof(etag), "\"%s\"", meta->etag);
    int rc = sandbox_s3_add_header(req, "ETag", etag);
    if (!rc && meta->sse[0])
        rc = sandbox_s3_add_header(req, "x-amz-server-side-encryption", meta->sse);
    if (!rc && with_checksums && meta->crc32c[0])
        rc = sandbox_s3_add_header(req, "x-amz-checksum-crc32c", meta->crc32c);
    if (!rc && with_checksums && meta->sha256[0])
        rc = sandbox_s3_add_header(req, "x-amz-checksum-sha256", meta->sha256);
    /* An object's checksums say how they were made; a part's do not (as S3's UploadPart). */
    if (!rc && with_checksums && (meta->crc32c[0] || meta->sha256[0]) &&
        req->op != SANDBOX_S3_OP_UPLOAD_PART)
        rc = sandbox_s3_add_header(req, "x-amz-checksum-type",
                                   sandbox_s3_checksum_type(meta->crc32c));
    return rc;
}

void sandbox_s3_put_object(sandbox_s3_req *req)
{
    sandbox_s3_object meta;
    unsigned char md5[16];
    if (sandbox_s3_finish_body(req, &meta, md5))
        return;
    const char *type = sandbox_s3_header(req, "Content-Type");
    const char *sse = sandbox_s3_header(req, "x-amz-server-side-encryption");
    snprintf(meta.content_type, sizeof(meta.content_type), "%s", type ? type : "");
    snprintf(meta.sse, sizeof(meta.sse), "%s", sse ? sse : "");
    if (sandbox_s3_object_commit(req->sb, req->key, req->body.path, &meta)) {
        int conflict = errno == ENOTDIR || errno == EISDIR || errno == EEXIST ||
                       errno == ENOTEMPTY;
        sandbox_s3_body_discard(&req->body);
        if (conflict)
            sandbox_s3_fail(req, "InvalidArgument",
                            "The key collides with a folder of other keys in the sandbox.");
        else
            sandbox_s3_fail(req, "InternalError", "The object could not be stored.");
        return;
    }
    req->body.path[0] = '\0';   /* renamed: nothing to clean up */
    sandbox_s3_add_object_headers(req, &meta, 1);
    req->status = 200;
}

/*
 * The byte range of part `text` of meta's object into first..last, and the
 * object's number of parts into *count (0: an object of one piece, whose
 * part 1 is all of it). Returns 0, or -1 with the error answered.
 */
static int part_range(sandbox_s3_req *req, const sandbox_s3_object *meta, const char *text,
                      unsigned long long *first, unsigned long long *last, unsigned long *count)
{
    char *end;
    unsigned long number = strtoul(text, &end, 10);
    if (sandbox_s3_header(req, "Range")) {
        sandbox_s3_fail(req, "InvalidRequest",
                        "Cannot specify both Range header and partNumber query parameter");
        return -1;
    }
    if (*text < '0' || *text > '9' || *end || number < 1 || number > 10000) {
        sandbox_s3_fail(req, "InvalidArgument",
                        "Part number must be an integer between 1 and 10000, inclusive");
        return -1;
    }
    /* Logged where a Range would be: "part N". */
    snprintf(req->range_log, sizeof(req->range_log), "part %lu", number);
    igtcloud__buf runs = IGTCLOUD_BUF_INIT;
    unsigned long long length = 0;
    int rc = sandbox_s3_object_parts(req->sb, req->key, &runs);
    if (rc == 0)
        rc = sandbox_s3_parts_find(igtcloud__buf_cstr(&runs), number, first, &length, count);
    int one_piece = runs.size == 0;
    igtcloud__buf_dispose(&runs);
    if (rc < 0) {
        sandbox_s3_fail(req, "InternalError", NULL);
        return -1;
    }
    if (rc == 1 && !(one_piece && number == 1)) {
        sandbox_s3_fail(req, "InvalidPartNumber", NULL);
        return -1;
    }
    if (one_piece || meta->size == 0) {
        *count = 0;
        return 0;
    }
    if (*first + length > meta->size || length == 0) {
        sandbox_s3_fail(req, "InternalError", "The object's parts do not match its size.");
        return -1;
    }
    *last = *first + length - 1;
    return 0;
}

void sandbox_s3_get_object(sandbox_s3_req *req, int head)
{
    sandbox_s3_object meta;
    int fd = -1;
    int found = sandbox_s3_object_lookup(req->sb, req->key, &meta, &fd, NULL);
    if (found != 0) {
        sandbox_s3_fail(req, found > 0 ? "NoSuchKey" : "InternalError", NULL);
        return;
    }
    char value[128];
    unsigned long long first = 0, last = meta.size ? meta.size - 1 : 0;
    unsigned long parts_count = 0;
    sandbox_s3_range_result range;
    const char *part_number = sandbox_s3_query_get(&req->query, "partNumber");
    if (part_number) {
        /* One part of a multipart object, as if its byte range had been asked for. */
        int rc = part_range(req, &meta, part_number, &first, &last, &parts_count);
        if (rc) {
            close(fd);
            return;
        }
        range = parts_count ? SANDBOX_S3_RANGE_OK : SANDBOX_S3_RANGE_NONE;
    } else {
        range = sandbox_s3_parse_range(sandbox_s3_header(req, "Range"), meta.size, &first, &last);
    }
    if (range == SANDBOX_S3_RANGE_UNSATISFIABLE) {
        close(fd);
        sandbox_s3_fail(req, "InvalidRange", NULL);
        snprintf(value, sizeof(value), "bytes */%llu", meta.size);
        sandbox_s3_add_header(req, "Content-Range", value);
        return;
    }
    const char *if_none = sandbox_s3_header(req, "If-None-Match");
    const char *if_match = sandbox_s3_header(req, "If-Match");
    char quoted[80];
    snprintf(quoted, sizeof(quoted), "\"%s\"", meta.etag);
    if (if_match && strcmp(if_match, "*") != 0 && strcmp(if_match, quoted) != 0 &&
        strcmp(if_match, meta.etag) != 0) {
        close(fd);
        sandbox_s3_fail(req, "PreconditionFailed",
                        "At least one of the pre-conditions you specified did not hold");
        req->status = 412;
        return;
    }
    if (if_none && (strcmp(if_none, "*") == 0 || strcmp(if_none, quoted) == 0 ||
                    strcmp(if_none, meta.etag) == 0)) {
        close(fd);
        req->status = 304;
        sandbox_s3_add_header(req, "ETag", quoted);
        return;
    }
    const char *mode = sandbox_s3_header(req, "x-amz-checksum-mode");
    int whole = range != SANDBOX_S3_RANGE_OK;
    sandbox_s3_add_object_headers(req, &meta, whole && mode && strcasecmp(mode, "ENABLED") == 0);
    sandbox_s3_http_date(value, sizeof(value), meta.mtime);
    sandbox_s3_add_header(req, "Last-Modified", value);
    sandbox_s3_add_header(req, "Accept-Ranges", "bytes");
    const char *override = sandbox_s3_query_get(&req->query, "response-content-type");
    sandbox_s3_add_header(req, "Content-Type", override ? override : meta.content_type);
    override = sandbox_s3_query_get(&req->query, "response-content-disposition");
    if (override)
        sandbox_s3_add_header(req, "Content-Disposition", override);
    req->resp_fd = fd;
    req->resp_offset = whole ? 0 : first;
    req->resp_length = whole ? meta.size : last - first + 1;
    req->status = 200;
    if (!whole) {
        snprintf(value, sizeof(value), "bytes %llu-%llu/%llu", first, last, meta.size);
        sandbox_s3_add_header(req, "Content-Range", value);
        req->status = 206;
    }
    if (parts_count) {
        snprintf(value, sizeof(value), "%lu", parts_count);
        sandbox_s3_add_header(req, "x-amz-mp-parts-count", value);
    }
    (void)head;
}

void sandbox_s3_delete_object(sandbox_s3_req *req)
{
    if (sandbox_s3_object_remove(req->sb, req->key)) {
        sandbox_s3_fail(req, "InternalError", "The object could not be deleted.");
        return;
    }
    req->status = 204;
}

void sandbox_s3_head_bucket(sandbox_s3_req *req)
{
    sandbox_s3_add_header(req, "x-amz-bucket-region", req->sb->region);
    req->status = 200;
}

void sandbox_s3_list_buckets(sandbox_s3_req *req)
{
    igtcloud__buf *out = &req->resp_body;
    int rc = igtcloud__buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                     "<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/"
                                     "doc/2006-03-01/\"><Owner><ID>sandbox</ID><DisplayName>"
                                     "sandbox</DisplayName></Owner><Buckets><Bucket><Name>");
    rc = rc ? rc : sandbox_s3_xml_escape(out, req->sb->bucket);
    rc = rc ? rc : igtcloud__buf_puts(out, "</Name><CreationDate>2020-01-01T00:00:00.000Z"
                                           "</CreationDate></Bucket></Buckets>"
                                           "</ListAllMyBucketsResult>");
    if (rc) {
        sandbox_s3_fail(req, "InternalError", NULL);
        return;
    }
    sandbox_s3_xml_ok(req, 200);
}
