/*
 * One request on the wire: headers, checksums and SigV4 signature, the curl
 * easy handle and its callbacks (bodies from and to files with pread/pwrite).
 */
#include "s3/engine_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/error.h"
#include "core/hash.h"
#include "s3/endpoint.h"
#include "s3/plan.h"

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    req *r = userdata;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new response (after 100 Continue or a redirect): forget the last. */
        const char *sp = memchr(data, ' ', n);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        r->etag[0] = r->request_id[0] = r->bucket_region[0] = '\0';
        r->content_range[0] = r->last_modified[0] = r->checksum_crc32c[0] = '\0';
        r->has_length = 0;
        r->parts_count = 0;
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
    } else if (IS("x-amz-checksum-crc32c")) {
        COPY(r->checksum_crc32c);
    } else if (IS("x-amz-mp-parts-count")) {
        uint64_t count;
        r->parts_count = igtcloud__wire_u64(&count, v, vlen) == 0 && count <= 10000 ? (uint32_t)count : 0;
    } else if (IS("content-length")) {
        r->has_length = igtcloud__wire_u64(&r->content_length, v, vlen) == 0;
    }
#undef IS
#undef COPY
    return n;
}

int igtcloud__engine_ok_status(long s)
{
    return s >= 200 && s < 300;
}

/*
 * Check a successful GET's headers against what was asked, once, before the
 * first body byte is kept (or at the end for an empty body).
 */
/*
 * A whole object's x-amz-checksum-crc32c: its bytes are summed from the
 * start as they arrive (on_write). A multipart upload's composite "...-N"
 * is engine_crc.c's.
 */
static void learn_crc32c(job *j, const char *value)
{
    uint32_t crc, parts;
    j->crc32c_known = 0;
    if (igtcloud__wire_checksum_crc32c(&crc, &parts, value, strlen(value)) == 0 && parts == 0) {
        j->crc32c_expected = crc;
        j->crc32c_known = 1;
        j->crc32c = 0;
        j->crc32c_pos = 0;
    }
}

int igtcloud__engine_check_get(igtcloud_transfer *t, req *r)
{
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
    if (r->status == 200 && j->kind == JK_DOWNLOAD)
        learn_crc32c(j, r->checksum_crc32c);
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
    if (j->kind == JK_DOWNLOAD)
        igtcloud__engine_crc_begin(t, j, r);
    return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    req *r = userdata;
    job *j = r->job;
    size_t n = size * nmemb;
    if (r->kind != RK_GET || !igtcloud__engine_ok_status(r->status)) {
        if (r->body.size + n > MAX_SMALL_BODY)
            return n; /* keep the start of an oversized error body */
        return igtcloud__buf_put(&r->body, data, n) == 0 ? n : 0;
    }
    if (!r->checked && igtcloud__engine_check_get(r->transfer, r)) {
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
        if (igtcloud__engine_write_received(r->transfer, r, data, n, at))
            return 0;
        if (j->crc32c_known && j->crc32c_pos == at) {
            j->crc32c = igtcloud__crc32c(j->crc32c, data, n);
            j->crc32c_pos += n;
        }
        if (j->md5 && j->md5_on_loop) {
            if (j->md5_pos == at) {
                igtcloud__md5_update(j->md5, data, n);
                j->md5_pos += n;
            } else {
                free(j->md5);
                j->md5 = NULL;
            }
        }
    }
    r->done += n;
    r->attempt_bytes += n;
    return n;
}

/* Whether r sends a body built in memory (XML), not bytes of its file. */
static int body_in_memory(const req *r)
{
    return r->send_body.ptr || r->kind == RK_COMPLETE;
}

static size_t on_read(char *buffer, size_t size, size_t nitems, void *userdata)
{
    req *r = userdata;
    size_t want = size * nitems;
    if (body_in_memory(r)) {
        size_t left = r->send_body.size - (size_t)r->send_pos;
        size_t c = want < left ? want : left;
        if (c > 0)
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
    /* curl only rewinds to 0 here; past the body, on_read's count would wrap. */
    uint64_t body = body_in_memory(r) ? r->send_body.size : r->length;
    if ((uint64_t)offset > body)
        return CURL_SEEKFUNC_FAIL;
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
        r->last_progress = igtcloud__engine_mono_ms();
    }
    return 0;
}

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
 * CRC32C replaces Content-MD5 on a single PUT, and on the parts of an upload
 * created with that algorithm (a resumed one only when ListParts names it and
 * lists the kept parts' checksums: S3 refuses a part checksum of another).
 */
void igtcloud__engine_digests_wanted(igtcloud__engine_digests *out, const igtcloud_transfer *t,
                                     const req *r)
{
    memset(out, 0, sizeof(*out));
    out->want_crc32c = t->o.checksum == IGTCLOUD_CHECKSUM_CRC32C &&
                       (r->kind == RK_PUT || r->job->crc_parts);
    out->want_md5 = !out->want_crc32c;
    out->want_sha256 = t->o.checksum == IGTCLOUD_CHECKSUM_SHA256;
}

/* Finish an MD5 of a body into d's binary and base64 forms (0, or -ENOMEM). */
int igtcloud__engine_digests_set_md5(igtcloud__engine_digests *d, igtcloud__md5_ctx *md5)
{
    igtcloud__md5_final(md5, d->md5);
    igtcloud__buf b64 = IGTCLOUD_BUF_INIT;
    int rc = igtcloud__base64_encode(&b64, d->md5, sizeof(d->md5)) ? -ENOMEM : 0;
    if (!rc)
        snprintf(d->md5_b64, sizeof(d->md5_b64), "%s", b64.ptr);
    igtcloud__buf_dispose(&b64);
    return rc;
}

/*
 * The wanted digests of [offset, offset+len) of fd, read through buf
 * (IO_BUF_SIZE bytes). Safe on any thread; returns 0, or -errno (-EIO when
 * the file is shorter, -ENOMEM).
 */
int igtcloud__engine_digests_of(igtcloud__engine_digests *d, int fd, uint64_t offset,
                                uint64_t len, unsigned char *buf)
{
    int rc = 0;
    igtcloud__md5_ctx md5;
    igtcloud__md5_init(&md5);
    EVP_MD_CTX *sha = d->want_sha256 ? EVP_MD_CTX_new() : NULL;
    uint32_t crc = 0;
    if ((d->want_sha256 && !sha) || (sha && !EVP_DigestInit_ex(sha, EVP_sha256(), NULL))) {
        rc = -ENOMEM;
        goto done;
    }
    for (uint64_t pos = 0; pos < len;) {
        size_t want = len - pos < IO_BUF_SIZE ? (size_t)(len - pos) : IO_BUF_SIZE;
        ssize_t got = pread(fd, buf, want, (off_t)(offset + pos));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            rc = got < 0 ? -errno : -EIO;
            goto done;
        }
        if (d->want_md5)
            igtcloud__md5_update(&md5, buf, (size_t)got);
        if (sha)
            EVP_DigestUpdate(sha, buf, (size_t)got);
        if (d->want_crc32c)
            crc = igtcloud__crc32c(crc, buf, (size_t)got);
        pos += (uint64_t)got;
    }
    d->crc32c = crc;
    if (d->want_md5)
        rc = igtcloud__engine_digests_set_md5(d, &md5);
    if (sha) {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int dl = 0;
        EVP_DigestFinal_ex(sha, digest, &dl);
        igtcloud__hex(d->sha256_hex, digest, dl);
    }
done:
    EVP_MD_CTX_free(sha);
    return rc;
}

const char *igtcloud__engine_find_region(igtcloud_transfer *t, const char *bucket)
{
    for (size_t i = 0; i < t->nregions; i++) {
        if (strcmp(t->regions[i].bucket, bucket) == 0)
            return t->regions[i].region;
    }
    return NULL;
}

int igtcloud__engine_remember_region(igtcloud_transfer *t, const char *bucket, const char *region)
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

void igtcloud__engine_give_easy(igtcloud_transfer *t, CURL *e)
{
    if (!e)
        return;
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL); /* it pointed into a request */
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
    case RK_PARTS:
        return igtcloud__buf_printf(q, "partNumber=%" PRIu32, r->index + 1);
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

int igtcloud__engine_composite_uploads;

/* The CRC32C of the whole object, joined from its parts' (FULL_OBJECT). */
static uint32_t object_crc32c(const job *j)
{
    uint32_t crc = 0;
    for (uint32_t i = 0; i < j->nparts; i++) {
        uint64_t offset, len;
        igtcloud__plan_slice(&offset, &len, j->size, j->part_size, i);
        crc = i ? igtcloud__crc32c_combine(crc, j->part_crcs[i], len) : j->part_crcs[i];
    }
    return crc;
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
int igtcloud__engine_req_start(igtcloud_transfer *t, req *r)
{
    int rc = 0;
    job *j = r->job;
    igtcloud__buf url = IGTCLOUD_BUF_INIT, host = IGTCLOUD_BUF_INIT, path = IGTCLOUD_BUF_INIT;
    igtcloud__buf query = IGTCLOUD_BUF_INIT;
    igtcloud__sigv4_signed sig = IGTCLOUD__SIGV4_SIGNED_INIT;
    /* Reads, a HEAD confirming an upload's completion too, use GET credentials. */
    const char *action =
        (j->kind == JK_UPLOAD || j->kind == JK_ABORT) && r->kind != RK_HEAD ? "PUT" : "GET";
    int64_t now = igtcloud__engine_wall_s(t);

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
                                     igtcloud__engine_find_region(t, c->bucket) };
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
        if (!r->digests_ready) {
            /* No worker took it: hash here. */
            igtcloud__engine_digests_wanted(&r->digests, t, r);
            int err = igtcloud__engine_digests_of(&r->digests, j->fd, r->offset, r->length, t->io_buf);
            if (err) {
                rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", j->path,
                                         err == -EIO ? "file shrank" : strerror(-err));
                break;
            }
            r->digests_ready = 1;
        }
        if (r->digests.want_md5)
            snprintf(md5_b64, sizeof(md5_b64), "%s", r->digests.md5_b64);
        if (r->digests.want_sha256)
            snprintf(sha_hex, sizeof(sha_hex), "%s", r->digests.sha256_hex);
        if (r->digests.want_crc32c) {
            crc32c_b64(crc_b64, r->digests.crc32c);
            if (r->kind == RK_PART)
                j->part_crcs[r->index] = r->digests.crc32c;
        }
        break;
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
        /* The object's, for S3 to check against the parts' it joins (FULL_OBJECT). */
        if (!rc && j->crc_parts && j->crc_full_object)
            crc32c_b64(crc_b64, object_crc32c(j));
        break;
    }
    case RK_ABORT:
        method = "DELETE";
        break;
    case RK_HEAD:
    case RK_PARTS:
    case RK_CHECKSUM:
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

    igtcloud__sigv4_header hs[10];
    size_t nh = 0;
    hs[nh++] = (igtcloud__sigv4_header){ "Host", host.ptr };
    if (md5_b64[0])
        hs[nh++] = (igtcloud__sigv4_header){ "Content-MD5", md5_b64 };
    if (crc_b64[0])
        hs[nh++] = (igtcloud__sigv4_header){ "x-amz-checksum-crc32c", crc_b64 };
    if (r->kind == RK_CREATE && t->o.checksum == IGTCLOUD_CHECKSUM_CRC32C) {
        hs[nh++] = (igtcloud__sigv4_header){ "x-amz-checksum-algorithm", "CRC32C" };
        /* The whole object's CRC32C, as AWS SDKs ask: a download checks it without the part size. */
        if (!igtcloud__engine_composite_uploads)
            hs[nh++] = (igtcloud__sigv4_header){ "x-amz-checksum-type", "FULL_OBJECT" };
    }
    if (range[0])
        hs[nh++] = (igtcloud__sigv4_header){ "Range", range };
    else if ((r->kind == RK_GET && j->kind == JK_DOWNLOAD) || r->kind == RK_CHECKSUM)
        hs[nh++] = (igtcloud__sigv4_header){ "x-amz-checksum-mode", "ENABLED" }; /* learn_crc32c */
    char if_match[IGTCLOUD__ETAG_MAX + 3];
    if ((r->kind == RK_GET && j->etag[0] && (range[0] || r->attempt > 0)) || r->kind == RK_PARTS ||
        r->kind == RK_CHECKSUM) {
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
    r->parts_count = 0;
    igtcloud__buf_clear(&r->body);
    r->attempt_bytes = 0;
    r->checked = r->local_error = r->proto_error = r->stalled = 0;
    r->local_status = 0;
    r->local_msg[0] = '\0';
    r->send_pos = 0;
    r->seen_dl = r->seen_ul = 0;
    r->last_progress = igtcloud__engine_mono_ms();

    CURL *e = take_easy(t);
    if (!e) {
        rc = igtcloud__error_oom();
        goto done;
    }
    r->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, url.ptr);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    r->transfer = t;
    r->curl_error[0] = '\0';
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->curl_error);
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
        igtcloud__engine_give_easy(t, e);
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
