#ifndef SANDBOX_S3_H
#define SANDBOX_S3_H

/*
 * Internals shared by the S3 endpoint's files: s3_server.c (listener and
 * request life cycle), s3_auth.c, s3_ops.c, s3_multipart.c, s3_list.c,
 * s3_meta.c (SQLite), s3_body.c (streamed bodies) and faults.c.
 */

#include <stdint.h>

#include "sandbox.h"
#include "faults.h"
#include "s3_body.h"
#include "s3_checksum.h"
#include "s3_meta.h"
#include "s3_parse.h"
#include "core/buf.h"

struct sandbox_s3_server;

#define SANDBOX_S3_KEY_MAX 1024
#define SANDBOX_S3_MAX_RESPONSE_HEADERS 24
#define SANDBOX_S3_XML_BODY_MAX (2u << 20)     /* CompleteMultipartUpload, admin JSON */
#define SANDBOX_S3_MAX_OBJECT (5ULL << 30)     /* single PUT and single part, as S3 */

/* How the request body is consumed. */
typedef enum {
    SANDBOX_S3_BODY_NONE = 0,   /* none expected; any bytes are discarded */
    SANDBOX_S3_BODY_FILE,       /* streamed to a temporary file while hashing */
    SANDBOX_S3_BODY_MEMORY,     /* small bodies (XML, JSON) kept in `small_body` */
    SANDBOX_S3_BODY_DISCARD,    /* read and dropped (a response is already decided) */
} sandbox_s3_body_mode;

/* What a verified request may do: the row of its credentials. */
typedef struct sandbox_s3_grant {
    char access_key[129];
    char action[8];              /* "GET" or "PUT" */
    char prefix[1100];
} sandbox_s3_grant;

/* One S3 request from the request line to the completion notice. */
typedef struct sandbox_s3_req {
    sandbox *sb;
    struct sandbox_s3_server *s3;
    void *connection;                /* struct MHD_Connection */
    char *raw_uri;                   /* as on the wire: path and query */
    char method[16];
    char request_id[24];
    int started;
    int responded;                   /* a response was queued or the connection dropped */

    char bucket[256];
    char key[4096];                  /* decoded; longer than 1024 is refused later */
    const char *raw_query;           /* into raw_uri */
    char *raw_path;                  /* the path without query, as on the wire */
    sandbox_s3_query query;
    sandbox_s3_op op;
    int admin;                       /* /_admin/faults */
    sandbox_s3_grant grant;

    sandbox_s3_body_mode body_mode;
    sandbox_s3_body body;            /* BODY_FILE */
    igtcloud__buf small_body;        /* BODY_MEMORY */
    int part_crc32c;                 /* UploadPart into a CRC32C upload: its CRC is always kept */
    int part_placed;                 /* UploadPart written straight into the upload's file */
    int part_committed;              /* ... and recorded */
    unsigned long long received;     /* request body bytes seen */
    unsigned long long expected;     /* Content-Length, when given */
    int too_large;

    /* The fault chosen for this request, if any. */
    sandbox_fault_effect fault;
    int fault_fired;
    char fault_label[64];

    /* Response under construction. */
    int status;
    igtcloud__buf resp_body;
    const char *content_type;        /* static string, or into resp_headers */
    int resp_fd;                     /* >= 0: serve [resp_offset, +resp_length) of it */
    unsigned long long resp_offset;
    unsigned long long resp_length;
    int nheaders;
    char *header_names[SANDBOX_S3_MAX_RESPONSE_HEADERS];
    char *header_values[SANDBOX_S3_MAX_RESPONSE_HEADERS];
    char range_log[96];              /* the Range header (or "part N"), for the request log */
    unsigned long long body_sent;    /* for fault callbacks */
} sandbox_s3_req;

/* Request header value (case-insensitive), NULL when absent. */
const char *sandbox_s3_header(const sandbox_s3_req *req, const char *name);

/* Add a response header (copied). Returns 0 or -1. */
int sandbox_s3_add_header(sandbox_s3_req *req, const char *name, const char *value);

/* Set an S3 XML error as the response (message NULL: the default one). */
void sandbox_s3_fail(sandbox_s3_req *req, const char *code, const char *message);

/* Set a 200/204 XML body response from resp_body. */
void sandbox_s3_xml_ok(sandbox_s3_req *req, int status);

/* The S3 endpoint's temporary folder (DATA_DIR/tmp, shared with objects.c). */
int sandbox_s3_tmp_dir(const sandbox *sb, char *out, size_t size);

/*
 * Authenticate the request (SigV4, header or presigned) against the
 * credentials table and check it may do req->op on req->key. Fills
 * req->grant and returns 0; otherwise sets the S3 error and returns -1.
 */
int sandbox_s3_authorize(sandbox_s3_req *req);

/* The minimum size of a non-final multipart part (--min-part-size). */
unsigned long long sandbox_s3_min_part_size(const sandbox *sb);

/* Operation handlers. begin_* run before the body, the others after it. */
int sandbox_s3_begin_put(sandbox_s3_req *req);          /* PutObject, UploadPart */
void sandbox_s3_put_object(sandbox_s3_req *req);
void sandbox_s3_get_object(sandbox_s3_req *req, int head);
void sandbox_s3_delete_object(sandbox_s3_req *req);
void sandbox_s3_head_bucket(sandbox_s3_req *req);
void sandbox_s3_list_buckets(sandbox_s3_req *req);
void sandbox_s3_list_objects_v2(sandbox_s3_req *req);
void sandbox_s3_create_multipart(sandbox_s3_req *req);
void sandbox_s3_upload_part(sandbox_s3_req *req);
void sandbox_s3_complete_multipart(sandbox_s3_req *req);
void sandbox_s3_abort_multipart(sandbox_s3_req *req);
void sandbox_s3_list_parts(sandbox_s3_req *req);

/* UploadPart before its body: a valid partNumber of an upload of this key. */
int sandbox_s3_upload_check(sandbox_s3_req *req);

/*
 * Open where UploadPart's body goes: straight into its place in the upload's
 * assembly file when the part fits the upload's part size, else a temporary
 * file. Sets the S3 error and returns -1 on failure.
 */
int sandbox_s3_part_open(sandbox_s3_req *req);

/* Forget a placed part whose body never completed (connection dropped, bad digest). */
void sandbox_s3_part_abandon(sandbox_s3_req *req);

/*
 * Finish the streamed body of PutObject / UploadPart, check it against the
 * request's digests and fill meta's size, ETag and checksums. On failure the
 * temporary file is gone, the S3 error is set and -1 returned.
 */
int sandbox_s3_finish_body(sandbox_s3_req *req, sandbox_s3_object *meta,
                           unsigned char md5[16]);

/* ETag, x-amz-server-side-encryption and (when asked) checksum headers. */
int sandbox_s3_add_object_headers(sandbox_s3_req *req, const sandbox_s3_object *meta,
                                  int with_checksums);

/*
 * Checks of the body against Content-MD5, x-amz-content-sha256 and
 * x-amz-checksum-*; x-amz-checksum-crc32c only with `check_crc32c` (on the
 * completion of a CRC32C upload it is the object's checksum, not the body's).
 */
int sandbox_s3_verify_body(sandbox_s3_req *req, const unsigned char md5[16],
                           const unsigned char sha256[32], uint32_t crc32c, int check_crc32c);

/*
 * The checksums PutObject and UploadPart compute and keep: those the request
 * asks to be checked, and CRC32C on every part of an upload created with it.
 */
int sandbox_s3_wants_sha256(const sandbox_s3_req *req);
int sandbox_s3_wants_crc32c(const sandbox_s3_req *req);

/* HTTP date (RFC 7231) of t into out (>= 30 bytes). */
void sandbox_s3_http_date(char *out, size_t size, long long t);

/* ISO 8601 with milliseconds and Z ("2013-05-24T00:00:00.000Z"). */
void sandbox_s3_iso_date(char *out, size_t size, long long t);

#endif
