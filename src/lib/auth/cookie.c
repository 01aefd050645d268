#include "auth/cookie.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **start, const char **end)
{
    while (*start < *end && is_blank(**start))
        (*start)++;
    while (*end > *start && is_blank((*end)[-1]))
        (*end)--;
}

static char *copy_range(const char *start, const char *end)
{
    size_t len = (size_t)(end - start);
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, start, len);
        s[len] = '\0';
    }
    return s;
}

/* Max-Age per RFC 6265 5.2.2: optional '-', digits only; non-positive means expired. */
static long long parse_max_age(const char *start, const char *end)
{
    int negative = 0;
    long long v = 0;
    if (start < end && *start == '-') {
        negative = 1;
        start++;
    }
    if (start == end)
        return -1;
    for (; start < end; start++) {
        if (*start < '0' || *start > '9')
            return -1;
        if (v > (0x7fffffffffffffffLL - 9) / 10)
            v = 0x7fffffffffffffffLL / 10;
        else
            v = v * 10 + (*start - '0');
    }
    return negative ? 0 : v;
}

int igtcloud__cookie_parse(igtcloud__cookie *out, const char *text, size_t len)
{
    int rc = 0;
    igtcloud__cookie c = { NULL, NULL, -1 };
    const char *end = text + len;
    /* Control characters (NUL above all) have no place in a cookie (RFC 6265 4.1.1). */
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return igtcloud__error_set(IGTCLOUD_EPROTO, "cookie with a control character");
    }
    const char *semi = memchr(text, ';', len);
    const char *pair_end = semi ? semi : end;
    const char *eq = memchr(text, '=', (size_t)(pair_end - text));
    if (!eq) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "cookie without '='");
        goto done;
    }
    const char *name_start = text, *name_end = eq;
    trim(&name_start, &name_end);
    if (name_start == name_end) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "cookie without a name");
        goto done;
    }
    const char *value_start = eq + 1, *value_end = pair_end;
    trim(&value_start, &value_end);
    if (value_end - value_start >= 2 && *value_start == '"' && value_end[-1] == '"') {
        value_start++;
        value_end--;
    }
    c.name = copy_range(name_start, name_end);
    c.value = copy_range(value_start, value_end);
    if (!c.name || !c.value) {
        rc = igtcloud__error_oom();
        goto done;
    }
    for (const char *attr = semi; attr && attr < end;) {
        attr++;
        const char *attr_end = memchr(attr, ';', (size_t)(end - attr));
        if (!attr_end)
            attr_end = end;
        const char *key_start = attr;
        const char *key_eq = memchr(attr, '=', (size_t)(attr_end - attr));
        const char *key_end = key_eq ? key_eq : attr_end;
        trim(&key_start, &key_end);
        if (key_eq && key_end - key_start == 7 && strncasecmp(key_start, "max-age", 7) == 0) {
            const char *v_start = key_eq + 1, *v_end = attr_end;
            trim(&v_start, &v_end);
            long long v = parse_max_age(v_start, v_end);
            if (v >= 0)
                c.max_age = v;
        }
        attr = attr_end < end ? attr_end : NULL;
    }
    *out = c;
    c.name = NULL;
    c.value = NULL;
done:
    free(c.name);
    free(c.value);
    return rc;
}

void igtcloud__cookie_dispose(igtcloud__cookie *cookie)
{
    if (!cookie)
        return;
    free(cookie->name);
    free(cookie->value);
    cookie->name = NULL;
    cookie->value = NULL;
    cookie->max_age = -1;
}
