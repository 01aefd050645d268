/* s3/plan: part and range planning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/error.h"
#include "s3/plan.h"

#define MIB ((uint64_t)1024 * 1024)
#define GIB (1024 * MIB)

static void test_s3_plan__parts_keep_the_wanted_size_when_it_fits(void **state)
{
    (void)state;
    uint64_t part;
    uint32_t count;
    assert_int_equal(igtcloud__plan_parts(&part, &count, 100 * MIB, 8 * MIB), 0);
    assert_int_equal(part, 8 * MIB);
    assert_int_equal(count, 13);
    assert_int_equal(igtcloud__plan_parts(&part, &count, 16 * MIB, 8 * MIB), 0);
    assert_int_equal(count, 2);
    /* Below S3's minimum the part size is raised to 5 MiB. */
    assert_int_equal(igtcloud__plan_parts(&part, &count, 20 * MIB, 1 * MIB), 0);
    assert_int_equal(part, 5 * MIB);
    assert_int_equal(count, 4);
}

static void test_s3_plan__parts_stay_under_ten_thousand(void **state)
{
    (void)state;
    const uint64_t sizes[] = { 8 * MIB * 9999, 8 * MIB * 9999 + 1, 100 * GIB, 1024 * GIB,
                               IGTCLOUD__S3_MAX_OBJECT };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint64_t part;
        uint32_t count;
        assert_int_equal(igtcloud__plan_parts(&part, &count, sizes[i], 8 * MIB), 0);
        assert_true(count < 10000);
        assert_true(part >= 8 * MIB);
        assert_true(part <= IGTCLOUD__S3_MAX_PART);
        assert_int_equal(part % MIB, 0);
        assert_true((uint64_t)count * part >= sizes[i]);
        assert_true((uint64_t)(count - 1) * part < sizes[i]);
    }
    uint64_t part;
    uint32_t count;
    assert_int_equal(igtcloud__plan_parts(&part, &count, IGTCLOUD__S3_MAX_OBJECT + 1, 8 * MIB),
                     IGTCLOUD_EINVALID);
}

static void test_s3_plan__ranges_and_slices_cover_every_byte_once(void **state)
{
    (void)state;
    const uint64_t sizes[] = { 0, 1, 999, 1000, 1001, 8 * MIB, 8 * MIB + 3, GIB };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint64_t range = i < 5 ? 1000 : 8 * MIB;
        uint32_t count;
        assert_int_equal(igtcloud__plan_ranges(&count, sizes[i], range), 0);
        uint64_t next = 0;
        for (uint32_t r = 0; r < count; r++) {
            uint64_t off, len;
            igtcloud__plan_slice(&off, &len, sizes[i], range, r);
            assert_int_equal(off, next);
            assert_true(len <= range);
            assert_true(len > 0 || sizes[i] == 0);
            next = off + len;
        }
        assert_int_equal(next, sizes[i]);
    }
    uint32_t count;
    assert_int_equal(igtcloud__plan_ranges(&count, UINT64_MAX, 1), IGTCLOUD_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3_plan__parts_keep_the_wanted_size_when_it_fits),
        cmocka_unit_test(test_s3_plan__parts_stay_under_ten_thousand),
        cmocka_unit_test(test_s3_plan__ranges_and_slices_cover_every_byte_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
