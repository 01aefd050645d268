#ifndef IGTCLOUD_CLI_SESSION_H
#define IGTCLOUD_CLI_SESSION_H

#include <igtcloud/igtcloud.h>

/* How data commands (download, csv) open their session, like the reference's smart_auth. */
struct cli_session_args {
    const char *command;      /* for messages */
    const char *domain;       /* --domain */
    const char *environment;  /* positional PROD|TEST, or NULL */
    const char *user;         /* --user */
    const char *cacert;       /* --cacert */
    int password_stdin;
    int debug;
};

/*
 * Reuse the token file of a running `igtcloud login` (same host, valid, same
 * user), else log in with a password from the terminal or standard input.
 * Returns CLI_EXIT_OK with *out set, or the exit code after printing why.
 */
int cli_session_open(igtcloud_session **out, const struct cli_session_args *args);

/* The debug callback of --debug: "igtcloud: debug: <line>" on stderr. */
void cli_debug_line(const char *line, void *payload);

#endif
