#ifndef IGTCLOUD_S3_PLAN_H
#define IGTCLOUD_S3_PLAN_H

#include <stdint.h>

/*
 * Splitting an object into parts (multipart upload) or ranges (parallel
 * ranged GETs). Pure arithmetic, tested on its own.
 */

#define IGTCLOUD__S3_MAX_PARTS 10000u
#define IGTCLOUD__S3_MIN_PART ((uint64_t)5 * 1024 * 1024)
#define IGTCLOUD__S3_MAX_PART ((uint64_t)5 * 1024 * 1024 * 1024)
#define IGTCLOUD__S3_MAX_OBJECT ((uint64_t)5 * 1024 * 1024 * 1024 * 1024)

/*
 * Choose the part size of a multipart upload of `size` bytes: at least
 * `wanted` (raised to S3's 5 MiB minimum), grown in whole MiB until fewer
 * than 10,000 parts are needed. Returns 0, or IGTCLOUD_EINVALID when the
 * object is larger than S3 allows.
 */
int igtcloud__plan_parts(uint64_t *out_part_size, uint32_t *out_count, uint64_t size,
                         uint64_t wanted);

/*
 * Split `size` bytes into ranges of `range_size` (no S3 minimum; at least 1).
 * Returns 0, or IGTCLOUD_EINVALID when the count would not fit 32 bits.
 */
int igtcloud__plan_ranges(uint32_t *out_count, uint64_t size, uint64_t range_size);

/* Offset and length of part `index` (0-based) of a plan. */
void igtcloud__plan_slice(uint64_t *out_offset, uint64_t *out_len, uint64_t size,
                          uint64_t part_size, uint32_t index);

#endif
