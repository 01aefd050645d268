#ifndef SANDBOX_S3_CHECKSUM_H
#define SANDBOX_S3_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * The CRC32C checksums the S3 endpoint keeps, in S3's text form: base64 of
 * the CRC's four bytes, big-endian ("4waSgw=="), and for a multipart object
 * either the CRC32C of all its bytes (FULL_OBJECT) or S3's COMPOSITE
 * checksum, the CRC32C of its parts' CRCs followed by "-N" ("AbCdEf==-3").
 */

/* "xxxxxx==-10000" and its NUL fit. */
#define SANDBOX_S3_CRC32C_TEXT 24

/* The text of one CRC32C. */
void sandbox_s3_crc32c_text(char out[SANDBOX_S3_CRC32C_TEXT], uint32_t crc);

/* The CRC of text that is exactly one CRC32C (padded or not). Returns 0 or -1. */
int sandbox_s3_crc32c_parse(uint32_t *out, const char *text);

/* "COMPOSITE" for a stored value with a "-N" suffix, else "FULL_OBJECT". */
const char *sandbox_s3_checksum_type(const char *crc32c_text);

/* A multipart object's checksum, joined from its parts' CRC32Cs in part order. */
typedef struct sandbox_s3_crc32c_join {
    int full_object;              /* 0: COMPOSITE */
    uint32_t crc;                 /* of the bytes so far, or of the part CRCs so far */
    unsigned long parts;
} sandbox_s3_crc32c_join;

void sandbox_s3_crc32c_join_init(sandbox_s3_crc32c_join *j, int full_object);
void sandbox_s3_crc32c_join_add(sandbox_s3_crc32c_join *j, uint32_t part_crc,
                                unsigned long long part_size);

/* The joined checksum's text (COMPOSITE with its "-N"). */
void sandbox_s3_crc32c_join_text(const sandbox_s3_crc32c_join *j,
                                 char out[SANDBOX_S3_CRC32C_TEXT]);

#endif
