#ifndef IGTCLOUD_S3_ENGINE_H
#define IGTCLOUD_S3_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "igtcloud/transfer.h"

/*
 * Internals of the transfer engine (engine.c), exposed for tests: counters
 * that tell what the engine did, so tests can assert that completed files
 * and ranges were not fetched again.
 */

typedef struct igtcloud__engine_stats {
    size_t requests;            /* attempts started */
    size_t retries;             /* attempts that were retries */
    size_t credential_fetches;  /* provider calls */
    size_t ranges_resumed;      /* ranges found done in a journal */
    uint64_t bytes_received;    /* body bytes written to files or buffers */
    uint64_t bytes_sent;        /* body bytes sent */
    size_t verified_by_workers; /* downloads whose MD5 a worker thread checked */
    size_t prefix_hashes;       /* in-order prefixes of ranged downloads hashed by workers */
    size_t bodies_hashed_by_workers; /* upload bodies whose digests a worker computed */
    size_t chunks_written_by_workers; /* chunks of downloaded bytes a worker wrote */
    size_t verified_by_crc32c;  /* downloads checked against the object's full-object CRC32C instead of MD5 */
    size_t md5_side_by_side;    /* MD5 tasks a worker hashed together with others (core/md5.h) */
    size_t md5_joined_running;  /* MD5 tasks taken into a worker's lanes while they hashed others */
    size_t completions_confirmed; /* Completes that met NoSuchUpload: HEADs sent to check */
    size_t verified_by_parts;   /* downloads checked against a multipart ETag, part by part */
    size_t verified_by_part_crcs; /* downloads checked against a composite CRC32C, part by part */
    size_t parts_unverified;    /* multipart downloads whose part size could not be learned */
    size_t uploads_resumed_with_crc32c; /* resumed uploads that go on with their CRC32C checksums */
    size_t ranges_read_back_by_workers; /* resumed ranges a worker summed for the CRC32C check */
    size_t ranges_in_pieces;    /* ranges at the end of a run fetched in pieces (engine_job.c) */
} igtcloud__engine_stats;

void igtcloud__engine_get_stats(igtcloud__engine_stats *out, const igtcloud_transfer *t);

/*
 * Planner hook (download.c): called from the running engine's loop while
 * fewer queued files than requests in flight wait to start, so listing the
 * next files overlaps moving the current ones. It may queue files with
 * igtcloud_transfer_add_download()/_upload() (never run or free t). Return
 * non-zero when it may have more (it is called again when the queue runs
 * low), 0 when it has nothing more for this run.
 */
typedef int (*igtcloud__transfer_feed_fn)(igtcloud_transfer *t, void *payload);
void igtcloud__transfer_set_feeder(igtcloud_transfer *t, igtcloud__transfer_feed_fn fn,
                                   void *payload);

/*
 * Retire finished files (for a feeder planning a long run, such as a whole
 * download): a job is freed once its file callback has returned, as the
 * feeder is about to queue more, so a run fed with any number of files holds
 * only those queued, active or just finished, and the credentials of their
 * prefixes.
 * igtcloud_transfer_count() and igtcloud_transfer_result_at() then see only
 * the jobs not yet retired; the callbacks are the way to learn results, and
 * igtcloud_transfer_run() still counts every failure of the run.
 */
void igtcloud__transfer_set_retire(igtcloud_transfer *t, int on);

/*
 * Test hook: microseconds a worker sleeps after each round of its MD5 lanes
 * (0, the default: none), so tests can have tasks queue while lanes hash.
 */
extern unsigned igtcloud__engine_md5_round_delay_us;

/*
 * Test hooks for the read-back of a resumed download's kept ranges: the most
 * bytes one worker task reads (default 64 MiB), and microseconds a worker
 * sleeps before each such task (0, the default: none), so tests can cancel
 * while tasks are out and more wait.
 */
extern uint64_t igtcloud__engine_read_back_task_max;
extern unsigned igtcloud__engine_read_back_delay_us;

/*
 * The pieces each of a run's last ranges is fetched in (default 4; 1: none),
 * so the run does not end with requests of a whole range each (engine_job.c).
 */
extern unsigned igtcloud__engine_tail_pieces;

/*
 * Test hook: non-zero creates CRC32C uploads with S3's COMPOSITE checksum
 * type (the CRC32C of the parts' CRC32Cs) instead of FULL_OBJECT, so tests
 * can make the objects other clients leave.
 */
extern int igtcloud__engine_composite_uploads;

/* Suffixes of the temporary file and journal beside a download's final name. */
#define IGTCLOUD__ENGINE_PART_SUFFIX ".igtcloud-part"
#define IGTCLOUD__ENGINE_JOURNAL_SUFFIX ".igtcloud-journal"

#endif
