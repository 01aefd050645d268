#ifndef IGTCLOUD_API_CATALOG_INT_H
#define IGTCLOUD_API_CATALOG_INT_H

#include <jansson.h>

#include "igtcloud/catalog.h"
#include "core/buf.h"

/*
 * Internals of the catalog shared with tools/ (download, CSV listing).
 */

/*
 * GET `path` through the session and parse the JSON body into *out (a new
 * reference). A 401 is answered once by refreshing the session and asking
 * again, so a token that dies between our expiry check and the server's
 * does not fail a long run. `what` names the call in error messages.
 */
int igtcloud__catalog_get_json(json_t **out, igtcloud_session *session, const char *path,
                               const char *what);

/* Append `segment` to `out` percent-encoded as one URL path segment. */
int igtcloud__catalog_put_segment(igtcloud__buf *out, const char *segment);

/* Parse the study's compact JSON text back into a tree (*out is a new reference). */
int igtcloud__study_parse(json_t **out, const igtcloud_study *study);

#endif
