#include "core/spill.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/fdio.h"

void igtcloud__spill_init(igtcloud__spill *s, int fd)
{
    s->fd = fd;
    igtcloud__buf_init(&s->pending);
    s->size = s->written = 0;
}

void igtcloud__spill_open_temp(igtcloud__spill *s, const char *dir, const char *stem)
{
    const char *tmp = getenv("TMPDIR");
    const char *where[] = { dir, tmp && *tmp ? tmp : NULL, "/tmp" };
    int fd = -1;
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]) && fd < 0; i++)
        if (where[i])
            fd = igtcloud__open_unnamed(where[i], stem);
    igtcloud__spill_init(s, fd);
}

int igtcloud__spill_flush(igtcloud__spill *s)
{
    if (s->fd < 0 || s->pending.size == 0)
        return 0;
    if (igtcloud__pwrite_all(s->fd, s->pending.ptr, s->pending.size, (off_t)s->written))
        return -1;
    s->written += s->pending.size;
    igtcloud__buf_clear(&s->pending);
    return 0;
}

int igtcloud__spill_put(igtcloud__spill *s, const void *data, size_t len)
{
    if (igtcloud__buf_put(&s->pending, data, len)) {
        errno = ENOMEM;
        return -1;
    }
    s->size += len;
    return s->pending.size >= IGTCLOUD__SPILL_CHUNK ? igtcloud__spill_flush(s) : 0;
}

int igtcloud__spill_read(const char **p, const igtcloud__spill *s, igtcloud__spill_window *w,
                         uint64_t offset, size_t len, uint64_t limit)
{
    if (limit > s->size)
        limit = s->size;
    if (offset > limit || len > limit - offset) {
        errno = EIO;
        return -1;
    }
    if (s->fd < 0) {
        *p = s->pending.ptr + offset;
        return 0;
    }
    if (offset < w->at || offset + len > w->at + w->buf.size) {
        size_t want = len > IGTCLOUD__SPILL_CHUNK ? len : IGTCLOUD__SPILL_CHUNK;
        if (want > limit - offset)
            want = (size_t)(limit - offset);
        igtcloud__buf_clear(&w->buf);
        if (igtcloud__buf_grow(&w->buf, want)) {
            errno = ENOMEM;
            return -1;
        }
        ssize_t got = igtcloud__pread_full(s->fd, w->buf.ptr, want, (off_t)offset);
        if (got < 0)
            return -1;
        if ((size_t)got < len) {
            w->buf.size = 0;
            errno = EIO;
            return -1;
        }
        w->buf.size = (size_t)got;
        w->at = offset;
    }
    *p = w->buf.ptr + (offset - w->at);
    return 0;
}

void igtcloud__spill_close(igtcloud__spill *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    igtcloud__buf_dispose(&s->pending);
    s->size = s->written = 0;
}
