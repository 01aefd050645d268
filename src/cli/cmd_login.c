#include "cli_session.h"
#include "cmd.h"
#include "prompt.h"

#include <errno.h>
#include <igtcloud/igtcloud.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: igtcloud login [OPTIONS]\n"
    "\n"
    "  Log in to Philips Interventional Cloud, publish the session in the token\n"
    "  file for other commands and programs, and keep it fresh until interrupted\n"
    "  (Ctrl+C, SIGTERM or SIGHUP log out and delete the token file).\n"
    "\n"
    "Options:\n"
    "  -d, --domain DOMAIN     PROD, TEST, a host or a URL (default: $CLOUD_DOMAIN,\n"
    "                          else asked on the terminal)\n"
    "  -u, --user USER         user name, or the service id with -s (default:\n"
    "                          $CLOUD_USERNAME, else asked on the terminal)\n"
    "  -s, --service-key FILE  log in as a service identity with this PEM private\n"
    "                          key; the service id defaults to FILE's name without\n"
    "                          its extension\n"
    "      --password-stdin    read the password from the first line of standard\n"
    "                          input instead of asking on the terminal\n"
    "      --cacert FILE       trust the CA certificates in FILE (PEM)\n"
    "      --debug             log every request (method, URL, status) to stderr\n"
    "      --help              Show this message and exit.\n"
    "\n"
    "Environment:\n"
    "  CLOUD_TOKEN_MMAP  the token file (default: $XDG_RUNTIME_DIR/igtcloud-token,\n"
    "                    else $TMPDIR/igtcloud-token-<uid>); see docs/login.md\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int signo)
{
    (void)signo;
    stop_requested = 1;
}

/* A positive number of seconds from a test-only environment variable, or 0. */
static int env_seconds(long *out, const char *name)
{
    const char *v = getenv(name);
    *out = 0;
    if (!v || !*v)
        return 0;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n <= 0 || n > 86400)
        return -1;
    *out = n;
    return 0;
}

int cmd_login(int argc, char **argv)
{
    struct cli_session_args sargs;
    char domain_buf[512], user_buf[256];
    igtcloud_session *session = NULL;
    int rc = CLI_EXIT_OK;
    memset(&sargs, 0, sizeof(sargs));

    for (int i = 1; i < argc; i++) {
        int missing = 0;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        }
        if (cli_session_option(&sargs, argc, argv, &i, &missing) ||
            cli_take_value(&sargs.service_key, argc, argv, &i, "-s", "--service-key",
                           &missing)) {
            if (missing)
                return cli_usage_error("login", "option '%s' needs a value", argv[i]);
            continue;
        }
        if (cli_password_in_argv(argv[i]))
            return cli_usage_error("login", "passwords are never taken from the command line; "
                                            "use --password-stdin or the prompt");
        else if (argv[i][0] == '-')
            return cli_usage_error("login", "no such option '%s'", argv[i]);
        else
            return cli_usage_error("login", "unexpected argument '%s'", argv[i]);
    }

    long margin = 0, window = 0;
    if (env_seconds(&margin, "IGTCLOUD_REFRESH_MARGIN"))
        return cli_usage_error("login", "IGTCLOUD_REFRESH_MARGIN must be seconds (1-86400)");
    if (env_seconds(&window, "IGTCLOUD_RETRY_WINDOW"))
        return cli_usage_error("login", "IGTCLOUD_RETRY_WINDOW must be seconds (1-86400)");

    cli_catch_signals(on_signal, 1);
    const char *domain = sargs.domain, *user = sargs.user, *key = sargs.service_key;
    if (!domain || !*domain)
        domain = getenv("CLOUD_DOMAIN");
    if (!domain || !*domain) {
        int prc = cli_prompt(domain_buf, sizeof(domain_buf), "Provide domain: ", 0);
        if (prc == CLI_PROMPT_NO_TERMINAL)
            return cli_usage_error("login", "no domain given: use -d DOMAIN or set CLOUD_DOMAIN");
        if (prc != CLI_PROMPT_OK || !domain_buf[0])
            return cli_usage_error("login", "no domain given");
        domain = domain_buf;
    }
    if (!key && (!user || !*user))
        user = getenv("CLOUD_USERNAME");
    if (!key && (!user || !*user)) {
        int prc = cli_prompt(user_buf, sizeof(user_buf), "Username: ", 0);
        if (prc == CLI_PROMPT_NO_TERMINAL)
            return cli_usage_error("login", "no user given: use -u USER or set CLOUD_USERNAME");
        if (prc != CLI_PROMPT_OK || !user_buf[0])
            return cli_usage_error("login", "no user given");
        user = user_buf;
    }

    struct cli_password pw;
    memset(&pw, 0, sizeof(pw));
    pw.from_stdin = sargs.password_stdin;
    pw.no_terminal = "no terminal to ask the password on; use --password-stdin "
                     "(see 'igtcloud login --help')";
    pw.stop = &stop_requested;
    igtcloud_session_options opts = IGTCLOUD_SESSION_OPTIONS_INIT;
    opts.domain = domain;
    opts.flags = IGTCLOUD_SESSION_NO_REUSE;
    opts.ca_file = sargs.cacert;
    if (key) {
        opts.service_key_path = key;
        opts.service_id = user;
    } else {
        opts.user = user;
        opts.password_cb = cli_password_cb;
        opts.password_payload = &pw;
    }
    if (sargs.debug)
        opts.debug_cb = cli_debug_line;

    int status = igtcloud_session_open(&session, &opts);
    cli_wipe(pw.value, sizeof(pw.value));
    if (status < 0)
        return cli_session_failed(status, &opts, &pw);
    if (stop_requested)
        goto done;

    status = igtcloud_session_publish(session, NULL);
    if (status < 0) {
        rc = cli_report_error(status);
        goto done;
    }
    char path[4096];
    if (igtcloud_token_file_path(path, sizeof(path), NULL) < 0)
        snprintf(path, sizeof(path), "the token file");
    fprintf(stderr, "Logged in to %s as %s; session published in %s. Press Ctrl+C to log out.\n",
            igtcloud_session_domain(session), igtcloud_session_user(session), path);

    igtcloud_keep_alive_options keep = IGTCLOUD_KEEP_ALIVE_OPTIONS_INIT;
    keep.refresh_margin = margin;
    keep.retry_window = window;
    keep.stop = &stop_requested;
    status = igtcloud_session_keep_alive(session, &keep);
    igtcloud_session_unpublish(session);
    if (status < 0) {
        rc = cli_report_error(status);
        goto done;
    }
    /* Log out before saying so: a cloud gone meanwhile leaves the JWT alive until it expires. */
    if (igtcloud_session_logout(session) < 0)
        fprintf(stderr, "igtcloud: token file removed, but the logout failed: %s\n",
                igtcloud_error_last()->message);
    else
        fprintf(stderr, "Logged out; token file removed.\n");
done:
    igtcloud_session_free(session);
    return rc;
}
