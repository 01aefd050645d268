#ifndef SANDBOX_S3_SERVER_H
#define SANDBOX_S3_SERVER_H

#include "sandbox.h"

typedef struct sandbox_s3_server sandbox_s3_server;

/*
 * Start the S3-compatible endpoint on sb->config.s3_listen_host/port (port 0
 * picks a free one), with TLS when sb->tls_cert_pem is set, the fault rules
 * of sb->config.faults and the admin endpoint when sb->config.admin_token is
 * set. Creates the S3 tables. On success *out is set and *bound_port tells
 * the port. Prints why on stderr and returns -1 otherwise.
 */
int sandbox_s3_server_start(sandbox_s3_server **out, unsigned short *bound_port, sandbox *sb);

/* Stop accepting, finish in-flight requests and free. NULL is a no-op. */
void sandbox_s3_server_stop(sandbox_s3_server *server);

#endif
