/*
 * Multipart downloads checked against the object's CRC32C checksum, by
 * default: a few percent of one core, where the multipart ETag's MD5 costs
 * as much CPU as the rest of the download (engine_parts.c).
 *
 * An upload that sends CRC32C checksums (this engine's default, and AWS
 * SDKs') leaves the object a checksum GET and HEAD return with
 * x-amz-checksum-mode: COMPOSITE, "base64-N", the CRC32C of the parts'
 * CRC32Cs (big-endian, in order) and their number; or FULL_OBJECT, the
 * CRC32C of the whole object. A whole GET carries it; a ranged one does not,
 * so a large object's is asked for with one HEAD.
 *
 * Bytes arrive out of order, a range at a time. Each piece's CRC register
 * (from zero) is shifted to the end of the granule it falls in (1 MiB, or
 * more for objects past 256 GiB) and xored into that granule's register:
 * the order pieces come in does not matter (core/hash.h), and no byte is
 * read again. The workers that write download chunks sum them (a chunk has
 * at most one granule boundary in it); the loop folds what they give back,
 * and sums what it writes itself. Once the object is on disk, granules join
 * into each part's CRC32C at the part sizes HEAD ?partNumber=1 tells
 * (engine_parts.c); a part boundary inside a granule has that granule read
 * back. Ranges found done by a resumed run were never seen: workers read
 * them back while the rest arrives, two tasks of up to 64 MiB at a time (a
 * cancel waits for those two only); what none could is read back on the
 * loop at the end.
 */
#include "s3/engine_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fdio.h"
#include "core/hash.h"

#define GRANULE_MIN MIB
#define GRANULES_MAX (256u * 1024) /* 1 MiB of registers at most */
#define READ_BACK_TASKS 2

uint64_t igtcloud__engine_read_back_task_max = 64 * MIB;

/*
 * What x-amz-checksum-crc32c says of j's object: CRC_COMPOSITE (with as many
 * parts as its ETag), CRC_FULL, or CRC_NONE (absent, or not one of those).
 */
static int parse_checksum(job *j, const char *value)
{
    uint32_t parts, etag_parts;
    if (igtcloud__wire_checksum_crc32c(&j->crc_expected, &parts, value, strlen(value)) != 0)
        return CRC_NONE;
    if (parts == 0)
        return CRC_FULL;
    return igtcloud__wire_etag_parts(j->etag, &etag_parts) && parts == etag_parts ? CRC_COMPOSITE
                                                                                 : CRC_NONE;
}

static void stop_folding(job *j, int state)
{
    free(j->crc_gran);
    free(j->crc_unfolded);
    j->crc_gran = NULL;
    j->crc_unfolded = NULL;
    j->crc_state = state;
}

void igtcloud__engine_crc_reset(job *j)
{
    stop_folding(j, CRC_UNSET);
    j->crc_asked = 0;
    j->crc_generation++; /* a HEAD asked before this is not about what comes next */
}

static int start_folding(job *j)
{
    uint64_t g = GRANULE_MIN;
    while ((j->size + g - 1) / g > GRANULES_MAX)
        g *= 2;
    j->crc_gran_size = g;
    j->crc_gran = calloc((size_t)((j->size + g - 1) / g), sizeof(*j->crc_gran));
    return j->crc_gran ? 0 : -1;
}

/* Where the granule holding byte `at` ends (the object's last one ends with it). */
static uint64_t granule_end(const job *j, uint64_t at)
{
    uint64_t end = (at / j->crc_gran_size + 1) * j->crc_gran_size;
    return end < j->size ? end : j->size;
}

/* Fold the register of [from, to), which lies in one granule, into it. */
static void fold_register(job *j, uint64_t from, uint64_t to, uint32_t reg)
{
    if (from < to)
        j->crc_gran[from / j->crc_gran_size] ^= igtcloud__crc32c_shift(reg, granule_end(j, from) - to);
}

void igtcloud__engine_crc_begin(igtcloud_transfer *t, job *j, const req *r)
{
    uint32_t parts;
    if (j->crc_state != CRC_UNSET || !j->size_known || j->size == 0 ||
        !igtcloud__wire_etag_parts(j->etag, &parts))
        return;
    if (r->status == 200) {
        /* A whole GET says it (a full-object value is summed in order: learn_crc32c). */
        int state = r->checksum_crc32c[0] ? parse_checksum(j, r->checksum_crc32c) : CRC_NONE;
        if (state != CRC_COMPOSITE || start_folding(j) != 0)
            state = CRC_NONE;
        j->crc_state = state;
        return;
    }
    if (start_folding(j) != 0) {
        stop_folding(j, CRC_NONE);
        return;
    }
    j->crc_state = CRC_PENDING;
    igtcloud__engine_crc_read_ahead(t, j);
}

void igtcloud__engine_crc_resumed(job *j)
{
    /* The state is decided by the first range's answer; what is on disk already is noted. */
    igtcloud__engine_crc_reset(j);
    j->crc_read_next = 0;
    if (j->journal.ndone == 0)
        return;
    j->crc_unfolded = malloc(j->journal.count);
    if (j->crc_unfolded)
        memcpy(j->crc_unfolded, j->journal.done, j->journal.count);
    else
        j->crc_state = CRC_NONE; /* no memory to remember them: checked by size */
}

void igtcloud__engine_crc_ask(igtcloud_transfer *t, job *j)
{
    if (j->crc_state != CRC_PENDING || j->crc_asked)
        return;
    req *r = igtcloud__engine_req_new(j, RK_CHECKSUM, j->crc_generation, 0, 0);
    if (!r) {
        stop_folding(j, CRC_NONE);
        return;
    }
    j->crc_asked = 1;
    igtcloud__engine_enqueue(t, r, 0);
}

void igtcloud__engine_crc_answer(igtcloud_transfer *t, const req *r, int ok)
{
    job *j = r->job;
    if (j->crc_state != CRC_PENDING || r->index != j->crc_generation)
        return;
    /* If-Match held it to the object being fetched; a server that ignores it is caught here. */
    int state = ok && r->checksum_crc32c[0] && strcmp(r->etag, j->etag) == 0
                    ? parse_checksum(j, r->checksum_crc32c)
                    : CRC_NONE;
    if (state == CRC_NONE)
        stop_folding(j, CRC_NONE);
    else
        j->crc_state = state;
    if (j->finished && !j->failing)
        igtcloud__engine_download_finish(t, j); /* it waited for this answer */
    else if (state == CRC_COMPOSITE)
        igtcloud__engine_parts_ask(t, j); /* the part size, while the rest arrives */
    else if (state == CRC_NONE)
        igtcloud__engine_verify_advance(t, j); /* the multipart ETag's MD5, when asked for */
}

void igtcloud__engine_crc_fold(job *j, uint64_t at, const void *data, size_t n)
{
    if (at + n > j->size) {
        stop_folding(j, CRC_NONE); /* cannot be: the size was checked */
        return;
    }
    const unsigned char *p = data;
    for (uint64_t end = at + n; at < end;) {
        uint64_t piece_end = igtcloud__engine_crc_split(j, at, end);
        fold_register(j, at, piece_end, igtcloud__crc32c_raw(p, (size_t)(piece_end - at)));
        p += piece_end - at;
        at = piece_end;
    }
}

uint64_t igtcloud__engine_crc_split(const job *j, uint64_t from, uint64_t to)
{
    uint64_t boundary = granule_end(j, from);
    return boundary < to ? boundary : to;
}

void igtcloud__engine_crc_fold_pieces(job *j, uint32_t generation, uint64_t from, uint64_t split,
                                      uint64_t to, const uint32_t raw[2])
{
    /* A chunk past a granule: cannot be, as chunks are at most 1 MiB; then nothing is sure. */
    if (!j->crc_gran || generation != j->crc_generation)
        return;
    if (to > j->size || igtcloud__engine_crc_split(j, split, to) != to) {
        stop_folding(j, CRC_NONE);
        return;
    }
    fold_register(j, from, split, raw[0]);
    fold_register(j, split, to, raw[1]);
}

int igtcloud__engine_crc_read_raw(int fd, uint64_t from, uint64_t to, unsigned char *buf,
                                  size_t buf_size, uint32_t *reg)
{
    *reg = 0;
    while (from < to) {
        size_t want = to - from < buf_size ? (size_t)(to - from) : buf_size;
        ssize_t got = igtcloud__pread_full(fd, buf, want, (off_t)from);
        if (got <= 0)
            return got < 0 ? -errno : -EIO; /* EIO: the file shrank */
        *reg = igtcloud__crc32c_shift(*reg, (uint64_t)got) ^ igtcloud__crc32c_raw(buf, (size_t)got);
        from += (uint64_t)got;
    }
    return 0;
}

/* The raw register of the file's bytes [from, to), read back here (0, or an error set). */
static int read_back(igtcloud_transfer *t, job *j, uint64_t from, uint64_t to, uint32_t *reg)
{
    int rc = igtcloud__engine_crc_read_raw(j->fd, from, to, t->io_buf, IO_BUF_SIZE, reg);
    if (rc)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot read back %s: %s", j->tmp_path,
                                   strerror(-rc));
    return 0;
}

void igtcloud__engine_crc_read_ahead(igtcloud_transfer *t, job *j)
{
    /* Cancelling waits for the tasks out (engine_loop.c's cancel_all): no more go. */
    if (!j->crc_unfolded || !j->crc_gran || j->failing || t->cancel)
        return;
    const uint32_t count = j->journal.count;
    const uint64_t range = j->journal.range_size;
    while (j->crc_reading < READ_BACK_TASKS) {
        uint32_t first = j->crc_read_next;
        while (first < count && !j->crc_unfolded[first])
            first++;
        j->crc_read_next = first;
        if (first == count)
            return;
        uint32_t end = first + 1;
        while (end < count && j->crc_unfolded[end] &&
               (uint64_t)(end + 1 - first) * range <= igtcloud__engine_read_back_task_max)
            end++;
        uint64_t to = (uint64_t)end * range < j->size ? (uint64_t)end * range : j->size;
        if (igtcloud__engine_crc_read_submit(t, j, (uint64_t)first * range, to) != 0)
            return; /* left to the conclusion */
        memset(j->crc_unfolded + first, 0, end - first);
        j->crc_read_next = end;
        j->crc_reading++;
    }
}

void igtcloud__engine_crc_read_done(igtcloud_transfer *t, job *j, uint32_t generation, uint64_t from,
                                    uint64_t to, const uint32_t *regs, int result)
{
    j->crc_reading--;
    if (generation != j->crc_generation || !j->crc_gran || !j->crc_unfolded)
        return; /* restarted, or no longer checked (or concluded: cannot be, j was pending) */
    const uint64_t range = j->journal.range_size;
    const size_t ranges = (size_t)((to - from + range - 1) / range);
    if (result < 0) {
        /* Not handed out again: the conclusion reads them itself and reports what fails. */
        memset(j->crc_unfolded + from / range, 1, ranges);
        return;
    }
    t->stats.ranges_read_back_by_workers += ranges;
    for (size_t k = 0; from < to; k++) {
        uint64_t end = igtcloud__engine_crc_split(j, from, to);
        fold_register(j, from, end, regs[k]);
        from = end;
    }
    igtcloud__engine_crc_read_ahead(t, j);
}

/* Fold in the ranges a resumed run found on disk. */
static int fold_unfolded(igtcloud_transfer *t, job *j)
{
    for (uint32_t i = 0; j->crc_unfolded && i < j->journal.count; i++) {
        if (!j->crc_unfolded[i])
            continue;
        uint64_t from = (uint64_t)i * j->journal.range_size;
        uint64_t to = from + j->journal.range_size < j->size ? from + j->journal.range_size : j->size;
        /* Granule by granule, so each piece's register shifts to its granule's end. */
        while (from < to) {
            uint64_t end = igtcloud__engine_crc_split(j, from, to);
            uint32_t reg;
            int rc = read_back(t, j, from, end, &reg);
            if (rc)
                return rc;
            fold_register(j, from, end, reg);
            from = end;
        }
    }
    free(j->crc_unfolded);
    j->crc_unfolded = NULL;
    return 0;
}

/* The raw register of the object's bytes [from, to) from the granules (0, or an error set). */
static int span_register(igtcloud_transfer *t, job *j, uint64_t from, uint64_t to, uint32_t *out)
{
    uint32_t reg = 0;
    while (from < to) {
        uint64_t end = igtcloud__engine_crc_split(j, from, to);
        uint32_t piece;
        if (from % j->crc_gran_size == 0 && end == granule_end(j, from)) {
            piece = j->crc_gran[from / j->crc_gran_size];
        } else {
            /* A part boundary inside this granule: its side is read back. */
            int rc = read_back(t, j, from, end, &piece);
            if (rc)
                return rc;
        }
        reg = igtcloud__crc32c_shift(reg, end - from) ^ piece;
        from = end;
    }
    *out = reg;
    return 0;
}

int igtcloud__engine_crc_conclude(igtcloud_transfer *t, job *j)
{
    int rc = fold_unfolded(t, j);
    if (rc)
        return rc;
    uint32_t reg;
    if (j->crc_state == CRC_FULL) {
        rc = span_register(t, j, 0, j->size, &reg);
        if (rc)
            return rc;
        return igtcloud__crc32c_of_raw(reg, j->size) == j->crc_expected ? 0 : 1;
    }
    /* Composite: the CRC32C of the parts' CRC32Cs, big-endian. */
    uint32_t outer = 0;
    uint64_t at = 0;
    for (uint32_t k = 0; k < j->mp_count; k++) {
        uint64_t size = igtcloud__engine_parts_size(j, k);
        if (size > j->size - at)
            return 1; /* the parts as assumed do not fit: confirmed one by one */
        rc = span_register(t, j, at, at + size, &reg);
        if (rc)
            return rc;
        uint32_t crc = igtcloud__crc32c_of_raw(reg, size);
        unsigned char be[4] = { (unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                                (unsigned char)(crc >> 8), (unsigned char)crc };
        outer = igtcloud__crc32c(outer, be, sizeof(be));
        at += size;
    }
    return at == j->size && outer == j->crc_expected ? 0 : 1;
}
