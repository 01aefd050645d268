/*
 * API calls beside the caller (api_async.h): a fixed array of slots, a few
 * worker threads with their own HTTP connection, results reported on the
 * caller's thread.
 */
#include "api/api_async.h"

#include "auth/session_int.h"
#include "core/buf.h"
#include "core/error.h"
#include "http/http.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_WORKERS 2
#define MAX_WORKERS 8
#define DEFAULT_CAPACITY 64
#define MESSAGE_MAX 320
/* How often a waiting caller looks at the cancel flag (a signal cannot wake a condition). */
#define WAIT_SLICE_MS 50

enum { SLOT_FREE, SLOT_QUEUED, SLOT_RUNNING, SLOT_DONE };

typedef struct slot {
    int state;
    uint64_t seq;          /* queue order: workers take the oldest */
    char *path;
    char *body;
    const char *what;
    igtcloud__api_async_done_fn done;
    void *item;
    int status;
    char message[MESSAGE_MAX];
} slot;

typedef struct report {
    igtcloud__api_async_done_fn done;
    void *item;
    int status;
    char message[MESSAGE_MAX];
} report;

typedef struct worker {
    igtcloud__api_async *q;
    pthread_t thread;
    igtcloud__http_client *http;
    int started;
} worker;

struct igtcloud__api_async {
    igtcloud_session *session;
    igtcloud__api_async_options o;
    pthread_mutex_t lock;          /* the slots, stop, next_seq */
    pthread_cond_t todo;           /* a slot was queued, or stop */
    pthread_cond_t done;           /* a slot finished */
    pthread_mutex_t session_lock;  /* every use of the session while workers run */
    slot *slots;
    unsigned int nslots;
    unsigned int nused;            /* slots not FREE */
    uint64_t next_seq;
    int stop;
    report *reports;               /* harvest's scratch, nslots long */
    worker *workers;
    unsigned int nworkers;
};

static int cancelled(const igtcloud__api_async *q)
{
    return q->o.cancel && *q->o.cancel;
}

static void wait_slice(pthread_cond_t *cond, pthread_mutex_t *lock)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)WAIT_SLICE_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cond, lock, &ts);
}

static int answer(const igtcloud__http_response *res, const char *what)
{
    if (res->status >= 200 && res->status <= 299)
        return 0;
    return igtcloud__session_error(res, what);
}

/* Copy what a request needs from the session, under the session lock. */
static int snapshot(igtcloud__api_async *q, igtcloud__buf *url, igtcloud__buf *jwt,
                    igtcloud__buf *csrf, const char *path)
{
    igtcloud_session *s = q->session;
    pthread_mutex_lock(&q->session_lock);
    int bad = igtcloud__buf_printf(url, "%s%s", s->base, path) ||
              igtcloud__buf_printf(jwt, "X-JWT: %s", s->token.jwt ? s->token.jwt : "") ||
              igtcloud__buf_printf(csrf, "X-CSRF-TOKEN: %s", s->token.csrf ? s->token.csrf : "");
    pthread_mutex_unlock(&q->session_lock);
    return bad ? igtcloud__error_oom() : 0;
}

static void wipe(igtcloud__buf *b)
{
    if (b->ptr)
        OPENSSL_cleanse(b->ptr, b->size);
    igtcloud__buf_dispose(b);
}

/*
 * A 2xx answer's body is not used (the callers learn only the outcome), and
 * a registration is answered with the study's whole file list: it is
 * dropped as it arrives instead of being held.
 */
static int drop_body(const char *data, size_t len, void *payload)
{
    (void)data;
    (void)len;
    (void)payload;
    return 0;
}

/*
 * One call on the worker's own connection with a copy of the session's
 * token. A 401 means the token went stale under us: refresh the session
 * (unless another thread already did) and try once more. A transport
 * failure is tried once more through the session's own connection, which
 * also covers a session whose TLS settings the workers do not know.
 */
static int perform(worker *w, const slot *sl)
{
    igtcloud__api_async *q = w->q;
    igtcloud__buf url = IGTCLOUD_BUF_INIT, jwt = IGTCLOUD_BUF_INIT, csrf = IGTCLOUD_BUF_INIT;
    igtcloud__http_response res;
    igtcloud__http_response_init(&res);
    size_t len = strlen(sl->body);
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        igtcloud__buf_clear(&url);
        wipe(&jwt);
        wipe(&csrf);
        igtcloud__http_response_dispose(&res);
        igtcloud__http_response_init(&res);
        if ((rc = snapshot(q, &url, &jwt, &csrf, sl->path)))
            break;
        const char *headers[] = { "Accept: application/json", "Content-Type: application/json",
                                  jwt.ptr, csrf.ptr, NULL };
        igtcloud__http_client_set_body_sink(w->http, url.ptr, drop_body, NULL);
        rc = igtcloud__http_request(&res, w->http, "POST", url.ptr, headers, sl->body, len);
        igtcloud__http_client_set_body_sink(w->http, NULL, NULL, NULL);
        if (rc == 0 && res.status == 401 && attempt == 0) {
            pthread_mutex_lock(&q->session_lock);
            const char *now = q->session->token.jwt;
            /* jwt holds "X-JWT: <token>": compare the token part. */
            int same = now && strcmp(jwt.ptr + 7, now) == 0;
            int r = same ? igtcloud_session_refresh(q->session) : 0;
            pthread_mutex_unlock(&q->session_lock);
            if (r) {
                rc = r;
                break;
            }
            continue;
        }
        if (rc && rc != IGTCLOUD_ECANCELLED && !cancelled(q)) {
            igtcloud__http_response_dispose(&res);
            pthread_mutex_lock(&q->session_lock);
            rc = igtcloud__session_request(&res, q->session, "POST", sl->path, sl->body);
            pthread_mutex_unlock(&q->session_lock);
        }
        break;
    }
    if (rc == 0)
        rc = answer(&res, sl->what);
    igtcloud__http_response_dispose(&res);
    igtcloud__buf_dispose(&url);
    wipe(&jwt);
    wipe(&csrf);
    return rc;
}

/* The oldest queued slot, or NULL. */
static slot *next_queued(igtcloud__api_async *q)
{
    slot *best = NULL;
    for (unsigned int i = 0; i < q->nslots; i++) {
        slot *s = &q->slots[i];
        if (s->state == SLOT_QUEUED && (!best || s->seq < best->seq))
            best = s;
    }
    return best;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    igtcloud__api_async *q = w->q;
    pthread_mutex_lock(&q->lock);
    while (!q->stop) {
        slot *sl = next_queued(q);
        if (!sl) {
            pthread_cond_wait(&q->todo, &q->lock);
            continue;
        }
        sl->state = SLOT_RUNNING;
        pthread_mutex_unlock(&q->lock);
        int rc;
        if (cancelled(q))
            rc = igtcloud__error_set(IGTCLOUD_ECANCELLED, "%s: cancelled", sl->what);
        else
            rc = perform(w, sl);
        /* The slot is this worker's while RUNNING: no lock needed to fill it. */
        sl->status = rc;
        snprintf(sl->message, sizeof(sl->message), "%s", rc ? igtcloud_error_last()->message : "");
        igtcloud_error_clear();
        pthread_mutex_lock(&q->lock);
        sl->state = SLOT_DONE;
        free(sl->path);
        free(sl->body);
        sl->path = sl->body = NULL;
        pthread_cond_broadcast(&q->done);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

void igtcloud__api_async_free(igtcloud__api_async *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->stop = 1;
    pthread_cond_broadcast(&q->todo);
    pthread_mutex_unlock(&q->lock);
    for (unsigned int i = 0; i < q->nworkers; i++) {
        if (q->workers[i].started)
            pthread_join(q->workers[i].thread, NULL);
        igtcloud__http_client_free(q->workers[i].http);
    }
    for (unsigned int i = 0; q->slots && i < q->nslots; i++) {
        free(q->slots[i].path);
        free(q->slots[i].body);
    }
    free(q->workers);
    free(q->slots);
    free(q->reports);
    pthread_cond_destroy(&q->todo);
    pthread_cond_destroy(&q->done);
    pthread_mutex_destroy(&q->lock);
    pthread_mutex_destroy(&q->session_lock);
    free(q);
}

int igtcloud__api_async_new(igtcloud__api_async **out, igtcloud_session *session,
                            const igtcloud__api_async_options *opts)
{
    if (!out || !session || !opts)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "async API calls need a session");
    igtcloud__api_async *q = calloc(1, sizeof(*q));
    if (!q)
        return igtcloud__error_oom();
    q->session = session;
    q->o = *opts;
    q->o.ca_file = NULL; /* only used here, while creating the connections */
    q->nslots = opts->capacity ? opts->capacity : DEFAULT_CAPACITY;
    q->nworkers = opts->workers ? opts->workers : DEFAULT_WORKERS;
    if (q->nworkers > MAX_WORKERS)
        q->nworkers = MAX_WORKERS;
    pthread_mutex_init(&q->lock, NULL);
    pthread_mutex_init(&q->session_lock, NULL);
    pthread_cond_init(&q->todo, NULL);
    pthread_cond_init(&q->done, NULL);
    q->slots = calloc(q->nslots, sizeof(*q->slots));
    q->reports = calloc(q->nslots, sizeof(*q->reports));
    q->workers = calloc(q->nworkers, sizeof(*q->workers));
    if (!q->slots || !q->reports || !q->workers) {
        igtcloud__api_async_free(q);
        return igtcloud__error_oom();
    }
    igtcloud__http_config cfg = IGTCLOUD__HTTP_CONFIG_INIT;
    cfg.ca_file = opts->ca_file;
    cfg.debug = session->debug;
    cfg.debug_payload = session->debug_payload;
    for (unsigned int i = 0; i < q->nworkers; i++) {
        worker *w = &q->workers[i];
        w->q = q;
        int rc = igtcloud__http_client_new(&w->http, &cfg);
        if (rc) {
            igtcloud__api_async_free(q);
            return rc;
        }
        if (opts->cancel)
            igtcloud__http_client_set_cancel(w->http, opts->cancel);
        /* Signals (SIGINT) belong to the caller's thread, which knows how to cancel. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int failed = pthread_create(&w->thread, NULL, worker_main, w) != 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (failed) {
            igtcloud__api_async_free(q);
            return igtcloud__error_set(IGTCLOUD_ENOMEM, "cannot start a thread for API calls");
        }
        w->started = 1;
    }
    *out = q;
    return 0;
}

/*
 * Report the finished slots: copied out and freed under the lock, reported
 * without it, so a slow callback never holds up the workers.
 */
static void harvest_locked(igtcloud__api_async *q)
{
    unsigned int n = 0;
    for (unsigned int i = 0; i < q->nslots; i++) {
        slot *s = &q->slots[i];
        if (s->state != SLOT_DONE)
            continue;
        report *r = &q->reports[n++];
        r->done = s->done;
        r->item = s->item;
        r->status = s->status;
        memcpy(r->message, s->message, sizeof(r->message));
        s->state = SLOT_FREE;
        s->item = NULL;
        q->nused--;
    }
    if (!n)
        return;
    pthread_mutex_unlock(&q->lock);
    for (unsigned int i = 0; i < n; i++)
        if (q->reports[i].done)
            q->reports[i].done(q->reports[i].item, q->reports[i].status, q->reports[i].message,
                               q->o.done_payload);
    pthread_mutex_lock(&q->lock);
}

int igtcloud__api_async_post(igtcloud__api_async *q, const char *path, const char *json_body,
                             const char *what, igtcloud__api_async_done_fn done, void *item)
{
    if (!q || !path || !json_body)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "async API call without a path or body");
    char *p = strdup(path), *b = strdup(json_body);
    if (!p || !b) {
        free(p);
        free(b);
        return igtcloud__error_oom();
    }
    pthread_mutex_lock(&q->lock);
    harvest_locked(q);
    while (q->nused == q->nslots) {
        if (cancelled(q)) {
            pthread_mutex_unlock(&q->lock);
            free(p);
            free(b);
            return igtcloud__error_set(IGTCLOUD_ECANCELLED, "%s: cancelled", what);
        }
        wait_slice(&q->done, &q->lock);
        harvest_locked(q);
    }
    slot *sl = NULL;
    for (unsigned int i = 0; i < q->nslots && !sl; i++)
        if (q->slots[i].state == SLOT_FREE)
            sl = &q->slots[i];
    sl->state = SLOT_QUEUED;
    sl->seq = q->next_seq++;
    sl->path = p;
    sl->body = b;
    sl->what = what;
    sl->done = done ? done : q->o.done;
    sl->item = item;
    sl->status = 0;
    sl->message[0] = '\0';
    q->nused++;
    pthread_cond_signal(&q->todo);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

void igtcloud__api_async_harvest(igtcloud__api_async *q, int wait)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    harvest_locked(q);
    /* Cancelled calls finish at once (the flag aborts requests), so this ends too. */
    while (wait && q->nused > 0) {
        wait_slice(&q->done, &q->lock);
        harvest_locked(q);
    }
    pthread_mutex_unlock(&q->lock);
}

void igtcloud__api_async_harvest_until(igtcloud__api_async *q, const int *flag)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    harvest_locked(q);
    while (!*flag && q->nused > 0) {
        wait_slice(&q->done, &q->lock);
        harvest_locked(q);
    }
    pthread_mutex_unlock(&q->lock);
}

void igtcloud__api_async_lock(igtcloud__api_async *q)
{
    if (q)
        pthread_mutex_lock(&q->session_lock);
}

void igtcloud__api_async_unlock(igtcloud__api_async *q)
{
    if (q)
        pthread_mutex_unlock(&q->session_lock);
}

void igtcloud__api_async_keep_fresh(igtcloud__api_async *q, igtcloud__session_keeper *keeper)
{
    if (q)
        igtcloud__session_keep_fresh(keeper, q->session, &q->session_lock);
}
