#include "igtcloud/common.h"

#include <ctype.h>
#include <curl/curl.h>
#include <expat.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

static igtcloud_runtime_versions versions;
static char expat_version[32];
static char platform[160]; /* two utsname fields (65 bytes each on Linux) and a dash */
static pthread_once_t versions_once = PTHREAD_ONCE_INIT;

/* "linux-x86_64": the kernel name lower-cased and the machine, as release feeds name builds. */
static void fill_platform(void)
{
    struct utsname u;
    if (uname(&u) != 0) {
        snprintf(platform, sizeof(platform), "unknown");
        return;
    }
    snprintf(platform, sizeof(platform), "%s-%s", u.sysname, u.machine);
    for (char *p = platform; *p && *p != '-'; p++)
        *p = (char)tolower((unsigned char)*p);
}

static void fill_versions(void)
{
    const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
    const char *expat = XML_ExpatVersion();
    const char *prefix = "expat_";

    if (expat && strncmp(expat, prefix, strlen(prefix)) == 0)
        expat += strlen(prefix);
    snprintf(expat_version, sizeof(expat_version), "%s", expat ? expat : "unknown");
    fill_platform();

    versions.igtcloud = igtcloud_version();
    versions.libcurl = curl && curl->version ? curl->version : "unknown";
    versions.openssl = OpenSSL_version(OPENSSL_VERSION_STRING);
    versions.jansson = jansson_version_str();
    versions.expat = expat_version;
    versions.platform = platform;
}

const igtcloud_runtime_versions *igtcloud_version_info(void)
{
    pthread_once(&versions_once, fill_versions);
    return &versions;
}
