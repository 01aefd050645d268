#ifndef TEST_CLI_RUN_H
#define TEST_CLI_RUN_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Run a program (argv[0] is its path) in a new session, so it has no
 * controlling terminal, with `env` applied on top of ours ("NAME=value" sets,
 * "NAME=" unsets; NULL-terminated, may be NULL) and `input` on its standard
 * input (NULL: empty). Captures stdout and stderr (NUL-terminated, truncated
 * to the sizes given). Returns the exit code, 128 + signal when killed, or -1.
 */
int cli_run(const char *const *argv, const char *const *env, const char *input,
            char *out, size_t out_size, char *err, size_t err_size);

/* Start the same way in the background; stderr goes to `err_path` (or /dev/null). */
pid_t cli_spawn(const char *const *argv, const char *const *env, const char *input,
                const char *err_path);

/* Wait up to `seconds` for the child; returns its exit code (128 + signal), or -1 on timeout. */
int cli_wait(pid_t pid, double seconds);

/* Wait up to `seconds` until `path` exists (1) or not (0); returns 0 when it happened. */
int cli_wait_for_path(const char *path, int exists, double seconds);

/* The whole file as a NUL-terminated string (caller frees), or NULL. */
char *cli_slurp(const char *path, size_t *len);

#endif
