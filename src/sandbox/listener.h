#ifndef SANDBOX_LISTENER_H
#define SANDBOX_LISTENER_H

/*
 * What the two listeners, the REST API (server.c) and the S3 endpoint
 * (s3_server.c), share: the libmicrohttpd daemon, the list of response
 * headers a handler adds, and the request log's JSON lines.
 */

#include <microhttpd.h>
#include <netinet/in.h>

#include "sandbox.h"

/* host (IPv4) and port into *out; -1 when host is not an IPv4 address. */
int sandbox_listener_address(struct sockaddr_in *out, const char *host, unsigned short port);

/*
 * Start a daemon on `addr` (port 0 picks a free one): a thread per
 * connection, at most 512 of them, HTTPS when sb->tls_cert_pem is set, plus
 * `options` (ended by MHD_OPTION_END). On success *out is set, *bound_port
 * tells the port and 0 is returned; -1 when the daemon cannot start.
 */
int sandbox_listener_start(struct MHD_Daemon **out, unsigned short *bound_port,
                           const sandbox *sb, const struct sockaddr_in *addr,
                           MHD_AccessHandlerCallback on_request, void *cls,
                           const struct MHD_OptionItem *options);

/*
 * Append copies of name and value to a response's header list of at most
 * `max` entries (names[i], values[i], *count of them). Returns 0 or -1.
 */
int sandbox_headers_add(char **names, char **values, int *count, int max, const char *name,
                        const char *value);

/* Free the list's entries; *count becomes 0. */
void sandbox_headers_clear(char **names, char **values, int *count);

/*
 * A request log line: time, service, method, path, status, bytes, in that
 * order; a listener adds its own fields after them. NULL on failure.
 */
json_t *sandbox_log_line(const char *service, const char *method, const char *path, int status,
                         unsigned long long bytes);

/* Append `line` (the reference is taken) to the request log, one JSON line. */
void sandbox_log_write(sandbox *sb, json_t *line);

#endif
