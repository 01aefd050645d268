#include "cli_session.h"
#include "cmd.h"
#include "progress.h"
#include "selection.h"

#include <igtcloud/igtcloud.h>
#include <igtcloud/download.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: igtcloud download [OPTIONS] TARGET PROJECT [INSTITUTE|*] [PROD|TEST]\n"
    "\n"
    "  Download data from Philips Interventional Cloud into TARGET: per study\n"
    "  TARGET/<institute>/<study folder>/ with study.json and the study's files.\n"
    "  Files already downloaded and verified are skipped; an interrupted run\n"
    "  resumes where it stopped.\n"
    "\n"
    "Options:\n"
    "  -d, --domain DOMAIN           PROD, TEST, a host or a URL (default: the\n"
    "                                positional PROD|TEST, else $CLOUD_DOMAIN, else PROD)\n"
    "  -u, --user USER               user name (default: $CLOUD_USERNAME; not needed\n"
    "                                while 'igtcloud login' runs)\n"
    "      --ext EXT                 only files with this extension (repeatable)\n"
    "      --start YYYY-MM-DD        only studies on or after this day\n"
    "      --end YYYY-MM-DD          only studies on or before this day\n"
    "      --category CATEGORY       files, dicom or annotations (repeatable; default\n"
    "                                files); with several, one subfolder each\n"
    "      --include-modified-date   set each file's time from S3 Last-Modified\n"
    "      --verify-multipart        check files of multipart uploads that carry no\n"
    "                                CRC32C checksum part by part against their ETag\n"
    "                                (MD5 of every byte; default: their size)\n"
    "      --project-files           download only the project files, to TARGET/files/\n"
    "      --folder-structure flat|hierarchical\n"
    "                                study folders 'patient---study' (flat, default)\n"
    "                                or 'patient/study'\n"
    "      --concurrent-studies N    studies in flight (default 4)\n"
    "      --concurrent-files N      files in flight per study (default 4)\n"
    "      --dry-run                 only count what would be downloaded\n"
    "  -q, --quiet                   no progress, only errors and the summary\n"
    "      --password-stdin          read the password from standard input\n"
    "      --cacert FILE             trust the CA certificates in FILE (PEM)\n"
    "      --s3-endpoint URL         S3 endpoint to use (default: $AWS_ENDPOINT_URL_S3,\n"
    "                                $AWS_ENDPOINT_URL, else the cloud's)\n"
    "      --debug                   log every API request (never tokens)\n"
    "      --help                    Show this message and exit.\n"
    "\n"
    "Exit status: 0 everything on disk and verified, 2 usage, 3 login, 4 project or\n"
    "institute not found, 6 some files failed (listed), 7 TARGET not writable,\n"
    "130 interrupted (see docs/exit-codes.md).\n";

static volatile sig_atomic_t interrupted;

static void on_signal(int signo)
{
    (void)signo;
    interrupted = 1;
}

struct ui {
    cli_progress *progress;
    int quiet;
    size_t failed_shown;
};

static int on_progress(const igtcloud_download_progress *p, void *payload)
{
    struct ui *ui = payload;
    cli_progress_update(ui->progress, p->bytes_done, p->bytes_total, p->files_done + p->files_skipped,
                        p->files_total + p->files_skipped);
    return interrupted;
}

static void on_study(const igtcloud_download_study_event *ev, void *payload)
{
    struct ui *ui = payload;
    cli_progress_item(ui->progress, ev->folder, ev->files_done, ev->files_total, ev->bytes_done,
                      ev->bytes_total, ev->state == IGTCLOUD_DOWNLOAD_STUDY_FINISHED);
}

static void on_file(const igtcloud_download_file_event *ev, void *payload)
{
    struct ui *ui = payload;
    if (ev->status == 0)
        return;
    ui->failed_shown++;
    cli_progress_line(ui->progress, "igtcloud: failed: %s: %s", ev->path, ev->message);
}

int cmd_download(int argc, char **argv)
{
    const char *structure = NULL, *category = NULL;
    const char *studies_s = NULL, *files_s = NULL;
    struct cli_selection sel;
    struct cli_session_args sargs;
    igtcloud_download_options opts = IGTCLOUD_DOWNLOAD_OPTIONS_INIT;
    igtcloud_session *session = NULL;
    igtcloud_project *project = NULL;
    struct ui ui = { NULL, 0, 0 };
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
        if (cli_session_option(&sargs, argc, argv, &i, &missing) ||
            cli_take_value(&structure, argc, argv, &i, NULL, "--folder-structure", &missing) ||
            cli_take_value(&studies_s, argc, argv, &i, NULL, "--concurrent-studies", &missing) ||
            cli_take_value(&files_s, argc, argv, &i, NULL, "--concurrent-files", &missing) ||
            cli_take_value(&opts.s3_endpoint, argc, argv, &i, NULL, "--s3-endpoint", &missing)) {
            if (missing)
                return cli_usage_error("download", "option '%s' needs a value", a);
            continue;
        }
        int took = cli_selection_option(&sel, "download", argc, argv, &i);
        if (took < 0)
            return CLI_EXIT_USAGE;
        if (took)
            continue;
        if (cli_take_value(&category, argc, argv, &i, NULL, "--category", &missing)) {
            igtcloud_category c;
            if (missing)
                return cli_usage_error("download", "option '%s' needs a value", a);
            if (igtcloud_category_parse(&c, category))
                return cli_usage_error("download", "invalid category '%s': choose files, dicom "
                                                   "or annotations", category);
            opts.categories |= (unsigned int)c;
            continue;
        }
        if (strcmp(a, "--include-modified-date") == 0)
            opts.include_modified_date = 1;
        else if (strcmp(a, "--verify-multipart") == 0)
            opts.verify_multipart = 1;
        else if (strcmp(a, "--project-files") == 0)
            opts.project_files = 1;
        else if (strcmp(a, "--dry-run") == 0)
            opts.dry_run = 1;
        else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0)
            ui.quiet = 1;
        else if (a[0] == '-' && a[1] != '\0' && strcmp(a, "*") != 0)
            return cli_usage_error("download", "no such option '%s'", a);
        else if (cli_selection_arg(&sel, "download", a))
            return CLI_EXIT_USAGE;
    }
    if (cli_selection_check(&sel, "download"))
        return CLI_EXIT_USAGE;
    sargs.environment = sel.environment;
    opts.start_day = sel.start_day;
    opts.end_day = sel.end_day;
    if (structure && strcmp(structure, "flat") != 0 && strcmp(structure, "hierarchical") != 0)
        return cli_usage_error("download", "invalid --folder-structure '%s': choose flat or "
                                           "hierarchical", structure);
    opts.hierarchical = structure && strcmp(structure, "hierarchical") == 0;
    if (studies_s && cli_parse_count(&opts.concurrent_studies, studies_s, 256))
        return cli_usage_error("download", "--concurrent-studies must be 1-256");
    if (files_s && cli_parse_count(&opts.concurrent_files, files_s, 256))
        return cli_usage_error("download", "--concurrent-files must be 1-256");
    opts.extensions = sel.nexts ? sel.exts : NULL;
    opts.ca_file = sargs.cacert;
    if (opts.s3_endpoint && cli_check_url(opts.s3_endpoint))
        return cli_usage_error("download", "--s3-endpoint must be an http:// or https:// URL, "
                                           "not '%s'", opts.s3_endpoint);

    cli_catch_signals(on_signal, 0);

    rc = cli_session_open(&session, &sargs);
    if (rc != CLI_EXIT_OK)
        return rc;
    int status = igtcloud_project_find(&project, session, sel.pos[1]);
    if (status < 0) {
        rc = cli_report_error(status);
        goto done;
    }
    ui.progress = cli_progress_new("downloaded", ui.quiet || opts.dry_run);
    opts.progress_cb = on_progress;
    opts.progress_payload = &ui;
    opts.study_cb = on_study;
    opts.study_payload = &ui;
    opts.file_cb = on_file;
    opts.file_payload = &ui;

    igtcloud_download_summary sum;
    memset(&sum, 0, sizeof(sum));
    status = igtcloud_download_project(&sum, session, sel.pos[0], project,
                                       sel.npos >= 3 ? sel.pos[2] : "*", &opts);
    cli_progress_finish(ui.progress);
    char bytes[32], skipped[32];
    cli_format_bytes(bytes, sizeof(bytes), (double)sum.bytes_downloaded);
    cli_format_bytes(skipped, sizeof(skipped), (double)sum.bytes_skipped);
    if (opts.dry_run)
        fprintf(stderr, "Dry run: %zu studies; would download %zu files (%s); %zu already "
                        "complete (%s); %zu refused\n",
                sum.studies, sum.files_downloaded, bytes, sum.files_skipped, skipped,
                sum.files_failed);
    else
        fprintf(stderr, "Downloaded %zu files (%s), skipped %zu (%s), failed %zu; %zu studies "
                        "in %.1f s\n",
                sum.files_downloaded, bytes, sum.files_skipped, skipped, sum.files_failed,
                sum.studies, sum.seconds);
    if (status < 0)
        rc = cli_report_error(status);
done:
    cli_progress_free(ui.progress);
    igtcloud_project_free(project);
    igtcloud_session_free(session);
    return rc;
}
