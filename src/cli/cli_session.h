#ifndef IGTCLOUD_CLI_SESSION_H
#define IGTCLOUD_CLI_SESSION_H

#include "password.h"

#include <igtcloud/igtcloud.h>

/* The session options of the commands that log in, as given on the command line. */
struct cli_session_args {
    const char *domain;       /* --domain */
    const char *environment;  /* positional PROD|TEST (upload: any domain), or NULL */
    const char *user;         /* --user; with a service key, the service id */
    const char *service_key;  /* --service-key (login, upload), or NULL */
    const char *cacert;       /* --cacert */
    int password_stdin;
    int debug;
};

/*
 * Take argv[*i] when it is one of the shared session options: -d/--domain,
 * -u/--user, --cacert (values, as cli_take_value), --password-stdin, --debug.
 * Returns 1 when it was one (check *missing), else 0.
 */
int cli_session_option(struct cli_session_args *args, int argc, char **argv, int *i,
                       int *missing);

/*
 * download, csv (the reference's smart_auth): reuse the token file of a running
 * `igtcloud login` (same host, valid, same user), else log in with a password
 * from the terminal or standard input; the domain defaults to PROD and a
 * missing user is asked on the terminal. Returns CLI_EXIT_OK with *out set, or
 * the exit code after printing why.
 */
int cli_session_open(igtcloud_session **out, const struct cli_session_args *args);

/*
 * upload: log in as the service identity of args->service_key, or as the user
 * with the password from pw (kept there for a later use) when both user and
 * domain are known; otherwise only reuse a running `igtcloud login`.
 * Returns CLI_EXIT_OK with *out set, or the exit code after printing why.
 */
int cli_session_open_or_reuse(igtcloud_session **out, const struct cli_session_args *args,
                              struct cli_password *pw);

/*
 * Print why igtcloud_session_open(opts) failed with status, once, and return
 * the exit code: the password's problem, an interruption (pw->stop), a missing
 * login for IGTCLOUD_SESSION_REUSE_ONLY, else the library's error.
 */
int cli_session_failed(int status, const igtcloud_session_options *opts,
                       const struct cli_password *pw);

/* The debug callback of --debug: "igtcloud: debug: <line>" on stderr. */
void cli_debug_line(const char *line, void *payload);

#endif
