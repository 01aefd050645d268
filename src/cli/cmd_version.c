#include "cmd.h"

#include <igtcloud/igtcloud.h>
#include <string.h>

static const char usage[] =
    "Usage: igtcloud version [--help]\n"
    "\n"
    "  Print the version of this tool.\n";

int cmd_version(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        }
        return cli_usage_error("version", "unexpected argument '%s'", argv[i]);
    }
    printf("igtcloud %s\n", igtcloud_version());
    return CLI_EXIT_OK;
}
