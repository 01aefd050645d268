#ifndef SANDBOX_S3_ERRORS_H
#define SANDBOX_S3_ERRORS_H

#include "core/buf.h"

/* One S3 error code with the HTTP status and default message AWS uses. */
typedef struct sandbox_s3_error_def {
    const char *code;
    int status;
    const char *message;
} sandbox_s3_error_def;

/*
 * The definition of `code` (e.g. "NoSuchKey"). Unknown codes get status 500
 * and a generic message, so fault rules may name any code.
 */
sandbox_s3_error_def sandbox_s3_error_lookup(const char *code);

/*
 * Append <Error><Code/><Message/><Resource/><RequestId/></Error> to out.
 * `message` NULL uses the default; `resource` may be NULL.
 */
int sandbox_s3_error_xml(igtcloud__buf *out, const char *code, const char *message,
                         const char *resource, const char *request_id);

/*
 * Append `text` escaped for XML (the shared igtcloud__xml_escape). Fails
 * (EINVALID) for text XML 1.0 cannot carry, such as invalid UTF-8.
 */
int sandbox_s3_xml_escape(igtcloud__buf *out, const char *text);

#endif
