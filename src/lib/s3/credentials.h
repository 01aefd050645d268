#ifndef IGTCLOUD_S3_CREDENTIALS_H
#define IGTCLOUD_S3_CREDENTIALS_H

#include <stddef.h>
#include <stdint.h>

#include "igtcloud/transfer.h"

/*
 * The credentials cache of a run: one entry per (action, prefix), shared by
 * every request. An entry is renewed when less than a margin relative to its
 * lifetime is left, and when the server says ExpiredToken; in the latter
 * case only once for all the requests that failed with the same generation.
 */

/* Seconds before expiry at which credentials living `lifetime` s are renewed. */
int64_t igtcloud__credentials_margin(int64_t lifetime);

/* Are credentials fetched at `fetched` (epoch s) and expiring at `expires` still good at `now`? */
int igtcloud__credentials_fresh(int64_t fetched, int64_t expires, int64_t now);

typedef struct igtcloud__cred_entry {
    char action[8];
    char *prefix;
    igtcloud_s3_credentials creds;
    int64_t fetched;          /* epoch seconds */
    unsigned int generation;  /* bumped at every renewal */
    int valid;
} igtcloud__cred_entry;

typedef struct igtcloud__cred_cache {
    igtcloud__cred_entry **entries;
    size_t count, alloc;
    igtcloud_transfer_credentials_cb cb;
    void *payload;
    const igtcloud_s3_credentials *fixed;
    size_t fetches;           /* provider calls so far (tests) */
} igtcloud__cred_cache;

void igtcloud__cred_cache_init(igtcloud__cred_cache *c, igtcloud_transfer_credentials_cb cb,
                               void *payload, const igtcloud_s3_credentials *fixed);
void igtcloud__cred_cache_dispose(igtcloud__cred_cache *c);

/*
 * Fresh credentials for (action, prefix) at time `now` (epoch s), fetched
 * from the provider when missing or stale. *out is borrowed from the cache
 * and stays valid until the cache is disposed or evicts it (entries are
 * never moved).
 */
int igtcloud__cred_cache_get(igtcloud__cred_entry **out, igtcloud__cred_cache *c,
                             const char *action, const char *prefix, int64_t now);

/*
 * The server refused credentials of `generation` as expired: forget them,
 * unless they were already renewed since.
 */
void igtcloud__cred_cache_expire(igtcloud__cred_entry *e, unsigned int generation);

/*
 * Forget (secrets wiped) the entries whose prefix in_use(prefix, payload)
 * says nothing needs any more: the caller vouches that no borrowed pointer
 * to them is left.
 */
void igtcloud__cred_cache_evict(igtcloud__cred_cache *c,
                                int (*in_use)(const char *prefix, void *payload), void *payload);

#endif
