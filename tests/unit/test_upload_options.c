/* tools/upload: the options struct and its versions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "igtcloud/igtcloud.h"

/* Version 2 is the default; init fills it with the documented defaults. */
static void test_upload_options__init_current(void **state)
{
    (void)state;
    igtcloud_upload_options o;
    memset(&o, 0xAB, sizeof(o));
    assert_int_equal(igtcloud_upload_options_init(&o, IGTCLOUD_UPLOAD_OPTIONS_VERSION), 0);
    assert_int_equal(o.version, 2);
    assert_int_equal(o.checksum, IGTCLOUD_CHECKSUM_CRC32C);
    assert_int_equal(o.category, IGTCLOUD_UPLOAD_FILES);
    assert_null(o.s3_endpoint);
    assert_int_equal(igtcloud_upload_options_init(&o, 3), IGTCLOUD_EINVALID);
    assert_int_equal(igtcloud_upload_options_init(&o, 0), IGTCLOUD_EINVALID);
}

/* A caller built against version 1 has a shorter struct: nothing past it is written. */
static void test_upload_options__init_version_1_stays_inside(void **state)
{
    (void)state;
    igtcloud_upload_options o;
    memset(&o, 0xAB, sizeof(o));
    assert_int_equal(igtcloud_upload_options_init(&o, 1), 0);
    assert_int_equal(o.version, 1);
    assert_null(o.ca_file);
    const unsigned char *tail = (const unsigned char *)&o + offsetof(igtcloud_upload_options, checksum);
    for (size_t i = 0; i < sizeof(o.checksum); i++)
        assert_int_equal(tail[i], 0xAB);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_options__init_current),
        cmocka_unit_test(test_upload_options__init_version_1_stays_inside),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
