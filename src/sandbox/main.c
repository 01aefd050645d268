#include "sandbox.h"
#include "seed.h"
#include "server.h"
#include "s3_server.h"
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
    "  A local IGT Cloud: the REST API (auth, data, action) on SQLite and an\n"
    "  S3-compatible endpoint, for demos and tests. Prints 'ready api=URL s3=URL'\n"
    "  on stdout once it serves requests;\n"
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
    "  --s3-listen HOST:PORT     S3 endpoint address (default 127.0.0.1:0, a free\n"
    "                            port); path-style, one bucket\n"
    "  --region REGION           S3 region credentials are signed for (default\n"
    "                            us-east-1)\n"
    "  --tls-cert FILE --tls-key FILE\n"
    "                            serve HTTPS on both listeners with this PEM\n"
    "                            certificate and key\n"
    "  --min-part-size BYTES     smallest non-final multipart part (default 5242880)\n"
    "  --faults FILE             S3 fault injection rules (docs/sandbox-faults.md)\n"
    "  --admin-token TOKEN       enable /_admin/faults on the S3 endpoint for\n"
    "                            requests carrying 'X-Admin-Token: TOKEN'\n"
    "  --help                    show this message and exit\n";

/* Every option but --help takes a value. */
static const char *const value_options[] = {
    "--listen", "--data", "--seed", "--token-lifetime", "--credential-lifetime",
    "--log-requests", "--max-body", "--s3-listen", "--region", "--tls-cert", "--tls-key",
    "--min-part-size", "--faults", "--admin-token", NULL,
};

static int takes_value(const char *opt)
{
    for (int i = 0; value_options[i]; i++)
        if (strcmp(opt, value_options[i]) == 0)
            return 1;
    return 0;
}

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

static int parse_s3_listen(const char *text, sandbox_config *config)
{
    sandbox_config scratch;
    memset(&scratch, 0, sizeof(scratch));
    if (parse_listen(text, &scratch))
        return -1;
    memcpy(config->s3_listen_host, scratch.listen_host, sizeof(config->s3_listen_host));
    config->s3_listen_port = scratch.listen_port;
    return 0;
}

/* Read a whole (small) PEM file into a NUL-terminated string; NULL on failure. */
static char *read_pem(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = calloc(1, 1 << 20);
    size_t got = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
    int bad = ferror(f) || got == 0 || got >= (1 << 20) - 1;
    fclose(f);
    if (bad) {
        free(text);
        return NULL;
    }
    return text;
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
    snprintf(sb.config.s3_listen_host, sizeof(sb.config.s3_listen_host), "127.0.0.1");

    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        long number;
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (!takes_value(opt))
            return usage_error("unknown option '%s'", opt);
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
        } else if (strcmp(opt, "--s3-listen") == 0) {
            if (parse_s3_listen(val, &sb.config))
                return usage_error("--s3-listen expects HOST:PORT, got '%s'", val);
        } else if (strcmp(opt, "--region") == 0) {
            if (!*val || strlen(val) >= sizeof(sb.region) || strpbrk(val, "/ \t"))
                return usage_error("--region expects a region name, got '%s'", val);
            snprintf(sb.region, sizeof(sb.region), "%s", val);
        } else if (strcmp(opt, "--tls-cert") == 0) {
            sb.config.tls_cert = val;
        } else if (strcmp(opt, "--tls-key") == 0) {
            sb.config.tls_key = val;
        } else if (strcmp(opt, "--min-part-size") == 0) {
            if (parse_long(val, 1, 5L << 30, &number))
                return usage_error("--min-part-size expects bytes, got '%s'", val);
            sb.config.min_part_size = (unsigned long long)number;
        } else if (strcmp(opt, "--faults") == 0) {
            sb.config.faults = val;
        } else if (strcmp(opt, "--admin-token") == 0) {
            if (!*val)
                return usage_error("--admin-token must not be empty");
            sb.config.admin_token = val;
        } else {
            return usage_error("unknown option '%s'", opt);
        }
    }

    if (!sb.config.tls_cert != !sb.config.tls_key)
        return usage_error("--tls-cert and --tls-key go together");

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
    sandbox_s3_server *s3_server = NULL;
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

    if (sb.config.tls_cert) {
        sb.tls_cert_pem = read_pem(sb.config.tls_cert);
        sb.tls_key_pem = read_pem(sb.config.tls_key);
        if (!sb.tls_cert_pem || !sb.tls_key_pem) {
            fprintf(stderr, "igtcloud-sandbox: cannot read --tls-cert/--tls-key\n");
            goto done;
        }
    }
    const char *scheme = sb.tls_cert_pem ? "https" : "http";
    /* S3 first, so the credentials the API hands out name its endpoint. */
    unsigned short s3_port = 0;
    if (sandbox_s3_server_start(&s3_server, &s3_port, &sb))
        goto done;
    snprintf(sb.s3_url, sizeof(sb.s3_url), "%s://%s:%u", scheme, sb.config.s3_listen_host,
             s3_port);

    unsigned short port = 0;
    if (sandbox_server_start(&server, &port, &sb, sb.config.listen_host,
                             sb.config.listen_port)) {
        fprintf(stderr, "igtcloud-sandbox: cannot listen on %s:%u\n",
                sb.config.listen_host, sb.config.listen_port);
        goto done;
    }
    snprintf(sb.api_url, sizeof(sb.api_url), "%s://%s:%u", scheme, sb.config.listen_host,
             port);
    printf("ready api=%s s3=%s\n", sb.api_url, sb.s3_url);
    fflush(stdout);

    int sig = 0;
    sigwait(&signals, &sig);
    exit_code = 0;
done:
    sandbox_server_stop(server);
    sandbox_s3_server_stop(s3_server);
    sandbox_store_close(sb.store);
    if (sb.request_log)
        fclose(sb.request_log);
    if (temporary)
        nftw(sb.data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(sb.tls_cert_pem);
    if (sb.tls_key_pem)
        memset(sb.tls_key_pem, 0, strlen(sb.tls_key_pem));
    free(sb.tls_key_pem);
    igtcloud_global_shutdown();
    return exit_code;
}
