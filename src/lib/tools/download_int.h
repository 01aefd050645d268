#ifndef IGTCLOUD_TOOLS_DOWNLOAD_INT_H
#define IGTCLOUD_TOOLS_DOWNLOAD_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "igtcloud/catalog.h"
#include "core/spill.h"
#include "core/spill_map.h"

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
 *
 * The lines are not kept in memory. Opening builds an index of the complete
 * lines: an open-addressing table of 8-byte slots (the line's offset in the
 * file and 24 bits of the hash of its path), at most two thirds full, so
 * about 12 bytes a line. A lookup hashes the path, reads the candidate lines
 * back with pread and compares their paths exactly: a hash collision costs a
 * read, never a wrong answer. Lookups answer from the lines present at open;
 * lines recorded through this handle are written but not indexed (a run plans
 * each path once, so it never asks about a file it recorded itself). A
 * manifest longer than 1 TiB (offsets past 40 bits) is not indexed at all:
 * every file is then fetched again.
 */
typedef struct igtcloud__dl_manifest {
    uint64_t *slots;      /* the index; 0: empty slot */
    size_t nslots;
    size_t used;          /* slots in use: distinct paths indexed */
    char *path;
    int fd;               /* read (and append, unless read-only) descriptor; -1: no file */
    int writable;         /* not read-only: records are appended */
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

/* Bytes the index of an open manifest holds (tests measure it per line). */
size_t igtcloud__dl_manifest_index_bytes(const igtcloud__dl_manifest *m);

/*
 * Test hook: the path hash is ANDed with this mask (all ones by default), so
 * tests can force hash collisions. Set it only while no manifest is open.
 */
extern uint64_t igtcloud__dl_manifest_hash_mask;

/*
 * The files of the study (or of the project) being planned, kept out of
 * memory (download_listing.c): each listed file to fetch is appended as a
 * compact record (category, size, key, name) to a spill, an unlinked
 * temporary file in $TMPDIR, else /tmp (in memory when neither takes one),
 * and read back one file at a time, category by category in the order of
 * igtcloud_file_list (files, dicom, annotations, then project files),
 * whatever order the answers named them in; within a category, in the
 * answer's order. Memory: the two buffers of the spill, whatever the count.
 * A run keeps one listing, emptied for each study.
 */
typedef struct igtcloud__dl_listing {
    igtcloud__spill records;
    igtcloud__spill_window win;
    uint64_t first[4], end[4]; /* per rank: its first record and the end of its last */
    size_t count;              /* records added */
    unsigned int rank;         /* being read back */
    uint64_t next;             /* the next record to look at */
    int reading;
    int is_open;
} igtcloud__dl_listing;

/* Start an empty listing. Never fails: without a temporary file the records stay in memory. */
void igtcloud__dl_listing_open(igtcloud__dl_listing *l);

/* Append one file (its category, size, key and name). 0, IGTCLOUD_ENOMEM or IGTCLOUD_EIO. */
int igtcloud__dl_listing_add(igtcloud__dl_listing *l, const igtcloud_file_info *f);

/*
 * The next file in rank order (the first after the last add): 1 with *out
 * set (its key and name valid until the next call; type "", no upload id,
 * completed), 0 when every file was read, or IGTCLOUD_ENOMEM / IGTCLOUD_EIO.
 */
int igtcloud__dl_listing_next(igtcloud__dl_listing *l, igtcloud_file_info *out);

/* Empty the listing for the next study; its file is kept (and written over). */
void igtcloud__dl_listing_clear(igtcloud__dl_listing *l);

/* Close the file and free the buffers; a zeroed or closed listing is fine. */
void igtcloud__dl_listing_close(igtcloud__dl_listing *l);

/*
 * Names from the server and collisions (download_names.c). A name is
 * refused when it is unsafe (core/safepath.h) or ends like our temporary
 * files; every path a run writes belongs to one name from the server.
 */

/* TARGET/.igtcloud holds the completion manifest. */
#define IGTCLOUD__DL_RESERVED_TOP ".igtcloud"

/* Why a path from the server cannot be written, or NULL. */
const char *igtcloud__dl_name_problem(const char *rel);

/* Why an institute name cannot be a folder of TARGET, or NULL (fold_case: TARGET ignores case). */
const char *igtcloud__dl_institute_problem(const char *name, int fold_case);

/* What a path claimed in a set is. */
typedef enum igtcloud__dl_claim_kind {
    IGTCLOUD__DL_CLAIM_FOLDER = 1,  /* a folder on the way to a study or a file */
    IGTCLOUD__DL_CLAIM_STUDY = 2,   /* a study's folder */
    IGTCLOUD__DL_CLAIM_FILE = 3
} igtcloud__dl_claim_kind;

/*
 * Claim `rel` as `kind` in `set` (path -> kind; the run's set of study
 * folders, or the set of the files of the study being planned): a file or
 * a study folder belongs to one name from the server only; folders on the
 * way may be shared but never be a file, and a study folder neither lies in
 * nor holds another study's. The first `skip` bytes of rel (the study's
 * folder and a '/', claimed with the study) are not looked at again. With
 * fold_case, names differing only in ASCII case are one. Returns 0, 1 with
 * a collision message set (nothing is written for it), or an error of the
 * set (IGTCLOUD_ENOMEM, IGTCLOUD_EIO).
 */
int igtcloud__dl_claim(igtcloud__spill_map *set, int fold_case, const char *rel, size_t skip,
                       igtcloud__dl_claim_kind kind);

#endif
