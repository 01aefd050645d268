#ifndef IGTCLOUD_TOOLS_UPGRADE_INT_H
#define IGTCLOUD_TOOLS_UPGRADE_INT_H

#include <stddef.h>

#include "igtcloud/upgrade.h"

/* Largest feed accepted (bytes). */
#define IGTCLOUD__UPGRADE_FEED_MAX ((size_t)4 * 1024 * 1024)

/* The release chosen from a feed, for one platform. */
typedef struct igtcloud__release {
    char version[IGTCLOUD_UPGRADE_VERSION_MAX];
    char *url;                  /* absolute: relative URLs resolved against the feed's */
    char sha256[65];            /* lower-case hex */
} igtcloud__release;

void igtcloud__release_dispose(igtcloud__release *r);

/*
 * Check the whole feed (docs/upgrade.md) and choose the release `wanted`
 * (NULL: the highest version without a pre-release tag that has a build for
 * `platform`). Returns 0 and fills *out (dispose it), or IGTCLOUD_EPROTO for a
 * malformed feed, IGTCLOUD_ENOTFOUND for an unknown version or no build for
 * the platform, IGTCLOUD_EINVALID for a `wanted` that is no semantic version.
 */
int igtcloud__upgrade_feed_select(igtcloud__release *out, const char *json, size_t len,
                                  const char *feed_url, const char *platform,
                                  const char *wanted);

#endif
