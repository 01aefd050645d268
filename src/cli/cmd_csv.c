#include "cli_session.h"
#include "cmd.h"
#include "selection.h"

#include <igtcloud/igtcloud.h>
#include <igtcloud/csv.h>
#include <string.h>

static const char usage[] =
    "Usage: igtcloud csv [OPTIONS] TARGET PROJECT [INSTITUTE|*] [PROD|TEST]\n"
    "\n"
    "  List data from Philips Interventional Cloud in a CSV file: one row per\n"
    "  study into TARGET/cloud_<project name>.csv (TARGET/cloud_<institute id>.csv\n"
    "  for one institute). An existing file is appended to, with its header's columns.\n"
    "\n"
    "Options:\n"
    "  -d, --domain DOMAIN     PROD, TEST, a host or a URL (default: the positional\n"
    "                          PROD|TEST, else $CLOUD_DOMAIN, else PROD)\n"
    "  -u, --user USER         user name (default: $CLOUD_USERNAME)\n"
    "      --files             one row per file, with filename and filesize columns\n"
    "      --ext EXT           with --files: only files with this extension (repeatable)\n"
    "      --start YYYY-MM-DD  only studies on or after this day\n"
    "      --end YYYY-MM-DD    only studies on or before this day\n"
    "      --password-stdin    read the password from standard input\n"
    "      --cacert FILE       trust the CA certificates in FILE (PEM)\n"
    "      --debug             log every API request (never tokens)\n"
    "      --help              Show this message and exit.\n";

int cmd_csv(int argc, char **argv)
{
    struct cli_selection sel;
    struct cli_session_args sargs;
    igtcloud_csv_options opts = IGTCLOUD_CSV_OPTIONS_INIT;
    igtcloud_session *session = NULL;
    igtcloud_project *project = NULL;
    int rc = CLI_EXIT_OK;
    memset(&sel, 0, sizeof(sel));
    memset(&sargs, 0, sizeof(sargs));

    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        }
        if (cli_session_option(&sargs, argc, argv, &i, &missing)) {
            if (missing)
                return cli_usage_error("csv", "option '%s' needs a value", a);
            continue;
        }
        int took = cli_selection_option(&sel, "csv", argc, argv, &i);
        if (took < 0)
            return CLI_EXIT_USAGE;
        if (took)
            continue;
        if (strcmp(a, "--files") == 0)
            opts.files = 1;
        else if (a[0] == '-' && a[1] != '\0')
            return cli_usage_error("csv", "no such option '%s'", a);
        else if (cli_selection_arg(&sel, "csv", a))
            return CLI_EXIT_USAGE;
    }
    if (cli_selection_check(&sel, "csv"))
        return CLI_EXIT_USAGE;
    sargs.environment = sel.environment;
    opts.extensions = sel.nexts ? sel.exts : NULL;
    opts.start_day = sel.start_day;
    opts.end_day = sel.end_day;

    rc = cli_session_open(&session, &sargs);
    if (rc != CLI_EXIT_OK)
        return rc;
    int status = igtcloud_project_find(&project, session, sel.pos[1]);
    igtcloud_csv_summary sum;
    memset(&sum, 0, sizeof(sum));
    if (status == 0)
        status = igtcloud_csv_write(&sum, session, sel.pos[0], project,
                                    sel.npos >= 3 ? sel.pos[2] : "*", &opts);
    if (status < 0) {
        rc = cli_report_error(status);
        goto done;
    }
    if (sum.path[0])
        fprintf(stderr, "%s %zu rows (%zu studies) %s %s\n", sum.appended ? "Appended" : "Wrote",
                sum.rows, sum.studies, sum.appended ? "to" : "in", sum.path);
    else
        fprintf(stderr, "No studies to list\n");
done:
    igtcloud_project_free(project);
    igtcloud_session_free(session);
    return rc;
}
