#include "router.h"

#include <string.h>

static const sandbox_route *const route_tables[] = {
    sandbox_auth_routes,
    sandbox_data_routes,
    sandbox_action_routes,
    sandbox_service_routes,
};

/*
 * Match `path` (a writable copy; segments are cut in place) against pattern.
 * Returns 1 on a match with params filled.
 */
static int match(const char *pattern, char *path, const char **params)
{
    int nparams = 0;
    const char *p = pattern;
    char *s = path;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        const char *p_end = strchr(p, '/');
        size_t p_len = p_end ? (size_t)(p_end - p) : strlen(p);
        char *s_end = strchr(s, '/');
        size_t s_len = s_end ? (size_t)(s_end - s) : strlen(s);
        if (p_len == 2 && p[0] == '{' && p[1] == '}') {
            if (s_len == 0 || nparams >= SANDBOX_MAX_PARAMS)
                return 0;
            params[nparams++] = s;
        } else if (p_len != s_len || memcmp(p, s, p_len) != 0) {
            return 0;
        }
        p += p_len;
        s += s_len;
    }
    if (*p || *s)
        return 0;
    /* Terminate the captured segments only once the whole path matched. */
    for (int i = 0; i < nparams; i++) {
        char *end = strchr((char *)params[i], '/');
        if (end)
            *end = '\0';
    }
    return 1;
}

sandbox_handler sandbox_route_find(sandbox_request *req, char *path_copy, int *status)
{
    size_t len = strlen(req->path);
    int path_known = 0;
    /* A trailing slash names the same resource. */
    char scratch[2048];
    if (len >= sizeof(scratch)) {
        *status = 404;
        return NULL;
    }
    for (size_t t = 0; t < sizeof(route_tables) / sizeof(route_tables[0]); t++) {
        for (const sandbox_route *r = route_tables[t]; r->method; r++) {
            memcpy(scratch, req->path, len + 1);
            if (len > 1 && scratch[len - 1] == '/')
                scratch[len - 1] = '\0';
            const char *params[SANDBOX_MAX_PARAMS] = { 0 };
            if (!match(r->pattern, scratch, params))
                continue;
            path_known = 1;
            if (strcmp(r->method, req->method) != 0)
                continue;
            /*
             * Re-run the match on the caller's buffer so params outlive us;
             * copy the request path again, since the match above cut scratch.
             */
            memcpy(path_copy, req->path, len + 1);
            if (len > 1 && path_copy[len - 1] == '/')
                path_copy[len - 1] = '\0';
            match(r->pattern, path_copy, req->params);
            return r->handler;
        }
    }
    *status = path_known ? 405 : 404;
    return NULL;
}
