#include "cli_session.h"
#include "cmd.h"
#include "prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_session_option(struct cli_session_args *a, int argc, char **argv, int *i, int *missing)
{
    if (cli_take_value(&a->domain, argc, argv, i, "-d", "--domain", missing) ||
        cli_take_value(&a->user, argc, argv, i, "-u", "--user", missing) ||
        cli_take_value(&a->cacert, argc, argv, i, NULL, "--cacert", missing))
        return 1;
    if (strcmp(argv[*i], "--password-stdin") == 0)
        a->password_stdin = 1;
    else if (strcmp(argv[*i], "--debug") == 0)
        a->debug = 1;
    else
        return 0;
    return 1;
}

void cli_debug_line(const char *line, void *payload)
{
    (void)payload;
    fprintf(stderr, "igtcloud: debug: %s\n", line);
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

/* Shared by both ways of opening: the domain (--domain, the positional, then
 * $CLOUD_DOMAIN), the CA file and --debug. */
static void options_init(igtcloud_session_options *opts, const struct cli_session_args *a)
{
    igtcloud_session_options init = IGTCLOUD_SESSION_OPTIONS_INIT;
    *opts = init;
    opts->domain = nonempty(a->domain);
    if (!opts->domain)
        opts->domain = nonempty(a->environment);
    if (!opts->domain)
        opts->domain = nonempty(getenv("CLOUD_DOMAIN"));
    opts->ca_file = a->cacert;
    if (a->debug)
        opts->debug_cb = cli_debug_line;
}

/*
 * download, csv and upload logging in for themselves: whatever keeps the
 * password from us means "not logged in" (exit 3).
 */
static int ask_password(char *buf, size_t size, const char *user, const char *host, void *payload)
{
    struct cli_password *pw = payload;
    pw->no_terminal = "not logged in and no terminal to ask the password on; run "
                      "'igtcloud login' or use --password-stdin";
    int rc = cli_password_cb(buf, size, user, host, pw);
    if (rc && pw->exit_code == CLI_EXIT_USAGE)
        pw->exit_code = CLI_EXIT_AUTH;
    return rc;
}

int cli_session_open(igtcloud_session **out, const struct cli_session_args *a)
{
    char user_buf[256];
    struct cli_password pw;
    igtcloud_session_options opts;
    memset(&pw, 0, sizeof(pw));
    pw.from_stdin = a->password_stdin;
    options_init(&opts, a);
    if (!opts.domain)
        opts.domain = "PROD";
    const char *user = nonempty(a->user);
    if (!user)
        user = nonempty(getenv("CLOUD_USERNAME"));
    if (!user) {
        /* No user known: only a running `igtcloud login` can help, else ask who. */
        opts.flags = IGTCLOUD_SESSION_REUSE_ONLY;
        if (igtcloud_session_open(out, &opts) == 0)
            return CLI_EXIT_OK;
        opts.flags = 0;
        int prc = cli_prompt(user_buf, sizeof(user_buf), "Username: ", 0);
        if (prc != CLI_PROMPT_OK || !user_buf[0]) {
            fprintf(stderr, "igtcloud: not logged in: run 'igtcloud login', or give --user "
                            "(or CLOUD_USERNAME)\n");
            return CLI_EXIT_AUTH;
        }
        user = user_buf;
    }
    opts.user = user;
    opts.password_cb = ask_password;
    opts.password_payload = &pw;
    int status = igtcloud_session_open(out, &opts);
    return status < 0 ? cli_session_failed(status, &opts, &pw) : CLI_EXIT_OK;
}

int cli_session_open_or_reuse(igtcloud_session **out, const struct cli_session_args *a,
                              struct cli_password *pw)
{
    igtcloud_session_options opts;
    options_init(&opts, a);
    if (a->service_key) {
        opts.service_key_path = a->service_key;
        opts.service_id = a->user;
        opts.flags = IGTCLOUD_SESSION_NO_REUSE;
    } else {
        opts.user = nonempty(a->user);
        if (!opts.user)
            opts.user = nonempty(getenv("CLOUD_USERNAME"));
        opts.password_cb = ask_password;
        opts.password_payload = pw;
        /* Without a user or a domain only a running `igtcloud login` can help. */
        if (!opts.user || !opts.domain)
            opts.flags = IGTCLOUD_SESSION_REUSE_ONLY;
    }
    int status = igtcloud_session_open(out, &opts);
    return status < 0 ? cli_session_failed(status, &opts, pw) : CLI_EXIT_OK;
}

int cli_session_failed(int status, const igtcloud_session_options *opts,
                       const struct cli_password *pw)
{
    if (pw->problem) {
        fprintf(stderr, "igtcloud: %s\n", pw->problem);
        return pw->exit_code;
    }
    if (pw->stop && *pw->stop)
        return CLI_EXIT_INTERRUPTED;
    if (opts->flags == IGTCLOUD_SESSION_REUSE_ONLY) {
        fprintf(stderr, "igtcloud: not logged in (%s); run 'igtcloud login' or give "
                        "-d DOMAIN and -u USER\n", igtcloud_error_last()->message);
        return CLI_EXIT_AUTH;
    }
    return cli_report_error(status);
}
