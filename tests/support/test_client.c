#include "test_client.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

void test_client_isolate(void)
{
    static const char *const unset[] = {
        "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
        "no_proxy", "NO_PROXY", "CLOUD_DOMAIN", "CLOUD_USERNAME", "CLOUD_JWT_TOKEN",
        "CLOUD_CSRF_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", NULL
    };
    for (int i = 0; unset[i]; i++)
        unsetenv(unset[i]);
    signal(SIGPIPE, SIG_IGN);
}

int test_session_open_demo(igtcloud_session **out, const char *api_url)
{
    igtcloud_session_options o;
    igtcloud_session_options_init(&o, IGTCLOUD_SESSION_OPTIONS_VERSION);
    o.domain = api_url;
    o.user = "demo";
    o.password = "demo";
    o.flags = IGTCLOUD_SESSION_NO_REUSE;
    int rc = igtcloud_session_open(out, &o);
    if (rc)
        fprintf(stderr, "session as demo: %s\n", igtcloud_error_last()->message);
    return rc;
}
