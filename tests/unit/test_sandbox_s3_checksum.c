/*
 * sandbox/s3_checksum: CRC32C text and multipart checksums joined from the
 * parts' CRCs. The expected values were computed apart, with a bitwise
 * CRC32C in Python (zlib-free), so they do not share code with the sandbox.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/hash.h"
#include "s3_checksum.h"

static void test_sandbox_s3_checksum__text_and_parse(void **state)
{
    (void)state;
    char text[SANDBOX_S3_CRC32C_TEXT];
    uint32_t crc = 0;
    /* CRC32C("123456789") = 0xE3069283 (RFC 3720). */
    sandbox_s3_crc32c_text(text, 0xE3069283u);
    assert_string_equal(text, "4waSgw==");
    assert_int_equal(sandbox_s3_crc32c_parse(&crc, "4waSgw=="), 0);
    assert_int_equal(crc, 0xE3069283u);
    assert_int_equal(sandbox_s3_crc32c_parse(&crc, "4waSgw"), 0);
    assert_int_equal(crc, 0xE3069283u);
    static const char *const bad[] = { "", "4waS", "4waSgwAA", "4waSgw==-2", "not base64!" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sandbox_s3_crc32c_parse(&crc, bad[i]), -1);
    assert_string_equal(sandbox_s3_checksum_type("4waSgw=="), "FULL_OBJECT");
    assert_string_equal(sandbox_s3_checksum_type("wClZWQ==-2"), "COMPOSITE");
}

static void join(char out[SANDBOX_S3_CRC32C_TEXT], int full_object, const char *const *parts,
                 size_t n)
{
    sandbox_s3_crc32c_join j;
    sandbox_s3_crc32c_join_init(&j, full_object);
    for (size_t i = 0; i < n; i++)
        sandbox_s3_crc32c_join_add(&j, igtcloud__crc32c(0, parts[i], strlen(parts[i])),
                                   strlen(parts[i]));
    sandbox_s3_crc32c_join_text(&j, out);
}

static void test_sandbox_s3_checksum__composite_and_full_object(void **state)
{
    (void)state;
    char text[SANDBOX_S3_CRC32C_TEXT], own[SANDBOX_S3_CRC32C_TEXT];
    const char *const parts[] = { "1234", "56789" };
    join(text, 0, parts, 2);
    assert_string_equal(text, "wClZWQ==-2");
    join(text, 1, parts, 2);
    assert_string_equal(text, "4waSgw==");
    /* One part: FULL_OBJECT is that part's own CRC32C. */
    join(text, 1, parts + 1, 1);
    sandbox_s3_crc32c_text(own, igtcloud__crc32c(0, "56789", 5));
    assert_string_equal(text, own);
}

/* The most parts S3 allows: the text with "-10000" still fits. */
static void test_sandbox_s3_checksum__ten_thousand_parts(void **state)
{
    (void)state;
    sandbox_s3_crc32c_join composite, full;
    char text[SANDBOX_S3_CRC32C_TEXT];
    sandbox_s3_crc32c_join_init(&composite, 0);
    sandbox_s3_crc32c_join_init(&full, 1);
    for (unsigned i = 0; i < 10000; i++) {
        unsigned char byte = (unsigned char)(i % 256);
        uint32_t crc = igtcloud__crc32c(0, &byte, 1);
        sandbox_s3_crc32c_join_add(&composite, crc, 1);
        sandbox_s3_crc32c_join_add(&full, crc, 1);
    }
    sandbox_s3_crc32c_join_text(&composite, text);
    assert_string_equal(text, "XvTRvQ==-10000");
    sandbox_s3_crc32c_join_text(&full, text);
    assert_string_equal(text, "WGi8Ww==");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sandbox_s3_checksum__text_and_parse),
        cmocka_unit_test(test_sandbox_s3_checksum__composite_and_full_object),
        cmocka_unit_test(test_sandbox_s3_checksum__ten_thousand_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
