#ifndef IGTCLOUD_API_JSON_STREAM_H
#define IGTCLOUD_API_JSON_STREAM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/*
 * Parsing a JSON listing as its bytes arrive, one value at a time, so the
 * body of an answer is never held whole: the API answers a listing with a
 * single JSON document and has no paging, and an institute's studies can
 * run to tens of megabytes.
 *
 * A small tokenizer walks the document's outer structure and finds where
 * each value of interest begins and ends (tracking strings, escapes and
 * nesting, across any chunk boundary). Each such value is then parsed alone
 * with jansson and handed to the callback, which may keep what it needs;
 * the value is dropped when the callback returns. Memory at the peak is
 * therefore one value (its bytes and its tree) plus whatever the callback
 * keeps.
 *
 * Two shapes are understood:
 *   - IGTCLOUD__JSON_STREAM_ARRAY: the document is an array; each element is
 *     handed over with its index (member NULL).
 *   - IGTCLOUD__JSON_STREAM_OBJECT: the document is an object (the files
 *     endpoints: {"files": [...]}); each element of a member whose value is
 *     an array is handed over with the member's name and its index in that
 *     array, and a member whose value is not an array is handed over whole
 *     with index IGTCLOUD__JSON_STREAM_WHOLE. Members come in document
 *     order; a member named twice is handed over twice (the callback decides).
 *
 * The stream accepts exactly the documents json_loadb(..., 0) accepts (of
 * the right shape), including its nesting limit (JSON_PARSER_MAX_DEPTH
 * values deep, counting the document itself), so parsing in pieces never
 * takes a document the whole parse would refuse, nor the other way round.
 * Every error is one line naming `what` and the byte offset in the body.
 */

typedef enum igtcloud__json_stream_shape {
    IGTCLOUD__JSON_STREAM_ARRAY = 0,
    IGTCLOUD__JSON_STREAM_OBJECT = 1
} igtcloud__json_stream_shape;

/* The index of a member's value that is not an array (object shape). */
#define IGTCLOUD__JSON_STREAM_WHOLE ((size_t)-1)

/* Largest single value held at once by default (bytes). */
#define IGTCLOUD__JSON_STREAM_MAX_VALUE ((size_t)16 * 1024 * 1024)

/*
 * One value: borrowed (decref'd after the call; json_incref to keep it).
 * `member` is NULL for the array shape, else the member's name (borrowed,
 * valid during the call). Return 0 to go on, or a negative igtcloud_status
 * with the error set to stop the stream with that error.
 */
typedef int (*igtcloud__json_stream_fn)(json_t *value, const char *member, size_t index,
                                        void *payload);

/*
 * Object shape: each member's name as it is read, before its value (so an
 * empty array is seen too). Returns 0 or an error, as the value callback.
 */
typedef int (*igtcloud__json_stream_member_fn)(const char *member, void *payload);

typedef struct igtcloud__json_stream {
    /* Set by init; max_value and member_fn may be changed before the first feed. */
    igtcloud__json_stream_shape shape;
    const char *what;          /* the call, in error messages ("listing studies") */
    igtcloud__json_stream_fn fn;
    igtcloud__json_stream_member_fn member_fn; /* NULL: none */
    void *payload;             /* for both callbacks */
    size_t max_value;          /* largest value held at once, bytes */
    /* The tokenizer (json_stream.c). */
    int state;
    int rc;                    /* the first error: every later call returns it */
    uint64_t offset;           /* bytes of the document consumed */
    uint64_t value_start;      /* offset of the value being gathered */
    size_t index;              /* index of the next element in the current array */
    int capture;               /* what kind of value is being gathered, 0: none */
    unsigned int base;         /* arrays and objects of the document around it */
    unsigned int depth;        /* ... and open inside it: base + those */
    int in_string, escaped;    /* inside a string of that value; after a backslash */
    int expect_key;            /* the next string of the value is an object key */
    igtcloud__buf held;        /* the value's bytes so far, when it spans chunks */
    char *member;              /* object shape: the current member's name */
    unsigned char objects[JSON_PARSER_MAX_DEPTH / 8 + 1]; /* bit per level: an object */
} igtcloud__json_stream;

void igtcloud__json_stream_init(igtcloud__json_stream *s, igtcloud__json_stream_shape shape,
                                const char *what, igtcloud__json_stream_fn fn, void *payload);

/*
 * Feed the next `len` bytes of the document. Values completed by them are
 * handed to the callback before this returns. Returns 0, or the first error
 * (IGTCLOUD_EPROTO for a malformed document, the callback's code, or
 * IGTCLOUD_ENOMEM); after an error every call returns it again.
 */
int igtcloud__json_stream_feed(igtcloud__json_stream *s, const char *data, size_t len);

/*
 * The document has ended: returns 0 when it was complete, IGTCLOUD_EPROTO
 * ("... ends early ...") when it was cut short, or the earlier error.
 */
int igtcloud__json_stream_finish(igtcloud__json_stream *s);

/* Free what the stream holds; it may then be initialised again. */
void igtcloud__json_stream_dispose(igtcloud__json_stream *s);

#endif
