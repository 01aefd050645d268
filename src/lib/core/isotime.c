#include "core/isotime.h"
#include "core/error.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void igtcloud__isotime_format(char out[IGTCLOUD_ISOTIME_LEN], time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, IGTCLOUD_ISOTIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
}

void igtcloud__isotime_format_compact(char out[IGTCLOUD_ISOTIME_LEN], time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, IGTCLOUD_ISOTIME_LEN, "%Y%m%dT%H%M%SZ", &tm);
}

static int is_leap(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

time_t igtcloud__timegm(const struct tm *tm)
{
    static const int days_before[] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };
    long year = tm->tm_year + 1900L;
    long days = (year - 1970) * 365;
    /* Leap days between 1970 and the start of `year`. */
    for (long y = 1970; y < year; y++)
        days += is_leap(y);
    for (long y = year; y < 1970; y++)
        days -= is_leap(y);
    days += days_before[tm->tm_mon] + tm->tm_mday - 1;
    if (tm->tm_mon > 1 && is_leap(year))
        days++;
    return (time_t)days * 86400 + tm->tm_hour * 3600 + tm->tm_min * 60 + tm->tm_sec;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int igtcloud__isotime_parse(time_t *out, int *has_zone, const char *text)
{
    static const int month_days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int year, month, day, hour = 0, min = 0, sec = 0;
    const char *p = text;
    int zone = 0;
    long offset = 0;

    if (!text || strlen(text) < 10 || digits(p, 4, &year) || p[4] != '-' ||
        digits(p + 5, 2, &month) || p[7] != '-' || digits(p + 8, 2, &day))
        goto invalid;
    p += 10;
    if (*p == 'T' || *p == ' ') {
        if (strlen(p) < 9 || digits(p + 1, 2, &hour) || p[3] != ':' ||
            digits(p + 4, 2, &min) || p[6] != ':' || digits(p + 7, 2, &sec))
            goto invalid;
        p += 9;
        if (*p == '.') {
            p++;
            if (!isdigit((unsigned char)*p))
                goto invalid;
            while (isdigit((unsigned char)*p))
                p++;
        }
        if (*p == 'Z') {
            zone = 1;
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            int sign = *p == '-' ? -1 : 1;
            if (digits(p + 1, 2, &oh))
                goto invalid;
            p += 3;
            if (*p == ':')
                p++;
            if (digits(p, 2, &om))
                goto invalid;
            p += 2;
            offset = sign * (oh * 3600L + om * 60L);
            zone = 1;
        }
    }
    if (*p != '\0' || month < 1 || month > 12 || day < 1 || day > month_days[month - 1] ||
        (month == 2 && day == 29 && !is_leap(year)) || hour > 23 || min > 59 || sec > 60)
        goto invalid;
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    *out = igtcloud__timegm(&tm) - offset;
    if (has_zone)
        *has_zone = zone;
    return 0;
invalid:
    return igtcloud__error_set(IGTCLOUD_EINVALID, "invalid date or time '%.40s'",
                               text ? text : "");
}
