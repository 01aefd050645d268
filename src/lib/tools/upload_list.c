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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    /* Without any writable folder the records stay in memory: the run still works. */
    igtcloud__spill_open_temp(l, dir, "igtcloud-upload-list");
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
    if (igtcloud__spill_put(l, &h, sizeof(h)) || igtcloud__spill_put(l, rel, len))
        return errno == ENOMEM ? igtcloud__error_oom()
                               : igtcloud__error_set(IGTCLOUD_EIO, "cannot write the list of "
                                                     "files to send: %s", strerror(errno));
    return 0;
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
    igtcloud__spill_close(l);
}

int igtcloud__up_list_read(igtcloud__up_list_reader *r, igtcloud__up_list *l, uint64_t from,
                           uint64_t to)
{
    r->list = l;
    r->off = from;
    r->end = to;
    igtcloud__buf_clear(&r->win.buf); /* its buffers are kept for the next range */
    /* Everything added so far becomes readable. */
    if (igtcloud__spill_flush(l))
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot write the list of files to send: %s",
                                   strerror(errno));
    return 0;
}

/* The bytes [r->off, r->off + need) of the list, or NULL with the error set. */
static const char *bytes_at(igtcloud__up_list_reader *r, size_t need)
{
    const char *p;
    if (igtcloud__spill_read(&p, r->list, &r->win, r->off, need, r->end) == 0)
        return p;
    if (errno == ENOMEM)
        igtcloud__error_oom();
    else
        igtcloud__error_set(IGTCLOUD_EIO, "cannot read the list of files to send: %s",
                            errno == EIO ? "cut short" : strerror(errno));
    return NULL;
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
    igtcloud__buf_dispose(&r->win.buf);
    igtcloud__buf_dispose(&r->rel);
    memset(r, 0, sizeof(*r));
}
