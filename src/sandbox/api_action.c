#include "router.h"

const sandbox_route sandbox_action_routes[] = {
    { NULL, NULL, NULL },
};
