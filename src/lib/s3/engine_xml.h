#ifndef IGTCLOUD_S3_ENGINE_XML_H
#define IGTCLOUD_S3_ENGINE_XML_H

#include <stddef.h>
#include <stdint.h>

/*
 * The few S3 response bodies the transfer engine reads: Error,
 * InitiateMultipartUploadResult and the Error that CompleteMultipartUpload
 * may return with status 200 through a lenient scan with expat (it keeps what
 * a truncated error body told); ListPartsResult through s3/xml.h.
 */

typedef struct igtcloud__s3_error_body {
    char code[64];
    char message[192];
    char request_id[128];
    char region[64];
    char upload_id[512];    /* InitiateMultipartUploadResult */
    int is_error;           /* the root element is <Error> */
    int is_complete;        /* the root element is <CompleteMultipartUploadResult> */
} igtcloud__s3_error_body;

/* Parse; unknown or malformed bodies leave the fields empty. */
void igtcloud__s3_xml_scan(igtcloud__s3_error_body *out, const char *body, size_t len);

typedef struct igtcloud__s3_part {
    uint32_t number;
    uint64_t size;
    char etag[128];
    int has_crc32c;       /* the part's CRC32C is listed (and well formed) */
    uint32_t crc32c;
} igtcloud__s3_part;

/*
 * ListPartsResult (igtcloud__xml_parse_list_parts): calls `on_part` per <Part>
 * with its ETag unquoted (and its CRC32C when listed), and tells whether the
 * list is truncated, the next marker, and whether the upload's checksum
 * algorithm is CRC32C. Returns 0 or EPROTO (also for a part whose ETag is
 * malformed, after the parts before it were handed on).
 */
int igtcloud__s3_xml_list_parts(const char *body, size_t len,
                                void (*on_part)(const igtcloud__s3_part *part, void *payload),
                                void *payload, int *truncated, uint32_t *next_marker,
                                int *upload_crc32c);

#endif
