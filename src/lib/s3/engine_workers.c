/*
 * Worker threads, so the loop only moves bytes between sockets and memory:
 * - write-behind: downloaded bytes are gathered in chunks of WRITE_CHUNK and
 *   written to the temporary file by a worker (the page-cache copy was most
 *   of the loop's time); a request whose transfer is over waits, parked,
 *   until its chunks are on file before its outcome counts;
 * - the MD5 of a downloaded file, checked against its ETag, from the
 *   temporary file (in-order prefixes while ranges still arrive, then the
 *   rest); the file is renamed when the worker's answer is back. A worker
 *   hashes up to igtcloud__md5_lanes() MD5 tasks side by side (core/md5.h),
 *   a lane taking the next task queued as soon as its own is done: eight
 *   files cost about what one did;
 * - the digests an upload body is sent with (Content-MD5, CRC32C, SHA-256),
 *   computed before its request starts.
 * Workers touch nothing but their task: a dup of the file descriptor, the
 * byte range, the chunk or digest state handed over, and the result.
 * Chunks come from a bounded set (max_requests + WRITE_SPARE_CHUNKS): a
 * request fills at most one at a time, so the loop, when it must wait for
 * one, always waits for a write that is already queued.
 */
#include "s3/engine_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"
#include "core/hash.h"

/*
 * One piece of MD5 work handed to a worker: add [from, to) of the file to the
 * job's running digest and, when final, compare the digest with the ETag.
 * A large download hands over each in-order prefix as its ranges arrive, so
 * only the last bytes are left to hash when the last range is in.
 */
enum task_kind { TASK_PREFIX = 1, TASK_FINAL, TASK_BODY, TASK_WRITE, TASK_CRC_READ };

typedef struct verify_task {
    struct verify_task *next;
    int kind;
    job *job;                 /* only the loop thread dereferences it */
    req *req;                 /* TASK_BODY: the request waiting for its digests; TASK_WRITE: its chunk's */
    unsigned char *chunk;     /* TASK_WRITE: bytes for [from, to), back to the free set once written */
    int fd;                   /* a dup: the job may close its own meanwhile */
    igtcloud__md5_ctx *md5;   /* the job's digest (or body_md5); the job leaves it alone until collected */
    igtcloud__md5_ctx body_md5; /* TASK_BODY hashed beside others: its Content-MD5 */
    uint64_t from, to;
    char etag[IGTCLOUD__ETAG_MAX + 1];
    igtcloud__engine_digests digests; /* TASK_BODY: which are wanted, then their values */
    int result;               /* 0 match (or done), 1 mismatch, -errno (or -EIO) when unreadable */
    int side_by_side;         /* hashed in a round with other tasks (statistics) */
    int joined_running;       /* taken into lanes already hashing (statistics) */
    /*
     * TASK_WRITE of a download checked by CRC32C (engine_crc.c): the CRC
     * registers of [from, crc_split) and [crc_split, to), the chunk's bytes
     * on each side of a granule boundary, for the loop to fold in.
     */
    int want_crc;
    uint32_t crc_generation;
    uint64_t crc_split;
    uint32_t crc_raw[2];
    /* TASK_CRC_READ: the registers of [from, to) cut at multiples of crc_cut (granules). */
    uint64_t crc_cut;
    uint32_t *crc_regs;
} verify_task;

typedef struct verify_pool {
    pthread_mutex_t lock;
    pthread_cond_t todo_cond;  /* a task to do, or stop */
    pthread_cond_t done_cond;  /* a task is done */
    verify_task *todo_head, *todo_tail, *done_head;
    verify_task *write_head, *write_tail; /* taken first: the loop may be waiting for a chunk */
    pthread_cond_t chunk_cond; /* a chunk is free again */
    unsigned char **free_chunks;
    size_t nfree, nchunks, max_chunks;
    const job *writing[VERIFY_THREADS]; /* the file each worker is writing a chunk of, or NULL */
    int started;               /* workers that took their index */
    int idle;                  /* workers waiting for a task */
    /*
     * With SIMD lanes, a worker hashes MD5 while another does only if two
     * tasks or more wait (a batch of its own): a lone task waits for the
     * busy hasher and goes side by side with others, instead of taking a
     * second core at a fraction of the lanes' throughput.
     */
    int md5_hashers;
    int md5_batching;
    int stop;
    int nthreads;
    pthread_t threads[VERIFY_THREADS];
} verify_pool;

unsigned igtcloud__engine_md5_round_delay_us;
unsigned igtcloud__engine_read_back_delay_us;

/* Bytes of each file a worker reads per MD5 lane and round; a worker's buffer holds all lanes. */
#define MD5_MAX_LANES 8
#define LANE_BUF (64 * 1024)
#define WORKER_BUF (MD5_MAX_LANES * LANE_BUF > IO_BUF_SIZE ? MD5_MAX_LANES * LANE_BUF : IO_BUF_SIZE)

/* Read up to `want` bytes at pos, retrying interruptions: the count, or -errno (-EIO at the end). */
static ssize_t read_piece(int fd, unsigned char *buf, size_t want, uint64_t pos)
{
    for (;;) {
        ssize_t got = pread(fd, buf, want, (off_t)pos);
        if (got < 0 && errno == EINTR)
            continue;
        return got > 0 ? got : got < 0 ? -errno : -EIO;
    }
}

static int md5_add_file(igtcloud__md5_ctx *ctx, int fd, uint64_t from, uint64_t to, unsigned char *buf)
{
    for (uint64_t pos = from; pos < to;) {
        size_t want = to - pos < IO_BUF_SIZE ? (size_t)(to - pos) : IO_BUF_SIZE;
        ssize_t got = read_piece(fd, buf, want, pos);
        if (got < 0)
            return (int)got;
        igtcloud__md5_update(ctx, buf, (size_t)got);
        pos += (uint64_t)got;
    }
    return 0;
}

static int md5_matches(igtcloud__md5_ctx *ctx, const char *etag)
{
    unsigned char d[16];
    char hex[2 * sizeof(d) + 1];
    igtcloud__md5_final(ctx, d);
    igtcloud__hex(hex, d, sizeof(d));
    return strcasecmp(hex, etag) == 0 ? 0 : 1;
}

/* Whether a task is nothing but an MD5 over a file range, so it can share a worker's lanes. */
static int md5_only(const verify_task *task)
{
    if (task->kind == TASK_PREFIX || task->kind == TASK_FINAL)
        return 1;
    return task->kind == TASK_BODY && task->digests.want_md5 && !task->digests.want_sha256 &&
           !task->digests.want_crc32c;
}

/* The result of an MD5-only task whose bytes are all in its digest. */
static int md5_conclude(verify_task *task)
{
    if (task->kind == TASK_FINAL)
        return md5_matches(task->md5, task->etag);
    if (task->kind == TASK_BODY)
        return igtcloud__engine_digests_set_md5(&task->digests, task->md5);
    return 0;
}

/* The registers of a TASK_CRC_READ's granules, read back (0, or -errno). */
static int crc_read_granules(verify_task *task, unsigned char *buf)
{
    if (!buf)
        return -ENOMEM;
    if (igtcloud__engine_read_back_delay_us)
        usleep(igtcloud__engine_read_back_delay_us);
    size_t k = 0;
    for (uint64_t at = task->from; at < task->to; k++) {
        uint64_t end = (at / task->crc_cut + 1) * task->crc_cut;
        if (end > task->to)
            end = task->to;
        int rc = igtcloud__engine_crc_read_raw(task->fd, at, end, buf, WORKER_BUF, &task->crc_regs[k]);
        if (rc)
            return rc;
        at = end;
    }
    return 0;
}

/* A task that is not MD5 alone: a chunk to write, an upload body's digests, or a read-back. */
static void verify_run(verify_task *task, unsigned char *buf)
{
    int rc;
    if (task->kind == TASK_WRITE && task->want_crc) {
        /* Summed here, off the loop, while the bytes are at hand. */
        size_t before = (size_t)(task->crc_split - task->from);
        task->crc_raw[0] = igtcloud__crc32c_raw(task->chunk, before);
        task->crc_raw[1] = igtcloud__crc32c_raw(task->chunk + before,
                                                (size_t)(task->to - task->crc_split));
    }
    if (task->kind == TASK_WRITE)
        rc = igtcloud__pwrite_all(task->fd, task->chunk, (size_t)(task->to - task->from),
                                  (off_t)task->from) ? -errno : 0;
    else if (task->kind == TASK_CRC_READ)
        rc = crc_read_granules(task, buf);
    else if (!buf)
        rc = -ENOMEM;
    else
        rc = igtcloud__engine_digests_of(&task->digests, task->fd, task->from, task->to - task->from, buf);
    task->result = rc < 0 ? rc : 0;
    close(task->fd);
    task->fd = -1;
}

static void pool_push(verify_pool *p, verify_task *task)
{
    pthread_mutex_lock(&p->lock);
    verify_task **head = task->kind == TASK_WRITE ? &p->write_head : &p->todo_head;
    verify_task **tail = task->kind == TASK_WRITE ? &p->write_tail : &p->todo_tail;
    if (*tail)
        (*tail)->next = task;
    else
        *head = task;
    *tail = task;
    pthread_cond_signal(&p->todo_cond);
    pthread_mutex_unlock(&p->lock);
}

/* Whether another worker is writing a chunk of `j` (compared, never dereferenced). */
static int being_written(const verify_pool *p, const job *j)
{
    for (int i = 0; i < p->nthreads; i++)
        if (p->writing[i] == j)
            return 1;
    return 0;
}

/* MD5-only tasks waiting (the queue is short: a few per request in flight). */
static size_t md5_waiting(const verify_pool *p)
{
    size_t n = 0;
    for (const verify_task *task = p->todo_head; task; task = task->next)
        n += (size_t)md5_only(task);
    return n;
}

/* Take task (after prev, NULL at the head) out of a queue. */
static void queue_remove(verify_task **head, verify_task **tail, verify_task *prev, verify_task *task)
{
    if (prev)
        prev->next = task->next;
    else
        *head = task->next;
    if (*tail == task)
        *tail = prev;
}

/*
 * The next task for worker `self`, NULL when stopping with nothing left; holds
 * p->lock. Writes first, but never two at once into one file: writers of one
 * inode contend on its lock (spinning, in the kernel) and gain nothing.
 */
static verify_task *pool_pop(verify_pool *p, int self)
{
    for (;;) {
        verify_task *prev = NULL, *task = p->write_head;
        while (task && being_written(p, task->job)) {
            prev = task;
            task = task->next;
        }
        if (task) {
            queue_remove(&p->write_head, &p->write_tail, prev, task);
            p->writing[self] = task->job;
            return task;
        }
        prev = NULL;
        task = p->todo_head;
        int md5_may = !p->md5_batching || p->md5_hashers == 0 || md5_waiting(p) >= 2;
        while (task && !md5_may && md5_only(task)) {
            prev = task;
            task = task->next;
        }
        if (task) {
            queue_remove(&p->todo_head, &p->todo_tail, prev, task);
            return task;
        }
        if (p->stop && !p->write_head)
            return NULL;
        p->idle++;
        pthread_cond_wait(&p->todo_cond, &p->lock);
        p->idle--;
    }
}

/* A finished task back to the loop, its chunk to the free set; holds p->lock. */
static void pool_done(verify_pool *p, verify_task *task, CURLM *multi)
{
    if (task->chunk) {
        p->free_chunks[p->nfree++] = task->chunk;
        task->chunk = NULL;
        pthread_cond_signal(&p->chunk_cond);
    }
    task->next = p->done_head;
    p->done_head = task;
    pthread_cond_signal(&p->done_cond);
    curl_multi_wakeup(multi);
}

/* A task entering a lane: its digest from where it starts (an upload body's from nothing). */
static void md5_lane_start(verify_task *task)
{
    task->result = 0;
    if (task->kind == TASK_BODY) {
        igtcloud__md5_init(&task->body_md5);
        task->md5 = &task->body_md5;
    }
}

/*
 * The first MD5-only task of the queue, taken out, or NULL; holds p->lock.
 * None while a chunk waits to be written and no other worker is idle to
 * write it: the loop may be waiting for that chunk's buffer.
 */
static verify_task *pool_take_md5(verify_pool *p)
{
    if (p->write_head && p->idle == 0)
        return NULL;
    verify_task *prev = NULL;
    for (verify_task *task = p->todo_head; task; prev = task, task = task->next) {
        if (md5_only(task)) {
            queue_remove(&p->todo_head, &p->todo_tail, prev, task);
            return task;
        }
    }
    return NULL;
}

/*
 * MD5-only tasks hashed side by side in up to `lanes` lanes, starting with
 * `first`; called without p->lock. Each round reads up to LANE_BUF of every
 * lane's task into the lane's slice of buf and hashes the slices together.
 * A task goes back to the loop as soon as its bytes are in, and its lane
 * takes the next MD5 task queued meanwhile: the in-order prefixes of ranged
 * downloads arrive one at a time, each after the last one's answer, so
 * hashing only the tasks waiting when a batch started left most of them
 * alone, at an eighth of the lanes' throughput.
 */
static void md5_run_lanes(verify_pool *p, verify_task *first, size_t lanes, unsigned char *buf,
                          CURLM *multi)
{
    verify_task *lane[MD5_MAX_LANES] = { first };
    uint64_t pos[MD5_MAX_LANES] = { first->from };
    size_t busy = 1;
    md5_lane_start(first);
    for (;;) {
        if (busy < lanes) {
            pthread_mutex_lock(&p->lock);
            for (size_t i = 0; i < lanes && busy < lanes; i++) {
                if (lane[i])
                    continue;
                if (!(lane[i] = pool_take_md5(p)))
                    break;
                md5_lane_start(lane[i]);
                lane[i]->joined_running = 1;
                pos[i] = lane[i]->from;
                busy++;
            }
            pthread_mutex_unlock(&p->lock);
        }
        if (!busy)
            break;
        igtcloud__md5_ctx *ctx[MD5_MAX_LANES];
        const unsigned char *data[MD5_MAX_LANES];
        size_t len[MD5_MAX_LANES], in_round[MD5_MAX_LANES], m = 0;
        for (size_t i = 0; i < lanes; i++) {
            verify_task *task = lane[i];
            if (!task || task->result < 0 || pos[i] >= task->to)
                continue;
            size_t want = task->to - pos[i] < LANE_BUF ? (size_t)(task->to - pos[i]) : LANE_BUF;
            ssize_t got = read_piece(task->fd, buf + i * LANE_BUF, want, pos[i]);
            if (got < 0) {
                task->result = (int)got;
                continue;
            }
            ctx[m] = task->md5;
            data[m] = buf + i * LANE_BUF;
            len[m] = (size_t)got;
            in_round[m++] = i;
            pos[i] += (uint64_t)got;
        }
        if (m)
            igtcloud__md5_update_many(ctx, data, len, m);
        if (igtcloud__engine_md5_round_delay_us)
            usleep(igtcloud__engine_md5_round_delay_us);
        for (size_t k = 0; m > 1 && k < m; k++)
            lane[in_round[k]]->side_by_side = 1;

        verify_task *finished[MD5_MAX_LANES];
        size_t nfinished = 0;
        for (size_t i = 0; i < lanes; i++) {
            verify_task *task = lane[i];
            if (!task || (task->result == 0 && pos[i] < task->to))
                continue;
            if (task->result == 0)
                task->result = md5_conclude(task);
            close(task->fd);
            task->fd = -1;
            finished[nfinished++] = task;
            lane[i] = NULL;
            busy--;
        }
        if (nfinished) {
            pthread_mutex_lock(&p->lock);
            for (size_t k = 0; k < nfinished; k++)
                pool_done(p, finished[k], multi);
            pthread_mutex_unlock(&p->lock);
        }
    }
}

static void *verify_worker(void *arg)
{
    igtcloud_transfer *t = arg;
    verify_pool *p = t->verify;
    CURLM *multi = t->multi;
    unsigned char *buf = malloc(WORKER_BUF);
    size_t lanes = igtcloud__md5_lanes();
    if (lanes > MD5_MAX_LANES)
        lanes = MD5_MAX_LANES;
    pthread_mutex_lock(&p->lock);
    int self = p->started++;
    p->md5_batching = buf && lanes > 1;
    for (;;) {
        verify_task *task = pool_pop(p, self);
        if (!task)
            break;
        int hashing = md5_only(task);
        p->md5_hashers += hashing;
        pthread_mutex_unlock(&p->lock);

        if (buf && hashing)
            md5_run_lanes(p, task, lanes, buf, multi);
        else
            verify_run(task, buf);

        pthread_mutex_lock(&p->lock);
        if (p->writing[self]) {
            p->writing[self] = NULL;
            if (p->write_head)
                pthread_cond_broadcast(&p->todo_cond); /* its file's next chunk may go */
        }
        if (hashing) {
            p->md5_hashers--;
            if (p->todo_head)
                pthread_cond_broadcast(&p->todo_cond); /* MD5 tasks that waited for it */
        }
        if (!(buf && hashing))
            pool_done(p, task, multi);
    }
    pthread_mutex_unlock(&p->lock);
    free(buf);
    return NULL;
}

void igtcloud__engine_verify_stop(igtcloud_transfer *t)
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
        free(d->crc_regs);
        free(d);
    }
    for (size_t i = 0; i < p->nfree; i++)
        free(p->free_chunks[i]);
    free(p->free_chunks);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->todo_cond);
    pthread_cond_destroy(&p->done_cond);
    pthread_cond_destroy(&p->chunk_cond);
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
    size_t max_chunks = (size_t)t->o.max_requests + WRITE_SPARE_CHUNKS;
    unsigned char **free_chunks = calloc(max_chunks, sizeof(*free_chunks));
    if (!p || !free_chunks) {
        free(p);
        free(free_chunks);
        t->verify_failed = 1;
        return -1;
    }
    p->free_chunks = free_chunks;
    p->max_chunks = max_chunks;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->todo_cond, NULL);
    pthread_cond_init(&p->done_cond, NULL);
    pthread_cond_init(&p->chunk_cond, NULL);
    t->verify = p;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int want = cpus > 1 && cpus < VERIFY_THREADS ? (int)cpus : VERIFY_THREADS;
    for (int i = 0; i < want; i++) {
        if (pthread_create(&p->threads[p->nthreads], NULL, verify_worker, t) != 0)
            break;
        p->nthreads++;
    }
    if (p->nthreads == 0) {
        igtcloud__engine_verify_stop(t);
        t->verify_failed = 1;
        return -1;
    }
    return 0;
}

/*
 * Hand MD5 work on j's temporary file to a worker: the bytes from the digest's
 * position to `to`, then (final) the comparison with the ETag. Returns -1
 * when it must be done here instead.
 */
static int verify_submit(igtcloud_transfer *t, job *j, uint64_t to, int final)
{
    if (verify_start(t))
        return -1;
    if (!j->md5) {
        j->md5 = malloc(sizeof(*j->md5));
        if (!j->md5)
            return -1;
        igtcloud__md5_init(j->md5);
        j->md5_pos = 0;
        j->md5_range = 0;
    }
    verify_task *task = calloc(1, sizeof(*task));
    if (!task)
        return -1;
    task->fd = dup(j->fd);
    if (task->fd < 0) {
        free(task);
        return -1;
    }
    task->kind = final ? TASK_FINAL : TASK_PREFIX;
    task->job = j;
    task->md5 = j->md5;
    task->from = j->md5_pos;
    task->to = to;
    snprintf(task->etag, sizeof(task->etag), "%s", j->etag);
    pool_push(t->verify, task);
    j->verifying = 1;
    j->pending++;
    t->nverifying++;
    if (final)
        t->stats.verified_by_workers++;
    return 0;
}

int igtcloud__engine_verify_submit(igtcloud_transfer *t, job *j)
{
    return verify_submit(t, j, j->size, 1);
}

int igtcloud__engine_verify_submit_prefix(igtcloud_transfer *t, job *j, uint64_t to)
{
    if (verify_submit(t, j, to, 0))
        return -1;
    t->stats.prefix_hashes++;
    return 0;
}

/* The MD5 check on the loop's thread, when no worker can take it (0, 1, or < 0). */
int igtcloud__engine_verify_here(igtcloud_transfer *t, job *j)
{
    if (j->md5 && j->md5_pos == j->size)
        return md5_matches(j->md5, j->etag);
    igtcloud__md5_ctx ctx;
    igtcloud__md5_init(&ctx);
    int rc = md5_add_file(&ctx, j->fd, 0, j->size, t->io_buf);
    if (rc < 0)
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot read back %s: %s", j->tmp_path, strerror(-rc));
    else
        rc = md5_matches(&ctx, j->etag);
    return rc;
}

/*
 * Ranges of j arrived: hand the in-order prefix not hashed yet to a worker,
 * unless one is busy with j (its answer calls this again).
 */
void igtcloud__engine_verify_advance(igtcloud_transfer *t, job *j)
{
    int parts = igtcloud__engine_parts_md5_wanted(t, j);
    if (j->md5_on_loop || j->md5_broken || j->verifying || j->failing || !j->ranged ||
        (!parts && !igtcloud__wire_etag_is_md5(j->etag)))
        return;
    if (parts && j->mp_state != MP_KNOWN) {
        igtcloud__engine_parts_ask(t, j); /* its answer calls this again */
        return;
    }
    while (j->md5_range < j->journal.count && j->journal.done[j->md5_range])
        j->md5_range++;
    uint64_t end = (uint64_t)j->md5_range * j->journal.range_size;
    if (end > j->size)
        end = j->size;
    /* A multipart ETag's digests end at part boundaries: a piece never crosses one. */
    if (parts && end > igtcloud__engine_parts_boundary(j))
        end = igtcloud__engine_parts_boundary(j);
    if (end > j->md5_pos)
        igtcloud__engine_verify_submit_prefix(t, j, end);
}

/*
 * Hand the digests of r's body to a worker; the request starts when they are
 * back. Returns -1 when the request should start (and hash) right away.
 */
int igtcloud__engine_digests_submit(igtcloud_transfer *t, req *r)
{
    if ((r->kind != RK_PUT && r->kind != RK_PART) || r->digests_ready || r->length == 0)
        return -1;
    igtcloud__engine_digests wanted;
    igtcloud__engine_digests_wanted(&wanted, t, r);
    if (verify_start(t))
        return -1;
    verify_task *task = calloc(1, sizeof(*task));
    if (!task)
        return -1;
    task->fd = dup(r->job->fd);
    if (task->fd < 0) {
        free(task);
        return -1;
    }
    task->kind = TASK_BODY;
    task->job = r->job;
    task->req = r;
    task->from = r->offset;
    task->to = r->offset + r->length;
    task->digests = wanted;
    pool_push(t->verify, task);
    t->nverifying++;
    t->ndigesting++;
    return 0;
}

int igtcloud__engine_crc_read_submit(igtcloud_transfer *t, job *j, uint64_t from, uint64_t to)
{
    if (from >= to || verify_start(t))
        return -1;
    /* One register per granule the span touches (to <= j->size, so no granule is cut short). */
    size_t pieces = (size_t)((to - 1) / j->crc_gran_size - from / j->crc_gran_size + 1);
    verify_task *task = calloc(1, sizeof(*task));
    uint32_t *regs = calloc(pieces, sizeof(*regs));
    if (!task || !regs || (task->fd = dup(j->fd)) < 0) {
        free(task);
        free(regs);
        return -1;
    }
    task->kind = TASK_CRC_READ;
    task->job = j;
    task->from = from;
    task->to = to;
    task->crc_cut = j->crc_gran_size;
    task->crc_generation = j->crc_generation;
    task->crc_regs = regs;
    pool_push(t->verify, task);
    j->pending++;
    t->nverifying++;
    return 0;
}

/* ---- write-behind ---- */

static void write_failed(req *r, int err)
{
    if (r->local_error)
        return;
    snprintf(r->local_msg, sizeof(r->local_msg), "cannot write %s: %s", r->job->tmp_path,
             strerror(err));
    r->local_error = 1;
    r->local_status = igtcloud__engine_write_status(err);
}

/* Write bytes on the loop's thread, summed for a CRC32C check: 0, or -1 with r's error set. */
static int write_here(req *r, const void *data, size_t n, uint64_t at)
{
    if (igtcloud__pwrite_all(r->job->fd, data, n, (off_t)at)) {
        write_failed(r, errno);
        return -1;
    }
    if (r->job->crc_gran)
        igtcloud__engine_crc_fold(r->job, at, data, n);
    return 0;
}

/* A free chunk, waiting for a worker to free one when all are taken; NULL without memory. */
static unsigned char *chunk_take(verify_pool *p)
{
    unsigned char *c = NULL;
    int fresh = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (p->nfree > 0) {
            c = p->free_chunks[--p->nfree];
            break;
        }
        if (p->nchunks < p->max_chunks) {
            p->nchunks++;
            fresh = 1;
            break;
        }
        pthread_cond_wait(&p->chunk_cond, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    if (fresh) {
        c = malloc(WRITE_CHUNK);
        if (!c) {
            pthread_mutex_lock(&p->lock);
            p->nchunks--;
            pthread_mutex_unlock(&p->lock);
        }
    }
    return c;
}

static void chunk_give(verify_pool *p, unsigned char *c)
{
    pthread_mutex_lock(&p->lock);
    p->free_chunks[p->nfree++] = c;
    pthread_cond_signal(&p->chunk_cond);
    pthread_mutex_unlock(&p->lock);
}

/* Hand r's chunk to a worker, or write it here when no task can be made. */
static void chunk_submit(igtcloud_transfer *t, req *r)
{
    verify_task *task = calloc(1, sizeof(*task));
    int fd = task ? dup(r->job->fd) : -1;
    if (fd < 0) {
        free(task);
        write_here(r, r->wbuf, r->wlen, r->wpos);
        r->wpos += r->wlen;
        r->wlen = 0;
        return;
    }
    task->kind = TASK_WRITE;
    task->job = r->job;
    task->req = r;
    task->fd = fd;
    task->chunk = r->wbuf;
    task->from = r->wpos;
    task->to = r->wpos + r->wlen;
    if (r->job->crc_gran) {
        task->want_crc = 1;
        task->crc_generation = r->job->crc_generation;
        task->crc_split = igtcloud__engine_crc_split(r->job, task->from, task->to);
    }
    r->wbuf = NULL;
    r->wlen = 0;
    r->writes_pending++;
    t->nverifying++;
    t->nwriting++;
    pool_push(t->verify, task);
}

/*
 * Whether every worker has hashing to do (MD5 checks of downloads, upload
 * digests): then both cores are busy already, and a chunk handed over would
 * only wait behind the hashing while costing a copy; the loop writes itself.
 */
static int workers_busy_hashing(const igtcloud_transfer *t)
{
    return t->nverifying - t->nwriting >= (size_t)t->verify->nthreads;
}

int igtcloud__engine_write_received(igtcloud_transfer *t, req *r, const char *data, size_t n,
                                    uint64_t at)
{
    if (r->local_error)
        return -1; /* an earlier chunk could not be written */
    if (r->wbuf && workers_busy_hashing(t)) {
        if (r->wlen > 0)
            chunk_submit(t, r); /* what it holds comes before these bytes */
        igtcloud__engine_write_release(t, r);
    }
    while (n > 0) {
        if (!r->wbuf && verify_start(t) == 0 && !workers_busy_hashing(t)) {
            r->wbuf = chunk_take(t->verify);
            r->wpos = at;
            r->wlen = 0;
        }
        if (!r->wbuf) {
            /* No workers, or no memory for a chunk: write (and sum) it here. */
            return write_here(r, data, n, at);
        }
        size_t c = WRITE_CHUNK - r->wlen < n ? WRITE_CHUNK - r->wlen : n;
        memcpy(r->wbuf + r->wlen, data, c);
        r->wlen += c;
        data += c;
        n -= c;
        at += c;
        if (r->wlen == WRITE_CHUNK)
            chunk_submit(t, r);
    }
    return r->local_error ? -1 : 0;
}

int igtcloud__engine_writes_park(igtcloud_transfer *t, req *r, CURLcode cc)
{
    if (r->wbuf && r->wlen > 0)
        chunk_submit(t, r);
    igtcloud__engine_write_release(t, r);
    if (r->writes_pending == 0)
        return 0;
    r->parked = 1;
    r->parked_cc = cc;
    t->nparked++;
    return 1;
}

void igtcloud__engine_write_release(igtcloud_transfer *t, req *r)
{
    if (!r->wbuf)
        return;
    if (t->verify)
        chunk_give(t->verify, r->wbuf);
    else
        free(r->wbuf);
    r->wbuf = NULL;
    r->wlen = 0;
}

/* Apply the answers that are back; with `block`, wait for at least one. */
void igtcloud__engine_verify_collect(igtcloud_transfer *t, int block)
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
        t->stats.md5_side_by_side += (size_t)d->side_by_side;
        t->stats.md5_joined_running += (size_t)d->joined_running;
        if (d->kind == TASK_WRITE) {
            req *r = d->req;
            r->writes_pending--;
            t->nwriting--;
            t->stats.chunks_written_by_workers++;
            if (d->result < 0)
                write_failed(r, -d->result);
            else if (d->want_crc)
                igtcloud__engine_crc_fold_pieces(d->job, d->crc_generation, d->from, d->crc_split,
                                                 d->to, d->crc_raw);
            free(d);
            if (r->parked && r->writes_pending == 0) {
                r->parked = 0;
                t->nparked--;
                igtcloud__engine_req_finished(t, r, r->parked_cc);
            }
            continue;
        }
        if (d->kind == TASK_CRC_READ) {
            j->pending--;
            igtcloud__engine_crc_read_done(t, j, d->crc_generation, d->from, d->to, d->crc_regs,
                                           d->result);
            free(d->crc_regs);
            free(d);
            igtcloud__engine_job_settle(t, j);
            continue;
        }
        if (d->kind == TASK_BODY) {
            /* A failed digest is computed again, and reported, as the request starts. */
            t->ndigesting--;
            if (d->result == 0) {
                d->req->digests = d->digests;
                d->req->digests_ready = 1;
                t->stats.bodies_hashed_by_workers++;
            }
            igtcloud__engine_enqueue(t, d->req, 0);
            free(d);
            continue;
        }
        j->verifying = 0;
        j->pending--;
        if (d->kind == TASK_FINAL) {
            if (d->result < 0)
                igtcloud__error_set(IGTCLOUD_EIO, "cannot read back %s: %s", j->tmp_path,
                                    strerror(-d->result));
            igtcloud__engine_download_verified(t, j, d->result < 0 ? IGTCLOUD_EIO : d->result);
        } else {
            if (d->result < 0) {
                /* The prefix digest is unusable: the final check hashes it all. */
                free(j->md5);
                j->md5 = NULL;
                j->md5_broken = 1;
            } else {
                j->md5_pos = d->to;
                igtcloud__engine_parts_roll(j);
            }
            /* Past download_finish, a multipart check goes on piece by piece from here. */
            if (j->finished && igtcloud__engine_parts_md5_wanted(t, j))
                igtcloud__engine_parts_check(t, j);
            else
                igtcloud__engine_verify_advance(t, j); /* the final check comes as the job settles */
        }
        free(d);
        igtcloud__engine_job_settle(t, j);
    }
}
