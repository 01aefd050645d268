#ifndef IGTCLOUD_CLI_PROMPT_H
#define IGTCLOUD_CLI_PROMPT_H

#include <stddef.h>

enum {
    CLI_PROMPT_OK = 0,
    CLI_PROMPT_NO_TERMINAL = -1,  /* no controlling terminal to ask on */
    CLI_PROMPT_INTERRUPTED = -2,  /* a signal or end of input */
    CLI_PROMPT_TOO_LONG = -3
};

/*
 * Ask on the controlling terminal (/dev/tty, never argv or stdout) and read
 * one line into buf without its newline. With `secret` the echo is off while
 * typing and restored afterwards, also when a signal interrupts the read.
 */
int cli_prompt(char *buf, size_t size, const char *prompt, int secret);

/* Read the first line of standard input (for --password-stdin). */
int cli_read_stdin_line(char *buf, size_t size);

/* Overwrite memory that held a secret so the compiler cannot drop it. */
void cli_wipe(void *p, size_t len);

#endif
