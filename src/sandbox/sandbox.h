#ifndef SANDBOX_SANDBOX_H
#define SANDBOX_SANDBOX_H

#include <stddef.h>
#include <stdio.h>
#include <pthread.h>
#include <sqlite3.h>
#include <jansson.h>

#include "core/buf.h"

/* What the command line configures; see `igtcloud-sandbox --help`. */
typedef struct sandbox_config {
    char listen_host[64];
    unsigned short listen_port;      /* 0: pick a free port */
    const char *data_dir;            /* NULL: a fresh temporary folder */
    const char *seed;                /* NULL, "demo" or a JSON file */
    long token_lifetime;             /* JWT lifetime (cookie Max-Age), seconds */
    long credential_lifetime;        /* S3 credentials lifetime, seconds */
    const char *log_requests;        /* JSON-lines request log, or NULL */
    size_t max_body;                 /* largest API request body accepted */
    /* The S3 endpoint (s3_server.c). */
    char s3_listen_host[64];
    unsigned short s3_listen_port;   /* 0: pick a free port */
    const char *tls_cert;            /* PEM files; both set: HTTPS on both listeners */
    const char *tls_key;
    const char *faults;              /* fault rules file (docs/sandbox-faults.md) */
    const char *admin_token;         /* enables /_admin/faults on the S3 listener */
    unsigned long long min_part_size;  /* smallest non-final multipart part */
} sandbox_config;

typedef struct sandbox_store sandbox_store;

/* The running cloud: configuration, metadata store and the URL it serves. */
typedef struct sandbox {
    sandbox_config config;
    sandbox_store *store;
    char data_dir[4096];
    char api_url[128];               /* http://host:port, set once listening */
    char s3_url[128];                /* the S3 endpoint's URL, "" until it listens */
    char region[32];                 /* S3 region credentials are scoped to */
    char bucket[64];
    FILE *request_log;
    pthread_mutex_t log_lock;
    char *tls_cert_pem;              /* contents of config.tls_cert/tls_key, or NULL */
    char *tls_key_pem;
} sandbox;

#define SANDBOX_MAX_PARAMS 4

/* One HTTP request as handlers see it. Everything is borrowed. */
typedef struct sandbox_request {
    sandbox *sb;
    const char *method;
    const char *path;
    const char *body;                /* NUL-terminated copy of the body */
    size_t body_len;
    const char *params[SANDBOX_MAX_PARAMS];  /* the {} segments of the route */
    void *connection;                /* struct MHD_Connection */
} sandbox_request;

#define SANDBOX_MAX_HEADERS 8

typedef struct sandbox_response {
    int status;
    igtcloud__buf body;
    const char *content_type;        /* static string */
    int nheaders;
    char *header_names[SANDBOX_MAX_HEADERS];
    char *header_values[SANDBOX_MAX_HEADERS];
} sandbox_response;

/* Header or query-string value of the request, NULL when absent. */
const char *sandbox_request_header(const sandbox_request *req, const char *name);
const char *sandbox_request_query(const sandbox_request *req, const char *name);

/* Every value of a repeated query argument (?keys=a&keys=b); returns the count. */
size_t sandbox_request_query_all(const sandbox_request *req, const char *name,
                                 const char **out, size_t max);

/* Parse the body as JSON. On failure sets a 400 on res and returns NULL. */
json_t *sandbox_request_json(const sandbox_request *req, sandbox_response *res);

void sandbox_response_init(sandbox_response *res);
void sandbox_response_dispose(sandbox_response *res);

/* Set status and a JSON body; takes the reference to `body`. */
void sandbox_response_json(sandbox_response *res, int status, json_t *body);

/* Set status and the cloud's error body {"message": "..."}. */
void sandbox_response_error(sandbox_response *res, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Add a response header (copied); e.g. Set-Cookie may be added twice. */
int sandbox_response_header(sandbox_response *res, const char *name, const char *value);

#endif
