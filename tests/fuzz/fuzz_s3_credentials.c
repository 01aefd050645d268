/* The JSON of GET /api/auth/s3credentials. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "igtcloud/transfer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    igtcloud_s3_credentials c;
    if (igtcloud_s3_credentials_from_json(&c, (const char *)data, size) == 0) {
        if (!c.access_key[0] || !c.secret_key[0] || !c.bucket[0] ||
            strlen(c.session_token) > IGTCLOUD_S3_TOKEN_MAX)
            __builtin_trap();
    }
    return 0;
}
