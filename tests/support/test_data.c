#include "test_data.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

long test_data_call(test_response *out, const test_sandbox *sb, const test_login *login,
                    const char *method, const char *body, const char *path_fmt, ...)
{
    char path[2048], url[2300];
    va_list ap;
    va_start(ap, path_fmt);
    vsnprintf(path, sizeof(path), path_fmt, ap);
    va_end(ap);
    snprintf(url, sizeof(url), "%s%s", sb->api_url, path);
    if (test_api(out, login, method, url, body))
        return -1;
    return out->status;
}

void test_data_generated(unsigned char *out, size_t len, uint64_t seed, const char *path)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    uint64_t state = seed ^ h;
    for (size_t i = 0; i < len; i += 8) {
        state += 0x9E3779B97F4A7C15ULL;
        uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        for (size_t b = 0; b < 8 && i + b < len; b++)
            out[i + b] = (unsigned char)(z >> (8 * b));
    }
}

char *test_data_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat st;
    char *data = NULL;
    if (fstat(fileno(f), &st) == 0 && (data = malloc((size_t)st.st_size + 1)) != NULL) {
        size_t got = fread(data, 1, (size_t)st.st_size, f);
        data[got] = '\0';
        if (len)
            *len = got;
    }
    fclose(f);
    return data;
}

int test_data_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t put = fwrite(data, 1, len, f);
    return fclose(f) == 0 && put == len ? 0 : -1;
}

char *test_data_read_object(const test_sandbox *sb, const char *key, size_t *len)
{
    char path[2048];
    snprintf(path, sizeof(path), "%s/objects/%s", sb->data_dir, key);
    return test_data_read_file(path, len);
}
