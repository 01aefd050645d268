/* s3/endpoint: where requests go and which region signs them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/error.h"
#include "s3/endpoint.h"

static void test_s3_endpoint__resolution_order(void **state)
{
    (void)state;
    igtcloud__endpoint ep;
    igtcloud__endpoint_inputs in = { "http://opt:1/", "http://envs3:2", "http://env:3",
                                     "http://creds:4", NULL, "eu-west-1", "us-west-2", NULL };
    assert_int_equal(igtcloud__endpoint_resolve(&ep, &in), 0);
    assert_string_equal(ep.base, "http://opt:1");
    assert_true(ep.path_style);
    /* A custom endpoint signs with the credentials' region before AWS_REGION. */
    assert_string_equal(ep.region, "eu-west-1");
    in.option_endpoint = NULL;
    assert_int_equal(igtcloud__endpoint_resolve(&ep, &in), 0);
    assert_string_equal(ep.base, "http://envs3:2");
    in.env_endpoint_s3 = "";
    assert_int_equal(igtcloud__endpoint_resolve(&ep, &in), 0);
    assert_string_equal(ep.base, "http://env:3");
    in.env_endpoint = NULL;
    assert_int_equal(igtcloud__endpoint_resolve(&ep, &in), 0);
    assert_string_equal(ep.base, "http://creds:4");
    in.option_region = "ap-south-1";
    assert_int_equal(igtcloud__endpoint_resolve(&ep, &in), 0);
    assert_string_equal(ep.region, "ap-south-1");

    /* AWS: virtual-hosted; the remembered region beats AWS_REGION. */
    igtcloud__endpoint_inputs aws = { NULL, NULL, NULL, "", NULL, NULL, "us-west-2", NULL };
    assert_int_equal(igtcloud__endpoint_resolve(&ep, &aws), 0);
    assert_string_equal(ep.base, "");
    assert_false(ep.path_style);
    assert_string_equal(ep.region, "us-west-2");
    aws.remembered_region = "eu-central-1";
    assert_int_equal(igtcloud__endpoint_resolve(&ep, &aws), 0);
    assert_string_equal(ep.region, "eu-central-1");
    aws.remembered_region = NULL;
    aws.env_region = NULL;
    assert_int_equal(igtcloud__endpoint_resolve(&ep, &aws), 0);
    assert_string_equal(ep.region, "us-east-1");
    assert_false(ep.region_known);

    igtcloud__endpoint_inputs bad = { "ftp://x", NULL, NULL, NULL, NULL, NULL, NULL, NULL };
    assert_int_equal(igtcloud__endpoint_resolve(&ep, &bad), IGTCLOUD_EINVALID);
    bad.option_endpoint = "http://x";
    bad.option_region = "eu west";
    assert_int_equal(igtcloud__endpoint_resolve(&ep, &bad), IGTCLOUD_EINVALID);
}

static void test_s3_endpoint__urls(void **state)
{
    (void)state;
    igtcloud__buf url = IGTCLOUD_BUF_INIT, host = IGTCLOUD_BUF_INIT, path = IGTCLOUD_BUF_INIT;
    igtcloud__endpoint ep;
    igtcloud__endpoint_inputs in = { "http://127.0.0.1:9000/s3", NULL, NULL, NULL, NULL, NULL, NULL, NULL };
    assert_int_equal(igtcloud__endpoint_resolve(&ep, &in), 0);
    assert_int_equal(igtcloud__endpoint_url(&url, &host, &path, &ep, "bkt", "a b/c+d~é.dcm",
                                            "uploadId=x"), 0);
    assert_string_equal(host.ptr, "127.0.0.1:9000");
    assert_string_equal(path.ptr, "/s3/bkt/a%20b/c%2Bd~%C3%A9.dcm");
    assert_string_equal(url.ptr, "http://127.0.0.1:9000/s3/bkt/a%20b/c%2Bd~%C3%A9.dcm?uploadId=x");

    igtcloud__endpoint_inputs aws = { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
    assert_int_equal(igtcloud__endpoint_resolve(&ep, &aws), 0);
    assert_int_equal(igtcloud__endpoint_url(&url, &host, &path, &ep, "my-bucket", "k/1", NULL), 0);
    assert_string_equal(url.ptr, "https://my-bucket.s3.amazonaws.com/k/1");
    assert_string_equal(host.ptr, "my-bucket.s3.amazonaws.com");
    aws.remembered_region = "eu-west-1";
    assert_int_equal(igtcloud__endpoint_resolve(&ep, &aws), 0);
    assert_int_equal(igtcloud__endpoint_url(&url, &host, &path, &ep, "my-bucket", "k", NULL), 0);
    assert_string_equal(url.ptr, "https://my-bucket.s3.eu-west-1.amazonaws.com/k");
    /* A bucket that is no DNS label falls back to path style. */
    assert_int_equal(igtcloud__endpoint_url(&url, &host, &path, &ep, "My.Bucket", "k", NULL), 0);
    assert_string_equal(url.ptr, "https://s3.eu-west-1.amazonaws.com/My.Bucket/k");
    assert_int_equal(igtcloud__endpoint_url(&url, &host, &path, &ep, "", "k", NULL), IGTCLOUD_EINVALID);
    igtcloud__buf_dispose(&url);
    igtcloud__buf_dispose(&host);
    igtcloud__buf_dispose(&path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3_endpoint__resolution_order),
        cmocka_unit_test(test_s3_endpoint__urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
