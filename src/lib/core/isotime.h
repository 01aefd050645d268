#ifndef IGTCLOUD_CORE_ISOTIME_H
#define IGTCLOUD_CORE_ISOTIME_H

#include <stddef.h>
#include <time.h>

#define IGTCLOUD_ISOTIME_LEN 32

/* "2021-03-04T10:00:00" in UTC, without a zone suffix (the cloud's style). */
void igtcloud__isotime_format(char out[IGTCLOUD_ISOTIME_LEN], time_t t);

/* "20130524T000000Z": the compact form of SigV4 and x-amz-date. */
void igtcloud__isotime_format_compact(char out[IGTCLOUD_ISOTIME_LEN], time_t t);

/*
 * Parse "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS" with optional fraction and an
 * optional zone ("Z", "+HH:MM", "+HHMM"); no zone means UTC. `has_zone` (may
 * be NULL) tells whether one was given. Returns 0 or IGTCLOUD_EINVALID.
 */
int igtcloud__isotime_parse(time_t *out, int *has_zone, const char *text);

/* timegm() without relying on the non-standard function. */
time_t igtcloud__timegm(const struct tm *tm);

#endif
