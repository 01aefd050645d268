#ifndef IGTCLOUD_SESSION_H
#define IGTCLOUD_SESSION_H

/**
 * @file igtcloud/session.h
 * @brief Logging in to an IGT Cloud domain, the shared token file, refresh,
 *        logout, and service identities.
 *
 * A session is what every other call needs. igtcloud_session_open() behaves
 * like the reference client's `smart_auth`: it reuses the shared token file
 * written by a running `igtcloud login` when that file is for the same host,
 * still valid and for the requested user; otherwise it logs in itself (password
 * or service key) for the life of the session and logs out when the session is
 * freed. Tokens handed over in CLOUD_JWT_TOKEN and CLOUD_CSRF_TOKEN are used
 * without logging in.
 *
 * A session is not thread-safe: use one per thread, or serialise calls.
 */

#include <signal.h>
#include <stddef.h>

#include "igtcloud/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An open session with one domain. */
typedef struct igtcloud_session igtcloud_session;

/**
 * Supplies the password of a password login, only when one is needed.
 *
 * @param[out] buf  where to write the NUL-terminated password
 * @param size      bytes available in buf
 * @param user      the user logging in
 * @param host      the host ("igt-web.eu1.phsdp.com") the password is for
 * @param payload   the options' password_payload
 * @return 0 on success; a negative igtcloud_status (e.g. IGTCLOUD_ECANCELLED)
 *         aborts the login with that code.
 */
typedef int (*igtcloud_password_cb)(char *buf, size_t size, const char *user,
                                    const char *host, void *payload);

/**
 * Receives one line per HTTP request and response (method, URL without query,
 * status, time, size). Headers and bodies, and so tokens and passwords, are
 * never passed.
 */
typedef void (*igtcloud_debug_cb)(const char *line, void *payload);

/** Never log in and no network: only the token file may be used (get-token). */
#define IGTCLOUD_SESSION_REUSE_ONLY (1u << 0)
/** Always log in: ignore the token file and CLOUD_JWT_TOKEN. */
#define IGTCLOUD_SESSION_NO_REUSE (1u << 1)

/** Options of igtcloud_session_open(). */
typedef struct igtcloud_session_options {
    unsigned int version;      /**< IGTCLOUD_SESSION_OPTIONS_VERSION */
    /**
     * "PROD", "TEST", a host ("host[:port]", https is implied) or a URL
     * ("http://127.0.0.1:8080"); a path is ignored. NULL: $CLOUD_DOMAIN. With
     * IGTCLOUD_SESSION_REUSE_ONLY and no domain at all, any domain is accepted.
     */
    const char *domain;
    /** User name; NULL: $CLOUD_USERNAME. When set, a reused token must be for this user. */
    const char *user;
    /** The password as a string (prefer password_cb), or NULL. */
    const char *password;
    /** Called for the password when a password login is needed and password is NULL. */
    igtcloud_password_cb password_cb;
    void *password_payload;    /**< passed to password_cb */
    /** PEM private key (PKCS#1 or PKCS#8, RSA) of a service identity: log in as that service. */
    const char *service_key_path;
    /** The service id; NULL: the key file's name without its extension. */
    const char *service_id;
    /** The shared token file; NULL: $CLOUD_TOKEN_MMAP, else the per-user default. */
    const char *token_file;
    /** PEM file of CA certificates to trust instead of the system's. */
    const char *ca_file;
    igtcloud_debug_cb debug_cb; /**< optional request log */
    void *debug_payload;        /**< passed to debug_cb */
    unsigned int flags;         /**< IGTCLOUD_SESSION_REUSE_ONLY, IGTCLOUD_SESSION_NO_REUSE */
} igtcloud_session_options;

/** Current version of igtcloud_session_options. */
#define IGTCLOUD_SESSION_OPTIONS_VERSION 1
/** Static initialiser: all options unset. */
#define IGTCLOUD_SESSION_OPTIONS_INIT { IGTCLOUD_SESSION_OPTIONS_VERSION, NULL, NULL, NULL, \
                                        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0u }

/**
 * Initialise an options struct allocated by the caller.
 *
 * @param[out] opts the struct to set to IGTCLOUD_SESSION_OPTIONS_INIT
 * @param version   IGTCLOUD_SESSION_OPTIONS_VERSION
 * @return 0, or IGTCLOUD_EINVALID for an unknown version.
 */
IGTCLOUD_EXTERN int igtcloud_session_options_init(igtcloud_session_options *opts,
                                                  unsigned int version);

/**
 * Open a session (see the file comment for how the token is found).
 *
 * @param[out] out the new session, owned by the caller, freed with
 *                 igtcloud_session_free(); set only on success
 * @param opts     options, or NULL for all defaults
 * @return 0; IGTCLOUD_EINVALID (no domain or user, bad domain, bad key file),
 *         IGTCLOUD_EAUTH (login refused, not logged in, token expired or of
 *         another domain or user), IGTCLOUD_EPERM (unsafe token file),
 *         IGTCLOUD_ENET / ETIMEOUT / ETLS (transport), IGTCLOUD_EPROTO (the
 *         server's answer is not what the protocol says), IGTCLOUD_EIO.
 */
IGTCLOUD_EXTERN int igtcloud_session_open(igtcloud_session **out,
                                          const igtcloud_session_options *opts);

/**
 * Close a session: stop publishing its token file (deleting the file), and
 * log out when the session logged in itself. A failing logout is ignored;
 * call igtcloud_session_logout() first to see it. NULL is a no-op.
 */
IGTCLOUD_EXTERN void igtcloud_session_free(igtcloud_session *session);

/**
 * Log out now (POST /api/auth/logout); the JWT is dead afterwards. Only for
 * sessions that logged in themselves; otherwise a no-op returning 0.
 *
 * @return 0, or a negative igtcloud_status.
 */
IGTCLOUD_EXTERN int igtcloud_session_logout(igtcloud_session *session);

/**
 * Get a fresh JWT: POST /api/auth/refresh for users (and for any token with a
 * refresh_token claim), a new signed assertion for services, a new look at the
 * token file for sessions that borrow it. A published token file is updated.
 *
 * @return 0; IGTCLOUD_EAUTH when the server refuses; transport codes as for
 *         igtcloud_session_open().
 */
IGTCLOUD_EXTERN int igtcloud_session_refresh(igtcloud_session *session);

/** The user (the token's `sub`); borrowed, valid until the next refresh or free. */
IGTCLOUD_EXTERN const char *igtcloud_session_user(const igtcloud_session *session);
/** The JWT sent as X-JWT; borrowed, valid until the next refresh or free. */
IGTCLOUD_EXTERN const char *igtcloud_session_jwt(const igtcloud_session *session);
/** The CSRF token sent as X-CSRF-TOKEN; borrowed, valid until the next refresh or free. */
IGTCLOUD_EXTERN const char *igtcloud_session_csrf(const igtcloud_session *session);
/**
 * The JWT's access_token claim; borrowed, valid until the next refresh or free.
 * @return NULL when the token has no such claim.
 */
IGTCLOUD_EXTERN const char *igtcloud_session_access_token(const igtcloud_session *session);
/** The domain as a URL without a trailing '/' ("https://host"); borrowed. */
IGTCLOUD_EXTERN const char *igtcloud_session_domain(const igtcloud_session *session);
/** Expiry of the JWT (its `exp` claim), in seconds since the epoch. */
IGTCLOUD_EXTERN long long igtcloud_session_expiry(const igtcloud_session *session);
/**
 * Lifetime in seconds announced with the current JWT (the cookie's Max-Age),
 * or 0 when the token was not obtained by this session (token file, environment).
 */
IGTCLOUD_EXTERN long igtcloud_session_lifetime(const igtcloud_session *session);

/**
 * The path of the shared token file: `override` when given, else
 * $CLOUD_TOKEN_MMAP, else $XDG_RUNTIME_DIR/igtcloud-token, else
 * $TMPDIR/igtcloud-token-<uid> (/tmp when TMPDIR is unset).
 *
 * @param[out] out  buffer for the NUL-terminated path
 * @param size      size of out
 * @param override  a path chosen by the caller, or NULL
 * @return 0, or IGTCLOUD_EINVALID when out is too small.
 */
IGTCLOUD_EXTERN int igtcloud_token_file_path(char *out, size_t size, const char *override);

/**
 * Publish the session's token in the shared token file (PROTOCOL.md section 3
 * format, mode 0600, created fresh and renamed into place) so other processes
 * can reuse it; every later refresh rewrites it. igtcloud_session_unpublish()
 * or igtcloud_session_free() delete it.
 *
 * @param session a session that logged in itself
 * @param path    the file, or NULL for igtcloud_token_file_path(NULL)
 * @return 0, or IGTCLOUD_EIO / IGTCLOUD_EPERM with the path in the message.
 */
IGTCLOUD_EXTERN int igtcloud_session_publish(igtcloud_session *session, const char *path);

/**
 * Delete the published token file if it is still the one this session wrote.
 *
 * @return 0, or IGTCLOUD_EIO.
 */
IGTCLOUD_EXTERN int igtcloud_session_unpublish(igtcloud_session *session);

/** Options of igtcloud_session_keep_alive(). */
typedef struct igtcloud_keep_alive_options {
    unsigned int version;        /**< IGTCLOUD_KEEP_ALIVE_OPTIONS_VERSION */
    /** Refresh this many seconds before the JWT's lifetime ends; 0: 180. */
    long refresh_margin;
    /** Keep retrying a refresh that fails on the network this long, seconds; 0: 180. */
    long retry_window;
    /** Stop (and return 0) soon after *stop becomes non-zero, e.g. from a signal handler. */
    volatile sig_atomic_t *stop;
} igtcloud_keep_alive_options;

/** Current version of igtcloud_keep_alive_options. */
#define IGTCLOUD_KEEP_ALIVE_OPTIONS_VERSION 1
/** Static initialiser: defaults. */
#define IGTCLOUD_KEEP_ALIVE_OPTIONS_INIT { IGTCLOUD_KEEP_ALIVE_OPTIONS_VERSION, 0, 0, NULL }

/**
 * Keep a session fresh until told to stop: refresh at lifetime − margin after
 * each login or refresh; a refresh that fails on the network (or with a 5xx
 * answer) is retried with exponential backoff and jitter for up to
 * retry_window seconds. A published token file is rewritten after each refresh.
 *
 * @return 0 when stopped through opts->stop; otherwise the failure that ended
 *         the session (IGTCLOUD_ENET, ETIMEOUT, EAUTH, ...).
 */
IGTCLOUD_EXTERN int igtcloud_session_keep_alive(igtcloud_session *session,
                                                const igtcloud_keep_alive_options *opts);

/** A service identity created with igtcloud_service_create(). */
typedef struct igtcloud_service igtcloud_service;

/**
 * Create a service identity for an institute
 * (POST /api/data/organizations/{institute}/services {"name"}). The server
 * keeps only the public key: save the private key now.
 *
 * @param[out] out      the new service, freed with igtcloud_service_free()
 * @param session       an open session with the rights to create services
 * @param institute_id  the institute's id
 * @param name          a name for the service
 * @return 0; IGTCLOUD_EAUTH / EPERM (not allowed), ENOTFOUND (no such
 *         institute), EPROTO, transport codes.
 */
IGTCLOUD_EXTERN int igtcloud_service_create(igtcloud_service **out, igtcloud_session *session,
                                            const char *institute_id, const char *name);

/** The service id (log in with it); borrowed, valid until igtcloud_service_free(). */
IGTCLOUD_EXTERN const char *igtcloud_service_id(const igtcloud_service *service);
/** The service's name; borrowed, valid until igtcloud_service_free(). */
IGTCLOUD_EXTERN const char *igtcloud_service_name(const igtcloud_service *service);
/** The private key in PEM as the server sent it; borrowed, valid until igtcloud_service_free(). */
IGTCLOUD_EXTERN const char *igtcloud_service_private_key(const igtcloud_service *service);

/** Free a service (and wipe its private key from memory). NULL is a no-op. */
IGTCLOUD_EXTERN void igtcloud_service_free(igtcloud_service *service);

/**
 * Save a PEM private key to a new file (mode 0600, never overwriting, never
 * through a symlink), reflowing the base64 body to 64-character lines; the
 * cloud sends the body on one line.
 *
 * @param pem   the key as text ("-----BEGIN ... KEY-----" ... "-----END ... KEY-----")
 * @param path  the file to create
 * @return 0; IGTCLOUD_EINVALID (not PEM), IGTCLOUD_EEXISTS, IGTCLOUD_EIO.
 */
IGTCLOUD_EXTERN int igtcloud_private_key_save(const char *pem, const char *path);

#ifdef __cplusplus
}
#endif

#endif
