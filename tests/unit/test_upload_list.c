/*
 * tools/upload_list: the list of the files an upload run checked, kept in an
 * unlinked temporary file between the check pass and the send pass. Records
 * come back exactly, in order, by range, across the chunks they are written
 * and read in; the file has no name left in its folder; without a file the
 * records are kept in memory and read the same way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "tools/upload_int.h"
#include "test_sandbox.h"

static int setup(void **state)
{
    char *dir = malloc(256);
    if (!dir || test_make_temp_dir(dir, 256, "upload-list") != 0)
        return -1;
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    test_remove_tree(*state);
    free(*state);
    return 0;
}

/* The stat of the n-th record, and its name (long ones cross the 64 KiB chunks). */
static void nth(struct stat *st, char *name, size_t size, size_t n)
{
    memset(st, 0, sizeof(*st));
    st->st_size = (off_t)(n * 1000003u % 99991u);
    st->st_mtim.tv_sec = (time_t)(1600000000 + n);
    st->st_mtim.tv_nsec = (long)(n * 7919u % 1000000000u);
    st->st_ino = (ino_t)(n + 42);
    if (n % 97 == 0) {
        size_t len = 3000 + n % 1000;
        memset(name, 'a' + (int)(n % 26), len);
        snprintf(name + len, size - len, "/%zu", n);
    } else {
        snprintf(name, size, "sub/dir %zu/file-%05zu.bin", n % 10, n);
    }
}

static void expect_range(igtcloud__up_list *l, uint64_t from, uint64_t to, size_t first,
                         size_t count)
{
    igtcloud__up_list_reader r = IGTCLOUD__UP_LIST_READER_INIT;
    igtcloud__up_record rec;
    char want[4200];
    struct stat st;
    assert_int_equal(igtcloud__up_list_read(&r, l, from, to), 0);
    for (size_t i = first; i < first + count; i++) {
        nth(&st, want, sizeof(want), i);
        assert_int_equal(igtcloud__up_list_next(&r, &rec), 1);
        assert_string_equal(rec.rel, want);
        assert_int_equal(rec.size, (uint64_t)st.st_size);
        assert_int_equal(rec.mtime_sec, (int64_t)st.st_mtim.tv_sec);
        assert_int_equal(rec.mtime_nsec, st.st_mtim.tv_nsec);
        assert_int_equal(rec.ino, (uint64_t)st.st_ino);
    }
    assert_int_equal(igtcloud__up_list_next(&r, &rec), 0);
    igtcloud__up_list_reader_dispose(&r);
}

/* Write n records, noting where record `mark` starts; then read all, and from `mark` on. */
static void round_trip(igtcloud__up_list *l, size_t n, size_t mark)
{
    char name[4200];
    struct stat st;
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == mark)
            at = igtcloud__up_list_tell(l);
        nth(&st, name, sizeof(name), i);
        assert_int_equal(igtcloud__up_list_add(l, name, &st), 0);
    }
    uint64_t end = igtcloud__up_list_tell(l);
    expect_range(l, 0, end, 0, n);
    expect_range(l, at, end, mark, n - mark);
    expect_range(l, 0, at, 0, mark);
    /* Records added after a read are read too. */
    nth(&st, name, sizeof(name), n);
    assert_int_equal(igtcloud__up_list_add(l, name, &st), 0);
    expect_range(l, end, igtcloud__up_list_tell(l), n, 1);
}

static void test_upload_list__records_come_back_from_an_unnamed_file(void **state)
{
    const char *dir = *state;
    igtcloud__up_list l;
    assert_int_equal(igtcloud__up_list_open(&l, dir), 0);
    assert_int_equal(igtcloud__up_list_in_memory(&l), 0);
    round_trip(&l, 20000, 12345);
    /* The records are on disk (about 1.1 MB), and the folder shows no file. */
    struct stat st;
    assert_int_equal(fstat(l.fd, &st), 0);
    assert_true(st.st_size > 1000000);
    assert_int_equal(st.st_nlink, 0);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            fail_msg("a file is left in the folder: %s", e->d_name);
    closedir(d);
    /* What is held in memory is a buffer, not the records. */
    assert_true(l.pending.asize < 200 * 1024);
    igtcloud__up_list_close(&l);
}

static void test_upload_list__a_missing_folder_falls_back(void **state)
{
    char missing[512];
    snprintf(missing, sizeof(missing), "%s/not-there", (const char *)*state);
    igtcloud__up_list l;
    assert_int_equal(igtcloud__up_list_open(&l, missing), 0);
    /* $TMPDIR or /tmp instead. */
    assert_int_equal(igtcloud__up_list_in_memory(&l), 0);
    round_trip(&l, 300, 100);
    igtcloud__up_list_close(&l);
}

static void test_upload_list__in_memory_without_a_file(void **state)
{
    (void)state;
    igtcloud__up_list l;
    assert_int_equal(igtcloud__up_list_open(&l, NULL), 0);
    /* As when no folder would take a file. */
    close(l.fd);
    l.fd = -1;
    assert_int_equal(igtcloud__up_list_in_memory(&l), 1);
    round_trip(&l, 3000, 2999);
    igtcloud__up_list_close(&l);
    igtcloud__up_list_close(&l); /* twice is fine */
}

static void test_upload_list__a_range_past_the_end_is_an_error(void **state)
{
    igtcloud__up_list l;
    igtcloud__up_list_reader r = IGTCLOUD__UP_LIST_READER_INIT;
    igtcloud__up_record rec;
    struct stat st;
    char name[64];
    assert_int_equal(igtcloud__up_list_open(&l, *state), 0);
    nth(&st, name, sizeof(name), 1);
    assert_int_equal(igtcloud__up_list_add(&l, name, &st), 0);
    uint64_t end = igtcloud__up_list_tell(&l);
    /* A range that ends inside a record. */
    assert_int_equal(igtcloud__up_list_read(&r, &l, 0, end - 1), 0);
    assert_int_equal(igtcloud__up_list_next(&r, &rec), IGTCLOUD_EIO);
    /* An empty range. */
    assert_int_equal(igtcloud__up_list_read(&r, &l, end, end), 0);
    assert_int_equal(igtcloud__up_list_next(&r, &rec), 0);
    igtcloud__up_list_reader_dispose(&r);
    igtcloud__up_list_close(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_upload_list__records_come_back_from_an_unnamed_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_list__a_missing_folder_falls_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_upload_list__in_memory_without_a_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_upload_list__a_range_past_the_end_is_an_error,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
