#ifndef IGTCLOUD_S3_ENDPOINT_H
#define IGTCLOUD_S3_ENDPOINT_H

#include "core/buf.h"
#include "igtcloud/transfer.h"

/*
 * Where the S3 requests of a bucket go and which region signs them.
 * Order: the --s3-endpoint option, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,
 * the credentials' endpoint (sandbox); else AWS, virtual-hosted, with the
 * bucket's region as discovered (x-amz-bucket-region, or the region named in
 * a 301/400 error) and remembered. Custom endpoints are addressed path-style.
 */

typedef struct igtcloud__endpoint {
    char base[IGTCLOUD_S3_URL_MAX + 1];     /* "http://host:port[/path]", no trailing '/'; "" for AWS */
    int path_style;
    char region[IGTCLOUD_S3_REGION_MAX + 1];
    int region_known;                       /* AWS: discovered or configured */
} igtcloud__endpoint;

/* The inputs of resolution; any may be NULL or "". */
typedef struct igtcloud__endpoint_inputs {
    const char *option_endpoint;
    const char *env_endpoint_s3;      /* AWS_ENDPOINT_URL_S3 */
    const char *env_endpoint;         /* AWS_ENDPOINT_URL */
    const char *creds_endpoint;
    const char *option_region;
    const char *creds_region;
    const char *env_region;           /* AWS_REGION */
    const char *remembered_region;    /* discovered earlier for this bucket */
} igtcloud__endpoint_inputs;

/* Resolve. Returns 0 or EINVALID (an endpoint that is not http(s)://). */
int igtcloud__endpoint_resolve(igtcloud__endpoint *out, const igtcloud__endpoint_inputs *in);

/*
 * Build the URL of an object (key may be NULL or "" for the bucket) with an
 * optional raw query, and the Host header value and the encoded path that
 * SigV4 signs. Returns 0, EINVALID or ENOMEM.
 */
int igtcloud__endpoint_url(igtcloud__buf *url, igtcloud__buf *host, igtcloud__buf *path,
                           const igtcloud__endpoint *ep, const char *bucket, const char *key,
                           const char *query);

/* Is this a plausible AWS region name ("eu-west-1")? */
int igtcloud__endpoint_region_valid(const char *region);

#endif
