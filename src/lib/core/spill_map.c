/*
 * A map whose entries live in a spill and whose index holds only offsets
 * (see spill_map.h).
 */
#include "core/spill_map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"
#include "core/hash.h"

/* A slot: the entry's offset + 1 in its low OFF_BITS bits (0: empty), the top bits of its hash above. */
#define OFF_BITS 40
#define OFF_MASK ((UINT64_C(1) << OFF_BITS) - 1)
#define FIRST_SLOTS 64
#define ROOM_GUESS 256   /* an entry read back: most keys fit in one read of this */

uint64_t igtcloud__spill_map_hash_mask = UINT64_MAX;

/* An entry: this header, then the key's bytes. */
typedef struct entry_head {
    uint64_t value;
    uint32_t len;
} entry_head;

#define HEAD_SIZE (sizeof(uint64_t) + sizeof(uint32_t))

static uint64_t key_hash(const void *key, size_t len)
{
    return igtcloud__hash64(key, len) & igtcloud__spill_map_hash_mask;
}

void igtcloud__spill_map_open(igtcloud__spill_map *m, const char *dir)
{
    memset(m, 0, sizeof(*m));
    igtcloud__spill_open_temp(&m->entries, dir, "igtcloud-map");
}

static int read_error(int err)
{
    return err == ENOMEM ? igtcloud__error_oom()
                         : igtcloud__error_set(IGTCLOUD_EIO, "cannot read back a temporary file: %s",
                                               strerror(err));
}

/* Copy `len` bytes at `off` into dst, from the file or from what is not written yet. */
static int copy_out(igtcloud__spill_map *m, char *dst, uint64_t off, size_t len)
{
    const igtcloud__spill *s = &m->entries;
    if (off > s->size || len > s->size - off)
        return read_error(EIO);
    while (len > 0) {
        if (off >= s->written) {
            memcpy(dst, s->pending.ptr + (off - s->written), len);
            return 0;
        }
        size_t in_file = s->written - off < len ? (size_t)(s->written - off) : len;
        ssize_t got = igtcloud__pread_full(s->fd, dst, in_file, (off_t)off);
        if (got < 0)
            return read_error(errno);
        if ((size_t)got < in_file)
            return read_error(EIO);
        dst += in_file;
        off += in_file;
        len -= in_file;
    }
    return 0;
}

static int room_for(igtcloud__spill_map *m, size_t len)
{
    if (m->room_cap >= len)
        return 0;
    size_t cap = m->room_cap ? m->room_cap : ROOM_GUESS;
    while (cap < len)
        cap *= 2;
    char *bigger = realloc(m->room, cap);
    if (!bigger)
        return igtcloud__error_oom();
    m->room = bigger;
    m->room_cap = cap;
    return 0;
}

/* Read back the entry at `off`: its key (in m->room, valid until the next read) and value. */
static int entry_at(igtcloud__spill_map *m, uint64_t off, const char **key, size_t *len,
                    uint64_t *value)
{
    uint64_t left = m->entries.size - off;
    size_t want = left < ROOM_GUESS ? (size_t)left : ROOM_GUESS;
    int rc;
    if (want < HEAD_SIZE)
        return read_error(EIO);
    if ((rc = room_for(m, want)) || (rc = copy_out(m, m->room, off, want)))
        return rc;
    entry_head h;
    memcpy(&h.value, m->room, sizeof(h.value));
    memcpy(&h.len, m->room + sizeof(h.value), sizeof(h.len));
    if (h.len > left - HEAD_SIZE)
        return read_error(EIO);
    if (HEAD_SIZE + h.len > want &&
        ((rc = room_for(m, HEAD_SIZE + h.len)) ||
         (rc = copy_out(m, m->room + want, off + want, HEAD_SIZE + h.len - want))))
        return rc;
    *key = m->room + HEAD_SIZE;
    *len = h.len;
    *value = h.value;
    return 0;
}

static size_t slot_next(const igtcloud__spill_map *m, size_t i)
{
    return i + 1 == m->nslots ? 0 : i + 1;
}

/*
 * Find key's slot: 1 with *at its index, or 0 with *at the empty slot where
 * it would go; or an error. *value gets the value found.
 */
static int find_slot(igtcloud__spill_map *m, const void *key, size_t len, uint64_t hash,
                     size_t *at, uint64_t *value)
{
    uint64_t tag = hash >> OFF_BITS;
    for (size_t i = (size_t)((hash & OFF_MASK) % m->nslots);; i = slot_next(m, i)) {
        uint64_t s = m->slots[i];
        if (!s) {
            *at = i;
            return 0;
        }
        if (s >> OFF_BITS != tag)
            continue;
        const char *k = NULL;
        size_t klen = 0;
        int rc = entry_at(m, (s & OFF_MASK) - 1, &k, &klen, value);
        if (rc)
            return rc;
        if (klen == len && memcmp(k, key, len) == 0) {
            *at = i;
            return 1;
        }
    }
}

/* Point key's slot at the entry at `off` (a new slot, or the one of an older entry of it). */
static int index_entry(igtcloud__spill_map *m, const void *key, size_t len, uint64_t off)
{
    uint64_t hash = key_hash(key, len), old;
    size_t at;
    int found = find_slot(m, key, len, hash, &at, &old);
    if (found < 0)
        return found;
    m->slots[at] = ((hash >> OFF_BITS) << OFF_BITS) | (off + 1);
    m->used += !found;
    return 0;
}

/*
 * Double the index (or make the first one): every entry is read back in
 * order and indexed again, a later entry of a key replacing an earlier.
 */
static int grow(igtcloud__spill_map *m)
{
    size_t n = m->nslots ? m->nslots * 2 : FIRST_SLOTS;
    uint64_t *slots = n <= SIZE_MAX / sizeof(*slots) ? calloc(n, sizeof(*slots)) : NULL;
    if (!slots)
        return igtcloud__error_oom();
    free(m->slots);
    m->slots = slots;
    m->nslots = n;
    m->used = 0;
    if (igtcloud__spill_flush(&m->entries))
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot write a temporary file: %s",
                                   strerror(errno));
    igtcloud__spill_window w = { IGTCLOUD_BUF_INIT, 0 };
    uint64_t off = 0, end = m->entries.size;
    int rc = 0;
    while (rc == 0 && off < end) {
        const char *p;
        entry_head h;
        if (igtcloud__spill_read(&p, &m->entries, &w, off, HEAD_SIZE, end)) {
            rc = read_error(errno);
            break;
        }
        memcpy(&h.len, p + sizeof(h.value), sizeof(h.len));
        if (igtcloud__spill_read(&p, &m->entries, &w, off + HEAD_SIZE, h.len, end)) {
            rc = read_error(errno);
            break;
        }
        /* index_entry may read through its own buffer, never through w: p stays valid. */
        rc = index_entry(m, p, h.len, off);
        off += HEAD_SIZE + h.len;
    }
    igtcloud__buf_dispose(&w.buf);
    return rc;
}

int igtcloud__spill_map_set(igtcloud__spill_map *m, const void *key, size_t len, uint64_t value)
{
    if (len > UINT32_MAX)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "a key of %zu bytes is too long", len);
    uint64_t off = m->entries.size;
    if (off + HEAD_SIZE + len > OFF_MASK)
        return igtcloud__error_set(IGTCLOUD_EIO, "a temporary file is full");
    uint32_t len32 = (uint32_t)len;
    if (igtcloud__spill_put(&m->entries, &value, sizeof(value)) ||
        igtcloud__spill_put(&m->entries, &len32, sizeof(len32)) ||
        igtcloud__spill_put(&m->entries, key, len))
        return errno == ENOMEM ? igtcloud__error_oom()
                               : igtcloud__error_set(IGTCLOUD_EIO, "cannot write a temporary file: %s",
                                                     strerror(errno));
    /* At most two thirds full, so that probes stay short; growing indexes the new entry too. */
    if ((m->used + 1) * 3 > m->nslots * 2)
        return grow(m);
    return index_entry(m, key, len, off);
}

int igtcloud__spill_map_get(igtcloud__spill_map *m, const void *key, size_t len, uint64_t *value)
{
    uint64_t found_value = 0;
    size_t at;
    if (!m->nslots)
        return 0;
    int rc = find_slot(m, key, len, key_hash(key, len), &at, &found_value);
    if (rc == 1 && value)
        *value = found_value;
    return rc;
}

size_t igtcloud__spill_map_count(const igtcloud__spill_map *m)
{
    return m->used;
}

size_t igtcloud__spill_map_index_bytes(const igtcloud__spill_map *m)
{
    return m->nslots * sizeof(*m->slots);
}

int igtcloud__spill_map_clear(igtcloud__spill_map *m)
{
    int fd = m->entries.fd;
    free(m->slots);
    m->slots = NULL;
    m->nslots = m->used = 0;
    m->entries.fd = -1; /* kept: the spill would close it */
    igtcloud__spill_close(&m->entries);
    if (fd >= 0 && ftruncate(fd, 0) != 0) {
        int err = errno;
        close(fd);
        igtcloud__spill_init(&m->entries, -1);
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot empty a temporary file: %s", strerror(err));
    }
    igtcloud__spill_init(&m->entries, fd);
    return 0;
}

void igtcloud__spill_map_close(igtcloud__spill_map *m)
{
    igtcloud__spill_close(&m->entries);
    free(m->slots);
    free(m->room);
    memset(m, 0, sizeof(*m));
    m->entries.fd = -1;
}
