#ifndef IGTCLOUD_CLI_CMD_H
#define IGTCLOUD_CLI_CMD_H

#include <stdio.h>

/*
 * Exit codes of the igtcloud command, documented in docs/exit-codes.md.
 * Scripts branch on them, so they are never renumbered.
 */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1,   /* anything not listed below */
    CLI_EXIT_USAGE = 2,     /* bad command line */
    CLI_EXIT_AUTH = 3,      /* not logged in, login failed, token expired */
    CLI_EXIT_NOTFOUND = 4,  /* project, institute or study does not exist */
    CLI_EXIT_NETWORK = 5,   /* server unreachable, timeout, TLS failure */
    CLI_EXIT_PARTIAL = 6,   /* some files failed; the rest completed */
    CLI_EXIT_IO = 7,        /* local file system problem */
    CLI_EXIT_PROTOCOL = 8,  /* the server answered something unexpected */
    CLI_EXIT_INTERRUPTED = 130
};

typedef int (*cli_cmd_fn)(int argc, char **argv);

struct cli_cmd {
    const char *name;
    cli_cmd_fn fn;
    const char *summary;
};

int cmd_version(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_get_token(int argc, char **argv);
int cmd_download(int argc, char **argv);
int cmd_csv(int argc, char **argv);
int cmd_upload(int argc, char **argv);
int cmd_upgrade(int argc, char **argv);

/* Print "igtcloud: <message>" for the library's last error; return its exit code. */
int cli_report_error(int status);

/* Print "igtcloud: <message>" plus a --help hint and return CLI_EXIT_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Option parsing shared by the commands: "--name VALUE", "--name=VALUE" or
 * "-n VALUE" (shortname may be NULL). Returns 1 when argv[*i] is this option:
 * then *out is its value, or *missing is set when the value is absent.
 */
int cli_take_value(const char **out, int argc, char **argv, int *i, const char *shortname,
                   const char *longname, int *missing);

/* A whole number in [1, max] (--concurrent-studies and the like); 0 or -1. */
int cli_parse_count(unsigned int *out, const char *text, long max);

/* An http:// or https:// URL with a host (--s3-endpoint); 0 or -1. */
int cli_check_url(const char *text);

/* True when argv[i] asks for help. */
int cli_is_help(const char *arg);

/*
 * Call `handler` on SIGINT and SIGTERM, and on SIGHUP too with `hangup`;
 * without SA_RESTART, so that a blocked read or sleep notices the signal.
 */
void cli_catch_signals(void (*handler)(int), int hangup);

#endif
