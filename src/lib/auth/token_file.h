#ifndef IGTCLOUD_AUTH_TOKEN_FILE_H
#define IGTCLOUD_AUTH_TOKEN_FILE_H

#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

#include "core/buf.h"

/*
 * The shared token file of PROTOCOL.md section 3: a 20480-byte file, NUL-filled,
 * holding at offset 0 the standard base64 of
 * {"sub", "jwt", "jwt_data": {JWT payload}, "csrf", "domain"}.
 */
#define IGTCLOUD__TOKEN_FILE_SIZE 20480

/* What the file holds. */
typedef struct igtcloud__token {
    char *sub;
    char *jwt;
    char *csrf;
    char *domain;
    json_t *jwt_data;     /* the decoded JWT payload (object) */
    long long exp;        /* jwt_data.exp */
} igtcloud__token;

void igtcloud__token_dispose(igtcloud__token *token);

/* Deep copy. */
int igtcloud__token_copy(igtcloud__token *out, const igtcloud__token *src);

/* Append the file's text form (base64 of the JSON, keys in the reference's order). */
int igtcloud__token_encode(igtcloud__buf *out, const igtcloud__token *token);

/*
 * Parse the file's contents as the reference reads them: the first line,
 * stripped of NULs and whitespace, standard (or url-safe) base64 of a JSON object
 * whose jwt_data.exp is a number. Returns 0 or IGTCLOUD_EPROTO.
 */
int igtcloud__token_decode(igtcloud__token *out, const char *data, size_t len);

/*
 * The token file's path: `override` when given, else $CLOUD_TOKEN_MMAP, else
 * $XDG_RUNTIME_DIR/igtcloud-token when that is an absolute directory, else
 * <tmp>/igtcloud-token-<uid> where <tmp> is $TMPDIR or /tmp.
 */
int igtcloud__token_file_path(igtcloud__buf *out, const char *override);

/*
 * Read and decode the file at `path`. Refuses (IGTCLOUD_EPERM, message naming
 * the path and the reason) a symlink, a file that is not regular, is not owned
 * by the effective user, or has any group/other permission bit. Missing file:
 * IGTCLOUD_ENOTFOUND. Undecodable after one retry: IGTCLOUD_EPROTO.
 */
int igtcloud__token_file_read(igtcloud__token *out, const char *path);

/* A token file this process publishes and keeps up to date. */
typedef struct igtcloud__token_writer {
    int fd;               /* -1 when not open */
    char *path;
    dev_t dev;
    ino_t ino;
} igtcloud__token_writer;

#define IGTCLOUD__TOKEN_WRITER_INIT { -1, NULL, 0, 0 }

/*
 * Publish `token` at `path`: a new file (mode 0600) is written completely in
 * the same folder and renamed over `path`, so nothing (not a symlink, not a
 * file of another user, not a world-readable leftover) is ever written through.
 */
int igtcloud__token_writer_create(igtcloud__token_writer *w, const char *path,
                                  const igtcloud__token *token);

/*
 * Replace the contents in place, whole file, under an exclusive fcntl lock
 * that our readers share: readers that keep the file mapped (the reference
 * client does) see the new token, and ours never see a torn one.
 */
int igtcloud__token_writer_update(igtcloud__token_writer *w, const igtcloud__token *token);

/*
 * Delete the file if `path` still names the file this writer created, then
 * close. Safe to call on a writer that was never created.
 */
int igtcloud__token_writer_remove(igtcloud__token_writer *w);

#endif
