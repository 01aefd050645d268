/*
 * The list of the files a run checked (see upload_int.h): the check pass
 * appends one record per file, the send pass reads each study's records
 * back. The records live in an unlinked temporary file, so the files of a
 * run cost no memory between the two passes, whatever their number; only
 * a write buffer and a read buffer are held.
 */
#include "tools/upload_int.h"

#include "core/error.h"
#include "core/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Records are written in chunks of about this size, and read back so. */
#define LIST_CHUNK ((size_t)64 * 1024)

/* One record: this header, then the name's bytes (no NUL). */
typedef struct list_head {
    uint32_t rel_len;
    uint32_t mtime_nsec;
    uint64_t size;
    int64_t mtime_sec;
    uint64_t ino;
} list_head;

int igtcloud__up_list_open(igtcloud__up_list *l, const char *dir)
{
    memset(l, 0, sizeof(*l));
    igtcloud__buf_init(&l->pending);
    const char *tmp = getenv("TMPDIR");
    const char *where[] = { dir, tmp && *tmp ? tmp : NULL, "/tmp" };
    l->fd = -1;
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]) && l->fd < 0; i++)
        if (where[i])
            l->fd = igtcloud__open_unnamed(where[i], "igtcloud-upload-list");
    /* Without any writable folder the records stay in memory: the run still works. */
    return 0;
}

/* Write the records buffered so far to the file (a no-op when they live in memory). */
static int flush(igtcloud__up_list *l)
{
    if (l->fd < 0 || l->pending.size == 0)
        return 0;
    if (igtcloud__pwrite_all(l->fd, l->pending.ptr, l->pending.size, (off_t)l->written))
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot write the list of files to send: %s",
                                   strerror(errno));
    l->written += l->pending.size;
    igtcloud__buf_clear(&l->pending);
    return 0;
}

int igtcloud__up_list_add(igtcloud__up_list *l, const char *rel, const struct stat *st)
{
    size_t len = strlen(rel);
    if (len > UINT32_MAX)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "a file name is too long");
    list_head h;
    memset(&h, 0, sizeof(h));
    h.rel_len = (uint32_t)len;
    h.mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
    h.size = (uint64_t)st->st_size;
    h.mtime_sec = (int64_t)st->st_mtim.tv_sec;
    h.ino = (uint64_t)st->st_ino;
    if (igtcloud__buf_put(&l->pending, &h, sizeof(h)) || igtcloud__buf_put(&l->pending, rel, len))
        return igtcloud__error_oom();
    l->size += sizeof(h) + len;
    return l->pending.size >= LIST_CHUNK ? flush(l) : 0;
}

uint64_t igtcloud__up_list_tell(const igtcloud__up_list *l)
{
    return l->size;
}

int igtcloud__up_list_in_memory(const igtcloud__up_list *l)
{
    return l->fd < 0;
}

void igtcloud__up_list_close(igtcloud__up_list *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    igtcloud__buf_dispose(&l->pending);
    l->size = l->written = 0;
}

int igtcloud__up_list_read(igtcloud__up_list_reader *r, igtcloud__up_list *l, uint64_t from,
                           uint64_t to)
{
    r->list = l;
    r->off = from;
    r->end = to;
    r->buf_off = 0;
    igtcloud__buf_clear(&r->buf); /* its buffers are kept for the next range */
    /* Everything added so far becomes readable. */
    return flush(l);
}

/*
 * The bytes [r->off, r->off + need) of the list, or NULL with the error set:
 * straight from memory, else from the read buffer, refilled from the file
 * when it does not hold them.
 */
static const char *bytes_at(igtcloud__up_list_reader *r, size_t need)
{
    const igtcloud__up_list *l = r->list;
    if (r->off + need > r->end || r->off + need > l->size) {
        igtcloud__error_set(IGTCLOUD_EIO, "the list of files to send is cut short");
        return NULL;
    }
    if (l->fd < 0)
        return l->pending.ptr + r->off;
    if (r->off >= r->buf_off && r->off + need <= r->buf_off + r->buf.size)
        return r->buf.ptr + (r->off - r->buf_off);
    size_t want = need > LIST_CHUNK ? need : LIST_CHUNK;
    if (want > r->end - r->off)
        want = (size_t)(r->end - r->off);
    igtcloud__buf_clear(&r->buf);
    if (igtcloud__buf_grow(&r->buf, want)) {
        igtcloud__error_oom();
        return NULL;
    }
    ssize_t got = igtcloud__pread_full(l->fd, r->buf.ptr, want, (off_t)r->off);
    if (got < 0 || (size_t)got < need) {
        igtcloud__error_set(IGTCLOUD_EIO, "cannot read the list of files to send: %s",
                            got < 0 ? strerror(errno) : "cut short");
        return NULL;
    }
    r->buf.size = (size_t)got;
    r->buf_off = r->off;
    return r->buf.ptr;
}

int igtcloud__up_list_next(igtcloud__up_list_reader *r, igtcloud__up_record *out)
{
    if (r->off >= r->end)
        return 0;
    const char *p = bytes_at(r, sizeof(list_head));
    if (!p)
        return igtcloud_error_last()->code;
    list_head h;
    memcpy(&h, p, sizeof(h));
    if (!(p = bytes_at(r, sizeof(h) + h.rel_len)))
        return igtcloud_error_last()->code;
    igtcloud__buf_clear(&r->rel);
    if (igtcloud__buf_put(&r->rel, p + sizeof(h), h.rel_len))
        return igtcloud__error_oom();
    r->off += sizeof(h) + h.rel_len;
    out->rel = igtcloud__buf_cstr(&r->rel);
    out->size = h.size;
    out->mtime_sec = h.mtime_sec;
    out->mtime_nsec = (long)h.mtime_nsec;
    out->ino = h.ino;
    return 1;
}

void igtcloud__up_list_reader_dispose(igtcloud__up_list_reader *r)
{
    igtcloud__buf_dispose(&r->buf);
    igtcloud__buf_dispose(&r->rel);
    memset(r, 0, sizeof(*r));
}
