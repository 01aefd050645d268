#include "cmd.h"

#include <igtcloud/igtcloud.h>
#include <string.h>

static const char usage[] =
    "Usage: igtcloud upgrade [OPTIONS] [VERSION]\n"
    "\n"
    "  Upgrade this tool to the latest release, or to VERSION (older ones too).\n"
    "  The release is downloaded beside this program, checked against the\n"
    "  SHA-256 the release feed gives, and moved into place in one step; the\n"
    "  old program is kept as <program>.bak. Nothing is replaced on any error.\n"
    "\n"
    "Options:\n"
    "      --feed URL     the release feed (default: $IGTCLOUD_UPGRADE_FEED, else\n"
    "                     the feed this build was configured with)\n"
    "      --check        only say whether another version is available\n"
    "      --cacert FILE  trust the CA certificates in FILE (PEM)\n"
    "      --help         Show this message and exit.\n"
    "\n"
    "Exit status: 0 upgraded or already up to date, 2 usage, 4 no such version\n"
    "or no build for this platform, 5 network, 7 no permission to replace the\n"
    "program, 8 bad feed or checksum mismatch (see docs/exit-codes.md).\n";

int cmd_upgrade(int argc, char **argv)
{
    igtcloud_upgrade_options opts = IGTCLOUD_UPGRADE_OPTIONS_INIT;
    igtcloud_upgrade_result res;
    int missing = 0;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (cli_is_help(arg)) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        }
        if (cli_take_value(&opts.feed_url, argc, argv, &i, NULL, "--feed", &missing) ||
            cli_take_value(&opts.ca_file, argc, argv, &i, NULL, "--cacert", &missing)) {
            if (missing)
                return cli_usage_error("upgrade", "option '%s' needs a value", arg);
            continue;
        }
        if (strcmp(arg, "--check") == 0)
            opts.check_only = 1;
        else if (arg[0] == '-' && arg[1] != '\0')
            return cli_usage_error("upgrade", "no such option '%s'", arg);
        else if (opts.target_version)
            return cli_usage_error("upgrade", "unexpected argument '%s'", arg);
        else
            opts.target_version = arg;
    }
    if (opts.feed_url && !*opts.feed_url)
        return cli_usage_error("upgrade", "--feed needs a URL");

    int rc = igtcloud_upgrade(&res, &opts);
    if (rc)
        return cli_report_error(rc);
    switch (res.outcome) {
    case IGTCLOUD_UPGRADE_UP_TO_DATE:
        if (opts.target_version)
            printf("igtcloud is already at version %s\n", res.from_version);
        else
            printf("igtcloud %s is already at the latest version\n", res.from_version);
        break;
    case IGTCLOUD_UPGRADE_AVAILABLE:
        printf("igtcloud %s is available (this is %s); 'igtcloud upgrade%s%s' installs it\n",
               res.to_version, res.from_version, opts.target_version ? " " : "",
               opts.target_version ? opts.target_version : "");
        break;
    case IGTCLOUD_UPGRADE_REPLACED:
        printf("Upgraded igtcloud from %s to %s\n"
               "  program: %s\n"
               "  backup:  %s (the previous version)\n"
               "  source:  %s (%llu bytes, SHA-256 verified)\n",
               res.from_version, res.to_version, res.program_path, res.backup_path, res.url,
               res.size);
        break;
    }
    return CLI_EXIT_OK;
}
