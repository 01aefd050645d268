/* s3/wire: Content-Range, ETag and HTTP-date parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/error.h"
#include "s3/wire.h"

static void test_s3_wire__content_range(void **state)
{
    (void)state;
    int64_t a, b, t;
    const char *v = "bytes 0-99/1000";
    assert_int_equal(igtcloud__wire_content_range(&a, &b, &t, v, strlen(v)), 0);
    assert_true(a == 0 && b == 99 && t == 1000);
    v = "bytes */1000";
    assert_int_equal(igtcloud__wire_content_range(&a, &b, &t, v, strlen(v)), 0);
    assert_true(a == -1 && b == -1 && t == 1000);
    v = "bytes 5-9/*";
    assert_int_equal(igtcloud__wire_content_range(&a, &b, &t, v, strlen(v)), 0);
    assert_true(a == 5 && b == 9 && t == -1);
    const char *bad[] = { "", "bytes", "bytes 9-5/10", "bytes 0-10/10", "bytes 0-1/x",
                          "bytes */*", "items 0-1/2", "bytes 0-1/2 junk", "bytes -1/2",
                          "bytes 99999999999999999999-1/2" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(igtcloud__wire_content_range(&a, &b, &t, bad[i], strlen(bad[i])),
                         IGTCLOUD_EPROTO);
}

static void test_s3_wire__etag(void **state)
{
    (void)state;
    char e[IGTCLOUD__ETAG_MAX + 1];
    const char *v = "\"9e107d9d372bb6826bd81d3542a419d6\"";
    assert_int_equal(igtcloud__wire_etag(e, v, strlen(v)), 0);
    assert_string_equal(e, "9e107d9d372bb6826bd81d3542a419d6");
    assert_true(igtcloud__wire_etag_is_md5(e));
    v = "\"9e107d9d372bb6826bd81d3542a419d6-12\"";
    assert_int_equal(igtcloud__wire_etag(e, v, strlen(v)), 0);
    assert_false(igtcloud__wire_etag_is_md5(e));
    uint32_t parts = 0;
    assert_true(igtcloud__wire_etag_parts(e, &parts));
    assert_int_equal(parts, 12);
    assert_true(igtcloud__wire_etag_parts("9e107d9d372bb6826bd81d3542a419d6-10000", &parts));
    assert_int_equal(parts, 10000);
    assert_true(igtcloud__wire_etag_parts("9E107D9D372BB6826BD81D3542A419D6-1", &parts));
    assert_int_equal(parts, 1);
    const char *not_parts[] = { "9e107d9d372bb6826bd81d3542a419d6", "9e107d9d372bb6826bd81d3542a419d6-",
                                "9e107d9d372bb6826bd81d3542a419d6-0", "9e107d9d372bb6826bd81d3542a419d6-01",
                                "9e107d9d372bb6826bd81d3542a419d6-10001", "9e107d9d372bb6826bd81d3542a419d6-1x",
                                "9e107d9d372bb6826bd81d3542a419dg-2", "9e107d9d372bb6826bd81d3542a419d-12",
                                "9e107d9d372bb6826bd81d3542a419d6-123456" };
    for (size_t i = 0; i < sizeof(not_parts) / sizeof(not_parts[0]); i++)
        assert_false(igtcloud__wire_etag_parts(not_parts[i], &parts));
    v = "W/\"abc\"";
    assert_int_equal(igtcloud__wire_etag(e, v, strlen(v)), 0);
    assert_string_equal(e, "abc");
    const char *bad[] = { "", "\"\"", "\"a b\"", "\"a\"b\"" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(igtcloud__wire_etag(e, bad[i], strlen(bad[i])), IGTCLOUD_EPROTO);
}

/* x-amz-checksum-crc32c: a whole object's, or a multipart upload's composite "...-N". */
static void test_s3_wire__checksum_crc32c(void **state)
{
    (void)state;
    uint32_t crc = 0, parts = 99;
    const char *v = "4waSgw=="; /* CRC32C("123456789") = 0xe3069283 */
    assert_int_equal(igtcloud__wire_checksum_crc32c(&crc, &parts, v, strlen(v)), 0);
    assert_int_equal(crc, 0xe3069283u);
    assert_int_equal(parts, 0);
    v = "4waSgw==-3";
    assert_int_equal(igtcloud__wire_checksum_crc32c(&crc, &parts, v, strlen(v)), 0);
    assert_int_equal(crc, 0xe3069283u);
    assert_int_equal(parts, 3);
    v = "AAAAAA==-10000";
    assert_int_equal(igtcloud__wire_checksum_crc32c(&crc, &parts, v, strlen(v)), 0);
    assert_int_equal(crc, 0);
    assert_int_equal(parts, 10000);
    const char *bad[] = { "", "4waSgw=", "4waSgw==-", "4waSgw==-0", "4waSgw==-01", "4waSgw==-10001",
                          "4waSgw==-123456", "4waSgw==-1x", "4waS*w==", "4waSgw==4waSgw==",
                          "-3", "4waSgw==--3", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(igtcloud__wire_checksum_crc32c(&crc, &parts, bad[i], strlen(bad[i])),
                         IGTCLOUD_EPROTO);
    /* Only `len` bytes count: what follows is not read. */
    assert_int_equal(igtcloud__wire_checksum_crc32c(&crc, &parts, "4waSgw==-37", 10), 0);
    assert_int_equal(parts, 3);
}

static void test_s3_wire__http_date(void **state)
{
    (void)state;
    int64_t t;
    const char *forms[] = { "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                            "Sun Nov  6 08:49:37 1994" };
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(igtcloud__wire_http_date(&t, forms[i], strlen(forms[i])), 0);
        assert_int_equal(t, 784111777);
    }
    const char *bad[] = { "", "yesterday", "Sun, 06 Nov 1994 08:49:37 CET",
                          "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(igtcloud__wire_http_date(&t, bad[i], strlen(bad[i])), IGTCLOUD_EPROTO);
    uint64_t n;
    assert_int_equal(igtcloud__wire_u64(&n, " 123 ", 5), 0);
    assert_int_equal(n, 123);
    assert_int_equal(igtcloud__wire_u64(&n, "12a", 3), IGTCLOUD_EPROTO);
}

/* The ETag S3 gives a completed multipart upload, from its parts' ETags (Python hashlib). */
static void test_s3_wire__multipart_etag(void **state)
{
    (void)state;
    char out[IGTCLOUD__ETAG_MAX + 1];
    char p1[] = "3303e12af474ca11d85ed2966a932992", p2[] = "3EA4E15B91A17DC76052C56CFCDF67A2";
    char *parts[] = { p1, p2 };
    assert_int_equal(igtcloud__wire_multipart_etag(out, parts, 2), 0);
    assert_string_equal(out, "0732917abc3288784e318ac0aab1757a-2");
    char kms[] = "not-an-md5";
    char *other[] = { p1, kms };
    assert_int_equal(igtcloud__wire_multipart_etag(out, other, 2), -1);
    char *missing[] = { p1, NULL };
    assert_int_equal(igtcloud__wire_multipart_etag(out, missing, 2), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3_wire__content_range),
        cmocka_unit_test(test_s3_wire__etag),
        cmocka_unit_test(test_s3_wire__checksum_crc32c),
        cmocka_unit_test(test_s3_wire__multipart_etag),
        cmocka_unit_test(test_s3_wire__http_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
