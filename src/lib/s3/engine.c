/*
 * The transfer engine: one curl multi handle drives every request of a run.
 *
 * Files ("jobs") are activated in queueing order while there is room for
 * their file descriptors; an active job produces requests (one PUT, or
 * CreateMultipartUpload + parts + Complete; one GET, or ranged GETs) that
 * are started while fewer than max_requests are in flight. Bodies go from
 * and to files with pread/pwrite at their offsets: no object is ever held in
 * memory. A failed attempt is classified (retry.c) and scheduled again after
 * a full-jitter backoff, within the run's retry budget; ExpiredToken renews
 * the shared credentials and retries for free.
 *
 * The MD5 of a downloaded file (checked against its ETag) is computed by a
 * small pool of worker threads, from the temporary file, while the loop
 * keeps the other requests moving; the file is renamed when the worker's
 * answer is back. Workers touch nothing but their task: the file descriptor
 * (read-only, pread), its size and ETag, and the task's result.
 */
/* sync_file_range() starts writeback without waiting (Linux). */
#define _GNU_SOURCE
#include "s3/engine.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/random.h"
#include "s3/credentials.h"
#include "s3/endpoint.h"
#include "s3/engine_xml.h"
#include "s3/journal.h"
#include "s3/plan.h"
#include "s3/retry.h"
#include "s3/sigv4.h"
#include "s3/wire.h"

#define MIB ((uint64_t)1024 * 1024)
#define IO_BUF_SIZE (256 * 1024)
#define MAX_SMALL_BODY (1024 * 1024)
#define MAX_FREE_RETRIES 3
#define PROGRESS_INTERVAL_MS 50
#define VERIFY_THREADS 2

enum job_kind { JK_UPLOAD = 1, JK_DOWNLOAD, JK_READ, JK_STAT };
enum job_state { JS_QUEUED = 0, JS_ACTIVE, JS_DONE };
enum req_kind { RK_PUT = 1, RK_CREATE, RK_PART, RK_COMPLETE, RK_ABORT, RK_LIST, RK_GET, RK_HEAD };

typedef struct job job;
typedef struct req req;

struct job {
    int kind;
    int state;
    char *key;
    char *path;
    char *prefix;
    char *resume_upload_id;
    void *payload;
    int64_t expected;

    /* Result. */
    int status;
    int skipped;
    long http_status;
    char error_code[64];
    char request_id[128];
    char message[384];
    uint64_t size;
    int size_known;
    char etag[IGTCLOUD__ETAG_MAX + 1];
    int64_t last_modified;
    char *upload_id;

    int fd;
    size_t pending;       /* requests queued or in flight */
    int failing;          /* a final error is recorded; drain, then finish */
    int restarted;        /* a changed object restarted the download once */
    job *next_active;

    /* Upload. */
    uint64_t part_size;
    uint32_t nparts;
    uint32_t next_part;
    uint32_t parts_done;
    char **part_etags;
    uint32_t *part_crcs;  /* CRC32C of each part (crc_parts) */
    int crc_parts;        /* the upload was created with x-amz-checksum-algorithm CRC32C */
    int parts_ready;      /* the upload id is known and parts may start */
    int abort_sent;
    uint32_t list_marker;

    /* Download. */
    char *tmp_path;
    char *journal_path;
    int journal_fd;
    igtcloud__journal journal;
    int ranged;           /* ranges beyond the first are planned */
    uint32_t next_range;
    uint32_t *unjournaled; /* ranges on disk, not yet in the journal */
    uint32_t nunjournaled;
    int64_t journal_synced_ms;
    EVP_MD_CTX *md5;      /* streaming MD5 while bytes arrive in order (no verify pool) */
    uint64_t md5_pos;
    int finished;         /* download_finish ran (the verification may be pending) */
    int verifying;        /* a worker is computing the MD5 of the temporary file */

    /* Read into a caller buffer. */
    unsigned char *buf;
    size_t buf_len;
    size_t got;
};

struct req {
    req *next;
    job *job;
    int kind;
    uint32_t index;
    uint64_t offset;
    uint64_t length;      /* body to send, or range to fetch (UINT64_MAX: to the end) */
    uint64_t done;        /* GET: bytes kept so far, over all attempts */
    int whole;            /* GET without Range at the first attempt */
    unsigned int attempt;
    unsigned int free_retries;
    unsigned int cost;
    int64_t not_before;

    CURL *easy;
    struct curl_slist *headers;
    igtcloud__cred_entry *cred;
    unsigned int cred_generation;
    char bucket[IGTCLOUD_S3_BUCKET_MAX + 1];

    /* Response of the current attempt. */
    long status;
    char etag[IGTCLOUD__ETAG_MAX + 1];
    char request_id[128];
    char bucket_region[64];
    char content_range[96];
    char last_modified[64];
    int has_length;
    uint64_t content_length;
    igtcloud__buf body;
    uint64_t attempt_bytes;
    int checked;
    int learned_total;    /* the response told the object size first */
    int local_error;
    int proto_error;
    int stalled;
    char local_msg[256];

    /* Request body. */
    igtcloud__buf send_body;
    uint64_t send_pos;

    int64_t last_progress;
    curl_off_t seen_dl, seen_ul;
};

/* One MD5 verification handed to a worker. */
typedef struct verify_task {
    struct verify_task *next;
    job *job;                 /* only the loop thread dereferences it */
    int fd;
    uint64_t size;
    char etag[IGTCLOUD__ETAG_MAX + 1];
    int result;               /* 0 match, 1 mismatch, -errno (or -EIO) when unreadable */
} verify_task;

typedef struct verify_pool {
    pthread_mutex_t lock;
    pthread_cond_t todo_cond;  /* a task to do, or stop */
    pthread_cond_t done_cond;  /* a task is done */
    verify_task *todo_head, *todo_tail, *done_head;
    int stop;
    int nthreads;
    pthread_t threads[VERIFY_THREADS];
} verify_pool;

struct region_memo {
    char bucket[IGTCLOUD_S3_BUCKET_MAX + 1];
    char region[IGTCLOUD_S3_REGION_MAX + 1];
};

struct igtcloud_transfer {
    igtcloud_transfer_options o;
    char *endpoint;
    char *region;
    char *ca_file;
    char *env_endpoint_s3;
    char *env_endpoint;
    char *env_region;
    igtcloud_s3_credentials *fixed;

    CURLM *multi;
    CURL **pool;
    size_t npool;

    job **jobs;
    size_t njobs, ajobs;
    job **list;           /* the jobs of the current loop */
    size_t nlist, cursor;
    size_t list_first;    /* list == jobs + list_first while a run may be fed */
    igtcloud__transfer_feed_fn feed;
    void *feed_payload;
    int feeding;          /* the feeder may still queue files in this run */
    job *active_head;
    size_t nactive;
    size_t max_active;

    req *ready_head;
    req **inflight;
    size_t ninflight;

    igtcloud__cred_cache creds;
    igtcloud__retry_budget budget;
    struct region_memo *regions;
    size_t nregions;

    volatile sig_atomic_t cancel;
    uint64_t rng;
    unsigned char *io_buf;

    verify_pool *verify;  /* NULL until needed, or when threads cannot start */
    int verify_failed;    /* the pool could not start: verify on the loop */
    size_t nverifying;    /* tasks handed out and not yet collected */

    igtcloud_transfer_progress progress;
    int64_t last_progress_cb;
    igtcloud__engine_stats stats;
};

static int journal_flush(job *j, int force);
static void download_verified(igtcloud_transfer *t, job *j, int v);
static void download_rename(job *j);
static void job_settle(igtcloud_transfer *t, job *j);

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_s(igtcloud_transfer *t)
{
    if (t->o.clock_cb)
        return t->o.clock_cb(t->o.clock_payload) / 1000;
    return (int64_t)time(NULL);
}

static uint32_t next_random(igtcloud_transfer *t)
{
    if (t->o.random_cb)
        return t->o.random_cb(t->o.random_payload);
    /* xorshift64*: plenty for jitter. */
    t->rng ^= t->rng >> 12;
    t->rng ^= t->rng << 25;
    t->rng ^= t->rng >> 27;
    return (uint32_t)((t->rng * 2685821657736338717ULL) >> 32);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int dup_opt(char **out, const char *s)
{
    *out = NULL;
    if (!s)
        return 0;
    *out = strdup(s);
    return *out ? 0 : igtcloud__error_oom();
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int status_for_s3(long http, const char *code)
{
    if (code && (strcmp(code, "SignatureDoesNotMatch") == 0 ||
                 strcmp(code, "InvalidAccessKeyId") == 0 || strcmp(code, "InvalidToken") == 0 ||
                 strcmp(code, "ExpiredToken") == 0 ||
                 strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
                 strcmp(code, "RequestTimeTooSkewed") == 0 ||
                 strcmp(code, "InvalidSecurity") == 0))
        return IGTCLOUD_EAUTH;
    if (code && (strcmp(code, "NoSuchKey") == 0 || strcmp(code, "NoSuchBucket") == 0 ||
                 strcmp(code, "NoSuchUpload") == 0))
        return IGTCLOUD_ENOTFOUND;
    if (http == 401)
        return IGTCLOUD_EAUTH;
    if (http == 403)
        return IGTCLOUD_EPERM;
    if (http == 404)
        return IGTCLOUD_ENOTFOUND;
    if (http == 408)
        return IGTCLOUD_ETIMEOUT;
    return IGTCLOUD_EPROTO;
}

static int status_for_outcome(igtcloud__xfer_outcome o)
{
    switch (o) {
    case IGTCLOUD__XFER_CONNECT:
    case IGTCLOUD__XFER_SHORT:
        return IGTCLOUD_ENET;
    case IGTCLOUD__XFER_TIMEOUT:
        return IGTCLOUD_ETIMEOUT;
    case IGTCLOUD__XFER_TLS:
        return IGTCLOUD_ETLS;
    case IGTCLOUD__XFER_LOCAL:
        return IGTCLOUD_EIO;
    default:
        return IGTCLOUD_EPROTO;
    }
}

static const char *op_name(int kind)
{
    switch (kind) {
    case RK_PUT: return "PUT";
    case RK_CREATE: return "CreateMultipartUpload";
    case RK_PART: return "UploadPart";
    case RK_COMPLETE: return "CompleteMultipartUpload";
    case RK_ABORT: return "AbortMultipartUpload";
    case RK_LIST: return "ListParts";
    case RK_GET: return "GET";
    case RK_HEAD: return "HEAD";
    default: return "request";
    }
}

/* ------------------------------------------------------------------ */
/* Jobs: results                                                       */

__attribute__((format(printf, 5, 6)))
static void job_error(job *j, int code, long http, const char *s3_code, const char *fmt, ...)
{
    if (j->status)
        return; /* the first failure is the one reported */
    j->status = code;
    j->http_status = http;
    snprintf(j->error_code, sizeof(j->error_code), "%s", s3_code ? s3_code : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->message, sizeof(j->message), fmt, ap);
    va_end(ap);
    for (char *p = j->message; *p; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    j->failing = 1;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void job_release(job *j)
{
    close_fd(&j->fd);
    close_fd(&j->journal_fd);
    igtcloud__journal_dispose(&j->journal);
    free(j->unjournaled);
    j->unjournaled = NULL;
    j->nunjournaled = 0;
    if (j->md5) {
        EVP_MD_CTX_free(j->md5);
        j->md5 = NULL;
    }
    if (j->part_etags) {
        for (uint32_t i = 0; i < j->nparts; i++)
            free(j->part_etags[i]);
        free(j->part_etags);
        j->part_etags = NULL;
    }
    free(j->part_crcs);
    j->part_crcs = NULL;
}

static void job_free(job *j)
{
    if (!j)
        return;
    job_release(j);
    free(j->key);
    free(j->path);
    free(j->prefix);
    free(j->resume_upload_id);
    free(j->upload_id);
    free(j->tmp_path);
    free(j->journal_path);
    free(j);
}

static void job_result(igtcloud_transfer_result *out, const job *j)
{
    memset(out, 0, sizeof(*out));
    out->direction = j->kind == JK_UPLOAD ? IGTCLOUD_TRANSFER_UPLOAD : IGTCLOUD_TRANSFER_DOWNLOAD;
    out->key = j->key;
    out->path = j->path ? j->path : "";
    out->status = j->status;
    out->skipped = j->skipped;
    out->http_status = (int)j->http_status;
    out->error_code = j->error_code;
    out->request_id = j->request_id;
    out->message = j->message;
    out->size = j->size;
    out->etag = j->etag;
    out->last_modified = j->last_modified;
    out->upload_id = j->upload_id ? j->upload_id : "";
    out->payload = j->payload;
}

static void remove_active(igtcloud_transfer *t, job *j)
{
    for (job **p = &t->active_head; *p; p = &(*p)->next_active) {
        if (*p == j) {
            *p = j->next_active;
            j->next_active = NULL;
            t->nactive--;
            return;
        }
    }
}

static void job_done(igtcloud_transfer *t, job *j)
{
    if (j->state == JS_DONE)
        return;
    j->state = JS_DONE;
    remove_active(t, j);
    if (j->kind == JK_DOWNLOAD && j->journal_fd >= 0 && j->fd >= 0)
        journal_flush(j, 1); /* a failed or cancelled download resumes from here */
    job_release(j);
    if (j->kind == JK_UPLOAD || j->kind == JK_DOWNLOAD) {
        t->progress.files_done++;
        if (j->status)
            t->progress.files_failed++;
        if (t->o.file_cb) {
            igtcloud_transfer_result r;
            job_result(&r, j);
            if (t->o.file_cb(&r, t->o.file_payload))
                t->cancel = 1;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */

static req *req_new(job *j, int kind, uint32_t index, uint64_t offset, uint64_t length)
{
    req *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->job = j;
    r->kind = kind;
    r->index = index;
    r->offset = offset;
    r->length = length;
    igtcloud__buf_init(&r->body);
    igtcloud__buf_init(&r->send_body);
    j->pending++;
    return r;
}

static void req_free(req *r)
{
    if (!r)
        return;
    curl_slist_free_all(r->headers);
    igtcloud__buf_dispose(&r->body);
    igtcloud__buf_dispose(&r->send_body);
    free(r);
}

static void enqueue(igtcloud_transfer *t, req *r, int64_t not_before)
{
    r->not_before = not_before;
    r->next = NULL;
    req **p = &t->ready_head;
    while (*p)
        p = &(*p)->next;
    *p = r;
}

/* A request is over for good: drop it and let its job move on. */
static void req_retire(igtcloud_transfer *t, req *r)
{
    (void)t;
    r->job->pending--;
    req_free(r);
}

/* ------------------------------------------------------------------ */
/* curl callbacks                                                      */

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    req *r = userdata;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new response (after 100 Continue or a redirect): forget the last. */
        const char *sp = memchr(data, ' ', n);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        r->etag[0] = r->request_id[0] = r->bucket_region[0] = '\0';
        r->content_range[0] = r->last_modified[0] = '\0';
        r->has_length = 0;
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon)
        return n;
    size_t name_len = (size_t)(colon - data);
    const char *v = colon + 1;
    size_t vlen = n - name_len - 1;
    while (vlen > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
        vlen--;
#define IS(name) (name_len == sizeof(name) - 1 && strncasecmp(data, name, name_len) == 0)
#define COPY(field)                                                   \
    do {                                                              \
        size_t c = vlen < sizeof(field) - 1 ? vlen : sizeof(field) - 1; \
        memcpy(field, v, c);                                          \
        field[c] = '\0';                                              \
    } while (0)
    if (IS("etag")) {
        if (igtcloud__wire_etag(r->etag, v, vlen))
            r->etag[0] = '\0';
    } else if (IS("x-amz-request-id")) {
        COPY(r->request_id);
    } else if (IS("x-amz-bucket-region")) {
        COPY(r->bucket_region);
    } else if (IS("content-range")) {
        COPY(r->content_range);
    } else if (IS("last-modified")) {
        COPY(r->last_modified);
    } else if (IS("content-length")) {
        r->has_length = igtcloud__wire_u64(&r->content_length, v, vlen) == 0;
    }
#undef IS
#undef COPY
    return n;
}

static int ok_status(long s)
{
    return s >= 200 && s < 300;
}

/*
 * Check a successful GET's headers against what was asked, once, before the
 * first body byte is kept (or at the end for an empty body).
 */
static int check_get(igtcloud_transfer *t, req *r)
{
    (void)t;
    job *j = r->job;
    r->checked = 1;
    uint64_t start = r->offset + r->done;
    int64_t first = -1, last = -1, total = -1;
    if (r->status == 206) {
        if (!r->content_range[0] ||
            igtcloud__wire_content_range(&first, &last, &total, r->content_range,
                                         strlen(r->content_range)) ||
            first < 0 || (uint64_t)first != start) {
            snprintf(r->local_msg, sizeof(r->local_msg),
                     "server answered a different range than asked (%s)", r->content_range);
            return -1;
        }
    } else if (r->status == 200) {
        if (start != 0) {
            snprintf(r->local_msg, sizeof(r->local_msg),
                     "server ignored the Range of a resumed GET");
            return -1;
        }
        if (r->has_length)
            total = (int64_t)r->content_length;
        r->length = UINT64_MAX; /* the whole object comes */
    } else {
        snprintf(r->local_msg, sizeof(r->local_msg), "unexpected HTTP %ld", r->status);
        return -1;
    }
    if (r->etag[0] && j->etag[0] && strcmp(r->etag, j->etag) != 0) {
        snprintf(r->local_msg, sizeof(r->local_msg), "object changed during the download");
        return -1;
    }
    if (!j->etag[0] && r->etag[0])
        snprintf(j->etag, sizeof(j->etag), "%s", r->etag);
    if (r->last_modified[0] && !j->last_modified) {
        int64_t lm;
        if (igtcloud__wire_http_date(&lm, r->last_modified, strlen(r->last_modified)) == 0)
            j->last_modified = lm;
    }
    if (total >= 0) {
        if (j->size_known && (uint64_t)total != j->size) {
            snprintf(r->local_msg, sizeof(r->local_msg),
                     "object size %" PRId64 " differs from the expected %" PRIu64, total, j->size);
            return -1;
        }
        if (!j->size_known && j->expected < 0)
            r->learned_total = 1;
        j->size = (uint64_t)total;
        j->size_known = 1;
    }
    return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    req *r = userdata;
    job *j = r->job;
    size_t n = size * nmemb;
    if (r->kind != RK_GET || !ok_status(r->status)) {
        if (r->body.size + n > MAX_SMALL_BODY)
            return n; /* keep the start of an oversized error body */
        return igtcloud__buf_put(&r->body, data, n) == 0 ? n : 0;
    }
    if (!r->checked && check_get(NULL, r)) {
        r->proto_error = 1;
        return 0;
    }
    uint64_t at = r->offset + r->done;
    if (r->length != UINT64_MAX && r->done + n > r->length) {
        snprintf(r->local_msg, sizeof(r->local_msg), "server sent more than the range asked");
        r->proto_error = 1;
        return 0;
    }
    if (j->kind == JK_READ) {
        size_t room = j->buf_len - (size_t)(at - r->offset);
        size_t c = n < room ? n : room;
        memcpy(j->buf + (at - r->offset), data, c);
        j->got += c;
    } else {
        const char *p = data;
        size_t left = n;
        off_t pos = (off_t)at;
        while (left > 0) {
            ssize_t w = pwrite(j->fd, p, left, pos);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                snprintf(r->local_msg, sizeof(r->local_msg), "cannot write %s: %s", j->tmp_path,
                         strerror(errno));
                r->local_error = 1;
                return 0;
            }
            p += w;
            pos += w;
            left -= (size_t)w;
        }
        if (j->md5) {
            if (j->md5_pos == at) {
                EVP_DigestUpdate(j->md5, data, n);
                j->md5_pos += n;
            } else {
                EVP_MD_CTX_free(j->md5);
                j->md5 = NULL;
            }
        }
    }
    r->done += n;
    r->attempt_bytes += n;
    return n;
}

static size_t on_read(char *buffer, size_t size, size_t nitems, void *userdata)
{
    req *r = userdata;
    size_t want = size * nitems;
    if (r->send_body.ptr || r->kind == RK_COMPLETE) {
        size_t left = r->send_body.size - (size_t)r->send_pos;
        size_t c = want < left ? want : left;
        memcpy(buffer, r->send_body.ptr + r->send_pos, c);
        r->send_pos += c;
        return c;
    }
    uint64_t left = r->length - r->send_pos;
    size_t c = want < left ? want : (size_t)left;
    if (c == 0)
        return 0;
    ssize_t got;
    do {
        got = pread(r->job->fd, buffer, c, (off_t)(r->offset + r->send_pos));
    } while (got < 0 && errno == EINTR);
    if (got <= 0) {
        snprintf(r->local_msg, sizeof(r->local_msg), "cannot read %s: %s", r->job->path,
                 got < 0 ? strerror(errno) : "file shrank during the upload");
        r->local_error = 1;
        return CURL_READFUNC_ABORT;
    }
    r->send_pos += (uint64_t)got;
    return (size_t)got;
}

static int on_seek(void *userdata, curl_off_t offset, int origin)
{
    req *r = userdata;
    if (origin != SEEK_SET || offset < 0)
        return CURL_SEEKFUNC_CANTSEEK;
    r->send_pos = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    req *r = userdata;
    if (dlnow != r->seen_dl || ulnow != r->seen_ul) {
        r->seen_dl = dlnow;
        r->seen_ul = ulnow;
        r->last_progress = mono_ms();
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Building and signing a request                                      */

static int add_header(struct curl_slist **list, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int add_header(struct curl_slist **list, const char *fmt, ...)
{
    char line[IGTCLOUD_S3_TOKEN_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "header too long");
    struct curl_slist *grown = curl_slist_append(*list, line);
    if (!grown)
        return igtcloud__error_oom();
    *list = grown;
    return 0;
}

/*
 * Digests of [offset, offset+len) of fd, each only when asked for: MD5
 * (base64), SHA-256 (hex) and CRC32C.
 */
static int hash_file_range(igtcloud_transfer *t, char md5_b64[32], char sha_hex[65],
                           uint32_t *crc32c, int fd, uint64_t offset, uint64_t len,
                           const char *path)
{
    int rc = 0;
    EVP_MD_CTX *md5 = md5_b64 ? EVP_MD_CTX_new() : NULL;
    EVP_MD_CTX *sha = sha_hex ? EVP_MD_CTX_new() : NULL;
    uint32_t crc = 0;
    if ((md5_b64 && !md5) || (sha_hex && !sha) ||
        (md5 && !EVP_DigestInit_ex(md5, EVP_md5(), NULL)) ||
        (sha && !EVP_DigestInit_ex(sha, EVP_sha256(), NULL))) {
        rc = igtcloud__error_oom();
        goto done;
    }
    uint64_t pos = 0;
    while (pos < len) {
        size_t want = len - pos < IO_BUF_SIZE ? (size_t)(len - pos) : IO_BUF_SIZE;
        ssize_t got = pread(fd, t->io_buf, want, (off_t)(offset + pos));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", path,
                                     got < 0 ? strerror(errno) : "file shrank");
            goto done;
        }
        if (md5)
            EVP_DigestUpdate(md5, t->io_buf, (size_t)got);
        if (sha)
            EVP_DigestUpdate(sha, t->io_buf, (size_t)got);
        if (crc32c)
            crc = igtcloud__crc32c(crc, t->io_buf, (size_t)got);
        pos += (uint64_t)got;
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    if (crc32c)
        *crc32c = crc;
    if (md5) {
        EVP_DigestFinal_ex(md5, d, &dl);
        igtcloud__buf b64 = IGTCLOUD_BUF_INIT;
        rc = igtcloud__base64_encode(&b64, d, dl);
        if (!rc)
            snprintf(md5_b64, 32, "%s", b64.ptr);
        igtcloud__buf_dispose(&b64);
    }
    if (sha) {
        EVP_DigestFinal_ex(sha, d, &dl);
        igtcloud__hex(sha_hex, d, dl);
    }
done:
    EVP_MD_CTX_free(md5);
    EVP_MD_CTX_free(sha);
    return rc;
}

static const char *find_region(igtcloud_transfer *t, const char *bucket)
{
    for (size_t i = 0; i < t->nregions; i++) {
        if (strcmp(t->regions[i].bucket, bucket) == 0)
            return t->regions[i].region;
    }
    return NULL;
}

static int remember_region(igtcloud_transfer *t, const char *bucket, const char *region)
{
    for (size_t i = 0; i < t->nregions; i++) {
        if (strcmp(t->regions[i].bucket, bucket) == 0) {
            snprintf(t->regions[i].region, sizeof(t->regions[i].region), "%s", region);
            return 0;
        }
    }
    struct region_memo *grown = realloc(t->regions, (t->nregions + 1) * sizeof(*grown));
    if (!grown)
        return igtcloud__error_oom();
    t->regions = grown;
    snprintf(grown[t->nregions].bucket, sizeof(grown[0].bucket), "%s", bucket);
    snprintf(grown[t->nregions].region, sizeof(grown[0].region), "%s", region);
    t->nregions++;
    return 0;
}

static CURL *take_easy(igtcloud_transfer *t)
{
    if (t->npool > 0) {
        CURL *e = t->pool[--t->npool];
        curl_easy_reset(e);
        return e;
    }
    return curl_easy_init();
}

static void give_easy(igtcloud_transfer *t, CURL *e)
{
    if (!e)
        return;
    if (t->npool < t->o.max_requests)
        t->pool[t->npool++] = e;
    else
        curl_easy_cleanup(e);
}

/* Query string of a request kind (raw, already encoded). */
static int build_query(igtcloud__buf *q, const req *r)
{
    const job *j = r->job;
    igtcloud__buf_clear(q);
    switch (r->kind) {
    case RK_CREATE:
        return igtcloud__buf_puts(q, "uploads=");
    case RK_PART:
        if (igtcloud__buf_printf(q, "partNumber=%" PRIu32 "&uploadId=", r->index + 1))
            return IGTCLOUD_ENOMEM;
        return igtcloud__sigv4_uri_encode(q, j->upload_id, strlen(j->upload_id), 0);
    case RK_COMPLETE:
    case RK_ABORT:
        if (igtcloud__buf_puts(q, "uploadId="))
            return IGTCLOUD_ENOMEM;
        return igtcloud__sigv4_uri_encode(q, j->upload_id, strlen(j->upload_id), 0);
    case RK_LIST:
        if (igtcloud__buf_printf(q, "max-parts=1000&part-number-marker=%" PRIu32 "&uploadId=",
                                 j->list_marker))
            return IGTCLOUD_ENOMEM;
        return igtcloud__sigv4_uri_encode(q, j->upload_id, strlen(j->upload_id), 0);
    default:
        return 0;
    }
}

/* x-amz-checksum-crc32c: base64 of the CRC's four bytes, big-endian. */
static void crc32c_b64(char out[16], uint32_t crc)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char b[4] = { (unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                           (unsigned char)(crc >> 8), (unsigned char)crc };
    out[0] = digits[b[0] >> 2];
    out[1] = digits[((b[0] & 3) << 4) | (b[1] >> 4)];
    out[2] = digits[((b[1] & 15) << 2) | (b[2] >> 6)];
    out[3] = digits[b[2] & 63];
    out[4] = digits[b[3] >> 2];
    out[5] = digits[(b[3] & 3) << 4];
    out[6] = '=';
    out[7] = '=';
    out[8] = '\0';
}

static int complete_body(igtcloud__buf *out, const job *j)
{
    int rc = igtcloud__buf_puts(out, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (uint32_t i = 0; !rc && i < j->nparts; i++) {
        rc = igtcloud__buf_printf(out, "<Part><PartNumber>%" PRIu32 "</PartNumber><ETag>\"%s\"</ETag>",
                                  i + 1, j->part_etags[i]);
        if (!rc && j->crc_parts) {
            char b64[16];
            crc32c_b64(b64, j->part_crcs[i]);
            rc = igtcloud__buf_printf(out, "<ChecksumCRC32C>%s</ChecksumCRC32C>", b64);
        }
        if (!rc)
            rc = igtcloud__buf_puts(out, "</Part>");
    }
    if (!rc)
        rc = igtcloud__buf_puts(out, "</CompleteMultipartUpload>");
    return rc;
}

/* Prepare the easy handle of r and add it to the multi handle. */
static int req_start(igtcloud_transfer *t, req *r)
{
    int rc = 0;
    job *j = r->job;
    igtcloud__buf url = IGTCLOUD_BUF_INIT, host = IGTCLOUD_BUF_INIT, path = IGTCLOUD_BUF_INIT;
    igtcloud__buf query = IGTCLOUD_BUF_INIT;
    igtcloud__sigv4_signed sig = IGTCLOUD__SIGV4_SIGNED_INIT;
    const char *action = (j->kind == JK_UPLOAD) ? "PUT" : "GET";
    int64_t now = wall_s(t);

    rc = igtcloud__cred_cache_get(&r->cred, &t->creds, action, j->prefix, now);
    t->stats.credential_fetches = t->creds.fetches;
    if (rc)
        goto done;
    r->cred_generation = r->cred->generation;
    const igtcloud_s3_credentials *c = &r->cred->creds;
    snprintf(r->bucket, sizeof(r->bucket), "%s", c->bucket);

    igtcloud__endpoint ep;
    igtcloud__endpoint_inputs in = { t->endpoint, t->env_endpoint_s3, t->env_endpoint,
                                     c->endpoint, t->region, c->region, t->env_region,
                                     find_region(t, c->bucket) };
    rc = igtcloud__endpoint_resolve(&ep, &in);
    if (!rc)
        rc = build_query(&query, r);
    if (!rc)
        rc = igtcloud__endpoint_url(&url, &host, &path, &ep, c->bucket, j->key, query.ptr);
    if (rc)
        goto done;

    /* Headers that are signed, then the signature. */
    const char *method = "GET";
    char md5_b64[32] = "", sha_hex[65] = "", range[96] = "", crc_b64[16] = "";
    int has_body = 0;
    uint64_t body_len = 0;
    switch (r->kind) {
    case RK_PUT:
    case RK_PART:
        method = "PUT";
        has_body = 1;
        body_len = r->length;
    {
        /* CRC32C replaces Content-MD5 on a single PUT, and on the parts of an
         * upload created with that algorithm (not on a resumed one: its
         * algorithm is unknown, and S3 refuses a part checksum of another). */
        int crc = t->o.checksum == IGTCLOUD_CHECKSUM_CRC32C &&
                  (r->kind == RK_PUT || j->crc_parts);
        uint32_t crc_value = 0;
        rc = hash_file_range(t, crc ? NULL : md5_b64,
                             t->o.checksum == IGTCLOUD_CHECKSUM_SHA256 ? sha_hex : NULL,
                             crc ? &crc_value : NULL, j->fd, r->offset, r->length, j->path);
        if (!rc && crc) {
            crc32c_b64(crc_b64, crc_value);
            if (r->kind == RK_PART)
                j->part_crcs[r->index] = crc_value;
        }
        break;
    }
    case RK_CREATE:
        method = "POST";
        break;
    case RK_COMPLETE: {
        method = "POST";
        has_body = 1;
        igtcloud__buf_clear(&r->send_body);
        rc = complete_body(&r->send_body, j);
        body_len = r->send_body.size;
        unsigned char d[IGTCLOUD_MD5_LEN], s[IGTCLOUD_SHA256_LEN];
        igtcloud__buf b64 = IGTCLOUD_BUF_INIT;
        if (!rc)
            rc = igtcloud__md5(d, r->send_body.ptr, r->send_body.size);
        if (!rc)
            rc = igtcloud__base64_encode(&b64, d, sizeof(d));
        if (!rc)
            snprintf(md5_b64, sizeof(md5_b64), "%s", b64.ptr);
        igtcloud__buf_dispose(&b64);
        if (!rc && t->o.checksum == IGTCLOUD_CHECKSUM_SHA256) {
            rc = igtcloud__sha256(s, r->send_body.ptr, r->send_body.size);
            igtcloud__hex(sha_hex, s, sizeof(s));
        }
        break;
    }
    case RK_ABORT:
        method = "DELETE";
        break;
    case RK_HEAD:
        method = "HEAD";
        break;
    case RK_GET: {
        uint64_t start = r->offset + r->done;
        if (r->whole && r->done == 0)
            break;
        if (r->length == UINT64_MAX)
            snprintf(range, sizeof(range), "bytes=%" PRIu64 "-", start);
        else if (r->done < r->length)
            snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, start,
                     r->offset + r->length - 1);
        break;
    }
    default:
        break;
    }
    if (rc)
        goto done;

    igtcloud__sigv4_header hs[8];
    size_t nh = 0;
    hs[nh++] = (igtcloud__sigv4_header){ "Host", host.ptr };
    if (md5_b64[0])
        hs[nh++] = (igtcloud__sigv4_header){ "Content-MD5", md5_b64 };
    if (crc_b64[0])
        hs[nh++] = (igtcloud__sigv4_header){ "x-amz-checksum-crc32c", crc_b64 };
    if (r->kind == RK_CREATE && t->o.checksum == IGTCLOUD_CHECKSUM_CRC32C)
        hs[nh++] = (igtcloud__sigv4_header){ "x-amz-checksum-algorithm", "CRC32C" };
    if (range[0])
        hs[nh++] = (igtcloud__sigv4_header){ "Range", range };
    char if_match[IGTCLOUD__ETAG_MAX + 3];
    if (r->kind == RK_GET && j->etag[0] && (range[0] || r->attempt > 0)) {
        snprintf(if_match, sizeof(if_match), "\"%s\"", j->etag);
        hs[nh++] = (igtcloud__sigv4_header){ "If-Match", if_match };
    }
    if ((r->kind == RK_PUT || r->kind == RK_CREATE) && t->o.server_side_encryption)
        hs[nh++] = (igtcloud__sigv4_header){ "x-amz-server-side-encryption", "AES256" };
    if (r->kind == RK_COMPLETE)
        hs[nh++] = (igtcloud__sigv4_header){ "Content-Type", "application/xml" };

    const char *payload_hash = IGTCLOUD_SIGV4_EMPTY_SHA256;
    if (has_body)
        payload_hash = sha_hex[0] ? sha_hex : IGTCLOUD_SIGV4_UNSIGNED_PAYLOAD;
    igtcloud__sigv4_request sreq = { method, path.ptr, query.size ? query.ptr : NULL, hs, nh,
                                     payload_hash };
    igtcloud__sigv4_credentials screds = { c->access_key, c->secret_key,
                                           c->session_token[0] ? c->session_token : NULL };
    igtcloud__sigv4_options sopts = IGTCLOUD__SIGV4_OPTIONS_INIT;
    sopts.region = ep.region;
    rc = igtcloud__sigv4_sign(&sig, &sreq, &screds, (time_t)now, &sopts);
    if (rc)
        goto done;

    struct curl_slist *list = NULL;
    for (size_t i = 1; !rc && i < nh; i++)
        rc = add_header(&list, "%s: %s", hs[i].name, hs[i].value);
    if (!rc)
        rc = add_header(&list, "Authorization: %s", sig.authorization.ptr);
    if (!rc)
        rc = add_header(&list, "x-amz-date: %s", sig.amz_date);
    if (!rc && sig.content_sha256[0])
        rc = add_header(&list, "x-amz-content-sha256: %s", sig.content_sha256);
    if (!rc && sig.session_token)
        rc = add_header(&list, "x-amz-security-token: %s", sig.session_token);
    if (!rc)
        rc = add_header(&list, "Expect:");
    if (!rc && r->kind != RK_COMPLETE)
        rc = add_header(&list, "Content-Type:");
    if (rc) {
        curl_slist_free_all(list);
        goto done;
    }
    curl_slist_free_all(r->headers);
    r->headers = list;

    /* Reset the per-attempt response. */
    r->status = 0;
    r->etag[0] = r->request_id[0] = r->bucket_region[0] = r->content_range[0] = '\0';
    r->last_modified[0] = '\0';
    r->has_length = 0;
    igtcloud__buf_clear(&r->body);
    r->attempt_bytes = 0;
    r->checked = r->local_error = r->proto_error = r->stalled = 0;
    r->local_msg[0] = '\0';
    r->send_pos = 0;
    r->seen_dl = r->seen_ul = 0;
    r->last_progress = mono_ms();

    CURL *e = take_easy(t);
    if (!e) {
        rc = igtcloud__error_oom();
        goto done;
    }
    r->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, url.ptr);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, r);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)t->o.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (t->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_file);
    if (has_body) {
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, r);
        curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(e, CURLOPT_SEEKDATA, r);
    }
    if (strcmp(method, "PUT") == 0) {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body_len);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        if (has_body) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        } else {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
        }
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "DELETE") == 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    if (curl_multi_add_handle(t->multi, e) != CURLM_OK) {
        give_easy(t, e);
        r->easy = NULL;
        rc = igtcloud__error_set(IGTCLOUD_ERROR, "cannot start a request");
        goto done;
    }
    t->inflight[t->ninflight++] = r;
    t->stats.requests++;
    if (r->attempt > 0)
        t->stats.retries++;
done:
    igtcloud__sigv4_signed_dispose(&sig);
    igtcloud__buf_dispose(&url);
    igtcloud__buf_dispose(&host);
    igtcloud__buf_dispose(&path);
    igtcloud__buf_dispose(&query);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Downloads: temporary file, journal, verification                    */

static int make_side_path(char **out, const char *path, const char *suffix)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path + 1) : 0;
    igtcloud__buf b = IGTCLOUD_BUF_INIT;
    int rc = igtcloud__buf_put(&b, path, dir_len);
    if (!rc)
        rc = igtcloud__buf_printf(&b, ".%s%s", path + dir_len, suffix);
    if (rc) {
        igtcloud__buf_dispose(&b);
        return igtcloud__error_oom();
    }
    *out = igtcloud__buf_detach(&b);
    return 0;
}

static void discard_partial(job *j)
{
    close_fd(&j->fd);
    close_fd(&j->journal_fd);
    if (j->tmp_path)
        unlink(j->tmp_path);
    if (j->journal_path)
        unlink(j->journal_path);
}

static int verify_md5_file(igtcloud_transfer *t, job *j)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    if (j->md5 && j->md5_pos == j->size) {
        EVP_DigestFinal_ex(j->md5, d, &dl);
    } else {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL)) {
            EVP_MD_CTX_free(ctx);
            return igtcloud__error_oom();
        }
        uint64_t pos = 0;
        while (pos < j->size) {
            size_t want = j->size - pos < IO_BUF_SIZE ? (size_t)(j->size - pos) : IO_BUF_SIZE;
            ssize_t got = pread(j->fd, t->io_buf, want, (off_t)pos);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                EVP_MD_CTX_free(ctx);
                return igtcloud__error_set(IGTCLOUD_EIO, "cannot read back %s", j->tmp_path);
            }
            EVP_DigestUpdate(ctx, t->io_buf, (size_t)got);
            pos += (uint64_t)got;
        }
        EVP_DigestFinal_ex(ctx, d, &dl);
        EVP_MD_CTX_free(ctx);
    }
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    igtcloud__hex(hex, d, dl);
    return strcasecmp(hex, j->etag) == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* MD5 verification on worker threads                                  */

static int md5_fd_hex(char hex[2 * EVP_MAX_MD_SIZE + 1], int fd, uint64_t size, unsigned char *buf)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = 0;
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL)) {
        rc = -ENOMEM;
        goto done;
    }
    uint64_t pos = 0;
    while (pos < size) {
        size_t want = size - pos < IO_BUF_SIZE ? (size_t)(size - pos) : IO_BUF_SIZE;
        ssize_t got = pread(fd, buf, want, (off_t)pos);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            rc = got < 0 ? -errno : -EIO;
            goto done;
        }
        EVP_DigestUpdate(ctx, buf, (size_t)got);
        pos += (uint64_t)got;
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    EVP_DigestFinal_ex(ctx, d, &dl);
    igtcloud__hex(hex, d, dl);
done:
    EVP_MD_CTX_free(ctx);
    return rc;
}

static void *verify_worker(void *arg)
{
    igtcloud_transfer *t = arg;
    verify_pool *p = t->verify;
    CURLM *multi = t->multi;
    unsigned char *buf = malloc(IO_BUF_SIZE);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && !p->todo_head)
            pthread_cond_wait(&p->todo_cond, &p->lock);
        if (p->stop && !p->todo_head)
            break;
        verify_task *task = p->todo_head;
        p->todo_head = task->next;
        if (!p->todo_head)
            p->todo_tail = NULL;
        pthread_mutex_unlock(&p->lock);

        char hex[2 * EVP_MAX_MD_SIZE + 1];
        int rc = buf ? md5_fd_hex(hex, task->fd, task->size, buf) : -ENOMEM;
        task->result = rc < 0 ? rc : (strcasecmp(hex, task->etag) == 0 ? 0 : 1);

        pthread_mutex_lock(&p->lock);
        task->next = p->done_head;
        p->done_head = task;
        pthread_cond_signal(&p->done_cond);
        curl_multi_wakeup(multi);
    }
    pthread_mutex_unlock(&p->lock);
    free(buf);
    return NULL;
}

static void verify_stop(igtcloud_transfer *t)
{
    verify_pool *p = t->verify;
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->todo_cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    while (p->done_head) {
        verify_task *d = p->done_head;
        p->done_head = d->next;
        free(d);
    }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->todo_cond);
    pthread_cond_destroy(&p->done_cond);
    free(p);
    t->verify = NULL;
}

static int verify_start(igtcloud_transfer *t)
{
    if (t->verify)
        return 0;
    if (t->verify_failed)
        return -1;
    verify_pool *p = calloc(1, sizeof(*p));
    if (!p) {
        t->verify_failed = 1;
        return -1;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->todo_cond, NULL);
    pthread_cond_init(&p->done_cond, NULL);
    t->verify = p;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int want = cpus > 1 && cpus < VERIFY_THREADS ? (int)cpus : VERIFY_THREADS;
    for (int i = 0; i < want; i++) {
        if (pthread_create(&p->threads[p->nthreads], NULL, verify_worker, t) != 0)
            break;
        p->nthreads++;
    }
    if (p->nthreads == 0) {
        verify_stop(t);
        t->verify_failed = 1;
        return -1;
    }
    return 0;
}

/* Hand the MD5 check of j's temporary file to a worker; -1: do it here. */
static int verify_submit(igtcloud_transfer *t, job *j)
{
    if (verify_start(t))
        return -1;
    verify_task *task = calloc(1, sizeof(*task));
    if (!task)
        return -1;
    task->job = j;
    task->fd = j->fd;
    task->size = j->size;
    snprintf(task->etag, sizeof(task->etag), "%s", j->etag);
    verify_pool *p = t->verify;
    pthread_mutex_lock(&p->lock);
    if (p->todo_tail)
        p->todo_tail->next = task;
    else
        p->todo_head = task;
    p->todo_tail = task;
    pthread_cond_signal(&p->todo_cond);
    pthread_mutex_unlock(&p->lock);
    j->verifying = 1;
    j->pending++;
    t->nverifying++;
    t->stats.verified_by_workers++;
    return 0;
}

/* Apply the answers that are back; with `block`, wait for at least one. */
static void verify_collect(igtcloud_transfer *t, int block)
{
    verify_pool *p = t->verify;
    if (!p || t->nverifying == 0)
        return;
    pthread_mutex_lock(&p->lock);
    while (block && !p->done_head)
        pthread_cond_wait(&p->done_cond, &p->lock);
    verify_task *done = p->done_head;
    p->done_head = NULL;
    pthread_mutex_unlock(&p->lock);
    while (done) {
        verify_task *d = done;
        done = d->next;
        job *j = d->job;
        t->nverifying--;
        j->verifying = 0;
        j->pending--;
        if (d->result < 0)
            igtcloud__error_set(IGTCLOUD_EIO, "cannot read back %s: %s", j->tmp_path,
                                strerror(-d->result));
        download_verified(t, j, d->result < 0 ? IGTCLOUD_EIO : d->result);
        free(d);
        job_settle(t, j);
    }
}

/* Every byte is in the temporary file: verify, then give it its final name. */
static void download_finish(igtcloud_transfer *t, job *j)
{
    struct stat st;
    j->finished = 1;
    if (fstat(j->fd, &st) || (uint64_t)st.st_size != j->size) {
        job_error(j, IGTCLOUD_EPROTO, 0, NULL, "download of %s: size %lld on disk, %" PRIu64 " expected",
                  j->key, (long long)st.st_size, j->size);
        discard_partial(j);
        return;
    }
    if (j->expected >= 0 && (uint64_t)j->expected != j->size) {
        job_error(j, IGTCLOUD_EPROTO, 0, NULL, "download of %s: object has %" PRIu64 " bytes, %" PRId64 " expected",
                  j->key, j->size, j->expected);
        discard_partial(j);
        return;
    }
    if (igtcloud__wire_etag_is_md5(j->etag)) {
        if (!(j->md5 && j->md5_pos == j->size) && verify_submit(t, j) == 0)
            return; /* download_verified() when the worker is done */
        download_verified(t, j, verify_md5_file(t, j));
        return;
    }
    download_rename(j);
}

/* The MD5 check's outcome v (0 match, 1 mismatch, < 0 error, message set). */
static void download_verified(igtcloud_transfer *t, job *j, int v)
{
    (void)t;
    if (v) {
        if (v > 0)
            job_error(j, IGTCLOUD_EPROTO, 0, NULL,
                      "download of %s: MD5 of the data differs from the ETag", j->key);
        else
            job_error(j, v, 0, NULL, "download of %s: %s", j->key, igtcloud_error_last()->message);
        discard_partial(j);
        return;
    }
    download_rename(j);
}

static void download_rename(job *j)
{
    close_fd(&j->fd);
    if (rename(j->tmp_path, j->path) != 0) {
        job_error(j, IGTCLOUD_EIO, 0, NULL, "cannot rename %s to %s: %s", j->tmp_path, j->path,
                  strerror(errno));
        unlink(j->tmp_path);
        return;
    }
    close_fd(&j->journal_fd);
    if (j->journal_path)
        unlink(j->journal_path);
}

static int open_tmp(job *j, int truncate)
{
    int flags = O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (truncate ? O_TRUNC : 0);
    j->fd = open(j->tmp_path, flags, 0644);
    if (j->fd < 0)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot create %s: %s", j->tmp_path, strerror(errno));
    return 0;
}

/* Start a download from nothing: one GET, or the first range of many. */
static int download_fresh(igtcloud_transfer *t, job *j)
{
    discard_partial(j);
    igtcloud__journal_dispose(&j->journal);
    j->ranged = 0;
    j->etag[0] = '\0';
    j->last_modified = 0;
    j->size_known = j->expected >= 0;
    j->size = j->expected >= 0 ? (uint64_t)j->expected : 0;
    int rc = open_tmp(j, 1);
    if (rc)
        return rc;
    if (j->md5)
        EVP_MD_CTX_free(j->md5);
    j->md5 = NULL;
    j->md5_pos = 0;
    j->finished = 0;
    if (t->verify_failed) {
        /* No workers: hash on the loop while the bytes arrive in order. */
        j->md5 = EVP_MD_CTX_new();
        if (!j->md5 || !EVP_DigestInit_ex(j->md5, EVP_md5(), NULL))
            return igtcloud__error_oom();
    }
    req *r;
    if (j->size_known && j->size <= t->o.range_threshold) {
        r = req_new(j, RK_GET, 0, 0, j->size);
        if (r)
            r->whole = 1;
    } else {
        r = req_new(j, RK_GET, 0, 0, t->o.range_size);
    }
    if (!r)
        return igtcloud__error_oom();
    enqueue(t, r, 0);
    return 0;
}

/*
 * Write the ranges finished since the last flush to the journal, after their
 * bytes are synced. At most about once a second (or when forced), so the
 * loop rarely waits on the disk: writeback was started per range already,
 * and a killed run loses at most a second of progress.
 */
#define JOURNAL_FLUSH_MS 1000
static int journal_flush(job *j, int force)
{
    if (j->nunjournaled == 0 || j->journal_fd < 0)
        return 0;
    int64_t now = mono_ms();
    if (!force && now - j->journal_synced_ms < JOURNAL_FLUSH_MS)
        return 0;
    if (fdatasync(j->fd) != 0)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot sync %s: %s", j->tmp_path, strerror(errno));
    igtcloud__buf lines = IGTCLOUD_BUF_INIT;
    int rc = 0;
    for (uint32_t i = 0; !rc && i < j->nunjournaled; i++)
        rc = igtcloud__buf_printf(&lines, "done %" PRIu32 "\n", j->unjournaled[i]);
    if (!rc && write(j->journal_fd, lines.ptr, lines.size) != (ssize_t)lines.size)
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot append to %s", j->journal_path);
    igtcloud__buf_dispose(&lines);
    j->nunjournaled = 0;
    j->journal_synced_ms = now;
    return rc;
}

/* The first GET of a large object told its size: plan and journal the rest. */
static int download_plan_ranges(igtcloud_transfer *t, job *j)
{
    int rc = igtcloud__journal_init(&j->journal, j->size, t->o.range_size,
                                    j->etag[0] ? j->etag : "-", j->last_modified);
    if (rc)
        return rc;
    if (ftruncate(j->fd, (off_t)j->size) != 0)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot size %s: %s", j->tmp_path, strerror(errno));
    rc = igtcloud__journal_create(&j->journal_fd, j->journal_path, &j->journal);
    if (rc)
        return rc;
    free(j->unjournaled);
    j->unjournaled = calloc(j->journal.count, sizeof(*j->unjournaled));
    if (!j->unjournaled)
        return igtcloud__error_oom();
    j->nunjournaled = 0;
    j->journal_synced_ms = mono_ms();
    j->ranged = 1;
    j->next_range = 1;
    /* Range 0 arrived with the first GET. */
    if (fdatasync(j->fd) == 0 && igtcloud__journal_append(j->journal_fd, 0) == 0)
        igtcloud__journal_mark(&j->journal, 0);
    else
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot journal %s", j->tmp_path);
    return 0;
}

/* Resume from a journal left by an earlier run, when it matches. */
static int download_try_resume(igtcloud_transfer *t, job *j)
{
    igtcloud__journal jr = IGTCLOUD__JOURNAL_INIT;
    if (igtcloud__journal_load(&jr, j->journal_path) != 0)
        return 0;
    struct stat st;
    int usable = jr.range_size > 0 && (j->expected < 0 || (uint64_t)j->expected == jr.size) &&
                 stat(j->tmp_path, &st) == 0 && (uint64_t)st.st_size == jr.size &&
                 strcmp(jr.etag, "-") != 0;
    if (!usable) {
        igtcloud__journal_dispose(&jr);
        return 0;
    }
    if (open_tmp(j, 0) || igtcloud__journal_open_append(&j->journal_fd, j->journal_path)) {
        close_fd(&j->fd);
        igtcloud__journal_dispose(&jr);
        return 0;
    }
    j->unjournaled = calloc(jr.count, sizeof(*j->unjournaled));
    if (!j->unjournaled) {
        close_fd(&j->fd);
        close_fd(&j->journal_fd);
        igtcloud__journal_dispose(&jr);
        return 0;
    }
    j->nunjournaled = 0;
    j->journal_synced_ms = mono_ms();
    j->journal = jr;
    j->size = jr.size;
    j->size_known = 1;
    snprintf(j->etag, sizeof(j->etag), "%s", jr.etag);
    j->last_modified = jr.modified;
    j->ranged = 1;
    j->next_range = 0;
    t->stats.ranges_resumed += jr.ndone;
    t->progress.bytes_done += (uint64_t)jr.ndone * jr.range_size > jr.size
                                  ? jr.size
                                  : (uint64_t)jr.ndone * jr.range_size;
    return 1;
}

/* ------------------------------------------------------------------ */
/* Job start and request production                                    */

static int upload_start(igtcloud_transfer *t, job *j)
{
    j->fd = open(j->path, O_RDONLY | O_CLOEXEC);
    if (j->fd < 0)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot open %s: %s", j->path, strerror(errno));
    struct stat st;
    if (fstat(j->fd, &st) || !S_ISREG(st.st_mode))
        return igtcloud__error_set(IGTCLOUD_EIO, "%s is not a regular file", j->path);
    j->size = (uint64_t)st.st_size;
    j->size_known = 1;
    t->progress.bytes_total += j->size;
    if (j->size <= t->o.multipart_threshold) {
        req *r = req_new(j, RK_PUT, 0, 0, j->size);
        if (!r)
            return igtcloud__error_oom();
        enqueue(t, r, 0);
        return 0;
    }
    int rc = igtcloud__plan_parts(&j->part_size, &j->nparts, j->size, t->o.part_size);
    if (rc)
        return rc;
    j->part_etags = calloc(j->nparts, sizeof(*j->part_etags));
    if (!j->part_etags)
        return igtcloud__error_oom();
    req *r;
    if (j->resume_upload_id && *j->resume_upload_id) {
        j->upload_id = strdup(j->resume_upload_id);
        if (!j->upload_id)
            return igtcloud__error_oom();
        j->list_marker = 0;
        r = req_new(j, RK_LIST, 0, 0, 0);
    } else {
        r = req_new(j, RK_CREATE, 0, 0, 0);
    }
    if (!r)
        return igtcloud__error_oom();
    enqueue(t, r, 0);
    return 0;
}

static int download_start(igtcloud_transfer *t, job *j)
{
    struct stat st;
    if (j->expected >= 0 && stat(j->path, &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size == (uint64_t)j->expected) {
        j->skipped = 1;
        j->size = (uint64_t)j->expected;
        j->size_known = 1;
        return 1;
    }
    int rc = make_side_path(&j->tmp_path, j->path, IGTCLOUD__ENGINE_PART_SUFFIX);
    if (!rc)
        rc = make_side_path(&j->journal_path, j->path, IGTCLOUD__ENGINE_JOURNAL_SUFFIX);
    if (rc)
        return rc;
    if (j->expected >= 0)
        t->progress.bytes_total += (uint64_t)j->expected;
    if (download_try_resume(t, j))
        return 0;
    return download_fresh(t, j);
}

static int job_start(igtcloud_transfer *t, job *j)
{
    int rc = 0;
    j->state = JS_ACTIVE;
    j->next_active = t->active_head;
    t->active_head = j;
    t->nactive++;
    switch (j->kind) {
    case JK_UPLOAD:
        rc = upload_start(t, j);
        break;
    case JK_DOWNLOAD:
        rc = download_start(t, j);
        break;
    case JK_READ: {
        req *r = req_new(j, RK_GET, 0, j->size, j->buf_len);
        if (!r)
            return igtcloud__error_oom();
        enqueue(t, r, 0);
        break;
    }
    case JK_STAT: {
        req *r = req_new(j, RK_HEAD, 0, 0, 0);
        if (!r)
            return igtcloud__error_oom();
        enqueue(t, r, 0);
        break;
    }
    default:
        break;
    }
    if (rc == 1) {
        job_done(t, j);
        return 0;
    }
    if (rc) {
        const igtcloud_error *e = igtcloud_error_last();
        job_error(j, rc, 0, NULL, "%s %s: %s", j->kind == JK_UPLOAD ? "upload of" : "download of",
                  j->kind == JK_UPLOAD ? j->path : j->key, e->message);
        if (j->kind == JK_DOWNLOAD)
            discard_partial(j);
        if (j->pending == 0)
            job_done(t, j);
    }
    return 0;
}

/* The next part or range request a job can start now, or NULL. */
static req *job_next(igtcloud_transfer *t, job *j)
{
    if (j->failing || t->cancel)
        return NULL;
    if (j->kind == JK_UPLOAD && j->parts_ready) {
        while (j->next_part < j->nparts && j->part_etags[j->next_part])
            j->next_part++;
        if (j->next_part >= j->nparts)
            return NULL;
        uint64_t off, len;
        igtcloud__plan_slice(&off, &len, j->size, j->part_size, j->next_part);
        req *r = req_new(j, RK_PART, j->next_part, off, len);
        if (r)
            j->next_part++;
        return r;
    }
    if (j->kind == JK_DOWNLOAD && j->ranged) {
        while (j->next_range < j->journal.count && j->journal.done[j->next_range])
            j->next_range++;
        if (j->next_range >= j->journal.count)
            return NULL;
        uint64_t off, len;
        igtcloud__plan_slice(&off, &len, j->size, j->journal.range_size, j->next_range);
        req *r = req_new(j, RK_GET, j->next_range, off, len);
        if (r)
            j->next_range++;
        return r;
    }
    return NULL;
}

/* After a request of j ended: finish j when nothing of it is left. */
static void job_settle(igtcloud_transfer *t, job *j)
{
    if (j->state == JS_DONE || j->pending > 0)
        return;
    if (j->failing) {
        if (j->kind == JK_UPLOAD && j->upload_id && j->parts_ready && !j->abort_sent) {
            /* Abort the multipart upload so no parts linger (and cost). */
            j->abort_sent = 1;
            req *r = req_new(j, RK_ABORT, 0, 0, 0);
            if (r) {
                enqueue(t, r, 0);
                return;
            }
        }
        job_done(t, j);
        return;
    }
    if (j->kind == JK_UPLOAD && j->parts_ready && j->parts_done == j->nparts && !j->abort_sent) {
        j->abort_sent = 1; /* reused as "complete sent" */
        req *r = req_new(j, RK_COMPLETE, 0, 0, 0);
        if (r) {
            enqueue(t, r, 0);
            return;
        }
        job_error(j, IGTCLOUD_ENOMEM, 0, NULL, "out of memory");
        job_done(t, j);
        return;
    }
    if (j->kind == JK_DOWNLOAD && j->ranged && j->journal.ndone == j->journal.count) {
        if (!j->finished)
            download_finish(t, j);
        if (j->verifying)
            return; /* settled again when the worker's answer is collected */
        job_done(t, j);
        return;
    }
    if (j->kind == JK_UPLOAD && j->parts_ready && j->parts_done < j->nparts)
        return; /* more parts to come */
    if (j->kind == JK_DOWNLOAD && j->ranged)
        return;
    job_done(t, j);
}

/* ------------------------------------------------------------------ */
/* Completion of one attempt                                           */

static void on_part_listed(const igtcloud__s3_part *part, void *payload)
{
    void **ctx = payload;
    igtcloud_transfer *t = ctx[0];
    job *j = ctx[1];
    uint32_t i = part->number - 1;
    if (i >= j->nparts || j->part_etags[i] || !igtcloud__wire_etag_is_md5(part->etag))
        return;
    uint64_t off, len;
    igtcloud__plan_slice(&off, &len, j->size, j->part_size, i);
    if (len != part->size)
        return;
    char md5_b64[32];
    if (hash_file_range(t, md5_b64, NULL, NULL, j->fd, off, len, j->path))
        return;
    igtcloud__buf raw = IGTCLOUD_BUF_INIT;
    if (igtcloud__base64_decode(&raw, md5_b64, strlen(md5_b64)) == 0 && raw.size == 16) {
        char hex[33];
        igtcloud__hex(hex, (const unsigned char *)raw.ptr, 16);
        if (strcasecmp(hex, part->etag) == 0) {
            j->part_etags[i] = strdup(part->etag);
            if (j->part_etags[i]) {
                j->parts_done++;
                t->progress.bytes_done += len;
            }
        }
    }
    igtcloud__buf_dispose(&raw);
}

/* A 2xx response arrived; returns 0, or -1 when the body says it failed after all. */
static int on_success(igtcloud_transfer *t, req *r, igtcloud__s3_error_body *xml)
{
    job *j = r->job;
    switch (r->kind) {
    case RK_PUT:
        snprintf(j->etag, sizeof(j->etag), "%s", r->etag);
        t->progress.bytes_done += r->length;
        t->stats.bytes_sent += r->length;
        return 0;
    case RK_CREATE:
        igtcloud__s3_xml_scan(xml, r->body.ptr, r->body.size);
        if (!xml->upload_id[0]) {
            snprintf(r->local_msg, sizeof(r->local_msg), "CreateMultipartUpload returned no UploadId");
            return -1;
        }
        free(j->upload_id);
        j->upload_id = strdup(xml->upload_id);
        if (!j->upload_id)
            return -1;
        if (t->o.checksum == IGTCLOUD_CHECKSUM_CRC32C) {
            free(j->part_crcs);
            j->part_crcs = calloc(j->nparts, sizeof(*j->part_crcs));
            if (!j->part_crcs)
                return -1;
            j->crc_parts = 1;
        }
        j->parts_ready = 1;
        j->next_part = 0;
        return 0;
    case RK_LIST: {
        int truncated = 0;
        uint32_t marker = 0;
        void *ctx[2] = { t, j };
        if (igtcloud__s3_xml_list_parts(r->body.ptr, r->body.size, on_part_listed, ctx, &truncated,
                                        &marker)) {
            snprintf(r->local_msg, sizeof(r->local_msg), "malformed ListParts response");
            return -1;
        }
        if (truncated && marker > j->list_marker) {
            j->list_marker = marker;
            req *next = req_new(j, RK_LIST, 0, 0, 0);
            if (next)
                enqueue(t, next, 0);
            return next ? 0 : -1;
        }
        j->parts_ready = 1;
        j->next_part = 0;
        return 0;
    }
    case RK_PART:
        if (!r->etag[0]) {
            snprintf(r->local_msg, sizeof(r->local_msg), "UploadPart returned no ETag");
            return -1;
        }
        j->part_etags[r->index] = strdup(r->etag);
        if (!j->part_etags[r->index])
            return -1;
        j->parts_done++;
        t->progress.bytes_done += r->length;
        t->stats.bytes_sent += r->length;
        return 0;
    case RK_COMPLETE:
        igtcloud__s3_xml_scan(xml, r->body.ptr, r->body.size);
        if (xml->is_error)
            return 1; /* an error inside a 200: classified like any other */
        {
            /* The ETag of the object is in the body; keep the header's if any. */
            const char *b = igtcloud__buf_cstr(&r->body);
            const char *s = strstr(b, "<ETag>");
            const char *e = s ? strstr(s, "</ETag>") : NULL;
            if (s && e) {
                s += 6;
                if (igtcloud__wire_etag(j->etag, s, (size_t)(e - s)) != 0)
                    j->etag[0] = '\0';
                if (strncmp(s, "&quot;", 6) == 0 && e - s > 12) {
                    char tmp[IGTCLOUD__ETAG_MAX + 1];
                    size_t n = (size_t)(e - s) - 12;
                    if (n < sizeof(tmp)) {
                        memcpy(tmp, s + 6, n);
                        tmp[n] = '\0';
                        snprintf(j->etag, sizeof(j->etag), "%s", tmp);
                    }
                }
            }
        }
        return 0;
    case RK_ABORT:
        return 0;
    case RK_HEAD:
        j->size = r->has_length ? r->content_length : 0;
        j->size_known = r->has_length;
        snprintf(j->etag, sizeof(j->etag), "%s", r->etag);
        if (r->last_modified[0]) {
            int64_t lm;
            if (igtcloud__wire_http_date(&lm, r->last_modified, strlen(r->last_modified)) == 0)
                j->last_modified = lm;
        }
        return 0;
    case RK_GET:
        if (!r->checked && check_get(t, r)) {
            r->proto_error = 1;
            return -1;
        }
        t->progress.bytes_done += r->attempt_bytes;
        t->stats.bytes_received += r->attempt_bytes;
        if (j->kind == JK_READ)
            return 0;
        if (r->learned_total) {
            t->progress.bytes_total += j->size;
            r->learned_total = 0;
        }
        if (!j->ranged) {
            /* A whole object, or the first range of one. */
            if (j->size_known && j->size > r->offset + r->done) {
                if (download_plan_ranges(t, j)) {
                    snprintf(r->local_msg, sizeof(r->local_msg), "%s", igtcloud_error_last()->message);
                    r->local_error = 1;
                    return -1;
                }
                return 0;
            }
            if (!j->size_known) {
                j->size = r->done;
                j->size_known = 1;
            }
            download_finish(t, j);
            return 0;
        }
        /* One range of many: journaled in batches once its bytes are on disk. */
        igtcloud__journal_mark(&j->journal, r->index);
        j->unjournaled[j->nunjournaled++] = r->index;
#ifdef __linux__
        sync_file_range(j->fd, (off_t)r->offset, (off_t)r->done, SYNC_FILE_RANGE_WRITE);
#endif
        if (journal_flush(j, 0)) {
            snprintf(r->local_msg, sizeof(r->local_msg), "cannot journal %s", j->tmp_path);
            r->local_error = 1;
            return -1;
        }
        return 0;
    default:
        return 0;
    }
}

/* What a bare S3 error code means, for servers that send no <Message> (RGW). */
static const char *explain(const char *code)
{
    static const struct {
        const char *code, *text;
    } known[] = {
        { "AccessDenied", "the credentials were refused or do not cover this key" },
        { "SignatureDoesNotMatch", "the secret key does not match the access key" },
        { "InvalidAccessKeyId", "unknown access key" },
        { "InvalidToken", "the session token is malformed or invalid" },
        { "ExpiredToken", "the session token has expired" },
        { "NoSuchKey", "no such object" },
        { "NoSuchBucket", "no such bucket" },
        { "NoSuchUpload", "no such multipart upload" },
        { "SlowDown", "the server asks to slow down" },
        { "InternalError", "internal server error" },
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(code, known[i].code) == 0)
            return known[i].text;
    }
    return "";
}

static void req_failed_final(req *r, int code, igtcloud__s3_error_body *xml,
                             const char *why)
{
    job *j = r->job;
    char what[1200];
    if (j->kind == JK_UPLOAD)
        snprintf(what, sizeof(what), "%s (from %s)", j->key, j->path);
    else
        snprintf(what, sizeof(what), "%s", j->key);
    if (xml->code[0] && !xml->message[0])
        snprintf(xml->message, sizeof(xml->message), "%s", explain(xml->code));
    const char *reqid = r->request_id[0] ? r->request_id : xml->request_id;
    char attempts[48] = "";
    if (r->attempt > 0)
        snprintf(attempts, sizeof(attempts), " after %u attempts", r->attempt + 1);
    if (xml->code[0])
        job_error(j, code, r->status, xml->code, "%s %s: HTTP %ld %s%s%s%s%s%s%s", op_name(r->kind),
                  what, r->status, xml->code, xml->message[0] ? " (" : "", xml->message,
                  xml->message[0] ? ")" : "", attempts, reqid[0] ? "; request id " : "", reqid);
    else if (r->status && !why)
        job_error(j, code, r->status, NULL, "%s %s: HTTP %ld%s%s%s", op_name(r->kind), what,
                  r->status, attempts, reqid[0] ? "; request id " : "", reqid);
    else
        job_error(j, code, r->status, NULL, "%s %s: %s%s", op_name(r->kind), what,
                  why ? why : "failed", attempts);
    snprintf(j->request_id, sizeof(j->request_id), "%s", reqid);
    if (r->kind == RK_GET && j->kind == JK_DOWNLOAD && !j->ranged)
        discard_partial(j);
    if (r->kind == RK_GET && j->kind == JK_DOWNLOAD && code == IGTCLOUD_EPROTO)
        discard_partial(j);
}

static void req_finished(igtcloud_transfer *t, req *r, CURLcode cc)
{
    job *j = r->job;
    igtcloud__s3_error_body xml;
    memset(&xml, 0, sizeof(xml));
    igtcloud__xfer_outcome outcome = igtcloud__retry_outcome_from_curl((int)cc);
    if (r->stalled)
        outcome = IGTCLOUD__XFER_TIMEOUT;
    if (r->local_error) {
        req_failed_final(r, IGTCLOUD_EIO, &xml, r->local_msg);
        req_retire(t, r);
        job_settle(t, j);
        return;
    }
    if (r->proto_error) {
        /* A changed object restarts the download once; anything else is final. */
        if (j->kind == JK_DOWNLOAD && !j->restarted && strstr(r->local_msg, "changed")) {
            j->restarted = 1;
            req_retire(t, r);
            if (j->pending == 0) {
                if (download_fresh(t, j)) {
                    job_error(j, igtcloud_error_last()->code, 0, NULL, "%s", igtcloud_error_last()->message);
                    job_settle(t, j);
                }
            } else {
                job_error(j, IGTCLOUD_EPROTO, 0, NULL, "download of %s: %s", j->key, "object changed during the download");
                discard_partial(j);
                job_settle(t, j);
            }
            return;
        }
        req_failed_final(r, IGTCLOUD_EPROTO, &xml, r->local_msg);
        req_retire(t, r);
        job_settle(t, j);
        return;
    }
    if (outcome == IGTCLOUD__XFER_OK && ok_status(r->status)) {
        int s = on_success(t, r, &xml);
        if (s == 0) {
            igtcloud__retry_budget_success(&t->budget, r->cost);
            req_retire(t, r);
            job_settle(t, j);
            return;
        }
        if (s < 0) {
            req_failed_final(r, r->local_error ? IGTCLOUD_EIO : IGTCLOUD_EPROTO, &xml,
                             r->local_msg[0] ? r->local_msg : "bad response");
            req_retire(t, r);
            job_settle(t, j);
            return;
        }
        /* s > 0: an error document in a 200; fall through to classify it. */
    } else if (outcome == IGTCLOUD__XFER_OK) {
        igtcloud__s3_xml_scan(&xml, r->body.ptr, r->body.size);
    }
    /* A ranged GET that failed after some bytes keeps them: the retry resumes. */
    if (r->kind == RK_GET && r->attempt_bytes > 0) {
        t->progress.bytes_done += r->attempt_bytes;
        t->stats.bytes_received += r->attempt_bytes;
    }
    if (r->kind == RK_GET && r->status == 412 && j->kind == JK_DOWNLOAD && !j->restarted) {
        /* If-Match failed: the object changed since the journal; start over once. */
        snprintf(r->local_msg, sizeof(r->local_msg), "object changed");
        r->proto_error = 1;
        req_finished(t, r, CURLE_OK);
        return;
    }
    if (r->kind == RK_GET && r->status == 416 && j->kind == JK_DOWNLOAD && r->offset == 0 &&
        r->done == 0 && !j->ranged) {
        /* An empty object has no byte 0: it is complete as it is. */
        j->size = 0;
        j->size_known = 1;
        download_finish(t, j);
        req_retire(t, r);
        job_settle(t, j);
        return;
    }
    if (r->kind == RK_LIST && r->status == 404) {
        /* The upload to resume is gone: restart it cleanly. */
        req_retire(t, r);
        for (uint32_t i = 0; i < j->nparts; i++) {
            free(j->part_etags[i]);
            j->part_etags[i] = NULL;
        }
        j->parts_done = 0;
        free(j->upload_id);
        j->upload_id = NULL;
        req *c = req_new(j, RK_CREATE, 0, 0, 0);
        if (c)
            enqueue(t, c, 0);
        else
            job_error(j, IGTCLOUD_ENOMEM, 0, NULL, "out of memory");
        job_settle(t, j);
        return;
    }

    igtcloud__retry_kind kind = igtcloud__retry_classify(outcome, r->status, xml.code);
    const char *why = NULL;
    char why_buf[160];
    if (outcome != IGTCLOUD__XFER_OK) {
        snprintf(why_buf, sizeof(why_buf), "%s", r->stalled ? "no progress (stalled)" : curl_easy_strerror(cc));
        why = why_buf;
    }
    int code = outcome == IGTCLOUD__XFER_OK ? status_for_s3(r->status, xml.code)
                                            : status_for_outcome(outcome);
    if (t->cancel) {
        req_failed_final(r, IGTCLOUD_ECANCELLED, &xml, "cancelled");
        req_retire(t, r);
        job_settle(t, j);
        return;
    }
    if (kind == IGTCLOUD__RETRY_CREDENTIALS || kind == IGTCLOUD__RETRY_REGION) {
        int again = r->free_retries < MAX_FREE_RETRIES;
        if (kind == IGTCLOUD__RETRY_CREDENTIALS && r->cred) {
            igtcloud__cred_cache_expire(r->cred, r->cred_generation);
        } else if (kind == IGTCLOUD__RETRY_REGION) {
            const char *region = r->bucket_region[0] ? r->bucket_region : xml.region;
            const char *known = find_region(t, r->bucket);
            again = again && igtcloud__endpoint_region_valid(region) &&
                    !(known && strcmp(known, region) == 0) && !t->endpoint &&
                    remember_region(t, r->bucket, region) == 0;
        }
        if (again) {
            r->free_retries++;
            r->attempt++;
            enqueue(t, r, 0);
            return;
        }
        req_failed_final(r, code, &xml, why);
        req_retire(t, r);
        job_settle(t, j);
        return;
    }
    if (kind != IGTCLOUD__RETRY_NO && j->failing && r->kind != RK_ABORT) {
        /* Another request of this file failed for good: do not insist. */
        req_retire(t, r);
        job_settle(t, j);
        return;
    }
    int cost = -1;
    if (kind != IGTCLOUD__RETRY_NO && r->attempt + 1 < t->o.max_attempts)
        cost = igtcloud__retry_budget_take(&t->budget, kind);
    if (cost < 0) {
        if (kind != IGTCLOUD__RETRY_NO && r->attempt + 1 < t->o.max_attempts) {
            char msg[200];
            snprintf(msg, sizeof(msg), "%s; retry budget of the run exhausted",
                     why ? why : (xml.code[0] ? xml.code : "failed"));
            req_failed_final(r, code, &xml, xml.code[0] ? NULL : msg);
        } else {
            req_failed_final(r, code, &xml, why);
        }
        req_retire(t, r);
        job_settle(t, j);
        return;
    }
    r->cost += (unsigned int)cost;
    r->attempt++;
    t->progress.retries++;
    uint32_t wait = igtcloud__retry_backoff_ms(r->attempt, next_random(t), t->o.backoff_base_ms,
                                               t->o.backoff_cap_ms);
    enqueue(t, r, mono_ms() + wait);
}

/* ------------------------------------------------------------------ */
/* The loop                                                            */

static void report_progress(igtcloud_transfer *t, int force)
{
    if (!t->o.progress_cb)
        return;
    int64_t now = mono_ms();
    if (!force && now - t->last_progress_cb < PROGRESS_INTERVAL_MS)
        return;
    t->last_progress_cb = now;
    t->progress.requests_in_flight = t->ninflight;
    if (t->o.progress_cb(&t->progress, t->o.progress_payload))
        t->cancel = 1;
}

static void remove_inflight(igtcloud_transfer *t, req *r)
{
    for (size_t i = 0; i < t->ninflight; i++) {
        if (t->inflight[i] == r) {
            t->inflight[i] = t->inflight[--t->ninflight];
            break;
        }
    }
    if (r->easy) {
        curl_multi_remove_handle(t->multi, r->easy);
        give_easy(t, r->easy);
        r->easy = NULL;
    }
}

/* Start what can start; returns the ms until the earliest delayed request (or -1). */
/* Let the planner queue more files while few wait to start (slots busy or not). */
static void feed(igtcloud_transfer *t)
{
    while (t->feeding && !t->cancel && t->nlist - t->cursor < t->o.max_requests) {
        int more = t->feed(t, t->feed_payload);
        /* Queueing may have moved the job array. */
        t->list = t->jobs + t->list_first;
        t->nlist = t->njobs - t->list_first;
        if (!more)
            t->feeding = 0;
    }
}

static int64_t dispatch(igtcloud_transfer *t)
{
    int64_t now = mono_ms(), wait = -1;
    feed(t);
    /* Retries and control requests first, in order. */
    for (req **p = &t->ready_head; *p && t->ninflight < t->o.max_requests && !t->cancel;) {
        req *r = *p;
        if (r->not_before > now) {
            int64_t w = r->not_before - now;
            if (wait < 0 || w < wait)
                wait = w;
            p = &r->next;
            continue;
        }
        *p = r->next;
        r->next = NULL;
        if (r->job->failing && r->kind != RK_ABORT) {
            job *j = r->job;
            req_retire(t, r);
            job_settle(t, j);
            continue;
        }
        int src = req_start(t, r);
        if (src) {
            job *j = r->job;
            const igtcloud_error *e = igtcloud_error_last();
            job_error(j, src, 0, NULL, "%s %s: %s", op_name(r->kind),
                      j->kind == JK_UPLOAD ? j->path : j->key, e->message);
            req_retire(t, r);
            job_settle(t, j);
        }
    }
    /* Then parts and ranges of active files, then new files. */
    while (t->ninflight < t->o.max_requests && !t->cancel) {
        req *r = NULL;
        for (job *j = t->active_head; j && !r; j = j->next_active)
            r = job_next(t, j);
        if (!r) {
            if (t->cursor >= t->nlist || t->nactive >= t->max_active)
                break;
            /* Keep the queue short: a new file only when the old ones are busy. */
            int queued = 0;
            for (req *q = t->ready_head; q; q = q->next)
                queued++;
            if ((size_t)queued >= t->o.max_requests)
                break;
            job *j = t->list[t->cursor++];
            if (j->state != JS_QUEUED)
                continue;
            job_start(t, j);
            /* Its first request sits in the ready queue. */
            for (req **p = &t->ready_head; *p;) {
                req *q = *p;
                if (q->job == j && q->not_before <= now && t->ninflight < t->o.max_requests) {
                    *p = q->next;
                    q->next = NULL;
                    int src = req_start(t, q);
                    if (src) {
                        const igtcloud_error *e = igtcloud_error_last();
                        job_error(j, src, 0, NULL, "%s %s: %s", op_name(q->kind),
                                  j->kind == JK_UPLOAD ? j->path : j->key, e->message);
                        req_retire(t, q);
                        job_settle(t, j);
                    }
                    continue;
                }
                p = &q->next;
            }
            continue;
        }
        int src = req_start(t, r);
        if (src) {
            job *j = r->job;
            const igtcloud_error *e = igtcloud_error_last();
            job_error(j, src, 0, NULL, "%s %s: %s", op_name(r->kind),
                      j->kind == JK_UPLOAD ? j->path : j->key, e->message);
            req_retire(t, r);
            job_settle(t, j);
        }
    }
    return wait;
}

static void check_stalls(igtcloud_transfer *t)
{
    int64_t now = mono_ms();
    for (size_t i = 0; i < t->ninflight;) {
        req *r = t->inflight[i];
        if (now - r->last_progress > (int64_t)t->o.stall_timeout_ms) {
            r->stalled = 1;
            remove_inflight(t, r);
            req_finished(t, r, CURLE_OPERATION_TIMEDOUT);
            continue; /* the slot now holds another request */
        }
        i++;
    }
}

static void cancel_all(igtcloud_transfer *t)
{
    /* Workers read temporary files: let them finish before anything is discarded. */
    while (t->nverifying > 0)
        verify_collect(t, 1);
    while (t->ninflight > 0) {
        req *r = t->inflight[0];
        remove_inflight(t, r);
        job *j = r->job;
        job_error(j, IGTCLOUD_ECANCELLED, 0, NULL, "%s: cancelled", j->kind == JK_UPLOAD ? j->path : j->key);
        req_retire(t, r);
    }
    while (t->ready_head) {
        req *r = t->ready_head;
        t->ready_head = r->next;
        job *j = r->job;
        job_error(j, IGTCLOUD_ECANCELLED, 0, NULL, "%s: cancelled", j->kind == JK_UPLOAD ? j->path : j->key);
        req_retire(t, r);
    }
    for (size_t i = 0; i < t->nlist; i++) {
        job *j = t->list[i];
        if (j->state == JS_DONE)
            continue;
        job_error(j, IGTCLOUD_ECANCELLED, 0, NULL, "%s: cancelled", j->kind == JK_UPLOAD ? j->path : j->key);
        if (j->kind == JK_DOWNLOAD && !j->ranged && j->tmp_path && j->state == JS_ACTIVE)
            discard_partial(j);
        /* Ranged downloads keep their temporary file and journal to resume. */
        j->state = JS_ACTIVE;
        job_done(t, j);
    }
}

static int engine_loop(igtcloud_transfer *t, job **list, size_t n)
{
    t->list = list;
    t->nlist = n;
    t->cursor = 0;
    for (;;) {
        if (t->cancel) {
            cancel_all(t);
            report_progress(t, 1);
            return IGTCLOUD_ECANCELLED;
        }
        verify_collect(t, 0);
        int64_t wait = dispatch(t);
        if (t->ninflight == 0 && !t->ready_head && t->cursor >= t->nlist && !t->active_head)
            break;
        if (t->ninflight == 0 && !t->ready_head && t->cursor >= t->nlist && t->nverifying > 0) {
            verify_collect(t, 1); /* only verifications left: wait for one */
            continue;
        }
        if (t->ninflight == 0 && !t->ready_head && t->cursor >= t->nlist) {
            /* Active jobs with nothing pending settle now. */
            job *j = t->active_head;
            while (j) {
                job *next = j->next_active;
                if (j->pending == 0)
                    job_settle(t, j);
                j = next;
            }
            if (!t->ready_head && t->ninflight == 0) {
                /* Anything still active is stuck: fail it rather than spin. */
                while (t->active_head) {
                    job *s = t->active_head;
                    job_error(s, IGTCLOUD_ERROR, 0, NULL, "%s: transfer stopped unfinished", s->key);
                    job_done(t, s);
                }
                break;
            }
            continue;
        }
        int running = 0;
        curl_multi_perform(t->multi, &running);
        CURLMsg *msg;
        int left, finished = 0;
        while ((msg = curl_multi_info_read(t->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            req *r = NULL;
            CURLcode cc = msg->data.result;
            CURL *e = msg->easy_handle;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
            long code = 0;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
            if (code)
                r->status = code;
            remove_inflight(t, r);
            req_finished(t, r, cc);
            finished++;
        }
        check_stalls(t);
        report_progress(t, 0);
        /* Freed slots are refilled at once: waiting here would idle them. */
        if (finished)
            continue;
        int timeout = 100;
        if (wait >= 0 && wait < timeout)
            timeout = (int)wait;
        if (t->ninflight > 0 || wait > 0 || t->nverifying > 0)
            curl_multi_poll(t->multi, NULL, 0, timeout, NULL); /* workers wake it */
    }
    report_progress(t, 1);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */

int igtcloud_transfer_options_init(igtcloud_transfer_options *opts, unsigned int version)
{
    if (!opts || version != IGTCLOUD_TRANSFER_OPTIONS_VERSION)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "unknown transfer options version %u", version);
    igtcloud_transfer_options init = IGTCLOUD_TRANSFER_OPTIONS_INIT;
    *opts = init;
    return 0;
}

static unsigned int default_open_files(void)
{
    struct rlimit rl;
    unsigned int n = 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        n = (unsigned int)(rl.rlim_cur / 4);
    if (n > 256)
        n = 256;
    if (n < 4)
        n = 4;
    return n;
}

int igtcloud_transfer_new(igtcloud_transfer **out, const igtcloud_transfer_options *opts)
{
    int rc = 0;
    igtcloud_transfer *t = NULL;
    if (!out || !opts || opts->version != IGTCLOUD_TRANSFER_OPTIONS_VERSION)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "bad transfer options");
    if (!opts->credentials_cb && !opts->credentials)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "transfer needs a credentials provider");
    if (opts->checksum != IGTCLOUD_CHECKSUM_MD5 && opts->checksum != IGTCLOUD_CHECKSUM_SHA256 &&
        opts->checksum != IGTCLOUD_CHECKSUM_CRC32C)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "unknown checksum in transfer options");
    t = calloc(1, sizeof(*t));
    if (!t)
        return igtcloud__error_oom();
    t->o = *opts;
    if (!t->o.max_requests)
        t->o.max_requests = 16;
    if (!t->o.max_open_files)
        t->o.max_open_files = default_open_files();
    if (!t->o.multipart_threshold)
        t->o.multipart_threshold = 16 * MIB;
    if (!t->o.part_size)
        t->o.part_size = 8 * MIB;
    if (!t->o.range_threshold)
        t->o.range_threshold = 16 * MIB;
    if (!t->o.range_size)
        t->o.range_size = 8 * MIB;
    if (!t->o.max_attempts)
        t->o.max_attempts = 10;
    if (!t->o.backoff_base_ms)
        t->o.backoff_base_ms = 1000;
    if (!t->o.backoff_cap_ms)
        t->o.backoff_cap_ms = 20000;
    if (!t->o.retry_budget)
        t->o.retry_budget = 500;
    if (!t->o.stall_timeout_ms)
        t->o.stall_timeout_ms = 30000;
    if (!t->o.connect_timeout_ms)
        t->o.connect_timeout_ms = 10000;
    if (t->o.range_threshold < t->o.range_size)
        t->o.range_threshold = t->o.range_size;
    /* A file holds up to two descriptors (data and journal). */
    t->max_active = t->o.max_open_files / 2 ? t->o.max_open_files / 2 : 1;
    t->o.endpoint = t->o.region = t->o.ca_file = NULL;
    t->o.credentials = NULL;
    if ((rc = dup_opt(&t->endpoint, opts->endpoint)) || (rc = dup_opt(&t->region, opts->region)) ||
        (rc = dup_opt(&t->ca_file, opts->ca_file)) ||
        (rc = dup_opt(&t->env_endpoint_s3, env_nonempty("AWS_ENDPOINT_URL_S3"))) ||
        (rc = dup_opt(&t->env_endpoint, env_nonempty("AWS_ENDPOINT_URL"))) ||
        (rc = dup_opt(&t->env_region, env_nonempty("AWS_REGION"))))
        goto done;
    if (opts->credentials) {
        t->fixed = malloc(sizeof(*t->fixed));
        if (!t->fixed) {
            rc = igtcloud__error_oom();
            goto done;
        }
        memcpy(t->fixed, opts->credentials, sizeof(*t->fixed));
    }
    igtcloud__cred_cache_init(&t->creds, opts->credentials_cb, opts->credentials_payload, t->fixed);
    igtcloud__retry_budget_init(&t->budget, t->o.retry_budget);
    t->pool = calloc(t->o.max_requests, sizeof(*t->pool));
    t->inflight = calloc(t->o.max_requests, sizeof(*t->inflight));
    t->io_buf = malloc(IO_BUF_SIZE);
    t->multi = curl_multi_init();
    if (!t->pool || !t->inflight || !t->io_buf || !t->multi) {
        rc = igtcloud__error_oom();
        goto done;
    }
    curl_multi_setopt(t->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)t->o.max_requests);
    curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, (long)t->o.max_requests);
    if (igtcloud__random_bytes(&t->rng, sizeof(t->rng)) || t->rng == 0)
        t->rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL);
    *out = t;
    t = NULL;
done:
    igtcloud_transfer_free(t);
    return rc;
}

void igtcloud_transfer_free(igtcloud_transfer *t)
{
    if (!t)
        return;
    verify_stop(t);
    while (t->ninflight > 0) {
        req *r = t->inflight[0];
        remove_inflight(t, r);
        req_retire(t, r);
    }
    while (t->ready_head) {
        req *r = t->ready_head;
        t->ready_head = r->next;
        req_retire(t, r);
    }
    for (size_t i = 0; i < t->njobs; i++)
        job_free(t->jobs[i]);
    free(t->jobs);
    for (size_t i = 0; i < t->npool; i++)
        curl_easy_cleanup(t->pool[i]);
    free(t->pool);
    free(t->inflight);
    if (t->multi)
        curl_multi_cleanup(t->multi);
    igtcloud__cred_cache_dispose(&t->creds);
    if (t->fixed) {
        memset(t->fixed, 0, sizeof(*t->fixed));
        free(t->fixed);
    }
    free(t->regions);
    free(t->io_buf);
    free(t->endpoint);
    free(t->region);
    free(t->ca_file);
    free(t->env_endpoint_s3);
    free(t->env_endpoint);
    free(t->env_region);
    free(t);
}

static job *job_alloc(int kind, const char *key, const char *path, const char *prefix)
{
    job *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->kind = kind;
    j->fd = -1;
    j->journal_fd = -1;
    j->expected = -1;
    j->key = dup_or_null(key);
    j->path = dup_or_null(path);
    j->prefix = dup_or_null(prefix);
    if (!j->key || (path && !j->path) || !j->prefix) {
        job_free(j);
        return NULL;
    }
    return j;
}

static int add_job(igtcloud_transfer *t, job *j)
{
    if (t->njobs == t->ajobs) {
        size_t n = t->ajobs ? t->ajobs * 2 : 64;
        job **grown = realloc(t->jobs, n * sizeof(*grown));
        if (!grown)
            return igtcloud__error_oom();
        t->jobs = grown;
        t->ajobs = n;
    }
    t->jobs[t->njobs++] = j;
    t->progress.files_total++;
    return 0;
}

int igtcloud_transfer_add_upload(igtcloud_transfer *t, const char *path, const char *key,
                                 const char *prefix, const char *upload_id, void *payload)
{
    if (!t || !path || !*path || !key || !*key || !prefix)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "upload needs a path, a key and a prefix");
    job *j = job_alloc(JK_UPLOAD, key, path, prefix);
    if (!j || (upload_id && !(j->resume_upload_id = strdup(upload_id)))) {
        job_free(j);
        return igtcloud__error_oom();
    }
    j->payload = payload;
    int rc = add_job(t, j);
    if (rc)
        job_free(j);
    return rc;
}

int igtcloud_transfer_add_download(igtcloud_transfer *t, const char *key, const char *path,
                                   const char *prefix, int64_t expected_size, void *payload)
{
    if (!t || !path || !*path || !key || !*key || !prefix)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "download needs a key, a path and a prefix");
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "download path '%s' names no file", path);
    job *j = job_alloc(JK_DOWNLOAD, key, path, prefix);
    if (!j)
        return igtcloud__error_oom();
    j->expected = expected_size < 0 ? -1 : expected_size;
    j->payload = payload;
    int rc = add_job(t, j);
    if (rc)
        job_free(j);
    return rc;
}

int igtcloud_transfer_run(igtcloud_transfer *t)
{
    if (!t)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no transfer");
    t->cancel = 0;
    size_t first = 0;
    while (first < t->njobs && t->jobs[first]->state == JS_DONE)
        first++;
    t->list_first = first;
    t->feeding = t->feed != NULL;
    int rc = engine_loop(t, t->jobs + first, t->njobs - first);
    t->feeding = 0;
    t->stats.credential_fetches = t->creds.fetches;
    size_t failed = 0;
    const job *first_failed = NULL;
    for (size_t i = first; i < t->njobs; i++) {
        if (t->jobs[i]->status) {
            failed++;
            if (!first_failed)
                first_failed = t->jobs[i];
        }
    }
    if (rc == IGTCLOUD_ECANCELLED)
        return igtcloud__error_set(IGTCLOUD_ECANCELLED, "transfer cancelled");
    if (failed) {
        return igtcloud__error_set_http(IGTCLOUD_EPARTIAL, (int)first_failed->http_status,
                                        first_failed->request_id, "%zu of %zu files failed; first: %s",
                                        failed, t->njobs - first, first_failed->message);
    }
    return 0;
}

void igtcloud__transfer_set_feeder(igtcloud_transfer *t, igtcloud__transfer_feed_fn fn,
                                   void *payload)
{
    t->feed = fn;
    t->feed_payload = payload;
}

size_t igtcloud_transfer_count(const igtcloud_transfer *t)
{
    return t ? t->njobs : 0;
}

int igtcloud_transfer_result_at(igtcloud_transfer_result *out, const igtcloud_transfer *t,
                                size_t index)
{
    if (!out || !t || index >= t->njobs)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no transfer result %zu", index);
    job_result(out, t->jobs[index]);
    return 0;
}

void igtcloud_transfer_cancel(igtcloud_transfer *t)
{
    if (t)
        t->cancel = 1;
}

static int run_single(igtcloud_transfer *t, job *j)
{
    t->cancel = 0;
    job *list[1] = { j };
    int rc = engine_loop(t, list, 1);
    if (rc)
        return igtcloud__error_set(rc, "cancelled");
    if (j->status)
        return igtcloud__error_set_http(j->status, (int)j->http_status, j->request_id, "%s", j->message);
    return 0;
}

int igtcloud_transfer_read(size_t *out_read, igtcloud_transfer *t, const char *key,
                           const char *prefix, uint64_t offset, void *buf, size_t len)
{
    if (!out_read || !t || !key || !prefix || (!buf && len))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "bad read arguments");
    *out_read = 0;
    if (len == 0)
        return 0;
    job *j = job_alloc(JK_READ, key, NULL, prefix);
    if (!j)
        return igtcloud__error_oom();
    j->buf = buf;
    j->buf_len = len;
    j->size = offset; /* the start, for job_start */
    int rc = run_single(t, j);
    if (rc == 0) {
        *out_read = j->got;
    } else if (j->http_status == 416) {
        /* Past the end: nothing to read. */
        igtcloud_error_clear();
        rc = 0;
    }
    job_free(j);
    return rc;
}

int igtcloud_transfer_stat(uint64_t *out_size, int64_t *out_last_modified, igtcloud_transfer *t,
                           const char *key, const char *prefix)
{
    if (!t || !key || !prefix)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "bad stat arguments");
    job *j = job_alloc(JK_STAT, key, NULL, prefix);
    if (!j)
        return igtcloud__error_oom();
    int rc = run_single(t, j);
    if (rc == 0) {
        if (out_size)
            *out_size = j->size;
        if (out_last_modified)
            *out_last_modified = j->last_modified;
    }
    job_free(j);
    return rc;
}

void igtcloud__engine_get_stats(igtcloud__engine_stats *out, const igtcloud_transfer *t)
{
    *out = t->stats;
    out->credential_fetches = t->creds.fetches;
}
