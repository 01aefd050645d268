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
        cmocka_unit_test(test_safepath__join_and_mkdirs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
