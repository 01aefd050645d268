#include "cmd.h"

#include <igtcloud/igtcloud.h>
#include <stdarg.h>
#include <string.h>

int cli_report_error(int status)
{
    const igtcloud_error *err = igtcloud_error_last();
    const char *message = err->message[0] ? err->message : igtcloud_status_name(status);
    if (err->request_id[0])
        fprintf(stderr, "igtcloud: %s (request id %s)\n", message, err->request_id);
    else
        fprintf(stderr, "igtcloud: %s\n", message);

    switch (status) {
    case IGTCLOUD_EAUTH:
    case IGTCLOUD_EPERM:
        return CLI_EXIT_AUTH;
    case IGTCLOUD_ENOTFOUND:
        return CLI_EXIT_NOTFOUND;
    case IGTCLOUD_ENET:
    case IGTCLOUD_ETIMEOUT:
    case IGTCLOUD_ETLS:
        return CLI_EXIT_NETWORK;
    case IGTCLOUD_EPARTIAL:
        return CLI_EXIT_PARTIAL;
    case IGTCLOUD_EIO:
    case IGTCLOUD_ENOSPACE:
        return CLI_EXIT_IO;
    case IGTCLOUD_EPROTO:
        return CLI_EXIT_PROTOCOL;
    case IGTCLOUD_EINVALID:
        return CLI_EXIT_USAGE;
    case IGTCLOUD_ECANCELLED:
        return CLI_EXIT_INTERRUPTED;
    default:
        return CLI_EXIT_FAILURE;
    }
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    fputs("igtcloud: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (command)
        fprintf(stderr, " (see 'igtcloud %s --help')\n", command);
    else
        fputs(" (see 'igtcloud --help')\n", stderr);
    return CLI_EXIT_USAGE;
}

int cli_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}
