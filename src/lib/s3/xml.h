#ifndef IGTCLOUD_S3_XML_H
#define IGTCLOUD_S3_XML_H

/*
 * The S3 XML the client reads, parsed with expat into plain structs, and the
 * few writers the client and the sandbox need. Parsers refuse DOCTYPEs,
 * nesting deeper than S3 ever uses, over-long text and absurd element counts
 * with EPROTO. A document whose root is <Error> given to any parser other
 * than igtcloud__xml_parse_error gives EPROTO with the S3 code and message
 * (CompleteMultipartUpload can answer 200 with an error body).
 *
 * Every struct is initialised with its _INIT macro (or zeroed) and released
 * with its _dispose function; strings are owned, NUL-terminated UTF-8, and
 * NULL when the element was absent. Outputs are set only on success.
 */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

#define IGTCLOUD_XML_MAX_DOCUMENT (16u * 1024u * 1024u)
#define IGTCLOUD_XML_MAX_TEXT (64u * 1024u)     /* text of one element */
#define IGTCLOUD_XML_MAX_DEPTH 16
#define IGTCLOUD_XML_MAX_ITEMS 10000            /* parts, objects or prefixes per page */
#define IGTCLOUD_XML_MAX_PART_NUMBER 10000

/* <Error> */
typedef struct igtcloud__xml_error {
    char *code;        /* required */
    char *message;
    char *request_id;
    char *host_id;
    char *region;      /* AuthorizationHeaderMalformed and redirects */
    char *endpoint;    /* PermanentRedirect */
} igtcloud__xml_error;

#define IGTCLOUD__XML_ERROR_INIT { NULL, NULL, NULL, NULL, NULL, NULL }

int igtcloud__xml_parse_error(igtcloud__xml_error *out, const char *data, size_t len);
void igtcloud__xml_error_dispose(igtcloud__xml_error *err);

/* <InitiateMultipartUploadResult> */
typedef struct igtcloud__xml_initiate {
    char *bucket;
    char *key;
    char *upload_id;   /* required */
} igtcloud__xml_initiate;

#define IGTCLOUD__XML_INITIATE_INIT { NULL, NULL, NULL }

int igtcloud__xml_parse_initiate(igtcloud__xml_initiate *out, const char *data, size_t len);
void igtcloud__xml_initiate_dispose(igtcloud__xml_initiate *res);

/* <CompleteMultipartUploadResult> */
typedef struct igtcloud__xml_complete {
    char *location;
    char *bucket;
    char *key;
    char *etag;        /* required; as sent, quotes included */
} igtcloud__xml_complete;

#define IGTCLOUD__XML_COMPLETE_INIT { NULL, NULL, NULL, NULL }

int igtcloud__xml_parse_complete(igtcloud__xml_complete *out, const char *data, size_t len);
void igtcloud__xml_complete_dispose(igtcloud__xml_complete *res);

/* One part of a multipart upload, read from ListParts or written to Complete. */
typedef struct igtcloud__xml_part {
    int part_number;   /* 1 to 10000 */
    char *etag;        /* as sent, quotes included */
    uint64_t size;
    char *checksum_crc32c; /* <ChecksumCRC32C> as sent, NULL when absent */
} igtcloud__xml_part;

/* <ListPartsResult> */
typedef struct igtcloud__xml_parts {
    char *upload_id;
    igtcloud__xml_part *parts;
    size_t count;
    int is_truncated;
    int next_part_number_marker;  /* 0 when absent */
    char *checksum_algorithm;     /* the upload's, as sent ("CRC32C"), NULL when absent */
} igtcloud__xml_parts;

#define IGTCLOUD__XML_PARTS_INIT { NULL, NULL, 0, 0, 0, NULL }

int igtcloud__xml_parse_list_parts(igtcloud__xml_parts *out, const char *data, size_t len);
void igtcloud__xml_parts_dispose(igtcloud__xml_parts *res);

/* One <Contents> entry of ListObjectsV2. */
typedef struct igtcloud__xml_object {
    char *key;             /* required */
    uint64_t size;         /* required */
    char *etag;
    char *last_modified;   /* as sent, e.g. "2009-10-12T17:50:30.000Z" */
    time_t mtime;          /* the same parsed; 0 when absent */
} igtcloud__xml_object;

/* <ListBucketResult> of ListObjectsV2 */
typedef struct igtcloud__xml_listing {
    char *name;                     /* the bucket */
    char *prefix;
    igtcloud__xml_object *objects;
    size_t count;
    char **common_prefixes;
    size_t prefix_count;
    int is_truncated;
    char *next_continuation_token;  /* required when is_truncated */
    long key_count;                 /* -1 when absent */
} igtcloud__xml_listing;

#define IGTCLOUD__XML_LISTING_INIT { NULL, NULL, NULL, 0, NULL, 0, 0, NULL, -1 }

int igtcloud__xml_parse_list_objects(igtcloud__xml_listing *out, const char *data, size_t len);
void igtcloud__xml_listing_dispose(igtcloud__xml_listing *res);

/*
 * Append text escaped for XML element content or attribute values (& < > "
 * ' and CR). Text that XML 1.0 cannot carry — invalid UTF-8, control
 * characters other than tab and line feed, U+FFFE/U+FFFF — is refused with
 * EINVALID and nothing is appended.
 */
int igtcloud__xml_escape(igtcloud__buf *out, const char *text, size_t len);

/* Append <name>escaped text</name>; name is a trusted constant. */
int igtcloud__xml_put_element(igtcloud__buf *out, const char *name, const char *text);

/*
 * Append the CompleteMultipartUpload request body for `parts`, which must be
 * in strictly ascending part-number order (S3 refuses anything else) and
 * carry ETags. Returns 0, EINVALID or ENOMEM.
 */
int igtcloud__xml_write_complete(igtcloud__buf *out, const igtcloud__xml_part *parts,
                                 size_t count);

#endif
