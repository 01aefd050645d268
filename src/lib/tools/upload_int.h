#ifndef IGTCLOUD_TOOLS_UPLOAD_INT_H
#define IGTCLOUD_TOOLS_UPLOAD_INT_H

#include <jansson.h>
#include <stddef.h>

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

#endif
