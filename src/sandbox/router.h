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

/*
 * Find the handler for method and path. Fills req->params and returns the
 * handler; when no route fits, returns NULL and sets *status to 404 (no such
 * path) or 405 (the path exists with other methods).
 */
sandbox_handler sandbox_route_find(sandbox_request *req, char *path_copy, int *status);

#endif
