#include "sandbox.h"
#include "seed.h"
#include "server.h"
#include "store.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <igtcloud/igtcloud.h>

static const char usage[] =
    "Usage: igtcloud-sandbox [OPTIONS]\n"
    "\n"
    "  A local IGT Cloud: the REST API (auth, data, action) on SQLite, for demos\n"
    "  and tests. Prints 'ready api=URL' on stdout once it serves requests;\n"
    "  SIGINT or SIGTERM shut it down cleanly.\n"
    "\n"
    "Options:\n"
    "  --listen HOST:PORT        API address (default 127.0.0.1:8080; port 0 picks\n"
    "                            a free port)\n"
    "  --data DIR                keep the database and objects in DIR (created if\n"
    "                            missing; a restart keeps everything). Default: a\n"
    "                            temporary folder removed at exit\n"
    "  --seed demo|FILE.json     fill an empty data folder with the demo world or a\n"
    "                            seed file (docs/sandbox-seed.md)\n"
    "  --token-lifetime SECONDS  lifetime of login sessions (default 3600)\n"
    "  --credential-lifetime SECONDS\n"
    "                            lifetime of S3 credentials (default 43200)\n"
    "  --log-requests FILE       append one JSON line per request to FILE\n"
    "  --max-body BYTES          largest API request body (default 16777216)\n"
    "  --help                    show this message and exit\n";

static int parse_long(const char *text, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_listen(const char *text, sandbox_config *config)
{
    const char *colon = strrchr(text, ':');
    long port;
    if (!colon || colon == text || (size_t)(colon - text) >= sizeof(config->listen_host) ||
        parse_long(colon + 1, 0, 65535, &port))
        return -1;
    memcpy(config->listen_host, text, (size_t)(colon - text));
    config->listen_host[colon - text] = '\0';
    if (strcmp(config->listen_host, "localhost") == 0)
        snprintf(config->listen_host, sizeof(config->listen_host), "127.0.0.1");
    config->listen_port = (unsigned short)port;
    return 0;
}

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("igtcloud-sandbox: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see 'igtcloud-sandbox --help')\n", stderr);
    return 2;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int make_data_dir(sandbox *sb, int *temporary)
{
    if (sb->config.data_dir) {
        if (snprintf(sb->data_dir, sizeof(sb->data_dir), "%s", sb->config.data_dir) >=
            (int)sizeof(sb->data_dir))
            return -1;
        if (mkdir(sb->data_dir, 0700) != 0 && errno != EEXIST)
            return -1;
        *temporary = 0;
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(sb->data_dir, sizeof(sb->data_dir), "%s/igtcloud-sandbox.XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(sb->data_dir))
            return -1;
        *temporary = 1;
    }
    char objects[4200];
    snprintf(objects, sizeof(objects), "%s/objects", sb->data_dir);
    if (mkdir(objects, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    sandbox sb;
    memset(&sb, 0, sizeof(sb));
    snprintf(sb.config.listen_host, sizeof(sb.config.listen_host), "127.0.0.1");
    sb.config.listen_port = 8080;
    sb.config.token_lifetime = 3600;
    sb.config.credential_lifetime = 43200;
    sb.config.max_body = 16u << 20;
    pthread_mutex_init(&sb.log_lock, NULL);
    snprintf(sb.region, sizeof(sb.region), "us-east-1");
    snprintf(sb.bucket, sizeof(sb.bucket), "igtcloud-sandbox");

    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        long number;
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (!val)
            return usage_error("option '%s' needs a value", opt);
        i++;
        if (strcmp(opt, "--listen") == 0) {
            if (parse_listen(val, &sb.config))
                return usage_error("--listen expects HOST:PORT, got '%s'", val);
        } else if (strcmp(opt, "--data") == 0) {
            sb.config.data_dir = val;
        } else if (strcmp(opt, "--seed") == 0) {
            sb.config.seed = val;
        } else if (strcmp(opt, "--token-lifetime") == 0) {
            if (parse_long(val, 1, 10L * 365 * 86400, &number))
                return usage_error("--token-lifetime expects seconds, got '%s'", val);
            sb.config.token_lifetime = number;
        } else if (strcmp(opt, "--credential-lifetime") == 0) {
            if (parse_long(val, 1, 10L * 365 * 86400, &number))
                return usage_error("--credential-lifetime expects seconds, got '%s'", val);
            sb.config.credential_lifetime = number;
        } else if (strcmp(opt, "--log-requests") == 0) {
            sb.config.log_requests = val;
        } else if (strcmp(opt, "--max-body") == 0) {
            if (parse_long(val, 1024, LONG_MAX, &number))
                return usage_error("--max-body expects bytes (>= 1024), got '%s'", val);
            sb.config.max_body = (size_t)number;
        } else {
            return usage_error("unknown option '%s'", opt);
        }
    }

    /* Handle shutdown signals synchronously in main; server threads inherit the mask. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    int exit_code = 1;
    int temporary = 0;
    sandbox_server *server = NULL;
    igtcloud_global_init();

    if (make_data_dir(&sb, &temporary)) {
        fprintf(stderr, "igtcloud-sandbox: cannot create data folder '%s': %s\n",
                sb.data_dir, strerror(errno));
        goto done;
    }
    if (sb.config.log_requests) {
        sb.request_log = fopen(sb.config.log_requests, "a");
        if (!sb.request_log) {
            fprintf(stderr, "igtcloud-sandbox: cannot open request log '%s': %s\n",
                    sb.config.log_requests, strerror(errno));
            goto done;
        }
    }
    if (sandbox_store_open(&sb.store, sb.data_dir) != SQLITE_OK) {
        fprintf(stderr, "igtcloud-sandbox: cannot open the database in '%s'\n", sb.data_dir);
        goto done;
    }
    if (sb.config.seed && sandbox_seed(&sb, sb.config.seed))
        goto done;

    unsigned short port = 0;
    if (sandbox_server_start(&server, &port, &sb, sb.config.listen_host,
                             sb.config.listen_port)) {
        fprintf(stderr, "igtcloud-sandbox: cannot listen on %s:%u\n",
                sb.config.listen_host, sb.config.listen_port);
        goto done;
    }
    snprintf(sb.api_url, sizeof(sb.api_url), "http://%s:%u", sb.config.listen_host, port);
    printf("ready api=%s\n", sb.api_url);
    fflush(stdout);

    int sig = 0;
    sigwait(&signals, &sig);
    exit_code = 0;
done:
    sandbox_server_stop(server);
    sandbox_store_close(sb.store);
    if (sb.request_log)
        fclose(sb.request_log);
    if (temporary)
        nftw(sb.data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    igtcloud_global_shutdown();
    return exit_code;
}
