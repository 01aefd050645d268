#include "s3/plan.h"

#include "core/error.h"

#define MIB ((uint64_t)1024 * 1024)

int igtcloud__plan_parts(uint64_t *out_part_size, uint32_t *out_count, uint64_t size,
                         uint64_t wanted)
{
    if (size > IGTCLOUD__S3_MAX_OBJECT)
        return igtcloud__error_set(IGTCLOUD_EINVALID,
                                   "file of %llu bytes is larger than S3 allows (5 TiB)",
                                   (unsigned long long)size);
    uint64_t part = wanted < IGTCLOUD__S3_MIN_PART ? IGTCLOUD__S3_MIN_PART : wanted;
    if (part > IGTCLOUD__S3_MAX_PART)
        part = IGTCLOUD__S3_MAX_PART;
    /* Fewer than 10,000 parts: at most 9,999, so a resumed upload never hits the cap. */
    uint64_t limit = IGTCLOUD__S3_MAX_PARTS - 1;
    if (size > part * limit) {
        uint64_t need = (size + limit - 1) / limit;
        part = (need + MIB - 1) / MIB * MIB;
    }
    uint64_t count = size == 0 ? 1 : (size + part - 1) / part;
    *out_part_size = part;
    *out_count = (uint32_t)count;
    return 0;
}

int igtcloud__plan_ranges(uint32_t *out_count, uint64_t size, uint64_t range_size)
{
    if (range_size == 0)
        range_size = 1;
    uint64_t count = size == 0 ? 1 : (size - 1) / range_size + 1;
    if (count > UINT32_MAX)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "too many ranges for %llu bytes",
                                   (unsigned long long)size);
    *out_count = (uint32_t)count;
    return 0;
}

void igtcloud__plan_slice(uint64_t *out_offset, uint64_t *out_len, uint64_t size,
                          uint64_t part_size, uint32_t index)
{
    uint64_t off = (uint64_t)index * part_size;
    if (off > size)
        off = size;
    uint64_t len = size - off;
    if (len > part_size)
        len = part_size;
    *out_offset = off;
    *out_len = len;
}
