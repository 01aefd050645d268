#ifndef IGTCLOUD_GLOBAL_H
#define IGTCLOUD_GLOBAL_H

/**
 * @file igtcloud/global.h
 * @brief Process-wide set-up of libcurl and OpenSSL.
 */

#include "igtcloud/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Initialise the library. Reference-counted: every successful call must be
 * matched by igtcloud_global_shutdown(). Call before starting threads.
 *
 * @return the new reference count (> 0), or a negative igtcloud_status.
 */
IGTCLOUD_EXTERN int igtcloud_global_init(void);

/**
 * Release what igtcloud_global_init() set up once the count drops to zero.
 *
 * @return the remaining reference count, or IGTCLOUD_EINVALID when the library
 *         was not initialised.
 */
IGTCLOUD_EXTERN int igtcloud_global_shutdown(void);

#ifdef __cplusplus
}
#endif

#endif
