#ifndef IGTCLOUD_S3_ENGINE_INT_H
#define IGTCLOUD_S3_ENGINE_INT_H

/*
 * The transfer engine's shared state, between its files:
 *   engine.c          public API (igtcloud/transfer.h)
 *   engine_job.c      jobs and their requests
 *   engine_loop.c     the curl multi loop
 *   engine_request.c  building, signing and starting a request; curl callbacks
 *   engine_response.c what an attempt's outcome means; retries
 *   engine_download.c temporary file, journal, verification, rename
 *   engine_workers.c  worker threads: write-behind of downloads, their MD5 checks, upload digests
 *
 * Files ("jobs") are activated in queueing order while there is room for
 * their file descriptors; an active job produces requests (one PUT, or
 * CreateMultipartUpload + parts + Complete; one GET, or ranged GETs) that
 * are started while fewer than max_requests are in flight. Bodies go from
 * and to files with pread/pwrite at their offsets: no object is ever held in
 * memory (downloads pass through a bounded set of chunks on their way to the
 * file). Everything runs on the caller's thread except the workers.
 */

#include <curl/curl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/md5.h"
#include "s3/credentials.h"
#include "s3/engine.h"
#include "s3/engine_xml.h"
#include "s3/journal.h"
#include "s3/retry.h"
#include "s3/sigv4.h"
#include "s3/wire.h"

#define MIB ((uint64_t)1024 * 1024)
#define IO_BUF_SIZE (256 * 1024)
#define MAX_SMALL_BODY (1024 * 1024)
#define MAX_FREE_RETRIES 3
#define PROGRESS_INTERVAL_MS 50
#define VERIFY_THREADS 2
/* Attempts per request while no server has answered at all (a wrong or dead endpoint). */
#define UNREACHED_MAX_ATTEMPTS 3
#define WRITE_CHUNK (256 * 1024)   /* page-aligned pwrite of downloaded bytes (engine_workers.c) */
#define WRITE_SPARE_CHUNKS 8       /* chunks beyond one per request in flight */

enum job_kind { JK_UPLOAD = 1, JK_DOWNLOAD, JK_READ, JK_STAT, JK_ABORT };
enum job_state { JS_QUEUED = 0, JS_ACTIVE, JS_DONE };
/*
 * RK_PARTS: HEAD ?partNumber=1 of a download, to learn its part size (engine_parts.c).
 * RK_CHECKSUM: HEAD with x-amz-checksum-mode, for a ranged download's checksum (engine_crc.c).
 */
enum req_kind { RK_PUT = 1, RK_CREATE, RK_PART, RK_COMPLETE, RK_ABORT, RK_LIST, RK_GET, RK_HEAD,
                RK_PARTS, RK_CHECKSUM };
/* A download's check against a multipart ETag (engine_parts.c). */
enum parts_state { MP_UNASKED = 0, MP_ASKED, MP_KNOWN, MP_CONFIRMING, MP_NONE };
/*
 * A multipart download's check against the object's CRC32C (engine_crc.c):
 * not looked at yet, asked for (bytes are folded meanwhile), a composite or
 * full-object checksum to compare with, or none to be had.
 */
enum crc_state { CRC_UNSET = 0, CRC_PENDING, CRC_COMPOSITE, CRC_FULL, CRC_NONE };

typedef struct job job;
typedef struct req req;

/* The digests an upload body is sent with: which are wanted, then their values. */
typedef struct igtcloud__engine_digests {
    int want_md5, want_sha256, want_crc32c;
    unsigned char md5[16];
    char md5_b64[32];
    char sha256_hex[65];
    uint32_t crc32c;
} igtcloud__engine_digests;

struct job {
    int kind;
    int state;
    char *key;
    char *path;
    char *prefix;
    char *resume_upload_id;
    void *payload;
    int64_t expected;

    /* Result. */
    int status;
    int skipped;
    long http_status;
    char error_code[64];
    char request_id[128];
    char message[384];
    uint64_t size;
    int size_known;
    char etag[IGTCLOUD__ETAG_MAX + 1];
    int64_t last_modified;
    char *upload_id;

    int fd;
    size_t pending;       /* requests queued or in flight */
    int failing;          /* a final error is recorded; drain, then finish */
    int restarted;        /* a changed object restarted the download once */
    /* Complete met NoSuchUpload: a HEAD checks the object is ours. */
    char confirm_etag[IGTCLOUD__ETAG_MAX + 1];
    job *next_active;

    /* Upload. */
    uint64_t part_size;
    uint32_t nparts;
    uint32_t next_part;
    uint32_t parts_done;
    char **part_etags;
    uint32_t *part_crcs;  /* CRC32C of each part (crc_parts) */
    int crc_parts;        /* the upload was created with x-amz-checksum-algorithm CRC32C */
    int crc_full_object;  /* ... and type FULL_OBJECT by this run: Complete names the object's CRC32C */
    int listed_crc32c;    /* a resumed upload's ListParts names CRC32C as its algorithm */
    int listed_without_crc; /* a part it kept was listed without its CRC32C */
    int parts_ready;      /* the upload id is known and parts may start */
    int abort_sent;
    uint32_t list_marker;

    /* Download. */
    char *tmp_path;
    char *journal_path;
    int journal_fd;
    igtcloud__journal journal;
    int ranged;           /* ranges beyond the first are planned */
    uint32_t next_range;
    uint32_t *unjournaled; /* ranges on disk, not yet in the journal */
    uint32_t nunjournaled;
    /* The run's last ranges go in pieces (engine_job.c): */
    uint8_t *pieces_left; /* per range, pieces not back yet (0: whole; NULL until a cut) */
    uint32_t cut_pieces;  /* next_range goes in this many pieces (0: whole) ... */
    uint32_t cut_started; /* ... of which these have started */
    int64_t journal_synced_ms;
    int journal_sync;     /* sync ranges before journaling them (no boot id; journal.h) */
    int journal_absent;   /* no journal of this download on disk: nothing to unlink */
    igtcloud__md5_ctx *md5; /* MD5 of the bytes before md5_pos (see engine_workers.c) */
    uint64_t md5_pos;
    uint32_t md5_range;   /* ranges before it are done (and at most md5_pos away) */
    int md5_on_loop;      /* no workers: on_write hashes bytes arriving in order */
    /*
     * The object's full CRC32C (x-amz-checksum-crc32c of a whole GET, asked
     * for with x-amz-checksum-mode), and the CRC32C of the bytes before
     * crc32c_pos as they arrived: when both cover the object, that check
     * replaces the MD5's (a fraction of its CPU, and no reading back).
     */
    int crc32c_known;
    uint32_t crc32c_expected;
    uint32_t crc32c;
    uint64_t crc32c_pos;
    int md5_broken;       /* a prefix could not be hashed: the final check reads it all */
    /*
     * A multipart ETag is the MD5 of the parts' MD5s and their number: with
     * the part size (a HEAD of part 1), the in-order hashing ends each
     * part's digest at its boundary (engine_parts.c).
     */
    int mp_state;         /* enum parts_state */
    uint32_t mp_count;    /* parts, as the ETag says */
    uint32_t mp_rolled;   /* parts whose digest went into mp_outer ... */
    uint64_t mp_rolled_end; /* ... and the bytes they cover */
    uint64_t mp_part_size;  /* of every part but the last, as part 1 says ... */
    uint64_t *mp_sizes;   /* ... or every part's, learned one by one (MP_CONFIRMING) */
    uint32_t mp_confirm_left; /* HEADs of parts 2..N not answered yet */
    int mp_confirm_failed;
    igtcloud__md5_ctx *mp_outer;
    /* The object's CRC32C checksum, and the registers of its granules (engine_crc.c). */
    int crc_state;        /* enum crc_state */
    int crc_asked;        /* the HEAD for it is sent ... */
    uint32_t crc_generation; /* ... with this (a restart makes earlier answers stale) */
    uint32_t crc_expected; /* of the parts' CRC32Cs (composite), or of the object (full) */
    uint32_t *crc_gran;
    uint64_t crc_gran_size;
    unsigned char *crc_unfolded; /* ranges a resumed run found on disk, not yet summed */
    uint32_t crc_read_next; /* the first of them not handed to a worker yet */
    uint32_t crc_reading;   /* worker tasks reading them back */
    int finished;         /* download_finish ran (the verification may be pending) */
    int verifying;        /* a worker is computing the MD5 of the temporary file */

    /* Read into a caller buffer. */
    unsigned char *buf;
    size_t buf_len;
    size_t got;
};

struct req {
    req *next;
    job *job;
    igtcloud_transfer *transfer; /* for the curl callbacks; set as it starts */
    int kind;
    uint32_t index;
    uint64_t offset;
    uint64_t length;      /* body to send, or range to fetch (UINT64_MAX: to the end) */
    uint64_t done;        /* GET: bytes kept so far, over all attempts */
    int whole;            /* GET without Range at the first attempt */
    unsigned int attempt;
    unsigned int free_retries;
    unsigned int cost;
    int64_t not_before;

    CURL *easy;
    struct curl_slist *headers;
    igtcloud__cred_entry *cred;
    unsigned int cred_generation;
    char bucket[IGTCLOUD_S3_BUCKET_MAX + 1];

    /* Response of the current attempt. */
    long status;
    char etag[IGTCLOUD__ETAG_MAX + 1];
    char request_id[128];
    char bucket_region[64];
    char content_range[96];
    char last_modified[64];
    char checksum_crc32c[24];  /* "base64-N" for a composite */
    uint32_t parts_count; /* x-amz-mp-parts-count, 0 when absent */
    int has_length;
    uint64_t content_length;
    igtcloud__buf body;
    uint64_t attempt_bytes;
    int checked;
    int learned_total;    /* the response told the object size first */
    int local_error;
    int local_status;     /* with local_error: IGTCLOUD_EIO, or ENOSPACE when the disk is full */
    int proto_error;
    int stalled;
    char local_msg[256];
    char curl_error[CURL_ERROR_SIZE]; /* curl's detail of a failed attempt ("Failed to connect to ...") */

    /* Request body, and its digests once computed (they survive retries). */
    igtcloud__engine_digests digests;
    int digests_ready;
    igtcloud__buf send_body;
    uint64_t send_pos;

    int64_t last_progress;
    curl_off_t seen_dl, seen_ul;

    /* Write-behind (engine_workers.c): received bytes not yet in the file. */
    unsigned char *wbuf;  /* the chunk being filled; its first byte belongs at wpos */
    size_t wlen;
    uint64_t wpos;
    size_t writes_pending; /* chunks handed to workers and not collected */
    int parked;           /* over on the wire; its outcome counts once its chunks are written */
    CURLcode parked_cc;
};

typedef struct verify_pool verify_pool;

struct region_memo {
    char bucket[IGTCLOUD_S3_BUCKET_MAX + 1];
    char region[IGTCLOUD_S3_REGION_MAX + 1];
};

struct igtcloud_transfer {
    igtcloud_transfer_options o;
    char *endpoint;
    char *region;
    char *ca_file;
    char *env_endpoint_s3;
    char *env_endpoint;
    char *env_region;
    igtcloud_s3_credentials *fixed;

    CURLM *multi;
    CURL **pool;
    size_t npool;

    job **jobs;
    size_t njobs, ajobs;
    job **list;           /* the jobs of the current loop */
    size_t nlist, cursor;
    size_t list_first;    /* list == jobs + list_first while a run may be fed */
    igtcloud_transfer_multipart_cb multipart_cb;
    void *multipart_payload;
    igtcloud__transfer_feed_fn feed;
    void *feed_payload;
    int feeding;          /* the feeder may still queue files in this run */
    /*
     * Retiring (igtcloud__transfer_set_retire): finished jobs are freed as
     * the feeder adds more, so a fed run of any size holds a bounded number.
     * What run() reports about them is kept here.
     */
    int retire;
    size_t ndone_unretired;  /* jobs finished since the last retirement (a trigger) */
    size_t run_retired;      /* jobs of this run retired, and of them failed */
    size_t run_retired_failed;
    long retired_fail_http;  /* the first failed retired job of this run */
    char retired_fail_request_id[128];
    char retired_fail_message[384];
    job *active_head;
    size_t nactive;
    size_t max_active;

    req *ready_head;
    req **inflight;
    size_t ninflight;

    igtcloud__cred_cache creds;
    igtcloud__retry_budget budget;
    int answered;         /* some S3 server answered a request of this transfer */
    struct region_memo *regions;
    size_t nregions;

    char boot_id[IGTCLOUD__JOURNAL_BOOT_MAX + 1]; /* read once; "" when unknown (journal.h) */

    volatile sig_atomic_t cancel;
    uint64_t rng;
    unsigned char *io_buf;

    verify_pool *verify;  /* NULL until needed, or when threads cannot start */
    int verify_failed;    /* the pool could not start: verify on the loop */
    size_t nverifying;    /* worker tasks handed out and not yet collected */
    size_t nwriting;      /* of which: chunks of downloads being written */
    size_t nparked;       /* requests over on the wire, waiting for their chunks: still in flight */
    size_t ndigesting;    /* of which: upload bodies being hashed before they start */

    igtcloud_transfer_progress progress;
    int64_t last_progress_cb;
    igtcloud__engine_stats stats;
};



void igtcloud__engine_job_error(job *j, int code, long http, const char *s3_code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void igtcloud__engine_close_fd(int *fd);
void igtcloud__engine_job_free(job *j);
void igtcloud__engine_job_result(igtcloud_transfer_result *out, const job *j);
void igtcloud__engine_job_done(igtcloud_transfer *t, job *j);
req *igtcloud__engine_req_new(job *j, int kind, uint32_t index, uint64_t offset, uint64_t length);
void igtcloud__engine_enqueue(igtcloud_transfer *t, req *r, int64_t not_before);
void igtcloud__engine_req_retire(igtcloud_transfer *t, req *r);
int igtcloud__engine_job_start(igtcloud_transfer *t, job *j);
req *igtcloud__engine_job_next(igtcloud_transfer *t, job *j);
void igtcloud__engine_pieces_reset(job *j);
int igtcloud__engine_piece_back(job *j, const req *r);
void igtcloud__engine_job_settle(igtcloud_transfer *t, job *j);
/* Free the finished jobs of a retiring transfer, keeping the order of the others. */
void igtcloud__engine_retire_done(igtcloud_transfer *t);

int64_t igtcloud__engine_mono_ms(void);
int64_t igtcloud__engine_wall_s(igtcloud_transfer *t);
uint32_t igtcloud__engine_next_random(igtcloud_transfer *t);
void igtcloud__engine_remove_inflight(igtcloud_transfer *t, req *r);
int igtcloud__engine_loop(igtcloud_transfer *t, job **list, size_t n);

int igtcloud__engine_ok_status(long s);
int igtcloud__engine_check_get(igtcloud_transfer *t, req *r);
void igtcloud__engine_digests_wanted(igtcloud__engine_digests *out, const igtcloud_transfer *t,
                                     const req *r);
int igtcloud__engine_digests_set_md5(igtcloud__engine_digests *d, igtcloud__md5_ctx *md5);
int igtcloud__engine_digests_of(igtcloud__engine_digests *d, int fd, uint64_t offset,
                                uint64_t len, unsigned char *buf);
const char *igtcloud__engine_find_region(igtcloud_transfer *t, const char *bucket);
int igtcloud__engine_remember_region(igtcloud_transfer *t, const char *bucket, const char *region);
void igtcloud__engine_give_easy(igtcloud_transfer *t, CURL *e);
int igtcloud__engine_req_start(igtcloud_transfer *t, req *r);

const char *igtcloud__engine_op_name(int kind);
void igtcloud__engine_req_finished(igtcloud_transfer *t, req *r, CURLcode cc);

void igtcloud__engine_discard_partial(job *j);
/* IGTCLOUD_ENOSPACE when errno `err` says the disk (or the file size limit) is full, else IGTCLOUD_EIO. */
int igtcloud__engine_write_status(int err);
void igtcloud__engine_download_finish(igtcloud_transfer *t, job *j);
void igtcloud__engine_download_verified(igtcloud_transfer *t, job *j, int v);
int igtcloud__engine_download_fresh(igtcloud_transfer *t, job *j);
int igtcloud__engine_journal_flush(job *j, int force);
int igtcloud__engine_download_plan_ranges(igtcloud_transfer *t, job *j);
int igtcloud__engine_download_start(igtcloud_transfer *t, job *j);

void igtcloud__engine_verify_stop(igtcloud_transfer *t);
int igtcloud__engine_verify_submit(igtcloud_transfer *t, job *j);
/* Hand the bytes from j's digest position to `to` to a worker; -1 when it must be done here. */
int igtcloud__engine_verify_submit_prefix(igtcloud_transfer *t, job *j, uint64_t to);
void igtcloud__engine_verify_collect(igtcloud_transfer *t, int block);
void igtcloud__engine_verify_advance(igtcloud_transfer *t, job *j);
int igtcloud__engine_verify_here(igtcloud_transfer *t, job *j);
int igtcloud__engine_digests_submit(igtcloud_transfer *t, req *r);
/* Bytes of a GET for [at, at + n) of r's file: 0, or -1 with r->local_error set. */
int igtcloud__engine_write_received(igtcloud_transfer *t, req *r, const char *data, size_t n,
                                    uint64_t at);
/* curl is done with r: 1 when its outcome must wait for its chunks (collect finishes it). */
int igtcloud__engine_writes_park(igtcloud_transfer *t, req *r, CURLcode cc);
void igtcloud__engine_write_release(igtcloud_transfer *t, req *r);

/*
 * Multipart ETags (engine_parts.c), with o.verify_multipart. wanted: j is a
 * download whose ETag is a multipart one not given up on. ask: HEAD its part 1 once. answer: a HEAD
 * of a part came back (ok) or failed for good.
 * boundary: where the part the in-order digest is in ends. roll: end the digest of
 * each part the hashing reached the end of. check: the download is complete
 * on disk: hash what is left and compare, or wait; it calls
 * igtcloud__engine_download_verified once. reset: forget it all (a restart).
 */
int igtcloud__engine_parts_wanted(const igtcloud_transfer *t, const job *j);
/* wanted, for the multipart ETag's MD5 (o.verify_multipart, and no CRC32C to check instead). */
int igtcloud__engine_parts_md5_wanted(const igtcloud_transfer *t, const job *j);
/* The size of part k (from 0), as learned or as assumed from part 1's. */
uint64_t igtcloud__engine_parts_size(const job *j, uint32_t k);
void igtcloud__engine_parts_ask(igtcloud_transfer *t, job *j);
void igtcloud__engine_parts_answer(igtcloud_transfer *t, const req *r, int ok);
uint64_t igtcloud__engine_parts_boundary(const job *j);
void igtcloud__engine_parts_roll(job *j);
void igtcloud__engine_parts_check(igtcloud_transfer *t, job *j);
void igtcloud__engine_parts_reset(job *j);

/*
 * CRC32C checks of multipart downloads (engine_crc.c). begin: the first
 * answer of a GET of j came (its headers checked): start folding when the
 * object may have a checksum (and hand what a resumed run kept to the
 * workers: read_ahead). resumed: j resumes from its journal. ask: HEAD
 * the checksum once, when a ranged GET could not carry it. answer: that HEAD
 * came back (ok) or failed for good. fold: bytes [at, at + n) are written
 * (write-behind chunks are summed by the workers that write them).
 * conclude: every byte is on disk: 0 when they make the checksum, 1 when
 * not, < 0 with an error set. reset: forget it all.
 */
void igtcloud__engine_crc_begin(igtcloud_transfer *t, job *j, const req *r);
void igtcloud__engine_crc_resumed(job *j);
void igtcloud__engine_crc_ask(igtcloud_transfer *t, job *j);
void igtcloud__engine_crc_answer(igtcloud_transfer *t, const req *r, int ok);
void igtcloud__engine_crc_fold(job *j, uint64_t at, const void *data, size_t n);
/*
 * Bytes [from, to) summed elsewhere (a worker writing them): split is where
 * the first granule boundary past `from` cuts them (or `to`); the worker
 * gives the registers of both sides, folded in only if j was not restarted
 * since (generation).
 */
uint64_t igtcloud__engine_crc_split(const job *j, uint64_t from, uint64_t to);
void igtcloud__engine_crc_fold_pieces(job *j, uint32_t generation, uint64_t from, uint64_t split,
                                      uint64_t to, const uint32_t raw[2]);
int igtcloud__engine_crc_conclude(igtcloud_transfer *t, job *j);
void igtcloud__engine_crc_reset(job *j);
/*
 * Ranges a resumed run found on disk are read back by workers while the rest
 * arrives (read_ahead hands out a few at a time). read_raw: the raw CRC32C
 * register of fd's bytes [from, to), read through buf (0, or -errno).
 * read_submit (engine_workers.c): a worker sums [from, to) granule by
 * granule; -1 when none can. read_done: its registers are back (result 0),
 * or the read failed (result < 0: those ranges are read again as the
 * download concludes, which reports it).
 */
void igtcloud__engine_crc_read_ahead(igtcloud_transfer *t, job *j);
int igtcloud__engine_crc_read_raw(int fd, uint64_t from, uint64_t to, unsigned char *buf,
                                  size_t buf_size, uint32_t *reg);
int igtcloud__engine_crc_read_submit(igtcloud_transfer *t, job *j, uint64_t from, uint64_t to);
void igtcloud__engine_crc_read_done(igtcloud_transfer *t, job *j, uint32_t generation, uint64_t from,
                                    uint64_t to, const uint32_t *regs, int result);

#endif
