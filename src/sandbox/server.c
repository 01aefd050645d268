#include "server.h"
#include "listener.h"
#include "router.h"
#include "store.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sandbox_server {
    struct MHD_Daemon *daemon;
    sandbox *sb;
};

/* Per-request state kept across MHD's repeated calls while the body arrives. */
struct pending {
    igtcloud__buf body;
    int too_large;
};

const char *sandbox_request_header(const sandbox_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
}

const char *sandbox_request_query(const sandbox_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, name);
}

struct query_collect {
    const char *name;
    const char **out;
    size_t max;
    size_t count;
};

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind,
                                     const char *key, const char *value)
{
    (void)kind;
    struct query_collect *c = cls;
    if (strcmp(key, c->name) == 0 && value) {
        if (c->count < c->max)
            c->out[c->count] = value;
        c->count++;
    }
    return MHD_YES;
}

size_t sandbox_request_query_all(const sandbox_request *req, const char *name,
                                 const char **out, size_t max)
{
    struct query_collect c = { name, out, max, 0 };
    MHD_get_connection_values(req->connection, MHD_GET_ARGUMENT_KIND, collect_query, &c);
    return c.count < max ? c.count : max;
}

json_t *sandbox_request_json(const sandbox_request *req, sandbox_response *res)
{
    json_error_t error;
    if (req->body_len == 0) {
        sandbox_response_error(res, 400, "request body is empty; JSON expected");
        return NULL;
    }
    json_t *json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &error);
    if (!json)
        sandbox_response_error(res, 400, "malformed JSON at line %d column %d: %s",
                               error.line, error.column, error.text);
    return json;
}

void sandbox_response_init(sandbox_response *res)
{
    memset(res, 0, sizeof(*res));
    res->status = 200;
    igtcloud__buf_init(&res->body);
}

void sandbox_response_dispose(sandbox_response *res)
{
    igtcloud__buf_dispose(&res->body);
    sandbox_headers_clear(res->header_names, res->header_values, &res->nheaders);
}

void sandbox_response_json(sandbox_response *res, int status, json_t *body)
{
    igtcloud__buf_clear(&res->body);
    res->status = status;
    res->content_type = "application/json";
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(body);
    if (!text) {
        res->status = 500;
        igtcloud__buf_puts(&res->body, "{\"message\": \"internal error encoding JSON\"}");
        return;
    }
    igtcloud__buf_puts(&res->body, text);
    free(text);
}

void sandbox_response_error(sandbox_response *res, int status, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    sandbox_response_json(res, status, json_pack("{s:s}", "message", message));
}

int sandbox_response_header(sandbox_response *res, const char *name, const char *value)
{
    return sandbox_headers_add(res->header_names, res->header_values, &res->nheaders,
                               SANDBOX_MAX_HEADERS, name, value);
}

void sandbox_log_request(sandbox *sb, const char *service, const char *method,
                         const char *path, const char *range, int status,
                         unsigned long long bytes)
{
    if (!sb->request_log)
        return;
    json_t *line = sandbox_log_line(service, method, path, status, bytes);
    if (line && range)
        json_object_set_new(line, "range", json_string(range));
    sandbox_log_write(sb, line);
}

static enum MHD_Result send_response(struct MHD_Connection *connection,
                                     sandbox_response *res)
{
    struct MHD_Response *response = MHD_create_response_from_buffer(
        res->body.size, res->body.ptr ? res->body.ptr : "", MHD_RESPMEM_MUST_COPY);
    if (!response)
        return MHD_NO;
    if (res->content_type)
        MHD_add_response_header(response, "Content-Type", res->content_type);
    for (int i = 0; i < res->nheaders; i++)
        MHD_add_response_header(response, res->header_names[i], res->header_values[i]);
    enum MHD_Result ret = MHD_queue_response(connection, (unsigned int)res->status, response);
    MHD_destroy_response(response);
    return ret;
}

static void dispatch(sandbox *sb, struct MHD_Connection *connection, const char *method,
                     const char *url, struct pending *pending, sandbox_response *res)
{
    sandbox_request req;
    memset(&req, 0, sizeof(req));
    req.sb = sb;
    req.method = method;
    req.path = url;
    req.body = igtcloud__buf_cstr(&pending->body);
    req.body_len = pending->body.size;
    req.connection = connection;

    if (pending->too_large) {
        sandbox_response_error(res, 413, "request body larger than %zu bytes",
                               sb->config.max_body);
        return;
    }
    char path_copy[SANDBOX_ROUTE_PATH_MAX];
    int status = 404;
    sandbox_handler handler = sandbox_route_find(&req, path_copy, &status);
    if (!handler) {
        char allow[128];
        if (status == 405) {
            sandbox_response_error(res, 405, "method %s not allowed on %s", method, url);
            if (sandbox_route_allowed(allow, sizeof(allow), url) == 0)
                sandbox_response_header(res, "Allow", allow);
        } else {
            sandbox_response_error(res, 404, "no such resource: %s", url);
        }
        return;
    }
    /* API handlers are short; one lock keeps every transaction simple. */
    sandbox_store_lock(sb->store);
    handler(&req, res);
    sandbox_store_unlock(sb->store);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    sandbox *sb = cls;
    struct pending *pending = *con_cls;

    if (!pending) {
        pending = calloc(1, sizeof(*pending));
        if (!pending)
            return MHD_NO;
        igtcloud__buf_init(&pending->body);
        const char *length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                         "Content-Length");
        if (length && strtoull(length, NULL, 10) > sb->config.max_body)
            pending->too_large = 1;
        *con_cls = pending;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!pending->too_large) {
            if (pending->body.size + *upload_data_size > sb->config.max_body)
                pending->too_large = 1;
            else if (igtcloud__buf_put(&pending->body, upload_data, *upload_data_size))
                return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    sandbox_response res;
    sandbox_response_init(&res);
    dispatch(sb, connection, method, url, pending, &res);
    sandbox_log_request(sb, "api", method, url, NULL, res.status, res.body.size);
    enum MHD_Result ret = send_response(connection, &res);
    sandbox_response_dispose(&res);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)connection;
    (void)toe;
    struct pending *pending = *con_cls;
    if (!pending)
        return;
    igtcloud__buf_dispose(&pending->body);
    free(pending);
    *con_cls = NULL;
}

int sandbox_server_start(sandbox_server **out, unsigned short *bound_port,
                         sandbox *sb, const char *host, unsigned short port)
{
    struct sockaddr_in addr;
    if (sandbox_listener_address(&addr, host, port))
        return -1;
    sandbox_server *server = calloc(1, sizeof(*server));
    if (!server)
        return -1;
    server->sb = sb;
    const struct MHD_OptionItem options[] = {
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL },
        { MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL },
        { MHD_OPTION_END, 0, NULL },
    };
    if (sandbox_listener_start(&server->daemon, bound_port, sb, &addr, on_request, sb, options)) {
        free(server);
        return -1;
    }
    *out = server;
    return 0;
}

void sandbox_server_stop(sandbox_server *server)
{
    if (!server)
        return;
    MHD_stop_daemon(server->daemon);
    free(server);
}
