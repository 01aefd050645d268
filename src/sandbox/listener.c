#include "listener.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

int sandbox_listener_address(struct sockaddr_in *out, const char *host, unsigned short port)
{
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons(port);
    return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

int sandbox_listener_start(struct MHD_Daemon **out, unsigned short *bound_port,
                           const sandbox *sb, const struct sockaddr_in *addr,
                           MHD_AccessHandlerCallback on_request, void *cls,
                           const struct MHD_OptionItem *options)
{
    unsigned short port = ntohs(addr->sin_port);
    /*
     * --tls-cert/--tls-key (main.c loads the PEMs). TLS options only with
     * TLS: MHD complains about them otherwise.
     */
    struct MHD_OptionItem tls[] = {
        { MHD_OPTION_HTTPS_MEM_KEY, 0, sb->tls_key_pem },
        { MHD_OPTION_HTTPS_MEM_CERT, 0, sb->tls_cert_pem },
        { MHD_OPTION_END, 0, NULL },
    };
    struct MHD_Daemon *daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG |
            (sb->tls_cert_pem ? MHD_USE_TLS : 0),
        port, NULL, NULL, on_request, cls,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)512,
        MHD_OPTION_ARRAY, options,
        MHD_OPTION_ARRAY, sb->tls_cert_pem ? tls : tls + 2,
        MHD_OPTION_END);
    if (!daemon)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    *bound_port = info ? info->port : port;
    *out = daemon;
    return 0;
}

int sandbox_headers_add(char **names, char **values, int *count, int max, const char *name,
                        const char *value)
{
    if (*count >= max)
        return -1;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return -1;
    }
    names[*count] = n;
    values[*count] = v;
    (*count)++;
    return 0;
}

void sandbox_headers_clear(char **names, char **values, int *count)
{
    for (int i = 0; i < *count; i++) {
        free(names[i]);
        free(values[i]);
    }
    *count = 0;
}

json_t *sandbox_log_line(const char *service, const char *method, const char *path, int status,
                         unsigned long long bytes)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return json_pack("{s:f, s:s, s:s, s:s, s:i, s:I}",
                     "time", (double)now.tv_sec + now.tv_nsec / 1e9,
                     "service", service, "method", method, "path", path,
                     "status", status, "bytes", (json_int_t)bytes);
}

void sandbox_log_write(sandbox *sb, json_t *line)
{
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (!text)
        return;
    pthread_mutex_lock(&sb->log_lock);
    fprintf(sb->request_log, "%s\n", text);
    fflush(sb->request_log);
    pthread_mutex_unlock(&sb->log_lock);
    free(text);
}
