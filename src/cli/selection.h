#ifndef IGTCLOUD_CLI_SELECTION_H
#define IGTCLOUD_CLI_SELECTION_H

#include <stddef.h>
#include <stdint.h>

#define CLI_MAX_EXT 64

/*
 * What download and csv select, as given on the command line:
 * TARGET PROJECT [INSTITUTE|*] [PROD|TEST], --ext EXT (repeatable),
 * --start and --end. Zero it before use.
 */
struct cli_selection {
    const char *pos[4];
    int npos;
    const char *exts[CLI_MAX_EXT + 1];   /* NULL-terminated */
    size_t nexts;
    const char *start, *end;
    int64_t start_day, end_day;          /* set by cli_selection_check; 0: no bound */
    const char *environment;             /* the positional PROD|TEST, or NULL */
};

/*
 * Take argv[*i] when it is --ext, --start or --end (see cli_take_value).
 * Returns 1 when taken, 0 when it is none of them, -1 after printing a usage
 * error for `command`.
 */
int cli_selection_option(struct cli_selection *sel, const char *command, int argc, char **argv,
                         int *i);

/* Take a positional argument; 0, or -1 after printing "unexpected argument". */
int cli_selection_arg(struct cli_selection *sel, const char *command, const char *arg);

/*
 * Check the positionals (TARGET and PROJECT present, PROD or TEST) and parse
 * the days. Returns 0, or -1 after printing a usage error for `command`.
 */
int cli_selection_check(struct cli_selection *sel, const char *command);

#endif
