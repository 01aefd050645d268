#ifndef SANDBOX_S3_META_H
#define SANDBOX_S3_META_H

#include <sys/stat.h>

#include "sandbox.h"
#include "s3_checksum.h"
#include "core/buf.h"

/*
 * What S3 says about an object beyond its bytes. The object file (objects.c)
 * is the truth for existence and size; the s3_objects table caches the
 * ETag, Content-Type and checksums, valid while the file's size, mtime and
 * inode are the ones recorded. Files written by other paths (the API, the
 * seeder) get their ETag computed on first use.
 */
typedef struct sandbox_s3_object {
    unsigned long long size;
    long long mtime;              /* Last-Modified, seconds since the epoch */
    char etag[72];                /* without quotes */
    char content_type[256];
    char sse[32];                 /* x-amz-server-side-encryption, "" when none */
    char crc32c[SANDBOX_S3_CRC32C_TEXT]; /* s3_checksum.h ("...-N": COMPOSITE), "" when unknown */
    char sha256[48];              /* base64, "" when unknown */
    const char *parts;            /* commit only: the part sizes of a multipart object (below) */
} sandbox_s3_object;

/*
 * A multipart object's part sizes as stored: runs "SIZE*COUNT" (or "SIZE"
 * for one part) joined by commas, in part order; "" for an object of one
 * piece. Built with sandbox_s3_parts_add, read with sandbox_s3_parts_find.
 */
int sandbox_s3_parts_add(igtcloud__buf *runs, unsigned long long size);

/*
 * Part `number` (from 1) of `runs`: its first byte and length, and the
 * number of parts. Returns 0, 1 when there is no such part (or runs is
 * empty), -1 when runs is malformed.
 */
int sandbox_s3_parts_find(const char *runs, unsigned long number, unsigned long long *first,
                          unsigned long long *length, unsigned long *count);

/* The stored part sizes of object `key` (as sandbox_s3_object_lookup left them) into out. */
int sandbox_s3_object_parts(sandbox *sb, const char *key, igtcloud__buf *out);

/* Create the S3 tables (objects cache, uploads, parts) if missing. */
int sandbox_s3_meta_init(sandbox *sb);

/*
 * Describe object `key`. With fd_out, the file stays open for reading and
 * *fd_out is its descriptor (the caller closes it). `st` may carry a stat
 * of the file already taken (listings). Returns 0, 1 when there is no such
 * object, -1 on an I/O or store error.
 */
int sandbox_s3_object_lookup(sandbox *sb, const char *key, sandbox_s3_object *out,
                             int *fd_out, const struct stat *st);

/*
 * Move the finished temporary file `tmp_path` into place as object `key`
 * and record `meta` (size and mtime are taken from the file). A file row
 * registered through the API with this key gets the real size. Returns 0,
 * or -1 with errno (ENOTDIR/EISDIR when the key collides with a folder).
 */
int sandbox_s3_object_commit(sandbox *sb, const char *key, const char *tmp_path,
                             const sandbox_s3_object *meta);

/* Delete object `key` (missing is fine). Returns 0 or -1. */
int sandbox_s3_object_remove(sandbox *sb, const char *key);

#endif
