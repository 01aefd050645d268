#include "s3/wire.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/isotime.h"
#include "core/md5.h"

static void trim(const char **v, size_t *len)
{
    while (*len > 0 && (**v == ' ' || **v == '\t')) {
        (*v)++;
        (*len)--;
    }
    while (*len > 0 && ((*v)[*len - 1] == ' ' || (*v)[*len - 1] == '\t' ||
                        (*v)[*len - 1] == '\r' || (*v)[*len - 1] == '\n'))
        (*len)--;
}

/* Digits at p (at most 18 of them, so no overflow) into *out; the count read, 0 on none or too many. */
static size_t digits(int64_t *out, const char *p, size_t len)
{
    size_t i = 0;
    int64_t v = 0;
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        if (i == 18)
            return 0;
        v = v * 10 + (p[i] - '0');
        i++;
    }
    *out = v;
    return i;
}

int igtcloud__wire_u64(uint64_t *out, const char *value, size_t len)
{
    trim(&value, &len);
    int64_t v;
    size_t n = digits(&v, value, len);
    if (n == 0 || n != len)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "bad number in an S3 response header");
    *out = (uint64_t)v;
    return 0;
}

int igtcloud__wire_content_range(int64_t *first, int64_t *last, int64_t *total,
                                 const char *value, size_t len)
{
    trim(&value, &len);
    const char *p = value, *end = value + len;
    size_t n;
    int64_t a = -1, b = -1, t = -1;
    if (len < 6 || strncasecmp(p, "bytes ", 6) != 0)
        goto bad;
    p += 6;
    while (p < end && *p == ' ')
        p++;
    if (p < end && *p == '*') {
        p++;
    } else {
        n = digits(&a, p, (size_t)(end - p));
        if (!n)
            goto bad;
        p += n;
        if (p >= end || *p != '-')
            goto bad;
        p++;
        n = digits(&b, p, (size_t)(end - p));
        if (!n || b < a)
            goto bad;
        p += n;
    }
    if (p >= end || *p != '/')
        goto bad;
    p++;
    if (p < end && *p == '*' && p + 1 == end) {
        if (a < 0)
            goto bad; /* a star for both range and total says nothing */
        t = -1;
        p++;
    } else {
        n = digits(&t, p, (size_t)(end - p));
        if (!n)
            goto bad;
        p += n;
        if (a >= 0 && b >= t)
            goto bad;
    }
    if (p != end)
        goto bad;
    *first = a;
    *last = b;
    *total = t;
    return 0;
bad:
    return igtcloud__error_set(IGTCLOUD_EPROTO, "malformed Content-Range in an S3 response");
}

int igtcloud__wire_etag(char out[IGTCLOUD__ETAG_MAX + 1], const char *value, size_t len)
{
    trim(&value, &len);
    if (len >= 2 && value[0] == 'W' && value[1] == '/') {
        value += 2;
        len -= 2;
    }
    if (len >= 2 && value[0] == '"' && value[len - 1] == '"') {
        value++;
        len -= 2;
    }
    if (len == 0 || len > IGTCLOUD__ETAG_MAX)
        goto bad;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c <= ' ' || c >= 0x7f || c == '"')
            goto bad;
    }
    memcpy(out, value, len);
    out[len] = '\0';
    return 0;
bad:
    return igtcloud__error_set(IGTCLOUD_EPROTO, "malformed ETag in an S3 response");
}

int igtcloud__wire_etag_is_md5(const char *etag)
{
    size_t n = strlen(etag);
    if (n != 32)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = etag[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10;
}

int igtcloud__wire_etag_parts(const char *etag, uint32_t *parts)
{
    char md5[33];
    size_t n = strlen(etag);
    if (n < 34 || n > 38 || etag[32] != '-' || etag[33] < '1' || etag[33] > '9')
        return 0;
    memcpy(md5, etag, 32);
    md5[32] = '\0';
    uint32_t v = 0;
    for (size_t i = 33; i < n; i++) {
        if (etag[i] < '0' || etag[i] > '9')
            return 0;
        v = v * 10 + (uint32_t)(etag[i] - '0');
    }
    if (!igtcloud__wire_etag_is_md5(md5) || v > 10000)
        return 0;
    *parts = v;
    return 1;
}

int igtcloud__wire_checksum_crc32c(uint32_t *crc, uint32_t *parts, const char *value, size_t len)
{
    const char *dash = memchr(value, '-', len);
    size_t b64_len = dash ? (size_t)(dash - value) : len;
    uint32_t count = 0;
    if (dash) {
        size_t digits = len - b64_len - 1;
        if (digits < 1 || digits > 5 || dash[1] < '1' || dash[1] > '9')
            return IGTCLOUD_EPROTO;
        for (size_t i = 1; i <= digits; i++) {
            if (dash[i] < '0' || dash[i] > '9')
                return IGTCLOUD_EPROTO;
            count = count * 10 + (uint32_t)(dash[i] - '0');
        }
        if (count > 10000)
            return IGTCLOUD_EPROTO;
    }
    /* Four bytes are eight base64 characters. */
    if (b64_len != 8)
        return IGTCLOUD_EPROTO;
    igtcloud__buf raw = IGTCLOUD_BUF_INIT;
    int ok = igtcloud__base64_decode(&raw, value, b64_len) == 0 && raw.size == 4;
    if (ok) {
        const unsigned char *b = (const unsigned char *)raw.ptr;
        *crc = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        *parts = count;
    }
    igtcloud__buf_dispose(&raw);
    return ok ? 0 : IGTCLOUD_EPROTO;
}

int igtcloud__wire_multipart_etag(char out[IGTCLOUD__ETAG_MAX + 1], char *const *part_etags,
                                  uint32_t nparts)
{
    igtcloud__md5_ctx md5;
    igtcloud__md5_init(&md5);
    for (uint32_t i = 0; i < nparts; i++) {
        if (!part_etags[i] || !igtcloud__wire_etag_is_md5(part_etags[i]))
            return -1;
        unsigned char bin[16];
        for (int k = 0; k < 16; k++)
            bin[k] = (unsigned char)(hex_digit(part_etags[i][2 * k]) << 4 | hex_digit(part_etags[i][2 * k + 1]));
        igtcloud__md5_update(&md5, bin, sizeof(bin));
    }
    unsigned char digest[16];
    igtcloud__md5_final(&md5, digest);
    igtcloud__hex(out, digest, sizeof(digest));
    snprintf(out + 32, IGTCLOUD__ETAG_MAX + 1 - 32, "-%u", (unsigned)nparts);
    return 0;
}

static int month_index(const char *p)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++) {
        if (strncmp(p, months + 3 * i, 3) == 0)
            return i;
    }
    return -1;
}

/* "HH:MM:SS" */
static int parse_clock(struct tm *tm, const char *p, size_t len)
{
    int64_t h, m, s;
    if (len < 8 || p[2] != ':' || p[5] != ':' || digits(&h, p, 2) != 2 ||
        digits(&m, p + 3, 2) != 2 || digits(&s, p + 6, 2) != 2 || h > 23 || m > 59 || s > 60)
        return -1;
    tm->tm_hour = (int)h;
    tm->tm_min = (int)m;
    tm->tm_sec = (int)s;
    return 0;
}

int igtcloud__wire_http_date(int64_t *out, const char *value, size_t len)
{
    trim(&value, &len);
    char text[64];
    if (len == 0 || len >= sizeof(text))
        goto bad;
    memcpy(text, value, len);
    text[len] = '\0';
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int64_t day, year;
    const char *comma = strchr(text, ',');
    if (comma && comma[1] == ' ') {
        const char *p = comma + 2;
        size_t rest = strlen(p);
        if (rest == 24 && p[2] == ' ' && p[6] == ' ' && p[11] == ' ' && p[20] == ' ') {
            /* IMF-fixdate: "06 Nov 1994 08:49:37 GMT" */
            if (digits(&day, p, 2) != 2 || month_index(p + 3) < 0 ||
                digits(&year, p + 7, 4) != 4 || parse_clock(&tm, p + 12, 8) ||
                strcmp(p + 21, "GMT") != 0)
                goto bad;
            tm.tm_mon = month_index(p + 3);
        } else if (rest == 22 && p[2] == '-' && p[6] == '-' && p[9] == ' ') {
            /* RFC 850: "06-Nov-94 08:49:37 GMT" */
            if (digits(&day, p, 2) != 2 || month_index(p + 3) < 0 ||
                digits(&year, p + 7, 2) != 2 || parse_clock(&tm, p + 10, 8) ||
                strcmp(p + 19, "GMT") != 0)
                goto bad;
            year += year < 70 ? 2000 : 1900;
            tm.tm_mon = month_index(p + 3);
        } else {
            goto bad;
        }
    } else if (len == 24 && text[3] == ' ' && text[7] == ' ' && text[10] == ' ' &&
               text[19] == ' ') {
        /* asctime: "Sun Nov  6 08:49:37 1994" */
        const char *d = text[8] == ' ' ? text + 9 : text + 8;
        if (month_index(text + 4) < 0 || digits(&day, d, (size_t)(text + 10 - d)) == 0 ||
            parse_clock(&tm, text + 11, 8) || digits(&year, text + 20, 4) != 4)
            goto bad;
        tm.tm_mon = month_index(text + 4);
    } else {
        goto bad;
    }
    if (day < 1 || day > 31 || year < 1970 || year > 9999)
        goto bad;
    tm.tm_mday = (int)day;
    tm.tm_year = (int)(year - 1900);
    *out = (int64_t)igtcloud__timegm(&tm);
    return 0;
bad:
    return igtcloud__error_set(IGTCLOUD_EPROTO, "malformed HTTP date in an S3 response");
}
