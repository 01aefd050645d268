#ifndef IGTCLOUD_S3_WIRE_H
#define IGTCLOUD_S3_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Small parsers of S3 response headers. All reject anything malformed. */

/*
 * Content-Range: "bytes FIRST-LAST/TOTAL" (TOTAL may be '*': *total = -1)
 * or "bytes * /TOTAL" without the space (then *first = *last = -1).
 * Returns 0 or IGTCLOUD_EPROTO.
 */
int igtcloud__wire_content_range(int64_t *first, int64_t *last, int64_t *total,
                                 const char *value, size_t len);

#define IGTCLOUD__ETAG_MAX 127

/*
 * ETag value without its quotes (and without a weak "W/" prefix) into out.
 * Returns 0 or EPROTO (empty, too long, or with blanks/control characters).
 */
int igtcloud__wire_etag(char out[IGTCLOUD__ETAG_MAX + 1], const char *value, size_t len);

/* Is an (unquoted) ETag a plain MD5, i.e. 32 hex digits (single-part objects)? */
int igtcloud__wire_etag_is_md5(const char *etag);

/*
 * Is an (unquoted) ETag a multipart one, 32 hex digits, '-' and the number
 * of parts (1 to 10,000, no leading zero)? 1 with *parts set, else 0.
 */
int igtcloud__wire_etag_parts(const char *etag, uint32_t *parts);

/*
 * The ETag S3 gives the object a multipart upload completes into: the MD5 of
 * the parts' binary MD5s, then "-" and the part count. Returns 0, or -1 when
 * a part's ETag is not an MD5 (SSE-KMS, some servers): no way to know then.
 */
int igtcloud__wire_multipart_etag(char out[IGTCLOUD__ETAG_MAX + 1], char *const *part_etags,
                                  uint32_t nparts);

/*
 * An HTTP date (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT"; RFC 850 and
 * asctime forms too) into epoch seconds. Returns 0 or EPROTO.
 */
int igtcloud__wire_http_date(int64_t *out, const char *value, size_t len);

/*
 * x-amz-checksum-crc32c: the base64 of four big-endian bytes (a whole
 * object's CRC32C: *parts = 0), or that, '-' and a part count (1 to 10,000,
 * no leading zero: a multipart upload's composite, the CRC32C of its parts'
 * CRC32Cs). Returns 0, or EPROTO for anything else.
 */
int igtcloud__wire_checksum_crc32c(uint32_t *crc, uint32_t *parts, const char *value, size_t len);

/* A decimal Content-Length. Returns 0 or EPROTO. */
int igtcloud__wire_u64(uint64_t *out, const char *value, size_t len);

#endif
