#include "core/random.h"
#include "core/error.h"

#include <openssl/rand.h>

int igtcloud__random_bytes(void *out, size_t len)
{
    if (len > (size_t)0x7fffffff || RAND_bytes(out, (int)len) != 1)
        return igtcloud__error_set(IGTCLOUD_ERROR, "random number generator failed");
    return 0;
}

int igtcloud__random_token(char *out, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char bytes[64];
    size_t done = 0;
    while (done < len) {
        int rc = igtcloud__random_bytes(bytes, sizeof(bytes));
        if (rc)
            return rc;
        /* Rejection sampling keeps the characters uniform (248 = 4 * 62). */
        for (size_t i = 0; i < sizeof(bytes) && done < len; i++) {
            if (bytes[i] < 248)
                out[done++] = alphabet[bytes[i] % 62];
        }
    }
    out[len] = '\0';
    return 0;
}
