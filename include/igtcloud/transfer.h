#ifndef IGTCLOUD_TRANSFER_H
#define IGTCLOUD_TRANSFER_H

/**
 * @file igtcloud/transfer.h
 * @brief The transfer engine: every upload and download of a run moves its
 *        bytes through one object of this module.
 *
 * A transfer holds one HTTP multi handle with a global bound on requests in
 * flight, one credentials cache shared by every file, and a queue of files.
 * Queue files with igtcloud_transfer_add_upload() and
 * igtcloud_transfer_add_download(), then call igtcloud_transfer_run(). Large
 * files are split (multipart upload, parallel ranged GETs); small ones are
 * pipelined many at a time. A download is written to a temporary name in the
 * target folder and renamed only after its size (and MD5, where the ETag is
 * one) is verified; an interrupted download resumes from its temporary file.
 *
 * A transfer object is used by one thread at a time; only
 * igtcloud_transfer_cancel() may be called from another thread or a signal
 * handler.
 */

#include <stddef.h>
#include <stdint.h>

#include "igtcloud/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A run of transfers (opaque). */
typedef struct igtcloud_transfer igtcloud_transfer;

/** Largest lengths of the credential fields, NUL excluded. */
#define IGTCLOUD_S3_KEY_MAX 255
#define IGTCLOUD_S3_TOKEN_MAX 8191
#define IGTCLOUD_S3_BUCKET_MAX 255
#define IGTCLOUD_S3_URL_MAX 511
#define IGTCLOUD_S3_REGION_MAX 63

/**
 * Temporary S3 credentials as `GET /api/auth/s3credentials` hands them out.
 * Fixed-size fields, so a provider fills a struct the engine owns.
 */
typedef struct igtcloud_s3_credentials {
    char access_key[IGTCLOUD_S3_KEY_MAX + 1];
    char secret_key[IGTCLOUD_S3_KEY_MAX + 1];
    char session_token[IGTCLOUD_S3_TOKEN_MAX + 1]; /**< "" for long-term keys. */
    char bucket[IGTCLOUD_S3_BUCKET_MAX + 1];
    char endpoint[IGTCLOUD_S3_URL_MAX + 1];   /**< Sandbox extension; "" on AWS. */
    char region[IGTCLOUD_S3_REGION_MAX + 1];  /**< Sandbox extension; "" on AWS. */
    int64_t expires;                          /**< Epoch seconds (UTC); 0: never. */
} igtcloud_s3_credentials;

/**
 * Fill `out` from the JSON body of `GET /api/auth/s3credentials`
 * (`policyCredentials[0].credentials`; `expires` is ISO-8601 in UTC, with or
 * without a zone).
 *
 * @param[out] out  the credentials; set only on success.
 * @param json      the response body (need not be NUL-terminated).
 * @param len       its length in bytes.
 * @return 0, IGTCLOUD_EPROTO when a field is missing, malformed or too long.
 */
IGTCLOUD_EXTERN int igtcloud_s3_credentials_from_json(igtcloud_s3_credentials *out,
                                                      const char *json, size_t len);

/**
 * Where credentials come from: called when the engine has none for
 * (action, prefix) or when they are about to expire or were refused as
 * expired. It may block (it is called from the engine's loop).
 *
 * @param[out] out  fill every field that applies; the engine owns the struct.
 * @param action    "GET" or "PUT".
 * @param prefix    the S3 prefix the credentials must cover.
 * @param payload   the caller's pointer from the options.
 * @return 0, or a negative igtcloud_status with the error set; every file
 *         that needs these credentials then fails with it.
 */
typedef int (*igtcloud_transfer_credentials_cb)(igtcloud_s3_credentials *out,
                                                const char *action, const char *prefix,
                                                void *payload);

/** What the engine reports as it goes. Cheap to produce; read-only. */
typedef struct igtcloud_transfer_progress {
    uint64_t bytes_done;      /**< Bytes moved and kept (retried bytes count once). */
    uint64_t bytes_total;     /**< Bytes of the files known so far. */
    size_t files_done;        /**< Files finished, successfully or not. */
    size_t files_failed;
    size_t files_total;
    size_t requests_in_flight;
    size_t retries;           /**< Requests retried so far. */
} igtcloud_transfer_progress;

/**
 * Progress callback: called often (at most every few milliseconds) from the
 * engine's loop. Return non-zero to cancel the run (as igtcloud_transfer_cancel).
 */
typedef int (*igtcloud_transfer_progress_cb)(const igtcloud_transfer_progress *progress,
                                             void *payload);

/** Direction of one queued file. */
typedef enum {
    IGTCLOUD_TRANSFER_UPLOAD = 1,
    IGTCLOUD_TRANSFER_DOWNLOAD = 2
} igtcloud_transfer_direction;

/** The outcome of one file; every pointer is borrowed from the transfer. */
typedef struct igtcloud_transfer_result {
    igtcloud_transfer_direction direction;
    const char *key;          /**< The S3 key. */
    const char *path;         /**< The local file. */
    int status;               /**< 0 or a negative igtcloud_status. */
    int skipped;              /**< 1 when nothing had to move (already complete). */
    int http_status;          /**< Of the final failing response, else 0. */
    const char *error_code;   /**< S3 error code ("AccessDenied"), else "". */
    const char *request_id;   /**< x-amz-request-id of the failure, else "". */
    const char *message;      /**< One line; "" on success. */
    uint64_t size;            /**< Object size in bytes (when known). */
    const char *etag;         /**< ETag without quotes, else "". */
    int64_t last_modified;    /**< Epoch seconds from Last-Modified, else 0. */
    const char *upload_id;    /**< Multipart upload id (uploads), else "". */
    void *payload;            /**< The item's payload given when queued. */
} igtcloud_transfer_result;

/**
 * Called once per file as soon as it is finished (successfully, skipped or
 * failed), from the engine's loop. Return non-zero to cancel the run.
 */
typedef int (*igtcloud_transfer_file_cb)(const igtcloud_transfer_result *result,
                                         void *payload);

/** Clock for credentials expiry: epoch milliseconds. Injected by tests. */
typedef int64_t (*igtcloud_transfer_clock_cb)(void *payload);

/** Randomness for backoff jitter: a value in [0, 2^32). Injected by tests. */
typedef uint32_t (*igtcloud_transfer_random_cb)(void *payload);

/** Integrity header sent with every request body. */
typedef enum {
    /** Content-MD5: every S3 implementation verifies it; costs MD5's CPU. */
    IGTCLOUD_CHECKSUM_MD5 = 0,
    IGTCLOUD_CHECKSUM_SHA256 = 1,  /**< Signed payload SHA-256 (x-amz-content-sha256). */
    /**
     * The default of IGTCLOUD_TRANSFER_OPTIONS_INIT (as AWS SDKs default to a
     * CRC since 2025): x-amz-checksum-crc32c instead of Content-MD5 on object
     * and part bodies (multipart uploads are created with
     * x-amz-checksum-algorithm CRC32C and x-amz-checksum-type FULL_OBJECT,
     * and completed with each part's checksum and the whole object's, joined
     * from the parts'; a resumed upload goes on as ListParts says it was
     * created, or with Content-MD5). Many times cheaper to
     * compute than MD5 (SSE 4.2). S3 and the sandbox verify it; servers that
     * predate S3's additional checksums (Ceph RGW 16, Debian 12's) accept the
     * header without checking it: use MD5 where such a server must verify.
     */
    IGTCLOUD_CHECKSUM_CRC32C = 2
} igtcloud_transfer_checksum;

/** Settings of a transfer. Initialise with IGTCLOUD_TRANSFER_OPTIONS_INIT. */
typedef struct igtcloud_transfer_options {
    unsigned int version;
    /** Credentials provider (required unless `credentials` is set). */
    igtcloud_transfer_credentials_cb credentials_cb;
    void *credentials_payload;
    /** Fixed credentials used for every prefix when no provider is given. */
    const igtcloud_s3_credentials *credentials;
    /**
     * S3 endpoint URL (`--s3-endpoint`); NULL: AWS_ENDPOINT_URL_S3, then
     * AWS_ENDPOINT_URL, then the credentials' endpoint, else AWS
     * (virtual-hosted, region discovered). Custom endpoints use path style.
     */
    const char *endpoint;
    /** Signing region; NULL: the credentials' region, AWS_REGION, us-east-1. */
    const char *region;
    /** Requests in flight at once for the whole run; 0: 16 (see max_open_files). */
    unsigned int max_requests;
    /**
     * Files open at once (an active download holds two descriptors); 0: a
     * quarter of `ulimit -n`, at most 256. The engine keeps its descriptors
     * (files, a connection per request in flight, the worker threads'
     * duplicates) within three quarters of `ulimit -n`: larger values of
     * this and of max_requests are lowered to fit.
     */
    unsigned int max_open_files;
    /** Uploads larger than this use multipart; 0: 16 MiB. */
    uint64_t multipart_threshold;
    /** Smallest multipart part (grown to stay under 10,000 parts); 0: 8 MiB. */
    uint64_t part_size;
    /** Downloads larger than this use parallel ranged GETs; 0: 16 MiB. */
    uint64_t range_threshold;
    /** Size of one ranged GET; 0: 8 MiB. */
    uint64_t range_size;
    /**
     * Attempts per request (first included); 0: 10. While no server has
     * answered any request of the transfer, a connection that cannot be made
     * (refused, unknown host) is tried at most 3 times: a wrong or dead
     * endpoint fails in seconds, not minutes.
     */
    unsigned int max_attempts;
    /** Full-jitter backoff: base and cap in milliseconds; 0: 1000 and 20000. */
    unsigned int backoff_base_ms;
    unsigned int backoff_cap_ms;
    /** Retry budget of the run in tokens (AWS standard: 500); 0: 500. */
    unsigned int retry_budget;
    /** Abort a request that makes no progress for this long; 0: 30000 ms. */
    unsigned int stall_timeout_ms;
    /** Connect timeout in milliseconds; 0: 10000. */
    unsigned int connect_timeout_ms;
    /** Integrity header of request bodies. */
    igtcloud_transfer_checksum checksum;
    /** Send `x-amz-server-side-encryption: AES256` on uploads (default 1). */
    int server_side_encryption;
    /** PEM bundle to trust instead of the system's; NULL: system. */
    const char *ca_file;
    igtcloud_transfer_progress_cb progress_cb;
    void *progress_payload;
    igtcloud_transfer_file_cb file_cb;
    void *file_payload;
    igtcloud_transfer_clock_cb clock_cb;   /**< NULL: the system clock. */
    void *clock_payload;
    igtcloud_transfer_random_cb random_cb; /**< NULL: a fast PRNG. */
    void *random_payload;
    /**
     * Version 2: check downloads of multipart objects that carry no CRC32C
     * checksum part by part against their multipart ETag (the MD5 of the
     * parts' MD5s): one HEAD ?partNumber=1 learns the part size, and every
     * byte is hashed with MD5 (about 1.5 ns a byte of CPU). 0 (default):
     * such objects are checked by their size, as objects whose ETag is not
     * an MD5 are. Whatever this says, a multipart object with a CRC32C
     * checksum (composite "...-N" or full-object, as uploads with
     * IGTCLOUD_CHECKSUM_CRC32C leave) is checked against it: one HEAD asks
     * for it when the download is ranged, the bytes are summed as they
     * arrive (a few percent of one core). Servers that ignore partNumber
     * (Ceph RGW 16) leave multipart objects checked by their size.
     */
    int verify_multipart;
} igtcloud_transfer_options;

/** Current version of igtcloud_transfer_options. Version 1 (without `verify_multipart`) is still accepted. */
#define IGTCLOUD_TRANSFER_OPTIONS_VERSION 2
#define IGTCLOUD_TRANSFER_OPTIONS_INIT \
    { IGTCLOUD_TRANSFER_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, \
      0, 0, 0, 0, 0, 0, 0, 0, IGTCLOUD_CHECKSUM_CRC32C, 1, NULL, NULL, NULL, NULL, NULL, \
      NULL, NULL, NULL, NULL, 0 }

/**
 * Initialise an options struct (same as IGTCLOUD_TRANSFER_OPTIONS_INIT).
 *
 * @return 0, or IGTCLOUD_EINVALID for an unknown version.
 */
IGTCLOUD_EXTERN int igtcloud_transfer_options_init(igtcloud_transfer_options *opts,
                                                   unsigned int version);

/**
 * Create a transfer. igtcloud_global_init() must have been called.
 *
 * @param[out] out  the transfer; the caller frees it with igtcloud_transfer_free().
 * @param opts      settings (copied; strings are copied too).
 * @return 0, IGTCLOUD_EINVALID (bad options), IGTCLOUD_ENOMEM.
 */
IGTCLOUD_EXTERN int igtcloud_transfer_new(igtcloud_transfer **out,
                                          const igtcloud_transfer_options *opts);

/** Free a transfer and everything it owns; NULL is a no-op. */
IGTCLOUD_EXTERN void igtcloud_transfer_free(igtcloud_transfer *t);

/**
 * Queue the upload of a local file to `key`.
 *
 * @param t          the transfer.
 * @param path       the local file (copied).
 * @param key        the full S3 key (copied).
 * @param prefix     the S3 prefix to ask PUT credentials for (copied).
 * @param upload_id  a multipart upload of this key to resume, or NULL; parts
 *                   already there (ListParts) with the MD5 of the local part
 *                   are kept, otherwise the upload restarts cleanly.
 * @param payload    returned in the file's result.
 * @return 0, IGTCLOUD_EINVALID, IGTCLOUD_ENOMEM.
 */
IGTCLOUD_EXTERN int igtcloud_transfer_add_upload(igtcloud_transfer *t, const char *path,
                                                 const char *key, const char *prefix,
                                                 const char *upload_id, void *payload);

/**
 * Queue the download of `key` to the local file `path`. The folder of path
 * must exist. A file already at `path` with `expected_size` bytes is
 * complete and is not fetched again.
 *
 * @param t              the transfer.
 * @param key            the full S3 key (copied).
 * @param path           the final local name (copied).
 * @param prefix         the S3 prefix to ask GET credentials for (copied).
 * @param expected_size  the size the caller knows (e.g. the API's fileSize),
 *                       or -1 when unknown; a different size on the server
 *                       fails the file with IGTCLOUD_EPROTO.
 * @param payload        returned in the file's result.
 * @return 0, IGTCLOUD_EINVALID, IGTCLOUD_ENOMEM.
 */
IGTCLOUD_EXTERN int igtcloud_transfer_add_download(igtcloud_transfer *t, const char *key,
                                                   const char *path, const char *prefix,
                                                   int64_t expected_size, void *payload);

/**
 * Move every queued file. Returns when each has succeeded, been skipped or
 * failed (after its retries), or when the run is cancelled. Files queued
 * afterwards are moved by the next call.
 *
 * @return 0 when every file succeeded or was skipped; IGTCLOUD_EPARTIAL when
 *         some failed (see igtcloud_transfer_result_at()); IGTCLOUD_ECANCELLED;
 *         or another negative status when the run could not start. The last
 *         error then names the first failing file.
 */
IGTCLOUD_EXTERN int igtcloud_transfer_run(igtcloud_transfer *t);

/** Number of files queued so far (finished or not). */
IGTCLOUD_EXTERN size_t igtcloud_transfer_count(const igtcloud_transfer *t);

/**
 * The result of the file queued at `index` (0-based, in queueing order).
 *
 * @param[out] out  filled with pointers borrowed from t, valid until t is freed.
 * @return 0, or IGTCLOUD_EINVALID for an index out of range.
 */
IGTCLOUD_EXTERN int igtcloud_transfer_result_at(igtcloud_transfer_result *out,
                                                const igtcloud_transfer *t, size_t index);

/**
 * Called from the engine's loop when a multipart upload has been created,
 * before any of its parts is sent: `result->upload_id` is its id (the other
 * fields are as in a running file's result). Record it to resume the upload
 * (igtcloud_transfer_add_upload()) or abort it
 * (igtcloud_transfer_abort_upload()) after a crash. Return non-zero to
 * cancel the run.
 */
typedef int (*igtcloud_transfer_multipart_cb)(const igtcloud_transfer_result *result,
                                              void *payload);

/** Set (or clear, with NULL) the callback for created multipart uploads. */
IGTCLOUD_EXTERN void igtcloud_transfer_on_multipart_created(igtcloud_transfer *t,
                                                            igtcloud_transfer_multipart_cb cb,
                                                            void *payload);

/**
 * Abort the multipart upload `upload_id` of `key` (AbortMultipartUpload),
 * through the engine (retries included), so its parts stop taking space.
 *
 * @param t          the transfer (not running).
 * @param key        the full S3 key.
 * @param prefix     the S3 prefix to ask PUT credentials for.
 * @param upload_id  the upload to abort.
 * @return 0 when it is aborted or was already gone (NoSuchUpload);
 *         IGTCLOUD_EAUTH, IGTCLOUD_EPERM, IGTCLOUD_ENET, ... with the error set.
 */
IGTCLOUD_EXTERN int igtcloud_transfer_abort_upload(igtcloud_transfer *t, const char *key,
                                                   const char *prefix, const char *upload_id);

/**
 * Ask the running igtcloud_transfer_run() to stop soon; it returns
 * IGTCLOUD_ECANCELLED. Safe from another thread and from a signal handler.
 * Ranged downloads keep their temporary file and journal, and multipart
 * uploads are left open (not aborted; their upload_id is in the result), so
 * a later run resumes both.
 */
IGTCLOUD_EXTERN void igtcloud_transfer_cancel(igtcloud_transfer *t);

/**
 * Read up to `len` bytes of `key` starting at `offset` into `buf`, through
 * the engine (retries included). Reading past the end returns fewer bytes.
 *
 * @param[out] out_read  bytes stored in buf.
 * @param t              the transfer (not running).
 * @param key            the full S3 key.
 * @param prefix         the S3 prefix to ask GET credentials for.
 * @param offset         first byte to read.
 * @param buf            caller's buffer of at least len bytes.
 * @param len            bytes wanted.
 * @return 0, IGTCLOUD_ENOTFOUND, IGTCLOUD_EAUTH, IGTCLOUD_ENET, ... with the
 *         error set (HTTP status and request id included).
 */
IGTCLOUD_EXTERN int igtcloud_transfer_read(size_t *out_read, igtcloud_transfer *t,
                                           const char *key, const char *prefix,
                                           uint64_t offset, void *buf, size_t len);

/**
 * Size, ETag and Last-Modified of `key` (HEAD), through the engine.
 *
 * @param[out] out_size           object size in bytes (may be NULL).
 * @param[out] out_last_modified  epoch seconds (may be NULL).
 * @param t       the transfer (not running).
 * @param key     the full S3 key.
 * @param prefix  the S3 prefix to ask GET credentials for.
 * @return 0, IGTCLOUD_ENOTFOUND, IGTCLOUD_EAUTH, ...
 */
IGTCLOUD_EXTERN int igtcloud_transfer_stat(uint64_t *out_size, int64_t *out_last_modified,
                                           igtcloud_transfer *t, const char *key,
                                           const char *prefix);

#ifdef __cplusplus
}
#endif

#endif
