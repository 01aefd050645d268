/*
 * Parsing of what a signed request claims: the Authorization header or the
 * X-Amz-* parameters of a presigned URL. Lenient about spacing, strict about
 * content, and every defect gets its own one-line message, because these
 * messages end up in the sandbox's 400 answers.
 */
#include "s3/sigv4.h"

#include "core/error.h"
#include "core/isotime.h"

#include <string.h>
#include <strings.h>

#define MAX_AUTH_LEN 16384
#define MAX_QUERY_LEN 131072
#define MAX_TOKEN_LEN 8192

void igtcloud__sigv4_auth_init(igtcloud__sigv4_auth *auth)
{
    igtcloud__sigv4_auth empty = IGTCLOUD__SIGV4_AUTH_INIT;
    *auth = empty;
}

void igtcloud__sigv4_auth_dispose(igtcloud__sigv4_auth *auth)
{
    if (!auth)
        return;
    igtcloud__buf_dispose(&auth->signed_headers);
    igtcloud__buf_dispose(&auth->session_token);
    igtcloud__sigv4_auth_init(auth);
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int is_alnum(char c)
{
    return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int digits_value(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return 0;
    }
    return 1;
}

/* A YYYYMMDD that names a real day (timegm would quietly roll Feb 30 over). */
static int valid_day(const char *s, size_t n)
{
    static const int days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (n != 8 || !all_digits(s, 8))
        return 0;
    int year = digits_value(s, 4), month = digits_value(s + 4, 2), day = digits_value(s + 6, 2);
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days[month - 1])
        return 0;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return !(month == 2 && day == 29 && !leap);
}

/* "20130524T000000Z" into text and seconds. */
static int parse_amz_date(igtcloud__sigv4_auth *out, const char *s, size_t n, const char *what)
{
    if (n != 16 || !valid_day(s, 8) || s[8] != 'T' || !all_digits(s + 9, 6) || s[15] != 'Z')
        return igtcloud__error_set(IGTCLOUD_EINVALID, "%s is not a YYYYMMDDTHHMMSSZ time", what);
    int hour = digits_value(s + 9, 2), min = digits_value(s + 11, 2), sec = digits_value(s + 13, 2);
    if (hour > 23 || min > 59 || sec > 59)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "%s is not a YYYYMMDDTHHMMSSZ time", what);
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = digits_value(s, 4) - 1900;
    tm.tm_mon = digits_value(s + 4, 2) - 1;
    tm.tm_mday = digits_value(s + 6, 2);
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    out->time = igtcloud__timegm(&tm);
    memcpy(out->amz_date, s, 16);
    out->amz_date[16] = '\0';
    return 0;
}

static int check_date_matches(const igtcloud__sigv4_auth *auth)
{
    if (memcmp(auth->amz_date, auth->date, 8) != 0)
        return igtcloud__error_set(IGTCLOUD_EINVALID,
                                   "credential date %s is not the day of the request time %s",
                                   auth->date, auth->amz_date);
    return 0;
}

static int copy_part(char *dst, size_t max, const char *src, size_t n)
{
    if (n == 0 || n > max)
        return 0;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 1;
}

static int scope_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || is_digit(s[i]) || s[i] == '-'))
            return 0;
    }
    return 1;
}

/* "AK/YYYYMMDD/region/service/aws4_request" */
static int parse_credential(igtcloud__sigv4_auth *out, const char *s, size_t n)
{
    const char *part[5];
    size_t len[5];
    size_t count = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '/')
            continue;
        if (count == 5)
            return igtcloud__error_set(IGTCLOUD_EINVALID,
                                       "Credential has more than 5 '/'-separated parts");
        part[count] = s + start;
        len[count++] = i - start;
        start = i + 1;
    }
    if (count != 5)
        return igtcloud__error_set(IGTCLOUD_EINVALID,
                                   "Credential is not ACCESSKEY/YYYYMMDD/REGION/SERVICE/aws4_request");
    for (size_t i = 0; i < len[0]; i++) {
        char c = part[0][i];
        if (!is_alnum(c) && c != '-' && c != '_' && c != '.')
            return igtcloud__error_set(IGTCLOUD_EINVALID, "Credential access key has an invalid character");
    }
    if (!copy_part(out->access_key, IGTCLOUD_SIGV4_ACCESS_KEY_MAX, part[0], len[0]))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "Credential access key is empty or too long");
    if (!valid_day(part[1], len[1]))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "Credential date is not a valid YYYYMMDD");
    memcpy(out->date, part[1], 8);
    out->date[8] = '\0';
    if (!scope_chars(part[2], len[2]) ||
        !copy_part(out->region, IGTCLOUD_SIGV4_REGION_MAX, part[2], len[2]))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "Credential region must be 1-64 of a-z 0-9 -");
    if (!scope_chars(part[3], len[3]) ||
        !copy_part(out->service, IGTCLOUD_SIGV4_SERVICE_MAX, part[3], len[3]))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "Credential service must be 1-64 of a-z 0-9 -");
    if (len[4] != 12 || memcmp(part[4], "aws4_request", 12) != 0)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "Credential does not end in aws4_request");
    return 0;
}

static int parse_signed_headers(igtcloud__sigv4_auth *out, const char *s, size_t n)
{
    if (!igtcloud__sigv4_signed_headers_valid(s, n))
        return igtcloud__error_set(IGTCLOUD_EINVALID,
                                   "SignedHeaders is not a sorted ';'-separated list of lower-case header names");
    igtcloud__buf_clear(&out->signed_headers);
    return igtcloud__buf_put(&out->signed_headers, s, n);
}

static int parse_signature(igtcloud__sigv4_auth *out, const char *s, size_t n)
{
    int ok = n == IGTCLOUD_SIGV4_SIGNATURE_LEN;
    for (size_t i = 0; i < n && ok; i++)
        ok = is_digit(s[i]) || (s[i] >= 'a' && s[i] <= 'f');
    if (!ok)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "Signature is not 64 lower-case hex digits");
    memcpy(out->signature, s, n);
    out->signature[n] = '\0';
    return 0;
}

enum { PART_CREDENTIAL, PART_SIGNED_HEADERS, PART_SIGNATURE, PART_COUNT };
static const char *const part_names[PART_COUNT] = { "Credential", "SignedHeaders", "Signature" };

int igtcloud__sigv4_parse_authorization(igtcloud__sigv4_auth *out, const char *value)
{
    igtcloud__sigv4_auth a = IGTCLOUD__SIGV4_AUTH_INIT;
    int seen[PART_COUNT] = { 0, 0, 0 };
    int rc = 0;
    size_t total = value ? strlen(value) : 0;
    const char *p = value, *end = value + total;

    if (total > MAX_AUTH_LEN) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "Authorization header is too long");
        goto done;
    }
    while (p < end && is_blank(*p))
        p++;
    if (p == end) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "Authorization header is empty");
        goto done;
    }
    size_t alg_len = 0;
    while (p + alg_len < end && !is_blank(p[alg_len]))
        alg_len++;
    if (alg_len != strlen(IGTCLOUD_SIGV4_ALGORITHM) ||
        memcmp(p, IGTCLOUD_SIGV4_ALGORITHM, alg_len) != 0) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID,
                                 "Authorization algorithm is not " IGTCLOUD_SIGV4_ALGORITHM);
        goto done;
    }
    p += alg_len;
    while (p < end && is_blank(*p))
        p++;
    while (p < end) {
        const char *name = p;
        while (p < end && is_alnum(*p))
            p++;
        size_t name_len = (size_t)(p - name);
        while (p < end && is_blank(*p))
            p++;
        if (name_len == 0 || p == end || *p != '=') {
            rc = igtcloud__error_set(IGTCLOUD_EINVALID,
                                     "Authorization header has a component that is not Name=value");
            goto done;
        }
        p++;
        while (p < end && is_blank(*p))
            p++;
        const char *val = p;
        while (p < end && *p != ',' && !is_blank(*p))
            p++;
        size_t val_len = (size_t)(p - val);
        while (p < end && is_blank(*p))
            p++;
        if (p < end && *p != ',') {
            rc = igtcloud__error_set(IGTCLOUD_EINVALID,
                                     "Authorization components must be separated by ','");
            goto done;
        }
        if (p < end) {
            p++;
            while (p < end && is_blank(*p))
                p++;
            if (p == end) {
                rc = igtcloud__error_set(IGTCLOUD_EINVALID, "Authorization header ends with ','");
                goto done;
            }
        }

        int which = -1;
        for (int i = 0; i < PART_COUNT; i++) {
            if (name_len == strlen(part_names[i]) && memcmp(name, part_names[i], name_len) == 0)
                which = i;
        }
        if (which < 0) {
            rc = igtcloud__error_set(IGTCLOUD_EINVALID, "Authorization has an unknown component '%.*s'",
                                     (int)(name_len > 32 ? 32 : name_len), name);
            goto done;
        }
        if (seen[which]++) {
            rc = igtcloud__error_set(IGTCLOUD_EINVALID, "Authorization gives %s twice",
                                     part_names[which]);
            goto done;
        }
        if (val_len == 0) {
            rc = igtcloud__error_set(IGTCLOUD_EINVALID, "Authorization %s is empty",
                                     part_names[which]);
            goto done;
        }
        if (which == PART_CREDENTIAL)
            rc = parse_credential(&a, val, val_len);
        else if (which == PART_SIGNED_HEADERS)
            rc = parse_signed_headers(&a, val, val_len);
        else
            rc = parse_signature(&a, val, val_len);
        if (rc)
            goto done;
    }
    for (int i = 0; i < PART_COUNT; i++) {
        if (!seen[i]) {
            rc = igtcloud__error_set(IGTCLOUD_EINVALID, "Authorization header lacks %s",
                                     part_names[i]);
            goto done;
        }
    }
    igtcloud__sigv4_auth_dispose(out);
    *out = a;
    igtcloud__sigv4_auth_init(&a);
done:
    igtcloud__sigv4_auth_dispose(&a);
    return rc;
}

enum {
    Q_ALGORITHM, Q_CREDENTIAL, Q_DATE, Q_EXPIRES, Q_SIGNED_HEADERS, Q_SIGNATURE, Q_TOKEN, Q_COUNT
};
static const char *const query_names[Q_COUNT] = {
    "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
    "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token",
};

int igtcloud__sigv4_parse_presigned(igtcloud__sigv4_auth *out, const char *query)
{
    igtcloud__sigv4_auth a = IGTCLOUD__SIGV4_AUTH_INIT;
    igtcloud__buf values[Q_COUNT];
    igtcloud__buf name = IGTCLOUD_BUF_INIT;
    int seen[Q_COUNT] = { 0 };
    int rc = 0;
    for (int i = 0; i < Q_COUNT; i++)
        igtcloud__buf_init(&values[i]);

    if (!query || strlen(query) > MAX_QUERY_LEN) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "presigned query is missing or too long");
        goto done;
    }
    for (const char *p = query; *p;) {
        size_t len = strcspn(p, "&");
        size_t name_len = strcspn(p, "=&");
        igtcloud__buf_clear(&name);
        rc = igtcloud__sigv4_uri_decode(&name, p, name_len, 0);
        if (rc)
            goto done;
        for (int i = 0; i < Q_COUNT; i++) {
            if (strcmp(igtcloud__buf_cstr(&name), query_names[i]) != 0)
                continue;
            if (seen[i]++) {
                rc = igtcloud__error_set(IGTCLOUD_EINVALID, "query gives %s twice", query_names[i]);
                goto done;
            }
            if (name_len < len)
                rc = igtcloud__sigv4_uri_decode(&values[i], p + name_len + 1,
                                                len - name_len - 1, 0);
            if (rc)
                goto done;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    for (int i = 0; i < Q_COUNT; i++) {
        if (i != Q_TOKEN && values[i].size == 0) {
            rc = igtcloud__error_set(IGTCLOUD_EINVALID, "presigned query lacks %s", query_names[i]);
            goto done;
        }
    }
    if (strcmp(values[Q_ALGORITHM].ptr, IGTCLOUD_SIGV4_ALGORITHM) != 0) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "X-Amz-Algorithm is not " IGTCLOUD_SIGV4_ALGORITHM);
        goto done;
    }
    rc = parse_credential(&a, values[Q_CREDENTIAL].ptr, values[Q_CREDENTIAL].size);
    if (!rc)
        rc = parse_amz_date(&a, values[Q_DATE].ptr, values[Q_DATE].size, "X-Amz-Date");
    if (!rc)
        rc = check_date_matches(&a);
    if (!rc)
        rc = parse_signed_headers(&a, values[Q_SIGNED_HEADERS].ptr, values[Q_SIGNED_HEADERS].size);
    if (!rc)
        rc = parse_signature(&a, values[Q_SIGNATURE].ptr, values[Q_SIGNATURE].size);
    if (rc)
        goto done;
    const igtcloud__buf *exp = &values[Q_EXPIRES];
    if (exp->size > 6 || !all_digits(exp->ptr, exp->size) ||
        digits_value(exp->ptr, exp->size) < 1 ||
        (unsigned int)digits_value(exp->ptr, exp->size) > IGTCLOUD_SIGV4_MAX_EXPIRES) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "X-Amz-Expires must be 1 to %u seconds",
                                 IGTCLOUD_SIGV4_MAX_EXPIRES);
        goto done;
    }
    a.expires = (unsigned int)digits_value(exp->ptr, exp->size);
    if (seen[Q_TOKEN]) {
        if (values[Q_TOKEN].size == 0 || values[Q_TOKEN].size > MAX_TOKEN_LEN) {
            rc = igtcloud__error_set(IGTCLOUD_EINVALID, "X-Amz-Security-Token is empty or too long");
            goto done;
        }
        a.has_session_token = 1;
        rc = igtcloud__buf_put(&a.session_token, values[Q_TOKEN].ptr, values[Q_TOKEN].size);
        if (rc)
            goto done;
    }
    a.presigned = 1;
    igtcloud__sigv4_auth_dispose(out);
    *out = a;
    igtcloud__sigv4_auth_init(&a);
done:
    for (int i = 0; i < Q_COUNT; i++)
        igtcloud__buf_dispose(&values[i]);
    igtcloud__buf_dispose(&name);
    igtcloud__sigv4_auth_dispose(&a);
    return rc;
}

/* The one header called `name`; EINVALID when it is repeated. */
static int find_header(const char **out, const igtcloud__sigv4_request *req, const char *name)
{
    *out = NULL;
    for (size_t i = 0; i < req->header_count; i++) {
        if (!req->headers[i].name || strcasecmp(req->headers[i].name, name) != 0)
            continue;
        if (*out)
            return igtcloud__error_set(IGTCLOUD_EINVALID, "header %s is given twice", name);
        *out = req->headers[i].value ? req->headers[i].value : "";
    }
    return 0;
}

/* Does the query carry presigning parameters at all? Decoding errors count as yes. */
static int looks_presigned(const char *query)
{
    igtcloud__buf name = IGTCLOUD_BUF_INIT;
    int found = 0;
    for (const char *p = query; p && *p && !found;) {
        size_t len = strcspn(p, "&");
        igtcloud__buf_clear(&name);
        if (igtcloud__sigv4_uri_decode(&name, p, strcspn(p, "=&"), 0))
            found = 1;
        else
            found = strcmp(igtcloud__buf_cstr(&name), "X-Amz-Algorithm") == 0 ||
                    strcmp(igtcloud__buf_cstr(&name), "X-Amz-Credential") == 0 ||
                    strcmp(igtcloud__buf_cstr(&name), "X-Amz-Signature") == 0;
        p += len;
        if (*p == '&')
            p++;
    }
    igtcloud__buf_dispose(&name);
    return found;
}

int igtcloud__sigv4_parse_request(igtcloud__sigv4_auth *out,
                                  const igtcloud__sigv4_request *req)
{
    igtcloud__sigv4_auth a = IGTCLOUD__SIGV4_AUTH_INIT;
    const char *authorization = NULL, *amz_date = NULL, *token = NULL;
    int rc = 0;
    if (!req || (req->header_count && !req->headers)) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "no request to parse");
        goto done;
    }
    rc = find_header(&authorization, req, "authorization");
    if (!rc)
        rc = find_header(&amz_date, req, "x-amz-date");
    if (!rc)
        rc = find_header(&token, req, "x-amz-security-token");
    if (rc)
        goto done;
    int presigned = looks_presigned(req->query);
    if (authorization && presigned) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID,
                                 "request has both an Authorization header and a presigned query");
        goto done;
    }
    if (presigned) {
        rc = igtcloud__sigv4_parse_presigned(&a, req->query);
        goto finish;
    }
    if (!authorization) {
        rc = igtcloud__error_set(IGTCLOUD_EAUTH, "request is not signed");
        goto done;
    }
    rc = igtcloud__sigv4_parse_authorization(&a, authorization);
    if (rc)
        goto done;
    if (!amz_date) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "signed request lacks the x-amz-date header");
        goto done;
    }
    rc = parse_amz_date(&a, amz_date, strlen(amz_date), "x-amz-date");
    if (!rc)
        rc = check_date_matches(&a);
    if (!rc && token) {
        if (!*token || strlen(token) > MAX_TOKEN_LEN)
            rc = igtcloud__error_set(IGTCLOUD_EINVALID, "x-amz-security-token is empty or too long");
        else
            rc = igtcloud__buf_puts(&a.session_token, token);
        a.has_session_token = 1;
    }
finish:
    if (rc)
        goto done;
    igtcloud__sigv4_auth_dispose(out);
    *out = a;
    igtcloud__sigv4_auth_init(&a);
done:
    igtcloud__sigv4_auth_dispose(&a);
    return rc;
}

int igtcloud__sigv4_check_time(const igtcloud__sigv4_auth *auth, time_t now,
                               unsigned int max_skew)
{
    /* Signed arithmetic in long long: a hostile date must not overflow time_t. */
    long long t = (long long)auth->time, n = (long long)now;
    if (!auth->presigned) {
        long long diff = n > t ? n - t : t - n;
        if (diff > (long long)max_skew)
            return igtcloud__error_set(IGTCLOUD_EAUTH,
                                       "request time %s differs from the server's by more than %u seconds",
                                       auth->amz_date, max_skew);
        return 0;
    }
    if (t > n + (long long)max_skew)
        return igtcloud__error_set(IGTCLOUD_EAUTH, "presigned URL is not valid before %s",
                                   auth->amz_date);
    if (n > t + (long long)auth->expires)
        return igtcloud__error_set(IGTCLOUD_EAUTH, "presigned URL has expired");
    return 0;
}
