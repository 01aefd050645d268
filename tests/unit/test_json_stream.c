/*
 * api/json_stream: a listing parsed in pieces must give exactly what the
 * whole document parsed by jansson gives, however its bytes are split, and
 * refuse exactly what jansson refuses, with one-line errors naming the byte
 * offset. Also the studies' records of the spool (pack / unpack).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/catalog_int.h"
#include "api/json_stream.h"
#include "core/error.h"

/* ---- helpers ---- */

/* Every value the stream hands over, as [member or null, index or -1, value]. */
static int collect(json_t *value, const char *member, size_t index, void *payload)
{
    json_t *row = json_pack("[s?, I, O]", member,
                            index == IGTCLOUD__JSON_STREAM_WHOLE ? (json_int_t)-1
                                                                 : (json_int_t)index,
                            value);
    if (!row || json_array_append_new(payload, row))
        return IGTCLOUD_ENOMEM;
    return 0;
}

/* What the stream should hand over, from the whole parse; NULL when jansson refuses the text. */
static json_t *expected(const char *text, size_t len, igtcloud__json_stream_shape shape)
{
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *rows = json_array();
    size_t i;
    json_t *v;
    if (!doc)
        goto refused;
    if (shape == IGTCLOUD__JSON_STREAM_ARRAY) {
        if (!json_is_array(doc))
            goto refused;
        json_array_foreach(doc, i, v)
            json_array_append_new(rows, json_pack("[n, I, O]", (json_int_t)i, v));
    } else {
        const char *key;
        json_t *member;
        if (!json_is_object(doc))
            goto refused;
        json_object_foreach(doc, key, member) {
            if (!json_is_array(member)) {
                json_array_append_new(rows, json_pack("[s, I, O]", key, (json_int_t)-1, member));
                continue;
            }
            json_array_foreach(member, i, v)
                json_array_append_new(rows, json_pack("[s, I, O]", key, (json_int_t)i, v));
        }
    }
    json_decref(doc);
    return rows;
refused:
    json_decref(doc);
    json_decref(rows);
    return NULL;
}

/*
 * Feed `text` in chunks whose sizes come from `sizes` (cycled; 0 entries:
 * all at once), then finish. Returns the code; *rows gets what was handed over.
 */
static int run(json_t **rows, const char *text, size_t len, igtcloud__json_stream_shape shape,
               const size_t *sizes, size_t nsizes, size_t max_value)
{
    igtcloud__json_stream s;
    *rows = json_array();
    igtcloud__json_stream_init(&s, shape, "listing things", collect, *rows);
    if (max_value)
        s.max_value = max_value;
    int rc = 0;
    size_t at = 0, k = 0;
    while (!rc && at < len) {
        size_t n = nsizes ? sizes[k++ % nsizes] : len;
        if (n > len - at)
            n = len - at;
        /* Each chunk in its own allocation, so ASan sees any read past its end. */
        char *chunk = malloc(n ? n : 1);
        assert_non_null(chunk);
        memcpy(chunk, text + at, n);
        rc = igtcloud__json_stream_feed(&s, chunk, n);
        free(chunk);
        at += n;
    }
    if (!rc)
        rc = igtcloud__json_stream_finish(&s);
    igtcloud__json_stream_dispose(&s);
    return rc;
}

static void fail_rows(const char *text, const char *how, const json_t *got, const json_t *want)
{
    char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
    char *w = want ? json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    fail_msg("%s (%s): got %s, wanted %s", text, how, g ? g : "?", w ? w : "a refusal");
}

/*
 * The stream agrees with the whole parse on `text`: all at once, a byte at a
 * time, split at every position, and in random chunks.
 */
static void agree(const char *text, size_t len, igtcloud__json_stream_shape shape)
{
    json_t *want = expected(text, len, shape);
    unsigned int seed = 7;
    for (size_t way = 0; way < len + 12; way++) {
        size_t sizes[16];
        size_t nsizes = 0;
        char how[64];
        if (way == 0) {
            snprintf(how, sizeof(how), "whole");
        } else if (way == 1) {
            sizes[nsizes++] = 1;
            snprintf(how, sizeof(how), "byte by byte");
        } else if (way < len + 2) {
            sizes[nsizes++] = way - 1;       /* split after way - 1 bytes */
            sizes[nsizes++] = len;
            snprintf(how, sizeof(how), "split at %zu", way - 1);
        } else {
            for (nsizes = 0; nsizes < 16; nsizes++) {
                seed = seed * 1103515245u + 12345u;
                sizes[nsizes] = 1 + (seed >> 16) % 9;
            }
            snprintf(how, sizeof(how), "random chunks %zu", way - len - 2);
        }
        json_t *got = NULL;
        int rc = run(&got, text, len, shape, sizes, nsizes, 0);
        if (want ? rc != 0 || !json_equal(got, want) : rc == 0) {
            if (rc)
                fail_msg("%s (%s): refused: %s", text, how, igtcloud_error_last()->message);
            fail_rows(text, how, got, want);
        }
        if (rc) {
            /* Refusals are one line naming the call, and a parse refusal is EPROTO. */
            const char *m = igtcloud_error_last()->message;
            assert_int_equal(rc, IGTCLOUD_EPROTO);
            assert_true(strncmp(m, "listing things: ", 16) == 0);
            assert_null(strchr(m, '\n'));
        }
        json_decref(got);
    }
    json_decref(want);
}

static void agree_str(const char *text, igtcloud__json_stream_shape shape)
{
    agree(text, strlen(text), shape);
}

/* Run `text` whole and expect a refusal whose message contains `needle`. */
static void refused(const char *text, igtcloud__json_stream_shape shape, const char *needle)
{
    json_t *got = NULL;
    int rc = run(&got, text, strlen(text), shape, NULL, 0, 0);
    json_decref(got);
    if (rc != IGTCLOUD_EPROTO)
        fail_msg("%s: code %d, wanted EPROTO", text, rc);
    if (!strstr(igtcloud_error_last()->message, needle))
        fail_msg("%s: '%s' lacks '%s'", text, igtcloud_error_last()->message, needle);
}

/* ---- arrays ---- */

static void test_json_stream__arrays_agree_however_split(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "[]",
        " \t\r\n[ \n ] \n",
        "[1]",
        "[1,2,3]",
        "[-0.5e+3 , true,false,null , 1234567890123]",
        "[\"\"]",
        "[\"a]b[c{d}e,f:g\"]",
        "[\"quote \\\" backslash \\\\ slash \\/ \\b\\f\\n\\r\\t\"]",
        "[\"\\\\\", \"\\\\\\\"\", \"x\\\\\"]",
        "[\"\\u00e9\\u4e2d\\ud83d\\ude00\", \"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\"]",
        "[{\"name\":\"a\",\"tags\":[\"[\",\"]\",\"{\",\"}\"],\"n\":{\"x\":[[],[{}]]}}]",
        "[{\"a\":{\"b\":{\"c\":[1,[2,[3,{\"d\":\"}]\"}]]]}}},{},[]]",
        ("[{\"studyDatabaseId\":\"s1\",\"patient\":{\"patientName\":\"P, \\\"Q\\\" [x]\"}},"
         " {\"studyDatabaseId\":\"s2\"} ]"),
        "[[[[[[[[[[\"deep\"]]]]]]]]]]",
        "[\"a\",[\"b\",{\"c\":\"d\"}],\"e\"]",
        /* Refused by both. */
        "",
        "   ",
        "[",
        "[1",
        "[1,",
        "[1,]",
        "[,1]",
        "[1 2]",
        "[1]]",
        "[1] x",
        "[1][2]",
        "[tru]",
        "[01]",
        "[\"abc]",
        "[\"a\\x\"]",
        "[\"\\ud83d\"]",
        "[\"\xff\"]",
        "[\"a\x01\"]",
        "[\"\\u0000\"]",
        "[{\"a\" 1}]",
        "[{\"a\":1,}]",
        "[{1:2}]",
        "[[}]",
        "[{]}",
        "[1:2]",
        "{\"a\":1}",
        "\"text\"",
        "42",
        "<html>",
        "[\x00]",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        agree_str(docs[i], IGTCLOUD__JSON_STREAM_ARRAY);
    /* A NUL byte inside a document (json_loadb takes a length). */
    agree("[1,\0]", 5, IGTCLOUD__JSON_STREAM_ARRAY);
    agree("[\"a\0b\"]", 7, IGTCLOUD__JSON_STREAM_ARRAY);
}

/* A long listing of studies in random chunks, as the network would deliver it. */
static void test_json_stream__many_entries(void **state)
{
    (void)state;
    json_t *doc = json_array();
    for (int i = 0; i < 2000; i++)
        json_array_append_new(doc, json_pack("{s:s, s:i, s:{s:s}, s:[s, s]}", "studyDatabaseId",
                                             "id-\"x\"-[", "n", i, "patient", "patientName",
                                             "Name \\ {y}", "tags", "a,b", "c:d"));
    char *text = json_dumps(doc, JSON_COMPACT);
    size_t len = strlen(text);
    json_t *want = expected(text, len, IGTCLOUD__JSON_STREAM_ARRAY);
    assert_non_null(want);
    unsigned int seed = 1;
    for (int round = 0; round < 20; round++) {
        size_t sizes[64];
        for (size_t k = 0; k < 64; k++) {
            seed = seed * 1103515245u + 12345u;
            sizes[k] = 1 + (seed >> 8) % (round < 10 ? 64 : 16384);
        }
        json_t *got = NULL;
        assert_int_equal(run(&got, text, len, IGTCLOUD__JSON_STREAM_ARRAY, sizes, 64, 0), 0);
        assert_true(json_equal(got, want));
        json_decref(got);
    }
    json_decref(want);
    free(text);
    json_decref(doc);
}

static void test_json_stream__errors_are_one_line_with_offsets(void **state)
{
    (void)state;
    refused("{\"a\":1}", IGTCLOUD__JSON_STREAM_ARRAY, "listing things: the answer is not an array");
    refused("<html>", IGTCLOUD__JSON_STREAM_ARRAY, "the answer is not JSON (it begins with '<')");
    refused("", IGTCLOUD__JSON_STREAM_ARRAY, "the answer is empty");
    refused(" \n", IGTCLOUD__JSON_STREAM_ARRAY, "the answer is empty");
    refused("[1,2", IGTCLOUD__JSON_STREAM_ARRAY, "ends early (cut off at byte offset 4)");
    refused("[{\"a\":\"b", IGTCLOUD__JSON_STREAM_ARRAY, "ends early (cut off at byte offset 8)");
    refused("[1,]", IGTCLOUD__JSON_STREAM_ARRAY, "not valid JSON at byte offset 3: unexpected ']'");
    refused("[1 2]", IGTCLOUD__JSON_STREAM_ARRAY, "byte offset 3: unexpected '2'");
    refused("[1]\x01", IGTCLOUD__JSON_STREAM_ARRAY,
            "byte offset 3: data after the end of the array");
    refused("[1] ]", IGTCLOUD__JSON_STREAM_ARRAY, "byte offset 4: data after the end");
    /* An element jansson refuses: its offset is counted from the start of the answer. */
    refused("[1, {\"a\":tru}]", IGTCLOUD__JSON_STREAM_ARRAY, "not valid JSON at byte offset 12");
    refused("[1, {\"a\":tru}]", IGTCLOUD__JSON_STREAM_ARRAY, "invalid token");
    refused("{\"files\" 1}", IGTCLOUD__JSON_STREAM_OBJECT, "byte offset 9: unexpected '1'");
    refused("[]", IGTCLOUD__JSON_STREAM_OBJECT, "the answer is not an object");
}

/* The callback's error stops the stream and is returned, now and later. */
static int refuse_second(json_t *value, const char *member, size_t index, void *payload)
{
    (void)value;
    (void)member;
    (*(int *)payload)++;
    if (index == 1)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "entry %zu is not a thing", index);
    return 0;
}

static void test_json_stream__callback_error_stops(void **state)
{
    (void)state;
    int calls = 0;
    igtcloud__json_stream s;
    igtcloud__json_stream_init(&s, IGTCLOUD__JSON_STREAM_ARRAY, "x", refuse_second, &calls);
    assert_int_equal(igtcloud__json_stream_feed(&s, "[1,2,3,4]", 9), IGTCLOUD_EINVALID);
    assert_string_equal(igtcloud_error_last()->message, "entry 1 is not a thing");
    assert_int_equal(calls, 2);
    assert_int_equal(igtcloud__json_stream_feed(&s, "[5]", 3), IGTCLOUD_EINVALID);
    assert_int_equal(igtcloud__json_stream_finish(&s), IGTCLOUD_EINVALID);
    assert_int_equal(calls, 2);
    igtcloud__json_stream_dispose(&s);
}

/* A value larger than max_value is refused whether it arrives whole or in pieces. */
static void test_json_stream__value_size_limit(void **state)
{
    (void)state;
    const char *text = "[\"0123456789\",\"01234567890\",1]"; /* 12 bytes, then 13 */
    size_t len = strlen(text);
    json_t *got = NULL;
    size_t one = 1, three = 3;
    assert_int_equal(run(&got, text, len, IGTCLOUD__JSON_STREAM_ARRAY, NULL, 0, 13), 0);
    assert_int_equal(json_array_size(got), 3);
    json_decref(got);
    for (int way = 0; way < 3; way++) {
        const size_t *sizes = way == 0 ? NULL : way == 1 ? &one : &three;
        int rc = run(&got, text, len, IGTCLOUD__JSON_STREAM_ARRAY, sizes, way ? 1 : 0, 12);
        assert_int_equal(rc, IGTCLOUD_EPROTO);
        assert_string_equal(igtcloud_error_last()->message,
                            "listing things: the value at byte offset 14 is larger than 12 "
                            "bytes");
        assert_int_equal(json_array_size(got), 1); /* the first one, before it */
        json_decref(got);
    }
}

/* ---- nesting: jansson's limit, counted over the whole document ---- */

/* `n` arrays (the document's own counts), around `inner`. */
static char *nested(size_t n, const char *open, const char *close, const char *inner)
{
    size_t lo = strlen(open), lc = strlen(close), li = strlen(inner);
    char *text = malloc(n * (lo + lc) + li + 1);
    assert_non_null(text);
    char *p = text;
    for (size_t i = 0; i < n; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, inner, li);
    p += li;
    for (size_t i = 0; i < n; i++, p += lc)
        memcpy(p, close, lc);
    *p = '\0';
    return text;
}

static void test_json_stream__nesting_limit(void **state)
{
    (void)state;
    static const char *const inners[] = { "", "1", "\"x\"", "[]", "{}", "{\"k\":1}", "true" };
    for (size_t i = 0; i < sizeof(inners) / sizeof(inners[0]); i++) {
        for (size_t n = JSON_PARSER_MAX_DEPTH - 2; n <= JSON_PARSER_MAX_DEPTH + 1; n++) {
            char *text = nested(n, "[", "]", inners[i]);
            json_t *want = expected(text, strlen(text), IGTCLOUD__JSON_STREAM_ARRAY);
            json_t *got = NULL;
            size_t chunk = 7;
            int rc = run(&got, text, strlen(text), IGTCLOUD__JSON_STREAM_ARRAY, &chunk, 1, 0);
            if (want ? rc != 0 || !json_equal(got, want) : rc == 0)
                fail_msg("%zu arrays around '%s': stream %d, whole parse %s", n, inners[i], rc,
                         want ? "accepts" : "refuses");
            if (rc)
                assert_non_null(strstr(igtcloud_error_last()->message, "nests more than 2048"));
            json_decref(got);
            json_decref(want);
            free(text);
            /* Objects inside the array: keys are not values, their values are. */
            text = nested(n - 1, "{\"k\":", "}", inners[i]);
            char *doc = malloc(strlen(text) + 3);
            assert_non_null(doc);
            snprintf(doc, strlen(text) + 3, "[%s]", text);
            want = expected(doc, strlen(doc), IGTCLOUD__JSON_STREAM_ARRAY);
            rc = run(&got, doc, strlen(doc), IGTCLOUD__JSON_STREAM_ARRAY, &chunk, 1, 0);
            if (want ? rc != 0 || !json_equal(got, want) : rc == 0)
                fail_msg("%zu objects around '%s': stream %d, whole parse %s", n - 1, inners[i],
                         rc, want ? "accepts" : "refuses");
            json_decref(got);
            json_decref(want);
            free(doc);
            free(text);
        }
    }
}

/* ---- objects (the files endpoints) ---- */

static void test_json_stream__objects_agree_however_split(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}",
        " { } ",
        "{\"files\":[]}",
        "{\"files\":[{\"key\":\"k\",\"fileName\":\"a,b]\"}],\"dicom\":[1,[2],{\"x\":\"}\"}]}",
        "{\"count\":3,\"files\":[{}],\"next\":null,\"meta\":{\"a\":[1,2]},\"s\":\"[\"}",
        "{\"k\\\"e\\u00e9y\":[\"v\"],\"\":[]}",
        "{\"files\":[[[[]]]]}",
        /* Refused by both. */
        "{",
        "{\"files\"",
        "{\"files\":",
        "{\"files\":[",
        "{\"files\":[1,]}",
        "{\"files\":[1]",
        "{\"files\":[1]} x",
        "{\"files\":[1],}",
        "{,}",
        "{\"a\" \"b\"}",
        "{\"a\":}",
        "{\"a\":1 \"b\":2}",
        "{\"\\u0000\":1}",
        "{\"\xff\":1}",
        "{files:[]}",
        "[]",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        agree_str(docs[i], IGTCLOUD__JSON_STREAM_OBJECT);
}

static int count_member(const char *member, void *payload)
{
    json_array_append_new(payload, json_string(member));
    return 0;
}

static int ignore(json_t *value, const char *member, size_t index, void *payload)
{
    (void)value;
    (void)member;
    (void)index;
    (void)payload;
    return 0;
}

/* Every member's name is seen, empty arrays and repeated names included. */
static void test_json_stream__object_members(void **state)
{
    (void)state;
    const char *text = "{\"files\":[],\"dicom\":[1],\"files\":[2],\"n\":5}";
    json_t *names = json_array();
    igtcloud__json_stream s;
    igtcloud__json_stream_init(&s, IGTCLOUD__JSON_STREAM_OBJECT, "x", ignore, names);
    s.member_fn = count_member;
    for (size_t i = 0; i < strlen(text); i++)
        assert_int_equal(igtcloud__json_stream_feed(&s, text + i, 1), 0);
    assert_int_equal(igtcloud__json_stream_finish(&s), 0);
    igtcloud__json_stream_dispose(&s);
    json_t *want = json_pack("[s, s, s, s]", "files", "dicom", "files", "n");
    assert_true(json_equal(names, want));
    json_decref(want);
    json_decref(names);
}

/* ---- the spool's records ---- */

static void test_json_stream__study_records_round_trip(void **state)
{
    (void)state;
    static const char *const studies[] = {
        "{}",
        "{\"studyDatabaseId\":\"id-1\",\"studyIdHumanReadable\":\"P1/S1\",\"instituteId\":\"h\","
        "\"studyType\":\"Study\",\"s3Prefix\":\"p/\",\"studyDate\":\"2021-03-04\","
        "\"patient\":{\"patientName\":\"N \\u00e9\"}}",
        "{\"studyType\":\"EpdStudy\",\"name\":\"E\",\"datetime\":\"2021-01-01T10:00:00Z\"}",
    };
    for (size_t i = 0; i < sizeof(studies) / sizeof(studies[0]); i++) {
        igtcloud_study *a = NULL, *b = NULL;
        igtcloud__buf rec = IGTCLOUD_BUF_INIT;
        assert_int_equal(igtcloud_study_from_json(&a, studies[i], strlen(studies[i])), 0);
        assert_int_equal(igtcloud__study_pack(&rec, a), 0);
        assert_int_equal(igtcloud__study_unpack(&b, rec.ptr, rec.size), 0);
        assert_string_equal(igtcloud_study_id(a), igtcloud_study_id(b));
        assert_string_equal(igtcloud_study_human_id(a), igtcloud_study_human_id(b));
        assert_string_equal(igtcloud_study_institute_id(a), igtcloud_study_institute_id(b));
        assert_string_equal(igtcloud_study_type(a), igtcloud_study_type(b));
        assert_string_equal(igtcloud_study_s3_prefix(a), igtcloud_study_s3_prefix(b));
        assert_string_equal(igtcloud_study_key(a), igtcloud_study_key(b));
        assert_string_equal(igtcloud_study_json(a), igtcloud_study_json(b));
        int64_t da = 0, db = 0;
        assert_int_equal(igtcloud_study_date(&da, a), igtcloud_study_date(&db, b));
        assert_true(da == db);
        /* A record cut short or run on is refused, never read past. */
        for (size_t cut = 0; cut < rec.size; cut++) {
            igtcloud_study *c = NULL;
            char *copy = malloc(cut ? cut : 1);
            assert_non_null(copy);
            memcpy(copy, rec.ptr, cut);
            assert_int_equal(igtcloud__study_unpack(&c, copy, cut), IGTCLOUD_EIO);
            free(copy);
        }
        igtcloud_study *c = NULL;
        assert_int_equal(igtcloud__buf_putc(&rec, 'x'), 0);
        assert_int_equal(igtcloud__study_unpack(&c, rec.ptr, rec.size), IGTCLOUD_EIO);
        igtcloud__buf_dispose(&rec);
        igtcloud_study_free(a);
        igtcloud_study_free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_stream__arrays_agree_however_split),
        cmocka_unit_test(test_json_stream__many_entries),
        cmocka_unit_test(test_json_stream__errors_are_one_line_with_offsets),
        cmocka_unit_test(test_json_stream__callback_error_stops),
        cmocka_unit_test(test_json_stream__value_size_limit),
        cmocka_unit_test(test_json_stream__nesting_limit),
        cmocka_unit_test(test_json_stream__objects_agree_however_split),
        cmocka_unit_test(test_json_stream__object_members),
        cmocka_unit_test(test_json_stream__study_records_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
