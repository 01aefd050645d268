#ifndef IGTCLOUD_COMMON_H
#define IGTCLOUD_COMMON_H

/**
 * @file igtcloud/common.h
 * @brief Export macro, status codes and version query shared by every module.
 */

#include "igtcloud/export.h"
#include "igtcloud/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Status codes returned by every call that can fail. Zero is success; failures
 * are negative. The values are part of the ABI and are never renumbered.
 */
typedef enum {
    IGTCLOUD_OK = 0,
    IGTCLOUD_ERROR = -1,      /**< Generic failure; the message says more. */
    IGTCLOUD_ENOTFOUND = -2,  /**< Project, institute, study, file or key does not exist. */
    IGTCLOUD_EAUTH = -3,      /**< Login failed, token expired or rejected. */
    IGTCLOUD_EEXISTS = -4,    /**< The object already exists. */
    IGTCLOUD_ENET = -5,       /**< Network unreachable, connection refused or reset. */
    IGTCLOUD_ETIMEOUT = -6,   /**< The server did not answer in time. */
    IGTCLOUD_EPROTO = -7,     /**< The server answered something we cannot understand. */
    IGTCLOUD_EINVALID = -8,   /**< Invalid argument or input. */
    IGTCLOUD_EIO = -9,        /**< Local file system error. */
    IGTCLOUD_ECANCELLED = -10,/**< Cancelled by the caller. */
    IGTCLOUD_ENOMEM = -11,    /**< Out of memory. */
    IGTCLOUD_EPERM = -12,     /**< Permission denied by the server or the file system. */
    IGTCLOUD_ETLS = -13,      /**< TLS handshake or certificate verification failed. */
    IGTCLOUD_EPARTIAL = -14,  /**< Some items of a bulk operation failed. */
    IGTCLOUD_ENOSPACE = -15   /**< The local disk, quota or file size limit is full. */
} igtcloud_status;

/**
 * Version of the library that is running (which may differ from the headers).
 *
 * @return a static string such as "0.1.0"; never NULL.
 */
IGTCLOUD_EXTERN const char *igtcloud_version(void);

/** Versions of libigtcloud and the libraries it runs with (all borrowed, static). */
typedef struct igtcloud_runtime_versions {
    const char *igtcloud;  /**< igtcloud_version() */
    const char *libcurl;   /**< e.g. "7.88.1" */
    const char *openssl;   /**< e.g. "3.0.15" */
    const char *jansson;   /**< e.g. "2.14" */
    const char *expat;     /**< e.g. "2.5.0" */
    const char *platform;  /**< operating system and machine, e.g. "linux-x86_64" */
} igtcloud_runtime_versions;

/**
 * Versions of the libraries this process actually loaded (which may differ
 * from those it was built against), and the platform name release feeds use.
 * Safe to call from any thread, before igtcloud_global_init() too.
 *
 * @return a pointer to static, constant data; never NULL.
 */
IGTCLOUD_EXTERN const igtcloud_runtime_versions *igtcloud_version_info(void);

#ifdef __cplusplus
}
#endif

#endif
