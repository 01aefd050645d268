#ifndef IGTCLOUD_CORE_ERROR_H
#define IGTCLOUD_CORE_ERROR_H

#include "igtcloud/error.h"

/*
 * Record the failure of the calling thread and return `code`, so that
 * `return igtcloud__error_set(IGTCLOUD_EINVALID, "bad %s", what);` reads well.
 * The message is one line; newlines in it are replaced by spaces.
 */
int igtcloud__error_set(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* As igtcloud__error_set, with the HTTP status and request id of a response. */
int igtcloud__error_set_http(int code, int http_status, const char *request_id,
                             const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Shorthand for the one error every allocation can produce. */
int igtcloud__error_oom(void);

#endif
