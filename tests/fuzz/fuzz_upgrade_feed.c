/* The release feed of 'igtcloud upgrade' (fetched over the network) and the version strings in it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/upgrade_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    igtcloud__release r;
    memset(&r, 0, sizeof(r));
    if (igtcloud__upgrade_feed_select(&r, (const char *)data, size, "https://h/a/feed.json",
                                      "linux-x86_64", NULL) == 0)
        igtcloud__release_dispose(&r);
    if (igtcloud__upgrade_feed_select(&r, (const char *)data, size, "http://h", "linux-x86_64",
                                      "1.0.0-rc.1") == 0)
        igtcloud__release_dispose(&r);

    /* The input's first line against its second, as two versions. */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *second = strchr(text, '\n');
    if (second) {
        *second++ = '\0';
        int c;
        igtcloud_semver_compare(&c, text, second);
    }
    free(text);
    return 0;
}
