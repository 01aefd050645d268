#ifndef IGTCLOUD_TOOLS_UPLOAD_INT_H
#define IGTCLOUD_TOOLS_UPLOAD_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Local checks of upload (upload_check.c), kept apart so the fuzz target
 * can reach them without a session.
 */

/*
 * Parse and check a study.json (see igtcloud_upload_check_study_json). On
 * success *out (may be NULL) receives the parsed object. On failure the
 * error is one line "<origin>: field '<name>' ..." or "<origin>: not valid
 * JSON: line L column C: ...", and the code is IGTCLOUD_EINVALID.
 */
int igtcloud__upload_study_check(json_t **out, const char *text, size_t len,
                                 const char *origin);

/* Whether an annotation file's contents are valid JSON (IGTCLOUD_EINVALID naming origin). */
int igtcloud__upload_annotation_check(const char *text, size_t len, const char *origin);

/* Read a whole local file of at most `max` bytes; IGTCLOUD_EIO / EINVALID (too big). */
int igtcloud__upload_read_file(char **out, size_t *out_len, const char *path, size_t max);

/*
 * The journal of multipart uploads in flight (upload_journal.c), so that a
 * run killed even with SIGKILL resumes its large files (ListParts keeps the
 * parts already there) and leaves no multipart upload open behind it. One
 * file per user, "upload-journal" in $IGTCLOUD_STATE_DIR, else
 * $XDG_STATE_HOME/igtcloud, else ~/.local/state/igtcloud, with lines
 *
 *     1 <size> <mtime seconds> <mtime nanoseconds> <upload id> <key>\n
 *     0 <key>\n
 *
 * "1" when an upload of `key` started from a local file of that size and
 * modification time, "0" when it ended (completed, or given up). The last
 * line for a key wins; a torn last line is ignored. Lines are appended with
 * one write each, so two runs may share the file; the file is compacted
 * (under flock) when it is mostly dead lines.
 */
typedef struct igtcloud__up_journal {
    json_t *entries;   /* key -> [size, sec, nsec, upload id] */
    char *path;
    int fd;            /* append descriptor, -1 when closed */
} igtcloud__up_journal;

/* One parsed line; pointers into the line. Exposed for fuzzing. */
typedef struct igtcloud__up_journal_entry {
    int live;                  /* 1: started, 0: ended */
    uint64_t size;
    int64_t mtime_sec;
    long mtime_nsec;
    const char *upload_id;     /* not NUL-terminated: upload_id_len bytes */
    size_t upload_id_len;
    const char *key;
} igtcloud__up_journal_entry;

/* Parse one line (NUL-terminated, without its newline); 0 or -1. */
int igtcloud__up_journal_parse_line(igtcloud__up_journal_entry *out, const char *line);

/* Open (creating the state folder); on failure j is closed and the run goes without. */
int igtcloud__up_journal_open(igtcloud__up_journal *j);

/*
 * The upload id journaled for `key`, or NULL; *same_file (may be NULL) tells
 * whether it was started from a file of this size and modification time.
 */
const char *igtcloud__up_journal_find(const igtcloud__up_journal *j, const char *key,
                                      uint64_t size, int64_t mtime_sec, long mtime_nsec,
                                      int *same_file);

/* Record that an upload of `key` runs as `upload_id`. */
int igtcloud__up_journal_started(igtcloud__up_journal *j, const char *key, uint64_t size,
                                 int64_t mtime_sec, long mtime_nsec, const char *upload_id);

/* Record that the upload of `key` ended (a no-op when none is journaled). */
int igtcloud__up_journal_ended(igtcloud__up_journal *j, const char *key);

/* Close; a zeroed or closed journal is fine. */
void igtcloud__up_journal_close(igtcloud__up_journal *j);

#endif
