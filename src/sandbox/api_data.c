#include "router.h"

const sandbox_route sandbox_data_routes[] = {
    { NULL, NULL, NULL },
};
