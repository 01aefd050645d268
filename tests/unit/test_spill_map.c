/* core/spill_map: a map whose entries live in a temporary file, indexed by offsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/spill_map.h"

/* Key i: lengths from 0 to over 600 bytes, so entries straddle every chunk edge of the file. */
static size_t make_key(char *out, size_t i)
{
    size_t pad = (i * 7919) % 640;
    int n = snprintf(out, 64, "study-%zu/file", i);
    memset(out + n, 'a' + (int)(i % 26), pad);
    return (size_t)n + pad;
}

static void fill_and_check(igtcloud__spill_map *m, size_t n)
{
    char key[1024];
    for (size_t i = 0; i < n; i++) {
        size_t len = make_key(key, i);
        assert_int_equal(igtcloud__spill_map_set(m, key, len, i * 3), 0);
    }
    /* Setting a third of them again replaces their value, and adds no key. */
    for (size_t i = 0; i < n; i += 3) {
        size_t len = make_key(key, i);
        assert_int_equal(igtcloud__spill_map_set(m, key, len, i * 3 + 1), 0);
    }
    assert_int_equal(igtcloud__spill_map_count(m), n);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        size_t len = make_key(key, i);
        assert_int_equal(igtcloud__spill_map_get(m, key, len, &v), 1);
        assert_int_equal(v, i * 3 + (i % 3 == 0));
        /* A key one byte shorter or longer, or differing in its last byte, is absent. */
        if (len > 0)
            assert_int_equal(igtcloud__spill_map_get(m, key, len - 1, &v), 0);
        key[len] = 'Z';
        assert_int_equal(igtcloud__spill_map_get(m, key, len + 1, NULL), 0);
    }
}

static void test_spill_map__set_get_replace_in_file(void **state)
{
    (void)state;
    igtcloud__spill_map m;
    igtcloud__spill_map_open(&m, NULL);
    assert_true(m.entries.fd >= 0);
    assert_int_equal(igtcloud__spill_map_get(&m, "x", 1, NULL), 0); /* empty */
    fill_and_check(&m, 30000);
    /* The index is all that grows in memory: 8-byte slots, between a third and two thirds full. */
    size_t bytes = igtcloud__spill_map_index_bytes(&m);
    assert_true(bytes >= 12 * 30000 && bytes <= 24 * 30000);
    assert_true(m.entries.pending.size <= 2 * 65536);
    /* Emptied, the map keeps its file and takes new entries from nothing. */
    int fd = m.entries.fd;
    assert_int_equal(igtcloud__spill_map_clear(&m), 0);
    assert_int_equal(m.entries.fd, fd);
    assert_int_equal(lseek(fd, 0, SEEK_END), 0);
    assert_int_equal(igtcloud__spill_map_count(&m), 0);
    assert_int_equal(igtcloud__spill_map_index_bytes(&m), 0);
    char key[1024];
    size_t len = make_key(key, 7);
    assert_int_equal(igtcloud__spill_map_get(&m, key, len, NULL), 0);
    fill_and_check(&m, 2000);
    igtcloud__spill_map_close(&m);
    assert_int_equal(m.entries.fd, -1);
    assert_int_equal(igtcloud__spill_map_count(&m), 0);
}

static void test_spill_map__in_memory_without_a_file(void **state)
{
    (void)state;
    igtcloud__spill_map m;
    igtcloud__spill_map_open(&m, NULL);
    igtcloud__spill_close(&m.entries);
    igtcloud__spill_init(&m.entries, -1);
    fill_and_check(&m, 5000);
    igtcloud__spill_map_close(&m);
}

/* With every hash masked to two bits, keys are told apart only by reading them back. */
static void test_spill_map__hash_collisions_compare_keys(void **state)
{
    (void)state;
    igtcloud__spill_map_hash_mask = 3;
    igtcloud__spill_map m;
    igtcloud__spill_map_open(&m, NULL);
    fill_and_check(&m, 700);
    /* Keys that are prefixes of each other, the empty key, bytes that are NUL. */
    assert_int_equal(igtcloud__spill_map_set(&m, "", 0, 11), 0);
    assert_int_equal(igtcloud__spill_map_set(&m, "a\0b", 3, 12), 0);
    assert_int_equal(igtcloud__spill_map_set(&m, "a\0c", 3, 13), 0);
    uint64_t v;
    assert_int_equal(igtcloud__spill_map_get(&m, "", 0, &v), 1);
    assert_int_equal(v, 11);
    assert_int_equal(igtcloud__spill_map_get(&m, "a\0b", 3, &v), 1);
    assert_int_equal(v, 12);
    assert_int_equal(igtcloud__spill_map_get(&m, "a\0c", 3, &v), 1);
    assert_int_equal(v, 13);
    assert_int_equal(igtcloud__spill_map_get(&m, "a", 1, &v), 0);
    igtcloud__spill_map_close(&m);
    igtcloud__spill_map_hash_mask = UINT64_MAX;
}

/* A file cut short under the map is an error naming the temporary file, not a wrong answer. */
static void test_spill_map__file_cut_short_is_an_error(void **state)
{
    (void)state;
    igtcloud__spill_map m;
    igtcloud__spill_map_open(&m, NULL);
    char key[1024];
    for (size_t i = 0; i < 20000; i++) {
        size_t len = make_key(key, i);
        assert_int_equal(igtcloud__spill_map_set(&m, key, len, i), 0);
    }
    assert_true(m.entries.written > 0);
    assert_int_equal(ftruncate(m.entries.fd, 0), 0);
    size_t len = make_key(key, 0);
    assert_int_equal(igtcloud__spill_map_get(&m, key, len, NULL), IGTCLOUD_EIO);
    assert_non_null(strstr(igtcloud_error_last()->message, "temporary file"));
    igtcloud__spill_map_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spill_map__set_get_replace_in_file),
        cmocka_unit_test(test_spill_map__in_memory_without_a_file),
        cmocka_unit_test(test_spill_map__hash_collisions_compare_keys),
        cmocka_unit_test(test_spill_map__file_cut_short_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
