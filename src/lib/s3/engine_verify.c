/*
 * MD5 verification on worker threads. The MD5 of a downloaded file (checked
 * against its ETag) is computed by a small pool of threads, from the temporary
 * file, while the loop keeps the other requests moving; the file is renamed
 * when the worker's answer is back. Workers touch nothing but their task: the
 * file descriptor (read-only, pread), its size and ETag, and the task's result.
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

/* Hand the MD5 check of j's temporary file to a worker; -1: do it here. */
int igtcloud__engine_verify_submit(igtcloud_transfer *t, job *j)
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
        j->verifying = 0;
        j->pending--;
        if (d->result < 0)
            igtcloud__error_set(IGTCLOUD_EIO, "cannot read back %s: %s", j->tmp_path,
                                strerror(-d->result));
        igtcloud__engine_download_verified(t, j, d->result < 0 ? IGTCLOUD_EIO : d->result);
        free(d);
        igtcloud__engine_job_settle(t, j);
    }
}
