/*
 * The files of the study (or project) being planned, out of memory (see
 * download_int.h): a study of 100,000 files would otherwise hold its whole
 * listing while its files are planned a few at a time.
 *
 * The answers need not name a study's categories in our order (the
 * auxiliary answer may list annotations before dicom), so the records are
 * read back in one pass per category, each over the bytes between that
 * category's first record and the end of its last: when a category's
 * records lie together, as they do when each is one array of an answer,
 * every record is read once.
 */
#include "tools/download_int.h"

#include "core/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One record: this header, then the key and the name, each with its NUL. */
typedef struct rec_head {
    int64_t size;
    uint32_t key_len;   /* with the NUL */
    uint32_t name_len;  /* with the NUL */
    uint32_t category;
    uint32_t pad;
} rec_head;

/* The categories in the order they are read back (igtcloud_file_list's). */
static const igtcloud_category ranks[] = { IGTCLOUD_CATEGORY_FILES, IGTCLOUD_CATEGORY_DICOM,
                                           IGTCLOUD_CATEGORY_ANNOTATIONS,
                                           IGTCLOUD_CATEGORY_PROJECT };
#define NRANKS (sizeof(ranks) / sizeof(ranks[0]))

static unsigned int rank_of(igtcloud_category c)
{
    for (unsigned int i = 0; i < NRANKS; i++)
        if (ranks[i] == c)
            return i;
    return NRANKS;
}

static int spill_error(const char *doing)
{
    if (errno == ENOMEM)
        return igtcloud__error_oom();
    return igtcloud__error_set(IGTCLOUD_EIO, "cannot %s the temporary list of files to "
                               "download: %s", doing, errno == EIO ? "cut short" : strerror(errno));
}

void igtcloud__dl_listing_open(igtcloud__dl_listing *l)
{
    memset(l, 0, sizeof(*l));
    igtcloud__spill_open_temp(&l->records, NULL, "igtcloud-files");
    l->is_open = 1;
}

int igtcloud__dl_listing_add(igtcloud__dl_listing *l, const igtcloud_file_info *f)
{
    unsigned int rank = rank_of(f->category);
    size_t key_len = strlen(f->key) + 1, name_len = strlen(f->name) + 1;
    if (rank == NRANKS)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "unknown file category %d",
                                   (int)f->category);
    if (l->reading)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "a file added to a listing being read");
    if (key_len > UINT32_MAX || name_len > UINT32_MAX)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "a file's key or name is too long");
    rec_head h;
    memset(&h, 0, sizeof(h));
    h.size = f->size;
    h.key_len = (uint32_t)key_len;
    h.name_len = (uint32_t)name_len;
    h.category = (uint32_t)f->category;
    uint64_t at = l->records.size;
    if (igtcloud__spill_put(&l->records, &h, sizeof(h)) ||
        igtcloud__spill_put(&l->records, f->key, key_len) ||
        igtcloud__spill_put(&l->records, f->name, name_len))
        return spill_error("write");
    if (l->end[rank] == 0)
        l->first[rank] = at;
    l->end[rank] = l->records.size;
    l->count++;
    return 0;
}

/* Point p at `len` bytes of the records at `at`, or return the error. */
static int bytes_at(const char **p, igtcloud__dl_listing *l, uint64_t at, size_t len)
{
    if (igtcloud__spill_read(p, &l->records, &l->win, at, len, l->end[l->rank]))
        return spill_error("read");
    return 0;
}

int igtcloud__dl_listing_next(igtcloud__dl_listing *l, igtcloud_file_info *out)
{
    if (!l->reading) {
        /* Everything added becomes readable. */
        if (igtcloud__spill_flush(&l->records))
            return spill_error("write");
        l->reading = 1;
        l->rank = 0;
        l->next = l->first[0];
    }
    for (;;) {
        if (l->rank >= NRANKS)
            return 0;
        if (l->next >= l->end[l->rank]) {
            if (++l->rank < NRANKS)
                l->next = l->first[l->rank];
            continue;
        }
        const char *p;
        rec_head h;
        int rc = bytes_at(&p, l, l->next, sizeof(h));
        if (rc)
            return rc;
        memcpy(&h, p, sizeof(h));
        size_t len = sizeof(h) + (size_t)h.key_len + h.name_len;
        if ((rc = bytes_at(&p, l, l->next, len)))
            return rc;
        if (!h.key_len || !h.name_len || p[sizeof(h) + h.key_len - 1] || p[len - 1]) {
            errno = EIO;
            return spill_error("read");
        }
        l->next += len;
        if (h.category != (uint32_t)ranks[l->rank])
            continue; /* another category's, read in its own pass */
        memset(out, 0, sizeof(*out));
        out->category = ranks[l->rank];
        out->size = h.size;
        out->key = p + sizeof(h);
        out->name = out->key + h.key_len;
        out->type = "";
        out->upload_id = "";
        out->completed = 1;
        return 1;
    }
}

void igtcloud__dl_listing_clear(igtcloud__dl_listing *l)
{
    /* The same file, written again from its start: what lies past `size` is never read. */
    int fd = l->records.fd;
    l->records.fd = -1;
    igtcloud__spill_close(&l->records);
    igtcloud__spill_init(&l->records, fd);
    memset(l->first, 0, sizeof(l->first));
    memset(l->end, 0, sizeof(l->end));
    l->count = 0;
    l->rank = 0;
    l->next = 0;
    l->reading = 0;
    l->win.at = 0;
    igtcloud__buf_clear(&l->win.buf);
}

void igtcloud__dl_listing_close(igtcloud__dl_listing *l)
{
    if (!l->is_open)
        return;
    igtcloud__spill_close(&l->records);
    igtcloud__buf_dispose(&l->win.buf);
    memset(l, 0, sizeof(*l));
}
