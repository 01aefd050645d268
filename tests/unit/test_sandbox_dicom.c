/*
 * The sandbox's DICOM header reader on hand-built byte buffers: both VRs,
 * sequences and items of undefined length, odd lengths, every truncation of
 * a file, hostile lengths, unsupported transfer syntaxes, bad UIDs, text
 * clean-up, and DICOM dates as ISO date-times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dicom.h"

#define TS_EXPLICIT "1.2.840.10008.1.2.1"
#define TS_IMPLICIT "1.2.840.10008.1.2"

typedef struct dbuf {
    unsigned char b[16384];
    size_t n;
} dbuf;

static void put(dbuf *d, const void *p, size_t n)
{
    assert_true(d->n + n <= sizeof(d->b));
    memcpy(d->b + d->n, p, n);
    d->n += n;
}

static void put16(dbuf *d, unsigned int v)
{
    unsigned char b[2] = { (unsigned char)(v & 0xFF), (unsigned char)(v >> 8) };
    put(d, b, 2);
}

static void put32(dbuf *d, unsigned long v)
{
    unsigned char b[4] = { (unsigned char)(v & 0xFF), (unsigned char)(v >> 8 & 0xFF),
                           (unsigned char)(v >> 16 & 0xFF), (unsigned char)(v >> 24 & 0xFF) };
    put(d, b, 4);
}

static int is_long_vr(const char *vr)
{
    return strstr("OB OD OF OL OV OW SQ SV UC UN UR UT UV", vr) != NULL;
}

/* Explicit VR element header with a given length (0xFFFFFFFF: undefined). */
static void ex_header(dbuf *d, unsigned int g, unsigned int e, const char *vr, unsigned long len)
{
    put16(d, g);
    put16(d, e);
    put(d, vr, 2);
    if (is_long_vr(vr)) {
        put16(d, 0);
        put32(d, len);
    } else {
        put16(d, (unsigned int)len);
    }
}

/* Explicit VR element with a value of exactly `len` bytes. */
static void ex(dbuf *d, unsigned int g, unsigned int e, const char *vr, const char *value,
               size_t len)
{
    ex_header(d, g, e, vr, len);
    put(d, value, len);
}

/* Explicit VR text element padded to even length (NUL for UI, else space). */
static void ext(dbuf *d, unsigned int g, unsigned int e, const char *vr, const char *text)
{
    char v[256];
    size_t n = strlen(text);
    memcpy(v, text, n);
    if (n % 2)
        v[n++] = strcmp(vr, "UI") == 0 ? '\0' : ' ';
    ex(d, g, e, vr, v, n);
}

/* Implicit VR element (also item and delimiter tags, which look the same). */
static void im_header(dbuf *d, unsigned int g, unsigned int e, unsigned long len)
{
    put16(d, g);
    put16(d, e);
    put32(d, len);
}

static void imt(dbuf *d, unsigned int g, unsigned int e, const char *text)
{
    char v[256];
    size_t n = strlen(text);
    memcpy(v, text, n);
    if (n % 2)
        v[n++] = ' ';
    im_header(d, g, e, n);
    put(d, v, n);
}

static void start(dbuf *d, const char *ts)
{
    memset(d, 0, sizeof(*d));
    d->n = 128;
    put(d, "DICM", 4);
    ex(d, 0x0002, 0x0001, "OB", "\x00\x01", 2);
    ext(d, 0x0002, 0x0010, "UI", ts);
}

/* Read d through an exactly-sized heap copy, so ASan sees any read past the end. */
static int read_buf(sandbox_dicom_header *h, const unsigned char *b, size_t n,
                    unsigned long long file_size, char *err, size_t err_size)
{
    unsigned char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    if (n)
        memcpy(copy, b, n);
    int rc = sandbox_dicom_read(h, copy, n, file_size, err, err_size);
    free(copy);
    return rc;
}

static void expect_error(const dbuf *d, size_t len, unsigned long long file_size,
                         const char *want)
{
    sandbox_dicom_header h;
    char err[300];
    assert_int_equal(read_buf(&h, d->b, len, file_size, err, sizeof(err)), -1);
    if (!strstr(err, want))
        fail_msg("error '%s' lacks '%s'", err, want);
}

/* A complete explicit VR file: the wanted tags, a sequence, then 16 bytes of pixel data. */
static void explicit_file(dbuf *d)
{
    start(d, TS_EXPLICIT);
    ext(d, 0x0008, 0x0018, "UI", "1.2.3.4.5.6.7");
    ext(d, 0x0008, 0x0020, "DA", "20210304");
    ext(d, 0x0008, 0x0030, "TM", "101530.25");
    ext(d, 0x0008, 0x0060, "CS", "XA");
    ext(d, 0x0008, 0x1030, "LO", "Coronary");
    /* A sequence of undefined length whose item holds a PatientID that is not the patient's. */
    ex_header(d, 0x0008, 0x1140, "SQ", 0xFFFFFFFFul);
    im_header(d, 0xFFFE, 0xE000, 0xFFFFFFFFul);
    ext(d, 0x0010, 0x0020, "LO", "INNER");
    im_header(d, 0xFFFE, 0xE00D, 0);
    im_header(d, 0xFFFE, 0xE0DD, 0);
    ext(d, 0x0010, 0x0010, "PN", "Doe^John");
    ext(d, 0x0010, 0x0020, "LO", "PAT-1");
    ext(d, 0x0020, 0x000D, "UI", "1.2.3.4");
    ext(d, 0x0020, 0x000E, "UI", "1.2.3.4.5");
    ext(d, 0x0020, 0x0010, "SH", "S1");
    ex(d, 0x7FE0, 0x0010, "OW", "0123456789abcdef", 16);
}

static void test_sandbox_dicom__explicit_vr(void **state)
{
    (void)state;
    dbuf d;
    sandbox_dicom_header h;
    char err[300];
    explicit_file(&d);
    assert_int_equal(read_buf(&h, d.b, d.n, d.n, err, sizeof(err)), 0);
    assert_string_equal(h.transfer_syntax, TS_EXPLICIT);
    assert_int_equal(h.explicit_vr, 1);
    assert_string_equal(h.patient_id, "PAT-1");
    assert_string_equal(h.patient_name, "Doe^John");
    assert_string_equal(h.study_uid, "1.2.3.4");
    assert_string_equal(h.series_uid, "1.2.3.4.5");
    assert_string_equal(h.sop_uid, "1.2.3.4.5.6.7");
    assert_string_equal(h.study_date, "20210304");
    assert_string_equal(h.study_time, "101530.25");
    assert_string_equal(h.modality, "XA");
    assert_string_equal(h.study_id, "S1");
    assert_string_equal(h.study_description, "Coronary");
    assert_int_equal(h.has_pixel_data, 1);
    assert_int_equal(h.data_end, d.n - 12 - 16);
    assert_int_equal(sandbox_dicom_is_part10(d.b, d.n), 1);
}

static void test_sandbox_dicom__implicit_vr(void **state)
{
    (void)state;
    dbuf d;
    sandbox_dicom_header h;
    char err[300];
    start(&d, TS_IMPLICIT);
    imt(&d, 0x0008, 0x0018, "1.2.9");
    imt(&d, 0x0008, 0x0060, "MR");
    /* Undefined-length sequence with one defined and one undefined item. */
    im_header(&d, 0x0008, 0x1115, 0xFFFFFFFFul);
    im_header(&d, 0xFFFE, 0xE000, 10);
    imt(&d, 0x0010, 0x0020, "XX");
    im_header(&d, 0xFFFE, 0xE000, 0xFFFFFFFFul);
    im_header(&d, 0x0008, 0x1199, 0xFFFFFFFFul); /* nested */
    im_header(&d, 0xFFFE, 0xE000, 0xFFFFFFFFul);
    imt(&d, 0x0020, 0x000D, "9.9");
    im_header(&d, 0xFFFE, 0xE00D, 0);
    im_header(&d, 0xFFFE, 0xE0DD, 0);
    im_header(&d, 0xFFFE, 0xE00D, 0);
    im_header(&d, 0xFFFE, 0xE0DD, 0);
    /* A defined-length sequence is skipped whole. */
    im_header(&d, 0x0008, 0x1200, 18);
    im_header(&d, 0xFFFE, 0xE000, 10);
    imt(&d, 0x0010, 0x0010, "NO");
    imt(&d, 0x0010, 0x0010, "Roe^Jane");
    imt(&d, 0x0010, 0x0020, "PAT-2");
    imt(&d, 0x0020, 0x000D, "1.2.7");
    imt(&d, 0x0020, 0x000E, "1.2.8");
    /* No pixel data: the data set ends with the file. */
    assert_int_equal(read_buf(&h, d.b, d.n, d.n, err, sizeof(err)), 0);
    assert_int_equal(h.explicit_vr, 0);
    assert_string_equal(h.patient_id, "PAT-2");
    assert_string_equal(h.patient_name, "Roe^Jane");
    assert_string_equal(h.study_uid, "1.2.7");
    assert_string_equal(h.series_uid, "1.2.8");
    assert_string_equal(h.sop_uid, "1.2.9");
    assert_string_equal(h.modality, "MR");
    assert_int_equal(h.has_pixel_data, 0);
    assert_int_equal(h.data_end, d.n);
}

static void test_sandbox_dicom__un_and_encapsulated(void **state)
{
    (void)state;
    dbuf d;
    sandbox_dicom_header h;
    char err[300];
    /* JPEG baseline: the data set is explicit VR LE. */
    start(&d, "1.2.840.10008.1.2.4.50");
    /* An undefined-length UN holds implicit VR items (PS3.5 6.2.2). */
    ex_header(&d, 0x0009, 0x1010, "UN", 0xFFFFFFFFul);
    im_header(&d, 0xFFFE, 0xE000, 0xFFFFFFFFul);
    imt(&d, 0x0009, 0x0010, "PRIVATE");
    im_header(&d, 0xFFFE, 0xE00D, 0);
    im_header(&d, 0xFFFE, 0xE0DD, 0);
    ext(&d, 0x0020, 0x000D, "UI", "1.5");
    ex_header(&d, 0x7FE0, 0x0010, "OB", 0xFFFFFFFFul);
    im_header(&d, 0xFFFE, 0xE000, 0);
    assert_int_equal(read_buf(&h, d.b, d.n, d.n, err, sizeof(err)), 0);
    assert_string_equal(h.study_uid, "1.5");
    assert_int_equal(h.has_pixel_data, 1);
}

static void test_sandbox_dicom__odd_lengths_and_text(void **state)
{
    (void)state;
    dbuf d;
    sandbox_dicom_header h;
    char err[300];
    start(&d, TS_EXPLICIT);
    ex(&d, 0x0008, 0x0060, "CS", "CTX", 3);                /* odd: tolerated */
    ex(&d, 0x0010, 0x0010, "PN", "M\xc3\xbcller\x01\xff ", 10); /* control + bad UTF-8 */
    ex(&d, 0x0010, 0x0020, "LO", "  ID 7  ", 8);
    ex(&d, 0x0020, 0x000D, "UI", "1.2\0", 4);
    assert_int_equal(read_buf(&h, d.b, d.n, d.n, err, sizeof(err)), 0);
    assert_string_equal(h.modality, "CTX");
    assert_string_equal(h.patient_name, "M\xc3\xbcller??");
    assert_string_equal(h.patient_id, "ID 7");
    assert_string_equal(h.study_uid, "1.2");
}

static void test_sandbox_dicom__every_truncation(void **state)
{
    (void)state;
    dbuf d;
    sandbox_dicom_header h;
    char err[300];
    explicit_file(&d);
    /*
     * The file cut anywhere, pixel data included, is never a read past the
     * end. A cut between two top-level elements is a well-formed file
     * without pixel data; every other cut is an error.
     */
    size_t accepted = 0;
    for (size_t cut = 0; cut < d.n; cut++) {
        if (read_buf(&h, d.b, cut, cut, err, sizeof(err)) == 0) {
            assert_int_equal(h.has_pixel_data, 0);
            assert_int_equal(h.data_end, cut);
            accepted++;
            continue;
        }
        if (!strstr(err, cut < 132 ? "not a DICOM" : "truncated") &&
            !strstr(err, "no file meta") && !strstr(err, "no transfer syntax"))
            fail_msg("cut at %zu: unexpected error '%s'", cut, err);
    }
    /* After the meta group and after each of the 11 top-level elements before the pixel data. */
    assert_int_equal(accepted, 12);
    /* Reading only a part of a longer file is a different problem. */
    expect_error(&d, 200, d.n, "longer than the 200 bytes read");
    expect_error(&d, 100, d.n, "longer than the 100 bytes read");
    /* The header alone, with the pixel data in the (longer) file, is fine. */
    assert_int_equal(read_buf(&h, d.b, d.n - 16, d.n, err, sizeof(err)), 0);
}

static void test_sandbox_dicom__hostile_lengths(void **state)
{
    (void)state;
    dbuf d;
    start(&d, TS_EXPLICIT);
    ex_header(&d, 0x0009, 0x0010, "OB", 0xFFFFFFF0ul);
    put(&d, "abcd", 4);
    expect_error(&d, d.n, d.n, "declares 4294967280 bytes");

    start(&d, TS_EXPLICIT);
    ex_header(&d, 0x0010, 0x0010, "PN", 0xFFFF);
    put(&d, "ab", 2);
    expect_error(&d, d.n, d.n, "declares 65535 bytes");

    start(&d, TS_IMPLICIT);
    im_header(&d, 0x0008, 0x1115, 0xFFFFFFFFul);
    im_header(&d, 0xFFFE, 0xE000, 0xFFFFFFF8ul);
    expect_error(&d, d.n, d.n, "truncated");

    /* A sequence that never ends, and an item that never ends. */
    start(&d, TS_IMPLICIT);
    im_header(&d, 0x0008, 0x1115, 0xFFFFFFFFul);
    expect_error(&d, d.n, d.n, "has no end");
    im_header(&d, 0xFFFE, 0xE000, 0xFFFFFFFFul);
    imt(&d, 0x0010, 0x0010, "X");
    expect_error(&d, d.n, d.n, "has no end");

    /* Nesting is bounded. */
    start(&d, TS_EXPLICIT);
    for (int i = 0; i < 40; i++) {
        ex_header(&d, 0x0008, 0x1115, "SQ", 0xFFFFFFFFul);
        im_header(&d, 0xFFFE, 0xE000, 0xFFFFFFFFul);
    }
    expect_error(&d, d.n, d.n, "nested deeper");

    /* Only items in sequences; no delimiters outside them. */
    start(&d, TS_EXPLICIT);
    ex_header(&d, 0x0008, 0x1115, "SQ", 0xFFFFFFFFul);
    ext(&d, 0x0010, 0x0010, "PN", "X");
    expect_error(&d, d.n, d.n, "expected an item");
    start(&d, TS_EXPLICIT);
    im_header(&d, 0xFFFE, 0xE0DD, 0);
    expect_error(&d, d.n, d.n, "misplaced");

    /* An explicit VR element without letters where the VR goes. */
    start(&d, TS_EXPLICIT);
    put16(&d, 0x0010);
    put16(&d, 0x0010);
    put(&d, "\x01\x02\x00\x00", 4);
    expect_error(&d, d.n, d.n, "no valid VR");

    /* Pixel data longer than the file. */
    start(&d, TS_EXPLICIT);
    ex_header(&d, 0x7FE0, 0x0010, "OW", 1000);
    put(&d, "xx", 2);
    expect_error(&d, d.n, d.n, "pixel data");
}

static void test_sandbox_dicom__refusals(void **state)
{
    (void)state;
    dbuf d;
    start(&d, "1.2.840.10008.1.2.2");
    expect_error(&d, d.n, d.n, "unsupported transfer syntax 1.2.840.10008.1.2.2 (explicit VR big");
    start(&d, "1.2.840.10008.1.2.1.99");
    expect_error(&d, d.n, d.n, "deflated");

    memset(&d, 0, sizeof(d));
    d.n = 128;
    put(&d, "DICM", 4);
    ex(&d, 0x0002, 0x0001, "OB", "\x00\x01", 2);
    expect_error(&d, d.n, d.n, "no transfer syntax");
    memset(&d, 0, sizeof(d));
    d.n = 128;
    put(&d, "DICM", 4);
    ext(&d, 0x0008, 0x0060, "CS", "CT");
    expect_error(&d, d.n, d.n, "no file meta information");
    memset(&d, 0, sizeof(d));
    d.n = 300;
    expect_error(&d, d.n, d.n, "no 'DICM'");
    expect_error(&d, 10, 10, "shorter than the 128-byte preamble");
    sandbox_dicom_header h;
    assert_int_equal(sandbox_dicom_read(&h, NULL, 0, 0, NULL, 0), -1);
    assert_int_equal(sandbox_dicom_is_part10(d.b, d.n), 0);

    static const char *const bad_uids[] = {
        "1.2.abc", ".1.2", "1..2", "1.2.", "1.2 3",
        "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23.24.25.26.27",
    };
    for (size_t i = 0; i < sizeof(bad_uids) / sizeof(bad_uids[0]); i++) {
        start(&d, TS_EXPLICIT);
        ext(&d, 0x0020, 0x000E, "UI", bad_uids[i]);
        expect_error(&d, d.n, d.n, "SeriesInstanceUID");
    }
}

static void test_sandbox_dicom__dates(void **state)
{
    (void)state;
    static const struct {
        const char *da, *tm, *iso;
    } vectors[] = {
        { "20210304", "101530.25", "2021-03-04T10:15:30" },
        { "20210304", "1015", "2021-03-04T10:15:00" },
        { "20210304", "10", "2021-03-04T10:00:00" },
        { "20210304", "10:15:30", "2021-03-04T10:15:30" },
        { "20210304", "", "2021-03-04T00:00:00" },
        { "20210304", NULL, "2021-03-04T00:00:00" },
        { "20210304", "256000", "2021-03-04T00:00:00" },
        { "20210304", "1x", "2021-03-04T00:00:00" },
        { "2021.03.04", "235959", "2021-03-04T23:59:59" },
        { "20240229", NULL, "2024-02-29T00:00:00" },
        { "20230229", NULL, NULL },
        { "20211301", NULL, NULL },
        { "20210100", NULL, NULL },
        { "2021034", NULL, NULL },
        { "2021-03-04", NULL, NULL },
        { "", NULL, NULL },
        { NULL, NULL, NULL },
    };
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        char out[32] = "";
        int rc = sandbox_dicom_iso_datetime(out, sizeof(out), vectors[i].da, vectors[i].tm);
        if (!vectors[i].iso) {
            assert_int_equal(rc, -1);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_string_equal(out, vectors[i].iso);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sandbox_dicom__explicit_vr),
        cmocka_unit_test(test_sandbox_dicom__implicit_vr),
        cmocka_unit_test(test_sandbox_dicom__un_and_encapsulated),
        cmocka_unit_test(test_sandbox_dicom__odd_lengths_and_text),
        cmocka_unit_test(test_sandbox_dicom__every_truncation),
        cmocka_unit_test(test_sandbox_dicom__hostile_lengths),
        cmocka_unit_test(test_sandbox_dicom__refusals),
        cmocka_unit_test(test_sandbox_dicom__dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
