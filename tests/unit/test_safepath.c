/* core/safepath: names from the network never leave the target folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/safepath.h"
#include "test_sandbox.h"

static void test_safepath__accepts_plain_relative_names(void **state)
{
    (void)state;
    const char *good[] = { "a", "a/b/c.dcm", "patient1---study1/series 1.dcm", "..a/b..",
                           ".hidden", "a/.b", "\xc3\xa9t\xc3\xa9.txt" };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(igtcloud__safepath_check(good[i]), 0);
}

static void test_safepath__refuses_escapes_and_hostile_bytes(void **state)
{
    (void)state;
    const char *bad[] = { "", "/etc/passwd", "..", "../x", "a/../../x", "a/..", "./a", "a/./b",
                          "a//b", "a/", "a\\..\\b", "a\tb", "a\nb", "a\x7f", "a\x1b[2J" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(igtcloud__safepath_check(bad[i]), IGTCLOUD_EINVALID);
        assert_true(strlen(igtcloud_error_last()->message) > 0);
    }
}

static void test_safepath__refuses_c1_controls_and_long_segments(void **state)
{
    (void)state;
    char name[300];
    memset(name, 'x', 256);
    name[256] = '\0';
    assert_int_equal(igtcloud__safepath_check(name), IGTCLOUD_EINVALID);
    assert_non_null(strstr(igtcloud_error_last()->message, "longer than 255 bytes"));
    name[255] = '\0';
    assert_int_equal(igtcloud__safepath_check(name), 0);
    /* U+0085 (NEL) and U+009B (CSI) are control characters too; U+00A0 is not. */
    assert_int_equal(igtcloud__safepath_check("a\xc2\x85" "b"), IGTCLOUD_EINVALID);
    assert_int_equal(igtcloud__safepath_check("a\xc2\x9b" "2J"), IGTCLOUD_EINVALID);
    assert_int_equal(igtcloud__safepath_check("a\xc2\xa0" "b"), 0);
    /* The message never carries the control character itself. */
    assert_int_equal(igtcloud__safepath_check("x\x1b[2J"), IGTCLOUD_EINVALID);
    assert_null(strchr(igtcloud_error_last()->message, '\x1b'));
}

static void test_safepath__show_replaces_controls_and_cuts_on_characters(void **state)
{
    (void)state;
    char out[16];
    igtcloud__safepath_show(out, sizeof(out), "a\x1b" "b\xc2\x85" "c\t");
    assert_string_equal(out, "a?b?c?");
    igtcloud__safepath_show(out, sizeof(out), "0123456789abcde");
    assert_string_equal(out, "0123456789abcde");
    igtcloud__safepath_show(out, sizeof(out), "0123456789abcdef");
    assert_string_equal(out, "0123456789ab...");
    /* A two-byte character that does not fit whole is left out, not cut. */
    igtcloud__safepath_show(out, sizeof(out), "0123456789a\xc3\xa9zzzz");
    assert_string_equal(out, "0123456789a...");
    igtcloud__safepath_show(out, 1, "abc");
    assert_string_equal(out, "");
}

static void test_safepath__join_and_mkdirs(void **state)
{
    (void)state;
    char base[256];
    assert_int_equal(test_make_temp_dir(base, sizeof(base), "safepath"), 0);
    igtcloud__buf path = IGTCLOUD_BUF_INIT;
    assert_int_equal(igtcloud__safepath_join(&path, base, "x/y/z.txt"), 0);
    assert_int_equal(igtcloud__safepath_mkdirs(base, path.ptr), 0);
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/x/y", base);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    /* A symlink planted where a folder should be is not followed. */
    char link_path[300];
    snprintf(link_path, sizeof(link_path), "%s/evil", base);
    assert_int_equal(symlink("/tmp", link_path), 0);
    igtcloud__buf_clear(&path);
    assert_int_equal(igtcloud__safepath_join(&path, base, "evil/file"), 0);
    assert_int_equal(igtcloud__safepath_mkdirs(base, path.ptr), IGTCLOUD_EIO);
    igtcloud__buf_clear(&path);
    assert_int_equal(igtcloud__safepath_join(&path, base, "../outside"), IGTCLOUD_EINVALID);
    igtcloud__buf_dispose(&path);
    test_remove_tree(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safepath__accepts_plain_relative_names),
        cmocka_unit_test(test_safepath__refuses_escapes_and_hostile_bytes),
        cmocka_unit_test(test_safepath__refuses_c1_controls_and_long_segments),
        cmocka_unit_test(test_safepath__show_replaces_controls_and_cuts_on_characters),
        cmocka_unit_test(test_safepath__join_and_mkdirs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
