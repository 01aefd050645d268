#include "s3_checksum.h"
#include "core/base64.h"
#include "core/hash.h"

#include <stdio.h>
#include <string.h>

static void crc_bytes(unsigned char out[4], uint32_t crc)
{
    out[0] = (unsigned char)(crc >> 24);
    out[1] = (unsigned char)(crc >> 16);
    out[2] = (unsigned char)(crc >> 8);
    out[3] = (unsigned char)crc;
}

void sandbox_s3_crc32c_text(char out[SANDBOX_S3_CRC32C_TEXT], uint32_t crc)
{
    unsigned char bytes[4];
    igtcloud__buf buf = IGTCLOUD_BUF_INIT;
    crc_bytes(bytes, crc);
    if (igtcloud__base64_encode(&buf, bytes, sizeof(bytes)) == 0)
        snprintf(out, SANDBOX_S3_CRC32C_TEXT, "%s", igtcloud__buf_cstr(&buf));
    else
        out[0] = '\0';
    igtcloud__buf_dispose(&buf);
}

int sandbox_s3_crc32c_parse(uint32_t *out, const char *text)
{
    igtcloud__buf buf = IGTCLOUD_BUF_INIT;
    int rc = -1;
    if (igtcloud__base64_decode(&buf, text, strlen(text)) == 0 && buf.size == 4) {
        const unsigned char *b = (const unsigned char *)buf.ptr;
        *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        rc = 0;
    }
    igtcloud__buf_dispose(&buf);
    return rc;
}

const char *sandbox_s3_checksum_type(const char *crc32c_text)
{
    /* Base64 has no '-': only the composite's part count brings one. */
    return strchr(crc32c_text, '-') ? "COMPOSITE" : "FULL_OBJECT";
}

void sandbox_s3_crc32c_join_init(sandbox_s3_crc32c_join *j, int full_object)
{
    memset(j, 0, sizeof(*j));
    j->full_object = full_object;
}

void sandbox_s3_crc32c_join_add(sandbox_s3_crc32c_join *j, uint32_t part_crc,
                                unsigned long long part_size)
{
    if (j->full_object) {
        /* The CRC of the bytes so far followed by this part's (the first: its own). */
        j->crc = j->parts ? igtcloud__crc32c_combine(j->crc, part_crc, part_size) : part_crc;
    } else {
        unsigned char bytes[4];
        crc_bytes(bytes, part_crc);
        j->crc = igtcloud__crc32c(j->crc, bytes, sizeof(bytes));
    }
    j->parts++;
}

void sandbox_s3_crc32c_join_text(const sandbox_s3_crc32c_join *j,
                                 char out[SANDBOX_S3_CRC32C_TEXT])
{
    char crc[SANDBOX_S3_CRC32C_TEXT];
    sandbox_s3_crc32c_text(crc, j->crc);
    int len = j->full_object ? snprintf(out, SANDBOX_S3_CRC32C_TEXT, "%s", crc)
                             : snprintf(out, SANDBOX_S3_CRC32C_TEXT, "%s-%lu", crc, j->parts);
    /* Eight characters and at most "-10000" always fit; a cut value would be a wrong one. */
    if (len < 0 || len >= SANDBOX_S3_CRC32C_TEXT)
        out[0] = '\0';
}
