/* sandbox/password: salted PBKDF2 hashes of user passwords. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "password.h"

static char demo_hash[SANDBOX_PASSWORD_HASH_MAX];

static int setup(void **state)
{
    (void)state;
    return sandbox_password_hash(demo_hash, "demo");
}

static void test_sandbox_password__verify_matches(void **state)
{
    (void)state;
    assert_int_equal(strncmp(demo_hash, "pbkdf2-sha256$", 14), 0);
    assert_null(strstr(demo_hash, "demo"));
    assert_int_equal(sandbox_password_verify(demo_hash, "demo"), 1);
}

static void test_sandbox_password__mismatch_rejected(void **state)
{
    (void)state;
    static const char *const wrong[] = { "", "Demo", "demo ", "demodemo", "dem", "\xff" };
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++)
        assert_int_equal(sandbox_password_verify(demo_hash, wrong[i]), 0);
    assert_int_equal(sandbox_password_verify(demo_hash, NULL), 0);
}

static void test_sandbox_password__salted(void **state)
{
    (void)state;
    char again[SANDBOX_PASSWORD_HASH_MAX];
    assert_int_equal(sandbox_password_hash(again, "demo"), 0);
    assert_string_not_equal(again, demo_hash);
    assert_int_equal(sandbox_password_verify(again, "demo"), 1);
}

/*
 * A changed character anywhere in the stored hash must not verify: every
 * position of the hash and salt, including the last data character, whose
 * low bits are base64 padding a lenient decoder would ignore.
 */
static void test_sandbox_password__tampered_hash_rejected(void **state)
{
    (void)state;
    const char *salt = strchr(demo_hash + 14, '$') + 1;
    for (size_t at = (size_t)(salt - demo_hash); demo_hash[at]; at++) {
        if (demo_hash[at] == '$' || demo_hash[at] == '=')
            continue;
        static const char replacements[] = "ABab+/";
        for (const char *r = replacements; *r; r++) {
            if (*r == demo_hash[at])
                continue;
            char copy[SANDBOX_PASSWORD_HASH_MAX];
            snprintf(copy, sizeof(copy), "%s", demo_hash);
            copy[at] = *r;
            assert_int_equal(sandbox_password_verify(copy, "demo"), 0);
        }
    }
    /* The last data character with only its unused low bit changed. */
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char copy[SANDBOX_PASSWORD_HASH_MAX];
    snprintf(copy, sizeof(copy), "%s", demo_hash);
    char *last = strchr(copy, '=') - 1;
    size_t value = (size_t)(strchr(alphabet, *last) - alphabet);
    *last = alphabet[value ^ 1];
    assert_int_equal(sandbox_password_verify(copy, "demo"), 0);
}

static void test_sandbox_password__malformed_rejected(void **state)
{
    (void)state;
    static const char *const malformed[] = {
        "",
        "demo",
        "pbkdf2-sha256$",
        "pbkdf2-sha1$1000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "pbkdf2-sha256$abc$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "pbkdf2-sha256$0$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "pbkdf2-sha256$-5$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "pbkdf2-sha256$99999999999$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA==",
        "pbkdf2-sha256$1000$!!!!$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",   /* hash too short */
        "pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA==$not base64",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
        assert_int_equal(sandbox_password_verify(malformed[i], "demo"), 0);
    assert_int_equal(sandbox_password_verify(NULL, "demo"), 0);
}

/* The work factor: OWASP's 600,000 by default; the test knob may only lower it. */
static void test_sandbox_password__iterations(void **state)
{
    (void)state;
    char hash[SANDBOX_PASSWORD_HASH_MAX];
    const char *saved = getenv("IGTCLOUD_SANDBOX_PASSWORD_ITERATIONS");
    char *copy = saved ? strdup(saved) : NULL;

    unsetenv("IGTCLOUD_SANDBOX_PASSWORD_ITERATIONS");
    assert_int_equal(sandbox_password_hash(hash, "pw"), 0);
    assert_int_equal(strncmp(hash, "pbkdf2-sha256$600000$", 21), 0);
    assert_true(sandbox_password_verify(hash, "pw"));

    setenv("IGTCLOUD_SANDBOX_PASSWORD_ITERATIONS", "5000", 1);
    assert_int_equal(sandbox_password_hash(hash, "pw"), 0);
    assert_int_equal(strncmp(hash, "pbkdf2-sha256$5000$", 19), 0);
    assert_true(sandbox_password_verify(hash, "pw"));

    /* Out of range or not a number: the default, never something weaker. */
    const char *bad[] = { "10", "9999999", "abc", "5000x" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("IGTCLOUD_SANDBOX_PASSWORD_ITERATIONS", bad[i], 1);
        assert_int_equal(sandbox_password_hash(hash, "pw"), 0);
        assert_int_equal(strncmp(hash, "pbkdf2-sha256$600000$", 21), 0);
    }
    if (copy)
        setenv("IGTCLOUD_SANDBOX_PASSWORD_ITERATIONS", copy, 1);
    else
        unsetenv("IGTCLOUD_SANDBOX_PASSWORD_ITERATIONS");
    free(copy);
}

int main(void)
{
    /* The tamper test verifies hundreds of hashes; the work factor is tested on its own. */
    setenv("IGTCLOUD_SANDBOX_PASSWORD_ITERATIONS", "1000", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sandbox_password__verify_matches),
        cmocka_unit_test(test_sandbox_password__mismatch_rejected),
        cmocka_unit_test(test_sandbox_password__salted),
        cmocka_unit_test(test_sandbox_password__tampered_hash_rejected),
        cmocka_unit_test(test_sandbox_password__malformed_rejected),
        cmocka_unit_test(test_sandbox_password__iterations),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
