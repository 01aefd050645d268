/* The S3 endpoint's pure parts: URI, query, operation, Range, CompleteMultipartUpload, fault rules, CRC32C, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "faults.h"
#include "s3_body.h"
#include "s3_errors.h"
#include "s3_meta.h"
#include "s3_parse.h"

static void test_sandbox_s3_parse__uri_split(void **state)
{
    (void)state;
    char bucket[64], key[256];
    const char *query = NULL;
    assert_int_equal(sandbox_s3_uri_split("/b/a%20b/c%2Bd.txt?x=1", bucket, sizeof(bucket), key,
                                          sizeof(key), &query), 0);
    assert_string_equal(bucket, "b");
    assert_string_equal(key, "a b/c+d.txt");
    assert_string_equal(query, "x=1");
    assert_int_equal(sandbox_s3_uri_split("/b", bucket, sizeof(bucket), key, sizeof(key), &query),
                     0);
    assert_string_equal(key, "");
    assert_string_equal(query, "");
    assert_int_equal(sandbox_s3_uri_split("/", bucket, sizeof(bucket), key, sizeof(key), &query),
                     0);
    assert_string_equal(bucket, "");
    /* '+' in a path is a plus; encoded NULs and broken escapes are refused. */
    assert_int_equal(sandbox_s3_uri_split("/b/a+b", bucket, sizeof(bucket), key, sizeof(key),
                                          &query), 0);
    assert_string_equal(key, "a+b");
    assert_int_equal(sandbox_s3_uri_split("/b/a%00", bucket, sizeof(bucket), key, sizeof(key),
                                          &query), -1);
    assert_int_equal(sandbox_s3_uri_split("/b/a%4", bucket, sizeof(bucket), key, sizeof(key),
                                          &query), -1);
    assert_int_equal(sandbox_s3_uri_split("/b/a%zz", bucket, sizeof(bucket), key, sizeof(key),
                                          &query), -1);
    assert_int_equal(sandbox_s3_uri_split("b/a", bucket, sizeof(bucket), key, sizeof(key),
                                          &query), -1);
    assert_int_equal(sandbox_s3_uri_split("/b/0123456789", bucket, sizeof(bucket), key, 8,
                                          &query), -1);
}

static void test_sandbox_s3_parse__query_and_classify(void **state)
{
    (void)state;
    sandbox_s3_query q;
    assert_int_equal(sandbox_s3_query_parse(&q, "uploads&prefix=a%2Fb+c&list-type=2"), 0);
    assert_int_equal(q.count, 3);
    assert_string_equal(sandbox_s3_query_get(&q, "uploads"), "");
    assert_string_equal(sandbox_s3_query_get(&q, "prefix"), "a/b c");
    assert_null(sandbox_s3_query_get(&q, "delimiter"));

    struct { const char *method, *bucket, *key, *query; int copy; sandbox_s3_op op; } cases[] = {
        { "GET", "", "", "", 0, SANDBOX_S3_OP_LIST_BUCKETS },
        { "HEAD", "b", "", "", 0, SANDBOX_S3_OP_HEAD_BUCKET },
        { "GET", "b", "", "list-type=2", 0, SANDBOX_S3_OP_LIST_OBJECTS_V2 },
        { "GET", "b", "", "", 0, SANDBOX_S3_OP_NOT_IMPLEMENTED },        /* ListObjects v1 */
        { "GET", "b", "", "list-type=2&acl", 0, SANDBOX_S3_OP_NOT_IMPLEMENTED },
        { "GET", "b", "k", "", 0, SANDBOX_S3_OP_GET_OBJECT },
        { "HEAD", "b", "k", "", 0, SANDBOX_S3_OP_HEAD_OBJECT },
        { "PUT", "b", "k", "", 0, SANDBOX_S3_OP_PUT_OBJECT },
        { "PUT", "b", "k", "", 1, SANDBOX_S3_OP_NOT_IMPLEMENTED },       /* CopyObject */
        { "DELETE", "b", "k", "", 0, SANDBOX_S3_OP_DELETE_OBJECT },
        { "POST", "b", "k", "uploads", 0, SANDBOX_S3_OP_CREATE_MULTIPART_UPLOAD },
        { "PUT", "b", "k", "partNumber=1&uploadId=u", 0, SANDBOX_S3_OP_UPLOAD_PART },
        { "PUT", "b", "k", "partNumber=1&uploadId=u", 1, SANDBOX_S3_OP_NOT_IMPLEMENTED },
        { "POST", "b", "k", "uploadId=u", 0, SANDBOX_S3_OP_COMPLETE_MULTIPART_UPLOAD },
        { "DELETE", "b", "k", "uploadId=u", 0, SANDBOX_S3_OP_ABORT_MULTIPART_UPLOAD },
        { "GET", "b", "k", "uploadId=u", 0, SANDBOX_S3_OP_LIST_PARTS },
        { "GET", "b", "k", "tagging", 0, SANDBOX_S3_OP_NOT_IMPLEMENTED },
        { "PATCH", "b", "k", "", 0, SANDBOX_S3_OP_UNKNOWN },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(sandbox_s3_query_parse(&q, cases[i].query), 0);
        assert_int_equal(sandbox_s3_classify(cases[i].method, cases[i].bucket, cases[i].key, &q,
                                             cases[i].copy), cases[i].op);
    }
    assert_string_equal(sandbox_s3_op_name(SANDBOX_S3_OP_UPLOAD_PART), "UploadPart");
    assert_string_equal(sandbox_s3_op_name((sandbox_s3_op)999), "Unknown");
}

static void test_sandbox_s3_parse__range(void **state)
{
    (void)state;
    struct { const char *header; unsigned long long size; int result;
             unsigned long long first, last; } cases[] = {
        { NULL, 10, SANDBOX_S3_RANGE_NONE, 0, 0 },
        { "bytes=0-0", 10, SANDBOX_S3_RANGE_OK, 0, 0 },
        { "bytes=2-5", 10, SANDBOX_S3_RANGE_OK, 2, 5 },
        { "bytes=2-", 10, SANDBOX_S3_RANGE_OK, 2, 9 },
        { "bytes=-3", 10, SANDBOX_S3_RANGE_OK, 7, 9 },
        { "bytes=-30", 10, SANDBOX_S3_RANGE_OK, 0, 9 },
        { "bytes=5-100", 10, SANDBOX_S3_RANGE_OK, 5, 9 },
        { "bytes=10-", 10, SANDBOX_S3_RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=-0", 10, SANDBOX_S3_RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=0-", 0, SANDBOX_S3_RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=5-2", 10, SANDBOX_S3_RANGE_NONE, 0, 0 },
        { "bytes=0-1,3-4", 10, SANDBOX_S3_RANGE_NONE, 0, 0 },
        { "bytes=a-b", 10, SANDBOX_S3_RANGE_NONE, 0, 0 },
        { "bytes=+1-2", 10, SANDBOX_S3_RANGE_NONE, 0, 0 },
        { "bytes=99999999999999999999-", 10, SANDBOX_S3_RANGE_NONE, 0, 0 },
        { "pages=1-2", 10, SANDBOX_S3_RANGE_NONE, 0, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned long long first = 0, last = 0;
        int r = sandbox_s3_parse_range(cases[i].header, cases[i].size, &first, &last);
        assert_int_equal(r, cases[i].result);
        if (r == SANDBOX_S3_RANGE_OK) {
            assert_int_equal(first, cases[i].first);
            assert_int_equal(last, cases[i].last);
        }
    }
}

static void test_sandbox_s3_parse__complete_body(void **state)
{
    (void)state;
    const char *xml = "<?xml version=\"1.0\"?><CompleteMultipartUpload xmlns=\"http://s3."
                      "amazonaws.com/doc/2006-03-01/\"><Part><ETag>\"aa\"</ETag>"
                      "<PartNumber> 1 </PartNumber></Part><Part><PartNumber>3</PartNumber>"
                      "<ETag>&quot;bb&quot;</ETag><ChecksumCRC32C>x</ChecksumCRC32C></Part>"
                      "</CompleteMultipartUpload>";
    sandbox_s3_part_ref *parts = NULL;
    size_t n = 0;
    assert_int_equal(sandbox_s3_parse_complete(&parts, &n, xml, strlen(xml)), 0);
    assert_int_equal(n, 2);
    assert_int_equal(parts[0].number, 1);
    assert_string_equal(parts[0].etag, "aa");
    assert_int_equal(parts[1].number, 3);
    assert_string_equal(parts[1].etag, "bb");
    assert_string_equal(parts[0].crc32c, "");
    assert_string_equal(parts[1].crc32c, "x");
    free(parts);

    /* A part's ChecksumCRC32C, trimmed; one too long for any CRC is kept as one that matches none. */
    const char *checked = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
                          "<ETag>a</ETag><ChecksumCRC32C> 4waSgw==\n</ChecksumCRC32C>"
                          "<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part><Part><PartNumber>2"
                          "</PartNumber><ETag>b</ETag><ChecksumCRC32C>"
                          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                          "</ChecksumCRC32C></Part><Part><PartNumber>3</PartNumber><ETag>c</ETag>"
                          "<ChecksumCRC32C>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==</ChecksumCRC32C>"
                          "</Part></CompleteMultipartUpload>";
    assert_int_equal(sandbox_s3_parse_complete(&parts, &n, checked, strlen(checked)), 0);
    assert_int_equal(n, 3);
    assert_string_equal(parts[0].crc32c, "4waSgw==");
    assert_string_equal(parts[1].crc32c, "?");
    assert_int_equal(strlen(parts[2].crc32c), sizeof(parts[2].crc32c) - 1);
    free(parts);
    const char *bad[] = {
        "<CompleteMultipartUpload></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>a</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>a</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<Other><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></Other>",
        "<CompleteMultipartUpload><Part>",
        "not xml",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sandbox_s3_parse_complete(&parts, &n, bad[i], strlen(bad[i])), -1);
}

static char fire_pattern(sandbox_faults *f, const char *op, const char *key)
{
    sandbox_fault_effect e;
    char label[64];
    return sandbox_faults_match(f, op, "GET", key, &e, label, sizeof(label)) ? 'X' : '.';
}

static void test_sandbox_s3_parse__fault_rules(void **state)
{
    (void)state;
    sandbox_faults *f = NULL;
    char err[256], pattern[32];
    assert_int_equal(sandbox_faults_new(&f), 0);
    assert_int_equal(sandbox_faults_add_json(f, "[{\"operation\": \"GetObject\", \"nth\": 2,"
                                             " \"key\": \"a/*\", \"effect\": \"close\"},"
                                             " {\"every\": 3, \"effect\": \"error\"}]",
                                             strlen("[{\"operation\": \"GetObject\", \"nth\": 2,"
                                                    " \"key\": \"a/*\", \"effect\": \"close\"},"
                                                    " {\"every\": 3, \"effect\": \"error\"}]"),
                                             err, sizeof(err)), 2);
    for (int i = 0; i < 6; i++)
        pattern[i] = fire_pattern(f, "GetObject", "a/b/c");
    pattern[6] = '\0';
    /* Rule 1 fires on the 2nd; rule 2 counts every request and fires on the 3rd and 6th. */
    assert_string_equal(pattern, ".XX..X");
    json_t *list = sandbox_faults_list(f);
    json_t *r1 = json_array_get(json_object_get(list, "rules"), 0);
    assert_int_equal(json_integer_value(json_object_get(r1, "matched")), 6);
    assert_int_equal(json_integer_value(json_object_get(r1, "fired")), 1);
    json_decref(list);
    sandbox_faults_clear(f);
    assert_int_equal(fire_pattern(f, "GetObject", "a/b"), '.');

    const char *prob = "{\"seed\": 9, \"rules\": [{\"probability\": 0.3, \"effect\": \"close\"}]}";
    char first[65], second[65];
    for (int round = 0; round < 2; round++) {
        sandbox_faults_clear(f);
        assert_int_equal(sandbox_faults_add_json(f, prob, strlen(prob), err, sizeof(err)), 1);
        for (int i = 0; i < 64; i++)
            (round ? second : first)[i] = fire_pattern(f, "PutObject", "k");
        (round ? second : first)[64] = '\0';
    }
    assert_string_equal(first, second);
    assert_non_null(strchr(first, 'X'));
    assert_non_null(strchr(first, '.'));

    const char *bad[] = {
        "{\"effect\": \"boom\"}", "{\"nth\": 1}", "{\"nth\": 1, \"every\": 2, \"effect\": \"close\"}",
        "{\"probability\": 2, \"effect\": \"close\"}", "{\"effect\": \"error\", \"status\": 200}",
        "{\"effect\": \"delay\", \"where\": \"middle\"}", "{\"efect\": \"close\"}", "[1]", "{",
        "{\"rules\": {}}", "{\"effect\": \"delay\", \"ms\": 9999999}",
        /* Typos that would otherwise match nothing, silently. */
        "{\"operation\": \"GetObjects\", \"effect\": \"close\"}",
        "{\"operation\": \"getobject\", \"effect\": \"close\"}",
        "{\"method\": \"get\", \"effect\": \"close\"}",
        "{\"method\": \"PATCH\", \"effect\": \"close\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sandbox_faults_add_json(f, bad[i], strlen(bad[i]), err, sizeof(err)), -1);
    const char *nope = "{\"operation\": \"Nope\", \"effect\": \"close\"}";
    assert_int_equal(sandbox_faults_add_json(f, nope, strlen(nope), err, sizeof(err)), -1);
    assert_string_equal(err, "rule 1: unknown operation 'Nope' (GetObject, PutObject, "
                             "UploadPart, ...: see docs/sandbox-faults.md)");
    /* A method alone matches every operation of that method, and only those. */
    sandbox_faults_clear(f);
    const char *head = "{\"method\": \"HEAD\", \"effect\": \"close\"}";
    assert_int_equal(sandbox_faults_add_json(f, head, strlen(head), err, sizeof(err)), 1);
    sandbox_fault_effect m;
    char mlabel[64];
    assert_int_equal(sandbox_faults_match(f, "GetObject", "GET", "k", &m, mlabel,
                                          sizeof(mlabel)), 0);
    assert_int_equal(sandbox_faults_match(f, "HeadObject", "HEAD", "k", &m, mlabel,
                                          sizeof(mlabel)), 1);
    assert_int_equal(sandbox_faults_match(f, "HeadBucket", "HEAD", "", &m, mlabel,
                                          sizeof(mlabel)), 1);
    /* Defaults: a code gives its status, a status its code. */
    sandbox_faults_clear(f);
    const char *e1 = "{\"effect\": \"error\", \"code\": \"ExpiredToken\"}";
    assert_int_equal(sandbox_faults_add_json(f, e1, strlen(e1), err, sizeof(err)), 1);
    sandbox_fault_effect e;
    char label[64];
    assert_int_equal(sandbox_faults_match(f, "GetObject", "GET", "", &e, label, sizeof(label)), 1);
    assert_int_equal(e.status, 400);
    assert_string_equal(label, "rule 6: error 400 ExpiredToken");
    sandbox_faults_free(f);
}

static void test_sandbox_s3_parse__crc32c_and_errors(void **state)
{
    (void)state;
    assert_int_equal(sandbox_crc32c(0, "123456789", 9), 0xE3069283u);
    uint32_t c = sandbox_crc32c(0, "1234", 4);
    assert_int_equal(sandbox_crc32c(c, "56789", 5), 0xE3069283u);
    assert_int_equal(sandbox_crc32c(0, "", 0), 0);

    assert_int_equal(sandbox_s3_error_lookup("NoSuchKey").status, 404);
    assert_int_equal(sandbox_s3_error_lookup("InvalidRange").status, 416);
    assert_int_equal(sandbox_s3_error_lookup("SlowDown").status, 503);
    assert_int_equal(sandbox_s3_error_lookup("ExpiredToken").status, 400);
    assert_int_equal(sandbox_s3_error_lookup("Whatever").status, 500);
    igtcloud__buf out = IGTCLOUD_BUF_INIT;
    assert_int_equal(sandbox_s3_error_xml(&out, "NoSuchKey", "a <b> & \"c\"", "/b/k", "RID"), 0);
    assert_non_null(strstr(out.ptr, "<Code>NoSuchKey</Code>"));
    assert_non_null(strstr(out.ptr, "<Message>a &lt;b&gt; &amp; &quot;c&quot;</Message>"));
    assert_non_null(strstr(out.ptr, "<RequestId>RID</RequestId>"));
    igtcloud__buf_dispose(&out);
    char etag[72];
    sandbox_s3_etag_unquote(etag, sizeof(etag), "W/\"abc\"");
    assert_string_equal(etag, "abc");
    sandbox_s3_etag_unquote(etag, sizeof(etag), "abc");
    assert_string_equal(etag, "abc");
}

/* A multipart object's part sizes are kept as runs, and part N found in them. */
static void test_sandbox_s3_parse__part_runs(void **state)
{
    (void)state;
    igtcloud__buf runs = IGTCLOUD_BUF_INIT;
    const unsigned long long sizes[] = { 8, 8, 8, 5, 7, 7, 3 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        assert_int_equal(sandbox_s3_parts_add(&runs, sizes[i]), 0);
    assert_string_equal(igtcloud__buf_cstr(&runs), "8*3,5,7*2,3");
    unsigned long long first = 0, length = 0, at = 0;
    unsigned long count = 0;
    for (unsigned long n = 1; n <= 7; n++) {
        assert_int_equal(sandbox_s3_parts_find(runs.ptr, n, &first, &length, &count), 0);
        assert_int_equal(first, at);
        assert_int_equal(length, sizes[n - 1]);
        assert_int_equal(count, 7);
        at += sizes[n - 1];
    }
    assert_int_equal(sandbox_s3_parts_find(runs.ptr, 8, &first, &length, &count), 1);
    assert_int_equal(count, 7);
    assert_int_equal(sandbox_s3_parts_find("", 1, &first, &length, &count), 1);
    static const char *const bad[] = { "x", "8*", "8*0", "8,", ",8", "8*3;5", "1*10001", "-1",
                                       "99999999999999999999999,5", "18446744073709551615,1",
                                       "9223372036854775808*2" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sandbox_s3_parts_find(bad[i], 1, &first, &length, &count), -1);
    igtcloud__buf_dispose(&runs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sandbox_s3_parse__uri_split),
        cmocka_unit_test(test_sandbox_s3_parse__query_and_classify),
        cmocka_unit_test(test_sandbox_s3_parse__range),
        cmocka_unit_test(test_sandbox_s3_parse__complete_body),
        cmocka_unit_test(test_sandbox_s3_parse__fault_rules),
        cmocka_unit_test(test_sandbox_s3_parse__crc32c_and_errors),
        cmocka_unit_test(test_sandbox_s3_parse__part_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
