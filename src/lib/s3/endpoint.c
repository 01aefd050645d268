#include "s3/endpoint.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "s3/sigv4.h"

static int set(const char *s)
{
    return s && *s;
}

int igtcloud__endpoint_region_valid(const char *region)
{
    size_t n = region ? strlen(region) : 0;
    if (n == 0 || n > IGTCLOUD_S3_REGION_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = region[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

int igtcloud__endpoint_resolve(igtcloud__endpoint *out, const igtcloud__endpoint_inputs *in)
{
    memset(out, 0, sizeof(*out));
    const char *url = NULL;
    if (set(in->option_endpoint))
        url = in->option_endpoint;
    else if (set(in->env_endpoint_s3))
        url = in->env_endpoint_s3;
    else if (set(in->env_endpoint))
        url = in->env_endpoint;
    else if (set(in->creds_endpoint))
        url = in->creds_endpoint;

    const char *region = NULL;
    if (set(in->option_region))
        region = in->option_region;
    else if (url && set(in->creds_region))
        region = in->creds_region;
    else if (!url && set(in->remembered_region))
        region = in->remembered_region;
    else if (set(in->env_region))
        region = in->env_region;
    else if (set(in->creds_region))
        region = in->creds_region;
    if (region && !igtcloud__endpoint_region_valid(region))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "invalid S3 region '%.64s'", region);
    snprintf(out->region, sizeof(out->region), "%s", region ? region : "us-east-1");
    out->region_known = region != NULL;

    if (url) {
        if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
            return igtcloud__error_set(IGTCLOUD_EINVALID,
                                       "S3 endpoint must start with http:// or https://");
        size_t len = strlen(url);
        while (len > 0 && url[len - 1] == '/')
            len--;
        if (len >= sizeof(out->base) || memchr(url, '?', len) || memchr(url, '#', len) ||
            strcspn(url, " \t\r\n") < len)
            return igtcloud__error_set(IGTCLOUD_EINVALID, "invalid S3 endpoint URL");
        memcpy(out->base, url, len);
        out->base[len] = '\0';
        out->path_style = 1;
    }
    return 0;
}

/* A bucket name usable as a DNS label for virtual-hosted addressing. */
static int bucket_dns_ok(const char *bucket)
{
    size_t n = strlen(bucket);
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = bucket[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

int igtcloud__endpoint_url(igtcloud__buf *url, igtcloud__buf *host, igtcloud__buf *path,
                           const igtcloud__endpoint *ep, const char *bucket, const char *key,
                           const char *query)
{
    int rc = 0;
    igtcloud__buf_clear(url);
    igtcloud__buf_clear(host);
    igtcloud__buf_clear(path);
    if (!bucket || !*bucket)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no S3 bucket");
    const char *scheme_end;
    if (ep->path_style || !bucket_dns_ok(bucket)) {
        const char *base = ep->base[0] ? ep->base : NULL;
        char aws[128];
        if (!base) {
            if (ep->region_known && strcmp(ep->region, "us-east-1") != 0)
                snprintf(aws, sizeof(aws), "https://s3.%s.amazonaws.com", ep->region);
            else
                snprintf(aws, sizeof(aws), "https://s3.amazonaws.com");
            base = aws;
        }
        scheme_end = strstr(base, "://") + 3;
        const char *host_end = scheme_end + strcspn(scheme_end, "/");
        rc = igtcloud__buf_put(host, scheme_end, (size_t)(host_end - scheme_end));
        /* A path in the endpoint URL ("http://h/s3") is kept in front. */
        if (!rc)
            rc = igtcloud__buf_puts(path, host_end);
        if (!rc)
            rc = igtcloud__buf_putc(path, '/');
        if (!rc)
            rc = igtcloud__sigv4_uri_encode(path, bucket, strlen(bucket), 0);
        if (!rc && key && *key)
            rc = igtcloud__buf_putc(path, '/');
        if (!rc)
            rc = igtcloud__buf_put(url, base, (size_t)(scheme_end - base));
    } else {
        if (ep->region_known && strcmp(ep->region, "us-east-1") != 0)
            rc = igtcloud__buf_printf(host, "%s.s3.%s.amazonaws.com", bucket, ep->region);
        else
            rc = igtcloud__buf_printf(host, "%s.s3.amazonaws.com", bucket);
        if (!rc)
            rc = igtcloud__buf_putc(path, '/');
        if (!rc)
            rc = igtcloud__buf_puts(url, "https://");
    }
    if (!rc && key && *key)
        rc = igtcloud__sigv4_uri_encode(path, key, strlen(key), 1);
    if (!rc)
        rc = igtcloud__buf_put(url, host->ptr, host->size);
    if (!rc)
        rc = igtcloud__buf_put(url, path->ptr, path->size);
    if (!rc && query && *query)
        rc = igtcloud__buf_printf(url, "?%s", query);
    return rc;
}
