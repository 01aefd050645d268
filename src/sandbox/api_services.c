#include "router.h"

const sandbox_route sandbox_service_routes[] = {
    { NULL, NULL, NULL },
};
