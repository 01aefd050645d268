#ifndef SANDBOX_ROUTER_H
#define SANDBOX_ROUTER_H

#include "sandbox.h"

typedef void (*sandbox_handler)(sandbox_request *req, sandbox_response *res);

/*
 * A route: method plus a path pattern in which "{}" matches exactly one
 * non-empty segment; the matched segments land in req->params in order.
 * Tables end with an entry whose method is NULL.
 */
typedef struct sandbox_route {
    const char *method;
    const char *pattern;
    sandbox_handler handler;
} sandbox_route;

/* Route tables of the services, each in its api_<service>.c. */
extern const sandbox_route sandbox_auth_routes[];
extern const sandbox_route sandbox_data_routes[];
extern const sandbox_route sandbox_action_routes[];
extern const sandbox_route sandbox_service_routes[];  /* /api/data/organizations/{}/services */

/* The longest request path routes are matched against; longer paths are 404. */
#define SANDBOX_ROUTE_PATH_MAX 2048

/*
 * Find the handler for req->method and req->path. Fills req->params, which
 * point into path_copy (SANDBOX_ROUTE_PATH_MAX bytes, kept by the caller while
 * the handler runs), and returns the handler; when no route fits, returns NULL and sets *status to 404 (no such
 * path) or 405 (the path exists with other methods).
 */
sandbox_handler sandbox_route_find(sandbox_request *req, char *path_copy, int *status);

/*
 * The methods routed for `path`, comma-separated in table order ("GET, POST"),
 * for the Allow header of a 405. Returns -1 when no route has that path or
 * out is too small.
 */
int sandbox_route_allowed(char *out, size_t size, const char *path);

#endif
