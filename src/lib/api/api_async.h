#ifndef IGTCLOUD_API_API_ASYNC_H
#define IGTCLOUD_API_API_ASYNC_H

#include <signal.h>

#include "igtcloud/session.h"
#include "auth/session_int.h"

/*
 * API calls (JSON POSTs) that run beside the caller instead of in its way:
 * a bounded queue drained by a few worker threads, each with its own HTTP
 * connection. Upload uses it for the per-file $file-upload-completed call,
 * which would otherwise stall the transfer engine's loop once per file.
 *
 * Threads and the session: a session is not thread-safe. The workers take
 * the queue's session lock whenever they read the session (the JWT and CSRF
 * they send, a refresh after a 401, the fallback through the session's own
 * connection), and whoever else uses the session while calls may run must
 * hold the same lock (igtcloud__api_async_lock). Results are reported only
 * on the thread that harvests (post and harvest), never on a worker, so the
 * caller's state needs no lock of its own.
 *
 * Memory is bounded: at most `capacity` calls are queued, running or
 * finished but not yet reported; post blocks (reporting finished calls
 * meanwhile) until one of them is reported.
 */

typedef struct igtcloud__api_async igtcloud__api_async;

/*
 * One finished call: `item` as given to post, `status` 0 or a negative
 * igtcloud_status (IGTCLOUD_ECANCELLED when the cancel flag stopped it),
 * `message` the one-line error ("" on success).
 */
typedef void (*igtcloud__api_async_done_fn)(void *item, int status, const char *message,
                                            void *payload);

typedef struct igtcloud__api_async_options {
    unsigned int workers;            /* threads (connections); 0: 2 */
    unsigned int capacity;           /* calls not yet reported; 0: 64 */
    const char *ca_file;             /* PEM bundle for the workers' connections, or NULL */
    volatile sig_atomic_t *cancel;   /* non-zero: stop soon (calls not sent are cancelled) */
    igtcloud__api_async_done_fn done; /* results of calls posted without their own */
    void *done_payload;
} igtcloud__api_async_options;

#define IGTCLOUD__API_ASYNC_OPTIONS_INIT { 0, 0, NULL, NULL, NULL, NULL }

/* Start the workers. The session must outlive the queue. */
int igtcloud__api_async_new(igtcloud__api_async **out, igtcloud_session *session,
                            const igtcloud__api_async_options *opts);

/*
 * Queue POST `path` ("/api/...") with `json_body` (both copied); `what`
 * (static) names the call in errors; its result goes to `done` (NULL: the
 * queue's) with `item` and the queue's done_payload. Blocks while the queue
 * is full, reporting finished calls meanwhile. Returns 0, IGTCLOUD_ENOMEM,
 * or IGTCLOUD_ECANCELLED when the cancel flag is set while it waits.
 */
int igtcloud__api_async_post(igtcloud__api_async *q, const char *path, const char *json_body,
                             const char *what, igtcloud__api_async_done_fn done, void *item);

/*
 * Report the finished calls through `done`. With `wait`, also wait until
 * every queued call has finished and been reported.
 */
void igtcloud__api_async_harvest(igtcloud__api_async *q, int wait);

/*
 * Report finished calls until *flag is non-zero (a `done` callback sets it,
 * on this thread) or no call is left, waiting as needed: for one call's
 * answer without waiting for every other.
 */
void igtcloud__api_async_harvest_until(igtcloud__api_async *q, const int *flag);

/* Hold the session lock around any other use of the session while calls may run. */
void igtcloud__api_async_lock(igtcloud__api_async *q);
void igtcloud__api_async_unlock(igtcloud__api_async *q);

/*
 * Keep the queue's session fresh while the caller's transfer runs: the
 * caller's progress callback calls this (igtcloud__session_keep_fresh under
 * the session lock, so a refresh never races a worker's call).
 */
void igtcloud__api_async_keep_fresh(igtcloud__api_async *q, igtcloud__session_keeper *keeper);

/*
 * Stop the workers and free the queue. Calls not yet sent are dropped
 * without being reported; harvest with `wait` first to see every result.
 * NULL is a no-op.
 */
void igtcloud__api_async_free(igtcloud__api_async *q);

#endif
