/* s3/xml: the S3 documents the client reads, the XML it writes, hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "s3/xml.h"

#define check_ok(expr)                                                              \
    do {                                                                            \
        int check_rc_ = (expr);                                                     \
        if (check_rc_ != 0)                                                         \
            fail_msg("%s returned %d: %s", #expr, check_rc_,                        \
                     igtcloud_error_last()->message);                               \
    } while (0)

/* Expect EPROTO (or another code) with a message that mentions `needle`. */
#define check_fails(code, needle, expr)                                             \
    do {                                                                            \
        int check_rc_ = (expr);                                                     \
        const char *check_msg_ = igtcloud_error_last()->message;                    \
        if (check_rc_ != (code) || !strstr(check_msg_, (needle)))                   \
            fail_msg("%s returned %d '%s', wanted %d with '%s'", #expr, check_rc_,  \
                     check_msg_, (code), (needle));                                 \
    } while (0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define S3_NS "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""

/* ---- documents shaped like the S3 API reference examples ---- */

static const char error_no_such_key[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Error>\n"
    "  <Code>NoSuchKey</Code>\n"
    "  <Message>The resource you requested does not exist</Message>\n"
    "  <Resource>/mybucket/myfoto.jpg</Resource>\n"
    "  <RequestId>4442587FB7D0A2F9</RequestId>\n"
    "</Error>";

static const char error_bad_region[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is "
    "malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message>"
    "<Region>eu-west-1</Region><RequestId>VGY2HZ7JX6K0XT8E</RequestId>"
    "<HostId>Xy1bLGv1Jw3qgvHyTgJcx7fsHc4iVAgSkBpRAY3Uj6X7DvEnB6xxZ5Nyvk2Iw2Jb0Nn6J2JjTUw=</HostId></Error>";

static const char error_redirect[] =
    "<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must "
    "be addressed using the specified endpoint. Please send all future requests to this "
    "endpoint.</Message><Endpoint>examplebucket.s3.eu-west-1.amazonaws.com</Endpoint>"
    "<Bucket>examplebucket</Bucket><RequestId>1F2A3B4C5D6E7F80</RequestId>"
    "<HostId>dGVzdA==</HostId></Error>";

static const char error_internal[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Error>\n"
    "  <Code>InternalError</Code>\n"
    "  <Message>We encountered an internal error. Please try again.</Message>\n"
    "  <RequestId>656c76696e6727732072657175657374</RequestId>\n"
    "  <HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId>\n"
    "</Error>";

static const char initiate_doc[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<InitiateMultipartUploadResult " S3_NS ">\n"
    "  <Bucket>example-bucket</Bucket>\n"
    "  <Key>example-object</Key>\n"
    "  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>\n"
    "</InitiateMultipartUploadResult>";

static const char complete_doc[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<CompleteMultipartUploadResult " S3_NS ">\n"
    "  <Location>http://Example-Bucket.s3.Region.amazonaws.com/Example-Object</Location>\n"
    "  <Bucket>Example-Bucket</Bucket>\n"
    "  <Key>Example-Object</Key>\n"
    "  <ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag>\n"
    "</CompleteMultipartUploadResult>";

static const char list_parts_doc[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListPartsResult " S3_NS ">\n"
    "  <Bucket>example-bucket</Bucket>\n"
    "  <Key>example-object</Key>\n"
    "  <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>\n"
    "  <Initiator>\n"
    "      <ID>arn:aws:iam::111122223333:user/some-user-11116a31-17b5-4fb7-9df5-b288870f11xx</ID>\n"
    "      <DisplayName>umat-user-11116a31-17b5-4fb7-9df5-b288870f11xx</DisplayName>\n"
    "  </Initiator>\n"
    "  <Owner>\n"
    "    <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>\n"
    "    <DisplayName>someName</DisplayName>\n"
    "  </Owner>\n"
    "  <StorageClass>STANDARD</StorageClass>\n"
    "  <PartNumberMarker>1</PartNumberMarker>\n"
    "  <NextPartNumberMarker>3</NextPartNumberMarker>\n"
    "  <MaxParts>2</MaxParts>\n"
    "  <IsTruncated>true</IsTruncated>\n"
    "  <Part>\n"
    "    <PartNumber>2</PartNumber>\n"
    "    <LastModified>2010-11-10T20:48:34.000Z</LastModified>\n"
    "    <ETag>\"7778aef83f66abc1fa1e8477f296d394\"</ETag>\n"
    "    <Size>10485760</Size>\n"
    "  </Part>\n"
    "  <Part>\n"
    "    <PartNumber>3</PartNumber>\n"
    "    <LastModified>2010-11-10T20:48:33.000Z</LastModified>\n"
    "    <ETag>\"aaaa18db4cc2f85cedef654fccc4a4x8\"</ETag>\n"
    "    <Size>10485760</Size>\n"
    "  </Part>\n"
    "</ListPartsResult>";

static const char list_objects_doc[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult " S3_NS ">\n"
    "    <Name>bucket</Name>\n"
    "    <Prefix/>\n"
    "    <KeyCount>2</KeyCount>\n"
    "    <MaxKeys>1000</MaxKeys>\n"
    "    <IsTruncated>false</IsTruncated>\n"
    "    <Contents>\n"
    "        <Key>my-image.jpg</Key>\n"
    "        <LastModified>2009-10-12T17:50:30.000Z</LastModified>\n"
    "        <ETag>\"fba9dede5f27731c9771645a39863328\"</ETag>\n"
    "        <Size>434234</Size>\n"
    "        <StorageClass>STANDARD</StorageClass>\n"
    "    </Contents>\n"
    "    <Contents>\n"
    "        <Key>a &amp; b &lt;c&gt; &#x263A; &quot;q&quot; \xe1\x88\xb4.dcm</Key>\n"
    "        <LastModified>2010-11-10T20:48:34.000Z</LastModified>\n"
    "        <ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>\n"
    "        <Size>18446744073709551615</Size>\n"
    "        <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID></Owner>\n"
    "    </Contents>\n"
    "</ListBucketResult>";

static const char list_objects_delimited_doc[] =
    "<ListBucketResult " S3_NS ">"
    "<Name>example-bucket</Name><Prefix>photos/2006/</Prefix><KeyCount>3</KeyCount>"
    "<MaxKeys>3</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
    "<Contents><Key>photos/2006/index.html</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>"
    "<ETag>\"fba9dede5f27731c9771645a39863328\"</ETag><Size>0</Size></Contents>"
    "<CommonPrefixes><Prefix>photos/2006/February/</Prefix></CommonPrefixes>"
    "<CommonPrefixes><Prefix>photos/2006/January/</Prefix></CommonPrefixes>"
    "</ListBucketResult>";

static void test_s3_xml__error_documents(void **state)
{
    (void)state;
    igtcloud__xml_error e = IGTCLOUD__XML_ERROR_INIT;
    check_ok(igtcloud__xml_parse_error(&e, error_no_such_key, strlen(error_no_such_key)));
    assert_string_equal(e.code, "NoSuchKey");
    assert_string_equal(e.message, "The resource you requested does not exist");
    assert_string_equal(e.request_id, "4442587FB7D0A2F9");
    assert_null(e.host_id);
    assert_null(e.region);
    assert_null(e.endpoint);

    check_ok(igtcloud__xml_parse_error(&e, error_bad_region, strlen(error_bad_region)));
    assert_string_equal(e.code, "AuthorizationHeaderMalformed");
    assert_string_equal(e.region, "eu-west-1");
    assert_string_equal(e.request_id, "VGY2HZ7JX6K0XT8E");
    assert_non_null(strstr(e.host_id, "Xy1bLGv1"));
    assert_null(e.endpoint);

    check_ok(igtcloud__xml_parse_error(&e, error_redirect, strlen(error_redirect)));
    assert_string_equal(e.code, "PermanentRedirect");
    assert_string_equal(e.endpoint, "examplebucket.s3.eu-west-1.amazonaws.com");
    assert_null(e.region);
    igtcloud__xml_error_dispose(&e);
    igtcloud__xml_error_dispose(&e);  /* disposing twice is harmless */

    /* Ceph RGW answers with an empty Message: still an error document. */
    static const char rgw[] = "<Error><Code>SignatureDoesNotMatch</Code><Message></Message>"
                              "<RequestId>tx0000</RequestId></Error>";
    check_ok(igtcloud__xml_parse_error(&e, rgw, strlen(rgw)));
    assert_string_equal(e.message, "");
    igtcloud__xml_error_dispose(&e);

    static const char no_code[] = "<Error><Message>m</Message></Error>";
    check_fails(IGTCLOUD_EPROTO, "no Code", igtcloud__xml_parse_error(&e, no_code, strlen(no_code)));
    check_fails(IGTCLOUD_EPROTO, "expected an S3 <Error>",
                igtcloud__xml_parse_error(&e, initiate_doc, strlen(initiate_doc)));
    assert_null(e.code);
}

static void test_s3_xml__initiate_and_complete(void **state)
{
    (void)state;
    igtcloud__xml_initiate init = IGTCLOUD__XML_INITIATE_INIT;
    check_ok(igtcloud__xml_parse_initiate(&init, initiate_doc, strlen(initiate_doc)));
    assert_string_equal(init.bucket, "example-bucket");
    assert_string_equal(init.key, "example-object");
    assert_string_equal(init.upload_id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
    igtcloud__xml_initiate_dispose(&init);

    static const char no_id[] = "<InitiateMultipartUploadResult><Bucket>b</Bucket>"
                                "<UploadId></UploadId></InitiateMultipartUploadResult>";
    check_fails(IGTCLOUD_EPROTO, "no UploadId", igtcloud__xml_parse_initiate(&init, no_id, strlen(no_id)));
    static const char twice[] = "<InitiateMultipartUploadResult><UploadId>a</UploadId>"
                                "<UploadId>b</UploadId></InitiateMultipartUploadResult>";
    check_fails(IGTCLOUD_EPROTO, "given twice", igtcloud__xml_parse_initiate(&init, twice, strlen(twice)));
    assert_null(init.upload_id);

    igtcloud__xml_complete done = IGTCLOUD__XML_COMPLETE_INIT;
    check_ok(igtcloud__xml_parse_complete(&done, complete_doc, strlen(complete_doc)));
    assert_string_equal(done.location, "http://Example-Bucket.s3.Region.amazonaws.com/Example-Object");
    assert_string_equal(done.bucket, "Example-Bucket");
    assert_string_equal(done.key, "Example-Object");
    assert_string_equal(done.etag, "\"3858f62230ac3c915f300c664312c11f-9\"");
    igtcloud__xml_complete_dispose(&done);

    /* CompleteMultipartUpload can fail after the 200 status line was sent. */
    check_fails(IGTCLOUD_EPROTO, "InternalError: We encountered an internal error",
                igtcloud__xml_parse_complete(&done, error_internal, strlen(error_internal)));
    assert_null(done.etag);
}

static void test_s3_xml__list_parts(void **state)
{
    (void)state;
    igtcloud__xml_parts parts = IGTCLOUD__XML_PARTS_INIT;
    check_ok(igtcloud__xml_parse_list_parts(&parts, list_parts_doc, strlen(list_parts_doc)));
    assert_string_equal(parts.upload_id, "XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA");
    assert_true(parts.is_truncated);
    assert_int_equal(parts.next_part_number_marker, 3);
    assert_int_equal(parts.count, 2);
    assert_int_equal(parts.parts[0].part_number, 2);
    assert_string_equal(parts.parts[0].etag, "\"7778aef83f66abc1fa1e8477f296d394\"");
    assert_int_equal(parts.parts[0].size, 10485760);
    assert_int_equal(parts.parts[1].part_number, 3);
    assert_string_equal(parts.parts[1].etag, "\"aaaa18db4cc2f85cedef654fccc4a4x8\"");
    assert_null(parts.checksum_algorithm);
    assert_null(parts.parts[0].checksum_crc32c);
    igtcloud__xml_parts_dispose(&parts);

    /* An upload created with CRC32C: its algorithm, and each part's checksum. */
    static const char crc[] = "<ListPartsResult><UploadId>u</UploadId><ChecksumAlgorithm>CRC32C</ChecksumAlgorithm>"
                              "<IsTruncated>false</IsTruncated><Part><PartNumber>1</PartNumber>"
                              "<ETag>\"e\"</ETag><Size>5</Size><ChecksumCRC32C>4waSgw==</ChecksumCRC32C></Part>"
                              "<Part><PartNumber>2</PartNumber><ETag>\"f\"</ETag><Size>5</Size></Part>"
                              "</ListPartsResult>";
    check_ok(igtcloud__xml_parse_list_parts(&parts, crc, strlen(crc)));
    assert_string_equal(parts.checksum_algorithm, "CRC32C");
    assert_int_equal(parts.count, 2);
    assert_string_equal(parts.parts[0].checksum_crc32c, "4waSgw==");
    assert_null(parts.parts[1].checksum_crc32c);
    igtcloud__xml_parts_dispose(&parts);

    static const char empty[] = "<ListPartsResult><UploadId>u</UploadId>"
                                "<IsTruncated>false</IsTruncated></ListPartsResult>";
    check_ok(igtcloud__xml_parse_list_parts(&parts, empty, strlen(empty)));
    assert_int_equal(parts.count, 0);
    assert_null(parts.parts);
    igtcloud__xml_parts_dispose(&parts);

    static const struct {
        const char *doc;
        const char *message;
    } bad[] = {
        { "<ListPartsResult><IsTruncated>true</IsTruncated></ListPartsResult>", "NextPartNumberMarker" },
        { "<ListPartsResult><IsTruncated>yes</IsTruncated></ListPartsResult>", "true or false" },
        { "<ListPartsResult><Part><PartNumber>0</PartNumber><ETag>e</ETag><Size>1</Size></Part>"
          "</ListPartsResult>", "out of range" },
        { "<ListPartsResult><Part><PartNumber>10001</PartNumber><ETag>e</ETag><Size>1</Size></Part>"
          "</ListPartsResult>", "out of range" },
        { "<ListPartsResult><Part><PartNumber>1</PartNumber><ETag>e</ETag><Size>-1</Size></Part>"
          "</ListPartsResult>", "not a size" },
        { "<ListPartsResult><Part><PartNumber>1</PartNumber><ETag>e</ETag>"
          "<Size>18446744073709551616</Size></Part></ListPartsResult>", "not a size" },
        { "<ListPartsResult><Part><PartNumber>1</PartNumber><Size>1</Size></Part></ListPartsResult>",
          "without PartNumber, ETag or Size" },
        { "<ListPartsResult><Part><PartNumber> 1</PartNumber><ETag>e</ETag><Size>1</Size></Part>"
          "</ListPartsResult>", "not a size" },
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        check_fails(IGTCLOUD_EPROTO, bad[i].message,
                    igtcloud__xml_parse_list_parts(&parts, bad[i].doc, strlen(bad[i].doc)));
    assert_int_equal(parts.count, 0);
}

static void test_s3_xml__list_objects(void **state)
{
    (void)state;
    igtcloud__xml_listing l = IGTCLOUD__XML_LISTING_INIT;
    check_ok(igtcloud__xml_parse_list_objects(&l, list_objects_doc, strlen(list_objects_doc)));
    assert_string_equal(l.name, "bucket");
    assert_string_equal(l.prefix, "");
    assert_int_equal(l.key_count, 2);
    assert_false(l.is_truncated);
    assert_null(l.next_continuation_token);
    assert_int_equal(l.count, 2);
    assert_string_equal(l.objects[0].key, "my-image.jpg");
    assert_int_equal(l.objects[0].size, 434234);
    assert_string_equal(l.objects[0].etag, "\"fba9dede5f27731c9771645a39863328\"");
    assert_string_equal(l.objects[0].last_modified, "2009-10-12T17:50:30.000Z");
    assert_int_equal(l.objects[0].mtime, 1255369830);
    assert_string_equal(l.objects[1].key, "a & b <c> \xe2\x98\xba \"q\" \xe1\x88\xb4.dcm");
    assert_int_equal(l.objects[1].size, UINT64_MAX);
    assert_int_equal(l.objects[1].mtime, 1289422114);
    assert_int_equal(l.prefix_count, 0);
    igtcloud__xml_listing_dispose(&l);

    check_ok(igtcloud__xml_parse_list_objects(&l, list_objects_delimited_doc,
                                              strlen(list_objects_delimited_doc)));
    assert_true(l.is_truncated);
    assert_string_equal(l.next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    assert_string_equal(l.prefix, "photos/2006/");
    assert_int_equal(l.count, 1);
    assert_int_equal(l.objects[0].size, 0);
    assert_int_equal(l.prefix_count, 2);
    assert_string_equal(l.common_prefixes[0], "photos/2006/February/");
    assert_string_equal(l.common_prefixes[1], "photos/2006/January/");
    igtcloud__xml_listing_dispose(&l);
    assert_int_equal(l.key_count, -1);

    static const char minimal[] = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
    check_ok(igtcloud__xml_parse_list_objects(&l, minimal, strlen(minimal)));
    assert_int_equal(l.count, 0);
    assert_int_equal(l.key_count, -1);
    igtcloud__xml_listing_dispose(&l);

    static const struct {
        const char *doc;
        const char *message;
    } bad[] = {
        { "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", "NextContinuationToken" },
        { "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken/></ListBucketResult>",
          "NextContinuationToken" },
        { "<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>", "without Key or Size" },
        { "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>", "without Key or Size" },
        { "<ListBucketResult><Contents><Key>k</Key><Key>j</Key><Size>1</Size></Contents></ListBucketResult>",
          "given twice" },
        { "<ListBucketResult><Contents><Key>k</Key><Size>1</Size><LastModified>yesterday</LastModified>"
          "</Contents></ListBucketResult>", "ISO 8601" },
        { "<ListBucketResult><KeyCount>many</KeyCount></ListBucketResult>", "not a size" },
        { "<ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>", "expected an S3 <ListBucketResult>" },
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        check_fails(IGTCLOUD_EPROTO, bad[i].message,
                    igtcloud__xml_parse_list_objects(&l, bad[i].doc, strlen(bad[i].doc)));
    assert_null(l.objects);
}

/* ---- hostile input ---- */

typedef int (*parse_fn)(const char *data, size_t len);

static int parse_error_doc(const char *data, size_t len)
{
    igtcloud__xml_error r = IGTCLOUD__XML_ERROR_INIT;
    int rc = igtcloud__xml_parse_error(&r, data, len);
    igtcloud__xml_error_dispose(&r);
    return rc;
}

static int parse_initiate_doc(const char *data, size_t len)
{
    igtcloud__xml_initiate r = IGTCLOUD__XML_INITIATE_INIT;
    int rc = igtcloud__xml_parse_initiate(&r, data, len);
    igtcloud__xml_initiate_dispose(&r);
    return rc;
}

static int parse_complete_doc(const char *data, size_t len)
{
    igtcloud__xml_complete r = IGTCLOUD__XML_COMPLETE_INIT;
    int rc = igtcloud__xml_parse_complete(&r, data, len);
    igtcloud__xml_complete_dispose(&r);
    return rc;
}

static int parse_parts_doc(const char *data, size_t len)
{
    igtcloud__xml_parts r = IGTCLOUD__XML_PARTS_INIT;
    int rc = igtcloud__xml_parse_list_parts(&r, data, len);
    igtcloud__xml_parts_dispose(&r);
    return rc;
}

static int parse_listing_doc(const char *data, size_t len)
{
    igtcloud__xml_listing r = IGTCLOUD__XML_LISTING_INIT;
    int rc = igtcloud__xml_parse_list_objects(&r, data, len);
    igtcloud__xml_listing_dispose(&r);
    return rc;
}

static const struct {
    const char *doc;
    parse_fn parse;
} valid_docs[] = {
    { error_no_such_key, parse_error_doc },
    { error_bad_region, parse_error_doc },
    { initiate_doc, parse_initiate_doc },
    { complete_doc, parse_complete_doc },
    { list_parts_doc, parse_parts_doc },
    { list_objects_doc, parse_listing_doc },
    { list_objects_delimited_doc, parse_listing_doc },
};

static void test_s3_xml__truncated_documents(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(valid_docs); i++) {
        size_t len = strlen(valid_docs[i].doc);
        check_ok(valid_docs[i].parse(valid_docs[i].doc, len));
        /* Every proper prefix is refused (the documents end with their root's end tag). */
        for (size_t cut = 0; cut < len; cut++) {
            int rc = valid_docs[i].parse(valid_docs[i].doc, cut);
            if (rc != IGTCLOUD_EPROTO)
                fail_msg("document %zu cut at %zu gave %d", i, cut, rc);
        }
    }
    check_fails(IGTCLOUD_EPROTO, "empty body", parse_listing_doc(NULL, 0));
    check_fails(IGTCLOUD_EPROTO, "malformed S3 XML", parse_listing_doc("<ListBucketResult>", 18));
    check_fails(IGTCLOUD_EPROTO, "malformed S3 XML", parse_listing_doc("not xml at all", 14));
    static const char embedded_nul[] = "<Error><Code>A\0B</Code></Error>";
    check_fails(IGTCLOUD_EPROTO, "malformed S3 XML",
                parse_error_doc(embedded_nul, sizeof(embedded_nul) - 1));
}

static void test_s3_xml__deep_nesting(void **state)
{
    (void)state;
    igtcloud__buf doc = IGTCLOUD_BUF_INIT;
    check_ok(igtcloud__buf_puts(&doc, "<ListBucketResult>"));
    for (int i = 0; i < 100000; i++)
        check_ok(igtcloud__buf_puts(&doc, "<a>"));
    check_fails(IGTCLOUD_EPROTO, "nested deeper", parse_listing_doc(doc.ptr, doc.size));

    /* Sixteen levels are allowed, seventeen are not. */
    igtcloud__buf_clear(&doc);
    check_ok(igtcloud__buf_puts(&doc, "<Error><Code>c</Code>"));
    for (int i = 1; i < IGTCLOUD_XML_MAX_DEPTH; i++)
        check_ok(igtcloud__buf_puts(&doc, "<x>"));
    for (int i = 1; i < IGTCLOUD_XML_MAX_DEPTH; i++)
        check_ok(igtcloud__buf_puts(&doc, "</x>"));
    check_ok(igtcloud__buf_puts(&doc, "</Error>"));
    check_ok(parse_error_doc(doc.ptr, doc.size));
    igtcloud__buf_clear(&doc);
    check_ok(igtcloud__buf_puts(&doc, "<Error><Code>c</Code>"));
    for (int i = 0; i < IGTCLOUD_XML_MAX_DEPTH; i++)
        check_ok(igtcloud__buf_puts(&doc, "<x>"));
    for (int i = 0; i < IGTCLOUD_XML_MAX_DEPTH; i++)
        check_ok(igtcloud__buf_puts(&doc, "</x>"));
    check_ok(igtcloud__buf_puts(&doc, "</Error>"));
    check_fails(IGTCLOUD_EPROTO, "nested deeper", parse_error_doc(doc.ptr, doc.size));
    igtcloud__buf_dispose(&doc);
}

static void test_s3_xml__huge_counts_and_lengths(void **state)
{
    (void)state;
    igtcloud__buf doc = IGTCLOUD_BUF_INIT;

    /* The most objects one page may hold parse; one more is refused. */
    check_ok(igtcloud__buf_puts(&doc, "<ListBucketResult>"));
    for (int i = 0; i < IGTCLOUD_XML_MAX_ITEMS; i++)
        check_ok(igtcloud__buf_printf(&doc, "<Contents><Key>k%d</Key><Size>%d</Size></Contents>", i, i));
    igtcloud__buf tail = IGTCLOUD_BUF_INIT;
    check_ok(igtcloud__buf_put(&tail, doc.ptr, doc.size));
    check_ok(igtcloud__buf_puts(&doc, "</ListBucketResult>"));
    igtcloud__xml_listing l = IGTCLOUD__XML_LISTING_INIT;
    check_ok(igtcloud__xml_parse_list_objects(&l, doc.ptr, doc.size));
    assert_int_equal(l.count, IGTCLOUD_XML_MAX_ITEMS);
    assert_string_equal(l.objects[IGTCLOUD_XML_MAX_ITEMS - 1].key, "k9999");
    igtcloud__xml_listing_dispose(&l);
    check_ok(igtcloud__buf_puts(&tail, "<Contents><Key>x</Key><Size>1</Size></Contents></ListBucketResult>"));
    check_fails(IGTCLOUD_EPROTO, "more than 10000 objects", parse_listing_doc(tail.ptr, tail.size));
    igtcloud__buf_dispose(&tail);

    /* Too many parts and common prefixes. */
    igtcloud__buf_clear(&doc);
    check_ok(igtcloud__buf_puts(&doc, "<ListPartsResult>"));
    for (int i = 0; i <= IGTCLOUD_XML_MAX_ITEMS; i++)
        check_ok(igtcloud__buf_puts(&doc, "<Part><PartNumber>1</PartNumber><ETag>e</ETag><Size>1</Size></Part>"));
    check_ok(igtcloud__buf_puts(&doc, "</ListPartsResult>"));
    check_fails(IGTCLOUD_EPROTO, "more than 10000 parts", parse_parts_doc(doc.ptr, doc.size));
    igtcloud__buf_clear(&doc);
    check_ok(igtcloud__buf_puts(&doc, "<ListBucketResult>"));
    for (int i = 0; i <= IGTCLOUD_XML_MAX_ITEMS; i++)
        check_ok(igtcloud__buf_puts(&doc, "<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes>"));
    check_ok(igtcloud__buf_puts(&doc, "</ListBucketResult>"));
    check_fails(IGTCLOUD_EPROTO, "more than 10000 common prefixes", parse_listing_doc(doc.ptr, doc.size));

    /* Unknown elements count too: an answer cannot be made of a million empty tags. */
    igtcloud__buf_clear(&doc);
    check_ok(igtcloud__buf_puts(&doc, "<Error><Code>c</Code>"));
    for (int i = 0; i < 200001; i++)
        check_ok(igtcloud__buf_puts(&doc, "<x/>"));
    check_ok(igtcloud__buf_puts(&doc, "</Error>"));
    check_fails(IGTCLOUD_EPROTO, "XML elements", parse_error_doc(doc.ptr, doc.size));

    /* Text of one element is bounded, however it is split into character data. */
    igtcloud__buf_clear(&doc);
    check_ok(igtcloud__buf_puts(&doc, "<Error><Code>c</Code><Message>"));
    for (unsigned i = 0; i <= IGTCLOUD_XML_MAX_TEXT; i++)
        check_ok(igtcloud__buf_puts(&doc, i % 100 ? "m" : "&amp;"));
    check_ok(igtcloud__buf_puts(&doc, "</Message></Error>"));
    check_fails(IGTCLOUD_EPROTO, "longer than", parse_error_doc(doc.ptr, doc.size));

    /* And so is the document. */
    check_fails(IGTCLOUD_EPROTO, "larger than", parse_error_doc(doc.ptr, IGTCLOUD_XML_MAX_DOCUMENT + 1u));
    igtcloud__buf_dispose(&doc);
}

static void test_s3_xml__doctype_and_entities_refused(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
        "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
        "<Error><Code>&lol3;</Code></Error>",
        "<?xml version=\"1.0\"?><!DOCTYPE Error SYSTEM \"file:///etc/passwd\"><Error><Code>c</Code></Error>",
        "<!DOCTYPE Error [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><Error><Code>&xxe;</Code></Error>",
    };
    for (size_t i = 0; i < ARRAY_LEN(docs); i++)
        check_fails(IGTCLOUD_EPROTO, "DOCTYPE", parse_error_doc(docs[i], strlen(docs[i])));
    static const char undefined[] = "<Error><Code>&nope;</Code></Error>";
    check_fails(IGTCLOUD_EPROTO, "malformed", parse_error_doc(undefined, strlen(undefined)));
}

/* ---- writers ---- */

static void test_s3_xml__escape(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } ok[] = {
        { "plain/key.dcm", "plain/key.dcm" },
        { "a&b<c>\"d'e", "a&amp;b&lt;c&gt;&quot;d&apos;e" },
        { "cr\rlf\ntab\t", "cr&#13;lf\ntab\t" },
        { "\xe1\x88\xb4 \xf0\x9f\x98\x80 \xc3\xa9", "\xe1\x88\xb4 \xf0\x9f\x98\x80 \xc3\xa9" },
        { "", "" },
    };
    for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
        igtcloud__buf out = IGTCLOUD_BUF_INIT;
        check_ok(igtcloud__xml_escape(&out, ok[i].in, strlen(ok[i].in)));
        assert_string_equal(igtcloud__buf_cstr(&out), ok[i].out);
        igtcloud__buf_dispose(&out);
    }
    static const char *const bad[] = {
        "\x01", "nul\x1f", "\x7f\xff", "\xc0\x80", "\xc1\xbf", "\xed\xa0\x80", "\xef\xbf\xbf",
        "\xef\xbf\xbe", "\xf4\x90\x80\x80", "\xe1\x88", "\x80", "\xf8\x88\x80\x80\x80",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        igtcloud__buf out = IGTCLOUD_BUF_INIT;
        check_ok(igtcloud__buf_puts(&out, "keep"));
        if (igtcloud__xml_escape(&out, bad[i], strlen(bad[i])) != IGTCLOUD_EINVALID)
            fail_msg("bad case %zu was escaped", i);
        assert_string_equal(out.ptr, "keep");
        igtcloud__buf_dispose(&out);
    }
    /* A NUL inside the range is refused too (length-based input). */
    igtcloud__buf out = IGTCLOUD_BUF_INIT;
    assert_int_equal(igtcloud__xml_escape(&out, "a\0b", 3), IGTCLOUD_EINVALID);
    assert_int_equal(igtcloud__xml_put_element(&out, "Key", "\x01"), IGTCLOUD_EINVALID);
    assert_string_equal(igtcloud__buf_cstr(&out), "");
    igtcloud__buf_dispose(&out);
}

static void test_s3_xml__escape_round_trips_through_the_parser(void **state)
{
    (void)state;
    static const char *const keys[] = {
        "a&b<c>\"d'e", "line\r\nbreak\rcr", "  spaced  ", "]]>", "&amp;", "\xe1\x88\xb4/\xf0\x9f\x98\x80",
    };
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        igtcloud__buf doc = IGTCLOUD_BUF_INIT;
        igtcloud__xml_listing l = IGTCLOUD__XML_LISTING_INIT;
        check_ok(igtcloud__buf_puts(&doc, "<ListBucketResult><Contents>"));
        check_ok(igtcloud__xml_put_element(&doc, "Key", keys[i]));
        check_ok(igtcloud__buf_puts(&doc, "<Size>1</Size></Contents></ListBucketResult>"));
        check_ok(igtcloud__xml_parse_list_objects(&l, doc.ptr, doc.size));
        assert_int_equal(l.count, 1);
        assert_string_equal(l.objects[0].key, keys[i]);
        igtcloud__xml_listing_dispose(&l);
        igtcloud__buf_dispose(&doc);
    }
}

static void test_s3_xml__write_complete(void **state)
{
    (void)state;
    igtcloud__xml_part parts[] = {
        { 1, "\"a54357aff0632cce46d942af68356b38\"", 5242880, NULL },
        { 2, "\"0c78aef83f66abc1fa1e8477f296d394\"", 5242880, NULL },
        { 3, "\"acbd18db4cc2f85cedef654fccc4a4d8\"", 1024, NULL },
    };
    igtcloud__buf out = IGTCLOUD_BUF_INIT;
    check_ok(igtcloud__xml_write_complete(&out, parts, 3));
    assert_string_equal(out.ptr,
                        "<CompleteMultipartUpload " S3_NS ">"
                        "<Part><PartNumber>1</PartNumber><ETag>&quot;a54357aff0632cce46d942af68356b38&quot;</ETag></Part>"
                        "<Part><PartNumber>2</PartNumber><ETag>&quot;0c78aef83f66abc1fa1e8477f296d394&quot;</ETag></Part>"
                        "<Part><PartNumber>3</PartNumber><ETag>&quot;acbd18db4cc2f85cedef654fccc4a4d8&quot;</ETag></Part>"
                        "</CompleteMultipartUpload>");
    igtcloud__buf_clear(&out);

    igtcloud__xml_part unordered[] = { { 2, "e", 1, NULL }, { 1, "e", 1, NULL } };
    igtcloud__xml_part repeated[] = { { 1, "e", 1, NULL }, { 1, "e", 1, NULL } };
    igtcloud__xml_part zero[] = { { 0, "e", 1, NULL } };
    igtcloud__xml_part too_big[] = { { 10001, "e", 1, NULL } };
    igtcloud__xml_part no_etag[] = { { 1, "", 1, NULL } };
    igtcloud__xml_part bad_etag[] = { { 1, "\x02", 1, NULL } };
    check_fails(IGTCLOUD_EINVALID, "ascending", igtcloud__xml_write_complete(&out, unordered, 2));
    check_fails(IGTCLOUD_EINVALID, "ascending", igtcloud__xml_write_complete(&out, repeated, 2));
    check_fails(IGTCLOUD_EINVALID, "ascending", igtcloud__xml_write_complete(&out, zero, 1));
    check_fails(IGTCLOUD_EINVALID, "ascending", igtcloud__xml_write_complete(&out, too_big, 1));
    check_fails(IGTCLOUD_EINVALID, "no ETag", igtcloud__xml_write_complete(&out, no_etag, 1));
    check_fails(IGTCLOUD_EINVALID, "XML 1.0", igtcloud__xml_write_complete(&out, bad_etag, 1));
    check_fails(IGTCLOUD_EINVALID, "1 to 10000 parts", igtcloud__xml_write_complete(&out, parts, 0));
    assert_string_equal(igtcloud__buf_cstr(&out), "");
    igtcloud__buf_dispose(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3_xml__error_documents),
        cmocka_unit_test(test_s3_xml__initiate_and_complete),
        cmocka_unit_test(test_s3_xml__list_parts),
        cmocka_unit_test(test_s3_xml__list_objects),
        cmocka_unit_test(test_s3_xml__truncated_documents),
        cmocka_unit_test(test_s3_xml__deep_nesting),
        cmocka_unit_test(test_s3_xml__huge_counts_and_lengths),
        cmocka_unit_test(test_s3_xml__doctype_and_entities_refused),
        cmocka_unit_test(test_s3_xml__escape),
        cmocka_unit_test(test_s3_xml__escape_round_trips_through_the_parser),
        cmocka_unit_test(test_s3_xml__write_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
