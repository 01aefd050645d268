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
    IGTCLOUD_EPARTIAL = -14   /**< Some items of a bulk operation failed. */
} igtcloud_status;

/**
 * Version of the library that is running (which may differ from the headers).
 *
 * @return a static string such as "0.1.0"; never NULL.
 */
IGTCLOUD_EXTERN const char *igtcloud_version(void);

#ifdef __cplusplus
}
#endif

#endif
