/*
 * SigV4 canonicalisation, signing, presigning and verification. The parsing
 * of received Authorization headers and presigned queries lives in
 * sigv4_parse.c; everything that builds a canonical request is here, so the
 * client and the sandbox cannot drift apart.
 */
#include "s3/sigv4.h"

#include "core/error.h"
#include "core/hash.h"
#include "core/isotime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Generous for S3 (a dozen headers, a handful of parameters), small enough to refuse abuse. */
#define MAX_HEADERS 256
#define MAX_QUERY_PARAMS 1024
#define MAX_FIELD_LEN 16384

struct hentry {
    igtcloud__buf name;   /* lower-case */
    igtcloud__buf value;  /* trimmed, blank runs collapsed */
    size_t order;         /* position in the request: duplicates keep their order */
};

struct hset {
    struct hentry *items;
    size_t count;
};

struct qparam {
    igtcloud__buf name;   /* canonical (re-encoded) */
    igtcloud__buf value;
};

/* Headers S3 interprets, so a signature must cover them; see sigv4.h. */
static const char *const s3_signed_names[] = {
    "cache-control", "content-disposition", "content-encoding", "content-language",
    "content-md5", "content-type", "date", "expires", "host", "if-match",
    "if-modified-since", "if-none-match", "if-unmodified-since", "range",
};

/* Headers the signer adds itself; a caller passing them would sign them twice. */
static const char *const reserved_names[] = {
    "authorization", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token",
};

static int is_alnum(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_unreserved(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 9110 token characters: what a header name or method may contain. */
static int is_tchar(unsigned char c)
{
    return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int is_lower_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

/* Scope parts (region, service) end up between '/' in the credential. */
static int is_scope_part(const char *s, size_t max)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > max)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

static void wipe(void *p, size_t len)
{
    volatile unsigned char *v = p;
    while (len--)
        *v++ = 0;
}

void igtcloud__sigv4_signed_init(igtcloud__sigv4_signed *s)
{
    igtcloud__sigv4_signed empty = IGTCLOUD__SIGV4_SIGNED_INIT;
    *s = empty;
}

void igtcloud__sigv4_signed_dispose(igtcloud__sigv4_signed *s)
{
    if (!s)
        return;
    igtcloud__buf_dispose(&s->authorization);
    igtcloud__buf_dispose(&s->signed_headers);
    igtcloud__buf_dispose(&s->canonical_request);
    igtcloud__buf_dispose(&s->string_to_sign);
    igtcloud__sigv4_signed_init(s);
}

int igtcloud__sigv4_uri_encode(igtcloud__buf *out, const char *data, size_t len,
                               int keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    /* Growing by 0 would leave a fresh buffer unterminated. */
    int rc = len ? igtcloud__buf_grow(out, len) : 0;
    for (size_t i = 0; i < len && !rc; i++) {
        unsigned char c = (unsigned char)data[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            rc = igtcloud__buf_putc(out, (char)c);
        } else {
            char esc[3] = { '%', digits[c >> 4], digits[c & 15] };
            rc = igtcloud__buf_put(out, esc, sizeof(esc));
        }
    }
    return rc;
}

int igtcloud__sigv4_uri_decode(igtcloud__buf *out, const char *data, size_t len,
                               unsigned int flags)
{
    int rc = len ? igtcloud__buf_grow(out, len) : 0;
    for (size_t i = 0; i < len && !rc; i++) {
        if (data[i] == '+' && (flags & IGTCLOUD__URI_PLUS_IS_SPACE)) {
            rc = igtcloud__buf_putc(out, ' ');
            continue;
        }
        if (data[i] != '%') {
            rc = igtcloud__buf_putc(out, data[i]);
            continue;
        }
        int hi = i + 2 < len ? hex_value((unsigned char)data[i + 1]) : -1;
        int lo = i + 2 < len ? hex_value((unsigned char)data[i + 2]) : -1;
        if (hi < 0 || lo < 0)
            return igtcloud__error_set(IGTCLOUD_EINVALID,
                                       "malformed percent-encoding at offset %zu", i);
        rc = igtcloud__buf_putc(out, (char)(hi << 4 | lo));
        i += 2;
    }
    return rc;
}

/* ---- headers ---- */

static void hset_dispose(struct hset *set)
{
    for (size_t i = 0; i < set->count; i++) {
        igtcloud__buf_dispose(&set->items[i].name);
        igtcloud__buf_dispose(&set->items[i].value);
    }
    free(set->items);
    set->items = NULL;
    set->count = 0;
}

static int hentry_cmp(const void *a, const void *b)
{
    const struct hentry *x = a, *y = b;
    int c = strcmp(igtcloud__buf_cstr(&x->name), igtcloud__buf_cstr(&y->name));
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int hset_add(struct hset *set, const char *name, const char *value)
{
    struct hentry *e = &set->items[set->count];
    size_t name_len = name ? strlen(name) : 0;
    if (name_len == 0 || name_len > MAX_FIELD_LEN || !value || strlen(value) > MAX_FIELD_LEN)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "header name or value is empty or too long");
    for (size_t i = 0; i < name_len; i++) {
        if (!is_tchar((unsigned char)name[i]))
            return igtcloud__error_set(IGTCLOUD_EINVALID,
                                       "header name '%.64s' contains an invalid character", name);
    }
    e->order = set->count;
    set->count++;
    int rc = igtcloud__buf_grow(&e->name, name_len);
    for (size_t i = 0; i < name_len && !rc; i++)
        rc = igtcloud__buf_putc(&e->name, lower(name[i]));
    if (rc)
        return rc;

    /* Trim, and collapse inner runs of blanks to one space (the SigV4 "trimall"). */
    int pending_space = 0;
    rc = igtcloud__buf_put(&e->value, "", 0);
    if (!rc && *value)
        rc = igtcloud__buf_grow(&e->value, strlen(value));
    for (const char *p = value; *p && !rc; p++) {
        if (*p == '\r' || *p == '\n')
            return igtcloud__error_set(IGTCLOUD_EINVALID,
                                       "value of header '%.64s' contains a line break", name);
        if (*p == ' ' || *p == '\t') {
            pending_space = e->value.size > 0;
            continue;
        }
        if (pending_space)
            rc = igtcloud__buf_putc(&e->value, ' ');
        pending_space = 0;
        if (!rc)
            rc = igtcloud__buf_putc(&e->value, *p);
    }
    return rc;
}

static int hset_build(struct hset *out, const igtcloud__sigv4_header *a, size_t na,
                      const igtcloud__sigv4_header *b, size_t nb)
{
    struct hset set = { NULL, 0 };
    int rc = 0;
    if (na > MAX_HEADERS || nb > MAX_HEADERS - na)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "more than %d headers", MAX_HEADERS);
    if ((na && !a) || (nb && !b))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "header list is NULL");
    set.items = calloc(na + nb + 1, sizeof(*set.items));
    if (!set.items)
        return igtcloud__error_oom();
    for (size_t i = 0; i < na && !rc; i++)
        rc = hset_add(&set, a[i].name, a[i].value);
    for (size_t i = 0; i < nb && !rc; i++)
        rc = hset_add(&set, b[i].name, b[i].value);
    if (rc) {
        hset_dispose(&set);
        return rc;
    }
    qsort(set.items, set.count, sizeof(*set.items), hentry_cmp);
    *out = set;
    return 0;
}

/* Index of the first entry called `name` (lower-case), or SIZE_MAX. */
static size_t hset_find(const struct hset *set, const char *name, size_t len)
{
    for (size_t i = 0; i < set->count; i++) {
        const igtcloud__buf *n = &set->items[i].name;
        if (n->size == len && memcmp(n->ptr, name, len) == 0)
            return i;
    }
    return SIZE_MAX;
}

/* Append "name:v1,v2\n" for the entries starting at `first`; returns the next group. */
static int emit_group(igtcloud__buf *out, const struct hset *set, size_t first, size_t *next)
{
    const struct hentry *e = &set->items[first];
    int rc = igtcloud__buf_put(out, e->name.ptr, e->name.size);
    if (!rc)
        rc = igtcloud__buf_putc(out, ':');
    size_t i = first;
    for (; !rc && i < set->count && strcmp(set->items[i].name.ptr, e->name.ptr) == 0; i++) {
        /* Repeated headers are joined with ',' in the order they were given. */
        if (i > first)
            rc = igtcloud__buf_putc(out, ',');
        if (!rc)
            rc = igtcloud__buf_put(out, set->items[i].value.ptr, set->items[i].value.size);
    }
    if (!rc)
        rc = igtcloud__buf_putc(out, '\n');
    *next = i;
    return rc;
}

static int s3_signs(const char *name)
{
    if (strncmp(name, "x-amz-", 6) == 0)
        return 1;
    for (size_t i = 0; i < sizeof(s3_signed_names) / sizeof(s3_signed_names[0]); i++) {
        if (strcmp(name, s3_signed_names[i]) == 0)
            return 1;
    }
    return 0;
}

/* The names the signer covers, "a;b;c", in canonical order. */
static int choose_signed(igtcloud__buf *out, const struct hset *set, int sign_all)
{
    int rc = 0;
    for (size_t i = 0; i < set->count && !rc; i++) {
        const char *name = set->items[i].name.ptr;
        if (i > 0 && strcmp(name, set->items[i - 1].name.ptr) == 0)
            continue;
        if (!sign_all && !s3_signs(name))
            continue;
        if (out->size)
            rc = igtcloud__buf_putc(out, ';');
        if (!rc)
            rc = igtcloud__buf_puts(out, name);
    }
    return rc;
}

int igtcloud__sigv4_signed_headers_valid(const char *list, size_t len)
{
    if (!list || len == 0 || len > MAX_FIELD_LEN)
        return 0;
    const char *prev = NULL;
    size_t prev_len = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && list[i] != ';') {
            unsigned char c = (unsigned char)list[i];
            if (!is_tchar(c) || (c >= 'A' && c <= 'Z'))
                return 0;
            continue;
        }
        size_t n = i - start;
        if (n == 0)
            return 0;
        /* Strictly ascending: sorted and without duplicates. */
        if (prev) {
            size_t m = prev_len < n ? prev_len : n;
            int c = memcmp(prev, list + start, m);
            if (c > 0 || (c == 0 && prev_len >= n))
                return 0;
        }
        prev = list + start;
        prev_len = n;
        start = i + 1;
    }
    return 1;
}

static int emit_headers(igtcloud__buf *creq, igtcloud__buf *signed_out,
                        const struct hset *set, const char *signed_list, int sign_all)
{
    igtcloud__buf chosen = IGTCLOUD_BUF_INIT;
    int rc = 0;
    if (!signed_list) {
        rc = choose_signed(&chosen, set, sign_all);
        if (rc)
            goto done;
        signed_list = igtcloud__buf_cstr(&chosen);
    }
    size_t len = strlen(signed_list);
    if (!igtcloud__sigv4_signed_headers_valid(signed_list, len)) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID,
                                 "SignedHeaders is not a sorted list of lower-case header names");
        goto done;
    }
    for (const char *p = signed_list; *p && !rc;) {
        size_t n = strcspn(p, ";");
        size_t at = hset_find(set, p, n);
        size_t next;
        if (at == SIZE_MAX) {
            rc = igtcloud__error_set(IGTCLOUD_EAUTH,
                                     "signed header '%.*s' is not in the request", (int)(n > 64 ? 64 : n), p);
            goto done;
        }
        rc = emit_group(creq, set, at, &next);
        p += n;
        if (*p == ';')
            p++;
    }
    if (!rc)
        rc = igtcloud__buf_putc(creq, '\n');
    if (!rc)
        rc = igtcloud__buf_put(creq, signed_list, len);
    if (!rc && signed_out) {
        igtcloud__buf_clear(signed_out);
        rc = igtcloud__buf_put(signed_out, signed_list, len);
    }
done:
    igtcloud__buf_dispose(&chosen);
    return rc;
}

/* ---- query ---- */

static int qparam_cmp(const void *a, const void *b)
{
    const struct qparam *x = a, *y = b;
    int c = strcmp(igtcloud__buf_cstr(&x->name), igtcloud__buf_cstr(&y->name));
    return c ? c : strcmp(igtcloud__buf_cstr(&x->value), igtcloud__buf_cstr(&y->value));
}

/*
 * Split on '&', decode and re-encode each name and value (so any client
 * spelling of the same bytes gives the same string), sort by name then value.
 * A parameter without '=' gets an empty value, as S3's "?uploads" does.
 */
static int canonical_query(igtcloud__buf *out, const char *query, int skip_signature)
{
    struct qparam *params = NULL;
    size_t count = 0, cap = 1;
    igtcloud__buf raw = IGTCLOUD_BUF_INIT;
    int rc = 0;
    if (!query || !*query)
        return 0;
    size_t qlen = strlen(query);
    if (qlen > 8 * MAX_FIELD_LEN)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "query string is too long");
    for (const char *p = query; *p; p++)
        cap += *p == '&';
    if (cap > MAX_QUERY_PARAMS)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "query has more than %d parameters",
                                   MAX_QUERY_PARAMS);
    params = calloc(cap, sizeof(*params));
    if (!params)
        return igtcloud__error_oom();
    for (const char *p = query;; p++) {
        size_t len = strcspn(p, "&");
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t name_len = eq ? (size_t)(eq - p) : len;
            igtcloud__buf_clear(&raw);
            rc = igtcloud__sigv4_uri_decode(&raw, p, name_len, 0);
            if (rc)
                goto done;
            /* A presigned URL's signature cannot sign itself. */
            if (!(skip_signature && raw.size == 15 && memcmp(raw.ptr, "X-Amz-Signature", 15) == 0)) {
                struct qparam *qp = &params[count++];
                rc = igtcloud__sigv4_uri_encode(&qp->name, igtcloud__buf_cstr(&raw), raw.size, 0);
                igtcloud__buf_clear(&raw);
                if (!rc && eq)
                    rc = igtcloud__sigv4_uri_decode(&raw, eq + 1, len - name_len - 1,
                                                    0);
                if (!rc)
                    rc = igtcloud__sigv4_uri_encode(&qp->value, igtcloud__buf_cstr(&raw),
                                                    raw.size, 0);
                if (rc)
                    goto done;
            }
        }
        p += len;
        if (!*p)
            break;
    }
    qsort(params, count, sizeof(*params), qparam_cmp);
    for (size_t i = 0; i < count && !rc; i++) {
        if (i)
            rc = igtcloud__buf_putc(out, '&');
        if (!rc)
            rc = igtcloud__buf_put(out, params[i].name.ptr, params[i].name.size);
        if (!rc)
            rc = igtcloud__buf_putc(out, '=');
        if (!rc)
            rc = igtcloud__buf_put(out, params[i].value.ptr, params[i].value.size);
    }
done:
    for (size_t i = 0; i < count; i++) {
        igtcloud__buf_dispose(&params[i].name);
        igtcloud__buf_dispose(&params[i].value);
    }
    free(params);
    igtcloud__buf_dispose(&raw);
    return rc;
}

/* ---- path ---- */

static int check_wire_path(const char *path, size_t len)
{
    if (path[0] != '/')
        return igtcloud__error_set(IGTCLOUD_EINVALID, "request path does not start with '/'");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#')
            return igtcloud__error_set(IGTCLOUD_EINVALID,
                                       "request path has a character that must be percent-encoded");
        if (c == '%' && (i + 2 >= len || hex_value((unsigned char)path[i + 1]) < 0 ||
                         hex_value((unsigned char)path[i + 2]) < 0))
            return igtcloud__error_set(IGTCLOUD_EINVALID,
                                       "request path has malformed percent-encoding");
    }
    return 0;
}

/* Remove empty, "." and ".." segments (the generic AWS rule, RFC 3986 5.2.4). */
static int normalize_path(igtcloud__buf *out, const char *path, size_t len)
{
    size_t *starts = calloc(len + 1, sizeof(*starts));
    int trailing = 0, rc = 0;
    size_t depth = 0;
    if (!starts)
        return igtcloud__error_oom();
    rc = igtcloud__buf_putc(out, '/');
    for (size_t i = 0; i < len && !rc;) {
        while (i < len && path[i] == '/')
            i++;
        size_t n = 0;
        while (i + n < len && path[i + n] != '/')
            n++;
        if (n == 0)
            break;
        const char *seg = path + i;
        i += n;
        trailing = i < len;
        if (n == 1 && seg[0] == '.') {
            trailing = 1;
        } else if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            trailing = 1;
            if (depth > 0)
                out->size = starts[--depth];
            out->ptr[out->size] = '\0';
        } else {
            starts[depth++] = out->size;
            if (out->size > 1)
                rc = igtcloud__buf_putc(out, '/');
            if (!rc)
                rc = igtcloud__buf_put(out, seg, n);
        }
    }
    if (!rc && trailing && out->size > 1)
        rc = igtcloud__buf_putc(out, '/');
    free(starts);
    return rc;
}

static int canonical_path(igtcloud__buf *out, const char *path, int normalize)
{
    igtcloud__buf norm = IGTCLOUD_BUF_INIT;
    size_t len = path ? strlen(path) : 0;
    int rc;
    if (len == 0)
        return igtcloud__buf_putc(out, '/');
    if (len > 8 * MAX_FIELD_LEN)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "request path is too long");
    rc = check_wire_path(path, len);
    if (rc)
        return rc;
    if (!normalize)
        return igtcloud__buf_put(out, path, len);
    /* Other services sign the encoded path encoded once more; S3 does not. */
    rc = normalize_path(&norm, path, len);
    if (!rc)
        rc = igtcloud__sigv4_uri_encode(out, norm.ptr, norm.size, 1);
    igtcloud__buf_dispose(&norm);
    return rc;
}

/* ---- the canonical request ---- */

static int check_method(const char *method)
{
    size_t len = method ? strlen(method) : 0;
    if (len == 0 || len > 32)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "request method is empty or too long");
    for (size_t i = 0; i < len; i++) {
        if (!is_tchar((unsigned char)method[i]))
            return igtcloud__error_set(IGTCLOUD_EINVALID, "request method has an invalid character");
    }
    return 0;
}

static int check_payload_hash(const char *hash)
{
    size_t len = hash ? strlen(hash) : 0;
    if (len == IGTCLOUD_SHA256_LEN * 2 && is_lower_hex(hash, len))
        return 0;
    if (hash && strcmp(hash, IGTCLOUD_SIGV4_UNSIGNED_PAYLOAD) == 0)
        return 0;
    return igtcloud__error_set(IGTCLOUD_EINVALID,
                               "payload hash is neither lower-case hex SHA-256 nor UNSIGNED-PAYLOAD");
}

static int build_canonical(igtcloud__buf *creq, igtcloud__buf *signed_out,
                           const igtcloud__sigv4_request *req, const char *query,
                           int skip_signature, const struct hset *set,
                           const char *signed_list, int sign_all,
                           const char *payload_hash, int normalize)
{
    igtcloud__buf_clear(creq);
    int rc = check_method(req->method);
    if (!rc)
        rc = igtcloud__buf_puts(creq, req->method);
    if (!rc)
        rc = igtcloud__buf_putc(creq, '\n');
    if (!rc)
        rc = canonical_path(creq, req->path, normalize);
    if (!rc)
        rc = igtcloud__buf_putc(creq, '\n');
    if (!rc)
        rc = canonical_query(creq, query, skip_signature);
    if (!rc)
        rc = igtcloud__buf_putc(creq, '\n');
    if (!rc)
        rc = emit_headers(creq, signed_out, set, signed_list, sign_all);
    if (!rc)
        rc = igtcloud__buf_putc(creq, '\n');
    if (!rc)
        rc = igtcloud__buf_puts(creq, payload_hash);
    return rc;
}

static const igtcloud__sigv4_options *options_or_default(const igtcloud__sigv4_options *opts,
                                                        igtcloud__sigv4_options *storage)
{
    igtcloud__sigv4_options defaults = IGTCLOUD__SIGV4_OPTIONS_INIT;
    *storage = defaults;
    return opts ? opts : storage;
}

int igtcloud__sigv4_canonical_request(igtcloud__buf *out, igtcloud__buf *out_signed,
                                      const igtcloud__sigv4_request *req,
                                      const char *signed_headers,
                                      const igtcloud__sigv4_options *opts)
{
    igtcloud__sigv4_options storage;
    struct hset set = { NULL, 0 };
    opts = options_or_default(opts, &storage);
    int rc = check_payload_hash(req->payload_hash);
    if (!rc)
        rc = hset_build(&set, req->headers, req->header_count, NULL, 0);
    if (!rc && !signed_headers && hset_find(&set, "host", 4) == SIZE_MAX)
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "request has no Host header");
    if (!rc)
        rc = build_canonical(out, out_signed, req, req->query, 0, &set, signed_headers,
                             opts->sign_all_headers, req->payload_hash, opts->normalize_path);
    hset_dispose(&set);
    return rc;
}

static int string_to_sign(igtcloud__buf *out, const char *amz_date, const char *date,
                          const char *region, const char *service, const igtcloud__buf *creq)
{
    unsigned char digest[IGTCLOUD_SHA256_LEN];
    char hex[IGTCLOUD_SHA256_LEN * 2 + 1];
    int rc = igtcloud__sha256(digest, creq->ptr ? creq->ptr : "", creq->size);
    if (rc)
        return rc;
    igtcloud__hex(hex, digest, sizeof(digest));
    igtcloud__buf_clear(out);
    return igtcloud__buf_printf(out, IGTCLOUD_SIGV4_ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s",
                                amz_date, date, region, service, hex);
}

int igtcloud__sigv4_signature(char out[IGTCLOUD_SIGV4_SIGNATURE_LEN + 1],
                              const char *secret_key, const char *date,
                              const char *region, const char *service,
                              const char *string_to_sign, size_t len)
{
    igtcloud__buf key = IGTCLOUD_BUF_INIT;
    unsigned char a[IGTCLOUD_SHA256_LEN], b[IGTCLOUD_SHA256_LEN];
    int rc = igtcloud__buf_puts(&key, "AWS4");
    if (!rc)
        rc = igtcloud__buf_puts(&key, secret_key);
    if (!rc)
        rc = igtcloud__hmac_sha256(a, key.ptr, key.size, date, strlen(date));
    if (!rc)
        rc = igtcloud__hmac_sha256(b, a, sizeof(a), region, strlen(region));
    if (!rc)
        rc = igtcloud__hmac_sha256(a, b, sizeof(b), service, strlen(service));
    if (!rc)
        rc = igtcloud__hmac_sha256(b, a, sizeof(a), "aws4_request", 12);
    if (!rc)
        rc = igtcloud__hmac_sha256(a, b, sizeof(b), string_to_sign, len);
    if (!rc)
        igtcloud__hex(out, a, sizeof(a));
    /* The derived keys are as good as the secret for a day: do not leave them around. */
    if (key.ptr)
        wipe(key.ptr, key.size);
    wipe(a, sizeof(a));
    wipe(b, sizeof(b));
    igtcloud__buf_dispose(&key);
    return rc;
}

/* ---- signing ---- */

static int check_access_key(const char *key)
{
    size_t len = key ? strlen(key) : 0;
    if (len == 0 || len > IGTCLOUD_SIGV4_ACCESS_KEY_MAX)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "access key is empty or too long");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        if (!is_alnum(c) && c != '-' && c != '_' && c != '.')
            return igtcloud__error_set(IGTCLOUD_EINVALID, "access key has an invalid character");
    }
    return 0;
}

static int check_signing_inputs(const igtcloud__sigv4_request *req,
                                const igtcloud__sigv4_credentials *creds,
                                const igtcloud__sigv4_options *opts)
{
    if (!req || !creds)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no request or credentials to sign");
    int rc = check_access_key(creds->access_key);
    if (rc)
        return rc;
    if (!creds->secret_key || !*creds->secret_key)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "secret key is empty");
    if (creds->session_token && strpbrk(creds->session_token, "\r\n"))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "session token contains a line break");
    if (!is_scope_part(opts->region, IGTCLOUD_SIGV4_REGION_MAX))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "region must be 1-64 of a-z 0-9 -");
    if (!is_scope_part(opts->service, IGTCLOUD_SIGV4_SERVICE_MAX))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "service must be 1-64 of a-z 0-9 -");
    for (size_t i = 0; i < req->header_count && req->headers; i++) {
        for (size_t j = 0; j < sizeof(reserved_names) / sizeof(reserved_names[0]); j++) {
            if (req->headers[i].name && strcasecmp(req->headers[i].name, reserved_names[j]) == 0)
                return igtcloud__error_set(IGTCLOUD_EINVALID,
                                           "header %s is set by the signer", reserved_names[j]);
        }
    }
    return 0;
}

static int format_date(char amz_date[17], char date[9], time_t now)
{
    char text[IGTCLOUD_ISOTIME_LEN];
    igtcloud__isotime_format_compact(text, now);
    if (strlen(text) != 16)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "time cannot be written as YYYYMMDDTHHMMSSZ");
    memcpy(amz_date, text, 17);
    memcpy(date, text, 8);
    date[8] = '\0';
    return 0;
}

int igtcloud__sigv4_sign(igtcloud__sigv4_signed *out,
                         const igtcloud__sigv4_request *req,
                         const igtcloud__sigv4_credentials *creds,
                         time_t now, const igtcloud__sigv4_options *opts)
{
    igtcloud__sigv4_options storage;
    igtcloud__sigv4_signed s = IGTCLOUD__SIGV4_SIGNED_INIT;
    struct hset set = { NULL, 0 };
    igtcloud__sigv4_header extra[3];
    size_t nextra = 0;
    char date[9];
    opts = options_or_default(opts, &storage);

    int rc = check_signing_inputs(req, creds, opts);
    if (!rc)
        rc = check_payload_hash(req->payload_hash);
    if (!rc)
        rc = format_date(s.amz_date, date, now);
    if (rc)
        goto done;
    extra[nextra++] = (igtcloud__sigv4_header){ "x-amz-date", s.amz_date };
    if (opts->content_sha256_header) {
        memcpy(s.content_sha256, req->payload_hash, strlen(req->payload_hash) + 1);
        extra[nextra++] = (igtcloud__sigv4_header){ "x-amz-content-sha256", s.content_sha256 };
    }
    if (creds->session_token && *creds->session_token) {
        s.session_token = creds->session_token;
        extra[nextra++] = (igtcloud__sigv4_header){ "x-amz-security-token", s.session_token };
    }
    rc = hset_build(&set, req->headers, req->header_count, extra, nextra);
    if (rc)
        goto done;
    if (hset_find(&set, "host", 4) == SIZE_MAX) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "request has no Host header");
        goto done;
    }
    rc = build_canonical(&s.canonical_request, &s.signed_headers, req, req->query, 0, &set,
                         NULL, opts->sign_all_headers, req->payload_hash, opts->normalize_path);
    if (!rc)
        rc = string_to_sign(&s.string_to_sign, s.amz_date, date, opts->region, opts->service,
                            &s.canonical_request);
    if (!rc)
        rc = igtcloud__sigv4_signature(s.signature, creds->secret_key, date, opts->region,
                                       opts->service, s.string_to_sign.ptr, s.string_to_sign.size);
    if (!rc)
        rc = igtcloud__buf_printf(&s.authorization,
                                  IGTCLOUD_SIGV4_ALGORITHM " Credential=%s/%s/%s/%s/aws4_request, "
                                  "SignedHeaders=%s, Signature=%s",
                                  creds->access_key, date, opts->region, opts->service,
                                  s.signed_headers.ptr, s.signature);
    if (rc)
        goto done;
    igtcloud__sigv4_signed_dispose(out);
    *out = s;
    igtcloud__sigv4_signed_init(&s);
done:
    hset_dispose(&set);
    igtcloud__sigv4_signed_dispose(&s);
    return rc;
}

/* Does the raw query already carry one of the parameters presigning adds? */
static int has_auth_param(const char *query)
{
    static const char *const names[] = {
        "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
        "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token",
    };
    igtcloud__buf name = IGTCLOUD_BUF_INIT;
    int found = 0;
    for (const char *p = query; p && *p && !found;) {
        size_t len = strcspn(p, "&");
        size_t name_len = strcspn(p, "=&");
        igtcloud__buf_clear(&name);
        if (igtcloud__sigv4_uri_decode(&name, p, name_len, 0)) {
            found = -1;
            break;
        }
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !found; i++)
            found = strcmp(igtcloud__buf_cstr(&name), names[i]) == 0;
        p += len;
        if (*p == '&')
            p++;
    }
    igtcloud__buf_dispose(&name);
    return found;
}

int igtcloud__sigv4_presign(igtcloud__buf *out_query,
                            const igtcloud__sigv4_request *req,
                            const igtcloud__sigv4_credentials *creds,
                            time_t now, unsigned int expires,
                            const igtcloud__sigv4_options *opts)
{
    igtcloud__sigv4_options storage;
    struct hset set = { NULL, 0 };
    igtcloud__buf signed_list = IGTCLOUD_BUF_INIT, query = IGTCLOUD_BUF_INIT;
    igtcloud__buf creq = IGTCLOUD_BUF_INIT, sts = IGTCLOUD_BUF_INIT, canon = IGTCLOUD_BUF_INIT;
    igtcloud__buf scope = IGTCLOUD_BUF_INIT;
    char amz_date[17], date[9], signature[IGTCLOUD_SIGV4_SIGNATURE_LEN + 1];
    opts = options_or_default(opts, &storage);

    int rc = check_signing_inputs(req, creds, opts);
    if (rc)
        goto done;
    /* The URL cannot carry a body hash, so the verifier can only assume this one. */
    const char *payload = IGTCLOUD_SIGV4_UNSIGNED_PAYLOAD;
    if (req->payload_hash && strcmp(req->payload_hash, payload) != 0)
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "presigned URLs sign UNSIGNED-PAYLOAD only");
    if (!rc && (expires == 0 || expires > IGTCLOUD_SIGV4_MAX_EXPIRES))
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "presigned URL lifetime must be 1 to %u seconds",
                                 IGTCLOUD_SIGV4_MAX_EXPIRES);
    if (!rc && has_auth_param(req->query) > 0)
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "query already has X-Amz-* signing parameters");
    if (!rc)
        rc = format_date(amz_date, date, now);
    if (!rc)
        rc = hset_build(&set, req->headers, req->header_count, NULL, 0);
    if (rc)
        goto done;
    if (hset_find(&set, "host", 4) == SIZE_MAX) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "request has no Host header");
        goto done;
    }
    rc = choose_signed(&signed_list, &set, opts->sign_all_headers);
    if (!rc && req->query && *req->query)
        rc = igtcloud__buf_printf(&query, "%s&", req->query);
    if (!rc)
        rc = igtcloud__buf_printf(&scope, "%s/%s/%s/%s/aws4_request", creds->access_key, date,
                                  opts->region, opts->service);
    if (!rc)
        rc = igtcloud__buf_puts(&query, "X-Amz-Algorithm=" IGTCLOUD_SIGV4_ALGORITHM "&X-Amz-Credential=");
    if (!rc)
        rc = igtcloud__sigv4_uri_encode(&query, scope.ptr, scope.size, 0);
    if (!rc)
        rc = igtcloud__buf_printf(&query, "&X-Amz-Date=%s&X-Amz-Expires=%u&X-Amz-SignedHeaders=",
                                  amz_date, expires);
    if (!rc)
        rc = igtcloud__sigv4_uri_encode(&query, signed_list.ptr, signed_list.size, 0);
    if (!rc && creds->session_token && *creds->session_token) {
        rc = igtcloud__buf_puts(&query, "&X-Amz-Security-Token=");
        if (!rc)
            rc = igtcloud__sigv4_uri_encode(&query, creds->session_token,
                                            strlen(creds->session_token), 0);
    }
    if (!rc)
        rc = build_canonical(&creq, NULL, req, query.ptr, 0, &set, signed_list.ptr, 0, payload,
                             opts->normalize_path);
    if (!rc)
        rc = string_to_sign(&sts, amz_date, date, opts->region, opts->service, &creq);
    if (!rc)
        rc = igtcloud__sigv4_signature(signature, creds->secret_key, date, opts->region,
                                       opts->service, sts.ptr, sts.size);
    if (!rc)
        rc = canonical_query(&canon, query.ptr, 0);
    if (!rc)
        rc = igtcloud__buf_printf(&canon, "&X-Amz-Signature=%s", signature);
    if (!rc)
        rc = igtcloud__buf_put(out_query, canon.ptr, canon.size);
done:
    hset_dispose(&set);
    igtcloud__buf_dispose(&signed_list);
    igtcloud__buf_dispose(&query);
    igtcloud__buf_dispose(&creq);
    igtcloud__buf_dispose(&sts);
    igtcloud__buf_dispose(&canon);
    igtcloud__buf_dispose(&scope);
    return rc;
}

/* ---- verification ---- */

static int list_contains(const char *list, const char *name, size_t len)
{
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ";");
        if (n == len && memcmp(p, name, len) == 0)
            return 1;
        p += n;
        if (*p == ';')
            p++;
    }
    return 0;
}

int igtcloud__sigv4_verify(igtcloud__sigv4_signed *computed,
                           const igtcloud__sigv4_auth *auth,
                           const igtcloud__sigv4_request *req,
                           const char *secret_key,
                           const igtcloud__sigv4_options *opts)
{
    igtcloud__sigv4_options storage;
    igtcloud__sigv4_signed s = IGTCLOUD__SIGV4_SIGNED_INIT;
    struct hset set = { NULL, 0 };
    igtcloud__buf payload = IGTCLOUD_BUF_INIT;
    const char *list = igtcloud__buf_cstr(&auth->signed_headers);
    int rc = 0;
    opts = options_or_default(opts, &storage);

    if (!secret_key || !*secret_key) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "secret key is empty");
        goto done;
    }
    if (!igtcloud__sigv4_signed_headers_valid(list, strlen(list)) || strlen(auth->signature) != 64 ||
        !auth->date[0] || !auth->amz_date[0] || !auth->region[0] || !auth->service[0]) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "authentication was not parsed");
        goto done;
    }
    if (!list_contains(list, "host", 4)) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "SignedHeaders must include host");
        goto done;
    }
    rc = hset_build(&set, req->headers, req->header_count, NULL, 0);
    if (rc)
        goto done;
    /* S3 refuses x-amz-* headers outside the signature: they change what a request does. */
    for (size_t i = 0; i < set.count; i++) {
        const igtcloud__buf *name = &set.items[i].name;
        if (strncmp(name->ptr, "x-amz-", 6) == 0 && !list_contains(list, name->ptr, name->size)) {
            rc = igtcloud__error_set(IGTCLOUD_EAUTH, "header %.64s is present but not signed",
                                     name->ptr);
            goto done;
        }
    }
    if (req->payload_hash) {
        rc = igtcloud__buf_puts(&payload, req->payload_hash);
    } else if (auth->presigned) {
        rc = igtcloud__buf_puts(&payload, IGTCLOUD_SIGV4_UNSIGNED_PAYLOAD);
    } else {
        size_t at = hset_find(&set, "x-amz-content-sha256", 20);
        if (at == SIZE_MAX) {
            rc = igtcloud__error_set(IGTCLOUD_EINVALID, "missing x-amz-content-sha256 header");
            goto done;
        }
        rc = igtcloud__buf_put(&payload, set.items[at].value.ptr, set.items[at].value.size);
    }
    if (!rc && payload.size == 0)
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "payload hash is empty");
    if (!rc)
        rc = build_canonical(&s.canonical_request, &s.signed_headers, req, req->query,
                             auth->presigned, &set, list, 0, payload.ptr, opts->normalize_path);
    if (!rc)
        rc = string_to_sign(&s.string_to_sign, auth->amz_date, auth->date, auth->region,
                            auth->service, &s.canonical_request);
    if (!rc)
        rc = igtcloud__sigv4_signature(s.signature, secret_key, auth->date, auth->region,
                                       auth->service, s.string_to_sign.ptr, s.string_to_sign.size);
    if (rc)
        goto done;
    memcpy(s.amz_date, auth->amz_date, sizeof(s.amz_date));
    if (!igtcloud__equal_secret(s.signature, auth->signature, IGTCLOUD_SIGV4_SIGNATURE_LEN))
        rc = igtcloud__error_set(IGTCLOUD_EAUTH, "signature does not match");
    if (computed) {
        igtcloud__sigv4_signed_dispose(computed);
        *computed = s;
        igtcloud__sigv4_signed_init(&s);
    }
done:
    hset_dispose(&set);
    igtcloud__buf_dispose(&payload);
    igtcloud__sigv4_signed_dispose(&s);
    return rc;
}
