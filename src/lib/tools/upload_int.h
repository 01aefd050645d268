#ifndef IGTCLOUD_TOOLS_UPLOAD_INT_H
#define IGTCLOUD_TOOLS_UPLOAD_INT_H

/*
 * Upload's shared state, between its files:
 *   upload.c           public API (igtcloud/upload.h), look-ups, the run
 *   upload_scan.c      the local tree: roots, study folders, files
 *   upload_studies.c   matching local studies to the server's; creating them
 *   upload_transfer.c  keys, registration, the engine and its callbacks,
 *                      completion, settling the journal
 *   upload_check.c     local checks of study.json and annotations
 *   upload_journal.c   the journal of multipart uploads in flight
 */

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "igtcloud/catalog.h"
#include "igtcloud/upload.h"
#include "api/api_async.h"
#include "api/catalog_int.h"

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
 * A run (upload.c and the files beside it): its roots, the institutes and
 * studies it targets, and its files.
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

typedef struct ustudy {
    uinst *inst;
    char *name;        /* "folder" (flat) or "patient/study" (hierarchical) */
    char *folder;      /* local folder, "" for single files */
    json_t *local;     /* parsed study.json, or NULL */
    igtcloud_study *remote; /* the study found or created, or NULL (to create) */
    json_t *files;     /* sizes of the remote complete files of the category, by fileName */
    int failed;        /* could not be created */
    size_t nfiles, nfailed;
} ustudy;

/* F_COMPLETING: the bytes are stored and the completion call is queued or running. */
enum { F_PLANNED, F_SKIPPED, F_QUEUED, F_COMPLETING, F_DONE, F_FAILED };

typedef struct ufile {
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
} ufile;

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
    ufile *files;
    size_t nfiles, afiles;
    json_t *project_files;   /* sizes of complete remote project files by fileName, or NULL */
    igtcloud_transfer *transfer;
    igtcloud__api_async *completions; /* registration and completion calls beside the run */
    int register_rc;         /* the first failed registration of a round, or 0 */
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

/* upload_scan.c: walk every root and add its studies and files (phase 2). */
int igtcloud__upload_scan(igtcloud_upload *u);

/* upload_studies.c: the sizes of the complete files of a listing, by fileName. */
int igtcloud__upload_index_files(json_t **out, const igtcloud_file_list *list);

/* upload_studies.c: find every study (read-only); nothing is created here. */
int igtcloud__upload_find_studies(igtcloud_upload *u);

/*
 * upload_studies.c: create the study a target stands for (the POST itself is
 * igtcloud__upload_create_study, api/upload_api.h).
 */
int igtcloud__upload_study_create(igtcloud_upload *u, ustudy *st);

/* upload_transfer.c: give each planned file its key; queue it, or skip it when complete. */
int igtcloud__upload_plan_files(igtcloud_upload *u);

/* upload_transfer.c: the transfer and the completion queue of a run. */
int igtcloud__upload_new_transfer(igtcloud_upload *u);

/* upload_transfer.c: register every queued file before any of them is sent. */
int igtcloud__upload_register_all(igtcloud_upload *u);

/* upload_transfer.c: settle the journal, then queue every F_QUEUED file and move them. */
int igtcloud__upload_move(igtcloud_upload *u);

/* upload_transfer.c: mark a file failed, counted and reported. */
void igtcloud__upload_fail_file(igtcloud_upload *u, ufile *f, int status, const char *message);

#endif
