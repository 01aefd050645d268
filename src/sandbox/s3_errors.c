#include "s3_errors.h"
#include "s3/xml.h"

#include <string.h>

/* Statuses and messages as Amazon S3 documents them ("Error responses"). */
static const sandbox_s3_error_def errors[] = {
    { "AccessDenied", 403, "Access Denied" },
    { "AuthorizationHeaderMalformed", 400, "The authorization header is malformed." },
    { "AuthorizationQueryParametersError", 400,
      "The presigned query parameters are malformed." },
    { "BadDigest", 400,
      "The Content-MD5 or checksum value that you specified did not match what the "
      "server received." },
    { "EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size." },
    { "EntityTooSmall", 400,
      "Your proposed upload is smaller than the minimum allowed object size." },
    { "ExpiredToken", 400, "The provided token has expired." },
    { "IncompleteBody", 400,
      "You did not provide the number of bytes specified by the Content-Length HTTP "
      "header." },
    { "InternalError", 500, "We encountered an internal error. Please try again." },
    { "InvalidAccessKeyId", 403,
      "The AWS Access Key Id you provided does not exist in our records." },
    { "InvalidArgument", 400, "Invalid Argument" },
    { "InvalidBucketName", 400, "The specified bucket is not valid." },
    { "InvalidDigest", 400, "The Content-MD5 or checksum value you specified is not valid." },
    { "InvalidPart", 400,
      "One or more of the specified parts could not be found. The part might not have "
      "been uploaded, or the specified entity tag might not have matched the part's "
      "entity tag." },
    { "InvalidPartNumber", 416, "The requested partnumber is not satisfiable" },
    { "InvalidPartOrder", 400,
      "The list of parts was not in ascending order. The parts list must be specified in "
      "order by part number." },
    { "InvalidRange", 416, "The requested range is not satisfiable" },
    { "InvalidRequest", 400, "Invalid Request" },
    { "InvalidToken", 400, "The provided token is malformed or otherwise invalid." },
    { "KeyTooLongError", 400, "Your key is too long." },
    { "MalformedXML", 400,
      "The XML you provided was not well-formed or did not validate against our "
      "published schema." },
    { "MethodNotAllowed", 405, "The specified method is not allowed against this resource." },
    { "MissingContentLength", 411, "You must provide the Content-Length HTTP header." },
    { "NoSuchBucket", 404, "The specified bucket does not exist" },
    { "NoSuchKey", 404, "The specified key does not exist." },
    { "NoSuchUpload", 404,
      "The specified upload does not exist. The upload ID may be invalid, or the upload "
      "may have been aborted or completed." },
    { "NotImplemented", 501,
      "A header you provided implies functionality that is not implemented." },
    { "PreconditionFailed", 412,
      "At least one of the pre-conditions you specified did not hold" },
    { "RequestTimeTooSkewed", 403,
      "The difference between the request time and the server's time is too large." },
    { "ServiceUnavailable", 503, "Service is unable to handle request." },
    { "SignatureDoesNotMatch", 403,
      "The request signature we calculated does not match the signature you provided. "
      "Check your key and signing method." },
    { "SlowDown", 503, "Please reduce your request rate." },
    { "XAmzContentSHA256Mismatch", 400,
      "The provided 'x-amz-content-sha256' header does not match what was computed." },
};

sandbox_s3_error_def sandbox_s3_error_lookup(const char *code)
{
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
        if (strcmp(errors[i].code, code) == 0)
            return errors[i];
    sandbox_s3_error_def unknown = { code, 500, "An error occurred." };
    return unknown;
}

int sandbox_s3_xml_escape(igtcloud__buf *out, const char *text)
{
    return igtcloud__xml_escape(out, text, strlen(text));
}

int sandbox_s3_error_xml(igtcloud__buf *out, const char *code, const char *message,
                         const char *resource, const char *request_id)
{
    sandbox_s3_error_def def = sandbox_s3_error_lookup(code);
    int rc = igtcloud__buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
    rc = rc ? rc : sandbox_s3_xml_escape(out, code);
    rc = rc ? rc : igtcloud__buf_puts(out, "</Code><Message>");
    rc = rc ? rc : sandbox_s3_xml_escape(out, message ? message : def.message);
    rc = rc ? rc : igtcloud__buf_puts(out, "</Message>");
    if (!rc && resource) {
        rc = igtcloud__buf_puts(out, "<Resource>");
        rc = rc ? rc : sandbox_s3_xml_escape(out, resource);
        rc = rc ? rc : igtcloud__buf_puts(out, "</Resource>");
    }
    rc = rc ? rc : igtcloud__buf_puts(out, "<RequestId>");
    rc = rc ? rc : sandbox_s3_xml_escape(out, request_id ? request_id : "");
    rc = rc ? rc : igtcloud__buf_puts(out, "</RequestId></Error>");
    return rc;
}
