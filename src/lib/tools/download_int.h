#ifndef IGTCLOUD_TOOLS_DOWNLOAD_INT_H
#define IGTCLOUD_TOOLS_DOWNLOAD_INT_H

#include <jansson.h>
#include <sys/stat.h>

/*
 * The completion manifest of a download target: TARGET/.igtcloud/download-manifest,
 * one line per file this library verified (size and MD5 by the engine) and
 * renamed into place:
 *
 *     1 <size> <mtime seconds> <mtime nanoseconds> <etag or -> <path relative to TARGET>\n
 *
 * A later run skips a file only when the manifest vouches for it: same size
 * and same modification time as recorded. A torn or foreign file of the
 * right size is therefore fetched again instead of being trusted. Lines are
 * appended with one write each; a torn last line (no newline) is ignored and
 * the next append starts on a new line. The last line for a path wins.
 */
typedef struct igtcloud__dl_manifest {
    json_t *entries;      /* relative path -> "size sec nsec" */
    char *path;
    int fd;               /* append descriptor, -1 when read-only */
    int need_newline;     /* the file ends in a torn line */
} igtcloud__dl_manifest;

/* Load the manifest of `target`; read_only (dry run) creates nothing. */
int igtcloud__dl_manifest_open(igtcloud__dl_manifest *m, const char *target, int read_only);

/* 1 when `rel` is recorded with st's size and modification time. */
int igtcloud__dl_manifest_vouches(const igtcloud__dl_manifest *m, const char *rel,
                                  const struct stat *st);

/* Record `rel` (whose file is at `path`) as complete, from its current stat. */
int igtcloud__dl_manifest_record(igtcloud__dl_manifest *m, const char *rel, const char *path,
                                 const char *etag);

/* Close; a zeroed or already closed manifest is fine. Returns 0 or IGTCLOUD_EIO. */
int igtcloud__dl_manifest_close(igtcloud__dl_manifest *m);

/* Parse one manifest line (without its newline) into rel and value; 0 or -1. Exposed for fuzzing. */
int igtcloud__dl_manifest_parse_line(const char *line, size_t len, const char **rel,
                                     long long *size, long long *sec, long *nsec);

#endif
