#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MESSAGE_MAX 512
#define REQUEST_ID_MAX 128

struct error_slot {
    igtcloud_error pub;
    char message[MESSAGE_MAX];
    char request_id[REQUEST_ID_MAX];
};

static _Thread_local struct error_slot last_error;

__attribute__((format(printf, 1, 0)))
static void set_message(const char *fmt, va_list ap)
{
    vsnprintf(last_error.message, sizeof(last_error.message), fmt, ap);
    for (char *p = last_error.message; *p; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
}

int igtcloud__error_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message(fmt, ap);
    va_end(ap);
    last_error.pub.code = code;
    last_error.pub.http_status = 0;
    last_error.request_id[0] = '\0';
    return code;
}

int igtcloud__error_set_http(int code, int http_status, const char *request_id,
                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message(fmt, ap);
    va_end(ap);
    last_error.pub.code = code;
    last_error.pub.http_status = http_status;
    snprintf(last_error.request_id, sizeof(last_error.request_id), "%s",
             request_id ? request_id : "");
    return code;
}

int igtcloud__error_oom(void)
{
    return igtcloud__error_set(IGTCLOUD_ENOMEM, "out of memory");
}

const igtcloud_error *igtcloud_error_last(void)
{
    /* Thread-locals cannot be initialised with their own addresses. */
    last_error.pub.message = last_error.message;
    last_error.pub.request_id = last_error.request_id;
    return &last_error.pub;
}

void igtcloud_error_clear(void)
{
    last_error.pub.code = 0;
    last_error.pub.http_status = 0;
    last_error.message[0] = '\0';
    last_error.request_id[0] = '\0';
}

const char *igtcloud_status_name(int code)
{
    static const char *const names[] = {
        "OK", "ERROR", "ENOTFOUND", "EAUTH", "EEXISTS", "ENET", "ETIMEOUT",
        "EPROTO", "EINVALID", "EIO", "ECANCELLED", "ENOMEM", "EPERM", "ETLS",
        "EPARTIAL", "ENOSPACE",
    };
    if (code > 0 || -code >= (int)(sizeof(names) / sizeof(names[0])))
        return "UNKNOWN";
    return names[-code];
}
