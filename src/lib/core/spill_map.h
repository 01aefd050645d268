#ifndef IGTCLOUD_CORE_SPILL_MAP_H
#define IGTCLOUD_CORE_SPILL_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/spill.h"

/*
 * A map from byte-string keys to 64-bit values whose entries are kept out of
 * memory: each entry is appended to a spill (an unlinked temporary file,
 * core/spill.h), and memory holds only an open-addressing index of 8-byte
 * slots (the entry's offset and the top bits of its key's hash), kept at
 * most two thirds full: about 12 bytes an entry. A look-up reads the
 * candidate entries back and compares keys exactly, so a hash collision
 * costs a read, never a wrong answer. Used for what grows with one study's
 * size on the server: upload's index of a study's remote files, download's
 * collision claims.
 *
 * Entries are never removed; setting a key again appends a new entry that
 * replaces the old one in the index.
 */
typedef struct igtcloud__spill_map {
    igtcloud__spill entries;
    uint64_t *slots;
    size_t nslots, used;
    char *room;          /* an entry read back */
    size_t room_cap;
} igtcloud__spill_map;

/*
 * Open an empty map; its file is made in `dir` (may be NULL), else $TMPDIR,
 * else /tmp, and when none can be made the entries stay in memory. Never
 * fails; nothing is allocated before the first entry.
 */
void igtcloud__spill_map_open(igtcloud__spill_map *m, const char *dir);

/* Set key (len bytes, any bytes) to value; 0, IGTCLOUD_ENOMEM or IGTCLOUD_EIO (message set). */
int igtcloud__spill_map_set(igtcloud__spill_map *m, const void *key, size_t len, uint64_t value);

/*
 * Look key up: 1 with *value (may be NULL) set, 0 when absent, or
 * IGTCLOUD_ENOMEM / IGTCLOUD_EIO (message set) when an entry cannot be read back.
 */
int igtcloud__spill_map_get(igtcloud__spill_map *m, const void *key, size_t len, uint64_t *value);

/* Number of distinct keys. */
size_t igtcloud__spill_map_count(const igtcloud__spill_map *m);

/* Bytes of memory the index holds (for tests). */
size_t igtcloud__spill_map_index_bytes(const igtcloud__spill_map *m);

/*
 * Empty the map, keeping its file (cut to nothing) for the next entries; the
 * index is freed. 0, or IGTCLOUD_EIO when the file cannot be cut (the map
 * is then empty, in memory).
 */
int igtcloud__spill_map_clear(igtcloud__spill_map *m);

/* Close the file and free everything; the map is empty and reusable after. */
void igtcloud__spill_map_close(igtcloud__spill_map *m);

/* Test hook: keys' hashes are masked with this (default all ones) to force collisions. */
extern uint64_t igtcloud__spill_map_hash_mask;

#endif
