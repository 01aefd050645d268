#ifndef IGTCLOUD_TOOLS_UPLOAD_INT_H
#define IGTCLOUD_TOOLS_UPLOAD_INT_H

/*
 * Upload's shared state, between its files:
 *   upload.c           public API (igtcloud/upload.h), look-ups, the run
 *   upload_scan.c      the check pass: roots, study folders, files, checks
 *   upload_list.c      the list of the files checked, kept on disk
 *   upload_studies.c   matching local studies to the server's; creating them
 *   upload_remote.c    what an owner already has on the server, by name
 *   upload_plan.c      the send pass: each study's files from the list, keys,
 *                      skips, registration batches; the dry run's report
 *   upload_transfer.c  the engine fed by the planner and its callbacks,
 *                      completion, settling the journal, the second round
 *   upload_check.c     local checks of study.json and annotations
 *   upload_journal.c   the journal of multipart uploads in flight
 */

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "igtcloud/catalog.h"
#include "igtcloud/upload.h"
#include "api/api_async.h"
#include "api/catalog_int.h"
#include "core/buf.h"
#include "core/spill.h"
#include "core/spill_map.h"

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

/*
 * The state folder of the journal into `out` (see above), created (private)
 * when `create`; IGTCLOUD_ENOTFOUND when there is none (or, without
 * `create`, when it does not exist yet), IGTCLOUD_EIO when it cannot be made.
 */
int igtcloud__up_state_dir(igtcloud__buf *out, int create);

/*
 * The list of the files a run checked (upload_list.c). The check pass
 * appends one record per file (its name and what stat said of it); the send
 * pass reads them back, one study at a time, so that no per-file state is
 * held between the passes. The records are kept in an unlinked temporary
 * file (in the folder given, else $TMPDIR, else /tmp), written and read in
 * 64 KiB chunks; when no such file can be made they stay in memory.
 */
typedef igtcloud__spill igtcloud__up_list;

/* One record as read back; `rel` is valid until the reader's next call. */
typedef struct igtcloud__up_record {
    const char *rel;
    uint64_t size;
    int64_t mtime_sec;
    long mtime_nsec;
    uint64_t ino;
} igtcloud__up_record;

/* Reads the records of a range; start zeroed (IGTCLOUD__UP_LIST_READER_INIT). */
typedef struct igtcloud__up_list_reader {
    igtcloud__up_list *list;
    uint64_t off, end;     /* the next record, and the end of the range */
    igtcloud__spill_window win;
    igtcloud__buf rel;     /* the last record's name */
} igtcloud__up_list_reader;

#define IGTCLOUD__UP_LIST_READER_INIT { NULL, 0, 0, { IGTCLOUD_BUF_INIT, 0 }, IGTCLOUD_BUF_INIT }

/* Open an empty list; `dir` (may be NULL) is tried first for its file. Never fails. */
int igtcloud__up_list_open(igtcloud__up_list *l, const char *dir);

/* Append a record of `rel` and its stat; 0, IGTCLOUD_ENOMEM or IGTCLOUD_EIO. */
int igtcloud__up_list_add(igtcloud__up_list *l, const char *rel, const struct stat *st);

/* The offset the next record will have: a range is [tell before, tell after). */
uint64_t igtcloud__up_list_tell(const igtcloud__up_list *l);

/* 1 when the records are kept in memory (no temporary file could be made). */
int igtcloud__up_list_in_memory(const igtcloud__up_list *l);

/* Start reading the records of [from, to); 0 or IGTCLOUD_EIO (writing what was buffered). */
int igtcloud__up_list_read(igtcloud__up_list_reader *r, igtcloud__up_list *l, uint64_t from,
                           uint64_t to);

/* The next record of the range: 1, 0 at its end, or a negative code. */
int igtcloud__up_list_next(igtcloud__up_list_reader *r, igtcloud__up_record *out);

/* Free a reader's buffers. */
void igtcloud__up_list_reader_dispose(igtcloud__up_list_reader *r);

/* Close and free; a zeroed list is fine. */
void igtcloud__up_list_close(igtcloud__up_list *l);

/*
 * A run (upload.c and the files beside it): its roots, the institutes and
 * studies it targets, and the files in flight.
 *
 * Memory: the check pass keeps per study only counts and the sources of its
 * files (a folder walk, or a single file root) with their ranges in the
 * list. The send pass plans one study at a time from the list, holds a
 * ufile only from planning to the file's end (registration batches, the
 * engine, the completion call), and frees it then; files that changed while
 * they were sent wait for the second round.
 */

typedef enum { ROOT_TREE, ROOT_PROJECT, ROOT_INSTITUTE, ROOT_STUDY, ROOT_FILE } root_kind;

typedef struct root {
    root_kind kind;
    char *path;
    char *institute;   /* NULL: every institute (tree) */
    char *name;        /* study name (study, file) */
    char *rel;         /* file name (file) */
} root;

typedef struct uinst {
    const igtcloud_institute *inst;  /* borrowed from the institutes list */
    igtcloud__study_spool *studies;  /* fetched when first needed, freed after matching */
} uinst;

#define NO_SOURCE ((size_t)-1)

/* Files per registration call (POST .../files). */
#define UPLOAD_REGISTER_BATCH 500

typedef struct ustudy {
    uinst *inst;
    char *name;        /* "folder" (flat) or "patient/study" (hierarchical) */
    char *folder;      /* local folder, "" for single files */
    json_t *local;     /* parsed study.json, or NULL */
    igtcloud_study *remote; /* the study found or created, or NULL (to create) */
    /*
     * Sizes of the remote complete files of the category, by fileName
     * (upload_remote.c): held only while the study's files are planned
     * (fetched then, or when the journal is settled), freed when they are.
     */
    igtcloud__spill_map *files;
    int created;       /* by this run: nothing of it is on the server */
    int failed;        /* could not be created */
    size_t nfiles, nfailed;
    uint64_t bytes;    /* of its files, as checked */
    size_t first_source, last_source; /* its sources (usource.next), or NO_SOURCE */
} ustudy;

/*
 * Where the files of one walk came from: a folder (a study folder, its
 * files/ or annotations/ subfolder, or project files), whose records name
 * files relative to it, or one file root, whose record names the file's key
 * part and whose path is `dir` itself.
 */
typedef struct usource {
    ustudy *study;     /* NULL: project files */
    char *dir;
    int single;
    uint64_t from, to; /* its records in the list */
    size_t next;       /* the owner's next source, or NO_SOURCE */
} usource;

/* F_COMPLETING: the bytes are stored and the completion call is queued or running. */
enum { F_PLANNED, F_SKIPPED, F_QUEUED, F_COMPLETING, F_DONE, F_FAILED };

typedef struct ufile {
    struct ufile *prev, *next; /* every ufile alive (the run frees what is left) */
    struct ufile *link;        /* its registration batch, or the files to send again */
    char *path;
    char *rel;         /* relative to the category folder (or the project prefix) */
    char *key;
    ustudy *study;     /* NULL: project file */
    uint64_t size;
    struct timespec mtime;
    ino_t ino;
    int state;
    int retried;       /* re-sent once after changing during the upload */
    char *journal_id;  /* the upload id journaled for this run, or NULL */
    char names[];      /* path, rel and key, each NUL-terminated */
} ufile;

/* Files of one owner registered with one call, queued once it answered. */
typedef struct ubatch {
    struct ubatch *next;
    ustudy *study;     /* NULL: project files */
    ufile *head, *tail;
    size_t n;
    uint64_t bytes;
    int answered;      /* the registration call answered ... */
    int status;        /* ... with this */
} ubatch;

struct igtcloud_upload {
    igtcloud_session *session;
    igtcloud_upload_options o;
    char *project_name;
    char *password;
    root *roots;
    size_t nroots, aroots;
    igtcloud_project *project;
    igtcloud_institute_list *institutes;
    uinst *insts;
    size_t ninsts;
    ustudy **studies;
    size_t nstudies, astudies;
    /* The check pass: the files' records, their sources, and who owns them. */
    igtcloud__up_list list;
    usource *sources;
    size_t nsources, asources;
    ustudy **owners;         /* studies and project files (NULL) in the order met */
    size_t nowners, aowners;
    size_t project_first, project_last; /* the project files' sources */
    size_t project_nfiles;
    uint64_t project_bytes;
    igtcloud__spill_map *project_files; /* sizes of complete remote project files, or NULL */
    /* The send pass (upload_plan.c): where planning is, and what it holds. */
    size_t plan_owner;       /* the owner being planned (index into owners) */
    int plan_open;           /* its listing fetched, its sources being read */
    size_t plan_source;      /* the source being read, or NO_SOURCE */
    int plan_reading;
    int plan_more;           /* owners left to plan */
    igtcloud__up_list_reader plan_rd;
    igtcloud__buf plan_path, plan_key; /* the file being planned */
    ubatch *filling;         /* files planned, not yet sent for registration */
    ubatch *bhead, *btail;   /* registrations sent, in order; queued once answered */
    size_t batches_out;      /* of which not answered */
    size_t batch_files;      /* files in those batches */
    uint64_t batch_bytes;
    size_t left_files;       /* files not planned yet (progress totals) */
    uint64_t left_bytes;
    uint64_t queued_bytes;   /* bytes of the files handed to the engine */
    ufile *live;             /* every ufile alive */
    ufile *changed;          /* changed while sent: sent once more after the run */
    int feed_rc;             /* a failure that stopped planning while the engine ran */
    char feed_message[512];
    igtcloud_transfer *transfer;
    igtcloud__api_async *completions; /* registration and completion calls beside the run */
    int register_rc;         /* the first failed registration, or 0 */
    char register_message[320];
    igtcloud__up_journal journal;
    igtcloud__session_keeper keeper; /* the session kept fresh while bytes move */
    volatile sig_atomic_t cancelled;
    igtcloud_upload_summary sum;
};

/* upload.c: an event to the caller's event_cb, if any. */
void igtcloud__upload_emit(igtcloud_upload *u, igtcloud_upload_event_kind kind,
                           const char *path, const char *key, const ustudy *st, uint64_t size,
                           int status, const char *message);

/* upload.c: free a study target; NULL is a no-op. */
void igtcloud__upload_study_free(ustudy *s);

/* upload.c: the institute of the project with this name, or NULL. */
uinst *igtcloud__upload_find_inst(igtcloud_upload *u, const char *name);

/*
 * upload_scan.c: walk every root, check every file and add its record to
 * the list (the check pass); only studies, sources and counts stay in memory.
 */
int igtcloud__upload_scan(igtcloud_upload *u);

/*
 * upload_scan.c: the local checks of one file (a usable name, readable now,
 * an annotation's JSON); IGTCLOUD_EINVALID or IGTCLOUD_EIO naming the file.
 */
int igtcloud__upload_check_file(igtcloud_upload *u, const char *path, const char *rel,
                                const ustudy *st);

/* upload_studies.c: find every study (read-only); nothing is created here. */
int igtcloud__upload_find_studies(igtcloud_upload *u);

/*
 * upload_studies.c: create the study a target stands for (the POST itself is
 * igtcloud__upload_create_study, api/upload_api.h).
 */
int igtcloud__upload_study_create(igtcloud_upload *u, ustudy *st);

/* upload_plan.c: a new file of the run (in u->live), or NULL (out of memory). */
ufile *igtcloud__upload_file_new(igtcloud_upload *u, const char *path, const char *rel,
                                 const char *key, ustudy *st);

/* upload_plan.c: free a file of the run; NULL is a no-op. */
void igtcloud__upload_file_release(igtcloud_upload *u, ufile *f);

/* upload_plan.c: the S3 key of `rel` of a study found or created (NULL: of the project). */
int igtcloud__upload_key(igtcloud__buf *out, const igtcloud_upload *u, const ustudy *st,
                         const char *rel);

/* upload_plan.c: the S3 prefix a file's credentials are asked for. */
const char *igtcloud__upload_file_prefix(const igtcloud_upload *u, const ufile *f);

/* upload_plan.c: "annotations/" or "files/", the category folder of study files. */
const char *igtcloud__upload_category_folder(const igtcloud_upload *u);

/*
 * upload_remote.c: the remote file index of an owner (NULL: the project's),
 * listed when first needed; NULL when nothing of it is on the server.
 */
int igtcloud__upload_owner_index(igtcloud_upload *u, ustudy *st, igtcloud__spill_map **out);

/*
 * upload_remote.c: 1 when `rel` is complete on the server with `size`, per
 * `index` (may be NULL), 0 when not, or an error reading the index back.
 */
int igtcloud__upload_remote_complete(igtcloud__spill_map *index, const char *rel, uint64_t size);

/* upload_remote.c: free an index and set it to NULL; NULL is a no-op. */
void igtcloud__upload_index_free(igtcloud__spill_map **index);

/* upload_plan.c: the records of one owner's sources are read with this. */
typedef int (*igtcloud__upload_record_fn)(igtcloud_upload *u, const usource *src,
                                          const igtcloud__up_record *rec, void *payload);
int igtcloud__upload_each_record(igtcloud_upload *u, ustudy *st, igtcloud__upload_record_fn fn,
                                 void *payload);

/* upload_plan.c: start the send pass over every owner. */
void igtcloud__upload_plan_start(igtcloud_upload *u);

/*
 * upload_plan.c: plan on, until a registration batch was sent or an owner
 * finished: 1 while owners are left, 0 when every one is planned, or a
 * negative code. A dry run reports its files instead of queueing them.
 */
int igtcloud__upload_plan_step(igtcloud_upload *u);

/* upload_plan.c: send the registration of a batch of files (api_async). */
int igtcloud__upload_post_batch(igtcloud_upload *u, ubatch *b);

/* upload_plan.c: add f (queued, of b's owner) at the end of registration batch b. */
void igtcloud__upload_batch_add(ubatch *b, ufile *f);

/* upload_plan.c: fail (and report) the files of the studies that could not be created. */
int igtcloud__upload_fail_unsent(igtcloud_upload *u);

/* upload_plan.c: free the batches left (a run cut short). */
void igtcloud__upload_free_batches(igtcloud_upload *u);

/* upload_transfer.c: the transfer and the completion queue of a run. */
int igtcloud__upload_new_transfer(igtcloud_upload *u);

/*
 * upload_transfer.c: settle the journal, then plan and send every file in
 * one engine run fed by the planner (the first round).
 */
int igtcloud__upload_send(igtcloud_upload *u);

/*
 * upload_transfer.c: the files that changed while they were sent: those
 * that changed once are registered again and sent once more; those that
 * changed twice (or are gone) fail. *again tells whether any was sent.
 */
int igtcloud__upload_send_changed(igtcloud_upload *u, int *again);

/* upload_transfer.c: mark a file failed, counted and reported (it stays alive). */
void igtcloud__upload_fail_file(igtcloud_upload *u, ufile *f, int status, const char *message);

#endif
