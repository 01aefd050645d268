/* Set-Cookie parsing of login and refresh responses. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/cookie.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    igtcloud__cookie c;
    if (igtcloud__cookie_parse(&c, (const char *)data, size) == 0) {
        if (strlen(c.name) == 0 || c.max_age < -1)
            __builtin_trap();
        igtcloud__cookie_dispose(&c);
    }
    return 0;
}
