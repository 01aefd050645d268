/* Service identities (PROTOCOL.md section 4, the seed README's example). */
#include "auth/session_int.h"
#include "core/error.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

struct igtcloud_service {
    char *id;
    char *name;
    char *private_key;
};

int igtcloud_service_create(igtcloud_service **out, igtcloud_session *session,
                            const char *institute_id, const char *name)
{
    int rc = 0;
    char *escaped = NULL;
    char *text = NULL;
    json_t *request = NULL, *body = NULL;
    igtcloud__buf path = IGTCLOUD_BUF_INIT;
    igtcloud__http_response res;
    igtcloud_service *svc = NULL;
    igtcloud__http_response_init(&res);

    if (!out || !session || !institute_id || !*institute_id || !name || !*name)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "a session, institute id and name are needed");
    escaped = curl_easy_escape(NULL, institute_id, 0);
    request = json_pack("{s:s}", "name", name);
    if (!escaped || !request) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "the service name is not UTF-8");
        goto done;
    }
    text = json_dumps(request, JSON_COMPACT);
    rc = text ? igtcloud__buf_printf(&path, "/api/data/organizations/%s/services", escaped)
              : igtcloud__error_oom();
    if (rc)
        goto done;
    rc = igtcloud__session_request(&res, session, "POST", path.ptr, text);
    if (rc)
        goto done;
    if (res.status != 200 && res.status != 201) {
        rc = igtcloud__session_error(&res, "cannot create the service identity");
        goto done;
    }
    body = json_loadb(res.body.ptr, res.body.size, 0, NULL);
    const char *id = json_string_value(json_object_get(body, "serviceId"));
    const char *key = json_string_value(json_object_get(body, "privateKey"));
    const char *got_name = json_string_value(json_object_get(body, "name"));
    if (!id || !*id || !key || !*key) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO,
                                 "the new service identity has no serviceId or privateKey");
        goto done;
    }
    svc = calloc(1, sizeof(*svc));
    if (svc) {
        svc->id = strdup(id);
        svc->private_key = strdup(key);
        svc->name = strdup(got_name ? got_name : name);
    }
    if (!svc || !svc->id || !svc->private_key || !svc->name) {
        rc = igtcloud__error_oom();
        goto done;
    }
    *out = svc;
    svc = NULL;
done:
    igtcloud_service_free(svc);
    if (res.body.ptr)
        OPENSSL_cleanse(res.body.ptr, res.body.size);
    igtcloud__http_response_dispose(&res);
    json_decref(body);
    json_decref(request);
    free(text);
    curl_free(escaped);
    igtcloud__buf_dispose(&path);
    return rc;
}

const char *igtcloud_service_id(const igtcloud_service *svc)
{
    return svc ? svc->id : NULL;
}

const char *igtcloud_service_name(const igtcloud_service *svc)
{
    return svc ? svc->name : NULL;
}

const char *igtcloud_service_private_key(const igtcloud_service *svc)
{
    return svc ? svc->private_key : NULL;
}

void igtcloud_service_free(igtcloud_service *svc)
{
    if (!svc)
        return;
    if (svc->private_key) {
        OPENSSL_cleanse(svc->private_key, strlen(svc->private_key));
        free(svc->private_key);
    }
    free(svc->id);
    free(svc->name);
    free(svc);
}
