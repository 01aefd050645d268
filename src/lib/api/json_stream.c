/*
 * Parsing a JSON listing in pieces (json_stream.h). The tokenizer knows the
 * document's outer structure (the array, or the object and its members'
 * arrays) and, inside a value, only as much as it takes to find the value's
 * end: strings and their escapes, and how deep arrays and objects nest.
 * Everything else in a value (numbers, literals, escapes, UTF-8) is checked
 * by jansson when the value is parsed alone.
 */
#include "api/json_stream.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where the outer structure is, between values. */
enum {
    ST_START,          /* before the document */
    ST_ARRAY_FIRST,    /* after '[': an element or ']' */
    ST_ARRAY_VALUE,    /* after ',': an element */
    ST_ARRAY_NEXT,     /* after an element: ',' or ']' */
    ST_OBJECT_FIRST,   /* after '{': a member's name or '}' */
    ST_OBJECT_KEY,     /* after ',': a member's name */
    ST_OBJECT_COLON,   /* after a member's name: ':' */
    ST_OBJECT_VALUE,   /* after ':': the member's value */
    ST_OBJECT_NEXT,    /* after a member: ',' or '}' */
    ST_END             /* after the document: only white space */
};

/* What kind of value is being gathered. */
enum { CAP_NONE, CAP_CONTAINER, CAP_STRING, CAP_SCALAR };

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_object(const igtcloud__json_stream *s, unsigned int level)
{
    return (s->objects[level / 8] >> (level % 8)) & 1;
}

static void set_object(igtcloud__json_stream *s, unsigned int level, int object)
{
    unsigned char bit = (unsigned char)(1u << (level % 8));
    if (object)
        s->objects[level / 8] |= bit;
    else
        s->objects[level / 8] &= (unsigned char)~bit;
}

void igtcloud__json_stream_init(igtcloud__json_stream *s, igtcloud__json_stream_shape shape,
                                const char *what, igtcloud__json_stream_fn fn, void *payload)
{
    memset(s, 0, sizeof(*s));
    s->shape = shape;
    s->what = what ? what : "JSON";
    s->fn = fn;
    s->payload = payload;
    s->max_value = IGTCLOUD__JSON_STREAM_MAX_VALUE;
    s->state = ST_START;
    igtcloud__buf_init(&s->held);
}

void igtcloud__json_stream_dispose(igtcloud__json_stream *s)
{
    if (!s)
        return;
    igtcloud__buf_dispose(&s->held);
    free(s->member);
    s->member = NULL;
}

static int fail(igtcloud__json_stream *s, int rc)
{
    s->rc = rc;
    return rc;
}

/* A byte for a message: 'c' when printable, else its value. */
static const char *shown(char *buf, size_t size, unsigned char c)
{
    if (c > 0x20 && c < 0x7f)
        snprintf(buf, size, "'%c'", c);
    else
        snprintf(buf, size, "byte 0x%02x", c);
    return buf;
}

/* A byte the outer structure does not expect at `at`. */
static int unexpected(igtcloud__json_stream *s, unsigned char c, uint64_t at)
{
    char buf[16];
    return fail(s, igtcloud__error_set(IGTCLOUD_EPROTO,
                                       "%s: the answer is not valid JSON at byte offset %llu: "
                                       "unexpected %s", s->what, (unsigned long long)at,
                                       shown(buf, sizeof(buf), c)));
}

static int too_deep(igtcloud__json_stream *s, uint64_t at)
{
    return fail(s, igtcloud__error_set(IGTCLOUD_EPROTO,
                                       "%s: the answer nests more than %d levels deep at byte "
                                       "offset %llu", s->what, JSON_PARSER_MAX_DEPTH,
                                       (unsigned long long)at));
}

static int too_large(igtcloud__json_stream *s)
{
    return fail(s, igtcloud__error_set(IGTCLOUD_EPROTO,
                                       "%s: the value at byte offset %llu is larger than %zu "
                                       "bytes", s->what, (unsigned long long)s->value_start,
                                       s->max_value));
}

/*
 * The bytes p[0..n) continue the value being gathered: returns how many of
 * them belong to it and sets *done when it ends there. A scalar ends before
 * the byte that ends it, which is left to the outer structure.
 */
static size_t scan(igtcloud__json_stream *s, const char *p, size_t n, int *done)
{
    size_t i = 0;
    *done = 0;
    if (s->capture == CAP_SCALAR) {
        while (i < n && !is_space((unsigned char)p[i]) && p[i] != ',' && p[i] != ']' &&
               p[i] != '}')
            i++;
        *done = i < n;
        return i;
    }
    while (i < n) {
        if (s->in_string) {
            /* Most bytes of a listing are inside strings: skip to the next one that matters. */
            while (i < n && !s->escaped && p[i] != '"' && p[i] != '\\')
                i++;
            if (i == n)
                break;
            if (s->escaped)
                s->escaped = 0;
            else if (p[i] == '\\')
                s->escaped = 1;
            else
                s->in_string = 0;
            i++;
            if (!s->in_string && s->capture == CAP_STRING) {
                *done = 1;
                return i;
            }
            continue;
        }
        unsigned char c = (unsigned char)p[i];
        switch (c) {
        case '"':
            /* A string value one level too deep; an object's key is not a value. */
            if (s->depth >= JSON_PARSER_MAX_DEPTH && !(is_object(s, s->depth) && s->expect_key)) {
                too_deep(s, s->offset + i);
                return i;
            }
            s->in_string = 1;
            break;
        case '[':
        case '{':
            if (s->depth >= JSON_PARSER_MAX_DEPTH) {
                too_deep(s, s->offset + i);
                return i;
            }
            s->depth++;
            set_object(s, s->depth, c == '{');
            s->expect_key = c == '{';
            break;
        case ']':
        case '}':
            /* A bracket that does not match is left to jansson, which refuses it. */
            s->depth--;
            s->expect_key = 0;
            if (s->depth == s->base) {
                *done = 1;
                return i + 1;
            }
            break;
        case ',':
            s->expect_key = is_object(s, s->depth);
            break;
        case ':':
            s->expect_key = 0;
            break;
        case ' ':
        case '\t':
        case '\n':
        case '\r':
            break;
        default:
            /* A number or literal one level too deep. */
            if (s->depth >= JSON_PARSER_MAX_DEPTH) {
                too_deep(s, s->offset + i);
                return i;
            }
            break;
        }
        i++;
    }
    return i;
}

/* Whether `c` can begin a value (anything else is left to jansson to refuse). */
static int begins_value(unsigned char c)
{
    return c != ']' && c != '}' && c != ',' && c != ':';
}

/* Begin gathering a value whose first byte is `c`, `base` levels deep. */
static void begin_value(igtcloud__json_stream *s, unsigned char c, unsigned int base)
{
    s->value_start = s->offset;
    s->base = base;
    s->depth = base;
    s->in_string = 0;
    s->escaped = 0;
    s->expect_key = 0;
    if (c == '[' || c == '{') {
        s->capture = CAP_CONTAINER;
        s->depth++;
        set_object(s, s->depth, c == '{');
        s->expect_key = c == '{';
    } else if (c == '"') {
        s->capture = CAP_STRING;
        s->in_string = 1;
    } else {
        s->capture = CAP_SCALAR;
    }
}

/* The gathered value text[0..len) is complete: parse it and hand it over. */
static int deliver(igtcloud__json_stream *s, const char *text, size_t len)
{
    json_error_t jerr;
    int rc = 0;
    if (len > s->max_value)
        return too_large(s);
    s->capture = CAP_NONE;
    json_t *value = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    if (!value)
        return fail(s, igtcloud__error_set(IGTCLOUD_EPROTO,
                                           "%s: the answer is not valid JSON at byte offset "
                                           "%llu: %s", s->what,
                                           (unsigned long long)(s->value_start +
                                                                (uint64_t)jerr.position),
                                           jerr.text));
    switch (s->state) {
    case ST_OBJECT_FIRST:
    case ST_OBJECT_KEY: {
        /* A member's name: begin_value saw its '"', so it is a string. */
        char *name = strdup(json_string_value(value));
        if (!name) {
            rc = igtcloud__error_oom();
            break;
        }
        free(s->member);
        s->member = name;
        s->state = ST_OBJECT_COLON;
        if (s->member_fn)
            rc = s->member_fn(name, s->payload);
        break;
    }
    case ST_OBJECT_VALUE:
        rc = s->fn(value, s->member, IGTCLOUD__JSON_STREAM_WHOLE, s->payload);
        s->state = ST_OBJECT_NEXT;
        break;
    default: /* ST_ARRAY_FIRST, ST_ARRAY_VALUE */
        rc = s->fn(value, s->shape == IGTCLOUD__JSON_STREAM_OBJECT ? s->member : NULL,
                   s->index++, s->payload);
        s->state = ST_ARRAY_NEXT;
        break;
    }
    json_decref(value);
    igtcloud__buf_clear(&s->held);
    return rc ? fail(s, rc) : 0;
}

/* One byte of the outer structure, at s->offset. */
static int outer(igtcloud__json_stream *s, unsigned char c)
{
    int object = s->shape == IGTCLOUD__JSON_STREAM_OBJECT;
    char buf[16];
    if (is_space(c))
        return 0;
    switch (s->state) {
    case ST_START:
        if (c == (object ? '{' : '[')) {
            s->state = object ? ST_OBJECT_FIRST : ST_ARRAY_FIRST;
            s->index = 0;
            return 0;
        }
        if (c && strchr(object ? "[\"-0123456789tfn" : "{\"-0123456789tfn", c))
            return fail(s, igtcloud__error_set(IGTCLOUD_EPROTO, "%s: the answer is not %s",
                                               s->what, object ? "an object" : "an array"));
        return fail(s, igtcloud__error_set(IGTCLOUD_EPROTO,
                                           "%s: the answer is not JSON (it begins with %s)",
                                           s->what, shown(buf, sizeof(buf), c)));
    case ST_ARRAY_FIRST:
    case ST_ARRAY_NEXT:
    case ST_ARRAY_VALUE:
        if (c == ']' && s->state != ST_ARRAY_VALUE) {
            s->state = object ? ST_OBJECT_NEXT : ST_END;
            return 0;
        }
        if (s->state == ST_ARRAY_NEXT) {
            if (c != ',')
                return unexpected(s, c, s->offset);
            s->state = ST_ARRAY_VALUE;
            return 0;
        }
        if (!begins_value(c))
            return unexpected(s, c, s->offset);
        begin_value(s, c, object ? 2 : 1);
        return 0;
    case ST_OBJECT_FIRST:
    case ST_OBJECT_KEY:
        if (c == '}' && s->state == ST_OBJECT_FIRST) {
            s->state = ST_END;
            return 0;
        }
        if (c != '"')
            return unexpected(s, c, s->offset);
        begin_value(s, c, 1);
        return 0;
    case ST_OBJECT_COLON:
        if (c != ':')
            return unexpected(s, c, s->offset);
        s->state = ST_OBJECT_VALUE;
        return 0;
    case ST_OBJECT_VALUE:
        if (c == '[') {
            s->state = ST_ARRAY_FIRST;
            s->index = 0;
            return 0;
        }
        if (!begins_value(c))
            return unexpected(s, c, s->offset);
        begin_value(s, c, 1);
        return 0;
    case ST_OBJECT_NEXT:
        if (c == '}') {
            s->state = ST_END;
            return 0;
        }
        if (c != ',')
            return unexpected(s, c, s->offset);
        s->state = ST_OBJECT_KEY;
        return 0;
    default: /* ST_END */
        return fail(s, igtcloud__error_set(IGTCLOUD_EPROTO,
                                           "%s: the answer is not valid JSON at byte offset "
                                           "%llu: data after the end of the %s", s->what,
                                           (unsigned long long)s->offset,
                                           object ? "object" : "array"));
    }
}

int igtcloud__json_stream_feed(igtcloud__json_stream *s, const char *data, size_t len)
{
    size_t i = 0;
    size_t from = 0; /* where the value being gathered begins in data (0: in an earlier chunk) */
    if (s->rc)
        return s->rc;
    while (i < len) {
        if (s->capture == CAP_NONE) {
            int rc = outer(s, (unsigned char)data[i]);
            if (rc)
                return rc;
            if (s->capture != CAP_NONE)
                from = i; /* its first byte is taken: scan what follows */
            i++;
            s->offset++;
            continue;
        }
        int done = 0;
        size_t used = scan(s, data + i, len - i, &done);
        if (s->rc)
            return s->rc;
        i += used;
        s->offset += used;
        if (!done)
            break;
        int rc;
        if (s->held.size) {
            if (s->held.size + i > s->max_value)
                return too_large(s);
            if ((rc = igtcloud__buf_put(&s->held, data, i)))
                return fail(s, rc);
            rc = deliver(s, s->held.ptr, s->held.size);
        } else {
            rc = deliver(s, data + from, i - from);
        }
        if (rc)
            return rc;
    }
    if (s->capture != CAP_NONE) {
        /* The value goes on in the next chunk: keep its bytes so far. */
        if (s->held.size + (len - from) > s->max_value)
            return too_large(s);
        int rc = igtcloud__buf_put(&s->held, data + from, len - from);
        if (rc)
            return fail(s, rc);
    }
    return 0;
}

int igtcloud__json_stream_finish(igtcloud__json_stream *s)
{
    if (s->rc)
        return s->rc;
    /* A scalar ends at the byte after it: at the end of the body nothing can follow. */
    if (s->state == ST_END && s->capture == CAP_NONE)
        return 0;
    if (s->state == ST_START)
        return fail(s, igtcloud__error_set(IGTCLOUD_EPROTO, "%s: the answer is empty", s->what));
    return fail(s, igtcloud__error_set(IGTCLOUD_EPROTO,
                                       "%s: the answer ends early (cut off at byte offset %llu)",
                                       s->what, (unsigned long long)s->offset));
}
