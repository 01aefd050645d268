#include "http/http.h"
#include "core/error.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct igtcloud__http_client {
    CURL *curl;
    igtcloud__http_config cfg;
    char *ca_file;
    long timeout;
    long timeout_override;
    int follow_redirects;
    volatile sig_atomic_t *cancel;
    const char *sink_url;          /* igtcloud__http_client_set_body_sink */
    igtcloud__http_body_fn sink;
    void *sink_payload;
    char errbuf[CURL_ERROR_SIZE];
};

void igtcloud__http_response_init(igtcloud__http_response *res)
{
    memset(res, 0, sizeof(*res));
    igtcloud__buf_init(&res->body);
}

static void clear_headers(igtcloud__http_response *res)
{
    for (size_t i = 0; i < res->nheaders; i++)
        free(res->header_lines[i]);
    res->nheaders = 0;
}

void igtcloud__http_response_dispose(igtcloud__http_response *res)
{
    if (!res)
        return;
    clear_headers(res);
    free(res->header_lines);
    igtcloud__buf_dispose(&res->body);
    memset(res, 0, sizeof(*res));
}

const char *igtcloud__http_response_header(const igtcloud__http_response *res,
                                           const char *name, size_t *pos)
{
    size_t name_len = strlen(name);
    for (size_t i = *pos; i < res->nheaders; i++) {
        const char *line = res->header_lines[i];
        if (strncasecmp(line, name, name_len) != 0 || line[name_len] != ':')
            continue;
        const char *value = line + name_len + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        *pos = i + 1;
        return value;
    }
    *pos = res->nheaders;
    return NULL;
}

int igtcloud__http_client_new(igtcloud__http_client **out, const igtcloud__http_config *cfg)
{
    int rc = 0;
    igtcloud__http_client *client = calloc(1, sizeof(*client));
    if (!client)
        return igtcloud__error_oom();
    if (cfg)
        client->cfg = *cfg;
    client->cfg.ca_file = NULL;
    if (cfg && cfg->ca_file) {
        client->ca_file = strdup(cfg->ca_file);
        if (!client->ca_file) {
            rc = igtcloud__error_oom();
            goto done;
        }
    }
    client->timeout = client->cfg.timeout > 0 ? client->cfg.timeout : 300;
    if (client->cfg.connect_timeout <= 0)
        client->cfg.connect_timeout = 30;
    client->curl = curl_easy_init();
    if (!client->curl) {
        rc = igtcloud__error_set(IGTCLOUD_ERROR, "cannot create an HTTP handle");
        goto done;
    }
    *out = client;
    client = NULL;
done:
    igtcloud__http_client_free(client);
    return rc;
}

void igtcloud__http_client_free(igtcloud__http_client *client)
{
    if (!client)
        return;
    if (client->curl)
        curl_easy_cleanup(client->curl);
    free(client->ca_file);
    free(client);
}

void igtcloud__http_client_set_cancel(igtcloud__http_client *client,
                                      volatile sig_atomic_t *flag)
{
    client->cancel = flag;
}

void igtcloud__http_client_set_follow_redirects(igtcloud__http_client *client, int on)
{
    client->follow_redirects = on ? 1 : 0;
}

void igtcloud__http_client_set_timeout(igtcloud__http_client *client, long seconds)
{
    client->timeout_override = seconds > 0 ? seconds : 0;
}

void igtcloud__http_client_set_body_sink(igtcloud__http_client *client, const char *url,
                                         igtcloud__http_body_fn fn, void *payload)
{
    client->sink_url = fn ? url : NULL;
    client->sink = url ? fn : NULL;
    client->sink_payload = fn ? payload : NULL;
}

/* Where the body of this request goes: not decided before its first byte. */
enum { BODY_UNDECIDED, BODY_BUFFER, BODY_SINK };

struct transfer {
    igtcloud__http_response *res;
    CURL *curl;
    igtcloud__http_body_fn sink;   /* the client's sink, when it is for this URL */
    void *sink_payload;
    int body_to;
    int sink_rc;                   /* the sink's error */
    size_t streamed;               /* bytes handed to the sink */
    int oom;
    int too_big;
};

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    size_t n = size * nmemb;
    size_t len = n;
    while (len > 0 && (ptr[len - 1] == '\n' || ptr[len - 1] == '\r'))
        len--;
    /* A status line starts a new response (100 Continue, proxy CONNECT). */
    if (len >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        clear_headers(t->res);
        return n;
    }
    if (len == 0)
        return n;
    igtcloud__http_response *res = t->res;
    if (res->nheaders == res->aheaders) {
        size_t grown = res->aheaders ? res->aheaders * 2 : 16;
        if (grown > 4096) {
            t->too_big = 1;
            return 0;
        }
        char **lines = realloc(res->header_lines, grown * sizeof(*lines));
        if (!lines) {
            t->oom = 1;
            return 0;
        }
        res->header_lines = lines;
        res->aheaders = grown;
    }
    char *line = malloc(len + 1);
    if (!line) {
        t->oom = 1;
        return 0;
    }
    memcpy(line, ptr, len);
    line[len] = '\0';
    res->header_lines[res->nheaders++] = line;
    return n;
}

size_t igtcloud__http_max_body = IGTCLOUD__HTTP_MAX_BODY;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    size_t n = size * nmemb;
    if (t->body_to == BODY_UNDECIDED) {
        /* The status line and headers are in by the first byte of the body. */
        long status = 0;
        curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
        t->body_to = t->sink && status >= 200 && status <= 299 ? BODY_SINK : BODY_BUFFER;
    }
    if (t->body_to == BODY_SINK) {
        int rc = t->sink(ptr, n, t->sink_payload);
        if (rc) {
            t->sink_rc = rc;
            return 0;
        }
        t->streamed += n;
        return n;
    }
    if (t->res->body.size + n > igtcloud__http_max_body) {
        t->too_big = 1;
        return 0;
    }
    if (igtcloud__buf_put(&t->res->body, ptr, n)) {
        t->oom = 1;
        return 0;
    }
    return n;
}

static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    igtcloud__http_client *client = clientp;
    return client->cancel && *client->cancel ? 1 : 0;
}

/* The URL without query or fragment: what messages and debug lines show. */
static void url_for_messages(char *out, size_t size, const char *url)
{
    size_t len = strcspn(url, "?#");
    if (len >= size)
        len = size - 1;
    memcpy(out, url, len);
    out[len] = '\0';
}

static int map_error(CURLcode code, const char *url, const char *detail)
{
    const char *what = detail && *detail ? detail : curl_easy_strerror(code);
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return igtcloud__error_set(IGTCLOUD_ENET, "cannot reach %s: %s", url, what);
    case CURLE_OPERATION_TIMEDOUT:
        return igtcloud__error_set(IGTCLOUD_ETIMEOUT, "no answer from %s in time: %s", url, what);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED:
        return igtcloud__error_set(IGTCLOUD_ETLS, "TLS failure with %s: %s", url, what);
    case CURLE_ABORTED_BY_CALLBACK:
        return igtcloud__error_set(IGTCLOUD_ECANCELLED, "request to %s cancelled", url);
    case CURLE_OUT_OF_MEMORY:
        return igtcloud__error_oom();
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return igtcloud__error_set(IGTCLOUD_EINVALID, "bad URL %s: %s", url, what);
    default:
        return igtcloud__error_set(IGTCLOUD_EPROTO, "bad answer from %s: %s", url, what);
    }
}

void igtcloud__http_debug(igtcloud__http_client *client, const char *fmt, ...)
{
    if (!client->cfg.debug)
        return;
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    client->cfg.debug(line, client->cfg.debug_payload);
}

int igtcloud__http_request(igtcloud__http_response *out, igtcloud__http_client *client,
                           const char *method, const char *url,
                           const char *const *headers, const void *body, size_t body_len)
{
    int rc = 0;
    struct curl_slist *list = NULL;
    CURL *curl = client->curl;
    struct transfer t;
    char shown[512];

    memset(&t, 0, sizeof(t));
    t.res = out;
    t.curl = curl;
    if (client->sink && strcmp(client->sink_url, url) == 0) {
        t.sink = client->sink;
        t.sink_payload = client->sink_payload;
    }

    igtcloud__http_response_init(out);
    url_for_messages(shown, sizeof(shown), url);
    if (client->cancel && *client->cancel)
        return igtcloud__error_set(IGTCLOUD_ECANCELLED, "request to %s cancelled", shown);

    for (size_t i = 0; headers && headers[i]; i++) {
        struct curl_slist *next = curl_slist_append(list, headers[i]);
        if (!next) {
            rc = igtcloud__error_oom();
            goto done;
        }
        list = next;
    }
    /* One exchange per request: never wait for "100 Continue". */
    struct curl_slist *next = curl_slist_append(list, "Expect:");
    if (!next) {
        rc = igtcloud__error_oom();
        goto done;
    }
    list = next;

    curl_easy_reset(curl);
    client->errbuf[0] = '\0';
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, client->errbuf);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, client->follow_redirects ? 1L : 0L);
    if (client->follow_redirects) {
        curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
        /* Never downgrade: an https download is only redirected to https. */
        curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR,
                         strncmp(url, "https:", 6) == 0 ? "https" : "http,https");
    }
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, client);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, client->cfg.connect_timeout);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT,
                     client->timeout_override ? client->timeout_override : client->timeout);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (client->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, client->ca_file);
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
        strcmp(method, "PATCH") == 0) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
    }

    igtcloud__http_debug(client, "> %s %s", method, shown);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    CURLcode code = curl_easy_perform(curl);
    clock_gettime(CLOCK_MONOTONIC, &end);
    double elapsed = (double)(end.tv_sec - start.tv_sec) +
                     (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    if (t.sink_rc) {
        rc = t.sink_rc; /* the sink set the message */
        goto done;
    }
    if (t.oom) {
        rc = igtcloud__error_oom();
        goto done;
    }
    if (t.too_big) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "answer from %s is too large", shown);
        goto done;
    }
    if (code != CURLE_OK) {
        igtcloud__http_debug(client, "< %s %s failed after %.3f s: %s", method, shown,
                             elapsed, curl_easy_strerror(code));
        rc = map_error(code, shown, client->errbuf);
        goto done;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    igtcloud__http_debug(client, "< %ld %s %s (%.3f s, %zu bytes%s)", out->status, method,
                         shown, elapsed, out->body.size + t.streamed,
                         t.body_to == BODY_SINK ? ", streamed" : "");

done:
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(list);
    if (rc)
        igtcloud__http_response_dispose(out);
    return rc;
}
