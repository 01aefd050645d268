/*
 * What the sandbox's S3 endpoint parses from requests: the request URI and
 * query string (and the operation they name), the Range header, the
 * CompleteMultipartUpload body, and fault rules (file and admin endpoint).
 * The first byte picks the parser; the rest is its input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "faults.h"
#include "s3_parse.h"
#include "s3_meta.h"

static void fuzz_uri(const char *text)
{
    static sandbox_s3_query q;
    char bucket[256], key[1100];
    const char *raw_query = NULL;
    static const char *const methods[] = { "GET", "HEAD", "PUT", "POST", "DELETE", "PATCH" };
    if (sandbox_s3_uri_split(text, bucket, sizeof(bucket), key, sizeof(key), &raw_query))
        return;
    if (sandbox_s3_query_parse(&q, raw_query))
        return;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        sandbox_s3_classify(methods[i], bucket, key, &q, (int)(i & 1));
    sandbox_s3_query_get(&q, "uploadId");
}

static void fuzz_range(const uint8_t *data, size_t size)
{
    unsigned long long object_size = 0, first = 0, last = 0;
    for (size_t i = 0; i < 8 && i < size; i++)
        object_size = object_size << 8 | data[i];
    size_t skip = size < 8 ? size : 8;
    char *text = malloc(size - skip + 1);
    if (!text)
        return;
    memcpy(text, data + skip, size - skip);
    text[size - skip] = '\0';
    object_size %= 1ULL << 40;
    if (sandbox_s3_parse_range(text, object_size, &first, &last) == SANDBOX_S3_RANGE_OK &&
        (first > last || last >= object_size))
        abort();
    free(text);
}

static void fuzz_complete(const char *data, size_t size)
{
    sandbox_s3_part_ref *parts = NULL;
    size_t count = 0;
    if (sandbox_s3_parse_complete(&parts, &count, data, size) == 0) {
        /* Numbers in range; the ETag and ChecksumCRC32C strings end inside their buffers. */
        for (size_t i = 0; i < count; i++)
            if (parts[i].number < 1 || parts[i].number > SANDBOX_S3_MAX_PARTS ||
                !memchr(parts[i].etag, '\0', sizeof(parts[i].etag)) ||
                !memchr(parts[i].crc32c, '\0', sizeof(parts[i].crc32c)))
                abort();
        free(parts);
    }
}

static void fuzz_faults(const char *data, size_t size)
{
    sandbox_faults *faults = NULL;
    char err[256], label[64];
    sandbox_fault_effect effect;
    if (sandbox_faults_new(&faults))
        return;
    if (sandbox_faults_add_json(faults, data, size, err, sizeof(err)) > 0) {
        for (int i = 0; i < 4; i++)
            sandbox_faults_match(faults, i & 1 ? "GetObject" : "PutObject", "GET",
                                 "projects/x/y.bin", &effect, label, sizeof(label));
        json_decref(sandbox_faults_list(faults));
    }
    sandbox_faults_free(faults);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned which = data[0] % 4;
    data++;
    size--;
    if (which == 1) {
        fuzz_range(data, size);
        return 0;
    }
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (which == 0)
        fuzz_uri(text);
    else if (which == 2)
        fuzz_complete(text, size);
    else
        fuzz_faults(text, size);
    /* Stored part sizes (the runs of a multipart object): every part found lies inside. */
    unsigned long long first, length;
    unsigned long count = 0;
    for (unsigned long n = 1; n <= 3; n++)
        if (sandbox_s3_parts_find(text, n, &first, &length, &count) == 0 &&
            (n > count || first > ~0ULL - length))
            __builtin_trap();
    free(text);
    return 0;
}
