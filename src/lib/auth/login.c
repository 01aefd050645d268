/* The authentication conversation of PROTOCOL.md section 2. */
#include "auth/cookie.h"
#include "auth/jwt.h"
#include "auth/session_int.h"
#include "core/error.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int join_url(igtcloud__buf *url, const igtcloud_session *s, const char *path)
{
    return igtcloud__buf_printf(url, "%s%s", s->base, path);
}

void igtcloud__server_message(char *out, size_t size, const igtcloud__http_response *res)
{
    out[0] = '\0';
    json_t *body = json_loadb(res->body.ptr ? res->body.ptr : "", res->body.size, 0, NULL);
    const char *msg = json_string_value(json_object_get(body, "message"));
    size_t n = 0;
    for (const char *p = msg; p && *p && n + 1 < size && n < 200; p++)
        out[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : ' ';
    out[n] = '\0';
    json_decref(body);
}

static const char *request_id(const igtcloud__http_response *res)
{
    size_t pos = 0;
    const char *id = igtcloud__http_response_header(res, "X-Request-Id", &pos);
    return id ? id : "";
}

int igtcloud__session_error(const igtcloud__http_response *res, const char *what)
{
    char msg[256];
    int code;
    igtcloud__server_message(msg, sizeof(msg), res);
    switch (res->status) {
    case 400: code = IGTCLOUD_EINVALID; break;
    case 401: code = IGTCLOUD_EAUTH; break;
    case 403: code = IGTCLOUD_EPERM; break;
    case 404: code = IGTCLOUD_ENOTFOUND; break;
    case 409: code = IGTCLOUD_EEXISTS; break;
    default: code = IGTCLOUD_EPROTO; break;
    }
    if (msg[0])
        return igtcloud__error_set_http(code, (int)res->status, request_id(res), "%s: %s", what,
                                        msg);
    return igtcloud__error_set_http(code, (int)res->status, request_id(res), "%s: HTTP %ld",
                                    what, res->status);
}

/* Headers as a NULL-terminated list; values are wiped and freed by free_headers(). */
struct header_set {
    char *lines[6];
    int n;
};

static int add_header(struct header_set *h, const char *name, const char *value)
{
    igtcloud__buf line = IGTCLOUD_BUF_INIT;
    int rc = igtcloud__buf_printf(&line, "%s: %s", name, value);
    if (rc)
        return rc;
    h->lines[h->n++] = igtcloud__buf_detach(&line);
    h->lines[h->n] = NULL;
    return 0;
}

static void free_headers(struct header_set *h)
{
    for (int i = 0; i < h->n; i++) {
        OPENSSL_cleanse(h->lines[i], strlen(h->lines[i]));
        free(h->lines[i]);
    }
    h->n = 0;
}

static int auth_headers(struct header_set *h, const char *jwt, const char *csrf, int json)
{
    int rc = 0;
    h->n = 0;
    h->lines[0] = NULL;
    if (json) {
        rc = add_header(h, "Accept", "application/json");
        if (!rc)
            rc = add_header(h, "Content-Type", "application/json");
    }
    if (!rc && jwt)
        rc = add_header(h, "X-JWT", jwt);
    if (!rc && csrf)
        rc = add_header(h, "X-CSRF-TOKEN", csrf);
    if (rc)
        free_headers(h);
    return rc;
}

/*
 * One call of the auth service: `path` joined to the domain, JSON headers when
 * `json`, X-JWT / X-CSRF-TOKEN when given. Returns 0 when a response arrived.
 */
static int auth_call(igtcloud__http_response *res, igtcloud_session *s, const char *method,
                     const char *path, const char *jwt, const char *csrf, int json,
                     const char *body)
{
    igtcloud__buf url = IGTCLOUD_BUF_INIT;
    struct header_set h;
    int rc = join_url(&url, s, path);
    if (!rc)
        rc = auth_headers(&h, jwt, csrf, json);
    if (!rc) {
        rc = igtcloud__http_request(res, s->http, method, url.ptr,
                                    (const char *const *)h.lines, body,
                                    body ? strlen(body) : 0);
        free_headers(&h);
    }
    igtcloud__buf_dispose(&url);
    return rc;
}

/* Collect the JWT from the two cookies of a login or refresh response. */
static int jwt_from_cookies(igtcloud__buf *jwt, long long *max_age,
                            const igtcloud__http_response *res)
{
    int rc = 0;
    igtcloud__cookie hp = { NULL, NULL, -1 }, sig = { NULL, NULL, -1 };
    size_t pos = 0;
    for (const char *value = igtcloud__http_response_header(res, "Set-Cookie", &pos); value;
         value = igtcloud__http_response_header(res, "Set-Cookie", &pos)) {
        igtcloud__cookie c;
        if (igtcloud__cookie_parse(&c, value, strlen(value)))
            continue;
        if (strcmp(c.name, "jwt_header_payload") == 0 && !hp.name) {
            hp = c;
        } else if (strcmp(c.name, "jwt_signature") == 0 && !sig.name) {
            sig = c;
        } else {
            igtcloud__cookie_dispose(&c);
        }
    }
    if (!hp.name || !sig.name || !hp.value[0] || !sig.value[0]) {
        rc = IGTCLOUD_EPROTO;
        goto done;
    }
    rc = igtcloud__buf_printf(jwt, "%s.%s", hp.value, sig.value);
    *max_age = hp.max_age;
done:
    if (hp.value)
        OPENSSL_cleanse(hp.value, strlen(hp.value));
    if (sig.value)
        OPENSSL_cleanse(sig.value, strlen(sig.value));
    igtcloud__cookie_dispose(&hp);
    igtcloud__cookie_dispose(&sig);
    return rc;
}

/*
 * Take the answer of POST /login or /refresh: JSON body with CSRFToken (login)
 * and sub, and the JWT in two cookies. `what` names the step for messages.
 */
static int accept_token_response(igtcloud_session *s, const igtcloud__http_response *res,
                                 const char *what, int is_refresh, const char *secret)
{
    int rc = 0;
    json_t *body = NULL;
    json_t *payload = NULL;
    igtcloud__buf jwt = IGTCLOUD_BUF_INIT;
    long long max_age = -1, exp = 0;
    igtcloud__token t;
    memset(&t, 0, sizeof(t));

    if (res->status < 200 || res->status > 299) {
        char msg[256];
        igtcloud__server_message(msg, sizeof(msg), res);
        /* Never echo the password, even if a server puts it in its message. */
        if (secret && *secret && strstr(msg, secret))
            snprintf(msg, sizeof(msg), "(message withheld)");
        int code = res->status == 400 || res->status == 401 || res->status == 403
                       ? IGTCLOUD_EAUTH
                       : IGTCLOUD_EPROTO;
        if (res->status == 404)
            return igtcloud__error_set_http(code, 404, request_id(res),
                                            "%s: %s has no such endpoint (HTTP 404); is the "
                                            "domain right?",
                                            what, s->authority);
        return igtcloud__error_set_http(code, (int)res->status, request_id(res),
                                        "%s: %s (HTTP %ld)", what,
                                        msg[0] ? msg : "refused", res->status);
    }
    body = json_loadb(res->body.ptr ? res->body.ptr : "", res->body.size, 0, NULL);
    if (!json_is_object(body)) {
        rc = igtcloud__error_set_http(IGTCLOUD_EPROTO, (int)res->status, request_id(res),
                                      "%s: %s answered with something that is not JSON; is the "
                                      "domain right?",
                                      what, s->authority);
        goto done;
    }
    const char *csrf = json_string_value(json_object_get(body, "CSRFToken"));
    if (!is_refresh && (!csrf || !*csrf)) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "%s: the answer of %s has no CSRFToken", what,
                                 s->authority);
        goto done;
    }
    if (jwt_from_cookies(&jwt, &max_age, res)) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO,
                                 "%s: the answer of %s carries no JWT cookies "
                                 "(jwt_header_payload, jwt_signature)",
                                 what, s->authority);
        goto done;
    }
    if (igtcloud__jwt_decode_payload(&payload, jwt.ptr, jwt.size) ||
        igtcloud__jwt_claim_exp(&exp, payload)) {
        char why[256];
        snprintf(why, sizeof(why), "%s", igtcloud_error_last()->message);
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "%s: the JWT from %s is malformed (%s)", what,
                                 s->authority, why);
        goto done;
    }
    const char *sub = json_string_value(json_object_get(body, "sub"));
    if (!sub)
        sub = json_string_value(json_object_get(payload, "sub"));
    if (!sub)
        sub = s->token.sub;
    t.sub = strdup(sub ? sub : "");
    t.jwt = igtcloud__buf_detach(&jwt);
    t.csrf = strdup(csrf && *csrf ? csrf : (s->token.csrf ? s->token.csrf : ""));
    t.domain = strdup(s->base);
    t.jwt_data = payload;
    payload = NULL;
    t.exp = exp;
    if (!t.sub || !t.jwt || !t.csrf || !t.domain) {
        rc = igtcloud__error_oom();
        goto done;
    }
    time_t now = time(NULL);
    igtcloud__token_dispose(&s->token);
    s->token = t;
    memset(&t, 0, sizeof(t));
    s->obtained = now;
    s->max_age = max_age > 0 ? (long)(max_age > 0x7fffffffL ? 0x7fffffffL : max_age)
                             : (exp > now ? (long)(exp - now) : 0);
done:
    igtcloud__token_dispose(&t);
    json_decref(payload);
    json_decref(body);
    if (jwt.ptr)
        OPENSSL_cleanse(jwt.ptr, jwt.size);
    igtcloud__buf_dispose(&jwt);
    return rc;
}

static int post_login(igtcloud_session *s, json_t *request, const char *what, const char *secret)
{
    int rc = 0;
    igtcloud__http_response res;
    igtcloud__http_response_init(&res);
    char *text = json_dumps(request, JSON_COMPACT);
    if (!text)
        return igtcloud__error_oom();
    rc = auth_call(&res, s, "POST", "/api/auth/login", NULL, NULL, 1, text);
    if (!rc)
        rc = accept_token_response(s, &res, what, 0, secret);
    igtcloud__http_response_dispose(&res);
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    return rc;
}

int igtcloud__login_password(igtcloud_session *s, const char *user, const char *password)
{
    char what[300];
    snprintf(what, sizeof(what), "login of '%s' failed", user);
    json_t *request = json_pack("{s:s, s:s, s:s}", "grantType", "password", "username", user,
                                "password", password);
    if (!request)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "user name or password is not UTF-8");
    int rc = post_login(s, request, what, password);
    /* jansson keeps its own copy of the password: wipe it before freeing. */
    json_t *p = json_object_get(request, "password");
    if (json_string_length(p))
        OPENSSL_cleanse((char *)json_string_value(p), json_string_length(p));
    json_decref(request);
    if (!rc)
        s->kind = IGTCLOUD__SESSION_PASSWORD;
    return rc;
}

static int fetch_audience(igtcloud__buf *out, igtcloud_session *s)
{
    int rc = 0;
    igtcloud__http_response res;
    json_t *body = NULL;
    igtcloud__http_response_init(&res);
    rc = auth_call(&res, s, "GET", "/api/auth/login/$aud", NULL, NULL, 1, NULL);
    if (rc)
        goto done;
    if (res.status != 200) {
        rc = igtcloud__session_error(&res, "service login failed: cannot get the audience");
        goto done;
    }
    body = json_loadb(res.body.ptr, res.body.size, JSON_DECODE_ANY, NULL);
    if (!json_is_string(body) || json_string_length(body) == 0) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO,
                                 "service login failed: %s answered the audience request with "
                                 "something that is not a JSON string",
                                 s->authority);
        goto done;
    }
    rc = igtcloud__buf_puts(out, json_string_value(body));
done:
    json_decref(body);
    igtcloud__http_response_dispose(&res);
    return rc;
}

int igtcloud__login_service(igtcloud_session *s)
{
    int rc = 0;
    igtcloud__buf audience = IGTCLOUD_BUF_INIT;
    igtcloud__buf assertion = IGTCLOUD_BUF_INIT;
    json_t *request = NULL;
    char what[300];
    snprintf(what, sizeof(what), "login of service '%s' failed", s->service_id);

    rc = fetch_audience(&audience, s);
    if (!rc)
        rc = igtcloud__jwt_service_assertion(&assertion, s->key, s->service_id, audience.ptr,
                                             time(NULL));
    if (rc)
        goto done;
    request = json_pack("{s:s, s:s, s:s}", "grantType", "jwt-key", "assertion", assertion.ptr,
                        "hospitalOrgId", "");
    if (!request) {
        rc = igtcloud__error_oom();
        goto done;
    }
    rc = post_login(s, request, what, NULL);
    if (!rc)
        s->kind = IGTCLOUD__SESSION_SERVICE;
done:
    json_decref(request);
    igtcloud__buf_dispose(&audience);
    igtcloud__buf_dispose(&assertion);
    return rc;
}

int igtcloud__login_refresh(igtcloud_session *s)
{
    int rc = 0;
    igtcloud__http_response res;
    igtcloud__http_response_init(&res);
    rc = auth_call(&res, s, "POST", "/api/auth/refresh", s->token.jwt, s->token.csrf, 1, NULL);
    if (!rc)
        rc = accept_token_response(s, &res, "refresh of the session failed", 1, NULL);
    igtcloud__http_response_dispose(&res);
    return rc;
}

int igtcloud__login_introspect(igtcloud_session *s, const char *jwt, const char *csrf)
{
    int rc = 0;
    igtcloud__http_response res;
    json_t *body = NULL;
    json_t *payload = NULL;
    igtcloud__token t;
    memset(&t, 0, sizeof(t));
    igtcloud__http_response_init(&res);
    rc = auth_call(&res, s, "GET", "/api/auth/introspect", jwt, csrf, 1, NULL);
    if (rc)
        goto done;
    if (res.status != 200) {
        rc = igtcloud__session_error(&res, "the token in CLOUD_JWT_TOKEN was refused");
        if (res.status == 400 || res.status == 403) {
            char why[512];
            snprintf(why, sizeof(why), "%s", igtcloud_error_last()->message);
            rc = igtcloud__error_set_http(IGTCLOUD_EAUTH, (int)res.status, request_id(&res), "%s",
                                          why);
        }
        goto done;
    }
    body = json_loadb(res.body.ptr, res.body.size, 0, NULL);
    json_t *exp = json_object_get(body, "exp");
    if (!json_is_object(body) || !json_is_number(exp)) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO,
                                 "%s answered the token introspection without 'exp'",
                                 s->authority);
        goto done;
    }
    if (igtcloud__jwt_decode_payload(&payload, jwt, strlen(jwt)) != 0) {
        payload = json_object();
        if (!payload) {
            rc = igtcloud__error_oom();
            goto done;
        }
    }
    json_object_set(payload, "exp", exp);
    const char *sub = json_string_value(json_object_get(body, "sub"));
    if (sub)
        json_object_set_new(payload, "sub", json_string(sub));
    t.sub = strdup(sub ? sub : "");
    t.jwt = strdup(jwt);
    t.csrf = strdup(csrf);
    t.domain = strdup(s->base);
    t.jwt_data = payload;
    payload = NULL;
    if (!t.sub || !t.jwt || !t.csrf || !t.domain) {
        rc = igtcloud__error_oom();
        goto done;
    }
    rc = igtcloud__jwt_claim_exp(&t.exp, t.jwt_data);
    if (rc)
        goto done;
    igtcloud__token_dispose(&s->token);
    s->token = t;
    memset(&t, 0, sizeof(t));
    s->kind = IGTCLOUD__SESSION_ENV;
    s->obtained = time(NULL);
    s->max_age = 0;
done:
    igtcloud__token_dispose(&t);
    json_decref(payload);
    json_decref(body);
    igtcloud__http_response_dispose(&res);
    return rc;
}

int igtcloud__logout(igtcloud_session *s)
{
    int rc = 0;
    igtcloud__http_response res;
    igtcloud__http_response_init(&res);
    rc = auth_call(&res, s, "POST", "/api/auth/logout", s->token.jwt, s->token.csrf, 0, NULL);
    if (!rc && (res.status < 200 || res.status > 299))
        rc = igtcloud__session_error(&res, "logout failed");
    igtcloud__http_response_dispose(&res);
    return rc;
}
