#ifndef IGTCLOUD_ERROR_H
#define IGTCLOUD_ERROR_H

/**
 * @file igtcloud/error.h
 * @brief The last error of the calling thread.
 */

#include "igtcloud/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Details of the last failure on this thread. */
typedef struct igtcloud_error {
    int code;                /**< An igtcloud_status value (negative), or 0. */
    int http_status;         /**< HTTP status of the failing response, or 0. */
    const char *message;     /**< One line, no trailing newline; never NULL. */
    const char *request_id;  /**< Server request id when one was given, else "". */
} igtcloud_error;

/**
 * The last error set on the calling thread.
 *
 * @return a pointer that is never NULL and stays valid until the next library
 *         call on this thread; code is 0 and message "" when nothing failed.
 */
IGTCLOUD_EXTERN const igtcloud_error *igtcloud_error_last(void);

/** Forget the last error of the calling thread. */
IGTCLOUD_EXTERN void igtcloud_error_clear(void);

/**
 * Short stable name of a status code ("ENOTFOUND", "EAUTH", ...).
 *
 * @return a static string; "UNKNOWN" for values outside igtcloud_status.
 */
IGTCLOUD_EXTERN const char *igtcloud_status_name(int code);

#ifdef __cplusplus
}
#endif

#endif
