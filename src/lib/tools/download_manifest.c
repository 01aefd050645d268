/*
 * The completion manifest of a download target (see download_int.h): the
 * file's lines stay on disk; memory holds only an index of their offsets.
 */
#include "tools/download_int.h"
#include "core/error.h"
#include "core/fdio.h"
#include "core/hash.h"
#include "core/safepath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MANIFEST_DIR ".igtcloud"
#define MANIFEST_NAME "download-manifest"

/* A slot: the line's offset + 1 in its low OFF_BITS bits (0: empty), the top bits of its hash above. */
#define OFF_BITS 40
#define OFF_MASK ((UINT64_C(1) << OFF_BITS) - 1)
#define CHUNK 65536       /* bytes read at a time while indexing */
#define LINE_STACK 512    /* a line read back that fits here needs no allocation */

uint64_t igtcloud__dl_manifest_hash_mask = UINT64_MAX;

/* A decimal field ending at a space; advances *p past the space. */
static int take_number(long long *out, const char **p, const char *end)
{
    const char *s = *p;
    long long v = 0;
    if (s >= end || *s < '0' || *s > '9')
        return -1;
    while (s < end && *s >= '0' && *s <= '9') {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*s - '0');
        s++;
    }
    if (s >= end || *s != ' ')
        return -1;
    *out = v;
    *p = s + 1;
    return 0;
}

int igtcloud__dl_manifest_parse_line(const char *line, size_t len, const char **rel,
                                     long long *size, long long *sec, long *nsec)
{
    const char *p = line, *end = line + len;
    long long version, ns;
    if (take_number(&version, &p, end) || version != 1 || take_number(size, &p, end) ||
        take_number(sec, &p, end) || take_number(&ns, &p, end) || ns > 999999999)
        return -1;
    *nsec = (long)ns;
    const char *sp = memchr(p, ' ', (size_t)(end - p));   /* the etag has no spaces */
    if (!sp || sp + 1 >= end || memchr(sp + 1, '\0', (size_t)(end - sp - 1)))
        return -1;
    *rel = sp + 1;
    return 0;
}

static uint64_t path_hash(const char *s, size_t len)
{
    return igtcloud__hash64(s, len) & igtcloud__dl_manifest_hash_mask;
}

/* One line read back: its path (not NUL-terminated) and what it records. */
typedef struct mline {
    const char *rel;
    size_t rel_len;
    long long size, sec;
    long nsec;
} mline;

/* Room for a line read back: `stack` first, then a growing heap buffer the caller frees. */
typedef struct line_room {
    char stack[LINE_STACK];
    char *heap;
    size_t heap_cap;
} line_room;

/*
 * Read back and parse the line that starts at `off`. Returns 0, 1 when no
 * well-formed complete line starts there (someone rewrote the file since it
 * was indexed), or -errno (a read error, ENOMEM). Sets no error message:
 * lookups must not clobber the caller's.
 */
static int line_at(const igtcloud__dl_manifest *m, uint64_t off, line_room *room, mline *out)
{
    char *p = room->stack;
    size_t cap = sizeof(room->stack), have = 0;
    int in_heap = 0;
    for (;;) {
        ssize_t got = igtcloud__pread_full(m->fd, p + have, cap - have, (off_t)(off + have));
        if (got < 0)
            return -errno;
        char *nl = memchr(p + have, '\n', (size_t)got);
        if (nl) {
            const char *rel;
            if (igtcloud__dl_manifest_parse_line(p, (size_t)(nl - p), &rel, &out->size, &out->sec,
                                                 &out->nsec))
                return 1;
            out->rel = rel;
            out->rel_len = (size_t)(nl - rel);
            return 0;
        }
        have += (size_t)got;
        if (have < cap)
            return 1; /* the file ends without a newline */
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        if (room->heap_cap < cap * 2) {
            char *bigger = realloc(room->heap, cap * 2);
            if (!bigger)
                return -ENOMEM;
            room->heap = bigger;
            room->heap_cap = cap * 2;
        }
        if (!in_heap)
            memcpy(room->heap, p, have); /* realloc kept what the heap already held */
        in_heap = 1;
        p = room->heap;
        cap = room->heap_cap;
    }
}

static size_t slot_next(const igtcloud__dl_manifest *m, size_t i)
{
    return i + 1 == m->nslots ? 0 : i + 1;
}

/*
 * Index the line at `off` for `rel`. A slot already holding the same path
 * (read back and compared) is replaced: the later line wins.
 */
static int index_line(igtcloud__dl_manifest *m, const char *rel, size_t rel_len, uint64_t off,
                      line_room *room)
{
    if (m->used + 1 >= m->nslots)
        return 0; /* more lines than counted (the file grew since): leave them unindexed */
    uint64_t h = path_hash(rel, rel_len), tag = h >> OFF_BITS;
    uint64_t slot = (tag << OFF_BITS) | (off + 1);
    for (size_t i = (size_t)((h & OFF_MASK) % m->nslots);; i = slot_next(m, i)) {
        uint64_t s = m->slots[i];
        if (!s) {
            m->slots[i] = slot;
            m->used++;
            return 0;
        }
        if (s >> OFF_BITS != tag)
            continue;
        mline old;
        int rc = line_at(m, (s & OFF_MASK) - 1, room, &old);
        if (rc < 0)
            return igtcloud__error_set(rc == -ENOMEM ? IGTCLOUD_ENOMEM : IGTCLOUD_EIO,
                                       "cannot read %s: %s", m->path, strerror(-rc));
        if (rc == 0 && old.rel_len == rel_len && memcmp(old.rel, rel, rel_len) == 0) {
            m->slots[i] = slot;
            return 0;
        }
    }
}

/*
 * Count the complete lines and find where the last one ends; a tail without
 * a newline is a torn line.
 */
static int count_lines(igtcloud__dl_manifest *m, char *chunk, size_t *lines, uint64_t *end)
{
    uint64_t off = 0;
    *lines = 0;
    *end = 0;
    for (;;) {
        ssize_t got = igtcloud__pread_full(m->fd, chunk, CHUNK, (off_t)off);
        if (got < 0)
            return igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", m->path,
                                       strerror(errno));
        const char *p = chunk, *stop = chunk + got;
        for (;;) {
            const char *nl = memchr(p, '\n', (size_t)(stop - p));
            if (!nl)
                break;
            (*lines)++;
            *end = off + (uint64_t)(nl - chunk) + 1;
            p = nl + 1;
        }
        off += (uint64_t)got;
        if (got < CHUNK)
            break;
    }
    m->need_newline = off > *end;
    return 0;
}

/* Build the index of the complete lines (download_int.h). */
static int load(igtcloud__dl_manifest *m)
{
    line_room room = { .heap = NULL, .heap_cap = 0 };
    size_t lines, cap = CHUNK, len = 0, pos = 0;
    uint64_t end, base = 0;
    char *buf = malloc(cap);
    int rc;
    if (!buf)
        return igtcloud__error_oom();
    if ((rc = count_lines(m, buf, &lines, &end)) || lines == 0 || end > OFF_MASK)
        goto done;
    m->nslots = lines + lines / 2 + 1;
    m->slots = calloc(m->nslots, sizeof(*m->slots));
    if (!m->slots) {
        m->nslots = 0;
        rc = igtcloud__error_oom();
        goto done;
    }
    /* buf holds the file from offset `base`, `len` bytes; the next line starts at buf + pos. */
    while (base + pos < end) {
        char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl) {
            memmove(buf, buf + pos, len - pos);
            base += pos;
            len -= pos;
            pos = 0;
            if (len == cap) { /* a line longer than the buffer */
                char *bigger = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
                if (!bigger) {
                    rc = igtcloud__error_oom();
                    goto done;
                }
                buf = bigger;
                cap *= 2;
            }
            size_t want = cap - len;
            if (want > end - (base + len))
                want = (size_t)(end - (base + len));
            ssize_t got = want ? igtcloud__pread_full(m->fd, buf + len, want, (off_t)(base + len)) : 0;
            if (got < 0) {
                rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", m->path,
                                         strerror(errno));
                goto done;
            }
            if (got == 0)
                break; /* the file shrank since it was counted */
            len += (size_t)got;
            continue;
        }
        const char *rel;
        long long size, sec;
        long nsec;
        size_t n = (size_t)(nl - (buf + pos));
        if (igtcloud__dl_manifest_parse_line(buf + pos, n, &rel, &size, &sec, &nsec) == 0 &&
            (rc = index_line(m, rel, (size_t)(nl - rel), base + pos, &room)))
            goto done;
        pos += n + 1;
    }
done:
    free(room.heap);
    free(buf);
    return rc;
}

int igtcloud__dl_manifest_open(igtcloud__dl_manifest *m, const char *target, int read_only)
{
    igtcloud__buf dir = IGTCLOUD_BUF_INIT, path = IGTCLOUD_BUF_INIT;
    int rc;
    memset(m, 0, sizeof(*m));
    m->fd = -1;
    if ((rc = igtcloud__safepath_join(&dir, target, MANIFEST_DIR)) ||
        (rc = igtcloud__safepath_join(&path, target, MANIFEST_DIR "/" MANIFEST_NAME)))
        goto done;
    m->path = igtcloud__buf_detach(&path);
    if (read_only) {
        m->fd = open(m->path, O_RDONLY | O_CLOEXEC);
        if (m->fd < 0 && errno != ENOENT)
            rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", m->path, strerror(errno));
        if (m->fd >= 0)
            rc = load(m);
        goto done;
    }
    if (mkdir(dir.ptr, 0755) != 0 && errno != EEXIST) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write in %s: %s", target, strerror(errno));
        goto done;
    }
    m->fd = open(m->path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (m->fd < 0) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write %s: %s", m->path, strerror(errno));
        goto done;
    }
    m->writable = 1;
    if ((rc = load(m)))
        goto done;
    if (m->need_newline && write(m->fd, "\n", 1) != 1) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write %s: %s", m->path, strerror(errno));
        goto done;
    }
    m->need_newline = 0;
done:
    igtcloud__buf_dispose(&dir);
    igtcloud__buf_dispose(&path);
    return rc;
}

int igtcloud__dl_manifest_vouches(const igtcloud__dl_manifest *m, const char *rel,
                                  const struct stat *st)
{
    if (!m->nslots)
        return 0;
    line_room room = { .heap = NULL, .heap_cap = 0 };
    size_t rel_len = strlen(rel);
    uint64_t h = path_hash(rel, rel_len), tag = h >> OFF_BITS;
    int vouched = 0;
    for (size_t i = (size_t)((h & OFF_MASK) % m->nslots); m->slots[i]; i = slot_next(m, i)) {
        mline l;
        if (m->slots[i] >> OFF_BITS != tag || line_at(m, (m->slots[i] & OFF_MASK) - 1, &room, &l))
            continue; /* another path's hash, or a line that cannot be read back: not this one */
        if (l.rel_len == rel_len && memcmp(l.rel, rel, rel_len) == 0) {
            vouched = l.size == (long long)st->st_size && l.sec == (long long)st->st_mtim.tv_sec &&
                      l.nsec == (long)st->st_mtim.tv_nsec;
            break; /* the index holds one slot per path */
        }
    }
    free(room.heap);
    return vouched;
}

int igtcloud__dl_manifest_record(igtcloud__dl_manifest *m, const char *rel, const char *path,
                                 const char *etag)
{
    struct stat st;
    igtcloud__buf line = IGTCLOUD_BUF_INIT;
    int rc = 0;
    if (!m->writable)
        return 0;
    if (stat(path, &st) != 0)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot stat %s: %s", path, strerror(errno));
    const char *tag = etag && *etag && !strpbrk(etag, " \n") ? etag : "-";
    if ((rc = igtcloud__buf_printf(&line, "1 %lld %lld %ld %s %s\n", (long long)st.st_size,
                                   (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec, tag,
                                   rel)))
        goto done;
    if (write(m->fd, line.ptr, line.size) != (ssize_t)line.size)
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write %s: %s", m->path, strerror(errno));
done:
    igtcloud__buf_dispose(&line);
    return rc;
}

size_t igtcloud__dl_manifest_index_bytes(const igtcloud__dl_manifest *m)
{
    return m->nslots * sizeof(*m->slots);
}

int igtcloud__dl_manifest_close(igtcloud__dl_manifest *m)
{
    int rc = 0;
    if (m->fd >= 0 && close(m->fd) != 0 && m->writable)
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write %s: %s", m->path, strerror(errno));
    m->fd = -1;
    m->writable = 0;
    free(m->slots);
    m->slots = NULL;
    m->nslots = m->used = 0;
    free(m->path);
    m->path = NULL;
    return rc;
}
