#include "router.h"

/* GET /api/auth/login/$aud: the audience a service's assertion must name. */
static void get_audience(sandbox_request *req, sandbox_response *res)
{
    char audience[256];
    snprintf(audience, sizeof(audience), "%s/api/auth/token", req->sb->api_url);
    sandbox_response_json(res, 200, json_string(audience));
}

const sandbox_route sandbox_auth_routes[] = {
    { "GET", "/api/auth/login/$aud", get_audience },
    { NULL, NULL, NULL },
};
