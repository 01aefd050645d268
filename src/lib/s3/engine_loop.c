/*
 * The loop: one curl multi handle; start what may start (retries first, then
 * parts and ranges of active files, then new files), collect what finished,
 * abort what stalls, report progress, and cancel cleanly.
 */
#include "s3/engine_int.h"

#include <time.h>

#include "core/error.h"

int64_t igtcloud__engine_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t igtcloud__engine_wall_s(igtcloud_transfer *t)
{
    if (t->o.clock_cb)
        return t->o.clock_cb(t->o.clock_payload) / 1000;
    return (int64_t)time(NULL);
}

uint32_t igtcloud__engine_next_random(igtcloud_transfer *t)
{
    if (t->o.random_cb)
        return t->o.random_cb(t->o.random_payload);
    /* xorshift64*: plenty for jitter. */
    t->rng ^= t->rng >> 12;
    t->rng ^= t->rng << 25;
    t->rng ^= t->rng >> 27;
    return (uint32_t)((t->rng * 2685821657736338717ULL) >> 32);
}

static void report_progress(igtcloud_transfer *t, int force)
{
    if (!t->o.progress_cb)
        return;
    int64_t now = igtcloud__engine_mono_ms();
    if (!force && now - t->last_progress_cb < PROGRESS_INTERVAL_MS)
        return;
    t->last_progress_cb = now;
    t->progress.requests_in_flight = t->ninflight;
    if (t->o.progress_cb(&t->progress, t->o.progress_payload))
        t->cancel = 1;
}

void igtcloud__engine_remove_inflight(igtcloud_transfer *t, req *r)
{
    for (size_t i = 0; i < t->ninflight; i++) {
        if (t->inflight[i] == r) {
            t->inflight[i] = t->inflight[--t->ninflight];
            break;
        }
    }
    if (r->easy) {
        curl_multi_remove_handle(t->multi, r->easy);
        igtcloud__engine_give_easy(t, r->easy);
        r->easy = NULL;
    }
}

/*
 * Let the planner queue more files while few wait to start (slots busy or
 * not). A retiring transfer first frees the files finished since it last
 * did, once they are as many as the requests allowed in flight: so the jobs
 * held stay bounded, at a cost of one pass over them per that many files.
 */
static void feed(igtcloud_transfer *t)
{
    if (t->feeding && t->retire && t->ndone_unretired >= t->o.max_requests &&
        t->nlist - t->cursor < t->o.max_requests)
        igtcloud__engine_retire_done(t);
    while (t->feeding && !t->cancel && t->nlist - t->cursor < t->o.max_requests) {
        int more = t->feed(t, t->feed_payload);
        /* Queueing may have moved the job array. */
        t->list = t->jobs ? t->jobs + t->list_first : NULL;
        t->nlist = t->njobs - t->list_first;
        if (!more)
            t->feeding = 0;
    }
}

/*
 * Start r, after a worker computed its body's digests when it has a body to
 * hash; a request that cannot start fails its file.
 */
static void launch(igtcloud_transfer *t, req *r)
{
    if (igtcloud__engine_digests_submit(t, r) == 0)
        return; /* back in the ready queue when its digests are */
    int src = igtcloud__engine_req_start(t, r);
    if (src) {
        job *j = r->job;
        const igtcloud_error *e = igtcloud_error_last();
        igtcloud__engine_job_error(j, src, 0, NULL, "%s %s: %s", igtcloud__engine_op_name(r->kind),
                                   j->kind == JK_UPLOAD ? j->path : j->key, e->message);
        igtcloud__engine_req_retire(t, r);
        igtcloud__engine_job_settle(t, j);
    }
}

/*
 * A slot for one more request: bodies being hashed, and requests whose last
 * bytes are still being written, count as in flight (a run of one request at
 * a time stays one file at a time, and a failed write stops it there).
 */
static int room(const igtcloud_transfer *t)
{
    return t->ninflight + t->ndigesting + t->nparked < t->o.max_requests && !t->cancel;
}

/* Start what can start; returns the ms until the earliest delayed request (or -1). */
static int64_t dispatch(igtcloud_transfer *t)
{
    int64_t now = igtcloud__engine_mono_ms(), wait = -1;
    feed(t);
    /* Retries and control requests first, in order. */
    for (req **p = &t->ready_head; *p && room(t);) {
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
            igtcloud__engine_req_retire(t, r);
            igtcloud__engine_job_settle(t, j);
            continue;
        }
        launch(t, r);
    }
    /* Then parts and ranges of active files, then new files. */
    while (room(t)) {
        req *r = NULL;
        for (job *j = t->active_head; j && !r; j = j->next_active)
            r = igtcloud__engine_job_next(t, j);
        if (r) {
            launch(t, r);
            continue;
        }
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
        igtcloud__engine_job_start(t, j);
        /* Its first request sits in the ready queue. */
        for (req **p = &t->ready_head; *p;) {
            req *q = *p;
            if (q->job == j && q->not_before <= now && room(t)) {
                *p = q->next;
                q->next = NULL;
                launch(t, q);
                continue;
            }
            p = &q->next;
        }
    }
    return wait;
}

/* curl is done with r: its outcome counts now, or once its last bytes are written. */
static void transfer_over(igtcloud_transfer *t, req *r, CURLcode cc)
{
    igtcloud__engine_remove_inflight(t, r);
    if (!igtcloud__engine_writes_park(t, r, cc))
        igtcloud__engine_req_finished(t, r, cc);
}

static void check_stalls(igtcloud_transfer *t)
{
    int64_t now = igtcloud__engine_mono_ms();
    for (size_t i = 0; i < t->ninflight;) {
        req *r = t->inflight[i];
        if (now - r->last_progress > (int64_t)t->o.stall_timeout_ms) {
            r->stalled = 1;
            transfer_over(t, r, CURLE_OPERATION_TIMEDOUT);
            continue; /* the slot now holds another request */
        }
        i++;
    }
}

static void cancel_all(igtcloud_transfer *t)
{
    /* Workers read and write temporary files: let them finish before anything is discarded. */
    while (t->nverifying > 0)
        igtcloud__engine_verify_collect(t, 1);
    while (t->ninflight > 0) {
        req *r = t->inflight[0];
        igtcloud__engine_remove_inflight(t, r);
        job *j = r->job;
        igtcloud__engine_job_error(j, IGTCLOUD_ECANCELLED, 0, NULL, "%s: cancelled", j->kind == JK_UPLOAD ? j->path : j->key);
        igtcloud__engine_req_retire(t, r);
    }
    while (t->ready_head) {
        req *r = t->ready_head;
        t->ready_head = r->next;
        job *j = r->job;
        igtcloud__engine_job_error(j, IGTCLOUD_ECANCELLED, 0, NULL, "%s: cancelled", j->kind == JK_UPLOAD ? j->path : j->key);
        igtcloud__engine_req_retire(t, r);
    }
    for (size_t i = 0; i < t->nlist; i++) {
        job *j = t->list[i];
        if (j->state == JS_DONE)
            continue;
        igtcloud__engine_job_error(j, IGTCLOUD_ECANCELLED, 0, NULL, "%s: cancelled", j->kind == JK_UPLOAD ? j->path : j->key);
        if (j->kind == JK_DOWNLOAD && !j->ranged && j->tmp_path && j->state == JS_ACTIVE)
            igtcloud__engine_discard_partial(j);
        /* Ranged downloads keep their temporary file and journal to resume. */
        j->state = JS_ACTIVE;
        igtcloud__engine_job_done(t, j);
    }
}

int igtcloud__engine_loop(igtcloud_transfer *t, job **list, size_t n)
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
        igtcloud__engine_verify_collect(t, 0);
        int64_t wait = dispatch(t);
        if (t->ninflight == 0 && !t->ready_head && t->cursor >= t->nlist && !t->active_head)
            break;
        if (t->ninflight == 0 && !t->ready_head && t->cursor >= t->nlist && t->nverifying > 0) {
            igtcloud__engine_verify_collect(t, 1); /* only verifications left: wait for one */
            continue;
        }
        if (t->ninflight == 0 && !t->ready_head && t->cursor >= t->nlist) {
            /* Active jobs with nothing pending settle now. */
            job *j = t->active_head;
            while (j) {
                job *next = j->next_active;
                if (j->pending == 0)
                    igtcloud__engine_job_settle(t, j);
                j = next;
            }
            if (!t->ready_head && t->ninflight == 0) {
                /* Anything still active is stuck: fail it rather than spin. */
                while (t->active_head) {
                    job *s = t->active_head;
                    igtcloud__engine_job_error(s, IGTCLOUD_ERROR, 0, NULL, "%s: transfer stopped unfinished", s->key);
                    igtcloud__engine_job_done(t, s);
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
            transfer_over(t, r, cc);
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
