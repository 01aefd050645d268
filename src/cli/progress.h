#ifndef IGTCLOUD_CLI_PROGRESS_H
#define IGTCLOUD_CLI_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Progress display shared by transfer commands (download, upload). On a
 * terminal: one overall bar (bytes, files, rate, ETA) and one line per
 * active item (a study), redrawn at most ten times a second. Otherwise a
 * plain log line every few seconds. Quiet: nothing.
 */
typedef struct cli_progress cli_progress;

/* `verb` names the work ("downloaded", "uploaded"). NULL on allocation failure. */
cli_progress *cli_progress_new(const char *verb, int quiet);
void cli_progress_free(cli_progress *p);

/* Overall counters; cheap to call often. */
void cli_progress_update(cli_progress *p, uint64_t bytes_done, uint64_t bytes_total,
                         size_t files_done, size_t files_total);

/* One active item's state; finished items leave the display. */
void cli_progress_item(cli_progress *p, const char *name, size_t files_done, size_t files_total,
                       uint64_t bytes_done, uint64_t bytes_total, int finished);

/* Print a line (to stderr) without tearing the bars. */
void cli_progress_line(cli_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Remove the bars (terminal) before the summary is printed. */
void cli_progress_finish(cli_progress *p);

/* "12.3 MiB" into out. */
void cli_format_bytes(char *out, size_t size, double bytes);

#endif
