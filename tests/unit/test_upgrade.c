/* tools/upgrade: semantic-version order and choosing a release from a feed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "igtcloud/error.h"
#include "tools/upgrade_int.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
#define FEED_URL "https://example.com/releases/feed.json?x=1"

static int compare(const char *a, const char *b)
{
    int c = 99;
    assert_int_equal(igtcloud_semver_compare(&c, a, b), 0);
    return c;
}

static void test_upgrade__semver_order(void **state)
{
    (void)state;
    /* The precedence example of semver.org 2.0, item 11, in ascending order. */
    const char *ordered[] = { "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                              "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1",
                              "1.1.0", "1.10.0", "2.0.0", "10.0.0", "123456789012345678901.0.0" };
    size_t n = sizeof(ordered) / sizeof(ordered[0]);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            assert_int_equal(compare(ordered[i], ordered[j]), i < j ? -1 : i > j ? 1 : 0);
    assert_int_equal(compare("1.0.0+build.7", "1.0.0"), 0);
    assert_int_equal(compare("1.0.0-rc.1+x", "1.0.0-rc.1"), 0);

    const char *bad[] = { "", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-", "1.2.3-01",
                          "1.2.3-a..b", "1.2.3+", "1.2.3+a_b", "v1.2.3", "1.2.3 ", "-1.2.3",
                          "1.2.3-rc.1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int c = 0;
        assert_int_equal(igtcloud_semver_compare(&c, bad[i], "1.0.0"), IGTCLOUD_EINVALID);
    }
}

static int select_release(igtcloud__release *r, const char *feed, const char *wanted)
{
    memset(r, 0, sizeof(*r));
    return igtcloud__upgrade_feed_select(r, feed, strlen(feed), FEED_URL, "linux-x86_64", wanted);
}

static const char feed[] =
    "{\"releases\": ["
    " {\"version\": \"1.2.0\", \"platforms\": {"
    "   \"linux-x86_64\": {\"url\": \"igtcloud-1.2.0\", \"sha256\": \"" SHA_A "\"},"
    "   \"linux-aarch64\": {\"url\": \"https://cdn.example.com/a\", \"sha256\": \"" SHA_A "\"}}},"
    " {\"version\": \"1.10.0\", \"notes\": \"newest\", \"platforms\": {"
    "   \"linux-x86_64\": {\"url\": \"/dl/igtcloud-1.10.0\", \"sha256\": \"" SHA_B "\"}}},"
    " {\"version\": \"2.0.0-rc.1\", \"platforms\": {"
    "   \"linux-x86_64\": {\"url\": \"https://cdn.example.com/rc\", \"sha256\": \"" SHA_A "\"}}},"
    " {\"version\": \"3.0.0\", \"platforms\": {"
    "   \"linux-aarch64\": {\"url\": \"x\", \"sha256\": \"" SHA_A "\"}}}"
    "]}";

static void test_upgrade__feed_picks_latest_stable_with_a_build(void **state)
{
    (void)state;
    igtcloud__release r;
    assert_int_equal(select_release(&r, feed, NULL), 0);
    assert_string_equal(r.version, "1.10.0");
    assert_string_equal(r.url, "https://example.com/dl/igtcloud-1.10.0");
    assert_string_equal(r.sha256, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    igtcloud__release_dispose(&r);

    assert_int_equal(select_release(&r, feed, "1.2.0"), 0);
    assert_string_equal(r.url, "https://example.com/releases/igtcloud-1.2.0");
    igtcloud__release_dispose(&r);
    assert_int_equal(select_release(&r, feed, "2.0.0-rc.1"), 0);
    assert_string_equal(r.url, "https://cdn.example.com/rc");
    igtcloud__release_dispose(&r);

    assert_int_equal(select_release(&r, feed, "1.3.0"), IGTCLOUD_ENOTFOUND);
    assert_string_equal(igtcloud_error_last()->message, "the upgrade feed has no version 1.3.0");
    assert_int_equal(select_release(&r, feed, "3.0.0"), IGTCLOUD_ENOTFOUND);
    assert_string_equal(igtcloud_error_last()->message, "version 3.0.0 has no build for linux-x86_64");
    assert_int_equal(select_release(&r, feed, "latest"), IGTCLOUD_EINVALID);
    assert_null(r.url);
}

static void test_upgrade__bad_feeds(void **state)
{
    (void)state;
    static const struct {
        const char *feed;
        int status;
        const char *message;
    } cases[] = {
        { "", IGTCLOUD_EPROTO, "bad upgrade feed: malformed JSON at line" },
        { "[]", IGTCLOUD_EPROTO, "bad upgrade feed: no \"releases\" array" },
        { "{\"releases\": {}}", IGTCLOUD_EPROTO, "bad upgrade feed: no \"releases\" array" },
        { "{\"releases\": [], \"releases\": []}", IGTCLOUD_EPROTO, "bad upgrade feed: malformed JSON" },
        { "{\"releases\": []}", IGTCLOUD_ENOTFOUND, "the upgrade feed lists no releases" },
        { "{\"releases\": [1]}", IGTCLOUD_EPROTO, "bad upgrade feed: release 1 has no \"version\"" },
        { "{\"releases\": [{\"version\": 1}]}", IGTCLOUD_EPROTO, "bad upgrade feed: release 1 has no" },
        { "{\"releases\": [{\"version\": \"1.0\"}]}", IGTCLOUD_EPROTO,
          "bad upgrade feed: release 1: '1.0' is not a version" },
        { "{\"releases\": [{\"version\": \"1.0.0\"}]}", IGTCLOUD_EPROTO,
          "bad upgrade feed: version 1.0.0 has no \"platforms\" object" },
        { "{\"releases\": [{\"version\": \"1.0.0\", \"platforms\": {\"a\": []}}]}", IGTCLOUD_EPROTO,
          "bad upgrade feed: version 1.0.0, platform 'a' is not an object" },
        { "{\"releases\": [{\"version\": \"1.0.0\", \"platforms\": {\"a\": {\"sha256\": \"" SHA_A "\"}}}]}",
          IGTCLOUD_EPROTO, "bad upgrade feed: version 1.0.0, platform 'a' has no \"url\"" },
        { "{\"releases\": [{\"version\": \"1.0.0\", \"platforms\": {\"a\": {\"url\": \"u\", \"sha256\": \"abc\"}}}]}",
          IGTCLOUD_EPROTO, "bad upgrade feed: version 1.0.0, platform 'a' has no \"sha256\" of 64" },
        { "{\"releases\": [{\"version\": \"1.0.0\", \"platforms\": {}}, "
          "{\"version\": \"1.0.0+b\", \"platforms\": {}}]}", IGTCLOUD_EPROTO,
          "bad upgrade feed: version 1.0.0+b is listed twice" },
        { "{\"releases\": [{\"version\": \"1.0.0\", \"platforms\": {\"a\": {\"url\": \"u\", \"sha256\": \"" SHA_A "\"}}}]}",
          IGTCLOUD_ENOTFOUND, "the upgrade feed has no release with a build for linux-x86_64" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        igtcloud__release r;
        int rc = select_release(&r, cases[i].feed, NULL);
        const char *message = igtcloud_error_last()->message;
        if (rc != cases[i].status || strncmp(message, cases[i].message, strlen(cases[i].message)) != 0)
            fail_msg("case %zu: got %d '%s', want %d '%s...'", i, rc, message, cases[i].status,
                     cases[i].message);
        assert_null(r.url);
    }
}

static void test_upgrade__relative_urls(void **state)
{
    (void)state;
    static const struct {
        const char *feed_url, *url, *want;
    } cases[] = {
        { "http://h:1/a/b/feed.json", "x", "http://h:1/a/b/x" },
        { "http://h:1/a/b/feed.json", "/x", "http://h:1/x" },
        { "http://h:1", "x", "http://h:1/x" },
        { "http://h:1?q=/z/", "x", "http://h:1/x" },
        { "http://h:1/feed?q=/z/", "sub/x", "http://h:1/sub/x" },
        { "http://h:1/a/", "x", "http://h:1/a/x" },
        { "http://h:1/a/", "https://o/x", "https://o/x" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[512];
        igtcloud__release r;
        snprintf(json, sizeof(json),
                 "{\"releases\": [{\"version\": \"1.0.0\", \"platforms\": {\"p\": "
                 "{\"url\": \"%s\", \"sha256\": \"%s\"}}}]}", cases[i].url, SHA_A);
        assert_int_equal(igtcloud__upgrade_feed_select(&r, json, strlen(json), cases[i].feed_url,
                                                       "p", NULL), 0);
        assert_string_equal(r.url, cases[i].want);
        igtcloud__release_dispose(&r);
    }
}

static void test_upgrade__no_feed_configured(void **state)
{
    (void)state;
    igtcloud_upgrade_result res;
    igtcloud_upgrade_options opts = IGTCLOUD_UPGRADE_OPTIONS_INIT;
    unsetenv("IGTCLOUD_UPGRADE_FEED");
    if (igtcloud_upgrade_default_feed()[0] == '\0') {
        assert_int_equal(igtcloud_upgrade(&res, &opts), IGTCLOUD_EINVALID);
        assert_non_null(strstr(igtcloud_error_last()->message, "no upgrade feed is configured"));
    }
    setenv("IGTCLOUD_UPGRADE_FEED", "http://127.0.0.1:9/feed.json", 1);
    assert_string_equal(igtcloud_upgrade_default_feed(), "http://127.0.0.1:9/feed.json");
    unsetenv("IGTCLOUD_UPGRADE_FEED");
    opts.version = 99;
    assert_int_equal(igtcloud_upgrade(&res, &opts), IGTCLOUD_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upgrade__semver_order),
        cmocka_unit_test(test_upgrade__feed_picks_latest_stable_with_a_build),
        cmocka_unit_test(test_upgrade__bad_feeds),
        cmocka_unit_test(test_upgrade__relative_urls),
        cmocka_unit_test(test_upgrade__no_feed_configured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
