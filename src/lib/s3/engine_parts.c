/*
 * Downloads checked against a multipart ETag. S3 (and Ceph RGW, and the
 * sandbox) name an object a multipart upload made by the MD5 of its parts'
 * MD5s, then "-" and their number. The part size is not in the ETag: HEAD
 * ?partNumber=1 tells it (Content-Length, and x-amz-mp-parts-count). The
 * uploaders in use send parts of one size but the last, so the in-order
 * hashing of the temporary file (engine_workers.c) ends a part's digest at
 * each multiple of that size.
 *
 * Parts of other sizes would make a sound download look corrupt, so a
 * mismatch is only reported once every part's size is known: the other
 * parts are asked for too (HEAD ?partNumber=2..N), and when one differs
 * from what was assumed the file is hashed again, on the loop's thread, at
 * the parts' real boundaries. A server that does not know partNumber, a
 * part size that cannot be, or a HEAD that fails leave the download checked
 * by its size alone, as without this (stats.parts_unverified).
 *
 * Only when asked for (igtcloud_transfer_options.verify_multipart), and
 * only for objects without a CRC32C checksum: hashing every byte with MD5
 * costs about as much CPU as the rest of a large download. An object with
 * a composite CRC32C is checked against it by default (engine_crc.c); the
 * part sizes are learned here for both.
 */
#include "s3/engine_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/error.h"
#include "core/hash.h"
#include "s3/wire.h"

int igtcloud__engine_parts_md5_wanted(const igtcloud_transfer *t, const job *j)
{
    uint32_t n;
    return t->o.verify_multipart && j->kind == JK_DOWNLOAD && j->mp_state != MP_NONE &&
           (j->crc_state == CRC_UNSET || j->crc_state == CRC_NONE) &&
           igtcloud__wire_etag_parts(j->etag, &n);
}

int igtcloud__engine_parts_wanted(const igtcloud_transfer *t, const job *j)
{
    return igtcloud__engine_parts_md5_wanted(t, j) ||
           (j->crc_state == CRC_COMPOSITE && j->mp_state != MP_NONE);
}

void igtcloud__engine_parts_reset(job *j)
{
    free(j->mp_outer);
    free(j->mp_sizes);
    j->mp_outer = NULL;
    j->mp_sizes = NULL;
    j->mp_state = MP_UNASKED;
    j->mp_count = j->mp_rolled = j->mp_confirm_left = 0;
    j->mp_rolled_end = j->mp_part_size = 0;
    j->mp_confirm_failed = 0;
}

/* Give up on the check: the download counts as checked by its size. */
static void give_up(igtcloud_transfer *t, job *j)
{
    j->mp_state = MP_NONE;
    t->stats.parts_unverified++;
}

/* HEAD part `number` of j's object. */
static int ask_part(igtcloud_transfer *t, job *j, uint32_t number)
{
    req *r = igtcloud__engine_req_new(j, RK_PARTS, number - 1, 0, 0);
    if (!r)
        return -1;
    igtcloud__engine_enqueue(t, r, 0);
    return 0;
}

void igtcloud__engine_parts_ask(igtcloud_transfer *t, job *j)
{
    if (j->mp_state != MP_UNASKED || !igtcloud__wire_etag_parts(j->etag, &j->mp_count))
        return;
    if (ask_part(t, j, 1)) {
        give_up(t, j);
        return;
    }
    j->mp_state = MP_ASKED;
}

/* The size of part k (from 0) if every part but the last is as large as part 1. */
static uint64_t assumed_size(const job *j, uint32_t k)
{
    return k + 1 < j->mp_count ? j->mp_part_size : j->size - (uint64_t)k * j->mp_part_size;
}

/* The size of part k (from 0), as learned or as assumed. */
static uint64_t part_size(const job *j, uint32_t k)
{
    return j->mp_sizes ? j->mp_sizes[k] : assumed_size(j, k);
}

uint64_t igtcloud__engine_parts_size(const job *j, uint32_t k)
{
    return part_size(j, k);
}

/* Whether part 1's HEAD describes parts of one size (but the last) of this object. */
static int one_size(const job *j, const req *r, uint64_t *ps)
{
    int64_t first, last, total;
    if (!r->has_length || r->parts_count != j->mp_count || r->content_length == 0)
        return 0;
    /* Part 1 of the object being fetched (If-Match held the HEAD to its ETag). */
    if (r->content_range[0] &&
        (igtcloud__wire_content_range(&first, &last, &total, r->content_range,
                                      strlen(r->content_range)) ||
         first != 0 || (uint64_t)(last + 1) != r->content_length || (uint64_t)total != j->size))
        return 0;
    uint64_t size = r->content_length, n = j->mp_count;
    if (n == 1 ? size != j->size
               : size > UINT64_MAX / n || (n - 1) * size >= j->size || n * size < j->size)
        return 0;
    *ps = size;
    return 1;
}

/* Start the digests over from byte 0 (the sizes changed, or what was hashed is unusable). */
static int restart_digests(job *j)
{
    if (!j->md5 && !(j->md5 = malloc(sizeof(*j->md5))))
        return igtcloud__error_oom();
    igtcloud__md5_init(j->md5);
    igtcloud__md5_init(j->mp_outer);
    j->md5_pos = 0;
    j->md5_range = 0;
    j->mp_rolled = 0;
    j->mp_rolled_end = 0;
    j->md5_broken = 0;
    return 0;
}

/* Every part's size is in (or a HEAD failed): conclude the confirmation. */
static void confirmed(igtcloud_transfer *t, job *j)
{
    uint64_t sum = 0;
    int same = 1;
    for (uint32_t k = 0; k < j->mp_count && !j->mp_confirm_failed; k++) {
        same = same && j->mp_sizes[k] == assumed_size(j, k);
        sum += j->mp_sizes[k];
    }
    if (j->mp_confirm_failed || sum != j->size) {
        give_up(t, j);
        igtcloud__engine_download_verified(t, j, 0);
        return;
    }
    j->mp_state = MP_KNOWN;
    if (same) {
        igtcloud__engine_download_verified(t, j, 1); /* the parts were as assumed: the data is not */
        return;
    }
    if (j->crc_state == CRC_COMPOSITE) {
        igtcloud__engine_parts_check(t, j); /* the granules join at the real boundaries */
        return;
    }
    /* Parts of other sizes: hash again at their boundaries (parts_check, on this thread). */
    int rc = restart_digests(j);
    if (rc) {
        igtcloud__engine_download_verified(t, j, rc);
        return;
    }
    j->md5_on_loop = 1;
    igtcloud__engine_parts_check(t, j);
}

void igtcloud__engine_parts_answer(igtcloud_transfer *t, const req *r, int ok)
{
    job *j = r->job;
    if (j->mp_state == MP_CONFIRMING) {
        if (!ok || !r->has_length || r->parts_count != j->mp_count)
            j->mp_confirm_failed = 1;
        else
            j->mp_sizes[r->index] = r->content_length;
        if (--j->mp_confirm_left == 0)
            confirmed(t, j);
        return;
    }
    uint64_t ps;
    if (j->mp_state != MP_ASKED)
        return;
    /* The MD5 of the parts' MD5s is summed here; a CRC32C check needs only the sizes. */
    int sized = ok && one_size(j, r, &ps);
    if (sized && igtcloud__engine_parts_md5_wanted(t, j)) {
        j->mp_outer = malloc(sizeof(*j->mp_outer));
        sized = j->mp_outer != NULL;
        if (sized)
            igtcloud__md5_init(j->mp_outer);
    }
    if (!sized) {
        give_up(t, j);
    } else {
        j->mp_part_size = ps;
        j->mp_rolled = 0;
        j->mp_rolled_end = 0;
        j->mp_state = MP_KNOWN;
    }
    if (j->finished)
        igtcloud__engine_parts_check(t, j);
    else
        igtcloud__engine_verify_advance(t, j);
}

uint64_t igtcloud__engine_parts_boundary(const job *j)
{
    /* Hashing is in order: the digest's position lies in the first part not rolled yet. */
    if (j->mp_rolled >= j->mp_count)
        return j->size;
    uint64_t end = j->mp_rolled_end + part_size(j, j->mp_rolled);
    return end < j->size ? end : j->size;
}

void igtcloud__engine_parts_roll(job *j)
{
    if (j->mp_state != MP_KNOWN || !j->md5)
        return;
    while (j->mp_rolled < j->mp_count &&
           j->md5_pos >= j->mp_rolled_end + part_size(j, j->mp_rolled)) {
        unsigned char d[16];
        igtcloud__md5_final(j->md5, d);
        igtcloud__md5_update(j->mp_outer, d, sizeof(d));
        igtcloud__md5_init(j->md5);
        j->mp_rolled_end += part_size(j, j->mp_rolled);
        j->mp_rolled++;
    }
}

/* Hash j's file from its digest's position to the end on this thread (0, or an error set). */
static int hash_here(igtcloud_transfer *t, job *j)
{
    while (j->md5_pos < j->size) {
        uint64_t end = igtcloud__engine_parts_boundary(j);
        if (end <= j->md5_pos)
            return igtcloud__error_set(IGTCLOUD_EPROTO, "download of %s: parts do not cover it",
                                       j->key);
        size_t want = end - j->md5_pos < IO_BUF_SIZE ? (size_t)(end - j->md5_pos) : IO_BUF_SIZE;
        ssize_t got = pread(j->fd, t->io_buf, want, (off_t)j->md5_pos);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return igtcloud__error_set(IGTCLOUD_EIO, "cannot read back %s: %s", j->tmp_path,
                                       got < 0 ? strerror(errno) : "file shrank");
        igtcloud__md5_update(j->md5, t->io_buf, (size_t)got);
        j->md5_pos += (uint64_t)got;
        igtcloud__engine_parts_roll(j);
    }
    return 0;
}

/* Every part's digest is in: 0 when the ETag is the one they make, else 1. */
static int conclude(const job *j)
{
    unsigned char d[16];
    char hex[2 * sizeof(d) + 1];
    igtcloud__md5_ctx outer = *j->mp_outer;
    if (j->mp_rolled != j->mp_count)
        return 1;
    igtcloud__md5_final(&outer, d);
    igtcloud__hex(hex, d, sizeof(d));
    return strncasecmp(hex, j->etag, 32) == 0 ? 0 : 1;
}

/* The parts' digests do not make the ETag: learn every part's size before saying so. */
static void confirm_sizes(igtcloud_transfer *t, job *j)
{
    j->mp_sizes = calloc(j->mp_count, sizeof(*j->mp_sizes));
    if (!j->mp_sizes) {
        igtcloud__engine_download_verified(t, j, igtcloud__error_oom());
        return;
    }
    j->mp_sizes[0] = j->mp_part_size;
    j->mp_state = MP_CONFIRMING;
    j->mp_confirm_left = j->mp_count - 1;
    for (uint32_t number = 2; number <= j->mp_count; number++) {
        if (ask_part(t, j, number)) {
            /* Not asked: what was asked still answers, and the check is given up. */
            j->mp_confirm_failed = 1;
            if (--j->mp_confirm_left == 0)
                confirmed(t, j);
        }
    }
}

void igtcloud__engine_parts_check(igtcloud_transfer *t, job *j)
{
    switch (j->mp_state) {
    case MP_UNASKED:
        igtcloud__engine_parts_ask(t, j);
        if (j->mp_state != MP_NONE)
            return; /* the answer calls this again */
        break;
    case MP_ASKED:
    case MP_CONFIRMING:
        return;
    case MP_KNOWN: {
        if (j->verifying)
            return; /* the worker's answer calls this again */
        if (j->crc_state == CRC_COMPOSITE) {
            int v = igtcloud__engine_crc_conclude(t, j);
            if (v == 1 && !j->mp_sizes && j->mp_count > 1) {
                confirm_sizes(t, j);
                return;
            }
            if (v == 0)
                t->stats.verified_by_part_crcs++;
            igtcloud__engine_download_verified(t, j, v);
            return;
        }
        /* Bytes hashed on the loop as they arrived knew no boundaries; a read failed: start over. */
        int here = j->md5_on_loop || j->md5_broken;
        int rc = here || !j->md5 ? restart_digests(j) : 0;
        if (rc) {
            igtcloud__engine_download_verified(t, j, rc);
            return;
        }
        if (!here && j->md5_pos < j->size &&
            igtcloud__engine_verify_submit_prefix(
                t, j, igtcloud__engine_parts_boundary(j)) == 0)
            return;
        rc = hash_here(t, j);
        if (rc == 0) {
            igtcloud__engine_parts_roll(j);
            rc = conclude(j);
            if (rc == 0)
                t->stats.verified_by_parts++;
        }
        if (rc == 1 && !j->mp_sizes && j->mp_count > 1) {
            confirm_sizes(t, j);
            return;
        }
        igtcloud__engine_download_verified(t, j, rc);
        return;
    }
    case MP_NONE:
        break;
    }
    igtcloud__engine_download_verified(t, j, 0); /* its size was checked */
}
