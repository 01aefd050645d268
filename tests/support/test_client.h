#ifndef TEST_CLIENT_H
#define TEST_CLIENT_H

#include "igtcloud/igtcloud.h"

/*
 * The client's side of an integration test. Unset what would send a client
 * elsewhere or log it in as someone else (proxies, CLOUD_*, AWS endpoints),
 * and ignore SIGPIPE (a server may write to a client that already left).
 */
void test_client_isolate(void);

/*
 * Open a session as demo/demo on the sandbox at api_url, never reusing a
 * running `igtcloud login`. Returns 0, or the library's code after printing
 * its message.
 */
int test_session_open_demo(igtcloud_session **out, const char *api_url);

#endif
