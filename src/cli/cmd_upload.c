#include "cli_session.h"
#include "cmd.h"
#include "progress.h"
#include "prompt.h"

#include <igtcloud/igtcloud.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>

static const char usage[] =
    "Usage: igtcloud upload [OPTIONS] LOCAL PROJECT [INSTITUTE|*] [PROD|TEST]\n"
    "       igtcloud upload --dicom [OPTIONS] FOLDER PROJECT INSTITUTE [PROD|TEST]\n"
    "\n"
    "  Upload data to Philips Interventional Cloud. LOCAL/files/** become project\n"
    "  files; each LOCAL/<institute name>/<study folder> (flat) or\n"
    "  LOCAL/<institute name>/<patient>/<study> (hierarchical) goes to the study it\n"
    "  matches (by study.json, the folder name or the study key), which is created\n"
    "  when there is none. Other folders are ignored. Files already complete with\n"
    "  the same size are skipped.\n"
    "\n"
    "  With --dicom, every DICOM file below FOLDER is imported into INSTITUTE: the\n"
    "  cloud files it into its patient, study and series from the DICOM header.\n"
    "\n"
    "Options:\n"
    "  -d, --domain DOMAIN          PROD, TEST, a host or a URL (default: the 4th\n"
    "                               argument, $CLOUD_DOMAIN, or the login's domain)\n"
    "  -u, --user USER              user name (default: $CLOUD_USERNAME)\n"
    "  -s, --service-key FILE       upload as a service identity with this PEM key\n"
    "      --submit                 set each uploaded study to submitted (asks the\n"
    "                               password once)\n"
    "      --password-stdin         read the password from standard input\n"
    "      --category CATEGORY      files (default) or annotations (JSON files are\n"
    "                               validated before anything is sent)\n"
    "      --folder-structure FS    flat (default) or hierarchical\n"
    "      --dicom                  import the DICOM files below FOLDER (others are\n"
    "                               reported and skipped) and list the studies the\n"
    "                               cloud filed them into\n"
    "      --concurrent-studies N   studies in parallel (default 4)\n"
    "      --concurrent-files N     files per study in parallel (default 4)\n"
    "      --checksum ALGORITHM     integrity header the server checks: crc32c (default;\n"
    "                               see docs/upload.md), md5 (for S3 servers that do\n"
    "                               not check CRC32C) or sha256\n"
    "  -n, --dry-run                look up and check everything, send nothing\n"
    "  -q, --quiet                  no progress and no summary; errors only\n"
    "  -v, --verbose                one line per file\n"
    "      --cacert FILE            trust the CA certificates in FILE (PEM)\n"
    "      --s3-endpoint URL        S3 endpoint to use (default: $AWS_ENDPOINT_URL_S3,\n"
    "                               $AWS_ENDPOINT_URL, else the cloud's)\n"
    "      --debug                  log every request (method, URL, status) to stderr\n"
    "      --help                   Show this message and exit.\n"
    "\n"
    "Exit codes: see docs/exit-codes.md (6: some files failed, listed above).\n";

static volatile sig_atomic_t stop_requested;
static igtcloud_upload *running;

static void on_signal(int signo)
{
    (void)signo;
    stop_requested = 1;
    if (running)
        igtcloud_upload_cancel(running);
}

struct view {
    int quiet, verbose, dry_run;
    cli_progress *progress;   /* the bar shared with download; NULL: plain lines */
};

static int on_progress(const igtcloud_transfer_progress *p, void *payload)
{
    struct view *v = payload;
    if (stop_requested)
        return 1;   /* a DICOM import has no run object to cancel; this stops its engine */
    cli_progress_update(v->progress, p->bytes_done, p->bytes_total, p->files_done,
                        p->files_total);
    return 0;
}

static void on_event(const igtcloud_upload_event *e, void *payload)
{
    struct view *v = payload;
    char size[32];
    cli_format_bytes(size, sizeof(size), (double)e->size);
    switch (e->kind) {
    case IGTCLOUD_UPLOAD_EVENT_IGNORED:
        if (!v->quiet)
            cli_progress_line(v->progress, "igtcloud: ignored %s: %s", e->path, e->message);
        break;
    case IGTCLOUD_UPLOAD_EVENT_STUDY_FOUND:
        if (v->verbose)
            cli_progress_line(v->progress, "%s/%s: existing study %s", e->institute, e->study,
                              e->message);
        break;
    case IGTCLOUD_UPLOAD_EVENT_STUDY_CREATED:
        if (!v->quiet || v->dry_run)
            fprintf(v->dry_run ? stdout : stderr, "%s/%s: %s%s\n", e->institute, e->study,
                    v->dry_run ? "" : "created study ", e->message);
        break;
    case IGTCLOUD_UPLOAD_EVENT_FILE_SKIPPED:
        if (v->verbose)
            cli_progress_line(v->progress, "skipped %s (%s)", e->path, e->message);
        break;
    case IGTCLOUD_UPLOAD_EVENT_FILE_PLANNED:
        printf("would upload %s -> %s (%s)\n", e->path, e->key, size);
        break;
    case IGTCLOUD_UPLOAD_EVENT_FILE_DONE:
        if (v->verbose)
            cli_progress_line(v->progress, "uploaded %s -> %s (%s)", e->path, e->key, size);
        break;
    case IGTCLOUD_UPLOAD_EVENT_FILE_FAILED:
        cli_progress_line(v->progress, "igtcloud: failed %s: %s", e->path, e->message);
        break;
    case IGTCLOUD_UPLOAD_EVENT_STUDY_SUBMITTED:
        if (!v->quiet)
            cli_progress_line(v->progress, "%s/%s: submitted", e->institute, e->study);
        break;
    case IGTCLOUD_UPLOAD_EVENT_STUDY_FAILED:
        cli_progress_line(v->progress, "igtcloud: study %s/%s: %s", e->institute, e->study,
                          e->message);
        break;
    case IGTCLOUD_UPLOAD_EVENT_DICOM_STUDY:
        if (!v->quiet)
            printf("%s/%s: %" PRIu64 " file(s), %s study %s\n", e->institute, e->study, e->size,
                   e->message, e->key);
        break;
    case IGTCLOUD_UPLOAD_EVENT_DICOM_REJECTED:
        cli_progress_line(v->progress, "igtcloud: not filed %s: %s", e->path, e->message);
        break;
    }
}

/* upload --dicom: the import, then what the cloud filed where. */
static int dicom_import(igtcloud_session *session, const char *project, const char *institute,
                        const char *folder, const igtcloud_upload_options *uo,
                        struct view *view)
{
    igtcloud_dicom_import_summary sum;
    int status = stop_requested ? IGTCLOUD_ECANCELLED
                                : igtcloud_upload_dicom_import(&sum, session, project, institute,
                                                               folder, uo);
    cli_progress_finish(view->progress);
    if (status == IGTCLOUD_ECANCELLED)
        return cli_report_error(status);
    if (!view->quiet && (status == 0 || status == IGTCLOUD_EPARTIAL)) {
        char bytes[32];
        cli_format_bytes(bytes, sizeof(bytes), (double)sum.bytes_uploaded);
        if (sum.files_found == 0)
            fprintf(stderr, "No DICOM files under %s; nothing sent (%zu other file(s) "
                            "skipped)\n", folder, sum.files_not_dicom);
        else if (view->dry_run)
            fprintf(stderr, "Would import %zu DICOM file(s) (%zu other file(s) skipped)\n",
                    sum.files_found, sum.files_not_dicom);
        else if (sum.server_reported)
            fprintf(stderr, "Imported %zu DICOM file(s) (%s) as %s, %zu failed, %zu other "
                            "file(s) skipped; the cloud filed %zu into %zu studies (%zu new), "
                            "%zu not filed\n", sum.files_uploaded, bytes, sum.uploaded_path,
                    sum.files_failed, sum.files_not_dicom, sum.files_filed, sum.studies,
                    sum.studies_created, sum.files_rejected);
        else
            fprintf(stderr, "Imported %zu DICOM file(s) (%s) as %s, %zu failed, %zu other "
                            "file(s) skipped; the cloud is filing them\n", sum.files_uploaded,
                    bytes, sum.uploaded_path, sum.files_failed, sum.files_not_dicom);
    }
    return status < 0 ? cli_report_error(status) : CLI_EXIT_OK;
}

int cmd_upload(int argc, char **argv)
{
    const char *category = NULL, *structure = NULL, *cs = NULL, *cf = NULL, *checksum = NULL;
    const char *positional[4] = { NULL, NULL, NULL, NULL };
    int npos = 0, submit = 0, dicom = 0;
    struct cli_session_args sargs;
    struct view view;
    struct cli_password pw;
    igtcloud_session *session = NULL;
    igtcloud_upload *upload = NULL;
    int rc = CLI_EXIT_OK;
    memset(&view, 0, sizeof(view));
    memset(&sargs, 0, sizeof(sargs));
    memset(&pw, 0, sizeof(pw));
    igtcloud_upload_options uo = IGTCLOUD_UPLOAD_OPTIONS_INIT;

    for (int i = 1; i < argc; i++) {
        int missing = 0;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        }
        if (cli_session_option(&sargs, argc, argv, &i, &missing) ||
            cli_take_value(&sargs.service_key, argc, argv, &i, "-s", "--service-key",
                           &missing) ||
            cli_take_value(&category, argc, argv, &i, NULL, "--category", &missing) ||
            cli_take_value(&structure, argc, argv, &i, NULL, "--folder-structure", &missing) ||
            cli_take_value(&cs, argc, argv, &i, NULL, "--concurrent-studies", &missing) ||
            cli_take_value(&cf, argc, argv, &i, NULL, "--concurrent-files", &missing) ||
            cli_take_value(&checksum, argc, argv, &i, NULL, "--checksum", &missing) ||
            cli_take_value(&uo.s3_endpoint, argc, argv, &i, NULL, "--s3-endpoint", &missing)) {
            if (missing)
                return cli_usage_error("upload", "option '%s' needs a value", argv[i]);
            continue;
        }
        if (strcmp(argv[i], "--submit") == 0)
            submit = 1;
        else if (strcmp(argv[i], "--dicom") == 0)
            dicom = 1;
        else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
            view.quiet = 1;
        else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0)
            view.verbose = 1;
        else if (strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--dry-run") == 0)
            view.dry_run = 1;
        else if (cli_password_in_argv(argv[i]))
            return cli_usage_error("upload", "passwords are never taken from the command line; "
                                             "use --password-stdin or the prompt");
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return cli_usage_error("upload", "no such option '%s'", argv[i]);
        else if (npos < 4)
            positional[npos++] = argv[i];
        else
            return cli_usage_error("upload", "unexpected argument '%s'", argv[i]);
    }
    if (npos < 2)
        return cli_usage_error("upload", "LOCAL and PROJECT are required");
    if (category && strcmp(category, "files") != 0 && strcmp(category, "annotations") != 0)
        return cli_usage_error("upload", "--category must be files or annotations, not '%s'",
                               category);
    if (structure && strcmp(structure, "flat") != 0 && strcmp(structure, "hierarchical") != 0)
        return cli_usage_error("upload", "--folder-structure must be flat or hierarchical, "
                                         "not '%s'", structure);
    if (cs && cli_parse_count(&uo.concurrent_studies, cs, 64))
        return cli_usage_error("upload", "--concurrent-studies must be a number from 1 to 64");
    if (cf && cli_parse_count(&uo.concurrent_files, cf, 64))
        return cli_usage_error("upload", "--concurrent-files must be a number from 1 to 64");
    if (checksum) {
        if (strcmp(checksum, "md5") == 0)
            uo.checksum = IGTCLOUD_CHECKSUM_MD5;
        else if (strcmp(checksum, "crc32c") == 0)
            uo.checksum = IGTCLOUD_CHECKSUM_CRC32C;
        else if (strcmp(checksum, "sha256") == 0)
            uo.checksum = IGTCLOUD_CHECKSUM_SHA256;
        else
            return cli_usage_error("upload", "--checksum must be md5, crc32c or sha256, not '%s'",
                                   checksum);
    }
    if (uo.s3_endpoint && cli_check_url(uo.s3_endpoint))
        return cli_usage_error("upload", "--s3-endpoint must be an http:// or https:// URL, "
                                         "not '%s'", uo.s3_endpoint);
    if (dicom && checksum)
        return cli_usage_error("upload", "--dicom does not go with --checksum");
    if (dicom && (!positional[2] || strcmp(positional[2], "*") == 0))
        return cli_usage_error("upload", "--dicom needs one INSTITUTE to import into");
    if (dicom && (category || structure || submit))
        return cli_usage_error("upload", "--dicom does not go with --category, "
                                         "--folder-structure or --submit");
    if (submit && sargs.service_key)
        return cli_usage_error("upload", "--submit needs a user's password; a service identity "
                                         "cannot submit studies");
    if (positional[3] && sargs.domain && strcmp(positional[3], sargs.domain) != 0)
        return cli_usage_error("upload", "two domains given ('%s' and '%s')", positional[3],
                               sargs.domain);
    sargs.environment = positional[3];
    const char *local = positional[0], *project = positional[1], *institute = positional[2];

    cli_catch_signals(on_signal, 0);

    pw.from_stdin = sargs.password_stdin;
    /* Logging in, a missing password means "not logged in" (cli_session.c); here, for --submit. */
    pw.no_terminal = "--submit needs the password and there is no terminal to ask it on; "
                     "use --password-stdin";
    pw.stop = &stop_requested;
    rc = cli_session_open_or_reuse(&session, &sargs, &pw);
    if (rc != CLI_EXIT_OK)
        goto done;
    if (submit) {
        /* Asked once, before anything is sent, and shared with the login. */
        const char *domain_url = igtcloud_session_domain(session);
        const char *host = strstr(domain_url, "://");
        if (cli_password_get(&pw, igtcloud_session_user(session),
                             host ? host + 3 : domain_url)) {
            fprintf(stderr, "igtcloud: %s\n", pw.problem);
            rc = pw.exit_code;
            goto done;
        }
    }

    view.progress = cli_progress_new(dicom ? "imported" : "uploaded", view.quiet || view.dry_run);
    uo.hierarchical = structure && strcmp(structure, "hierarchical") == 0;
    uo.category = category && strcmp(category, "annotations") == 0 ? IGTCLOUD_UPLOAD_ANNOTATIONS
                                                                    : IGTCLOUD_UPLOAD_FILES;
    uo.dry_run = view.dry_run;
    uo.submit = submit;
    uo.submit_password = submit ? pw.value : NULL;
    uo.event_cb = on_event;
    uo.event_payload = &view;
    uo.progress_cb = on_progress;
    uo.progress_payload = &view;
    uo.ca_file = sargs.cacert;
    if (dicom) {
        rc = dicom_import(session, project, institute, local, &uo, &view);
        goto done;
    }
    int status = igtcloud_upload_new(&upload, session, project, &uo);
    if (status == 0)
        status = igtcloud_upload_add_tree(upload, local, institute);
    if (status == 0) {
        running = upload;
        status = stop_requested ? IGTCLOUD_ECANCELLED : igtcloud_upload_run(upload);
        running = NULL;
    }
    cli_progress_finish(view.progress);
    igtcloud_upload_summary sum;
    igtcloud_upload_summary_get(&sum, upload);
    if (upload && !view.quiet && (status == 0 || status == IGTCLOUD_EPARTIAL ||
                                  status == IGTCLOUD_ECANCELLED)) {
        char bytes[32];
        cli_format_bytes(bytes, sizeof(bytes), (double)sum.bytes_uploaded);
        fprintf(stderr, "%s %zu file(s) (%s), skipped %zu already complete, %zu failed; "
                        "studies: %zu found, %zu created, %zu submitted, %zu failed; "
                        "%zu ignored\n",
                view.dry_run ? "Would upload" : "Uploaded", sum.files_uploaded, bytes,
                sum.files_skipped, sum.files_failed, sum.studies_found, sum.studies_created,
                sum.studies_submitted, sum.studies_failed, sum.ignored);
    }
    if (status < 0)
        rc = cli_report_error(status);
done:
    cli_progress_free(view.progress);
    igtcloud_upload_free(upload);
    igtcloud_session_free(session);
    cli_wipe(pw.value, sizeof(pw.value));
    return rc;
}
