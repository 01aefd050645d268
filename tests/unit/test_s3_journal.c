/* s3/journal: the resume journal of ranged downloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "s3/journal.h"
#include "test_sandbox.h"

static void test_s3_journal__parses_what_it_writes(void **state)
{
    (void)state;
    igtcloud__journal j = IGTCLOUD__JOURNAL_INIT;
    assert_int_equal(igtcloud__journal_init(&j, 10000, 3000, "abc-4", 1700000000), 0);
    assert_int_equal(j.count, 4);
    igtcloud__buf text = IGTCLOUD_BUF_INIT;
    assert_int_equal(igtcloud__journal_format_header(&text, &j), 0);
    assert_int_equal(igtcloud__buf_puts(&text, "done 2\ndone 0\ndone 2\n"), 0);
    igtcloud__journal back = IGTCLOUD__JOURNAL_INIT;
    assert_int_equal(igtcloud__journal_parse(&back, text.ptr, text.size), 0);
    assert_int_equal(back.size, 10000);
    assert_int_equal(back.range_size, 3000);
    assert_string_equal(back.etag, "abc-4");
    assert_int_equal(back.modified, 1700000000);
    assert_int_equal(back.ndone, 2);
    assert_true(back.done[0] && back.done[2] && !back.done[1] && !back.done[3]);
    igtcloud__journal_dispose(&back);
    igtcloud__journal_dispose(&j);
    igtcloud__buf_dispose(&text);
}

/* The boot id travels with the journal; a journal without one parses as "" (synced). */
static void test_s3_journal__boot_id(void **state)
{
    (void)state;
    char boot[IGTCLOUD__JOURNAL_BOOT_MAX + 1];
    igtcloud__journal_boot_id(boot);
#ifdef __linux__
    assert_int_equal(strlen(boot), 36);
    char again[IGTCLOUD__JOURNAL_BOOT_MAX + 1];
    igtcloud__journal_boot_id(again);
    assert_string_equal(boot, again);
#endif
    igtcloud__journal j = IGTCLOUD__JOURNAL_INIT;
    assert_int_equal(igtcloud__journal_init(&j, 10, 5, "e", 0), 0);
    snprintf(j.boot, sizeof(j.boot), "%s", "0a1b2c3d-0000-4000-8000-00000000abcd");
    igtcloud__buf text = IGTCLOUD_BUF_INIT;
    assert_int_equal(igtcloud__journal_format_header(&text, &j), 0);
    assert_non_null(strstr(igtcloud__buf_cstr(&text), " boot=0a1b2c3d-0000-4000-8000-00000000abcd\n"));
    igtcloud__journal back = IGTCLOUD__JOURNAL_INIT;
    assert_int_equal(igtcloud__journal_parse(&back, text.ptr, text.size), 0);
    assert_string_equal(back.boot, j.boot);
    igtcloud__journal_dispose(&back);
    const char old[] = "igtcloud-journal 1\nsize=10 range=5 etag=e modified=0\ndone 1\n";
    assert_int_equal(igtcloud__journal_parse(&back, old, sizeof(old) - 1), 0);
    assert_string_equal(back.boot, "");
    igtcloud__journal_dispose(&back);
    igtcloud__journal_dispose(&j);
    igtcloud__buf_dispose(&text);
}

static void test_s3_journal__ignores_a_torn_last_line(void **state)
{
    (void)state;
    const char text[] = "igtcloud-journal 1\nsize=10 range=5 etag=e modified=0\ndone 1\ndon";
    igtcloud__journal j = IGTCLOUD__JOURNAL_INIT;
    assert_int_equal(igtcloud__journal_parse(&j, text, sizeof(text) - 1), 0);
    assert_int_equal(j.ndone, 1);
    assert_true(j.done[1]);
    igtcloud__journal_dispose(&j);
}

static void test_s3_journal__rejects_anything_else(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "igtcloud-journal 2\nsize=10 range=5 etag=e modified=0\n",
        "igtcloud-journal 1\nsize=10 range=5 etag=e modified=0",
        "igtcloud-journal 1\nsize=10 range=0 etag=e modified=0\n",
        "igtcloud-journal 1\nsize=-1 range=5 etag=e modified=0\n",
        "igtcloud-journal 1\nsize=10 range=5 modified=0\n",
        "igtcloud-journal 1\nsize=10 range=5 etag= modified=0\n",
        "igtcloud-journal 1\nsize=10 range=5 etag=e modified=0\ndone 2\n",
        "igtcloud-journal 1\nsize=10 range=5 etag=e modified=0\ndone x\n",
        "igtcloud-journal 1\nsize=10 range=5 etag=e modified=0\nundone 1\n",
        "igtcloud-journal 1\nsize=99999999999999999999 range=5 etag=e modified=0\n",
        /* Found by fuzz_s3_journal: a header asking for 2.7 G range flags. */
        "igtcloud-journal 1\nsize=16666048576 range=6 etag=e modified=0\n",
        "igtcloud-journal 1\nsize=10 range=5 etag=e modified=0 boot=\n",
        "igtcloud-journal 1\nsize=10 range=5 etag=e modified=0 boot=not/a/uuid\n",
        "igtcloud-journal 1\nsize=10 range=5 etag=e modified=0 boot=0123456789abcdef0123456789abcdef01234\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        igtcloud__journal j = IGTCLOUD__JOURNAL_INIT;
        assert_int_equal(igtcloud__journal_parse(&j, bad[i], strlen(bad[i])), IGTCLOUD_EPROTO);
        assert_null(j.done);
    }
}

static void test_s3_journal__file_round_trip(void **state)
{
    (void)state;
    char dir[256], path[300];
    assert_int_equal(test_make_temp_dir(dir, sizeof(dir), "journal"), 0);
    snprintf(path, sizeof(path), "%s/x.journal", dir);
    igtcloud__journal j = IGTCLOUD__JOURNAL_INIT, back = IGTCLOUD__JOURNAL_INIT;
    assert_int_equal(igtcloud__journal_load(&back, path), IGTCLOUD_ENOTFOUND);
    assert_int_equal(igtcloud__journal_init(&j, 100, 10, "0123456789abcdef0123456789abcdef", 5), 0);
    int fd = -1;
    assert_int_equal(igtcloud__journal_create(&fd, path, &j), 0);
    assert_int_equal(igtcloud__journal_append(fd, 9), 0);
    assert_int_equal(igtcloud__journal_append(fd, 3), 0);
    close(fd);
    assert_int_equal(igtcloud__journal_open_append(&fd, path), 0);
    assert_int_equal(igtcloud__journal_append(fd, 4), 0);
    close(fd);
    assert_int_equal(igtcloud__journal_load(&back, path), 0);
    assert_int_equal(back.count, 10);
    assert_int_equal(back.ndone, 3);
    assert_true(back.done[9] && back.done[3] && back.done[4]);
    igtcloud__journal_dispose(&back);
    igtcloud__journal_dispose(&j);
    test_remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3_journal__parses_what_it_writes),
        cmocka_unit_test(test_s3_journal__boot_id),
        cmocka_unit_test(test_s3_journal__ignores_a_torn_last_line),
        cmocka_unit_test(test_s3_journal__rejects_anything_else),
        cmocka_unit_test(test_s3_journal__file_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
