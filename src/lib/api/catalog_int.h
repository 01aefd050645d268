#ifndef IGTCLOUD_API_CATALOG_INT_H
#define IGTCLOUD_API_CATALOG_INT_H

#include <jansson.h>
#include <stdint.h>

#include "igtcloud/catalog.h"
#include "api/json_stream.h"
#include "core/buf.h"

/*
 * Internals of the catalog shared with tools/ (download, CSV listing, upload).
 */

/*
 * GET `path` through the session and feed the JSON body to `stream` as it
 * arrives, then finish it: the body is never held whole. A 401 is answered
 * once by refreshing the session and asking again, so a token that dies
 * between our expiry check and the server's does not fail a long run. Other
 * statuses become errors as igtcloud__session_error makes them (the server's
 * message, named by stream->what). Returns 0 or the first error.
 */
int igtcloud__catalog_get_stream(igtcloud_session *session, const char *path,
                                 igtcloud__json_stream *stream);

/* Append `segment` to `out` percent-encoded as one URL path segment. */
int igtcloud__catalog_put_segment(igtcloud__buf *out, const char *segment);

/* Parse the study's compact JSON text back into a tree (*out is a new reference). */
int igtcloud__study_parse(json_t **out, const igtcloud_study *study);

/* One study of a listing, in the API's order; the callee owns it (igtcloud_study_free). */
typedef int (*igtcloud__study_fn)(igtcloud_study *study, void *payload);

/*
 * List an institute's studies as igtcloud_study_list_fetch does, handing
 * each to `fn` as soon as it is parsed instead of keeping them: memory holds
 * one study at a time (and what `fn` keeps). Returns 0, the codes of
 * igtcloud_study_list_fetch, or fn's error.
 */
int igtcloud__study_walk_fetch(igtcloud_session *session, const char *institute_id,
                               igtcloud__study_fn fn, void *payload);

/*
 * A study's (or the project's) files as igtcloud_file_list_fetch_study (or
 * _project) lists them, handed to `fn` one at a time as the answer is
 * parsed instead of kept: memory holds one entry at a time. Within one
 * answer the entries come in the answer's order (the study's "files"
 * answer first, then the auxiliary one, whose members come in the order the
 * answer names them: the list orders dicom before annotations, this does
 * not). `info`'s strings are valid during the call. fn returns 0 to go on;
 * anything else stops the listing and is returned.
 */
typedef int (*igtcloud__file_fn)(const igtcloud_file_info *info, void *payload);

int igtcloud__file_walk_study(igtcloud_session *session, const igtcloud_study *study,
                              unsigned int categories, igtcloud__file_fn fn, void *payload);
int igtcloud__file_walk_project(igtcloud_session *session, const igtcloud_project *project,
                                igtcloud__file_fn fn, void *payload);

/*
 * A study as bytes and back (all of its compact form: the fields, the date,
 * the JSON text), for studies kept in a temporary file. unpack returns 0,
 * IGTCLOUD_ENOMEM, or IGTCLOUD_EIO for bytes that are not one record.
 */
int igtcloud__study_pack(igtcloud__buf *out, const igtcloud_study *study);
int igtcloud__study_unpack(igtcloud_study **out, const char *data, size_t len);

/*
 * An institute's studies kept out of memory (study_spool.c), for the runs
 * that walk every study of an institute (download, the CSV listing) and for
 * upload's look-ups among the studies already there.
 *
 * The listing is parsed as it arrives and each study's compact form is
 * appended to an unlinked temporary file (in $TMPDIR, else /tmp), gone when
 * the spool is freed or the process ends. Studies are read back one at a
 * time in the API's order. Memory per study: none for a walk; with
 * IGTCLOUD__STUDY_SPOOL_INDEX, 24 bytes (its record's offset and hashes of
 * its id, key and two folders), looked up by hash and confirmed on the
 * study read back, so a hash collision costs a read, never a wrong answer.
 */
typedef struct igtcloud__study_spool igtcloud__study_spool;

/* Keep the look-up index (igtcloud__study_spool_find). */
#define IGTCLOUD__STUDY_SPOOL_INDEX 1u

/*
 * List the institute's studies into a new spool. Returns 0, the codes of
 * igtcloud_study_list_fetch, or IGTCLOUD_EIO when the temporary file cannot
 * be made or written (named in the message).
 */
int igtcloud__study_spool_fetch(igtcloud__study_spool **out, igtcloud_session *session,
                                const char *institute_id, unsigned int flags);

/* Number of studies in the spool. */
size_t igtcloud__study_spool_count(const igtcloud__study_spool *spool);

/*
 * The next study in the API's order (the first after fetch), owned by the
 * caller; *out is NULL once every study was read. Returns 0, IGTCLOUD_EIO or
 * IGTCLOUD_ENOMEM.
 */
int igtcloud__study_spool_next(igtcloud_study **out, igtcloud__study_spool *spool);

/* What igtcloud__study_spool_find compares. */
typedef enum igtcloud__study_match {
    IGTCLOUD__STUDY_BY_ID,           /* igtcloud_study_id */
    IGTCLOUD__STUDY_BY_KEY,          /* igtcloud_study_key */
    IGTCLOUD__STUDY_BY_FLAT_FOLDER,  /* igtcloud_study_folder, flat (into 1024 bytes) */
    IGTCLOUD__STUDY_BY_TREE_FOLDER   /* igtcloud_study_folder, hierarchical (1024 bytes) */
} igtcloud__study_match;

/*
 * The first study of the spool (API order) whose `by` equals `value`, owned
 * by the caller, or *out NULL when none does. Needs IGTCLOUD__STUDY_SPOOL_INDEX.
 * Returns 0, IGTCLOUD_EINVALID (no index), IGTCLOUD_EIO or IGTCLOUD_ENOMEM.
 */
int igtcloud__study_spool_find(igtcloud_study **out, igtcloud__study_spool *spool,
                               igtcloud__study_match by, const char *value);

/* Free the spool and its file. NULL is a no-op. */
void igtcloud__study_spool_free(igtcloud__study_spool *spool);

/*
 * Test hook: the index's hashes are ANDed with this mask (all ones by
 * default), so tests can force collisions. Set it only while no spool exists.
 */
extern uint32_t igtcloud__study_spool_hash_mask;

#endif
