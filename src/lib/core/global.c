#include "igtcloud/global.h"
#include "core/error.h"

#include <curl/curl.h>
#include <pthread.h>

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static int init_count;

const char *igtcloud_version(void)
{
    return IGTCLOUD_VERSION;
}

int igtcloud_global_init(void)
{
    int rc;
    pthread_mutex_lock(&init_lock);
    if (init_count == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        rc = igtcloud__error_set(IGTCLOUD_ERROR, "libcurl initialisation failed");
        goto done;
    }
    rc = ++init_count;
done:
    pthread_mutex_unlock(&init_lock);
    return rc;
}

int igtcloud_global_shutdown(void)
{
    int rc;
    pthread_mutex_lock(&init_lock);
    if (init_count == 0) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "igtcloud_global_shutdown without init");
        goto done;
    }
    rc = --init_count;
    if (rc == 0)
        curl_global_cleanup();
done:
    pthread_mutex_unlock(&init_lock);
    return rc;
}
