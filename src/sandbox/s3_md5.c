#include "s3_md5.h"

#include <pthread.h>
#include <time.h>

/* Enough to keep eight lanes busy as shorter pieces finish. */
#define MAX_BATCH 16
/* Fewer queued pieces than this and no one waiting: the hasher gives others
 * up to GATHER_NS to arrive, as lanes left empty are hashed for nothing. */
#define GATHER_AT 8
#define GATHER_NS 1000000L

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queued = PTHREAD_COND_INITIALIZER;   /* for the hasher */
static pthread_cond_t hashed = PTHREAD_COND_INITIALIZER;   /* for the submitters */
static sandbox_s3_md5_piece *head, *tail;
static int held;
static int waiters;         /* threads blocked in sandbox_s3_md5_wait */
static int hasher_state;    /* 0: not started, 1: running, -1: could not start */
static sandbox_s3_md5_counts counts;

/* Under lock: the oldest piece of each context in the queue, up to MAX_BATCH,
 * taken off the queue. A context's later pieces wait for a later batch, so
 * they are added in order. */
static size_t take_batch(sandbox_s3_md5_piece **batch)
{
    size_t n = 0;
    sandbox_s3_md5_piece **link = &head, *last = NULL;
    while (*link && n < MAX_BATCH) {
        sandbox_s3_md5_piece *p = *link;
        int seen = 0;
        for (size_t i = 0; i < n && !seen; i++)
            seen = batch[i]->ctx == p->ctx;
        if (seen) {
            last = p;
            link = &p->next;
            continue;
        }
        batch[n++] = p;
        *link = p->next;
    }
    /* The tail is the last piece left in the queue, if any. */
    if (!*link)
        tail = last;
    counts.waiting -= n;
    return n;
}

static void *hasher(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!head || held)
            pthread_cond_wait(&queued, &lock);
        /* A short batch while nobody waits for it: let more pieces come. */
        if (!waiters && counts.waiting < GATHER_AT) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += GATHER_NS;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            while (!waiters && counts.waiting < GATHER_AT &&
                   pthread_cond_timedwait(&queued, &lock, &until) == 0)
                ;
            if (held)
                continue;
        }
        sandbox_s3_md5_piece *batch[MAX_BATCH];
        size_t n = take_batch(batch);
        pthread_mutex_unlock(&lock);

        igtcloud__md5_ctx *ctx[MAX_BATCH];
        const unsigned char *data[MAX_BATCH];
        size_t len[MAX_BATCH];
        for (size_t i = 0; i < n; i++) {
            ctx[i] = batch[i]->ctx;
            data[i] = batch[i]->data;
            len[i] = batch[i]->len;
        }
        igtcloud__md5_update_many(ctx, data, len, n);

        pthread_mutex_lock(&lock);
        counts.pieces += n;
        if (n > 1)
            counts.shared += n;
        for (size_t i = 0; i < n; i++)
            batch[i]->done = 1;
        pthread_cond_broadcast(&hashed);
    }
    return NULL;
}

/* Under lock: start the hasher once; 0 when it runs. */
static int hasher_running(void)
{
    if (hasher_state == 0) {
        pthread_t thread;
        hasher_state = igtcloud__md5_lanes() > 1 &&
                               pthread_create(&thread, NULL, hasher, NULL) == 0 &&
                               pthread_detach(thread) == 0
                           ? 1
                           : -1;
    }
    return hasher_state == 1 ? 0 : -1;
}

void sandbox_s3_md5_submit(sandbox_s3_md5_piece *piece, igtcloud__md5_ctx *ctx,
                           const void *data, size_t len)
{
    *piece = (sandbox_s3_md5_piece){ .ctx = ctx, .data = data, .len = len };
    pthread_mutex_lock(&lock);
    if (hasher_running()) {
        /* Alone is as fast as it gets: hash here, on the caller's CPU. */
        counts.pieces++;
        piece->done = 1;
        pthread_mutex_unlock(&lock);
        igtcloud__md5_update(ctx, data, len);
        return;
    }
    if (tail)
        tail->next = piece;
    else
        head = piece;
    tail = piece;
    counts.waiting++;
    pthread_cond_signal(&queued);
    pthread_mutex_unlock(&lock);
}

void sandbox_s3_md5_wait(sandbox_s3_md5_piece *piece)
{
    pthread_mutex_lock(&lock);
    if (!piece->done) {
        waiters++;
        pthread_cond_signal(&queued);   /* no more gathering: someone waits */
        while (!piece->done)
            pthread_cond_wait(&hashed, &lock);
        waiters--;
    }
    pthread_mutex_unlock(&lock);
}

void sandbox_s3_md5_get_counts(sandbox_s3_md5_counts *out)
{
    pthread_mutex_lock(&lock);
    *out = counts;
    pthread_mutex_unlock(&lock);
}

void sandbox_s3_md5_hold(int on)
{
    pthread_mutex_lock(&lock);
    held = on;
    if (!held)
        pthread_cond_signal(&queued);
    pthread_mutex_unlock(&lock);
}
