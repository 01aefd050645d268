#ifndef IGTCLOUD_API_S3_CREDENTIALS_H
#define IGTCLOUD_API_S3_CREDENTIALS_H

#include "igtcloud/session.h"
#include "igtcloud/transfer.h"

/*
 * The transfer engine's credentials provider for a session, shared by every
 * tool that moves bytes (download, upload): it asks
 * GET /api/auth/s3credentials?action=<GET|PUT>&prefix=<prefix> (PROTOCOL.md
 * section 2) and answers a 401 once by refreshing the session, so a token
 * that dies during a long run does not fail the files still queued.
 *
 * Use it as an igtcloud_transfer_credentials_cb with the session as payload.
 */
int igtcloud__s3_credentials_cb(igtcloud_s3_credentials *out, const char *action,
                                const char *prefix, void *payload);

#endif
