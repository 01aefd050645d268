/* core/: buffers, base64, ISO time, errors, hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fdio.h"
#include "core/hash.h"
#include "core/isotime.h"
#include "core/md5.h"
#include "core/random.h"
#include "core/spill.h"

static void test_core__buf_grows_and_stays_terminated(void **state)
{
    (void)state;
    igtcloud__buf buf = IGTCLOUD_BUF_INIT;
    assert_string_equal(igtcloud__buf_cstr(&buf), "");
    for (int i = 0; i < 1000; i++)
        assert_int_equal(igtcloud__buf_printf(&buf, "%d,", i), 0);
    assert_int_equal(strncmp(buf.ptr, "0,1,2,", 6), 0);
    assert_int_equal(buf.ptr[buf.size], '\0');
    assert_int_equal(strlen(buf.ptr), buf.size);
    char *owned = igtcloud__buf_detach(&buf);
    assert_null(buf.ptr);
    free(owned);
    igtcloud__buf_dispose(&buf);
}

static const struct {
    const char *plain;
    const char *std;
    const char *url;
} base64_vectors[] = {
    /* RFC 4648 section 10, plus bytes that differ between the alphabets. */
    { "", "", "" },
    { "f", "Zg==", "Zg" },
    { "fo", "Zm8=", "Zm8" },
    { "foo", "Zm9v", "Zm9v" },
    { "foob", "Zm9vYg==", "Zm9vYg" },
    { "fooba", "Zm9vYmE=", "Zm9vYmE" },
    { "foobar", "Zm9vYmFy", "Zm9vYmFy" },
    { "\xfb\xff\xbf", "+/+/", "-_-_" },
};

static void test_core__base64_vectors_both_alphabets(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(base64_vectors) / sizeof(base64_vectors[0]); i++) {
        igtcloud__buf out = IGTCLOUD_BUF_INIT;
        const char *plain = base64_vectors[i].plain;
        assert_int_equal(igtcloud__base64_encode(&out, plain, strlen(plain)), 0);
        assert_string_equal(igtcloud__buf_cstr(&out), base64_vectors[i].std);
        igtcloud__buf_clear(&out);
        assert_int_equal(igtcloud__base64url_encode(&out, plain, strlen(plain)), 0);
        assert_string_equal(igtcloud__buf_cstr(&out), base64_vectors[i].url);
        igtcloud__buf_clear(&out);
        assert_int_equal(igtcloud__base64_decode(&out, base64_vectors[i].std,
                                                 strlen(base64_vectors[i].std)), 0);
        assert_int_equal(out.size, strlen(plain));
        assert_memory_equal(igtcloud__buf_cstr(&out), plain, out.size);
        igtcloud__buf_clear(&out);
        assert_int_equal(igtcloud__base64_decode(&out, base64_vectors[i].url,
                                                 strlen(base64_vectors[i].url)), 0);
        assert_memory_equal(igtcloud__buf_cstr(&out), plain, out.size);
        igtcloud__buf_dispose(&out);
    }
}

static void test_core__base64_rejects_garbage(void **state)
{
    (void)state;
    igtcloud__buf out = IGTCLOUD_BUF_INIT;
    assert_int_equal(igtcloud__base64_decode(&out, "Zm9v!", 5), IGTCLOUD_EINVALID);
    assert_int_equal(igtcloud__base64_decode(&out, "Z", 1), IGTCLOUD_EINVALID);
    assert_int_equal(igtcloud_error_last()->code, IGTCLOUD_EINVALID);
    assert_true(strlen(igtcloud_error_last()->message) > 0);
    igtcloud__buf_dispose(&out);
}

static void test_core__isotime_round_trip(void **state)
{
    (void)state;
    char text[IGTCLOUD_ISOTIME_LEN];
    igtcloud__isotime_format(text, 1369353600);
    assert_string_equal(text, "2013-05-24T00:00:00");
    igtcloud__isotime_format_compact(text, 1369353600);
    assert_string_equal(text, "20130524T000000Z");

    time_t t;
    int zone = -1;
    assert_int_equal(igtcloud__isotime_parse(&t, &zone, "2013-05-24T00:00:00"), 0);
    assert_int_equal(t, 1369353600);
    assert_int_equal(zone, 0);
    assert_int_equal(igtcloud__isotime_parse(&t, &zone, "2013-05-24T02:00:00.123+02:00"), 0);
    assert_int_equal(t, 1369353600);
    assert_int_equal(zone, 1);
    assert_int_equal(igtcloud__isotime_parse(&t, NULL, "2024-02-29"), 0);
    assert_int_equal(t, 1709164800);
    assert_int_equal(igtcloud__isotime_parse(&t, NULL, "1969-12-31T23:59:59Z"), 0);
    assert_int_equal(t, -1);
}

static void test_core__isotime_rejects_bad_dates(void **state)
{
    (void)state;
    const char *bad[] = { "", "2023-02-29", "2023-13-01", "2023-1-01", "2023-01-01T25:00:00",
                          "2023-01-01x", "yesterday", "2023-01-01T10:00:00+0" };
    time_t t;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(igtcloud__isotime_parse(&t, NULL, bad[i]), IGTCLOUD_EINVALID);
}

static void test_core__sha256_and_hmac_known_answers(void **state)
{
    (void)state;
    unsigned char digest[IGTCLOUD_SHA256_LEN];
    char hex[2 * IGTCLOUD_SHA256_LEN + 1];
    assert_int_equal(igtcloud__sha256(digest, "", 0), 0);
    igtcloud__hex(hex, digest, sizeof(digest));
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* RFC 4231 test case 2. */
    assert_int_equal(igtcloud__hmac_sha256(digest, "Jefe", 4,
                                           "what do ya want for nothing?", 28), 0);
    igtcloud__hex(hex, digest, sizeof(digest));
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_core__crc32c_known_answers_hardware_and_table(void **state)
{
    (void)state;
    /* RFC 3720 B.4 and the common check value. */
    unsigned char zeros[32] = { 0 }, ones[32], inc[32];
    for (int i = 0; i < 32; i++) {
        ones[i] = 0xff;
        inc[i] = (unsigned char)i;
    }
    assert_int_equal(igtcloud__crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(igtcloud__crc32c(0, zeros, 32), 0x8a9136aau);
    assert_int_equal(igtcloud__crc32c(0, ones, 32), 0x62a8ab43u);
    assert_int_equal(igtcloud__crc32c(0, inc, 32), 0x46dd794eu);
    assert_int_equal(igtcloud__crc32c(0, "", 0), 0u);
    /* Any length and alignment, in one call or continued, on both paths. */
    unsigned char big[1000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (unsigned char)(i * 131u + 7u);
    for (size_t off = 0; off < 9; off++) {
        for (size_t len = 0; len + off <= sizeof(big); len += 37) {
            uint32_t whole = igtcloud__crc32c_portable(0, big + off, len);
            assert_int_equal(igtcloud__crc32c(0, big + off, len), whole);
            uint32_t half = igtcloud__crc32c(0, big + off, len / 2);
            assert_int_equal(igtcloud__crc32c(half, big + off + len / 2, len - len / 2), whole);
        }
    }
}

/* CRCs of pieces join into the CRC of the whole, whatever the order the pieces came in. */
static void test_core__crc32c_pieces_combine_in_any_order(void **state)
{
    (void)state;
    enum { BIG = 70000 };
    unsigned char *big = malloc(BIG);
    assert_non_null(big);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (unsigned char)(i * 2654435761u >> 13);
    uint32_t whole = igtcloud__crc32c(0, big, BIG);
    /* Two pieces, every split point worth trying (empty sides included). */
    static const size_t splits[] = { 0, 1, 7, 8, 4096, 12288, 12289, 65536, BIG - 1, BIG };
    for (size_t s = 0; s < sizeof(splits) / sizeof(splits[0]); s++) {
        size_t at = splits[s];
        uint32_t a = igtcloud__crc32c(0, big, at), b = igtcloud__crc32c(0, big + at, BIG - at);
        assert_int_equal(igtcloud__crc32c_combine(a, b, BIG - at), whole);
    }
    /* Raw registers of pieces, each shifted to the end, xor into the whole's, folded backwards. */
    uint32_t acc = 0;
    size_t end = BIG;
    for (size_t piece = 1; end > 0; piece = piece * 3 + 1) {
        size_t from = end > piece ? end - piece : 0;
        acc ^= igtcloud__crc32c_shift(igtcloud__crc32c_raw(big + from, end - from), BIG - end);
        end = from;
    }
    assert_int_equal(igtcloud__crc32c_of_raw(acc, BIG), whole);
    assert_int_equal(igtcloud__crc32c_of_raw(igtcloud__crc32c_raw(big, BIG), BIG), whole);
    /* A shift is the register after that many zero bytes. */
    unsigned char zeros[300] = { 0 };
    uint32_t reg = igtcloud__crc32c_raw(big, 100);
    assert_int_equal(igtcloud__crc32c_shift(reg, sizeof(zeros)),
                     ~igtcloud__crc32c(~reg, zeros, sizeof(zeros)));
    assert_int_equal(igtcloud__crc32c_shift(reg, 0), reg);
    /* Lengths past 4 GiB: shifting by 2^32 bytes, then 1, is shifting by 2^32 + 1. */
    uint64_t four_gib = (uint64_t)1 << 32;
    assert_int_equal(igtcloud__crc32c_shift(igtcloud__crc32c_shift(reg, four_gib), 1),
                     igtcloud__crc32c_shift(reg, four_gib + 1));
    /* A flipped bit anywhere changes the joined result. */
    big[BIG / 2] ^= 0x10;
    assert_int_not_equal(igtcloud__crc32c_combine(igtcloud__crc32c(0, big, BIG / 3),
                                                  igtcloud__crc32c(0, big + BIG / 3, BIG - BIG / 3),
                                                  BIG - BIG / 3),
                         whole);
    free(big);
}

/* Inputs long enough for three stripes at once (and their joins) agree with the table. */
static void test_core__crc32c_long_inputs_striped(void **state)
{
    (void)state;
    enum { BIG = 200000 };
    unsigned char *big = malloc(BIG);
    assert_non_null(big);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (unsigned char)((i * 2654435761u) >> 13);
    static const size_t lens[] = { 12287, 12288, 12289, 3 * 4096 + 8, 2 * 12288 - 1, 2 * 12288 + 7,
                                   65536, 100003, BIG - 9 };
    for (size_t off = 0; off < 9; off += 4) {
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            size_t len = lens[i];
            uint32_t whole = igtcloud__crc32c_portable(0, big + off, len);
            assert_int_equal(igtcloud__crc32c(0, big + off, len), whole);
            /* Continued from a register that is not zero, at an odd split. */
            uint32_t head = igtcloud__crc32c(0, big + off, 1001);
            assert_int_equal(igtcloud__crc32c(head, big + off + 1001, len - 1001), whole);
        }
    }
    free(big);
}

static void test_core__random_token_alphabet(void **state)
{
    (void)state;
    char a[41], b[41];
    assert_int_equal(igtcloud__random_token(a, 40), 0);
    assert_int_equal(igtcloud__random_token(b, 40), 0);
    assert_int_equal(strlen(a), 40);
    assert_string_not_equal(a, b);
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"), 40);
}

static void test_core__error_names_and_single_line(void **state)
{
    (void)state;
    assert_string_equal(igtcloud_status_name(IGTCLOUD_ENOTFOUND), "ENOTFOUND");
    assert_string_equal(igtcloud_status_name(-999), "UNKNOWN");
    assert_int_equal(igtcloud__error_set(IGTCLOUD_EIO, "two\nlines"), IGTCLOUD_EIO);
    assert_string_equal(igtcloud_error_last()->message, "two lines");
    igtcloud_error_clear();
    assert_int_equal(igtcloud_error_last()->code, 0);
}

/* write_all appends at the file position; pwrite_all writes at its offset and leaves the position. */
static void test_core__write_all_and_pwrite_all(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    int fd = fileno(f);
    assert_int_equal(igtcloud__write_all(fd, "hello world", 11), 0);
    assert_int_equal(igtcloud__pwrite_all(fd, "W", 1, 6), 0);
    assert_int_equal(lseek(fd, 0, SEEK_CUR), 11);
    assert_int_equal(igtcloud__pwrite_all(fd, "!!", 2, 20), 0); /* past the end: a hole before it */
    assert_int_equal(igtcloud__write_all(fd, "?", 1), 0);
    char back[32] = { 0 };
    assert_int_equal(pread(fd, back, sizeof(back), 0), 22);
    assert_memory_equal(back, "hello World?", 12);
    assert_memory_equal(back + 20, "!!", 2);
    errno = 0;
    assert_int_equal(igtcloud__pwrite_all(fd, "x", 1, -1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(igtcloud__write_all(-1, "x", 1), -1);
    assert_int_equal(errno, EBADF);
    fclose(f);
}

/* pread_full reads what is there from the offset: all asked, or up to the end. */
static void test_core__pread_full(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    int fd = fileno(f);
    char buf[16];
    assert_int_equal(igtcloud__write_all(fd, "hello world", 11), 0);
    assert_int_equal(igtcloud__pread_full(fd, buf, 5, 6), 5);
    assert_memory_equal(buf, "world", 5);
    assert_int_equal(igtcloud__pread_full(fd, buf, sizeof(buf), 2), 9);
    assert_memory_equal(buf, "llo world", 9);
    assert_int_equal(igtcloud__pread_full(fd, buf, sizeof(buf), 11), 0);
    assert_int_equal(igtcloud__pread_full(-1, buf, 1, 0), -1);
    assert_int_equal(errno, EBADF);
    fclose(f);
}

/* open_unnamed makes a usable file that leaves no name in its folder. */
static void test_core__open_unnamed(void **state)
{
    (void)state;
    char dir[] = "/tmp/igtcloud-unnamed.XXXXXX";
    assert_non_null(mkdtemp(dir));
    int fd = igtcloud__open_unnamed(dir, "stem");
    assert_true(fd >= 0);
    assert_int_equal(igtcloud__pwrite_all(fd, "record", 6, 100), 0);
    char buf[8];
    assert_int_equal(igtcloud__pread_full(fd, buf, sizeof(buf), 100), 6);
    assert_memory_equal(buf, "record", 6);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int names = 0;
    for (struct dirent *e; (e = readdir(d));)
        names += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    assert_int_equal(names, 0);
    close(fd);
    assert_int_equal(rmdir(dir), 0);
    /* A folder that is not there: -1 and the reason. */
    assert_int_equal(igtcloud__open_unnamed("/nonexistent-igtcloud-dir", "stem"), -1);
    assert_int_equal(errno, ENOENT);
}

/* A spill gives back what was put, at any offset, from its file or from memory. */
static void test_core__spill_round_trip(void **state)
{
    (void)state;
    enum { N = 3 * IGTCLOUD__SPILL_CHUNK + 123 };
    unsigned char *data = malloc(N);
    assert_non_null(data);
    for (size_t i = 0; i < N; i++)
        data[i] = (unsigned char)(i * 31 + i / 7);
    for (int in_memory = 0; in_memory < 2; in_memory++) {
        igtcloud__spill s;
        igtcloud__spill_init(&s, in_memory ? -1 : igtcloud__open_unnamed("/tmp", "spill-test"));
        assert_true(in_memory || s.fd >= 0);
        for (size_t at = 0; at < N; at += 1000)
            assert_int_equal(igtcloud__spill_put(&s, data + at, N - at < 1000 ? N - at : 1000), 0);
        assert_true(s.size == N);
        assert_int_equal(igtcloud__spill_flush(&s), 0);
        igtcloud__spill_window w;
        memset(&w, 0, sizeof(w));
        const char *p;
        /* Across the window's edges, forward and back, and longer than a chunk. */
        const size_t offs[] = { 0, 65530, 5, N - 10, 70000, 1 };
        const size_t lens[] = { 10, 100, IGTCLOUD__SPILL_CHUNK + 9, 10, 1, N - 1 };
        for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
            assert_int_equal(igtcloud__spill_read(&p, &s, &w, offs[k], lens[k], N), 0);
            assert_memory_equal(p, data + offs[k], lens[k]);
        }
        /* Past the limit given, or past what was put: EIO. */
        assert_int_equal(igtcloud__spill_read(&p, &s, &w, 100, 10, 105), -1);
        assert_int_equal(errno, EIO);
        assert_int_equal(igtcloud__spill_read(&p, &s, &w, N - 5, 10, UINT64_MAX), -1);
        assert_int_equal(errno, EIO);
        igtcloud__buf_dispose(&w.buf);
        igtcloud__spill_close(&s);
        assert_int_equal(s.fd, -1);
    }
    free(data);
}

static void md5_hex(char out[33], igtcloud__md5_ctx *c)
{
    unsigned char d[16];
    igtcloud__md5_final(c, d);
    igtcloud__hex(out, d, 16);
}

/* RFC 1321's test suite, at every SIMD level the CPU has. */
static void test_core__md5_rfc1321_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *in, *hex;
    } v[] = {
        { "", "d41d8cd98f00b204e9800998ecf8427e" },
        { "a", "0cc175b9c0f1b6a831c399e269772661" },
        { "abc", "900150983cd24fb0d6963f7d28e17f72" },
        { "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
        { "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
        { "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
          "d174ab98d277d9f5a5611c2c9f419d9f" },
        { "1234567890123456789012345678901234567890"
          "1234567890123456789012345678901234567890",
          "57edf4a22be3c955ac49da2e2107b67a" },
    };
    enum { N = sizeof(v) / sizeof(v[0]) };
    for (int level = 2; level >= 0; level--) {
        igtcloud__md5_simd_limit(level);
        igtcloud__md5_ctx ctx[N], *cp[N];
        const unsigned char *data[N];
        size_t len[N];
        for (size_t i = 0; i < N; i++) {
            igtcloud__md5_init(&ctx[i]);
            cp[i] = &ctx[i];
            data[i] = (const unsigned char *)v[i].in;
            len[i] = strlen(v[i].in);
        }
        igtcloud__md5_update_many(cp, data, len, N);
        for (size_t i = 0; i < N; i++) {
            char hex[33];
            md5_hex(hex, &ctx[i]);
            assert_string_equal(hex, v[i].hex);
        }
    }
    igtcloud__md5_simd_limit(2);
}

/*
 * Streams side by side equal OpenSSL's MD5 of each, whatever their lengths,
 * the bytes already pending in their contexts and the split into calls; at
 * every level the CPU has (1 and 2 fall back to what it supports).
 */
static void test_core__md5_many_streams_match_openssl(void **state)
{
    (void)state;
    enum { BIG = 1 << 20, MAXN = 19 };
    unsigned char *big = malloc(BIG);
    assert_non_null(big);
    uint32_t x = 12345;
    for (size_t i = 0; i < BIG; i++) {
        x = x * 1103515245u + 12345u;
        big[i] = (unsigned char)(x >> 16);
    }
    for (int level = 2; level >= 0; level--) {
        int got = igtcloud__md5_simd_limit(level);
        assert_true(got <= level);
        for (int round = 0; round < 100; round++) {
            size_t n = 1 + (size_t)(round % MAXN);
            igtcloud__md5_ctx ctx[MAXN], *cp[MAXN];
            const unsigned char *data[MAXN];
            size_t len[MAXN], start[MAXN], pre[MAXN];
            for (size_t i = 0; i < n; i++) {
                x = x * 1103515245u + 12345u;
                start[i] = (x >> 8) % 4096;
                pre[i] = (x >> 4) % 130;
                /* Lengths from empty and sub-block to several hundred KiB. */
                len[i] = round % 4 == 0 ? (x >> 12) % 64 : (x >> 3) % (round % 3 ? 20000 : 200000);
                igtcloud__md5_init(&ctx[i]);
                igtcloud__md5_update(&ctx[i], big + start[i], pre[i]);
                cp[i] = &ctx[i];
                data[i] = big + start[i] + pre[i];
            }
            igtcloud__md5_update_many(cp, data, len, n);
            for (size_t i = 0; i < n; i++) {
                unsigned char want[16], have[16];
                assert_int_equal(igtcloud__md5(want, big + start[i], pre[i] + len[i]), 0);
                igtcloud__md5_final(&ctx[i], have);
                assert_memory_equal(have, want, 16);
            }
        }
    }
    igtcloud__md5_simd_limit(2);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core__buf_grows_and_stays_terminated),
        cmocka_unit_test(test_core__base64_vectors_both_alphabets),
        cmocka_unit_test(test_core__base64_rejects_garbage),
        cmocka_unit_test(test_core__isotime_round_trip),
        cmocka_unit_test(test_core__isotime_rejects_bad_dates),
        cmocka_unit_test(test_core__sha256_and_hmac_known_answers),
        cmocka_unit_test(test_core__crc32c_known_answers_hardware_and_table),
        cmocka_unit_test(test_core__crc32c_long_inputs_striped),
        cmocka_unit_test(test_core__crc32c_pieces_combine_in_any_order),
        cmocka_unit_test(test_core__md5_rfc1321_vectors),
        cmocka_unit_test(test_core__md5_many_streams_match_openssl),
        cmocka_unit_test(test_core__random_token_alphabet),
        cmocka_unit_test(test_core__error_names_and_single_line),
        cmocka_unit_test(test_core__write_all_and_pwrite_all),
        cmocka_unit_test(test_core__pread_full),
        cmocka_unit_test(test_core__open_unnamed),
        cmocka_unit_test(test_core__spill_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
