/*
 * tools/download_manifest: the index of the completion manifest. The lines
 * stay on disk; lookups read them back and compare paths exactly, so the
 * index answers as the whole file would (the last line for a path wins,
 * a torn last line is ignored) whatever its hash does, with a few bytes a line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "tools/download_int.h"
#include "test_sandbox.h"

typedef struct fixture {
    char dir[256];
    char path[512];
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    if (!fx || test_make_temp_dir(fx->dir, sizeof(fx->dir), "manifest-index") != 0)
        return -1;
    snprintf(fx->path, sizeof(fx->path), "%s/.igtcloud", fx->dir);
    if (mkdir(fx->path, 0755) != 0)
        return -1;
    snprintf(fx->path, sizeof(fx->path), "%s/.igtcloud/download-manifest", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    igtcloud__dl_manifest_hash_mask = UINT64_MAX;
    test_remove_tree(fx->dir);
    free(fx);
    return 0;
}

/* The manifest file holds exactly `text`. */
static void write_manifest(const fixture *fx, const char *text, size_t len)
{
    FILE *f = fopen(fx->path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void append_line(FILE *f, const char *rel, long long size, long long sec, long nsec)
{
    assert_true(fprintf(f, "1 %lld %lld %ld \"etag\" %s\n", size, sec, nsec, rel) > 0);
}

/* What vouches() sees of a file: only its size and modification time matter. */
static int vouches(const igtcloud__dl_manifest *m, const char *rel, long long size, long long sec,
                   long nsec)
{
    struct stat st;
    memset(&st, 0, sizeof(st));
    st.st_size = (off_t)size;
    st.st_mtim.tv_sec = (time_t)sec;
    st.st_mtim.tv_nsec = nsec;
    return igtcloud__dl_manifest_vouches(m, rel, &st);
}

static void open_ok(igtcloud__dl_manifest *m, const fixture *fx, int read_only)
{
    int rc = igtcloud__dl_manifest_open(m, fx->dir, read_only);
    if (rc)
        fail_msg("open: %s", igtcloud_error_last()->message);
}

static void test_download_manifest__last_line_wins(void **state)
{
    fixture *fx = *state;
    igtcloud__dl_manifest m;
    const char text[] = "1 1 100 1 - a.txt\n"
                        "1 7 700 7 - b.txt\n"
                        "1 2 200 2 \"e\" a.txt\n"
                        "garbage that does not parse\n"
                        "1 3 300 3 - sub/dir/c d.txt\n"
                        "2 9 900 9 - a.txt\n"         /* an unknown version does not count */
                        "\n"
                        "1 4 400 4 - a.txt\n";
    write_manifest(fx, text, sizeof(text) - 1);
    open_ok(&m, fx, 1);
    assert_true(vouches(&m, "a.txt", 4, 400, 4));
    assert_false(vouches(&m, "a.txt", 1, 100, 1));
    assert_false(vouches(&m, "a.txt", 2, 200, 2));
    assert_false(vouches(&m, "a.txt", 9, 900, 9));
    assert_true(vouches(&m, "b.txt", 7, 700, 7));
    assert_false(vouches(&m, "b.txt", 7, 700, 8));   /* another nanosecond */
    assert_false(vouches(&m, "b.txt", 8, 700, 7));   /* another size */
    assert_true(vouches(&m, "sub/dir/c d.txt", 3, 300, 3));
    /* Two lines for a.txt, one slot: the index holds distinct paths. */
    assert_int_equal(m.used, 3);
    assert_int_equal(igtcloud__dl_manifest_close(&m), 0);
}

static void test_download_manifest__paths_never_recorded(void **state)
{
    fixture *fx = *state;
    igtcloud__dl_manifest m;
    const char text[] = "1 1 1 1 - a\n1 1 1 1 - a/b\n1 1 1 1 - dir/file.txt\n";
    write_manifest(fx, text, sizeof(text) - 1);
    open_ok(&m, fx, 1);
    const char *absent[] = { "", "b", "A", "a/", "a/b/c", "ab", "dir", "dir/file.tx",
                             "dir/file.txt ", " dir/file.txt", "dir/file.txt\n" };
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        assert_false(vouches(&m, absent[i], 1, 1, 1));
    assert_true(vouches(&m, "a", 1, 1, 1));
    assert_true(vouches(&m, "a/b", 1, 1, 1));
    char name[64];
    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof(name), "never/%d.dcm", i);
        assert_false(vouches(&m, name, 1, 1, 1));
    }
    assert_int_equal(igtcloud__dl_manifest_close(&m), 0);

    /* No manifest at all: nothing is vouched for, and a read-only open creates nothing. */
    assert_int_equal(unlink(fx->path), 0);
    open_ok(&m, fx, 1);
    assert_false(vouches(&m, "a", 1, 1, 1));
    assert_int_equal(igtcloud__dl_manifest_index_bytes(&m), 0);
    assert_int_equal(igtcloud__dl_manifest_close(&m), 0);
    assert_int_not_equal(access(fx->path, F_OK), 0);
}

/* A torn last line is not indexed, even when it would vouch; the next record starts a new line. */
static void test_download_manifest__torn_last_line(void **state)
{
    fixture *fx = *state;
    igtcloud__dl_manifest m;
    char file[600];
    struct stat st;
    const char text[] = "1 1 1 1 - a.txt\n1 2 2 2 - b.txt";
    write_manifest(fx, text, sizeof(text) - 1);
    open_ok(&m, fx, 1);
    assert_true(vouches(&m, "a.txt", 1, 1, 1));
    assert_false(vouches(&m, "b.txt", 2, 2, 2));
    assert_int_equal(igtcloud__dl_manifest_close(&m), 0);
    /* A torn line that ends in the middle of a path must not vouch for the shorter path. */
    const char text2[] = "1 1 1 1 - a.txt\n1 2 2 2 - b.txt\n1 3 3 3 - a.txt.more";
    write_manifest(fx, text2, sizeof(text2) - 1);
    open_ok(&m, fx, 1);
    assert_true(vouches(&m, "a.txt", 1, 1, 1));
    assert_false(vouches(&m, "a.txt", 3, 3, 3));
    assert_true(vouches(&m, "b.txt", 2, 2, 2));
    assert_int_equal(igtcloud__dl_manifest_close(&m), 0);

    snprintf(file, sizeof(file), "%s/c.txt", fx->dir);
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    fputs("hello", f);
    fclose(f);
    open_ok(&m, fx, 0);
    assert_int_equal(igtcloud__dl_manifest_record(&m, "c.txt", file, "tag"), 0);
    assert_int_equal(igtcloud__dl_manifest_close(&m), 0);
    /* The torn line was closed by a newline, so the record is a line of its own. */
    f = fopen(fx->path, "rb");
    assert_non_null(f);
    char all[512];
    size_t n = fread(all, 1, sizeof(all) - 1, f);
    fclose(f);
    all[n] = '\0';
    assert_non_null(strstr(all, "a.txt.more\n1 5 "));
    open_ok(&m, fx, 1);
    assert_int_equal(stat(file, &st), 0);
    assert_true(igtcloud__dl_manifest_vouches(&m, "c.txt", &st));
    assert_true(vouches(&m, "a.txt", 1, 1, 1));
    assert_true(vouches(&m, "a.txt.more", 3, 3, 3)); /* its line is whole now */
    assert_int_equal(igtcloud__dl_manifest_close(&m), 0);
}

/* With the hash cut to two bits every path collides: answers stay exact, later lines still win. */
static void test_download_manifest__forced_hash_collisions(void **state)
{
    fixture *fx = *state;
    igtcloud__dl_manifest m;
    char name[64];
    static const uint64_t masks[] = { 0, 3, UINT64_C(3) << 62 | 3 };
    for (size_t k = 0; k < sizeof(masks) / sizeof(masks[0]); k++) {
        FILE *f = fopen(fx->path, "wb");
        assert_non_null(f);
        for (int i = 0; i < 300; i++) {
            snprintf(name, sizeof(name), "s/%d.dcm", i);
            append_line(f, name, i, 1000 + i, i);
        }
        for (int i = 0; i < 300; i += 3) { /* every third file fetched again later */
            snprintf(name, sizeof(name), "s/%d.dcm", i);
            append_line(f, name, i + 1, 2000 + i, i);
        }
        assert_int_equal(fclose(f), 0);
        igtcloud__dl_manifest_hash_mask = masks[k];
        open_ok(&m, fx, 1);
        assert_int_equal(m.used, 300);
        for (int i = 0; i < 300; i++) {
            snprintf(name, sizeof(name), "s/%d.dcm", i);
            if (i % 3 == 0) {
                assert_true(vouches(&m, name, i + 1, 2000 + i, i));
                assert_false(vouches(&m, name, i, 1000 + i, i));
            } else {
                assert_true(vouches(&m, name, i, 1000 + i, i));
            }
            assert_false(vouches(&m, name, i + 2, 1000 + i, i));
            snprintf(name, sizeof(name), "s/%d.dcmx", i);
            assert_false(vouches(&m, name, i, 1000 + i, i));
        }
        assert_int_equal(igtcloud__dl_manifest_close(&m), 0);
        igtcloud__dl_manifest_hash_mask = UINT64_MAX;
    }
}

/* Lines longer than the read-back buffer and than the indexing chunk (64 KiB). */
static void test_download_manifest__long_lines(void **state)
{
    fixture *fx = *state;
    igtcloud__dl_manifest m;
    size_t longest = 150000;
    char *name = malloc(longest + 1);
    assert_non_null(name);
    static const size_t lens[] = { 10, 511, 512, 600, 65535, 65536, 70000, 150000 };
    FILE *f = fopen(fx->path, "wb");
    assert_non_null(f);
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            memset(name, 'a' + (int)i, lens[i]);
            name[lens[i]] = '\0';
            append_line(f, name, (long long)i + 10 * round, 1, 1);
            append_line(f, "short.txt", (long long)i + 10 * round, 2, 2);
        }
    }
    assert_int_equal(fclose(f), 0);
    for (int mask = 0; mask < 2; mask++) {
        igtcloud__dl_manifest_hash_mask = mask ? 1 : UINT64_MAX;
        open_ok(&m, fx, 1);
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            memset(name, 'a' + (int)i, lens[i]);
            name[lens[i]] = '\0';
            assert_true(vouches(&m, name, (long long)i + 10, 1, 1));
            assert_false(vouches(&m, name, (long long)i, 1, 1));
            name[lens[i] - 1] = '\0';
            assert_false(vouches(&m, name, (long long)i + 10, 1, 1));
        }
        assert_true(vouches(&m, "short.txt", 17, 2, 2));
        assert_int_equal(igtcloud__dl_manifest_close(&m), 0);
    }
    igtcloud__dl_manifest_hash_mask = UINT64_MAX;
    free(name);
}

/*
 * 100,000 lines (and 10,000 later lines fetching files again): every file
 * vouched for with its last line, and the index holds at most 16 bytes a
 * line, where the old jansson object held a few hundred.
 */
static void test_download_manifest__hundred_thousand_lines(void **state)
{
    fixture *fx = *state;
    igtcloud__dl_manifest m;
    char name[128];
    const int n = 100000;
    FILE *f = fopen(fx->path, "wb");
    assert_non_null(f);
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "Hospital A/P%06d---S%06d/0/series/img-%06d.dcm", i / 200,
                 i / 200, i);
        append_line(f, name, 64, 1700000000 + i, i);
    }
    for (int i = 0; i < n; i += 10) {
        snprintf(name, sizeof(name), "Hospital A/P%06d---S%06d/0/series/img-%06d.dcm", i / 200,
                 i / 200, i);
        append_line(f, name, 65, 1800000000 + i, i);
    }
    assert_int_equal(fclose(f), 0);
    open_ok(&m, fx, 0);
    size_t lines = (size_t)n + (size_t)n / 10;
    assert_int_equal(m.used, (size_t)n);
    assert_true(igtcloud__dl_manifest_index_bytes(&m) <= 16 * lines);
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "Hospital A/P%06d---S%06d/0/series/img-%06d.dcm", i / 200,
                 i / 200, i);
        if (i % 10 == 0)
            assert_true(vouches(&m, name, 65, 1800000000 + i, i));
        else
            assert_true(vouches(&m, name, 64, 1700000000 + i, i));
        if (i % 997 == 0) {
            assert_false(vouches(&m, name, 64, 1700000000 + i, i + 1));
            snprintf(name, sizeof(name), "Hospital A/P%06d---S%06d/0/series/img-%06d.dcm",
                     i / 200 + 1, i / 200, i);
            assert_false(vouches(&m, name, 64, 1700000000 + i, i));
        }
    }
    assert_int_equal(igtcloud__dl_manifest_close(&m), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_download_manifest__last_line_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_download_manifest__paths_never_recorded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_download_manifest__torn_last_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_download_manifest__forced_hash_collisions, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_download_manifest__long_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_download_manifest__hundred_thousand_lines, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
