#include "test_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sink {
    char *data;
    size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;
    char *grown = realloc(s->data, s->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + s->len, ptr, n);
    s->len += n;
    grown[s->len] = '\0';
    s->data = grown;
    return n;
}

int test_http(test_response *out, const char *method, const char *url,
              const char *const *headers, const char *body, size_t body_len)
{
    memset(out, 0, sizeof(*out));
    CURL *curl = curl_easy_init();
    if (!curl)
        return -1;
    struct sink head = { NULL, 0 }, data = { NULL, 0 };
    struct curl_slist *list = NULL;
    for (int i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    /* Never let libcurl add "Expect: 100-continue"; tests want one exchange. */
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &head);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &data);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
        fprintf(stderr, "%s %s: %s\n", method, url, curl_easy_strerror(rc));
        free(head.data);
        free(data.data);
        return -1;
    }
    out->headers = head.data ? head.data : strdup("");
    out->body = data.data ? data.data : strdup("");
    out->body_len = data.len;
    out->json = json_loadb(out->body, out->body_len, JSON_DECODE_ANY, NULL);
    return 0;
}

void test_response_dispose(test_response *res)
{
    free(res->headers);
    free(res->body);
    json_decref(res->json);
    memset(res, 0, sizeof(*res));
}

static const char *find_header(const char *from, const char *name, const char **value_end)
{
    size_t name_len = strlen(name);
    for (const char *line = from; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        if (!eol)
            eol = line + strlen(line);
        if ((size_t)(eol - line) > name_len && strncasecmp(line, name, name_len) == 0 &&
            line[name_len] == ':') {
            const char *v = line + name_len + 1;
            while (*v == ' ')
                v++;
            *value_end = eol;
            return v;
        }
        line = *eol ? eol + 2 : eol;
    }
    return NULL;
}

int test_response_header(const test_response *res, const char *name, char *out, size_t size)
{
    const char *end = NULL;
    const char *v = find_header(res->headers, name, &end);
    if (!v)
        return -1;
    snprintf(out, size, "%.*s", (int)(end - v), v);
    return 0;
}

int test_response_header_count(const test_response *res, const char *name)
{
    int count = 0;
    const char *end = NULL;
    const char *from = res->headers;
    while (from && find_header(from, name, &end)) {
        count++;
        from = *end ? end + 2 : end;
    }
    return count;
}

/* Copy the value of cookie `name` from the Set-Cookie lines into out. */
static int cookie_value(const test_response *res, const char *name, char *out, size_t size,
                        long *max_age)
{
    const char *end = NULL;
    const char *from = res->headers;
    const char *v;
    size_t name_len = strlen(name);
    while (from && (v = find_header(from, "Set-Cookie", &end))) {
        if (strncmp(v, name, name_len) == 0 && v[name_len] == '=') {
            const char *value = v + name_len + 1;
            const char *semi = memchr(value, ';', (size_t)(end - value));
            size_t len = (size_t)((semi ? semi : end) - value);
            snprintf(out, size, "%.*s", (int)len, value);
            const char *ma = strstr(value, "Max-Age=");
            if (max_age && ma && ma < end)
                *max_age = strtol(ma + 8, NULL, 10);
            return 0;
        }
        from = *end ? end + 2 : end;
    }
    return -1;
}

long test_login_password(test_login *out, const char *api_url, const char *user,
                         const char *password)
{
    memset(out, 0, sizeof(*out));
    char url[512];
    snprintf(url, sizeof(url), "%s/api/auth/login", api_url);
    json_t *body = json_pack("{s:s, s:s, s:s}", "grantType", "password", "username", user,
                             "password", password);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    const char *headers[] = { "Content-Type: application/json", "Accept: application/json",
                              NULL };
    test_response res;
    int rc = test_http(&res, "POST", url, headers, text, strlen(text));
    free(text);
    if (rc)
        return -1;
    long status = res.status;
    char hp[4096] = "", sig[1024] = "";
    if (status == 200 && cookie_value(&res, "jwt_header_payload", hp, sizeof(hp), &out->max_age) == 0 &&
        cookie_value(&res, "jwt_signature", sig, sizeof(sig), NULL) == 0) {
        snprintf(out->jwt, sizeof(out->jwt), "%s.%s", hp, sig);
        const char *csrf = json_string_value(json_object_get(res.json, "CSRFToken"));
        const char *sub = json_string_value(json_object_get(res.json, "sub"));
        snprintf(out->csrf, sizeof(out->csrf), "%s", csrf ? csrf : "");
        snprintf(out->sub, sizeof(out->sub), "%s", sub ? sub : "");
    }
    test_response_dispose(&res);
    return status;
}

int test_api(test_response *out, const test_login *login, const char *method,
             const char *url, const char *json_body)
{
    char jwt_header[4200], csrf_header[300];
    const char *headers[5];
    int n = 0;
    headers[n++] = "Accept: application/json";
    headers[n++] = "Content-Type: application/json";
    if (login) {
        snprintf(jwt_header, sizeof(jwt_header), "X-JWT: %s", login->jwt);
        snprintf(csrf_header, sizeof(csrf_header), "X-CSRF-TOKEN: %s", login->csrf);
        headers[n++] = jwt_header;
        headers[n++] = csrf_header;
    }
    headers[n] = NULL;
    return test_http(out, method, url, headers, json_body,
                     json_body ? strlen(json_body) : 0);
}
