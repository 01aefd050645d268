/*
 * Jobs (one file, or one read) and their requests: start, next part or range,
 * settle when nothing is pending, and the result a caller sees.
 */
#include "s3/engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "s3/plan.h"

void igtcloud__engine_job_error(job *j, int code, long http, const char *s3_code, const char *fmt, ...)
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

void igtcloud__engine_close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void job_release(job *j)
{
    igtcloud__engine_close_fd(&j->fd);
    igtcloud__engine_close_fd(&j->journal_fd);
    igtcloud__journal_dispose(&j->journal);
    free(j->unjournaled);
    j->unjournaled = NULL;
    j->nunjournaled = 0;
    igtcloud__engine_pieces_reset(j);
    free(j->mp_outer);
    j->mp_outer = NULL;
    free(j->mp_sizes);
    j->mp_sizes = NULL;
    igtcloud__engine_crc_reset(j);
    if (j->md5) {
        free(j->md5);
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

void igtcloud__engine_job_free(job *j)
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

void igtcloud__engine_job_result(igtcloud_transfer_result *out, const job *j)
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

void igtcloud__engine_job_done(igtcloud_transfer *t, job *j)
{
    if (j->state == JS_DONE)
        return;
    j->state = JS_DONE;
    t->ndone_unretired++;
    remove_active(t, j);
    if (j->kind == JK_DOWNLOAD && j->journal_fd >= 0 && j->fd >= 0)
        igtcloud__engine_journal_flush(j, 1); /* a failed or cancelled download resumes from here */
    job_release(j);
    if (j->kind == JK_UPLOAD || j->kind == JK_DOWNLOAD) {
        t->progress.files_done++;
        if (j->status)
            t->progress.files_failed++;
        if (t->o.file_cb) {
            igtcloud_transfer_result r;
            igtcloud__engine_job_result(&r, j);
            if (t->o.file_cb(&r, t->o.file_payload))
                t->cancel = 1;
        }
    }
}

req *igtcloud__engine_req_new(job *j, int kind, uint32_t index, uint64_t offset, uint64_t length)
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

void igtcloud__engine_enqueue(igtcloud_transfer *t, req *r, int64_t not_before)
{
    r->not_before = not_before;
    r->next = NULL;
    req **p = &t->ready_head;
    while (*p)
        p = &(*p)->next;
    *p = r;
}

/* A request is over for good: drop it and let its job move on. */
void igtcloud__engine_req_retire(igtcloud_transfer *t, req *r)
{
    igtcloud__engine_write_release(t, r);
    r->job->pending--;
    req_free(r);
}

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
        req *r = igtcloud__engine_req_new(j, RK_PUT, 0, 0, j->size);
        if (!r)
            return igtcloud__error_oom();
        igtcloud__engine_enqueue(t, r, 0);
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
        r = igtcloud__engine_req_new(j, RK_LIST, 0, 0, 0);
    } else {
        r = igtcloud__engine_req_new(j, RK_CREATE, 0, 0, 0);
    }
    if (!r)
        return igtcloud__error_oom();
    igtcloud__engine_enqueue(t, r, 0);
    return 0;
}

int igtcloud__engine_job_start(igtcloud_transfer *t, job *j)
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
        rc = igtcloud__engine_download_start(t, j);
        break;
    case JK_READ:
    case JK_STAT:
    case JK_ABORT: {
        /* One request does it. */
        req *r = j->kind == JK_READ   ? igtcloud__engine_req_new(j, RK_GET, 0, j->size, j->buf_len)
                 : j->kind == JK_STAT ? igtcloud__engine_req_new(j, RK_HEAD, 0, 0, 0)
                                      : igtcloud__engine_req_new(j, RK_ABORT, 0, 0, 0);
        if (!r)
            return igtcloud__error_oom();
        igtcloud__engine_enqueue(t, r, 0);
        break;
    }
    default:
        break;
    }
    if (rc == 1) {
        igtcloud__engine_job_done(t, j);
        return 0;
    }
    if (rc) {
        const igtcloud_error *e = igtcloud_error_last();
        igtcloud__engine_job_error(j, rc, 0, NULL, "%s %s: %s", j->kind == JK_UPLOAD ? "upload of" : "download of",
                  j->kind == JK_UPLOAD ? j->path : j->key, e->message);
        if (j->kind == JK_DOWNLOAD)
            igtcloud__engine_discard_partial(j);
        if (j->pending == 0)
            igtcloud__engine_job_done(t, j);
    }
    return 0;
}

/*
 * The end of a run. Ranges take a while each (8 MiB: 130-180 ms inside a
 * busy RGW here, seconds over a slow link), and the last ones to start end
 * one by one after it, with slots and the server idle meanwhile (2 x 1 GiB
 * from the sandbox: 0.11-0.81 s from the last start to the end). So once
 * every file has started and the ranges left to start would no more than
 * fill the slots, each goes in pieces of at least 1 MiB: the run ends a
 * piece's time after its last start (0.02-0.04 s there), not a range's. A
 * range is journaled, and counts as done, when its last piece is back.
 */
unsigned igtcloud__engine_tail_pieces = 4;
#define PIECE_MIN MIB

void igtcloud__engine_pieces_reset(job *j)
{
    free(j->pieces_left);
    j->pieces_left = NULL;
    j->cut_pieces = 0;
    j->cut_started = 0;
}

/* Whether the ranges not started yet are the run's last wave. */
static int run_ending(const igtcloud_transfer *t)
{
    if (t->feeding || t->cursor < t->nlist)
        return 0;
    uint64_t left = 0;
    for (const job *a = t->active_head; a; a = a->next_active)
        if (a->kind == JK_DOWNLOAD && a->ranged && a->next_range < a->journal.count)
            left += a->journal.count - a->next_range;
    return left <= t->o.max_requests;
}

/* How many pieces range `index` of j (len bytes) goes in: 1 for whole. */
static uint32_t pieces_for(const igtcloud_transfer *t, job *j, uint32_t index, uint64_t len)
{
    uint32_t n = igtcloud__engine_tail_pieces;
    if (n > 255)
        n = 255;
    while (n > 1 && len / n < PIECE_MIN)
        n--;
    if (n <= 1 || !run_ending(t))
        return 1;
    if (!j->pieces_left && !(j->pieces_left = calloc(j->journal.count, 1)))
        return 1;
    j->pieces_left[index] = (uint8_t)n;
    return n;
}

/* A GET of range r->index is back: 1 when the range is complete (whole, or its last piece). */
int igtcloud__engine_piece_back(job *j, const req *r)
{
    if (!j->pieces_left || j->pieces_left[r->index] == 0)
        return 1;
    return --j->pieces_left[r->index] == 0;
}

/* The next request of ranged download j: a whole range, or a piece of one. */
static req *next_range_request(igtcloud_transfer *t, job *j)
{
    while (!j->cut_pieces && j->next_range < j->journal.count && j->journal.done[j->next_range])
        j->next_range++;
    if (j->next_range >= j->journal.count)
        return NULL;
    uint64_t off, len;
    igtcloud__plan_slice(&off, &len, j->size, j->journal.range_size, j->next_range);
    if (!j->cut_pieces) {
        uint32_t n = pieces_for(t, j, j->next_range, len);
        if (n > 1) {
            j->cut_pieces = n;
            j->cut_started = 0;
            t->stats.ranges_in_pieces++;
        }
    }
    if (!j->cut_pieces) {
        req *r = igtcloud__engine_req_new(j, RK_GET, j->next_range, off, len);
        if (r)
            j->next_range++;
        return r;
    }
    /* Piece k of n: [len*k/n, len*(k+1)/n), cut at 64 KiB so writes stay page-aligned. */
    uint32_t k = j->cut_started, n = j->cut_pieces;
    uint64_t from = (len * k / n) & ~(uint64_t)0xffff;
    uint64_t to = k + 1 == n ? len : (len * (k + 1) / n) & ~(uint64_t)0xffff;
    req *r = igtcloud__engine_req_new(j, RK_GET, j->next_range, off + from, to - from);
    if (!r)
        return NULL;
    if (++j->cut_started == n) {
        j->cut_pieces = 0;
        j->next_range++;
    }
    return r;
}

/* The next part or range request a job can start now, or NULL. */
req *igtcloud__engine_job_next(igtcloud_transfer *t, job *j)
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
        req *r = igtcloud__engine_req_new(j, RK_PART, j->next_part, off, len);
        if (r)
            j->next_part++;
        return r;
    }
    if (j->kind == JK_DOWNLOAD && j->ranged)
        return next_range_request(t, j);
    return NULL;
}

/* After a request of j ended: finish j when nothing of it is left. */
void igtcloud__engine_job_settle(igtcloud_transfer *t, job *j)
{
    if (j->state == JS_DONE || j->pending > 0)
        return;
    if (j->failing) {
        if (j->kind == JK_UPLOAD && j->upload_id && j->parts_ready && !j->abort_sent) {
            /* Abort the multipart upload so no parts linger (and cost). */
            j->abort_sent = 1;
            req *r = igtcloud__engine_req_new(j, RK_ABORT, 0, 0, 0);
            if (r) {
                igtcloud__engine_enqueue(t, r, 0);
                return;
            }
        }
        igtcloud__engine_job_done(t, j);
        return;
    }
    if (j->kind == JK_UPLOAD && j->parts_ready && j->parts_done == j->nparts && !j->abort_sent) {
        j->abort_sent = 1; /* reused as "complete sent" */
        req *r = igtcloud__engine_req_new(j, RK_COMPLETE, 0, 0, 0);
        if (r) {
            igtcloud__engine_enqueue(t, r, 0);
            return;
        }
        igtcloud__engine_job_error(j, IGTCLOUD_ENOMEM, 0, NULL, "out of memory");
        igtcloud__engine_job_done(t, j);
        return;
    }
    if (j->kind == JK_DOWNLOAD && j->ranged && j->journal.ndone == j->journal.count) {
        if (!j->finished)
            igtcloud__engine_download_finish(t, j);
        if (j->verifying || j->pending > 0)
            return; /* settled again when the worker's (or part 1's HEAD) answer is in */
        igtcloud__engine_job_done(t, j);
        return;
    }
    if (j->kind == JK_UPLOAD && j->parts_ready && j->parts_done < j->nparts)
        return; /* more parts to come */
    if (j->kind == JK_DOWNLOAD && j->ranged)
        return;
    igtcloud__engine_job_done(t, j);
}
