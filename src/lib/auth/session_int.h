#ifndef IGTCLOUD_AUTH_SESSION_INT_H
#define IGTCLOUD_AUTH_SESSION_INT_H

#include <pthread.h>
#include <time.h>
#include <openssl/evp.h>

#include "igtcloud/session.h"
#include "auth/token_file.h"
#include "core/buf.h"
#include "http/http.h"

typedef enum {
    IGTCLOUD__SESSION_PASSWORD,   /* logged in with a password: refresh with /refresh */
    IGTCLOUD__SESSION_SERVICE,    /* logged in with a service key: a new assertion */
    IGTCLOUD__SESSION_TOKEN_FILE, /* borrowed from the token file: re-read it */
    IGTCLOUD__SESSION_ENV         /* CLOUD_JWT_TOKEN / CLOUD_CSRF_TOKEN */
} igtcloud__session_kind;

struct igtcloud_session {
    igtcloud__http_client *http;
    char *base;                   /* "https://host[:port]": what paths are joined to */
    char *authority;              /* "host[:port]": what "same domain" compares */
    igtcloud__token token;        /* sub, jwt, jwt_data, csrf, domain (= base), exp */
    long max_age;                 /* cookie Max-Age of the current JWT; 0 unknown */
    time_t obtained;              /* when the current JWT arrived */
    igtcloud__session_kind kind;
    int logged_in;                /* we logged in and have not logged out */
    char *token_file;             /* the token file a borrowed session re-reads */
    EVP_PKEY *key;                /* service key, for fresh assertions */
    char *service_id;
    igtcloud__token_writer writer;
    igtcloud_debug_cb debug;
    void *debug_payload;
};

/*
 * Normalise a domain as the reference does and more strictly: "PROD"/"TEST"
 * name the cloud's hosts, no scheme means https, only http and https, no user
 * info, path/query/fragment dropped (so "host/" never makes "//api").
 * Appends "scheme://authority" to base and "authority" to authority (either
 * may be NULL). Returns 0 or IGTCLOUD_EINVALID.
 */
int igtcloud__domain_normalize(igtcloud__buf *base, igtcloud__buf *authority, const char *domain);

/*
 * An authenticated API call (PROTOCOL.md section 1): `path` ("/api/...") joined to the
 * domain, X-JWT, X-CSRF-TOKEN, Accept and Content-Type JSON, no cookies. A JWT
 * about to expire is refreshed first (or re-read from the token file). Returns
 * 0 when a response arrived, whatever its status; the caller disposes *out.
 */
int igtcloud__session_request(igtcloud__http_response *out, igtcloud_session *session,
                              const char *method, const char *path, const char *json_body);

/*
 * Turn a non-2xx response into an error: 401 EAUTH, 403 EPERM, 404 ENOTFOUND,
 * 409 EEXISTS, 400 EINVALID, else EPROTO; the message is "<what>: <server's
 * message>" (sanitised to one printable line). Returns the code.
 */
int igtcloud__session_error(const igtcloud__http_response *res, const char *what);

/* The server's {"message"} as one printable line of at most 200 chars, into out. */
void igtcloud__server_message(char *out, size_t size, const igtcloud__http_response *res);

/* Login flows (auth/login.c). Each replaces session->token on success. */
int igtcloud__login_password(igtcloud_session *s, const char *user, const char *password);
int igtcloud__login_service(igtcloud_session *s);
int igtcloud__login_refresh(igtcloud_session *s);
int igtcloud__login_introspect(igtcloud_session *s, const char *jwt, const char *csrf);
int igtcloud__logout(igtcloud_session *s);

/*
 * Load a PEM RSA private key (PKCS#1 or PKCS#8; the base64 body may be on one
 * line). Returns 0, IGTCLOUD_EIO (unreadable) or IGTCLOUD_EINVALID.
 */
int igtcloud__service_key_load(EVP_PKEY **out, const char *path);

/* The service id a key file implies: its name without directory and extension. */
int igtcloud__service_id_from_path(igtcloud__buf *out, const char *path);

/*
 * Rewrite PEM text with the base64 body in 64-character lines, each line
 * ending in '\n'. Returns 0 or IGTCLOUD_EINVALID when `pem` is not one PEM block.
 */
int igtcloud__pem_reflow(igtcloud__buf *out, const char *pem, size_t len);

/*
 * Keeping a session alive while the transfer engine moves bytes. A large
 * file can take longer than the JWT lives, and the session refreshes only
 * when an API call is made: the next listing or S3 credentials request after
 * such a file would find the token expired, and the server refuses to
 * refresh an expired token. So the engine's progress callback (called several
 * times a second, stalled or not) calls igtcloud__session_keep_fresh, which
 * refreshes the session a quarter of its lifetime ahead, at most 180 s and
 * at least 2 s. A refresh that fails or changes nothing (a token file not yet
 * renewed by `igtcloud login`) is tried again 5 s later; when the session is
 * really gone, the next API call says so.
 *
 * The keeper is the caller's state (one per run, zeroed with
 * IGTCLOUD__SESSION_KEEPER_INIT). `lock`, when not NULL, is held while the
 * session is read or refreshed: the lock of other threads sharing the
 * session (api_async.h). The clock is looked at first, without the lock, so
 * most calls cost one time().
 */
typedef struct igtcloud__session_keeper {
    long long exp;          /* the JWT's exp when last looked at */
    long long lifetime;     /* seconds it had then */
    time_t next_check;
} igtcloud__session_keeper;

#define IGTCLOUD__SESSION_KEEPER_INIT { 0, 0, 0 }

void igtcloud__session_keep_fresh(igtcloud__session_keeper *k, igtcloud_session *s,
                                  pthread_mutex_t *lock);

#endif
