/*
 * The transfer engine on its AWS path, against a fake AWS it reaches the way
 * it would reach the real one: through the HTTPS proxy named in the
 * environment (CONNECT), over TLS checked against a certificate for
 * *.s3.amazonaws.com, at virtual-hosted names. The fake records every
 * request (host, credential scope, headers), so the tests see which region
 * each one was signed for and sent to: discovered from a 301's
 * x-amz-bucket-region header or the region named in a 400 error, remembered
 * for the rest of the run, or taken from AWS_REGION. Also: the certificate is
 * verified, connections are reused, credentials are shared per (action,
 * prefix) and renewed before they expire, and every request carries the
 * session token, a payload hash and (with a body) an integrity header.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "transfer_helpers.h"
#include "core/hash.h"
#include "s3/engine.h"

#define MIB (1024u * 1024u)
#define BUCKET "igt-bucket"
#define TOKEN "FwoGZXIvYXdzEXAMPLE-session-token"
#define MAX_SEEN 64
#define MAX_CONNS 32
#define LAST_MODIFIED_HTTP "Sun, 29 Nov 2026 10:00:00 GMT"
#define LAST_MODIFIED_EPOCH 1795946400

/* One request as the fake AWS received it. */
typedef struct seen {
    char method[8];
    char host[128];
    char target[256];   /* path and query */
    char scope[32];     /* the region of the credential scope */
    char akid[64];
    char range[64];     /* the Range header, if any */
    int token;          /* x-amz-security-token is the session token */
    int sse;            /* x-amz-server-side-encryption: AES256 */
    int integrity;      /* Content-MD5 or x-amz-checksum-crc32c */
    int sha256;         /* x-amz-content-sha256 */
    size_t body;
} seen;

typedef struct aws_fake {
    int fd, port;
    char proxy_url[64];
    SSL_CTX *ctx;
    const char *region;      /* where the bucket lives */
    int wrong_region_status; /* 301 with x-amz-bucket-region, or 400 naming the region */
    atomic_int stop;
    pthread_t thread;
    pthread_mutex_t lock;
    int connects, tls_failures, plain;
    seen log[MAX_SEEN];
    int nlog;
    int conns[MAX_CONNS];
    pthread_t workers[MAX_CONNS];
    int nconns;
} aws_fake;

static char dir[256], cert[320], key_file[320];
static aws_fake fake;
static atomic_int request_ids;

/* ---- the fake ------------------------------------------------------------- */

/* Value of header `name` in a request head, copied into out; 0 when found. */
static int head_value(const char *head, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r");
            if (len >= size)
                len = size - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return 0;
        }
    }
    out[0] = '\0';
    return -1;
}

/* The region a virtual-hosted AWS name points at ("b.s3.amazonaws.com": us-east-1). */
static void host_region(char *out, size_t size, const char *host)
{
    const char *s3 = strstr(host, ".s3.");
    const char *aws = strstr(host, ".amazonaws.com");
    if (!s3 || !aws || aws < s3 + 3) {
        snprintf(out, size, "?");
    } else if (aws == s3 + 3) {
        snprintf(out, size, "us-east-1");
    } else {
        int len = (int)(aws - (s3 + 4));
        snprintf(out, size, "%.*s", len, s3 + 4);
    }
}

/* The object every key holds: a line naming it. */
static void object_body(char *out, size_t size, const char *target)
{
    size_t path_len = strcspn(target, "?");
    snprintf(out, size, "the object at %.*s\n", (int)path_len, target);
}

static int ssl_write_all(SSL *ssl, const char *data, size_t len)
{
    while (len > 0) {
        int n = SSL_write(ssl, data, (int)len);
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int respond(SSL *ssl, int status, const char *reason, const char *extra_headers,
                   const char *body, int head_only)
{
    char head[1024];
    size_t blen = body ? strlen(body) : 0;
    snprintf(head, sizeof(head),
             "HTTP/1.1 %d %s\r\nx-amz-request-id: FAKE%04d\r\n%sContent-Length: %zu\r\n\r\n",
             status, reason, ++request_ids, extra_headers ? extra_headers : "", blen);
    if (ssl_write_all(ssl, head, strlen(head)))
        return -1;
    return head_only || !blen ? 0 : ssl_write_all(ssl, body, blen);
}

/* Answer one request (its head parsed into s) like S3 would, or like S3 in another region. */
static int answer(aws_fake *f, SSL *ssl, const seen *s)
{
    char region[64], body[1024], headers[512];
    host_region(region, sizeof(region), s->host);
    if (strcmp(region, f->region) != 0 || strcmp(s->scope, f->region) != 0) {
        if (f->wrong_region_status == 301) {
            snprintf(headers, sizeof(headers),
                     "x-amz-bucket-region: %s\r\nContent-Type: application/xml\r\n", f->region);
            snprintf(body, sizeof(body),
                     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PermanentRedirect</Code>"
                     "<Message>The bucket you are attempting to access must be addressed using the "
                     "specified endpoint.</Message><Endpoint>%s.s3.%s.amazonaws.com</Endpoint>"
                     "<Bucket>%s</Bucket></Error>", BUCKET, f->region, BUCKET);
            return respond(ssl, 301, "Moved Permanently", headers, body,
                           strcmp(s->method, "HEAD") == 0);
        }
        snprintf(body, sizeof(body),
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AuthorizationHeaderMalformed"
                 "</Code><Message>The authorization header is malformed; the region '%s' is wrong; "
                 "expecting '%s'</Message><Region>%s</Region><RequestId>R1</RequestId></Error>",
                 s->scope, f->region, f->region);
        return respond(ssl, 400, "Bad Request", "Content-Type: application/xml\r\n", body,
                       strcmp(s->method, "HEAD") == 0);
    }
    if (strcmp(s->method, "GET") == 0 || strcmp(s->method, "HEAD") == 0) {
        object_body(body, sizeof(body), s->target);
        unsigned char md5[16];
        char hex[33];
        igtcloud__md5(md5, body, strlen(body));
        igtcloud__hex(hex, md5, sizeof(md5));
        size_t len = strlen(body);
        unsigned long first = 0, last = 0;
        if (sscanf(s->range, "bytes=%lu-%lu", &first, &last) == 2 && first <= last && first < len) {
            if (last >= len)
                last = len - 1;
            snprintf(headers, sizeof(headers),
                     "ETag: \"%s\"\r\nLast-Modified: %s\r\nContent-Range: bytes %lu-%lu/%zu\r\n",
                     hex, LAST_MODIFIED_HTTP, first, last, len);
            body[last + 1] = '\0';
            return respond(ssl, 206, "Partial Content", headers, body + first,
                           strcmp(s->method, "HEAD") == 0);
        }
        snprintf(headers, sizeof(headers), "ETag: \"%s\"\r\nLast-Modified: %s\r\n", hex,
                 LAST_MODIFIED_HTTP);
        return respond(ssl, 200, "OK", headers, body, strcmp(s->method, "HEAD") == 0);
    }
    if (strcmp(s->method, "POST") == 0 && strstr(s->target, "?uploads")) {
        snprintf(body, sizeof(body),
                 "<InitiateMultipartUploadResult><Bucket>%s</Bucket><Key>k</Key>"
                 "<UploadId>UPLOAD-1</UploadId></InitiateMultipartUploadResult>", BUCKET);
        return respond(ssl, 200, "OK", NULL, body, 0);
    }
    if (strcmp(s->method, "POST") == 0) {
        return respond(ssl, 200, "OK", NULL,
                       "<CompleteMultipartUploadResult><ETag>\"0123456789abcdef0123456789abcdef-3\""
                       "</ETag></CompleteMultipartUploadResult>", 0);
    }
    if (strcmp(s->method, "PUT") == 0)
        return respond(ssl, 200, "OK", "ETag: \"0123456789abcdef0123456789abcdef\"\r\n", NULL, 0);
    return respond(ssl, 405, "Method Not Allowed", NULL, NULL, 0);
}

/* Parse a request head into s. */
static void parse_head(seen *s, const char *head)
{
    memset(s, 0, sizeof(*s));
    sscanf(head, "%7s %255s", s->method, s->target);
    char v[2048];
    head_value(head, "Host", s->host, sizeof(s->host));
    head_value(head, "Range", s->range, sizeof(s->range));
    if (head_value(head, "Authorization", v, sizeof(v)) == 0) {
        const char *cred = strstr(v, "Credential=");
        if (cred) {
            cred += strlen("Credential=");
            size_t n = strcspn(cred, "/");
            snprintf(s->akid, sizeof(s->akid), "%.*s", (int)n, cred);
            /* AKID/DATE/REGION/s3/aws4_request */
            const char *date = strchr(cred, '/');
            const char *region = date ? strchr(date + 1, '/') : NULL;
            if (region)
                snprintf(s->scope, sizeof(s->scope), "%.*s", (int)strcspn(region + 1, "/"),
                         region + 1);
        }
    }
    s->token = head_value(head, "x-amz-security-token", v, sizeof(v)) == 0 && strcmp(v, TOKEN) == 0;
    s->sse = head_value(head, "x-amz-server-side-encryption", v, sizeof(v)) == 0 &&
             strcmp(v, "AES256") == 0;
    s->integrity = head_value(head, "Content-MD5", v, sizeof(v)) == 0 ||
                   head_value(head, "x-amz-checksum-crc32c", v, sizeof(v)) == 0;
    s->sha256 = head_value(head, "x-amz-content-sha256", v, sizeof(v)) == 0;
    if (head_value(head, "Content-Length", v, sizeof(v)) == 0)
        s->body = (size_t)strtoull(v, NULL, 10);
}

typedef struct conn_arg {
    aws_fake *f;
    int fd;
} conn_arg;

/* One client connection: a CONNECT, the TLS handshake, then requests until it closes. */
static void *serve_conn(void *arg)
{
    conn_arg *a = arg;
    aws_fake *f = a->f;
    int fd = a->fd;
    free(a);
    static __thread char buf[64 * 1024];
    size_t used = 0;
    char *end = NULL;
    while (!end && used < sizeof(buf) - 1) {
        ssize_t n = recv(fd, buf + used, sizeof(buf) - 1 - used, 0);
        if (n <= 0)
            goto done;
        used += (size_t)n;
        buf[used] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end || strncmp(buf, "CONNECT ", 8) != 0) {
        /* Only tunnels: the engine talks to S3 over https. */
        pthread_mutex_lock(&f->lock);
        f->plain++;
        pthread_mutex_unlock(&f->lock);
        static const char refuse[] = "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n";
        send(fd, refuse, sizeof(refuse) - 1, MSG_NOSIGNAL);
        goto done;
    }
    pthread_mutex_lock(&f->lock);
    f->connects++;
    pthread_mutex_unlock(&f->lock);
    static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    if (send(fd, established, sizeof(established) - 1, MSG_NOSIGNAL) < 0)
        goto done;
    SSL *ssl = SSL_new(f->ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
        ERR_clear_error();
        pthread_mutex_lock(&f->lock);
        f->tls_failures++;
        pthread_mutex_unlock(&f->lock);
        SSL_free(ssl);
        goto done;
    }
    used = 0;
    for (;;) {
        buf[used] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (!end) {
            if (used >= sizeof(buf) - 1)
                break;
            int n = SSL_read(ssl, buf + used, (int)(sizeof(buf) - 1 - used));
            if (n <= 0)
                break;
            used += (size_t)n;
            continue;
        }
        *end = '\0';
        seen s;
        parse_head(&s, buf);
        size_t head_len = (size_t)(end + 4 - buf);
        /* The body is only counted. */
        size_t have = used - head_len;
        size_t skip = have < s.body ? have : s.body;
        memmove(buf, buf + head_len + skip, have - skip);
        used = have - skip;
        size_t left = s.body - skip;
        while (left > 0) {
            int n = SSL_read(ssl, buf, (int)(left < sizeof(buf) ? left : sizeof(buf)));
            if (n <= 0)
                goto tls_done;
            left -= (size_t)n;
        }
        pthread_mutex_lock(&f->lock);
        if (f->nlog < MAX_SEEN)
            f->log[f->nlog++] = s;
        pthread_mutex_unlock(&f->lock);
        if (answer(f, ssl, &s))
            break;
    }
tls_done:
    SSL_free(ssl);
done:
    shutdown(fd, SHUT_RDWR);
    return NULL;
}

static void *accept_loop(void *arg)
{
    aws_fake *f = arg;
    while (!f->stop) {
        struct pollfd pfd = { f->fd, POLLIN, 0 };
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        int conn = accept(f->fd, NULL, NULL);
        if (conn < 0)
            continue;
        conn_arg *a = malloc(sizeof(*a));
        pthread_mutex_lock(&f->lock);
        int slot = f->nconns < MAX_CONNS && a ? f->nconns : -1;
        if (slot >= 0) {
            a->f = f;
            a->fd = conn;
            f->conns[slot] = conn;
            if (pthread_create(&f->workers[slot], NULL, serve_conn, a) == 0)
                f->nconns++;
            else
                slot = -1;
        }
        pthread_mutex_unlock(&f->lock);
        if (slot < 0) {
            free(a);
            close(conn);
        }
    }
    return NULL;
}

/* Start the fake AWS with the bucket in `region`; its proxy URL goes to f->proxy_url. */
static int fake_start(aws_fake *f, const char *region, int wrong_region_status)
{
    memset(f, 0, sizeof(*f));
    f->region = region;
    f->wrong_region_status = wrong_region_status;
    pthread_mutex_init(&f->lock, NULL);
    f->ctx = SSL_CTX_new(TLS_server_method());
    if (!f->ctx || SSL_CTX_use_certificate_chain_file(f->ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(f->ctx, key_file, SSL_FILETYPE_PEM) != 1)
        return -1;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&a, sizeof(a)) || listen(f->fd, 64) ||
        getsockname(f->fd, (struct sockaddr *)&a, &len))
        return -1;
    f->port = ntohs(a.sin_port);
    snprintf(f->proxy_url, sizeof(f->proxy_url), "http://127.0.0.1:%d", f->port);
    return pthread_create(&f->thread, NULL, accept_loop, f) == 0 ? 0 : -1;
}

static void fake_stop(aws_fake *f)
{
    f->stop = 1;
    pthread_join(f->thread, NULL);
    close(f->fd);
    for (int i = 0; i < f->nconns; i++) {
        shutdown(f->conns[i], SHUT_RDWR);
        pthread_join(f->workers[i], NULL);
        close(f->conns[i]);
    }
    SSL_CTX_free(f->ctx);
    pthread_mutex_destroy(&f->lock);
}

/* ---- the engine's side ---------------------------------------------------- */

static void clean_environment(void)
{
    static const char *const names[] = {
        "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
        "no_proxy", "NO_PROXY", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        unsetenv(names[i]);
}

static int setup(void **state)
{
    (void)state;
    igtcloud_global_init();
    if (test_make_temp_dir(dir, sizeof(dir), "transfer-aws"))
        return -1;
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key_file, sizeof(key_file), "%s/key.pem", dir);
    char cmd[1400];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s -out %s -days 2 -subj /CN=s3.amazonaws.com -addext "
             "subjectAltName=DNS:s3.amazonaws.com,DNS:*.s3.amazonaws.com,"
             "DNS:*.s3.eu-west-2.amazonaws.com,DNS:*.s3.ap-south-1.amazonaws.com "
             ">/dev/null 2>&1", key_file, cert);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    clean_environment();
    test_remove_tree(dir);
    igtcloud_global_shutdown();
    return 0;
}

/* Before each test: no proxy, region or endpoint but what the test sets. */
static int each(void **state)
{
    (void)state;
    clean_environment();
    return 0;
}

static igtcloud_s3_credentials fixed;

/* Options for the AWS path: no endpoint anywhere, the fake's certificate trusted. */
static void aws_options(igtcloud_transfer_options *o)
{
    memset(&fixed, 0, sizeof(fixed));
    snprintf(fixed.access_key, sizeof(fixed.access_key), "ASIAFAKEKEY");
    snprintf(fixed.secret_key, sizeof(fixed.secret_key), "secret");
    snprintf(fixed.session_token, sizeof(fixed.session_token), TOKEN);
    snprintf(fixed.bucket, sizeof(fixed.bucket), BUCKET);
    igtcloud_transfer_options_init(o, IGTCLOUD_TRANSFER_OPTIONS_VERSION);
    o->credentials = &fixed;
    o->ca_file = cert;
    o->max_requests = 1;
    o->max_attempts = 2;
    o->backoff_base_ms = 10;
    o->backoff_cap_ms = 50;
}

static void local(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

/* The downloaded file holds what the fake serves for key. */
static void assert_object(const char *path, const char *key)
{
    char want[512], target[300], got[512];
    /* The fake names the object by its path as sent: a space is %20 there. */
    size_t n = 0;
    target[n++] = '/';
    for (const char *k = key; *k && n + 4 < sizeof(target); k++) {
        if (*k == ' ')
            n += (size_t)snprintf(target + n, sizeof(target) - n, "%%20");
        else
            target[n++] = *k;
    }
    target[n] = '\0';
    object_body(want, sizeof(want), target);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    n = fread(got, 1, sizeof(got) - 1, f);
    fclose(f);
    got[n] = '\0';
    assert_string_equal(got, want);
}

static const seen *seen_at(int i)
{
    assert_true(i < fake.nlog);
    return &fake.log[i];
}

/* Every request carried the session token and a payload hash; bodies an integrity header. */
static void assert_every_request_signed_with_token(void)
{
    for (int i = 0; i < fake.nlog; i++) {
        const seen *s = seen_at(i);
        assert_true(s->token);
        assert_true(s->sha256);
        if (s->body > 0)
            assert_true(s->integrity);
        if (strcmp(s->method, "PUT") == 0 && !strstr(s->target, "partNumber="))
            assert_true(s->sse);
        if (strcmp(s->method, "POST") == 0 && strstr(s->target, "?uploads"))
            assert_true(s->sse);
    }
}

/*
 * No region known: the first request goes to BUCKET.s3.amazonaws.com signed
 * for us-east-1; the 301 names the bucket's region in x-amz-bucket-region;
 * that request is retried there (for free), and every later request of the
 * run goes straight to the region's virtual-hosted name, over one tunnel
 * (connection reuse), uploads included (single PUT and multipart, each with
 * server-side encryption asked for).
 */
static void test_transfer_aws__region_from_a_301_is_discovered_and_remembered(void **state)
{
    (void)state;
    assert_int_equal(fake_start(&fake, "eu-west-2", 301), 0);
    setenv("HTTPS_PROXY", fake.proxy_url, 1);
    char dst[3][512], small[512], big[512];
    local(small, sizeof(small), "up-small.bin");
    local(big, sizeof(big), "up-big.bin");
    assert_int_equal(th_make_file(small, 1000, 1), 0);
    assert_int_equal(th_make_file(big, 11 * MIB, 2), 0);
    igtcloud_transfer_options o;
    aws_options(&o);
    o.multipart_threshold = 6 * MIB;
    o.part_size = 5 * MIB;
    o.checksum = IGTCLOUD_CHECKSUM_MD5;
    igtcloud_transfer *t = NULL;
    TH_PASS(igtcloud_transfer_new(&t, &o));
    const char *keys[3] = { "p/a.txt", "p/sub/b.txt", "p/c d.txt" };
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof(name), "down-%d.txt", i);
        local(dst[i], sizeof(dst[i]), name);
        TH_PASS(igtcloud_transfer_add_download(t, keys[i], dst[i], "p/", -1, NULL));
    }
    TH_PASS(igtcloud_transfer_add_upload(t, small, "p/up-small.bin", "p/", NULL, NULL));
    TH_PASS(igtcloud_transfer_add_upload(t, big, "p/up-big.bin", "p/", NULL, NULL));
    TH_PASS(igtcloud_transfer_run(t));
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    assert_int_equal(r.last_modified, LAST_MODIFIED_EPOCH);
    TH_PASS(igtcloud_transfer_result_at(&r, t, 4));
    assert_string_equal(r.upload_id, "UPLOAD-1");
    igtcloud__engine_stats st;
    igtcloud__engine_get_stats(&st, t);
    igtcloud_transfer_free(t);
    fake_stop(&fake);

    for (int i = 0; i < 3; i++)
        assert_object(dst[i], keys[i]);
    /* 3 GETs, 1 PUT, Create + 3 parts + Complete, and the one refused first request. */
    assert_int_equal(fake.nlog, 10);
    assert_string_equal(seen_at(0)->host, BUCKET ".s3.amazonaws.com");
    assert_string_equal(seen_at(0)->scope, "us-east-1");
    for (int i = 1; i < fake.nlog; i++) {
        assert_string_equal(seen_at(i)->host, BUCKET ".s3.eu-west-2.amazonaws.com");
        assert_string_equal(seen_at(i)->scope, "eu-west-2");
    }
    assert_every_request_signed_with_token();
    /* One tunnel per host name: the connection is reused for every later request. */
    assert_int_equal(fake.connects, 2);
    assert_int_equal(fake.plain, 0);
    assert_int_equal(st.retries, 1);
}

/*
 * A 400 AuthorizationHeaderMalformed names the region only in its body: the
 * same discovery, and the region is remembered across runs of the transfer
 * (a streaming read of a byte range goes straight there).
 */
static void test_transfer_aws__region_named_in_a_400_error(void **state)
{
    (void)state;
    assert_int_equal(fake_start(&fake, "eu-west-2", 400), 0);
    setenv("HTTPS_PROXY", fake.proxy_url, 1);
    char dst[512];
    local(dst, sizeof(dst), "from-400.txt");
    igtcloud_transfer_options o;
    aws_options(&o);
    o.max_attempts = 1; /* a region answer is not a failed attempt */
    igtcloud_transfer *t = NULL;
    TH_PASS(igtcloud_transfer_new(&t, &o));
    TH_PASS(igtcloud_transfer_add_download(t, "q/x.txt", dst, "q/", -1, NULL));
    TH_PASS(igtcloud_transfer_run(t));
    char got[16];
    size_t n = 0;
    TH_PASS(igtcloud_transfer_read(&n, t, "q/y.txt", "q/", 4, got, 6));
    assert_int_equal(n, 6);
    assert_memory_equal(got, "object", 6);
    igtcloud_transfer_free(t);
    fake_stop(&fake);
    assert_object(dst, "q/x.txt");
    assert_int_equal(fake.nlog, 3);
    assert_string_equal(seen_at(0)->scope, "us-east-1");
    assert_string_equal(seen_at(1)->host, BUCKET ".s3.eu-west-2.amazonaws.com");
    assert_string_equal(seen_at(1)->scope, "eu-west-2");
    assert_string_equal(seen_at(2)->host, BUCKET ".s3.eu-west-2.amazonaws.com");
    assert_non_null(strstr(seen_at(2)->target, "/q/y.txt"));
}

/* AWS_REGION is where the first request goes; a wrong one is corrected as above. */
static void test_transfer_aws__aws_region_from_the_environment(void **state)
{
    (void)state;
    static const struct {
        const char *env;
        int requests;
    } cases[] = { { "eu-west-2", 1 }, { "ap-south-1", 2 } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(fake_start(&fake, "eu-west-2", 301), 0);
        setenv("HTTPS_PROXY", fake.proxy_url, 1);
        setenv("AWS_REGION", cases[i].env, 1);
        char dst[512], name[32];
        snprintf(name, sizeof(name), "env-region-%zu.txt", i);
        local(dst, sizeof(dst), name);
        igtcloud_transfer_options o;
        aws_options(&o);
        igtcloud_transfer *t = NULL;
        TH_PASS(igtcloud_transfer_new(&t, &o));
        TH_PASS(igtcloud_transfer_add_download(t, "r/z.txt", dst, "r/", -1, NULL));
        TH_PASS(igtcloud_transfer_run(t));
        igtcloud_transfer_free(t);
        fake_stop(&fake);
        assert_object(dst, "r/z.txt");
        assert_int_equal(fake.nlog, cases[i].requests);
        char want_host[128];
        snprintf(want_host, sizeof(want_host), BUCKET ".s3.%s.amazonaws.com", cases[i].env);
        assert_string_equal(seen_at(0)->host, want_host);
        assert_string_equal(seen_at(0)->scope, cases[i].env);
        assert_string_equal(seen_at(fake.nlog - 1)->scope, "eu-west-2");
    }
}

/*
 * TLS is verified: without the fake's certificate among the trusted ones the
 * handshake fails, no request is sent, the failure is not retried, and the
 * file fails with IGTCLOUD_ETLS and no file under its final name.
 */
static void test_transfer_aws__tls_certificate_is_verified(void **state)
{
    (void)state;
    assert_int_equal(fake_start(&fake, "eu-west-2", 301), 0);
    setenv("HTTPS_PROXY", fake.proxy_url, 1);
    char dst[512];
    local(dst, sizeof(dst), "untrusted.txt");
    igtcloud_transfer_options o;
    aws_options(&o);
    o.ca_file = NULL; /* the system's trust store: it does not know the fake */
    o.max_attempts = 5;
    igtcloud_transfer *t = NULL;
    TH_PASS(igtcloud_transfer_new(&t, &o));
    TH_PASS(igtcloud_transfer_add_download(t, "p/a.txt", dst, "p/", -1, NULL));
    assert_int_equal(igtcloud_transfer_run(t), IGTCLOUD_EPARTIAL);
    igtcloud_transfer_result r;
    TH_PASS(igtcloud_transfer_result_at(&r, t, 0));
    igtcloud__engine_stats st;
    igtcloud__engine_get_stats(&st, t);
    fprintf(stderr, "untrusted: %s\n", r.message);
    assert_int_equal(r.status, IGTCLOUD_ETLS);
    assert_null(strchr(r.message, '\n'));
    assert_non_null(strstr(r.message, "p/a.txt"));
    assert_int_equal(st.requests, 1);
    igtcloud_transfer_free(t);
    fake_stop(&fake);
    assert_int_equal(fake.nlog, 0);
    assert_true(fake.tls_failures >= 1);
    assert_false(th_exists(dst));
}

/* A provider that counts its calls per (action, prefix) and hands out short-lived keys. */
typedef struct short_lived {
    int64_t now_ms;           /* the engine's clock */
    int calls;
    char asked[16][40];
} short_lived;

static int64_t fake_clock(void *payload)
{
    return ((short_lived *)payload)->now_ms;
}

static int provide_short_lived(igtcloud_s3_credentials *out, const char *action,
                               const char *prefix, void *payload)
{
    short_lived *p = payload;
    if (p->calls < 16)
        snprintf(p->asked[p->calls], sizeof(p->asked[0]), "%s %s", action, prefix);
    p->calls++;
    memset(out, 0, sizeof(*out));
    snprintf(out->access_key, sizeof(out->access_key), "ASIAKEY%d", p->calls);
    snprintf(out->secret_key, sizeof(out->secret_key), "secret");
    snprintf(out->session_token, sizeof(out->session_token), TOKEN);
    snprintf(out->bucket, sizeof(out->bucket), BUCKET);
    out->expires = p->now_ms / 1000 + 600; /* ten minutes: renewed 2 minutes before the end */
    return 0;
}

static void run_downloads(igtcloud_transfer *t, const char *prefix, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        char key[64], dst[512], name[64];
        snprintf(key, sizeof(key), "%sf%d.txt", prefix, i);
        snprintf(name, sizeof(name), "cred-%c-%d.txt", prefix[0], i);
        local(dst, sizeof(dst), name);
        TH_PASS(igtcloud_transfer_add_download(t, key, dst, prefix, -1, NULL));
    }
    TH_PASS(igtcloud_transfer_run(t));
}

/*
 * One provider call per (action, prefix) for every file of the transfer;
 * credentials living ten minutes are kept for 8 of them (a margin relative to
 * the lifetime), then renewed once, not once per file.
 */
static void test_transfer_aws__credentials_shared_and_renewed_before_expiry(void **state)
{
    (void)state;
    assert_int_equal(fake_start(&fake, "eu-west-2", 301), 0);
    setenv("HTTPS_PROXY", fake.proxy_url, 1);
    setenv("AWS_REGION", "eu-west-2", 1);
    static short_lived p;
    memset(&p, 0, sizeof(p));
    p.now_ms = (int64_t)time(NULL) * 1000;
    igtcloud_transfer_options o;
    aws_options(&o);
    o.credentials = NULL;
    o.credentials_cb = provide_short_lived;
    o.credentials_payload = &p;
    o.clock_cb = fake_clock;
    o.clock_payload = &p;
    o.max_requests = 4;
    char src[512];
    local(src, sizeof(src), "cred-up.bin");
    assert_int_equal(th_make_file(src, 5000, 3), 0);
    igtcloud_transfer *t = NULL;
    TH_PASS(igtcloud_transfer_new(&t, &o));
    run_downloads(t, "p/", 0, 4);
    run_downloads(t, "q/", 0, 2);
    TH_PASS(igtcloud_transfer_add_upload(t, src, "p/cred-up.bin", "p/", NULL, NULL));
    TH_PASS(igtcloud_transfer_run(t));
    assert_int_equal(p.calls, 3);
    assert_string_equal(p.asked[0], "GET p/");
    assert_string_equal(p.asked[1], "GET q/");
    assert_string_equal(p.asked[2], "PUT p/");
    /* 7 min 50 s later: still good. */
    p.now_ms += 470 * 1000;
    run_downloads(t, "p/", 4, 3);
    assert_int_equal(p.calls, 3);
    /* 8 min 10 s after the fetch: less than the margin is left; renewed once for all files. */
    p.now_ms += 20 * 1000;
    run_downloads(t, "p/", 7, 3);
    assert_int_equal(p.calls, 4);
    assert_string_equal(p.asked[3], "GET p/");
    igtcloud_transfer_free(t);
    fake_stop(&fake);
    assert_int_equal(fake.nlog, 4 + 2 + 1 + 3 + 3);
    assert_string_equal(seen_at(fake.nlog - 1)->akid, "ASIAKEY4");
    assert_string_equal(seen_at(fake.nlog - 4)->akid, "ASIAKEY1");
    assert_every_request_signed_with_token();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_transfer_aws__region_from_a_301_is_discovered_and_remembered, each),
        cmocka_unit_test_setup(test_transfer_aws__region_named_in_a_400_error, each),
        cmocka_unit_test_setup(test_transfer_aws__aws_region_from_the_environment, each),
        cmocka_unit_test_setup(test_transfer_aws__tls_certificate_is_verified, each),
        cmocka_unit_test_setup(test_transfer_aws__credentials_shared_and_renewed_before_expiry, each),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
