/*
 * Helpers shared by the transfer engine's integration tests (included, not
 * compiled on their own): a sandbox with the demo world, a credentials
 * provider that asks its API, files of pseudo-random bytes and their SHA-256.
 */
#ifndef TRANSFER_HELPERS_H
#define TRANSFER_HELPERS_H

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <igtcloud/igtcloud.h>

#include "test_http.h"
#include "test_sandbox.h"

#define DEMO_PREFIX "projects/demo-project/"

typedef struct th_env {
    test_sandbox sb;
    test_login login;
    char dir[256];          /* scratch folder for local files */
    int provider_calls;
    int provider_fail;
} th_env;

static __attribute__((unused)) int th_provider(igtcloud_s3_credentials *out, const char *action, const char *prefix,
                       void *payload)
{
    th_env *env = payload;
    env->provider_calls++;
    if (env->provider_fail)
        return IGTCLOUD_EAUTH;
    char url[1024];
    snprintf(url, sizeof(url), "%s/api/auth/s3credentials?action=%s&prefix=%s", env->sb.api_url,
             action, prefix);
    test_response res;
    if (test_api(&res, &env->login, "GET", url, NULL) != 0)
        return IGTCLOUD_ENET;
    int rc = res.status == 200 ? igtcloud_s3_credentials_from_json(out, res.body, res.body_len)
                               : IGTCLOUD_EAUTH;
    test_response_dispose(&res);
    return rc;
}

/* Start a sandbox (extra args may be NULL) and log in as demo. */
static __attribute__((unused)) int th_start(th_env *env, const char *const *extra)
{
    memset(env, 0, sizeof(*env));
    const char *args[16] = { "--seed", "demo" };
    int n = 2;
    for (int i = 0; extra && extra[i] && n < 15; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    if (test_sandbox_start(&env->sb, args))
        return -1;
    if (test_login_password(&env->login, env->sb.api_url, "demo", "demo") != 200)
        return -1;
    return test_make_temp_dir(env->dir, sizeof(env->dir), "transfer");
}

static __attribute__((unused)) void th_stop(th_env *env)
{
    test_sandbox_stop(&env->sb);
    test_remove_tree(env->dir);
}

static __attribute__((unused)) void th_options(igtcloud_transfer_options *o, th_env *env)
{
    igtcloud_transfer_options_init(o, IGTCLOUD_TRANSFER_OPTIONS_VERSION);
    o->credentials_cb = th_provider;
    o->credentials_payload = env;
    o->backoff_base_ms = 10;
    o->backoff_cap_ms = 50;
}

/* Write `size` pseudo-random bytes (from `seed`) to path. */
static __attribute__((unused)) int th_make_file(const char *path, uint64_t size, uint32_t seed)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    static unsigned char block[65536];
    uint64_t x = seed * 2654435761u + 1;
    uint64_t left = size;
    while (left > 0) {
        size_t n = left < sizeof(block) ? (size_t)left : sizeof(block);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            block[i] = (unsigned char)x;
        }
        if (write(fd, block, n) != (ssize_t)n) {
            close(fd);
            return -1;
        }
        left -= n;
    }
    return close(fd);
}

/* Lower-case hex SHA-256 of a file into out (65 bytes); -1 when unreadable. */
static __attribute__((unused)) int th_sha256(const char *path, char out[65])
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    static unsigned char block[65536];
    ssize_t n;
    while ((n = read(fd, block, sizeof(block))) > 0)
        EVP_DigestUpdate(ctx, block, (size_t)n);
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_DigestFinal_ex(ctx, d, &dl);
    EVP_MD_CTX_free(ctx);
    close(fd);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    return 0;
}

static __attribute__((unused)) int th_same_file(const char *a, const char *b)
{
    char ha[65], hb[65];
    return th_sha256(a, ha) == 0 && th_sha256(b, hb) == 0 && strcmp(ha, hb) == 0;
}

static __attribute__((unused)) int th_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Count request-log lines containing every one of the given substrings. */
static __attribute__((unused)) int th_log_count(const th_env *env, const char *a, const char *b, const char *c)
{
    char *log = test_sandbox_log(&env->sb);
    int count = 0;
    for (char *line = log; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if ((!a || strstr(line, a)) && (!b || strstr(line, b)) && (!c || strstr(line, c)))
            count++;
        line = nl ? nl + 1 : line + strlen(line);
    }
    free(log);
    return count;
}

/* Fail with the engine's last message. */
#define TH_PASS(expr)                                                            \
    do {                                                                         \
        int th_rc_ = (expr);                                                     \
        if (th_rc_ != 0) {                                                       \
            fprintf(stderr, "%s: %d %s\n", #expr, th_rc_, igtcloud_error_last()->message); \
            fail();                                                              \
        }                                                                        \
    } while (0)

/* env->dir/name in out. */
static __attribute__((unused)) void th_path_in(const th_env *env, char *out, size_t size,
                                               const char *name)
{
    snprintf(out, size, "%s/%s", env->dir, name);
}

/*
 * A new transfer in *out with one download of key to dst (`size` -1: not
 * known), run; returns the run's code. The caller frees *out.
 */
static __attribute__((unused)) int th_run_download(igtcloud_transfer **out,
                                                   const igtcloud_transfer_options *o,
                                                   const char *key, const char *dst, int64_t size)
{
    TH_PASS(igtcloud_transfer_new(out, o));
    TH_PASS(igtcloud_transfer_add_download(*out, key, dst, DEMO_PREFIX, size, NULL));
    return igtcloud_transfer_run(*out);
}

/* Lines in the sandbox's request log so far (to look only at what comes after). */
static __attribute__((unused)) int th_log_lines(th_env *env)
{
    char *log = test_sandbox_log(&env->sb);
    int n = 0;
    for (char *p = log; p && *p; p++)
        n += *p == '\n';
    free(log);
    return n;
}

/*
 * The byte ranges [from[i], to[i]) of the ranged GETs of keys containing
 * `key`, logged after line `skip`, in log order; returns how many (at most max).
 */
static __attribute__((unused)) int th_ranged_gets(th_env *env, const char *key, int skip,
                                                  uint64_t *from, uint64_t *to, int max)
{
    char *log = test_sandbox_log(&env->sb);
    int n = 0, line_no = 0;
    for (char *line = log; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        const char *rg = strstr(line, "\"range\":\"bytes=");
        if (line_no++ >= skip && rg && n < max && strstr(line, "\"GetObject\"") && strstr(line, key)) {
            char *dash = NULL;
            from[n] = strtoull(rg + 15, &dash, 10);
            to[n] = dash && *dash == '-' ? strtoull(dash + 1, NULL, 10) + 1 : 0;
            n++;
        }
        line = nl ? nl + 1 : line + strlen(line);
    }
    free(log);
    return n;
}

/* Upload src to key (resuming upload_id unless NULL) in a run that must succeed. */
static __attribute__((unused)) void th_put_file(const igtcloud_transfer_options *o, const char *src,
                                                const char *key, const char *upload_id)
{
    igtcloud_transfer *t = NULL;
    TH_PASS(igtcloud_transfer_new(&t, o));
    TH_PASS(igtcloud_transfer_add_upload(t, src, key, DEMO_PREFIX, upload_id, NULL));
    TH_PASS(igtcloud_transfer_run(t));
    igtcloud_transfer_free(t);
}

#endif
