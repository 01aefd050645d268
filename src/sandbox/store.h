#ifndef SANDBOX_STORE_H
#define SANDBOX_STORE_H

#include <sqlite3.h>
#include "sandbox.h"

/*
 * The sandbox's metadata in SQLite (WAL mode), in DATA_DIR/sandbox.db.
 * Object bytes live beside it as plain files under DATA_DIR/objects/.
 * One connection, guarded by one lock: API handlers run with the lock held
 * (server.c takes it), other callers take it themselves.
 */

int sandbox_store_open(sandbox_store **out, const char *data_dir);
void sandbox_store_close(sandbox_store *store);

void sandbox_store_lock(sandbox_store *store);
void sandbox_store_unlock(sandbox_store *store);

/* The connection, for the store_*.c query files; use with the lock held. */
sqlite3 *sandbox_store_db(sandbox_store *store);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK; return SQLITE_OK or an error code. */
int sandbox_store_begin(sandbox_store *store);
int sandbox_store_commit(sandbox_store *store);
void sandbox_store_rollback(sandbox_store *store);

/* Small persistent settings (the JWT signing secret, the bucket name). */
int sandbox_store_meta_get(sandbox_store *store, const char *key, char *out, size_t out_size);
int sandbox_store_meta_set(sandbox_store *store, const char *key, const char *value);

/* A random RFC 4122 version 4 UUID, lower-case (37 bytes with the NUL). */
int sandbox_uuid(char out[37]);

#endif
