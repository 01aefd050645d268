#include "fake_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(addr.sin_port);
    return fd;
}

int fake_unused_port(void)
{
    int port = 0;
    int fd = listen_any(&port);
    if (fd < 0)
        return -1;
    close(fd);
    return port;
}

static ssize_t conn_read(int conn, SSL *ssl, char *buf, size_t len)
{
    if (ssl) {
        int n = SSL_read(ssl, buf, (int)len);
        return n > 0 ? n : -1;
    }
    return read(conn, buf, len);
}

static ssize_t conn_write(int conn, SSL *ssl, const char *buf, size_t len)
{
    if (ssl) {
        int n = SSL_write(ssl, buf, (int)len);
        return n > 0 ? n : -1;
    }
    return send(conn, buf, len, MSG_NOSIGNAL);
}

/* Read the head and a Content-Length body, or whatever arrives within a second. */
static void read_request(fake_server *fs, int conn, SSL *ssl)
{
    char buf[8192];
    size_t used = 0;
    size_t want = 0;
    while (used < sizeof(buf) - 1) {
        struct pollfd pfd = { conn, POLLIN, 0 };
        if (!(ssl && SSL_pending(ssl)) && poll(&pfd, 1, 1000) <= 0)
            break;
        ssize_t n = conn_read(conn, ssl, buf + used, sizeof(buf) - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
        buf[used] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end)
            continue;
        if (!want) {
            size_t body = 0;
            for (char *p = buf; p && p < end; p = strstr(p, "\r\n")) {
                if (*p == '\r')
                    p += 2;
                if (strncasecmp(p, "Content-Length:", 15) == 0)
                    body = (size_t)strtoul(p + 15, NULL, 10);
            }
            want = (size_t)(end + 4 - buf) + body;
        }
        if (used >= want)
            break;
    }
    buf[used] = '\0';
    pthread_mutex_lock(&fs->lock);
    memcpy(fs->last_request, buf, used + 1);
    pthread_mutex_unlock(&fs->lock);
}

static void *serve(void *arg)
{
    fake_server *fs = arg;
    while (!fs->stop) {
        struct pollfd pfd = { fs->fd, POLLIN, 0 };
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        int conn = accept(fs->fd, NULL, NULL);
        if (conn < 0)
            continue;
        fs->requests++;
        if (fs->mode == FAKE_CLOSE) {
            close(conn);
            continue;
        }
        SSL *ssl = NULL;
        if (fs->tls) {
            ssl = SSL_new(fs->tls);
            SSL_set_fd(ssl, conn);
            if (SSL_accept(ssl) != 1) {
                /* The client refused our certificate: exactly what some tests want. */
                ERR_clear_error();
                SSL_free(ssl);
                close(conn);
                continue;
            }
        }
        read_request(fs, conn, ssl);
        if (fs->mode == FAKE_SILENT) {
            while (!fs->stop)
                usleep(20000);
        } else if (fs->response) {
            size_t len = strlen(fs->response);
            size_t sent = 0;
            while (sent < len) {
                ssize_t n = conn_write(conn, ssl, fs->response + sent, len - sent);
                if (n <= 0)
                    break;
                sent += (size_t)n;
            }
        }
        if (ssl) {
            SSL_shutdown(ssl);
            SSL_free(ssl);
        }
        shutdown(conn, SHUT_RDWR);
        close(conn);
    }
    return NULL;
}

static int start_common(fake_server *fs, fake_mode mode, const char *response, SSL_CTX *ctx)
{
    memset(fs, 0, sizeof(*fs));
    fs->mode = mode;
    fs->response = response;
    fs->tls = ctx;
    fs->fd = listen_any(&fs->port);
    if (fs->fd < 0)
        return -1;
    snprintf(fs->url, sizeof(fs->url), "%s://127.0.0.1:%d", ctx ? "https" : "http", fs->port);
    pthread_mutex_init(&fs->lock, NULL);
    if (pthread_create(&fs->thread, NULL, serve, fs) != 0) {
        close(fs->fd);
        return -1;
    }
    return 0;
}

int fake_server_start(fake_server *fs, fake_mode mode, const char *response)
{
    return start_common(fs, mode, response, NULL);
}

int fake_server_start_tls(fake_server *fs, fake_mode mode, const char *response,
                          const char *cert_file, const char *key_file)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        SSL_CTX_free(ctx);
        return -1;
    }
    if (start_common(fs, mode, response, ctx) != 0) {
        SSL_CTX_free(ctx);
        fs->tls = NULL;
        return -1;
    }
    return 0;
}

void fake_server_stop(fake_server *fs)
{
    if (fs->fd <= 0)
        return;
    fs->stop = 1;
    pthread_join(fs->thread, NULL);
    close(fs->fd);
    pthread_mutex_destroy(&fs->lock);
    SSL_CTX_free(fs->tls);
    fs->tls = NULL;
    fs->fd = 0;
}
