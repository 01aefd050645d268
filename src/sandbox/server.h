#ifndef SANDBOX_SERVER_H
#define SANDBOX_SERVER_H

#include "sandbox.h"

typedef struct sandbox_server sandbox_server;

/*
 * Start serving the REST API on host:port (port 0 picks a free one) in
 * background threads. On success *out is set and *bound_port tells the port.
 */
int sandbox_server_start(sandbox_server **out, unsigned short *bound_port,
                         sandbox *sb, const char *host, unsigned short port);

/* Stop accepting, finish in-flight requests and free. NULL is a no-op. */
void sandbox_server_stop(sandbox_server *server);

/* Append one JSON line to the request log, when one is configured. */
void sandbox_log_request(sandbox *sb, const char *service, const char *method,
                         const char *path, const char *range, int status,
                         unsigned long long bytes);

#endif
