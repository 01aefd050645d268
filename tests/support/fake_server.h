#ifndef TEST_FAKE_SERVER_H
#define TEST_FAKE_SERVER_H

#include <stdatomic.h>
#include <pthread.h>

/*
 * A tiny HTTP listener on 127.0.0.1 (port chosen by the kernel) for answers a
 * real server would not give: canned bytes, silence, or a closed connection.
 * It serves one connection at a time on a thread until stopped.
 */
typedef enum {
    FAKE_RESPOND,   /* read the request, send `response` verbatim, close */
    FAKE_SILENT,    /* read the request, never answer (until stopped) */
    FAKE_CLOSE      /* accept and close at once */
} fake_mode;

typedef struct fake_server {
    int fd;
    int port;
    char url[64];            /* "http://127.0.0.1:PORT" */
    fake_mode mode;
    const char *response;    /* borrowed; must outlive the server */
    atomic_int stop;  /* set by fake_server_stop from another thread */
    volatile int requests;   /* connections served */
    char last_request[8192]; /* head and body of the last request (NUL-terminated) */
    pthread_t thread;
    pthread_mutex_t lock;
    void *tls;               /* SSL_CTX when serving HTTPS */
} fake_server;

int fake_server_start(fake_server *fs, fake_mode mode, const char *response);

/* The same over TLS with a PEM certificate and key; url is "https://127.0.0.1:PORT". */
int fake_server_start_tls(fake_server *fs, fake_mode mode, const char *response,
                          const char *cert_file, const char *key_file);
void fake_server_stop(fake_server *fs);

/* A port on 127.0.0.1 where nothing listens (bound, then closed). */
int fake_unused_port(void);

#endif
