#include "faults.h"
#include "s3_errors.h"
#include "s3_parse.h"

#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RULES 256

typedef struct fault_rule {
    int id;
    char operation[48];          /* "" matches any */
    char method[16];             /* "" matches any */
    char key_glob[1100];         /* fnmatch(3) without FNM_PATHNAME: '*' spans '/' */
    unsigned long long nth, every, times;
    double probability;          /* < 0: not a probability rule */
    uint64_t seed, rng;
    sandbox_fault_effect effect;
    unsigned long long matched, fired;
} fault_rule;

struct sandbox_faults {
    pthread_mutex_t lock;
    fault_rule *rules;
    size_t count;
    int next_id;
};

int sandbox_faults_new(sandbox_faults **out)
{
    sandbox_faults *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->rules = calloc(MAX_RULES, sizeof(*f->rules));
    if (!f->rules) {
        free(f);
        return -1;
    }
    pthread_mutex_init(&f->lock, NULL);
    f->next_id = 1;
    *out = f;
    return 0;
}

void sandbox_faults_free(sandbox_faults *faults)
{
    if (!faults)
        return;
    pthread_mutex_destroy(&faults->lock);
    free(faults->rules);
    free(faults);
}

/* splitmix64: tiny, fast and fully determined by the seed. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int get_count(json_t *rule, const char *name, unsigned long long *out, char *err,
                     size_t err_size)
{
    json_t *v = json_object_get(rule, name);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(err, err_size, "'%s' must be a non-negative integer", name);
        return -1;
    }
    *out = (unsigned long long)json_integer_value(v);
    return 0;
}

static int get_string(json_t *rule, const char *name, char *out, size_t size, char *err,
                      size_t err_size)
{
    json_t *v = json_object_get(rule, name);
    if (!v)
        return 0;
    const char *s = json_string_value(v);
    if (!s || strlen(s) >= size) {
        snprintf(err, err_size, "'%s' must be a string of fewer than %zu bytes", name, size);
        return -1;
    }
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

static int parse_effect(json_t *rule, sandbox_fault_effect *e, char *err, size_t err_size)
{
    const char *kind = json_string_value(json_object_get(rule, "effect"));
    unsigned long long n = 0;
    memset(e, 0, sizeof(*e));
    if (!kind) {
        snprintf(err, err_size, "'effect' is required: error, close, reset, delay or short");
        return -1;
    }
    if (strcmp(kind, "error") == 0) {
        e->kind = SANDBOX_FAULT_ERROR;
        if (get_string(rule, "code", e->code, sizeof(e->code), err, err_size) ||
            get_string(rule, "message", e->message, sizeof(e->message), err, err_size) ||
            get_count(rule, "status", &n, err, err_size))
            return -1;
        if (n && (n < 400 || n > 599)) {
            snprintf(err, err_size, "'status' must be 400-599");
            return -1;
        }
        e->status = (int)n;
        if (!e->code[0])
            snprintf(e->code, sizeof(e->code), "%s",
                     e->status == 503 ? "SlowDown" : "InternalError");
        if (!e->status)
            e->status = sandbox_s3_error_lookup(e->code).status;
    } else if (strcmp(kind, "close") == 0) {
        e->kind = SANDBOX_FAULT_CLOSE;
    } else if (strcmp(kind, "reset") == 0 || strcmp(kind, "short") == 0) {
        e->kind = kind[0] == 'r' ? SANDBOX_FAULT_RESET : SANDBOX_FAULT_SHORT;
        if (get_count(rule, "after_bytes", &e->after_bytes, err, err_size))
            return -1;
    } else if (strcmp(kind, "delay") == 0) {
        e->kind = SANDBOX_FAULT_DELAY;
        const char *where = json_string_value(json_object_get(rule, "where"));
        if (get_count(rule, "ms", &n, err, err_size) ||
            get_count(rule, "after_bytes", &e->after_bytes, err, err_size))
            return -1;
        if (n > 600000) {
            snprintf(err, err_size, "'ms' must be at most 600000");
            return -1;
        }
        e->delay_ms = (unsigned int)n;
        if (where && strcmp(where, "body") == 0) {
            e->in_body = 1;
        } else if (where && strcmp(where, "headers") != 0) {
            snprintf(err, err_size, "'where' must be \"headers\" or \"body\"");
            return -1;
        }
    } else {
        snprintf(err, err_size, "unknown effect '%.40s'", kind);
        return -1;
    }
    return 0;
}

/* A typo in a rule's operation or method would make it match nothing, silently. */
static int known_operation(const char *name)
{
    for (int op = SANDBOX_S3_OP_LIST_BUCKETS; op <= SANDBOX_S3_OP_LIST_PARTS; op++)
        if (strcmp(name, sandbox_s3_op_name((sandbox_s3_op)op)) == 0)
            return 1;
    return 0;
}

static int known_method(const char *name)
{
    static const char *const methods[] = { "GET", "HEAD", "PUT", "POST", "DELETE" };
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(name, methods[i]) == 0)
            return 1;
    return 0;
}

static int parse_rule(json_t *rule, uint64_t default_seed, fault_rule *out, char *err,
                      size_t err_size)
{
    static const char *const known[] = {
        "operation", "method", "key", "nth", "every", "probability", "seed", "times",
        "effect", "status", "code", "message", "after_bytes", "ms", "where", "comment",
    };
    memset(out, 0, sizeof(*out));
    if (!json_is_object(rule)) {
        snprintf(err, err_size, "a rule must be a JSON object");
        return -1;
    }
    const char *name;
    json_t *value;
    json_object_foreach(rule, name, value) {
        size_t i = 0;
        while (i < sizeof(known) / sizeof(known[0]) && strcmp(known[i], name) != 0)
            i++;
        if (i == sizeof(known) / sizeof(known[0])) {
            snprintf(err, err_size, "unknown rule field '%.40s'", name);
            return -1;
        }
    }
    unsigned long long seed = default_seed;
    out->probability = -1;
    if (get_string(rule, "operation", out->operation, sizeof(out->operation), err, err_size) ||
        get_string(rule, "method", out->method, sizeof(out->method), err, err_size) ||
        get_string(rule, "key", out->key_glob, sizeof(out->key_glob), err, err_size) ||
        get_count(rule, "nth", &out->nth, err, err_size) ||
        get_count(rule, "every", &out->every, err, err_size) ||
        get_count(rule, "times", &out->times, err, err_size) ||
        get_count(rule, "seed", &seed, err, err_size))
        return -1;
    if (out->operation[0] && !known_operation(out->operation)) {
        snprintf(err, err_size, "unknown operation '%.48s' (GetObject, PutObject, UploadPart, ...:"
                 " see docs/sandbox-faults.md)", out->operation);
        return -1;
    }
    if (out->method[0] && !known_method(out->method)) {
        snprintf(err, err_size, "'method' must be GET, HEAD, PUT, POST or DELETE");
        return -1;
    }
    json_t *p = json_object_get(rule, "probability");
    if (p) {
        double v = json_number_value(p);
        if (!json_is_number(p) || !(v >= 0.0 && v <= 1.0)) {
            snprintf(err, err_size, "'probability' must be a number from 0 to 1");
            return -1;
        }
        out->probability = v;
    }
    if ((out->nth != 0) + (out->every != 0) + (out->probability >= 0) > 1) {
        snprintf(err, err_size, "use at most one of 'nth', 'every' and 'probability'");
        return -1;
    }
    out->seed = out->rng = seed;
    return parse_effect(rule, &out->effect, err, err_size);
}

int sandbox_faults_add_json(sandbox_faults *faults, const char *text, size_t len,
                            char *err, size_t err_size)
{
    json_error_t jerr;
    fault_rule *parsed = NULL;
    int added = -1;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, err_size, "malformed JSON at line %d: %s", jerr.line, jerr.text);
        return -1;
    }
    json_t *rules = root;
    uint64_t seed = 1;
    if (json_is_object(root) && json_object_get(root, "rules")) {
        unsigned long long s = 1;
        if (get_count(root, "seed", &s, err, err_size))
            goto done;
        seed = s;
        rules = json_object_get(root, "rules");
        if (!json_is_array(rules)) {
            snprintf(err, err_size, "'rules' must be an array");
            goto done;
        }
    }
    size_t n = json_is_array(rules) ? json_array_size(rules) : 1;
    parsed = calloc(n ? n : 1, sizeof(*parsed));
    if (!parsed) {
        snprintf(err, err_size, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *rule = json_is_array(rules) ? json_array_get(rules, i) : rules;
        char why[200];
        if (parse_rule(rule, seed, &parsed[i], why, sizeof(why))) {
            snprintf(err, err_size, "rule %zu: %s", i + 1, why);
            goto done;
        }
    }
    pthread_mutex_lock(&faults->lock);
    if (faults->count + n > MAX_RULES) {
        pthread_mutex_unlock(&faults->lock);
        snprintf(err, err_size, "too many rules (at most %d)", MAX_RULES);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        parsed[i].id = faults->next_id++;
        faults->rules[faults->count++] = parsed[i];
    }
    pthread_mutex_unlock(&faults->lock);
    added = (int)n;
done:
    free(parsed);
    json_decref(root);
    return added;
}

int sandbox_faults_load_file(sandbox_faults *faults, const char *path, char *err,
                             size_t err_size)
{
    igtcloud__buf text = IGTCLOUD_BUF_INIT;
    int rc = -1;
    char chunk[4096];
    size_t got;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "cannot open '%s'", path);
        return -1;
    }
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (text.size > (1u << 20) || igtcloud__buf_put(&text, chunk, got)) {
            snprintf(err, err_size, "'%s' is too large", path);
            goto done;
        }
    }
    if (ferror(f)) {
        snprintf(err, err_size, "cannot read '%s'", path);
        goto done;
    }
    rc = sandbox_faults_add_json(faults, igtcloud__buf_cstr(&text), text.size, err,
                                 err_size) < 0 ? -1 : 0;
done:
    fclose(f);
    igtcloud__buf_dispose(&text);
    return rc;
}

void sandbox_faults_clear(sandbox_faults *faults)
{
    pthread_mutex_lock(&faults->lock);
    faults->count = 0;
    pthread_mutex_unlock(&faults->lock);
}

static const char *kind_name(sandbox_fault_kind kind)
{
    switch (kind) {
    case SANDBOX_FAULT_ERROR: return "error";
    case SANDBOX_FAULT_CLOSE: return "close";
    case SANDBOX_FAULT_RESET: return "reset";
    case SANDBOX_FAULT_DELAY: return "delay";
    case SANDBOX_FAULT_SHORT: return "short";
    default: return "none";
    }
}

static json_t *rule_json(const fault_rule *r)
{
    json_t *j = json_pack("{s:i, s:s, s:I, s:I}", "id", r->id,
                          "effect", kind_name(r->effect.kind),
                          "matched", (json_int_t)r->matched, "fired", (json_int_t)r->fired);
    if (!j)
        return NULL;
    if (r->operation[0])
        json_object_set_new(j, "operation", json_string(r->operation));
    if (r->method[0])
        json_object_set_new(j, "method", json_string(r->method));
    if (r->key_glob[0])
        json_object_set_new(j, "key", json_string(r->key_glob));
    if (r->nth)
        json_object_set_new(j, "nth", json_integer((json_int_t)r->nth));
    if (r->every)
        json_object_set_new(j, "every", json_integer((json_int_t)r->every));
    if (r->probability >= 0) {
        json_object_set_new(j, "probability", json_real(r->probability));
        json_object_set_new(j, "seed", json_integer((json_int_t)r->seed));
    }
    if (r->times)
        json_object_set_new(j, "times", json_integer((json_int_t)r->times));
    const sandbox_fault_effect *e = &r->effect;
    if (e->kind == SANDBOX_FAULT_ERROR) {
        json_object_set_new(j, "status", json_integer(e->status));
        json_object_set_new(j, "code", json_string(e->code));
    }
    if (e->kind == SANDBOX_FAULT_RESET || e->kind == SANDBOX_FAULT_SHORT ||
        (e->kind == SANDBOX_FAULT_DELAY && e->in_body))
        json_object_set_new(j, "after_bytes", json_integer((json_int_t)e->after_bytes));
    if (e->kind == SANDBOX_FAULT_DELAY) {
        json_object_set_new(j, "ms", json_integer(e->delay_ms));
        json_object_set_new(j, "where", json_string(e->in_body ? "body" : "headers"));
    }
    return j;
}

json_t *sandbox_faults_list(sandbox_faults *faults)
{
    json_t *rules = json_array();
    pthread_mutex_lock(&faults->lock);
    for (size_t i = 0; rules && i < faults->count; i++)
        json_array_append_new(rules, rule_json(&faults->rules[i]));
    pthread_mutex_unlock(&faults->lock);
    return json_pack("{s:o}", "rules", rules);
}

static int rule_matches(const fault_rule *r, const char *operation, const char *method,
                        const char *key)
{
    if (r->operation[0] && strcmp(r->operation, operation) != 0)
        return 0;
    if (r->method[0] && strcmp(r->method, method) != 0)
        return 0;
    return !r->key_glob[0] || fnmatch(r->key_glob, key, 0) == 0;
}

static int rule_fires(fault_rule *r)
{
    int fire;
    if (r->nth)
        fire = r->matched == r->nth;
    else if (r->every)
        fire = r->matched % r->every == 0;
    else if (r->probability >= 0)
        fire = (double)(next_random(&r->rng) >> 11) * 0x1.0p-53 < r->probability;
    else
        fire = 1;
    return fire && (!r->times || r->fired < r->times);
}

int sandbox_faults_match(sandbox_faults *faults, const char *operation, const char *method,
                         const char *key, sandbox_fault_effect *out, char *label,
                         size_t label_size)
{
    int fired = 0;
    if (!faults)
        return 0;
    pthread_mutex_lock(&faults->lock);
    for (size_t i = 0; i < faults->count; i++) {
        fault_rule *r = &faults->rules[i];
        if (!rule_matches(r, operation, method, key))
            continue;
        r->matched++;
        if (!rule_fires(r) || fired)
            continue;
        r->fired++;
        *out = r->effect;
        fired = 1;
        const sandbox_fault_effect *e = &r->effect;
        if (e->kind == SANDBOX_FAULT_ERROR)
            snprintf(label, label_size, "rule %d: error %d %s", r->id, e->status, e->code);
        else if (e->kind == SANDBOX_FAULT_DELAY)
            snprintf(label, label_size, "rule %d: delay %u ms %s", r->id, e->delay_ms,
                     e->in_body ? "body" : "headers");
        else if (e->kind == SANDBOX_FAULT_CLOSE)
            snprintf(label, label_size, "rule %d: close", r->id);
        else
            snprintf(label, label_size, "rule %d: %s after %llu bytes", r->id,
                     kind_name(e->kind), e->after_bytes);
    }
    pthread_mutex_unlock(&faults->lock);
    return fired;
}
