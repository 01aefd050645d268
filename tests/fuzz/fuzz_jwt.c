/* JWT payload decoding: any bytes in, a JSON object or IGTCLOUD_EPROTO out. */
#include <stddef.h>
#include <stdint.h>

#include "auth/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *payload = NULL;
    if (igtcloud__jwt_decode_payload(&payload, (const char *)data, size) == 0) {
        long long exp;
        (void)igtcloud__jwt_claim_exp(&exp, payload);
        json_decref(payload);
    }
    return 0;
}
