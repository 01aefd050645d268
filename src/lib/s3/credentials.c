#include "s3/credentials.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/isotime.h"

int64_t igtcloud__credentials_margin(int64_t lifetime)
{
    /*
     * A fifth of the lifetime, so one-hour credentials are renewed 12 minutes
     * before they end and never before every file; at least 10 s for the
     * requests in flight, at most 15 minutes for very long lifetimes.
     */
    if (lifetime <= 0)
        return 0;
    int64_t margin = lifetime / 5;
    if (margin < 10)
        margin = lifetime / 2 < 10 ? lifetime / 2 : 10;
    if (margin > 900)
        margin = 900;
    return margin;
}

int igtcloud__credentials_fresh(int64_t fetched, int64_t expires, int64_t now)
{
    if (expires == 0)
        return 1;
    int64_t lifetime = expires - fetched;
    return now < expires - igtcloud__credentials_margin(lifetime);
}

static int copy_field(char *out, size_t size, json_t *obj, const char *name, int required)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) {
        out[0] = '\0';
        return required ? -1 : 0;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (!s || len >= size || strlen(s) != len || (required && len == 0))
        return -1;
    memcpy(out, s, len + 1);
    return 0;
}

int igtcloud_s3_credentials_from_json(igtcloud_s3_credentials *out, const char *json, size_t len)
{
    int rc = 0;
    igtcloud_s3_credentials *c = NULL;
    json_t *root = NULL;
    if (!out || !json)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "credentials: no input");
    c = calloc(1, sizeof(*c));
    if (!c)
        return igtcloud__error_oom();
    root = json_loadb(json, len, 0, NULL);
    json_t *list = json_object_get(root, "policyCredentials");
    json_t *creds = json_object_get(json_array_get(list, 0), "credentials");
    if (!json_is_object(creds)) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO,
                                 "S3 credentials response has no policyCredentials[0].credentials");
        goto done;
    }
    if (copy_field(c->access_key, sizeof(c->access_key), creds, "accessKey", 1) ||
        copy_field(c->secret_key, sizeof(c->secret_key), creds, "secretKey", 1) ||
        copy_field(c->session_token, sizeof(c->session_token), creds, "sessionToken", 0) ||
        copy_field(c->bucket, sizeof(c->bucket), creds, "bucket", 1) ||
        copy_field(c->endpoint, sizeof(c->endpoint), creds, "endpoint", 0) ||
        copy_field(c->region, sizeof(c->region), creds, "region", 0)) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO,
                                 "S3 credentials response: a field is missing, empty or too long");
        goto done;
    }
    json_t *exp = json_object_get(creds, "expires");
    if (json_is_string(exp)) {
        time_t t;
        if (igtcloud__isotime_parse(&t, NULL, json_string_value(exp))) {
            rc = igtcloud__error_set(IGTCLOUD_EPROTO,
                                     "S3 credentials response: bad expires timestamp");
            goto done;
        }
        c->expires = (int64_t)t;
    } else if (exp && !json_is_null(exp)) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "S3 credentials response: bad expires");
        goto done;
    }
    memcpy(out, c, sizeof(*c));
done:
    if (c) {
        /* Secrets do not linger on the heap. */
        memset(c, 0, sizeof(*c));
        free(c);
    }
    json_decref(root);
    return rc;
}

void igtcloud__cred_cache_init(igtcloud__cred_cache *c, igtcloud_transfer_credentials_cb cb,
                               void *payload, const igtcloud_s3_credentials *fixed)
{
    memset(c, 0, sizeof(*c));
    c->cb = cb;
    c->payload = payload;
    c->fixed = fixed;
}

static void entry_free(igtcloud__cred_entry *e)
{
    free(e->prefix);
    memset(e, 0, sizeof(*e));
    free(e);
}

void igtcloud__cred_cache_dispose(igtcloud__cred_cache *c)
{
    for (size_t i = 0; i < c->count; i++)
        entry_free(c->entries[i]);
    free(c->entries);
    memset(c, 0, sizeof(*c));
}

void igtcloud__cred_cache_evict(igtcloud__cred_cache *c,
                                int (*in_use)(const char *prefix, void *payload), void *payload)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->count; i++) {
        if (in_use(c->entries[i]->prefix, payload))
            c->entries[kept++] = c->entries[i];
        else
            entry_free(c->entries[i]);
    }
    c->count = kept;
}

static int fetch(igtcloud__cred_cache *c, igtcloud__cred_entry *e, int64_t now)
{
    int rc;
    igtcloud_s3_credentials *fresh = calloc(1, sizeof(*fresh));
    if (!fresh)
        return igtcloud__error_oom();
    c->fetches++;
    if (c->cb) {
        igtcloud_error_clear();
        rc = c->cb(fresh, e->action, e->prefix, c->payload);
        if (rc < 0) {
            const igtcloud_error *last = igtcloud_error_last();
            char why[256];
            snprintf(why, sizeof(why), "%s", last->code && last->message[0] ? last->message
                                                                             : igtcloud_status_name(rc));
            rc = igtcloud__error_set(rc, "no %s credentials for %s: %s", e->action, e->prefix, why);
        }
        if (rc == 0 && (!fresh->access_key[0] || !fresh->secret_key[0] || !fresh->bucket[0]))
            rc = igtcloud__error_set(IGTCLOUD_EPROTO,
                                     "credentials provider returned no key or bucket");
    } else if (c->fixed) {
        memcpy(fresh, c->fixed, sizeof(*fresh));
        rc = 0;
    } else {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "no S3 credentials provider");
    }
    if (rc == 0) {
        memcpy(&e->creds, fresh, sizeof(*fresh));
        e->fetched = now;
        e->generation++;
        e->valid = 1;
    } else if (rc > 0) {
        rc = igtcloud__error_set(IGTCLOUD_ERROR, "credentials provider failed");
    }
    memset(fresh, 0, sizeof(*fresh));
    free(fresh);
    return rc;
}

int igtcloud__cred_cache_get(igtcloud__cred_entry **out, igtcloud__cred_cache *c,
                             const char *action, const char *prefix, int64_t now)
{
    igtcloud__cred_entry *e = NULL;
    for (size_t i = 0; i < c->count; i++) {
        if (strcmp(c->entries[i]->action, action) == 0 &&
            strcmp(c->entries[i]->prefix, prefix) == 0) {
            e = c->entries[i];
            break;
        }
    }
    if (!e) {
        if (c->count == c->alloc) {
            size_t n = c->alloc ? c->alloc * 2 : 8;
            igtcloud__cred_entry **grown = realloc(c->entries, n * sizeof(*grown));
            if (!grown)
                return igtcloud__error_oom();
            c->entries = grown;
            c->alloc = n;
        }
        e = calloc(1, sizeof(*e));
        if (!e)
            return igtcloud__error_oom();
        e->prefix = strdup(prefix);
        if (!e->prefix) {
            free(e);
            return igtcloud__error_oom();
        }
        snprintf(e->action, sizeof(e->action), "%s", action);
        c->entries[c->count++] = e;
    }
    if (!e->valid || !igtcloud__credentials_fresh(e->fetched, e->creds.expires, now)) {
        int rc = fetch(c, e, now);
        if (rc)
            return rc;
    }
    *out = e;
    return 0;
}

void igtcloud__cred_cache_expire(igtcloud__cred_entry *e, unsigned int generation)
{
    if (e->generation == generation)
        e->valid = 0;
}
