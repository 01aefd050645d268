/* S3 response bodies the transfer engine reads: Error, InitiateMultipartUploadResult, ListPartsResult. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "s3/engine_xml.h"

static void on_part(const igtcloud__s3_part *part, void *payload)
{
    size_t *count = payload;
    if (part->number == 0 || part->number > 10000 || strlen(part->etag) == 0)
        __builtin_trap();
    (*count)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    igtcloud__s3_error_body e;
    igtcloud__s3_xml_scan(&e, (const char *)data, size);
    if (strlen(e.code) >= sizeof(e.code) || strlen(e.upload_id) >= sizeof(e.upload_id))
        __builtin_trap();
    size_t count = 0;
    int truncated = 0;
    uint32_t marker = 0;
    int crc32c_upload = 0;
    (void)igtcloud__s3_xml_list_parts((const char *)data, size, on_part, &count, &truncated, &marker,
                                      &crc32c_upload);
    return 0;
}
