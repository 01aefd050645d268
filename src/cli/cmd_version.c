#include "cmd.h"

#include <igtcloud/igtcloud.h>
#include <string.h>

static const char usage[] =
    "Usage: igtcloud version [OPTIONS]\n"
    "\n"
    "  Print the version of this tool.\n"
    "\n"
    "Options:\n"
    "  -v, --verbose  also print the versions of the libraries it runs with\n"
    "                 (libcurl, OpenSSL, jansson, expat) and the platform name\n"
    "                 that 'igtcloud upgrade' looks for in a release feed\n"
    "      --help     Show this message and exit.\n";

int cmd_version(int argc, char **argv)
{
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            verbose = 1;
            continue;
        }
        return cli_usage_error("version", "unexpected argument '%s'", argv[i]);
    }
    printf("igtcloud %s\n", igtcloud_version());
    if (verbose) {
        const igtcloud_runtime_versions *v = igtcloud_version_info();
        printf("libcurl %s\nOpenSSL %s\njansson %s\nexpat %s\nplatform %s\n", v->libcurl,
               v->openssl, v->jansson, v->expat, v->platform);
    }
    return CLI_EXIT_OK;
}
