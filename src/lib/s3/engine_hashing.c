/*
 * Hashing on worker threads, so the loop keeps the other requests moving:
 * - the MD5 of a downloaded file, checked against its ETag, from the
 *   temporary file (in-order prefixes while ranges still arrive, then the
 *   rest); the file is renamed when the worker's answer is back;
 * - the digests an upload body is sent with (Content-MD5, CRC32C, SHA-256),
 *   computed before its request starts.
 * Workers touch nothing but their task: a dup of the file descriptor
 * (pread), the byte range, the digest state handed over, and the result.
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
#include "core/hash.h"

/*
 * One piece of MD5 work handed to a worker: add [from, to) of the file to the
 * job's running digest and, when final, compare the digest with the ETag.
 * A large download hands over each in-order prefix as its ranges arrive, so
 * only the last bytes are left to hash when the last range is in.
 */
enum task_kind { TASK_PREFIX = 1, TASK_FINAL, TASK_BODY };

typedef struct verify_task {
    struct verify_task *next;
    int kind;
    job *job;                 /* only the loop thread dereferences it */
    req *req;                 /* TASK_BODY: the request waiting for its digests */
    int fd;                   /* a dup: the job may close its own meanwhile */
    EVP_MD_CTX *md5;          /* the job's digest; the job leaves it alone until collected */
    uint64_t from, to;
    char etag[IGTCLOUD__ETAG_MAX + 1];
    igtcloud__engine_digests digests; /* TASK_BODY: which are wanted, then their values */
    int result;               /* 0 match (or done), 1 mismatch, -errno (or -EIO) when unreadable */
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

static int md5_add_file(EVP_MD_CTX *ctx, int fd, uint64_t from, uint64_t to, unsigned char *buf)
{
    uint64_t pos = from;
    while (pos < to) {
        size_t want = to - pos < IO_BUF_SIZE ? (size_t)(to - pos) : IO_BUF_SIZE;
        ssize_t got = pread(fd, buf, want, (off_t)pos);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return got < 0 ? -errno : -EIO;
        EVP_DigestUpdate(ctx, buf, (size_t)got);
        pos += (uint64_t)got;
    }
    return 0;
}

static int md5_matches(EVP_MD_CTX *ctx, const char *etag)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    EVP_DigestFinal_ex(ctx, d, &dl);
    igtcloud__hex(hex, d, dl);
    return strcasecmp(hex, etag) == 0 ? 0 : 1;
}

static void verify_run(verify_task *task, unsigned char *buf)
{
    int rc;
    if (!buf)
        rc = -ENOMEM;
    else if (task->kind == TASK_BODY)
        rc = igtcloud__engine_digests_of(&task->digests, task->fd, task->from, task->to - task->from, buf);
    else
        rc = md5_add_file(task->md5, task->fd, task->from, task->to, buf);
    task->result = rc < 0 ? rc : (task->kind == TASK_FINAL ? md5_matches(task->md5, task->etag) : 0);
    close(task->fd);
    task->fd = -1;
}

static void pool_push(verify_pool *p, verify_task *task)
{
    pthread_mutex_lock(&p->lock);
    if (p->todo_tail)
        p->todo_tail->next = task;
    else
        p->todo_head = task;
    p->todo_tail = task;
    pthread_cond_signal(&p->todo_cond);
    pthread_mutex_unlock(&p->lock);
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

        verify_run(task, buf);

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
        j->md5 = EVP_MD_CTX_new();
        if (!j->md5 || !EVP_DigestInit_ex(j->md5, EVP_md5(), NULL))
            return -1;
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

/* The MD5 check on the loop's thread, when no worker can take it (0, 1, or < 0). */
int igtcloud__engine_verify_here(igtcloud_transfer *t, job *j)
{
    if (j->md5 && j->md5_pos == j->size)
        return md5_matches(j->md5, j->etag);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL)) {
        EVP_MD_CTX_free(ctx);
        return igtcloud__error_oom();
    }
    int rc = md5_add_file(ctx, j->fd, 0, j->size, t->io_buf);
    if (rc < 0)
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot read back %s: %s", j->tmp_path, strerror(-rc));
    else
        rc = md5_matches(ctx, j->etag);
    EVP_MD_CTX_free(ctx);
    return rc;
}

/*
 * Ranges of j arrived: hand the in-order prefix not hashed yet to a worker,
 * unless one is busy with j (its answer calls this again).
 */
void igtcloud__engine_verify_advance(igtcloud_transfer *t, job *j)
{
    if (j->md5_on_loop || j->md5_broken || j->verifying || j->failing || !j->ranged ||
        !igtcloud__wire_etag_is_md5(j->etag))
        return;
    while (j->md5_range < j->journal.count && j->journal.done[j->md5_range])
        j->md5_range++;
    uint64_t end = (uint64_t)j->md5_range * j->journal.range_size;
    if (end > j->size)
        end = j->size;
    if (end > j->md5_pos && verify_submit(t, j, end, 0) == 0)
        t->stats.prefix_hashes++;
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
        } else if (d->result < 0) {
            /* The prefix digest is unusable: the final check hashes it all. */
            EVP_MD_CTX_free(j->md5);
            j->md5 = NULL;
            j->md5_broken = 1;
        } else {
            j->md5_pos = d->to;
            igtcloud__engine_verify_advance(t, j); /* the final check comes as the job settles */
        }
        free(d);
        igtcloud__engine_job_settle(t, j);
    }
}
