/* S3 response headers: Content-Range, ETag, Last-Modified, Content-Length, checksums. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "s3/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    int64_t a, b, t;
    if (igtcloud__wire_content_range(&a, &b, &t, text, size) == 0) {
        if (a > b || (t >= 0 && a >= 0 && b >= t))
            __builtin_trap();
    }
    char etag[IGTCLOUD__ETAG_MAX + 1];
    if (igtcloud__wire_etag(etag, text, size) == 0) {
        if (strlen(etag) == 0 || strlen(etag) > IGTCLOUD__ETAG_MAX)
            __builtin_trap();
        (void)igtcloud__wire_etag_is_md5(etag);
        uint32_t parts = 0;
        if (igtcloud__wire_etag_parts(etag, &parts) && (parts < 1 || parts > 10000))
            __builtin_trap();
    }
    int64_t when;
    (void)igtcloud__wire_http_date(&when, text, size);
    uint64_t n;
    (void)igtcloud__wire_u64(&n, text, size);
    uint32_t crc, count;
    if (igtcloud__wire_checksum_crc32c(&crc, &count, text, size) == 0 && count > 10000)
        __builtin_trap();
    return 0;
}
