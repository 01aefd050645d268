/* S3 credentials for the transfer engine, asked through the session. */
#include "api/s3_credentials.h"

#include "api/catalog_int.h"
#include "auth/session_int.h"
#include "core/buf.h"
#include "core/error.h"

#include <string.h>

int igtcloud__s3_credentials_cb(igtcloud_s3_credentials *out, const char *action,
                                const char *prefix, void *payload)
{
    igtcloud_session *session = payload;
    igtcloud__buf path = IGTCLOUD_BUF_INIT;
    igtcloud__http_response res;
    igtcloud__http_response_init(&res);
    int rc;
    if (!out || !session || !action || !prefix) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "S3 credentials: no session, action or prefix");
        goto done;
    }
    if ((rc = igtcloud__buf_puts(&path, "/api/auth/s3credentials?action=")) ||
        (rc = igtcloud__catalog_put_segment(&path, action)) ||
        (rc = igtcloud__buf_puts(&path, "&prefix=")) ||
        (rc = igtcloud__catalog_put_segment(&path, prefix))) {
        rc = igtcloud__error_oom();
        goto done;
    }
    rc = igtcloud__session_request(&res, session, "GET", path.ptr, NULL);
    if (!rc && res.status == 401) {
        igtcloud__http_response_dispose(&res);
        igtcloud__http_response_init(&res);
        rc = igtcloud_session_refresh(session);
        if (!rc)
            rc = igtcloud__session_request(&res, session, "GET", path.ptr, NULL);
    }
    if (rc)
        goto done;
    if (res.status < 200 || res.status > 299) {
        rc = igtcloud__session_error(&res, "asking for S3 credentials");
        goto done;
    }
    rc = igtcloud_s3_credentials_from_json(out, res.body.ptr ? res.body.ptr : "", res.body.size);
done:
    igtcloud__http_response_dispose(&res);
    igtcloud__buf_dispose(&path);
    return rc;
}
