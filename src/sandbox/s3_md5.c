#include "s3_md5.h"
#include "core/md5.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#define LANES 8
#define LANE_BYTES (64u * 1024u)

typedef struct md5_wait {
    struct md5_wait *next;
    igtcloud__md5_ctx ctx;
    int fd;
    unsigned long long pos, end;
    int err;                  /* errno of a failed read, else 0 */
    int done;
} md5_wait;

/* Files waiting to be hashed, and whether a thread is hashing (it takes them). */
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_done = PTHREAD_COND_INITIALIZER;
static md5_wait *queue_head, *queue_tail;
static int hashing;
/* The hashing thread's read buffers: one hashing thread at a time uses them. */
static unsigned char lane_buf[LANES][LANE_BYTES];

/* One read of up to LANE_BYTES at w->pos: the count, 0 at the end, -1 (w->err) on error. */
static long read_lane(md5_wait *w, unsigned char *buf)
{
    unsigned long long left = w->end - w->pos;
    size_t want = left < LANE_BYTES ? (size_t)left : LANE_BYTES;
    for (;;) {
        ssize_t got = pread(w->fd, buf, want, (off_t)w->pos);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            w->err = got < 0 ? errno : EIO;
            return -1;
        }
        return (long)got;
    }
}

/* Hash n files side by side, LANE_BYTES of each per round, until all are read. */
static void hash_batch(md5_wait **batch, size_t n)
{
    for (;;) {
        igtcloud__md5_ctx *ctx[LANES];
        const unsigned char *data[LANES];
        size_t len[LANES], m = 0;
        for (size_t i = 0; i < n; i++) {
            md5_wait *w = batch[i];
            if (w->err || w->pos >= w->end)
                continue;
            long got = read_lane(w, lane_buf[i]);
            if (got < 0)
                continue;
            ctx[m] = &w->ctx;
            data[m] = lane_buf[i];
            len[m++] = (size_t)got;
            w->pos += (unsigned long long)got;
        }
        if (!m)
            return;
        igtcloud__md5_update_many(ctx, data, len, m);
    }
}

int sandbox_s3_md5_file(unsigned char out[16], int fd, unsigned long long offset,
                        unsigned long long len)
{
    md5_wait me = { .fd = fd, .pos = offset, .end = offset + len };
    igtcloud__md5_init(&me.ctx);
    pthread_mutex_lock(&queue_lock);
    /* First come, first hashed: under a steady load no file waits for ever. */
    if (queue_tail)
        queue_tail->next = &me;
    else
        queue_head = &me;
    queue_tail = &me;
    while (!me.done) {
        if (hashing) {
            pthread_cond_wait(&queue_done, &queue_lock);
            continue;
        }
        /* Nobody hashes: this thread takes what waits, its own file among it. */
        hashing = 1;
        md5_wait *batch[LANES];
        size_t n = 0;
        while (queue_head && n < LANES) {
            batch[n++] = queue_head;
            queue_head = queue_head->next;
        }
        if (!queue_head)
            queue_tail = NULL;
        pthread_mutex_unlock(&queue_lock);
        hash_batch(batch, n);
        pthread_mutex_lock(&queue_lock);
        for (size_t i = 0; i < n; i++)
            batch[i]->done = 1;
        hashing = 0;
        pthread_cond_broadcast(&queue_done);
    }
    pthread_mutex_unlock(&queue_lock);
    if (me.err) {
        errno = me.err;
        return -1;
    }
    igtcloud__md5_final(&me.ctx, out);
    return 0;
}
