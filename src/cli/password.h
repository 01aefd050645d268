#ifndef IGTCLOUD_CLI_PASSWORD_H
#define IGTCLOUD_CLI_PASSWORD_H

#include <signal.h>
#include <stddef.h>

/*
 * The password of one run, asked once (standard input or the terminal) and kept
 * for a second use (upload --submit). The command sets the first three fields,
 * zeroes the rest and wipes `value` when done.
 */
struct cli_password {
    int from_stdin;                     /* --password-stdin */
    const char *no_terminal;            /* the problem when there is no terminal to ask on */
    const volatile sig_atomic_t *stop;  /* the command's interrupt flag, or NULL */
    int have;
    char value[1024];
    const char *problem;                /* why there is no password, for "igtcloud: <problem>" */
    int exit_code;                      /* the exit code that goes with `problem` */
};

/*
 * Read one password into buf: the first line of standard input, or asked as
 * "USER@HOST's password: " on the terminal. Returns a CLI_PROMPT_* code.
 */
int cli_password_read(char *buf, size_t size, int from_stdin, const char *user, const char *host);

/*
 * The password in pw->value, asked the first time only. On failure sets
 * pw->problem and pw->exit_code (usage, or interrupted) and returns a negative
 * IGTCLOUD_E* code.
 */
int cli_password_get(struct cli_password *pw, const char *user, const char *host);

/* An igtcloud_password_cb over cli_password_get; the payload is the struct cli_password. */
int cli_password_cb(char *buf, size_t size, const char *user, const char *host, void *payload);

/* True for -p, --password and --password=...: passwords never come from argv. */
int cli_password_in_argv(const char *arg);

#endif
