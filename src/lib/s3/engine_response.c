/*
 * What an attempt's outcome means: success per request kind, or a failure
 * classified (retry.c) and retried after a full-jitter backoff within the
 * run's retry budget, ExpiredToken and region answers retried for free, or
 * reported once per file with the server's code and request id.
 */
/* sync_file_range() starts writeback without waiting (Linux). */
#define _GNU_SOURCE
#include "s3/engine_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/error.h"
#include "core/hash.h"
#include "s3/endpoint.h"
#include "s3/plan.h"
#include "s3/xml.h"

static int status_for_s3(long http, const char *code)
{
    if (code && (strcmp(code, "SignatureDoesNotMatch") == 0 ||
                 strcmp(code, "InvalidAccessKeyId") == 0 || strcmp(code, "InvalidToken") == 0 ||
                 strcmp(code, "ExpiredToken") == 0 ||
                 strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
                 strcmp(code, "RequestTimeTooSkewed") == 0 ||
                 strcmp(code, "InvalidSecurity") == 0))
        return IGTCLOUD_EAUTH;
    if (code && (strcmp(code, "NoSuchKey") == 0 || strcmp(code, "NoSuchBucket") == 0 ||
                 strcmp(code, "NoSuchUpload") == 0))
        return IGTCLOUD_ENOTFOUND;
    if (http == 401)
        return IGTCLOUD_EAUTH;
    if (http == 403)
        return IGTCLOUD_EPERM;
    if (http == 404)
        return IGTCLOUD_ENOTFOUND;
    if (http == 408)
        return IGTCLOUD_ETIMEOUT;
    return IGTCLOUD_EPROTO;
}

static int status_for_outcome(igtcloud__xfer_outcome o)
{
    switch (o) {
    case IGTCLOUD__XFER_CONNECT:
    case IGTCLOUD__XFER_SHORT:
        return IGTCLOUD_ENET;
    case IGTCLOUD__XFER_TIMEOUT:
        return IGTCLOUD_ETIMEOUT;
    case IGTCLOUD__XFER_TLS:
        return IGTCLOUD_ETLS;
    case IGTCLOUD__XFER_LOCAL:
        return IGTCLOUD_EIO;
    default:
        return IGTCLOUD_EPROTO;
    }
}

const char *igtcloud__engine_op_name(int kind)
{
    switch (kind) {
    case RK_PUT: return "PUT";
    case RK_CREATE: return "CreateMultipartUpload";
    case RK_PART: return "UploadPart";
    case RK_COMPLETE: return "CompleteMultipartUpload";
    case RK_ABORT: return "AbortMultipartUpload";
    case RK_LIST: return "ListParts";
    case RK_GET: return "GET";
    case RK_HEAD: return "HEAD";
    case RK_PARTS: return "HEAD";
    case RK_CHECKSUM: return "HEAD";
    default: return "request";
    }
}

static void on_part_listed(const igtcloud__s3_part *part, void *payload)
{
    void **ctx = payload;
    igtcloud_transfer *t = ctx[0];
    job *j = ctx[1];
    uint32_t i = part->number - 1;
    if (i >= j->nparts || j->part_etags[i] || !igtcloud__wire_etag_is_md5(part->etag))
        return;
    uint64_t off, len;
    igtcloud__plan_slice(&off, &len, j->size, j->part_size, i);
    if (len != part->size)
        return;
    igtcloud__engine_digests d = { .want_md5 = 1 };
    if (igtcloud__engine_digests_of(&d, j->fd, off, len, t->io_buf))
        return; /* unreadable now: the part is sent again, and fails there */
    char hex[2 * sizeof(d.md5) + 1];
    igtcloud__hex(hex, d.md5, sizeof(d.md5));
    if (strcasecmp(hex, part->etag) == 0) {
        j->part_etags[i] = strdup(part->etag);
        if (j->part_etags[i]) {
            j->parts_done++;
            t->progress.bytes_done += len;
            /* Its CRC32C goes into the completion, if the upload is a CRC32C one. */
            if (part->has_crc32c && (j->part_crcs || (j->part_crcs = calloc(j->nparts, sizeof(*j->part_crcs)))))
                j->part_crcs[i] = part->crc32c;
            else
                j->listed_without_crc = 1;
        }
    }
}

/* A 2xx response arrived; returns 0, or -1 when the body says it failed after all. */
static int on_success(igtcloud_transfer *t, req *r, igtcloud__s3_error_body *xml)
{
    job *j = r->job;
    switch (r->kind) {
    case RK_PUT:
        snprintf(j->etag, sizeof(j->etag), "%s", r->etag);
        t->progress.bytes_done += r->length;
        t->stats.bytes_sent += r->length;
        return 0;
    case RK_CREATE:
        igtcloud__s3_xml_scan(xml, r->body.ptr, r->body.size);
        if (!xml->upload_id[0]) {
            snprintf(r->local_msg, sizeof(r->local_msg), "CreateMultipartUpload returned no UploadId");
            return -1;
        }
        free(j->upload_id);
        j->upload_id = strdup(xml->upload_id);
        if (!j->upload_id)
            return -1;
        if (t->o.checksum == IGTCLOUD_CHECKSUM_CRC32C) {
            free(j->part_crcs);
            j->part_crcs = calloc(j->nparts, sizeof(*j->part_crcs));
            if (!j->part_crcs)
                return -1;
            j->crc_parts = 1;
            j->crc_full_object = !igtcloud__engine_composite_uploads;
        }
        j->parts_ready = 1;
        j->next_part = 0;
        if (t->multipart_cb) {
            /* Before any part leaves: the caller records the id first. */
            igtcloud_transfer_result res;
            igtcloud__engine_job_result(&res, j);
            if (t->multipart_cb(&res, t->multipart_payload))
                t->cancel = 1;
        }
        return 0;
    case RK_LIST: {
        int truncated = 0, crc32c_upload = 0;
        uint32_t marker = 0;
        void *ctx[2] = { t, j };
        if (igtcloud__s3_xml_list_parts(r->body.ptr, r->body.size, on_part_listed, ctx, &truncated,
                                        &marker, &crc32c_upload)) {
            snprintf(r->local_msg, sizeof(r->local_msg), "malformed ListParts response");
            return -1;
        }
        j->listed_crc32c |= crc32c_upload;
        if (truncated && marker > j->list_marker) {
            j->list_marker = marker;
            req *next = igtcloud__engine_req_new(j, RK_LIST, 0, 0, 0);
            if (next)
                igtcloud__engine_enqueue(t, next, 0);
            return next ? 0 : -1;
        }
        /*
         * An upload created with CRC32C (ListParts says so) goes on with it:
         * the parts still to send carry it, and the completion lists every
         * part's, as S3 wants; unless a kept part's is not known.
         */
        if (j->listed_crc32c && !j->listed_without_crc && t->o.checksum == IGTCLOUD_CHECKSUM_CRC32C) {
            if (!j->part_crcs && !(j->part_crcs = calloc(j->nparts, sizeof(*j->part_crcs))))
                return -1;
            j->crc_parts = 1;
            t->stats.uploads_resumed_with_crc32c++;
        }
        j->parts_ready = 1;
        j->next_part = 0;
        return 0;
    }
    case RK_PART:
        if (!r->etag[0]) {
            snprintf(r->local_msg, sizeof(r->local_msg), "UploadPart returned no ETag");
            return -1;
        }
        j->part_etags[r->index] = strdup(r->etag);
        if (!j->part_etags[r->index])
            return -1;
        j->parts_done++;
        t->progress.bytes_done += r->length;
        t->stats.bytes_sent += r->length;
        return 0;
    case RK_COMPLETE:
        igtcloud__s3_xml_scan(xml, r->body.ptr, r->body.size);
        if (xml->is_error)
            return 1; /* an error inside a 200: classified like any other */
        {
            /* The object's ETag is in the body (entities decoded by the parser). */
            igtcloud__xml_complete done = IGTCLOUD__XML_COMPLETE_INIT;
            if (igtcloud__xml_parse_complete(&done, r->body.ptr, r->body.size) != 0 ||
                igtcloud__wire_etag(j->etag, done.etag, strlen(done.etag)) != 0)
                j->etag[0] = '\0';
            igtcloud__xml_complete_dispose(&done);
        }
        return 0;
    case RK_ABORT:
        return 0;
    case RK_HEAD:
        if (j->kind == JK_UPLOAD) {
            /* The object a lost Complete answer may have made: ours only if the ETag says so. */
            if (strcmp(r->etag, j->confirm_etag) != 0) {
                snprintf(r->local_msg, sizeof(r->local_msg),
                         "a completion whose answer was lost left ETag \"%.40s\", not the "
                         "\"%.40s\" of the parts sent", r->etag, j->confirm_etag);
                return -1;
            }
            snprintf(j->etag, sizeof(j->etag), "%s", r->etag);
            return 0;
        }
        j->size = r->has_length ? r->content_length : 0;
        j->size_known = r->has_length;
        snprintf(j->etag, sizeof(j->etag), "%s", r->etag);
        if (r->last_modified[0]) {
            int64_t lm;
            if (igtcloud__wire_http_date(&lm, r->last_modified, strlen(r->last_modified)) == 0)
                j->last_modified = lm;
        }
        return 0;
    case RK_PARTS:
        igtcloud__engine_parts_answer(t, r, 1);
        return 0;
    case RK_CHECKSUM:
        igtcloud__engine_crc_answer(t, r, 1);
        return 0;
    case RK_GET:
        if (!r->checked && igtcloud__engine_check_get(t, r)) {
            r->proto_error = 1;
            return -1;
        }
        t->progress.bytes_done += r->attempt_bytes;
        t->stats.bytes_received += r->attempt_bytes;
        if (j->kind == JK_READ)
            return 0;
        if (r->learned_total) {
            t->progress.bytes_total += j->size;
            r->learned_total = 0;
        }
        if (!j->ranged) {
            /* A whole object, or the first range of one. */
            if (j->size_known && j->size > r->offset + r->done) {
                if (igtcloud__engine_download_plan_ranges(t, j)) {
                    snprintf(r->local_msg, sizeof(r->local_msg), "%s", igtcloud_error_last()->message);
                    r->local_error = 1;
                    r->local_status = igtcloud_error_last()->code;
                    return -1;
                }
                igtcloud__engine_crc_ask(t, j);
                igtcloud__engine_verify_advance(t, j);
                return 0;
            }
            if (!j->size_known) {
                j->size = r->done;
                j->size_known = 1;
            }
            igtcloud__engine_download_finish(t, j);
            return 0;
        }
        /* One range of many: journaled in batches once its bytes are on disk. */
        if (!igtcloud__engine_piece_back(j, r))
            return 0; /* more pieces of its range to come */
        igtcloud__journal_mark(&j->journal, r->index);
        j->unjournaled[j->nunjournaled++] = r->index;
#ifdef __linux__
        if (j->journal_sync) {
            uint64_t off, len; /* the whole range: it may have come in pieces */
            igtcloud__plan_slice(&off, &len, j->size, j->journal.range_size, r->index);
            sync_file_range(j->fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
        }
#endif
        if (igtcloud__engine_journal_flush(j, 0)) {
            snprintf(r->local_msg, sizeof(r->local_msg), "cannot journal %s", j->tmp_path);
            r->local_error = 1;
            return -1;
        }
        igtcloud__engine_crc_ask(t, j); /* a resumed download's first range */
        igtcloud__engine_verify_advance(t, j);
        return 0;
    default:
        return 0;
    }
}

/* What a bare S3 error code means, for servers that send no <Message> (RGW). */
static const char *explain(const char *code)
{
    static const struct {
        const char *code, *text;
    } known[] = {
        { "AccessDenied", "the credentials were refused or do not cover this key" },
        { "SignatureDoesNotMatch", "the secret key does not match the access key" },
        { "InvalidAccessKeyId", "unknown access key" },
        { "InvalidToken", "the session token is malformed or invalid" },
        { "ExpiredToken", "the session token has expired" },
        { "NoSuchKey", "no such object" },
        { "NoSuchBucket", "no such bucket" },
        { "NoSuchUpload", "no such multipart upload" },
        { "SlowDown", "the server asks to slow down" },
        { "InternalError", "internal server error" },
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(code, known[i].code) == 0)
            return known[i].text;
    }
    return "";
}

static void req_failed_final(igtcloud_transfer *t, req *r, int code, igtcloud__s3_error_body *xml,
                             const char *why)
{
    job *j = r->job;
    if (r->kind == RK_PARTS) {
        /* Part 1 stays unknown: the download is checked by its size, as without the HEAD. */
        igtcloud__engine_parts_answer(t, r, 0);
        return;
    }
    if (r->kind == RK_CHECKSUM) {
        /* No checksum to be had: as for an object without one. */
        igtcloud__engine_crc_answer(t, r, 0);
        return;
    }
    char what[1200];
    if (j->kind == JK_UPLOAD)
        snprintf(what, sizeof(what), "%s (from %s)", j->key, j->path);
    else
        snprintf(what, sizeof(what), "%s", j->key);
    if (xml->code[0] && !xml->message[0])
        snprintf(xml->message, sizeof(xml->message), "%s", explain(xml->code));
    const char *reqid = r->request_id[0] ? r->request_id : xml->request_id;
    char attempts[48] = "";
    if (r->attempt > 0)
        snprintf(attempts, sizeof(attempts), " after %u attempts", r->attempt + 1);
    if (xml->code[0])
        igtcloud__engine_job_error(j, code, r->status, xml->code, "%s %s: HTTP %ld %s%s%s%s%s%s%s", igtcloud__engine_op_name(r->kind),
                  what, r->status, xml->code, xml->message[0] ? " (" : "", xml->message,
                  xml->message[0] ? ")" : "", attempts, reqid[0] ? "; request id " : "", reqid);
    else if (r->status && !why)
        igtcloud__engine_job_error(j, code, r->status, NULL, "%s %s: HTTP %ld%s%s%s", igtcloud__engine_op_name(r->kind), what,
                  r->status, attempts, reqid[0] ? "; request id " : "", reqid);
    else
        igtcloud__engine_job_error(j, code, r->status, NULL, "%s %s: %s%s", igtcloud__engine_op_name(r->kind), what,
                  why ? why : "failed", attempts);
    snprintf(j->request_id, sizeof(j->request_id), "%s", reqid);
    if (r->kind == RK_GET && j->kind == JK_DOWNLOAD && !j->ranged)
        igtcloud__engine_discard_partial(j);
    if (r->kind == RK_GET && j->kind == JK_DOWNLOAD && code == IGTCLOUD_EPROTO)
        igtcloud__engine_discard_partial(j);
}

/*
 * CompleteMultipartUpload met NoSuchUpload: most likely an earlier attempt
 * completed the upload and only its answer was lost (curl itself resends a
 * request whose kept-alive connection closed, so this can be the request's
 * first attempt as the engine counts them). HEAD the key and accept the
 * object if its ETag is the one S3 derives from the parts sent, which no
 * other upload gives. Returns 1 when the HEAD took over, 0 to report the
 * error as it is.
 */
static int confirm_completed(igtcloud_transfer *t, req *r)
{
    job *j = r->job;
    if (igtcloud__wire_multipart_etag(j->confirm_etag, j->part_etags, j->nparts) != 0)
        return 0;
    req *head = igtcloud__engine_req_new(j, RK_HEAD, 0, 0, 0);
    if (!head)
        return 0;
    t->stats.completions_confirmed++;
    igtcloud__engine_req_retire(t, r);
    igtcloud__engine_enqueue(t, head, 0);
    igtcloud__engine_job_settle(t, j);
    return 1;
}

void igtcloud__engine_req_finished(igtcloud_transfer *t, req *r, CURLcode cc)
{
    job *j = r->job;
    igtcloud__s3_error_body xml;
    memset(&xml, 0, sizeof(xml));
    igtcloud__xfer_outcome outcome = igtcloud__retry_outcome_from_curl((int)cc);
    if (r->status)
        t->answered = 1;
    if (r->stalled)
        outcome = IGTCLOUD__XFER_TIMEOUT;
    if (r->local_error) {
        req_failed_final(t, r, r->local_status ? r->local_status : IGTCLOUD_EIO, &xml, r->local_msg);
        igtcloud__engine_req_retire(t, r);
        igtcloud__engine_job_settle(t, j);
        return;
    }
    if (r->proto_error) {
        /* A changed object restarts the download once; anything else is final. */
        if (j->kind == JK_DOWNLOAD && !j->restarted && strstr(r->local_msg, "changed")) {
            j->restarted = 1;
            igtcloud__engine_req_retire(t, r);
            if (j->pending == 0) {
                if (igtcloud__engine_download_fresh(t, j)) {
                    igtcloud__engine_job_error(j, igtcloud_error_last()->code, 0, NULL, "%s", igtcloud_error_last()->message);
                    igtcloud__engine_job_settle(t, j);
                }
            } else {
                igtcloud__engine_job_error(j, IGTCLOUD_EPROTO, 0, NULL, "download of %s: %s", j->key, "object changed during the download");
                igtcloud__engine_discard_partial(j);
                igtcloud__engine_job_settle(t, j);
            }
            return;
        }
        req_failed_final(t, r, IGTCLOUD_EPROTO, &xml, r->local_msg);
        igtcloud__engine_req_retire(t, r);
        igtcloud__engine_job_settle(t, j);
        return;
    }
    if (outcome == IGTCLOUD__XFER_OK && igtcloud__engine_ok_status(r->status)) {
        int s = on_success(t, r, &xml);
        if (s == 0) {
            igtcloud__retry_budget_success(&t->budget, r->cost);
            igtcloud__engine_req_retire(t, r);
            igtcloud__engine_job_settle(t, j);
            return;
        }
        if (s < 0) {
            int code = !r->local_error ? IGTCLOUD_EPROTO : r->local_status ? r->local_status : IGTCLOUD_EIO;
            req_failed_final(t, r, code, &xml,
                             r->local_msg[0] ? r->local_msg : "bad response");
            igtcloud__engine_req_retire(t, r);
            igtcloud__engine_job_settle(t, j);
            return;
        }
        /* s > 0: an error document in a 200; fall through to classify it. */
    } else if (outcome == IGTCLOUD__XFER_OK) {
        igtcloud__s3_xml_scan(&xml, r->body.ptr, r->body.size);
    }
    /* A ranged GET that failed after some bytes keeps them: the retry resumes. */
    if (r->kind == RK_GET && r->attempt_bytes > 0) {
        t->progress.bytes_done += r->attempt_bytes;
        t->stats.bytes_received += r->attempt_bytes;
    }
    if (r->kind == RK_GET && r->status == 412 && j->kind == JK_DOWNLOAD && !j->restarted) {
        /* If-Match failed: the object changed since the journal; start over once. */
        snprintf(r->local_msg, sizeof(r->local_msg), "object changed");
        r->proto_error = 1;
        igtcloud__engine_req_finished(t, r, CURLE_OK);
        return;
    }
    if (r->kind == RK_GET && r->status == 416 && j->kind == JK_DOWNLOAD && r->offset == 0 &&
        r->done == 0 && !j->ranged) {
        /* An empty object has no byte 0: it is complete as it is. */
        j->size = 0;
        j->size_known = 1;
        igtcloud__engine_download_finish(t, j);
        igtcloud__engine_req_retire(t, r);
        igtcloud__engine_job_settle(t, j);
        return;
    }
    if (r->kind == RK_LIST && r->status == 404) {
        /* The upload to resume is gone: restart it cleanly. */
        igtcloud__engine_req_retire(t, r);
        for (uint32_t i = 0; i < j->nparts; i++) {
            free(j->part_etags[i]);
            j->part_etags[i] = NULL;
        }
        j->parts_done = 0;
        free(j->upload_id);
        j->upload_id = NULL;
        req *c = igtcloud__engine_req_new(j, RK_CREATE, 0, 0, 0);
        if (c)
            igtcloud__engine_enqueue(t, c, 0);
        else
            igtcloud__engine_job_error(j, IGTCLOUD_ENOMEM, 0, NULL, "out of memory");
        igtcloud__engine_job_settle(t, j);
        return;
    }

    if (r->kind == RK_COMPLETE && r->status == 404 && strcmp(xml.code, "NoSuchUpload") == 0 &&
        confirm_completed(t, r))
        return;

    igtcloud__retry_kind kind = igtcloud__retry_classify(outcome, r->status, xml.code);
    const char *why = NULL;
    char why_buf[CURL_ERROR_SIZE + 32];
    if (outcome != IGTCLOUD__XFER_OK) {
        snprintf(why_buf, sizeof(why_buf), "%s", r->stalled ? "no progress (stalled)"
                                                 : r->curl_error[0] ? r->curl_error
                                                                    : curl_easy_strerror(cc));
        why = why_buf;
    }
    int code = outcome == IGTCLOUD__XFER_OK ? status_for_s3(r->status, xml.code)
                                            : status_for_outcome(outcome);
    if (t->cancel) {
        req_failed_final(t, r, IGTCLOUD_ECANCELLED, &xml, "cancelled");
        igtcloud__engine_req_retire(t, r);
        igtcloud__engine_job_settle(t, j);
        return;
    }
    if (kind == IGTCLOUD__RETRY_CREDENTIALS || kind == IGTCLOUD__RETRY_REGION) {
        int again = r->free_retries < MAX_FREE_RETRIES;
        if (kind == IGTCLOUD__RETRY_CREDENTIALS && r->cred) {
            igtcloud__cred_cache_expire(r->cred, r->cred_generation);
        } else if (kind == IGTCLOUD__RETRY_REGION) {
            const char *region = r->bucket_region[0] ? r->bucket_region : xml.region;
            const char *known = igtcloud__engine_find_region(t, r->bucket);
            again = again && igtcloud__endpoint_region_valid(region) &&
                    !(known && strcmp(known, region) == 0) && !t->endpoint &&
                    igtcloud__engine_remember_region(t, r->bucket, region) == 0;
        }
        if (again) {
            r->free_retries++;
            r->attempt++;
            igtcloud__engine_enqueue(t, r, 0);
            return;
        }
        req_failed_final(t, r, code, &xml, why);
        igtcloud__engine_req_retire(t, r);
        igtcloud__engine_job_settle(t, j);
        return;
    }
    if (kind != IGTCLOUD__RETRY_NO && j->failing && r->kind != RK_ABORT) {
        /* Another request of this file failed for good: do not insist. */
        igtcloud__engine_req_retire(t, r);
        igtcloud__engine_job_settle(t, j);
        return;
    }
    /* A server never reached in this run is likely the wrong one: say so in seconds. */
    unsigned int max_attempts = t->o.max_attempts;
    if (!t->answered && max_attempts > UNREACHED_MAX_ATTEMPTS &&
        (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
         cc == CURLE_COULDNT_RESOLVE_PROXY))
        max_attempts = UNREACHED_MAX_ATTEMPTS;
    int cost = -1;
    if (kind != IGTCLOUD__RETRY_NO && r->attempt + 1 < max_attempts)
        cost = igtcloud__retry_budget_take(&t->budget, kind);
    if (cost < 0) {
        if (kind != IGTCLOUD__RETRY_NO && r->attempt + 1 < max_attempts) {
            char msg[sizeof(why_buf) + 48];
            snprintf(msg, sizeof(msg), "%s; retry budget of the run exhausted",
                     why ? why : (xml.code[0] ? xml.code : "failed"));
            req_failed_final(t, r, code, &xml, xml.code[0] ? NULL : msg);
        } else {
            req_failed_final(t, r, code, &xml, why);
        }
        igtcloud__engine_req_retire(t, r);
        igtcloud__engine_job_settle(t, j);
        return;
    }
    r->cost += (unsigned int)cost;
    r->attempt++;
    t->progress.retries++;
    uint32_t wait = igtcloud__retry_backoff_ms(r->attempt, igtcloud__engine_next_random(t), t->o.backoff_base_ms,
                                               t->o.backoff_cap_ms);
    igtcloud__engine_enqueue(t, r, igtcloud__engine_mono_ms() + wait);
}
