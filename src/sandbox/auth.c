#include "auth.h"

/* Placeholder until the JWT checks land: every protected call is refused. */
int sandbox_auth_require(const sandbox_request *req, sandbox_response *res,
                         sandbox_principal *out)
{
    (void)req;
    (void)out;
    sandbox_response_error(res, 401, "authentication required");
    return -1;
}
