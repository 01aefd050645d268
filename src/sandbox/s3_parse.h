#ifndef SANDBOX_S3_PARSE_H
#define SANDBOX_S3_PARSE_H

#include <stddef.h>

/*
 * Pure parsers of what an S3 request carries: the URI, the query string,
 * the Range header and the CompleteMultipartUpload body. They allocate
 * nothing per byte and are fuzzed by tests/fuzz/fuzz_sandbox_s3_request.c.
 */

/* The operations the endpoint knows, named as in the S3 API reference. */
typedef enum sandbox_s3_op {
    SANDBOX_S3_OP_UNKNOWN = 0,
    SANDBOX_S3_OP_LIST_BUCKETS,
    SANDBOX_S3_OP_HEAD_BUCKET,
    SANDBOX_S3_OP_LIST_OBJECTS_V2,
    SANDBOX_S3_OP_GET_OBJECT,
    SANDBOX_S3_OP_HEAD_OBJECT,
    SANDBOX_S3_OP_PUT_OBJECT,
    SANDBOX_S3_OP_DELETE_OBJECT,
    SANDBOX_S3_OP_CREATE_MULTIPART_UPLOAD,
    SANDBOX_S3_OP_UPLOAD_PART,
    SANDBOX_S3_OP_COMPLETE_MULTIPART_UPLOAD,
    SANDBOX_S3_OP_ABORT_MULTIPART_UPLOAD,
    SANDBOX_S3_OP_LIST_PARTS,
    SANDBOX_S3_OP_NOT_IMPLEMENTED,  /* a real S3 call this sandbox does not offer */
} sandbox_s3_op;

/* "GetObject", ...; "Unknown" for SANDBOX_S3_OP_UNKNOWN. */
const char *sandbox_s3_op_name(sandbox_s3_op op);

#define SANDBOX_S3_MAX_QUERY 48

/* Decoded query arguments; names and values point into `storage`. */
typedef struct sandbox_s3_query {
    size_t count;
    const char *names[SANDBOX_S3_MAX_QUERY];
    const char *values[SANDBOX_S3_MAX_QUERY];   /* "" for a bare name */
    char storage[8192];
} sandbox_s3_query;

/*
 * Split a raw request URI ("/bucket/key?query") into the decoded bucket
 * and key ("" when absent) and the raw query (points into `uri`, "" when
 * there is none). Returns 0, or -1 when the URI is malformed or too long.
 */
int sandbox_s3_uri_split(const char *uri, char *bucket, size_t bucket_size, char *key,
                         size_t key_size, const char **raw_query);

/* Parse a raw query string ("a=1&b"). Returns 0, or -1 when malformed. */
int sandbox_s3_query_parse(sandbox_s3_query *q, const char *raw);

/* The value of `name`, NULL when absent ("" when present without value). */
const char *sandbox_s3_query_get(const sandbox_s3_query *q, const char *name);

/* Which operation a request is, from its method, path and query. */
sandbox_s3_op sandbox_s3_classify(const char *method, const char *bucket, const char *key,
                                  const sandbox_s3_query *q, int has_copy_source);

typedef enum {
    SANDBOX_S3_RANGE_NONE = 0,          /* absent or ignored: serve the whole object */
    SANDBOX_S3_RANGE_OK = 1,            /* serve [*first, *last] with 206 */
    SANDBOX_S3_RANGE_UNSATISFIABLE = -1 /* 416 InvalidRange */
} sandbox_s3_range_result;

/*
 * Interpret a Range header for an object of `size` bytes as S3 does: one
 * "bytes=a-b", "bytes=a-" or "bytes=-n"; syntactically invalid or multiple
 * ranges are ignored; a first byte at or past the end is unsatisfiable.
 */
sandbox_s3_range_result sandbox_s3_parse_range(const char *header, unsigned long long size,
                                               unsigned long long *first,
                                               unsigned long long *last);

/* One <Part> of a CompleteMultipartUpload body. */
typedef struct sandbox_s3_part_ref {
    int number;
    char etag[72];      /* without quotes */
    char crc32c[24];    /* <ChecksumCRC32C> as given (trimmed, cut to fit), "" when absent */
} sandbox_s3_part_ref;

#define SANDBOX_S3_MAX_PARTS 10000

/*
 * Parse a CompleteMultipartUpload body. On success *out is a malloc'd array
 * of *count parts in document order (caller frees). Returns 0, or -1 for
 * malformed XML or part entries (MalformedXML).
 */
int sandbox_s3_parse_complete(sandbox_s3_part_ref **out, size_t *count, const char *xml,
                              size_t len);

/* Strip surrounding quotes (and a W/ prefix) of an ETag into out. */
void sandbox_s3_etag_unquote(char *out, size_t out_size, const char *etag);

#endif
