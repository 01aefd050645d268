#include "s3_server.h"
#include "listener.h"
#include "s3.h"
#include "s3_errors.h"
#include "s3_meta.h"
#include "objects.h"
#include "core/hash.h"
#include "core/random.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * The S3 listener: one libmicrohttpd daemon, a thread per connection so a
 * slow body never holds up another client. A request's life: the URI log
 * callback allocates its state (and keeps the raw URI, which SigV4 signs),
 * the first access-handler call authenticates and decides how the body is
 * consumed, the body is streamed, the last call runs the operation and
 * queues the response, the completion callback frees everything.
 */

/*
 * A connection's memory pool, read buffer included. libmicrohttpd zeroes the
 * pool's used part for every request on a kept-alive connection: 512 KiB cost
 * the sandbox 18% of its CPU serving 2,000 small GETs; 128 KiB still reads
 * big uploads in large pieces.
 */
#define CONNECTION_MEMORY (128u * 1024u)
#define CALLBACK_BLOCK (256u * 1024u)

struct sandbox_s3_server {
    struct MHD_Daemon *daemon;
    sandbox *sb;
    sandbox_faults *faults;
    char tmp_dir[4300];
    unsigned int id_prefix;
    atomic_ullong next_id;
};

static struct sandbox_s3_server *server_of(sandbox_s3_req *req)
{
    return req->s3;
}

const char *sandbox_s3_header(const sandbox_s3_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
}

int sandbox_s3_add_header(sandbox_s3_req *req, const char *name, const char *value)
{
    return sandbox_headers_add(req->header_names, req->header_values, &req->nheaders,
                               SANDBOX_S3_MAX_RESPONSE_HEADERS, name, value);
}

static void clear_response(sandbox_s3_req *req)
{
    sandbox_headers_clear(req->header_names, req->header_values, &req->nheaders);
    igtcloud__buf_clear(&req->resp_body);
    if (req->resp_fd >= 0)
        close(req->resp_fd);
    req->resp_fd = -1;
    req->resp_length = req->resp_offset = 0;
    req->content_type = NULL;
}

void sandbox_s3_fail(sandbox_s3_req *req, const char *code, const char *message)
{
    clear_response(req);
    sandbox_s3_error_def def = sandbox_s3_error_lookup(code);
    req->status = def.status;
    const char *resource = req->raw_path ? req->raw_path : "/";
    if (sandbox_s3_error_xml(&req->resp_body, code, message, resource, req->request_id))
        igtcloud__buf_clear(&req->resp_body);
    req->content_type = "application/xml";
}

/* Fail with a fault's status and code (which need not be in the table). */
static void fail_with_fault(sandbox_s3_req *req)
{
    sandbox_s3_fail(req, req->fault.code, req->fault.message[0] ? req->fault.message : NULL);
    req->status = req->fault.status;
}

void sandbox_s3_xml_ok(sandbox_s3_req *req, int status)
{
    req->status = status;
    req->content_type = "application/xml";
}

int sandbox_s3_tmp_dir(const sandbox *sb, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/tmp", sb->data_dir);
    if (n < 0 || (size_t)n >= size)
        return -1;
    if (mkdir(out, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

unsigned long long sandbox_s3_min_part_size(const sandbox *sb)
{
    return sb->config.min_part_size ? sb->config.min_part_size : 5ULL << 20;
}

void sandbox_s3_http_date(char *out, size_t size, long long t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    strftime(out, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

void sandbox_s3_iso_date(char *out, size_t size, long long t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

/* ---- request log ---------------------------------------------------------- */

static void log_request(sandbox_s3_req *req, int status, unsigned long long bytes)
{
    sandbox *sb = req->sb;
    if (!sb->request_log)
        return;
    /* The path only: presigned query strings carry credentials and signatures. */
    json_t *line = sandbox_log_line("s3", req->method, req->raw_path ? req->raw_path : "",
                                    status, bytes);
    if (!line)
        return;
    json_object_set_new(line, "received", json_integer((json_int_t)req->received));
    json_object_set_new(line, "operation",
                        json_string(req->admin ? "Admin" : sandbox_s3_op_name(req->op)));
    json_object_set_new(line, "request_id", json_string(req->request_id));
    if (req->range_log[0])
        json_object_set_new(line, "range", json_string(req->range_log));
    if (req->key[0])
        json_object_set_new(line, "key", json_string(req->key));
    if (req->fault_fired)
        json_object_set_new(line, "fault", json_string(req->fault_label));
    sandbox_log_write(sb, line);
}

/* ---- responses ------------------------------------------------------------ */

/*
 * Reset the connection now: with a zero linger, disconnecting the socket
 * (connect to AF_UNSPEC) makes Linux send RST at once instead of FIN, while
 * the descriptor stays MHD's to close.
 */
static void reset_connection(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!info)
        return;
    struct linger lg = { 1, 0 };
    setsockopt(info->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    struct sockaddr unspec;
    memset(&unspec, 0, sizeof(unspec));
    unspec.sa_family = AF_UNSPEC;
    connect(info->connect_fd, &unspec, sizeof(unspec));
}

/* A response body produced by callback, for faults that act mid-body. */
struct body_source {
    int fd;                          /* >= 0: file; else `data` */
    char *data;
    unsigned long long offset, length, sent;
    sandbox_fault_effect fault;
    struct MHD_Connection *connection;
    int delayed;
};

static ssize_t read_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct body_source *src = cls;
    unsigned long long limit = src->length;
    sandbox_fault_kind kind = src->fault.kind;
    if (kind == SANDBOX_FAULT_RESET || kind == SANDBOX_FAULT_SHORT)
        limit = src->fault.after_bytes < src->length ? src->fault.after_bytes : src->length;
    if (kind == SANDBOX_FAULT_DELAY && src->fault.in_body && !src->delayed &&
        pos >= src->fault.after_bytes) {
        src->delayed = 1;
        usleep((useconds_t)src->fault.delay_ms * 1000u);
    }
    if (pos >= limit) {
        if (kind == SANDBOX_FAULT_RESET)
            reset_connection(src->connection);
        /* Fewer bytes than promised: MHD closes the connection. */
        return pos >= src->length ? MHD_CONTENT_READER_END_OF_STREAM
                                  : MHD_CONTENT_READER_END_WITH_ERROR;
    }
    unsigned long long want = limit - pos;
    if (kind == SANDBOX_FAULT_DELAY && src->fault.in_body && !src->delayed &&
        src->fault.after_bytes - pos < want)
        want = src->fault.after_bytes - pos;
    if (want > max)
        want = max;
    if (src->fd < 0) {
        memcpy(buf, src->data + pos, (size_t)want);
        return (ssize_t)want;
    }
    for (;;) {
        ssize_t got = pread(src->fd, buf, (size_t)want, (off_t)(src->offset + pos));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        return got;
    }
}

static void free_body(void *cls)
{
    struct body_source *src = cls;
    if (src->fd >= 0)
        close(src->fd);
    free(src->data);
    free(src);
}

static int body_fault(const sandbox_s3_req *req)
{
    if (!req->fault_fired)
        return 0;
    sandbox_fault_kind k = req->fault.kind;
    return k == SANDBOX_FAULT_RESET || k == SANDBOX_FAULT_SHORT ||
           (k == SANDBOX_FAULT_DELAY && req->fault.in_body);
}

static struct MHD_Response *build_response(sandbox_s3_req *req, unsigned long long *bytes)
{
    struct MHD_Response *response = NULL;
    if (req->resp_fd >= 0) {
        *bytes = req->resp_length;
    } else {
        *bytes = req->resp_body.size;
    }
    if (body_fault(req)) {
        struct body_source *src = calloc(1, sizeof(*src));
        if (!src)
            return NULL;
        src->fd = req->resp_fd;
        src->offset = req->resp_offset;
        src->length = *bytes;
        src->fault = req->fault;
        src->connection = req->connection;
        if (req->resp_fd < 0) {
            src->data = igtcloud__buf_detach(&req->resp_body);
            if (!src->data) {
                free(src);
                return NULL;
            }
        }
        response = MHD_create_response_from_callback(*bytes, CALLBACK_BLOCK, read_body, src,
                                                     free_body);
        if (!response) {
            free_body(src);
            req->resp_fd = -1;
            return NULL;
        }
        req->resp_fd = -1;
        return response;
    }
    if (req->resp_fd >= 0) {
        /* MHD sends the file with sendfile(2) and closes it when done. */
        response = MHD_create_response_from_fd_at_offset64(req->resp_length, req->resp_fd,
                                                           req->resp_offset);
        if (!response)
            close(req->resp_fd);
        req->resp_fd = -1;
        return response;
    }
    return MHD_create_response_from_buffer(req->resp_body.size,
                                           req->resp_body.ptr ? req->resp_body.ptr : (void *)"",
                                           MHD_RESPMEM_MUST_COPY);
}

/* Queue the response built in req, applying the request's fault. */
static enum MHD_Result send_response(sandbox_s3_req *req)
{
    req->responded = 1;
    if (req->fault_fired && req->fault.kind == SANDBOX_FAULT_CLOSE) {
        log_request(req, 0, 0);
        return MHD_NO;
    }
    if (req->fault_fired && req->fault.kind == SANDBOX_FAULT_RESET && !req->resp_body.size &&
        req->resp_fd < 0) {
        /* Nothing to send the reset after: reset now. */
        log_request(req, 0, 0);
        reset_connection(req->connection);
        return MHD_NO;
    }
    if (req->fault_fired && req->fault.kind == SANDBOX_FAULT_DELAY && !req->fault.in_body)
        usleep((useconds_t)req->fault.delay_ms * 1000u);
    if (!req->status)
        req->status = 200;
    unsigned long long bytes = 0;
    struct MHD_Response *response = build_response(req, &bytes);
    if (!response)
        return MHD_NO;
    char id2[64];
    snprintf(id2, sizeof(id2), "sandbox/%s", req->request_id);
    MHD_add_response_header(response, "x-amz-request-id", req->request_id);
    MHD_add_response_header(response, "x-amz-id-2", id2);
    MHD_add_response_header(response, "Server", "igtcloud-sandbox");
    if (req->content_type)
        MHD_add_response_header(response, "Content-Type", req->content_type);
    for (int i = 0; i < req->nheaders; i++)
        MHD_add_response_header(response, req->header_names[i], req->header_values[i]);
    if (req->body_mode == SANDBOX_S3_BODY_DISCARD && req->expected > req->received)
        MHD_add_response_header(response, "Connection", "close");
    log_request(req, req->status, strcmp(req->method, "HEAD") == 0 ? 0 : bytes);
    enum MHD_Result ret = MHD_queue_response(req->connection, (unsigned int)req->status,
                                             response);
    MHD_destroy_response(response);
    return ret;
}

/* ---- the admin endpoint --------------------------------------------------- */

static void admin_json(sandbox_s3_req *req, int status, json_t *body)
{
    clear_response(req);
    req->status = status;
    req->content_type = "application/json";
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    igtcloud__buf_puts(&req->resp_body, text ? text : "{}");
    free(text);
}

static void admin_begin(sandbox_s3_req *req)
{
    const char *token = sandbox_s3_header(req, "X-Admin-Token");
    const char *want = req->sb->config.admin_token;
    if (!token || strlen(token) != strlen(want) ||
        !igtcloud__equal_secret(token, want, strlen(want))) {
        admin_json(req, 403, json_pack("{s:s}", "message", "X-Admin-Token missing or wrong"));
        return;
    }
    if (strcmp(req->raw_path, "/_admin/faults") != 0) {
        admin_json(req, 404, json_pack("{s:s}", "message", "no such admin resource"));
        return;
    }
    if (strcmp(req->method, "POST") == 0)
        req->body_mode = SANDBOX_S3_BODY_MEMORY;
    else if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "DELETE") != 0)
        admin_json(req, 405, json_pack("{s:s}", "message", "use GET, POST or DELETE"));
}

static void admin_finish(sandbox_s3_req *req)
{
    sandbox_faults *faults = server_of(req)->faults;
    if (strcmp(req->method, "DELETE") == 0) {
        sandbox_faults_clear(faults);
        admin_json(req, 200, sandbox_faults_list(faults));
    } else if (strcmp(req->method, "GET") == 0) {
        admin_json(req, 200, sandbox_faults_list(faults));
    } else {
        char err[300];
        if (req->too_large) {
            admin_json(req, 413, json_pack("{s:s}", "message", "rules too large"));
            return;
        }
        int added = sandbox_faults_add_json(faults, igtcloud__buf_cstr(&req->small_body),
                                            req->small_body.size, err, sizeof(err));
        if (added < 0)
            admin_json(req, 400, json_pack("{s:s}", "message", err));
        else
            admin_json(req, 200, sandbox_faults_list(faults));
    }
}

/* ---- request life cycle --------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
    (void)connection;
    struct sandbox_s3_server *server = cls;
    sandbox_s3_req *req = calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    req->sb = server->sb;
    req->s3 = server;
    req->resp_fd = -1;
    igtcloud__buf_init(&req->resp_body);
    igtcloud__buf_init(&req->small_body);
    sandbox_s3_body_init(&req->body);
    req->raw_uri = strdup(uri ? uri : "/");
    if (req->raw_uri) {
        size_t path_len = strcspn(req->raw_uri, "?");
        req->raw_path = strndup(req->raw_uri, path_len);
    }
    unsigned long long n = atomic_fetch_add(&server->next_id, 1);
    snprintf(req->request_id, sizeof(req->request_id), "%08X%08llX", server->id_prefix,
             n & 0xffffffffULL);
    return req;
}

static int has_body(const sandbox_s3_req *req)
{
    const char *te = sandbox_s3_header(req, "Transfer-Encoding");
    return req->expected > 0 || (te && strcasecmp(te, "identity") != 0);
}

static int expects_continue(const sandbox_s3_req *req)
{
    const char *expect = sandbox_s3_header(req, "Expect");
    return expect && strcasecmp(expect, "100-continue") == 0;
}

static int object_op(sandbox_s3_op op)
{
    return op != SANDBOX_S3_OP_LIST_BUCKETS && op != SANDBOX_S3_OP_HEAD_BUCKET &&
           op != SANDBOX_S3_OP_LIST_OBJECTS_V2;
}

/* Everything decided before the body: parse, authenticate, choose a fault, set up the body. */
static void begin(sandbox_s3_req *req)
{
    sandbox *sb = req->sb;
    const char *length = sandbox_s3_header(req, "Content-Length");
    if (length)
        req->expected = strtoull(length, NULL, 10);
    const char *range = sandbox_s3_header(req, "Range");
    if (range)
        snprintf(req->range_log, sizeof(req->range_log), "%s", range);
    if (!req->raw_uri || !req->raw_path) {
        sandbox_s3_fail(req, "InternalError", NULL);
        return;
    }
    if (sb->config.admin_token && strncmp(req->raw_path, "/_admin/", 8) == 0) {
        req->admin = 1;
        admin_begin(req);
        return;
    }
    if (sandbox_s3_uri_split(req->raw_uri, req->bucket, sizeof(req->bucket), req->key,
                             sizeof(req->key), &req->raw_query) ||
        sandbox_s3_query_parse(&req->query, req->raw_query)) {
        req->key[0] = '\0';
        sandbox_s3_fail(req, "InvalidArgument", "The request URI could not be parsed.");
        return;
    }
    req->op = sandbox_s3_classify(req->method, req->bucket, req->key, &req->query,
                                  sandbox_s3_header(req, "x-amz-copy-source") != NULL);
    if (req->op == SANDBOX_S3_OP_UNKNOWN) {
        sandbox_s3_fail(req, "MethodNotAllowed", NULL);
        return;
    }
    if (req->op == SANDBOX_S3_OP_NOT_IMPLEMENTED) {
        sandbox_s3_fail(req, "NotImplemented",
                        "This operation is not offered by igtcloud-sandbox.");
        return;
    }
    if (sandbox_s3_authorize(req))
        return;
    if (req->op != SANDBOX_S3_OP_LIST_BUCKETS && strcmp(req->bucket, sb->bucket) != 0) {
        sandbox_s3_fail(req, "NoSuchBucket", NULL);
        return;
    }
    if (object_op(req->op)) {
        if (strlen(req->key) > SANDBOX_OBJECT_KEY_MAX) {
            sandbox_s3_fail(req, "KeyTooLongError", NULL);
            return;
        }
        const char *problem = sandbox_object_key_problem(req->key);
        igtcloud__buf scratch = IGTCLOUD_BUF_INIT;
        /* Keys appear in XML listings, so they must be text XML can carry. */
        if (!problem && sandbox_s3_xml_escape(&scratch, req->key))
            problem = "the key is not valid UTF-8 text";
        igtcloud__buf_dispose(&scratch);
        if (problem) {
            char message[200];
            snprintf(message, sizeof(message), "This key is not supported by the sandbox: %s.",
                     problem);
            sandbox_s3_fail(req, "InvalidArgument", message);
            return;
        }
    }
    if (sandbox_faults_match(server_of(req)->faults, sandbox_s3_op_name(req->op), req->method,
                             req->key, &req->fault, req->fault_label,
                             sizeof(req->fault_label))) {
        req->fault_fired = 1;
        if (req->fault.kind == SANDBOX_FAULT_ERROR) {
            fail_with_fault(req);
            return;
        }
    }
    switch (req->op) {
    case SANDBOX_S3_OP_PUT_OBJECT:
    case SANDBOX_S3_OP_UPLOAD_PART:
        sandbox_s3_begin_put(req);
        break;
    case SANDBOX_S3_OP_COMPLETE_MULTIPART_UPLOAD:
        req->body_mode = SANDBOX_S3_BODY_MEMORY;
        break;
    default:
        break;
    }
}

/* Run the operation once the whole body is in. */
static void finish(sandbox_s3_req *req)
{
    if (req->admin) {
        admin_finish(req);
        return;
    }
    if (req->too_large && req->op == SANDBOX_S3_OP_COMPLETE_MULTIPART_UPLOAD) {
        sandbox_s3_fail(req, "MalformedXML", "The request body is too large.");
        return;
    }
    switch (req->op) {
    case SANDBOX_S3_OP_LIST_BUCKETS: sandbox_s3_list_buckets(req); break;
    case SANDBOX_S3_OP_HEAD_BUCKET: sandbox_s3_head_bucket(req); break;
    case SANDBOX_S3_OP_LIST_OBJECTS_V2: sandbox_s3_list_objects_v2(req); break;
    case SANDBOX_S3_OP_GET_OBJECT: sandbox_s3_get_object(req, 0); break;
    case SANDBOX_S3_OP_HEAD_OBJECT: sandbox_s3_get_object(req, 1); break;
    case SANDBOX_S3_OP_PUT_OBJECT: sandbox_s3_put_object(req); break;
    case SANDBOX_S3_OP_DELETE_OBJECT: sandbox_s3_delete_object(req); break;
    case SANDBOX_S3_OP_CREATE_MULTIPART_UPLOAD: sandbox_s3_create_multipart(req); break;
    case SANDBOX_S3_OP_UPLOAD_PART: sandbox_s3_upload_part(req); break;
    case SANDBOX_S3_OP_COMPLETE_MULTIPART_UPLOAD: sandbox_s3_complete_multipart(req); break;
    case SANDBOX_S3_OP_ABORT_MULTIPART_UPLOAD: sandbox_s3_abort_multipart(req); break;
    case SANDBOX_S3_OP_LIST_PARTS: sandbox_s3_list_parts(req); break;
    default: sandbox_s3_fail(req, "NotImplemented", NULL); break;
    }
}

/*
 * A reset fault fires on an upload: settle it first (nothing kept, the
 * request logged), since the client may look at the store and the log as
 * soon as it sees the RST.
 */
static void reset_upload(sandbox_s3_req *req)
{
    sandbox_s3_body_discard(&req->body);
    if (req->part_placed && !req->part_committed)
        sandbox_s3_part_abandon(req);
    req->responded = 1;
    log_request(req, 0, 0);
    reset_connection(req->connection);
}

/* Take one chunk of the request body. Returns 0, or -1 to drop the connection. */
static int consume(sandbox_s3_req *req, const char *data, size_t len)
{
    req->received += len;
    if (req->fault_fired && req->fault.kind == SANDBOX_FAULT_RESET &&
        req->body_mode == SANDBOX_S3_BODY_FILE && req->received >= req->fault.after_bytes) {
        reset_upload(req);
        return -1;
    }
    switch (req->body_mode) {
    case SANDBOX_S3_BODY_FILE:
        if (req->received > req->expected && req->expected) {
            /* More than Content-Length promised: MHD prevents this; be safe. */
            sandbox_s3_body_discard(&req->body);
            req->body_mode = SANDBOX_S3_BODY_DISCARD;
            sandbox_s3_fail(req, "IncompleteBody", NULL);
        } else if (sandbox_s3_body_write(&req->body, data, len)) {
            sandbox_s3_body_discard(&req->body);
            req->body_mode = SANDBOX_S3_BODY_DISCARD;
            sandbox_s3_fail(req, "InternalError", "The object could not be written.");
        }
        break;
    case SANDBOX_S3_BODY_MEMORY:
        if (req->small_body.size + len > SANDBOX_S3_XML_BODY_MAX)
            req->too_large = 1;
        else if (igtcloud__buf_put(&req->small_body, data, len))
            return -1;
        break;
    default:
        break;
    }
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection,
                                  const char *url, const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)url;
    (void)version;
    sandbox_s3_req *req = *con_cls;
    if (!req)
        return MHD_NO;
    if (!req->started) {
        req->started = 1;
        req->connection = connection;
        snprintf(req->method, sizeof(req->method), "%s", method);
        begin(req);
        if (req->status) {
            /* Decided before the body. Let a 100-continue client skip it; drain the rest. */
            if (!has_body(req) || expects_continue(req))
                return send_response(req);
            req->body_mode = SANDBOX_S3_BODY_DISCARD;
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t len = *upload_data_size;
        *upload_data_size = 0;
        if (req->responded)
            return MHD_YES;
        return consume(req, upload_data, len) ? MHD_NO : MHD_YES;
    }
    if (req->responded)
        return MHD_YES;
    if (req->fault_fired && req->fault.kind == SANDBOX_FAULT_RESET &&
        req->body_mode == SANDBOX_S3_BODY_FILE) {
        /* The body was shorter than after_bytes: reset before answering. */
        reset_upload(req);
        return MHD_NO;
    }
    if (!req->status)
        finish(req);
    return send_response(req);
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)connection;
    (void)toe;
    sandbox_s3_req *req = *con_cls;
    if (!req)
        return;
    if (req->part_placed && !req->part_committed)
        sandbox_s3_part_abandon(req);
    sandbox_s3_body_discard(&req->body);
    clear_response(req);
    igtcloud__buf_dispose(&req->resp_body);
    igtcloud__buf_dispose(&req->small_body);
    free(req->raw_uri);
    free(req->raw_path);
    free(req);
    *con_cls = NULL;
}

/* Leftovers of a previous run (killed mid-upload) are never completed. */
static void clean_tmp(const char *dir)
{
    char path[4400];
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "s3-", 3) != 0)
            continue;
        int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (n > 0 && (size_t)n < sizeof(path))
            unlink(path);
    }
    closedir(d);
}

/* Never ask for a passphrase: an encrypted key is simply not usable here. */
static int no_passphrase(char *buf, int size, int rwflag, void *userdata)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)userdata;
    return -1;
}

/*
 * Is --tls-cert a PEM certificate and --tls-key its unencrypted PEM key?
 * Checked before the first listener starts (this one), so a bad file gets one
 * clear line instead of GnuTLS's complaint and a misleading "cannot listen".
 * Returns 0, or -1 after printing why.
 */
static int tls_check(const sandbox *sb)
{
    BIO *cert_bio = BIO_new_mem_buf(sb->tls_cert_pem, -1);
    BIO *key_bio = BIO_new_mem_buf(sb->tls_key_pem, -1);
    X509 *cert = cert_bio ? PEM_read_bio_X509(cert_bio, NULL, no_passphrase, NULL) : NULL;
    EVP_PKEY *key = key_bio ? PEM_read_bio_PrivateKey(key_bio, NULL, no_passphrase, NULL) : NULL;
    int rc = -1;
    if (!cert)
        fprintf(stderr, "igtcloud-sandbox: --tls-cert '%s' is not a PEM certificate\n",
                sb->config.tls_cert);
    else if (!key)
        fprintf(stderr, "igtcloud-sandbox: --tls-key '%s' is not an unencrypted PEM private key\n",
                sb->config.tls_key);
    else if (X509_check_private_key(cert, key) != 1)
        fprintf(stderr,
                "igtcloud-sandbox: --tls-key '%s' is not the private key of --tls-cert '%s'\n",
                sb->config.tls_key, sb->config.tls_cert);
    else
        rc = 0;
    EVP_PKEY_free(key);
    X509_free(cert);
    BIO_free(key_bio);
    BIO_free(cert_bio);
    ERR_clear_error();
    return rc;
}

int sandbox_s3_server_start(sandbox_s3_server **out, unsigned short *bound_port, sandbox *sb)
{
    if (sb->tls_cert_pem && tls_check(sb))
        return -1;
    struct sockaddr_in addr;
    if (sandbox_listener_address(&addr, sb->config.s3_listen_host, sb->config.s3_listen_port)) {
        fprintf(stderr, "igtcloud-sandbox: --s3-listen: '%s' is not an IPv4 address\n",
                sb->config.s3_listen_host);
        return -1;
    }
    struct sandbox_s3_server *server = calloc(1, sizeof(*server));
    if (!server)
        return -1;
    server->sb = sb;
    atomic_init(&server->next_id, 1);
    unsigned char prefix[4];
    igtcloud__random_bytes(prefix, sizeof(prefix));
    server->id_prefix = (unsigned)prefix[0] << 24 | (unsigned)prefix[1] << 16 |
                        (unsigned)prefix[2] << 8 | prefix[3];
    if (sandbox_faults_new(&server->faults) ||
        sandbox_s3_tmp_dir(sb, server->tmp_dir, sizeof(server->tmp_dir)) ||
        sandbox_s3_meta_init(sb)) {
        fprintf(stderr, "igtcloud-sandbox: cannot prepare the S3 endpoint in '%s'\n",
                sb->data_dir);
        goto fail;
    }
    clean_tmp(server->tmp_dir);
    if (sb->config.faults) {
        char err[400];
        if (sandbox_faults_load_file(server->faults, sb->config.faults, err, sizeof(err))) {
            fprintf(stderr, "igtcloud-sandbox: --faults: %s\n", err);
            goto fail;
        }
    }
    const struct MHD_OptionItem options[] = {
        { MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, server },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL },
        { MHD_OPTION_CONNECTION_TIMEOUT, 120, NULL },
        { MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, NULL },
        { MHD_OPTION_END, 0, NULL },
    };
    if (sandbox_listener_start(&server->daemon, bound_port, sb, &addr, on_request, server,
                               options)) {
        fprintf(stderr, "igtcloud-sandbox: cannot listen on %s:%u for S3\n",
                sb->config.s3_listen_host, sb->config.s3_listen_port);
        goto fail;
    }
    *out = server;
    return 0;
fail:
    sandbox_faults_free(server->faults);
    free(server);
    return -1;
}

void sandbox_s3_server_stop(sandbox_s3_server *server)
{
    if (!server)
        return;
    MHD_stop_daemon(server->daemon);
    sandbox_faults_free(server->faults);
    free(server);
}
