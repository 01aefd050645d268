/* igtcloud_session: smart_auth, refresh, publishing, keep-alive, API requests. */
#include "auth/session_int.h"
#include "core/error.h"
#include "core/isotime.h"
#include "core/random.h"

#include <errno.h>
#include <time.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PROD_HOST "igt-web.eu1.phsdp.com"
#define TEST_HOST "igt-web-test.eu1.phsdp.com"
#define PASSWORD_MAX 1024

int igtcloud__domain_normalize(igtcloud__buf *base, igtcloud__buf *authority, const char *domain)
{
    if (!domain || !*domain)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "the domain is empty");
    if (strcasecmp(domain, "PROD") == 0)
        domain = PROD_HOST;
    else if (strcasecmp(domain, "TEST") == 0)
        domain = TEST_HOST;
    const char *scheme = "https";
    const char *rest = domain;
    const char *sep = strstr(domain, "://");
    if (sep) {
        size_t len = (size_t)(sep - domain);
        if (len == 5 && strncasecmp(domain, "https", 5) == 0)
            scheme = "https";
        else if (len == 4 && strncasecmp(domain, "http", 4) == 0)
            scheme = "http";
        else
            return igtcloud__error_set(IGTCLOUD_EINVALID,
                                       "domain '%.100s' must use http or https", domain);
        rest = sep + 3;
    }
    size_t len = strcspn(rest, "/?#");
    if (len == 0)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "domain '%.100s' has no host", domain);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)rest[i];
        if (c <= 0x20 || c >= 0x7f || c == '@' || c == '\\')
            return igtcloud__error_set(IGTCLOUD_EINVALID,
                                       "domain '%.100s' is not a host name", domain);
    }
    if (len > 253)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "domain is too long");
    int rc = 0;
    if (base)
        rc = igtcloud__buf_printf(base, "%s://%.*s", scheme, (int)len, rest);
    if (!rc && authority)
        rc = igtcloud__buf_put(authority, rest, len);
    return rc;
}

int igtcloud_session_options_init(igtcloud_session_options *opts, unsigned int version)
{
    if (version != IGTCLOUD_SESSION_OPTIONS_VERSION)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "unknown session options version %u",
                                   version);
    igtcloud_session_options init = IGTCLOUD_SESSION_OPTIONS_INIT;
    *opts = init;
    return 0;
}

int igtcloud_token_file_path(char *out, size_t size, const char *override)
{
    igtcloud__buf path = IGTCLOUD_BUF_INIT;
    int rc = igtcloud__token_file_path(&path, override);
    if (!rc && path.size + 1 > size)
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "buffer too small for the token file path");
    if (!rc)
        memcpy(out, path.ptr, path.size + 1);
    igtcloud__buf_dispose(&path);
    return rc;
}

static const char *env_value(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static void format_time(char out[IGTCLOUD_ISOTIME_LEN + 1], long long t)
{
    char iso[IGTCLOUD_ISOTIME_LEN];
    igtcloud__isotime_format(iso, (time_t)t);
    snprintf(out, IGTCLOUD_ISOTIME_LEN + 1, "%sZ", iso);
}

static int set_domain(igtcloud_session *s, const char *domain)
{
    igtcloud__buf base = IGTCLOUD_BUF_INIT, authority = IGTCLOUD_BUF_INIT;
    int rc = igtcloud__domain_normalize(&base, &authority, domain);
    if (rc) {
        igtcloud__buf_dispose(&base);
        igtcloud__buf_dispose(&authority);
        return rc;
    }
    free(s->base);
    free(s->authority);
    s->base = igtcloud__buf_detach(&base);
    s->authority = igtcloud__buf_detach(&authority);
    return 0;
}

/* Is the token file's token usable here? Sets a message saying why not. */
static int check_reusable(igtcloud_session *s, const igtcloud__token *t, const char *path,
                          const char *user)
{
    igtcloud__buf authority = IGTCLOUD_BUF_INIT;
    int rc = 0;
    if (s->authority) {
        if (igtcloud__domain_normalize(NULL, &authority, t->domain) ||
            strcasecmp(authority.ptr, s->authority) != 0) {
            rc = igtcloud__error_set(IGTCLOUD_EAUTH,
                                     "the token in %s is for %s, not %s; log in to %s", path,
                                     authority.ptr ? authority.ptr : t->domain, s->authority,
                                     s->authority);
            goto done;
        }
    }
    if (t->exp <= (long long)time(NULL)) {
        char when[IGTCLOUD_ISOTIME_LEN + 1];
        format_time(when, t->exp);
        rc = igtcloud__error_set(IGTCLOUD_EAUTH,
                                 "the token in %s expired at %s; run 'igtcloud login'", path,
                                 when);
        goto done;
    }
    if (user && strcmp(user, t->sub ? t->sub : "") != 0) {
        rc = igtcloud__error_set(IGTCLOUD_EAUTH, "the token in %s is for user '%s', not '%s'",
                                 path, t->sub ? t->sub : "", user);
        goto done;
    }
done:
    igtcloud__buf_dispose(&authority);
    return rc;
}

/* Try the token file; 0 when the session now borrows it. */
static int reuse_token_file(igtcloud_session *s, const char *path, const char *user)
{
    igtcloud__token t;
    memset(&t, 0, sizeof(t));
    int rc = igtcloud__token_file_read(&t, path);
    if (rc)
        return rc;
    rc = check_reusable(s, &t, path, user);
    if (!rc && !s->base)
        rc = set_domain(s, t.domain);
    if (rc) {
        igtcloud__token_dispose(&t);
        return rc;
    }
    igtcloud__token_dispose(&s->token);
    s->token = t;
    free(s->token.domain);
    s->token.domain = strdup(s->base);
    if (!s->token.domain)
        return igtcloud__error_oom();
    s->kind = IGTCLOUD__SESSION_TOKEN_FILE;
    s->obtained = time(NULL);
    s->max_age = 0;
    return 0;
}

static int password_login(igtcloud_session *s, const igtcloud_session_options *opts,
                          const char *user)
{
    char password[PASSWORD_MAX];
    int rc = 0;
    password[0] = '\0';
    if (opts->password) {
        if (strlen(opts->password) >= sizeof(password))
            return igtcloud__error_set(IGTCLOUD_EINVALID, "the password is too long");
        memcpy(password, opts->password, strlen(opts->password) + 1);
    } else if (opts->password_cb) {
        rc = opts->password_cb(password, sizeof(password), user, s->authority,
                               opts->password_payload);
        password[sizeof(password) - 1] = '\0';
        if (rc) {
            if (igtcloud_error_last()->code != rc)
                igtcloud__error_set(rc, "no password was given");
            goto done;
        }
    } else {
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no password source for user '%s'", user);
    }
    rc = igtcloud__login_password(s, user, password);
done:
    OPENSSL_cleanse(password, sizeof(password));
    return rc;
}

static int service_login(igtcloud_session *s, const igtcloud_session_options *opts)
{
    igtcloud__buf id = IGTCLOUD_BUF_INIT;
    int rc = igtcloud__service_key_load(&s->key, opts->service_key_path);
    if (rc)
        return rc;
    if (opts->service_id && *opts->service_id)
        rc = igtcloud__buf_puts(&id, opts->service_id);
    else
        rc = igtcloud__service_id_from_path(&id, opts->service_key_path);
    if (rc) {
        igtcloud__buf_dispose(&id);
        return rc;
    }
    s->service_id = igtcloud__buf_detach(&id);
    return igtcloud__login_service(s);
}

int igtcloud_session_open(igtcloud_session **out, const igtcloud_session_options *given)
{
    int rc = 0;
    igtcloud_session_options defaults = IGTCLOUD_SESSION_OPTIONS_INIT;
    const igtcloud_session_options *opts = given ? given : &defaults;
    igtcloud__buf path = IGTCLOUD_BUF_INIT;
    igtcloud_session *s = NULL;

    if (!out)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no place for the session");
    if (opts->version != IGTCLOUD_SESSION_OPTIONS_VERSION)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "unknown session options version %u",
                                   opts->version);
    if ((opts->flags & IGTCLOUD_SESSION_REUSE_ONLY) && (opts->flags & IGTCLOUD_SESSION_NO_REUSE))
        return igtcloud__error_set(IGTCLOUD_EINVALID,
                                   "REUSE_ONLY and NO_REUSE exclude each other");
    s = calloc(1, sizeof(*s));
    if (!s)
        return igtcloud__error_oom();
    igtcloud__token_writer init = IGTCLOUD__TOKEN_WRITER_INIT;
    s->writer = init;
    s->debug = opts->debug_cb;
    s->debug_payload = opts->debug_payload;

    igtcloud__http_config cfg = IGTCLOUD__HTTP_CONFIG_INIT;
    cfg.ca_file = opts->ca_file;
    cfg.debug = opts->debug_cb;
    cfg.debug_payload = opts->debug_payload;
    rc = igtcloud__http_client_new(&s->http, &cfg);
    if (rc)
        goto done;

    const char *domain = opts->domain && *opts->domain ? opts->domain : env_value("CLOUD_DOMAIN");
    if (domain) {
        rc = set_domain(s, domain);
        if (rc)
            goto done;
    } else if (!(opts->flags & IGTCLOUD_SESSION_REUSE_ONLY)) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID,
                                 "no domain given: pass one (e.g. -d DOMAIN) or set CLOUD_DOMAIN");
        goto done;
    }
    const char *user = opts->user && *opts->user ? opts->user : env_value("CLOUD_USERNAME");
    if (opts->service_key_path)
        user = opts->service_id && *opts->service_id ? opts->service_id : NULL;

    if (!(opts->flags & IGTCLOUD_SESSION_NO_REUSE)) {
        const char *env_jwt = env_value("CLOUD_JWT_TOKEN");
        const char *env_csrf = env_value("CLOUD_CSRF_TOKEN");
        if (env_jwt && env_csrf && !(opts->flags & IGTCLOUD_SESSION_REUSE_ONLY)) {
            if (!s->base) {
                rc = igtcloud__error_set(IGTCLOUD_EINVALID,
                                         "CLOUD_JWT_TOKEN is set but no domain is given; set "
                                         "CLOUD_DOMAIN");
                goto done;
            }
            rc = igtcloud__login_introspect(s, env_jwt, env_csrf);
            goto done;
        }
        rc = igtcloud__token_file_path(&path, opts->token_file);
        if (rc)
            goto done;
        rc = reuse_token_file(s, path.ptr, user);
        if (rc == 0) {
            s->token_file = igtcloud__buf_detach(&path);
            goto done;
        }
        /* An unsafe file is reported, not silently bypassed: someone should look at it. */
        if (rc == IGTCLOUD_ENOTFOUND && (opts->flags & IGTCLOUD_SESSION_REUSE_ONLY)) {
            char why[512];
            snprintf(why, sizeof(why), "%s", igtcloud_error_last()->message);
            rc = igtcloud__error_set(IGTCLOUD_EAUTH, "%s", why);
        }
        if (rc == IGTCLOUD_EPERM || (opts->flags & IGTCLOUD_SESSION_REUSE_ONLY))
            goto done;
        igtcloud_error_clear();
    }

    if (opts->service_key_path) {
        rc = service_login(s, opts);
    } else if (!user) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID,
                                 "no user given: pass one (e.g. -u USER) or set CLOUD_USERNAME");
    } else {
        rc = password_login(s, opts, user);
    }
    if (!rc)
        s->logged_in = 1;
done:
    igtcloud__buf_dispose(&path);
    if (rc) {
        /* Keep the error of the failure, not of the clean-up. */
        s->logged_in = 0;
        igtcloud_session_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int igtcloud_session_logout(igtcloud_session *s)
{
    if (!s || !s->logged_in)
        return 0;
    s->logged_in = 0;
    igtcloud__http_client_set_cancel(s->http, NULL);
    igtcloud__http_client_set_timeout(s->http, 15);
    int rc = igtcloud__logout(s);
    igtcloud__http_client_set_timeout(s->http, 0);
    return rc;
}

void igtcloud_session_free(igtcloud_session *s)
{
    if (!s)
        return;
    igtcloud__token_writer_remove(&s->writer);
    if (s->logged_in) {
        /* A failing logout must not replace the caller's last error. */
        igtcloud_error last = *igtcloud_error_last();
        char message[512], request_id[128];
        snprintf(message, sizeof(message), "%s", last.message);
        snprintf(request_id, sizeof(request_id), "%s", last.request_id);
        igtcloud_session_logout(s);
        if (last.code)
            igtcloud__error_set_http(last.code, last.http_status, request_id, "%s", message);
        else
            igtcloud_error_clear();
    }
    igtcloud__http_client_free(s->http);
    igtcloud__token_dispose(&s->token);
    EVP_PKEY_free(s->key);
    free(s->service_id);
    free(s->token_file);
    free(s->base);
    free(s->authority);
    free(s);
}

int igtcloud_session_refresh(igtcloud_session *s)
{
    int rc;
    if (!s)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no session");
    switch (s->kind) {
    case IGTCLOUD__SESSION_TOKEN_FILE: {
        igtcloud__token t;
        memset(&t, 0, sizeof(t));
        rc = igtcloud__token_file_read(&t, s->token_file);
        if (!rc)
            rc = check_reusable(s, &t, s->token_file, s->token.sub && *s->token.sub ? s->token.sub : NULL);
        if (rc) {
            igtcloud__token_dispose(&t);
            return rc;
        }
        free(t.domain);
        t.domain = strdup(s->base);
        if (!t.domain) {
            igtcloud__token_dispose(&t);
            return igtcloud__error_oom();
        }
        igtcloud__token_dispose(&s->token);
        s->token = t;
        s->obtained = time(NULL);
        return 0;
    }
    case IGTCLOUD__SESSION_SERVICE:
        if (!json_object_get(s->token.jwt_data, "refresh_token")) {
            rc = igtcloud__login_service(s);
            break;
        }
        rc = igtcloud__login_refresh(s);
        break;
    case IGTCLOUD__SESSION_ENV:
        if (!json_object_get(s->token.jwt_data, "refresh_token"))
            return igtcloud__error_set(IGTCLOUD_EAUTH,
                                       "the token from CLOUD_JWT_TOKEN cannot be refreshed");
        rc = igtcloud__login_refresh(s);
        break;
    default:
        rc = igtcloud__login_refresh(s);
        break;
    }
    if (!rc && s->writer.fd >= 0)
        rc = igtcloud__token_writer_update(&s->writer, &s->token);
    return rc;
}

void igtcloud__session_keep_fresh(igtcloud__session_keeper *k, igtcloud_session *s,
                                  pthread_mutex_t *lock)
{
    time_t now = time(NULL);
    if (!k || !s || now < k->next_check)
        return;
    k->next_check = now + 1;
    if (lock)
        pthread_mutex_lock(lock);
    long long exp = igtcloud_session_expiry(s);
    if (exp <= 0)
        goto done;
    if (exp != k->exp) {
        k->exp = exp;
        k->lifetime = exp - (long long)now;
    }
    long long margin = k->lifetime / 4;
    if (margin > 180)
        margin = 180;
    if (margin < 2)
        margin = 2;
    if (exp - (long long)now > margin)
        goto done;
    if (igtcloud_session_refresh(s) != 0 || igtcloud_session_expiry(s) == exp)
        k->next_check = now + 5;
done:
    if (lock)
        pthread_mutex_unlock(lock);
}

const char *igtcloud_session_user(const igtcloud_session *s)
{
    return s && s->token.sub ? s->token.sub : "";
}

const char *igtcloud_session_jwt(const igtcloud_session *s)
{
    return s && s->token.jwt ? s->token.jwt : "";
}

const char *igtcloud_session_csrf(const igtcloud_session *s)
{
    return s && s->token.csrf ? s->token.csrf : "";
}

const char *igtcloud_session_access_token(const igtcloud_session *s)
{
    return s ? json_string_value(json_object_get(s->token.jwt_data, "access_token")) : NULL;
}

const char *igtcloud_session_domain(const igtcloud_session *s)
{
    return s && s->base ? s->base : "";
}

long long igtcloud_session_expiry(const igtcloud_session *s)
{
    return s ? s->token.exp : 0;
}

long igtcloud_session_lifetime(const igtcloud_session *s)
{
    return s ? s->max_age : 0;
}

int igtcloud_session_publish(igtcloud_session *s, const char *path)
{
    igtcloud__buf p = IGTCLOUD_BUF_INIT;
    if (!s)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no session");
    if (s->kind == IGTCLOUD__SESSION_TOKEN_FILE)
        return igtcloud__error_set(IGTCLOUD_EINVALID,
                                   "this session already comes from the token file");
    int rc = igtcloud__token_file_path(&p, path);
    if (!rc)
        rc = igtcloud__token_writer_create(&s->writer, p.ptr, &s->token);
    igtcloud__buf_dispose(&p);
    return rc;
}

int igtcloud_session_unpublish(igtcloud_session *s)
{
    return s ? igtcloud__token_writer_remove(&s->writer) : 0;
}

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep until `deadline` (monotonic seconds) or until *stop; returns 1 when stopped. */
static int sleep_until(double deadline, volatile sig_atomic_t *stop)
{
    for (;;) {
        if (stop && *stop)
            return 1;
        double left = deadline - monotonic_now();
        if (left <= 0)
            return 0;
        if (left > 0.1)
            left = 0.1;
        struct timespec ts = { 0, (long)(left * 1e9) };
        nanosleep(&ts, NULL);
    }
}

static int retryable(int rc)
{
    return rc == IGTCLOUD_ENET || rc == IGTCLOUD_ETIMEOUT ||
           (rc == IGTCLOUD_EPROTO && igtcloud_error_last()->http_status >= 500);
}

int igtcloud_session_keep_alive(igtcloud_session *s, const igtcloud_keep_alive_options *given)
{
    igtcloud_keep_alive_options defaults = IGTCLOUD_KEEP_ALIVE_OPTIONS_INIT;
    const igtcloud_keep_alive_options *opts = given ? given : &defaults;
    int rc = 0;
    if (!s)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no session");
    if (opts->version != IGTCLOUD_KEEP_ALIVE_OPTIONS_VERSION)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "unknown keep-alive options version %u",
                                   opts->version);
    long margin = opts->refresh_margin > 0 ? opts->refresh_margin : 180;
    long window = opts->retry_window > 0 ? opts->retry_window : 180;
    igtcloud__http_client_set_cancel(s->http, opts->stop);

    for (;;) {
        long lifetime = s->max_age > 0 ? s->max_age : (long)(s->token.exp - time(NULL));
        long wait = lifetime - margin;
        if (wait < 1)
            wait = 1;
        igtcloud__http_debug(s->http, "next refresh in %ld s", wait);
        if (sleep_until(monotonic_now() + (double)wait, opts->stop))
            break;

        double give_up = monotonic_now() + (double)window;
        double delay = 1.0;
        for (;;) {
            rc = igtcloud_session_refresh(s);
            if (rc == 0 || !retryable(rc))
                break;
            double left = give_up - monotonic_now();
            if (left <= 0)
                break;
            unsigned char r = 0;
            igtcloud__random_bytes(&r, 1);
            /* Full jitter between half and the whole of the current delay. */
            double pause = delay * (0.5 + (double)r / 510.0);
            if (pause > left)
                pause = left;
            igtcloud__http_debug(s->http, "refresh failed (%s); retrying in %.1f s",
                                 igtcloud_error_last()->message, pause);
            if (sleep_until(monotonic_now() + pause, opts->stop)) {
                rc = 0;
                goto done;
            }
            delay = delay * 2 > 30 ? 30 : delay * 2;
        }
        if (rc == IGTCLOUD_ECANCELLED && opts->stop && *opts->stop) {
            rc = 0;
            break;
        }
        if (rc) {
            if (retryable(rc)) {
                char why[400];
                snprintf(why, sizeof(why), "%s", igtcloud_error_last()->message);
                rc = igtcloud__error_set(rc, "session lost: no refresh for %ld s (%s)", window,
                                         why);
            }
            break;
        }
        igtcloud__http_debug(s->http, "session refreshed; valid for %ld s", s->max_age);
    }
done:
    igtcloud__http_client_set_cancel(s->http, NULL);
    return rc;
}

/* Refresh (or re-read the token file) when the JWT is about to run out. */
static int ensure_fresh(igtcloud_session *s)
{
    time_t now = time(NULL);
    long long left = s->token.exp - (long long)now;
    if (s->kind == IGTCLOUD__SESSION_TOKEN_FILE) {
        /* `igtcloud login` refreshes 180 s ahead; look again once it should have. */
        if (left < 150)
            return igtcloud_session_refresh(s);
        return 0;
    }
    if (!s->logged_in || s->max_age <= 0)
        return 0;
    long margin = s->max_age > 360 ? 180 : s->max_age / 4;
    if ((long long)(now - s->obtained) >= (long long)(s->max_age - margin))
        return igtcloud_session_refresh(s);
    return 0;
}

int igtcloud__session_request(igtcloud__http_response *out, igtcloud_session *s,
                              const char *method, const char *path, const char *json_body)
{
    int rc = 0;
    igtcloud__buf url = IGTCLOUD_BUF_INIT;
    igtcloud__buf jwt = IGTCLOUD_BUF_INIT, csrf = IGTCLOUD_BUF_INIT;
    igtcloud__http_response_init(out);
    rc = ensure_fresh(s);
    if (rc)
        return rc;
    rc = igtcloud__buf_printf(&url, "%s%s", s->base, path);
    if (!rc)
        rc = igtcloud__buf_printf(&jwt, "X-JWT: %s", s->token.jwt);
    if (!rc)
        rc = igtcloud__buf_printf(&csrf, "X-CSRF-TOKEN: %s", s->token.csrf);
    if (rc)
        goto done;
    const char *headers[] = { "Accept: application/json", "Content-Type: application/json",
                              jwt.ptr, csrf.ptr, NULL };
    rc = igtcloud__http_request(out, s->http, method, url.ptr, headers, json_body,
                                json_body ? strlen(json_body) : 0);
done:
    if (jwt.ptr)
        OPENSSL_cleanse(jwt.ptr, jwt.size);
    if (csrf.ptr)
        OPENSSL_cleanse(csrf.ptr, csrf.size);
    igtcloud__buf_dispose(&jwt);
    igtcloud__buf_dispose(&csrf);
    igtcloud__buf_dispose(&url);
    return rc;
}
