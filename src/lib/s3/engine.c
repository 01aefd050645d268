/*
 * The transfer engine's public face: options, the handle, queueing files, runs and
 * their results, single reads and stats (igtcloud/transfer.h).
 */
#include "s3/engine_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/error.h"
#include "core/random.h"

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

/* The bytes of igtcloud_transfer_options a caller of `version` has; 0: unknown. */
static size_t options_size(unsigned int version)
{
    if (version == 1)
        return offsetof(igtcloud_transfer_options, verify_multipart);
    return version == IGTCLOUD_TRANSFER_OPTIONS_VERSION ? sizeof(igtcloud_transfer_options) : 0;
}

int igtcloud_transfer_options_init(igtcloud_transfer_options *opts, unsigned int version)
{
    size_t size = options_size(version);
    if (!opts || !size)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "unknown transfer options version %u", version);
    igtcloud_transfer_options init = IGTCLOUD_TRANSFER_OPTIONS_INIT;
    init.version = version;
    memcpy(opts, &init, size);
    return 0;
}

/*
 * Keep the engine's descriptors within `ulimit -n`: each active file holds
 * two (data and journal) and, while a worker checks its MD5, a duplicate;
 * each request in flight a connection and, while a worker writes its chunk
 * or hashes its body, a duplicate of its file's (plus one for each of the
 * WRITE_SPARE_CHUNKS chunks). Files get a quarter of the limit (at most 256),
 * requests what keeps the whole within three quarters; the last quarter is
 * the process's own. Explicit values above these are lowered to them.
 */
static void fit_open_file_limit(igtcloud_transfer_options *o)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) {
        if (!o->max_open_files)
            o->max_open_files = 64;
        return;
    }
    uint64_t limit = (uint64_t)rl.rlim_cur;
    uint64_t files = limit / 4;
    if (files > 256)
        files = 256;
    if (files < 4)
        files = 4;
    if (!o->max_open_files || o->max_open_files > files)
        o->max_open_files = (unsigned int)files;
    uint64_t held = (uint64_t)o->max_open_files + o->max_open_files / 2 + WRITE_SPARE_CHUNKS;
    uint64_t room = limit * 3 / 4 > held ? limit * 3 / 4 - held : 0;
    uint64_t requests = room / 2 ? room / 2 : 1;
    if (o->max_requests > requests)
        o->max_requests = (unsigned int)requests;
}

int igtcloud_transfer_new(igtcloud_transfer **out, const igtcloud_transfer_options *opts)
{
    int rc = 0;
    igtcloud_transfer *t = NULL;
    if (!out || !opts || !options_size(opts->version))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "bad transfer options");
    if (!opts->credentials_cb && !opts->credentials)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "transfer needs a credentials provider");
    if (opts->checksum != IGTCLOUD_CHECKSUM_MD5 && opts->checksum != IGTCLOUD_CHECKSUM_SHA256 &&
        opts->checksum != IGTCLOUD_CHECKSUM_CRC32C)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "unknown checksum in transfer options");
    t = calloc(1, sizeof(*t));
    if (!t)
        return igtcloud__error_oom();
    /* A caller of an older version has fewer fields: the rest keep their defaults. */
    igtcloud_transfer_options init = IGTCLOUD_TRANSFER_OPTIONS_INIT;
    t->o = init;
    memcpy(&t->o, opts, options_size(opts->version));
    if (!t->o.max_requests)
        t->o.max_requests = 16;
    fit_open_file_limit(&t->o);
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
    igtcloud__journal_boot_id(t->boot_id);
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
    igtcloud__engine_verify_stop(t);
    while (t->ninflight > 0) {
        req *r = t->inflight[0];
        igtcloud__engine_remove_inflight(t, r);
        igtcloud__engine_req_retire(t, r);
    }
    while (t->ready_head) {
        req *r = t->ready_head;
        t->ready_head = r->next;
        igtcloud__engine_req_retire(t, r);
    }
    for (size_t i = 0; i < t->njobs; i++)
        igtcloud__engine_job_free(t->jobs[i]);
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
        igtcloud__engine_job_free(j);
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
        igtcloud__engine_job_free(j);
        return igtcloud__error_oom();
    }
    j->payload = payload;
    int rc = add_job(t, j);
    if (rc)
        igtcloud__engine_job_free(j);
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
        igtcloud__engine_job_free(j);
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
    t->run_retired = t->run_retired_failed = 0;
    /* No job queued yet (a feeder adds them all): no array either. */
    int rc = igtcloud__engine_loop(t, t->jobs ? t->jobs + first : NULL, t->njobs - first);
    t->feeding = 0;
    t->stats.credential_fetches = t->creds.fetches;
    /* Retirement moved the jobs: this run's are those after the ones done before it. */
    first = t->list_first;
    size_t failed = t->run_retired_failed;
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
        size_t total = t->njobs - first + t->run_retired;
        if (t->run_retired_failed)
            return igtcloud__error_set_http(IGTCLOUD_EPARTIAL, (int)t->retired_fail_http,
                                            t->retired_fail_request_id,
                                            "%zu of %zu files failed; first: %s", failed, total,
                                            t->retired_fail_message);
        return igtcloud__error_set_http(IGTCLOUD_EPARTIAL, (int)first_failed->http_status,
                                        first_failed->request_id, "%zu of %zu files failed; first: %s",
                                        failed, total, first_failed->message);
    }
    return 0;
}

void igtcloud__transfer_set_retire(igtcloud_transfer *t, int on)
{
    t->retire = on;
}

static int prefix_of_a_job(const char *prefix, void *payload)
{
    const igtcloud_transfer *t = payload;
    for (size_t k = 0; k < t->njobs; k++)
        if (strcmp(t->jobs[k]->prefix, prefix) == 0)
            return 1;
    return 0;
}

/*
 * A fed run meets a new prefix with every study, and each cached entry holds
 * a whole credentials record (the session token's room alone is 8 KiB), so
 * the cache would grow with the project: forget the credentials of prefixes
 * no live job has. Only live jobs have requests, so no request holds them.
 */
static void evict_credentials(igtcloud_transfer *t)
{
    if (t->creds.count >= 2 * t->njobs + 64)
        igtcloud__cred_cache_evict(&t->creds, prefix_of_a_job, t);
}

void igtcloud__engine_retire_done(igtcloud_transfer *t)
{
    size_t kept = 0, list_first = t->list_first, cursor = t->list_first + t->cursor;
    size_t new_first = 0, new_cursor = 0;
    for (size_t i = 0; i < t->njobs; i++) {
        job *j = t->jobs[i];
        if (j->state != JS_DONE) {
            /* Nothing but the array points at a finished job: its requests are over. */
            if (i < list_first)
                new_first++;
            if (i < cursor)
                new_cursor++;
            t->jobs[kept++] = j;
            continue;
        }
        if (i >= list_first) {
            t->run_retired++;
            if (j->status && !t->run_retired_failed++) {
                t->retired_fail_http = j->http_status;
                snprintf(t->retired_fail_request_id, sizeof(t->retired_fail_request_id), "%s",
                         j->request_id);
                snprintf(t->retired_fail_message, sizeof(t->retired_fail_message), "%s",
                         j->message);
            }
        }
        igtcloud__engine_job_free(j);
    }
    t->njobs = kept;
    t->list_first = new_first;
    t->cursor = new_cursor - new_first;
    t->list = t->jobs ? t->jobs + t->list_first : NULL;
    t->nlist = t->njobs - t->list_first;
    t->ndone_unretired = 0;
    evict_credentials(t);
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
    igtcloud__engine_job_result(out, t->jobs[index]);
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
    int rc = igtcloud__engine_loop(t, list, 1);
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
    igtcloud__engine_job_free(j);
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
    igtcloud__engine_job_free(j);
    return rc;
}

void igtcloud_transfer_on_multipart_created(igtcloud_transfer *t,
                                            igtcloud_transfer_multipart_cb cb, void *payload)
{
    if (!t)
        return;
    t->multipart_cb = cb;
    t->multipart_payload = payload;
}

int igtcloud_transfer_abort_upload(igtcloud_transfer *t, const char *key, const char *prefix,
                                   const char *upload_id)
{
    if (!t || !key || !*key || !prefix || !upload_id || !*upload_id)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "abort needs a key, a prefix and an upload id");
    job *j = job_alloc(JK_ABORT, key, NULL, prefix);
    if (!j || !(j->upload_id = strdup(upload_id))) {
        igtcloud__engine_job_free(j);
        return igtcloud__error_oom();
    }
    int rc = run_single(t, j);
    if (rc == IGTCLOUD_ENOTFOUND && strcmp(j->error_code, "NoSuchUpload") == 0) {
        igtcloud_error_clear(); /* already aborted or completed: nothing left to free */
        rc = 0;
    }
    igtcloud__engine_job_free(j);
    return rc;
}

void igtcloud__engine_get_stats(igtcloud__engine_stats *out, const igtcloud_transfer *t)
{
    *out = t->stats;
    out->credential_fetches = t->creds.fetches;
}
