#include "cmd.h"

#include <igtcloud/igtcloud.h>
#include <signal.h>
#include <string.h>

static const struct cli_cmd cli_cmds[] = {
    { "csv", cmd_csv, "List data from Philips Interventional Cloud in CSV file" },
    { "download", cmd_download, "Download data from Philips Interventional Cloud" },
    { "get-token", cmd_get_token, "Get token for Philips Interventional Cloud" },
    { "login", cmd_login, "Login to Philips Interventional Cloud" },
    { "upgrade", cmd_upgrade, "Upgrade this tool to a new version" },
    { "upload", cmd_upload, "Upload data to Philips Interventional Cloud" },
    { "version", cmd_version, "Print version of this tool" },
};

static void print_help(FILE *out)
{
    fputs("Usage: igtcloud [OPTIONS] COMMAND [ARGS]...\n"
          "\n"
          "  Philips Interventional Cloud CLI\n"
          "\n"
          "Options:\n"
          "  --version  Print the version and exit.\n"
          "  --help     Show this message and exit.\n"
          "\n"
          "Commands:\n", out);
    for (size_t i = 0; i < sizeof(cli_cmds) / sizeof(cli_cmds[0]); i++)
        fprintf(out, "  %-10s %s\n", cli_cmds[i].name, cli_cmds[i].summary);
    fputs("\nUse igtcloud [command] --help for more information about a command\n", out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return CLI_EXIT_USAGE;
    }
    if (cli_is_help(argv[1])) {
        print_help(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(1, argv + 1);

    for (size_t i = 0; i < sizeof(cli_cmds) / sizeof(cli_cmds[0]); i++) {
        if (strcmp(argv[1], cli_cmds[i].name) != 0)
            continue;
        /* Past a file size limit (ulimit -f) a write fails with EFBIG, which
         * is reported with the file's name, instead of killing the process. */
        signal(SIGXFSZ, SIG_IGN);
        if (igtcloud_global_init() < 0)
            return cli_report_error(igtcloud_error_last()->code);
        int rc = cli_cmds[i].fn(argc - 1, argv + 1);
        igtcloud_global_shutdown();
        return rc;
    }
    return cli_usage_error(NULL, "no such command '%s'", argv[1]);
}
