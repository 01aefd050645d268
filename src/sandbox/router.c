#include "router.h"

#include <stdio.h>
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

/* Copy path into buf without a trailing slash; -1 when it does not fit. */
static int normalise(char *buf, size_t size, const char *path)
{
    size_t len = strlen(path);
    if (len >= size)
        return -1;
    memcpy(buf, path, len + 1);
    /* A trailing slash names the same resource. */
    if (len > 1 && buf[len - 1] == '/')
        buf[len - 1] = '\0';
    return 0;
}

sandbox_handler sandbox_route_find(sandbox_request *req, char *path_copy, int *status)
{
    int path_known = 0;
    char scratch[SANDBOX_ROUTE_PATH_MAX];
    if (normalise(scratch, sizeof(scratch), req->path)) {
        *status = 404;
        return NULL;
    }
    for (size_t t = 0; t < sizeof(route_tables) / sizeof(route_tables[0]); t++) {
        for (const sandbox_route *r = route_tables[t]; r->method; r++) {
            const char *params[SANDBOX_MAX_PARAMS] = { 0 };
            normalise(scratch, sizeof(scratch), req->path);
            if (!match(r->pattern, scratch, params))
                continue;
            path_known = 1;
            if (strcmp(r->method, req->method) != 0)
                continue;
            /* Match again on the caller's buffer, so that params outlive us. */
            normalise(path_copy, SANDBOX_ROUTE_PATH_MAX, req->path);
            match(r->pattern, path_copy, req->params);
            return r->handler;
        }
    }
    *status = path_known ? 405 : 404;
    return NULL;
}

/* 1 when `method` is already in the ", "-separated list. */
static int listed(const char *list, const char *method)
{
    size_t len = strlen(method);
    for (const char *p = strstr(list, method); p; p = strstr(p + 1, method))
        if ((p == list || p[-1] == ' ') && (p[len] == ',' || p[len] == '\0'))
            return 1;
    return 0;
}

int sandbox_route_allowed(char *out, size_t size, const char *path)
{
    char scratch[SANDBOX_ROUTE_PATH_MAX];
    size_t used = 0;
    if (size == 0)
        return -1;
    out[0] = '\0';
    for (size_t t = 0; t < sizeof(route_tables) / sizeof(route_tables[0]); t++) {
        for (const sandbox_route *r = route_tables[t]; r->method; r++) {
            const char *params[SANDBOX_MAX_PARAMS] = { 0 };
            if (normalise(scratch, sizeof(scratch), path) || !match(r->pattern, scratch, params) ||
                listed(out, r->method))
                continue;
            int n = snprintf(out + used, size - used, "%s%s", used ? ", " : "", r->method);
            if (n < 0 || (size_t)n >= size - used)
                return -1;
            used += (size_t)n;
        }
    }
    return used ? 0 : -1;
}
