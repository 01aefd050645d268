#ifndef SANDBOX_OBJECTS_H
#define SANDBOX_OBJECTS_H

#include <stddef.h>
#include <stdio.h>

/*
 * Object bytes as plain files: the object with S3 key K lives at
 * DATA_DIR/objects/K. Writes go to DATA_DIR/tmp/ first and are renamed into
 * place, so a reader never sees a half-written object and listings of
 * objects/ never see temporary names. The data service, the seeder and the
 * S3 endpoint all go through this module; none of them builds object paths
 * by hand.
 *
 * None of these functions takes the store lock; object files are independent
 * of the metadata, and rename() makes each write atomic.
 */

/* Longest key accepted, as S3's limit. */
#define SANDBOX_OBJECT_KEY_MAX 1024

/*
 * Why `key` cannot name an object file, or NULL when it can. Refused: empty
 * keys, keys longer than SANDBOX_OBJECT_KEY_MAX, a leading '/', empty, "."
 * or ".." segments (including a trailing '/'), backslashes, NUL, control
 * characters (below 0x20 and 0x7f) and segments longer than 255 bytes.
 * Returns a static string.
 */
const char *sandbox_object_key_problem(const char *key);

/* Like sandbox_object_key_problem for `len` bytes that may contain NUL. */
const char *sandbox_object_key_problem_n(const char *key, size_t len);

/*
 * Why `prefix` cannot be an S3 prefix the sandbox hands out (a key that
 * ends in '/'), or NULL. "" is refused.
 */
const char *sandbox_object_prefix_problem(const char *prefix);

/*
 * The file of `key` under data_dir: DATA_DIR/objects/KEY into out. Returns 0,
 * or -1 when the key is refused or the path does not fit in out_size.
 */
int sandbox_object_path(char *out, size_t out_size, const char *data_dir, const char *key);

/*
 * Store `len` bytes as object `key` (temporary file + rename, parent folders
 * created). Replaces an existing object. Returns 0 or -1 (errno tells why).
 */
int sandbox_object_write(const char *data_dir, const char *key, const void *data, size_t len);

/* A write in progress: open, write any number of times, then commit or abort. */
typedef struct sandbox_object_writer {
    FILE *file;
    char tmp_path[4200];
    char final_path[4200];
    int failed;
} sandbox_object_writer;

int sandbox_object_writer_open(sandbox_object_writer *w, const char *data_dir, const char *key);
int sandbox_object_writer_write(sandbox_object_writer *w, const void *data, size_t len);
/* Flush, close and rename into place. Returns 0 or -1 (the temp file is removed). */
int sandbox_object_writer_commit(sandbox_object_writer *w);
/* Drop the temporary file. Safe after commit and on a writer that failed to open. */
void sandbox_object_writer_abort(sandbox_object_writer *w);

/* The size of object `key` into *out. Returns 0, or -1 when it does not exist. */
int sandbox_object_size(long long *out, const char *data_dir, const char *key);

/*
 * Delete object `key` and the folders it leaves empty (never objects/ itself).
 * A missing object is not an error. Returns 0 or -1.
 */
int sandbox_object_delete(const char *data_dir, const char *key);

/*
 * Delete every object whose key starts with `prefix` (which must pass
 * sandbox_object_prefix_problem), e.g. all objects of a study. Returns 0 or -1.
 */
int sandbox_object_delete_prefix(const char *data_dir, const char *prefix);

#endif
