#include "tools/csv.h"
#include "core/error.h"
#include "core/isotime.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void igtcloud__csv_columns_dispose(igtcloud__csv_columns *columns)
{
    if (!columns)
        return;
    for (size_t i = 0; i < columns->count; i++)
        free(columns->names[i]);
    free(columns->names);
    columns->names = NULL;
    columns->count = 0;
}

static int columns_add(igtcloud__csv_columns *columns, const char *name, size_t len)
{
    char **names = realloc(columns->names, (columns->count + 1) * sizeof(*names));
    if (!names)
        return igtcloud__error_oom();
    columns->names = names;
    char *copy = malloc(len + 1);
    if (!copy)
        return igtcloud__error_oom();
    memcpy(copy, name, len);
    copy[len] = '\0';
    names[columns->count++] = copy;
    return 0;
}

/* Python's str.title(): a letter after a non-letter is upper-cased, others lower-cased. */
static int append_title(igtcloud__buf *out, const char *word)
{
    int previous_cased = 0;
    for (const char *p = word; *p; p++) {
        unsigned char c = (unsigned char)*p;
        int rc;
        if (isalpha(c)) {
            rc = igtcloud__buf_putc(out, (char)(previous_cased ? tolower(c) : toupper(c)));
            previous_cased = 1;
        } else {
            rc = igtcloud__buf_putc(out, (char)c);
            previous_cased = 0;
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int flatten_into(json_t *flat, const char *prefix, const json_t *object)
{
    const char *key;
    json_t *value;
    igtcloud__buf name = IGTCLOUD_BUF_INIT;
    int rc = 0;
    json_object_foreach((json_t *)object, key, value) {
        igtcloud__buf_clear(&name);
        if (!prefix || strncmp(key, prefix, strlen(prefix)) == 0)
            rc = igtcloud__buf_puts(&name, key);
        else if (!(rc = igtcloud__buf_puts(&name, prefix)))
            rc = append_title(&name, key);
        if (rc)
            goto done;
        if (json_is_object(value)) {
            rc = flatten_into(flat, igtcloud__buf_cstr(&name), value);
        } else if (json_object_set(flat, igtcloud__buf_cstr(&name), value)) {
            rc = igtcloud__error_oom();
        }
        if (rc)
            goto done;
    }
done:
    igtcloud__buf_dispose(&name);
    return rc;
}

int igtcloud__csv_flatten(json_t **out, const json_t *study)
{
    if (!json_is_object(study))
        return igtcloud__error_set(IGTCLOUD_EPROTO, "study is not a JSON object");
    json_t *flat = json_object();
    if (!flat)
        return igtcloud__error_oom();
    int rc = flatten_into(flat, NULL, study);
    if (rc) {
        json_decref(flat);
        return rc;
    }
    *out = flat;
    return 0;
}

static int excluded(const char *name)
{
    return strcmp(name, "studyType") == 0 || strcmp(name, "s3Prefix") == 0 ||
           strcmp(name, "patientS3Prefix") == 0;
}

int igtcloud__csv_columns_from_study(igtcloud__csv_columns *out, const json_t *first_study,
                                     int with_files)
{
    json_t *flat = NULL;
    igtcloud__csv_columns columns = { NULL, 0 };
    int rc = igtcloud__csv_flatten(&flat, first_study);
    if (rc)
        return rc;
    const char *key;
    json_t *value;
    json_object_foreach(flat, key, value) {
        if (!excluded(key) && (rc = columns_add(&columns, key, strlen(key))))
            goto done;
    }
    if (with_files && ((rc = columns_add(&columns, "filename", 8)) ||
                       (rc = columns_add(&columns, "filesize", 8))))
        goto done;
    *out = columns;
    columns.names = NULL;
    columns.count = 0;
done:
    igtcloud__csv_columns_dispose(&columns);
    json_decref(flat);
    return rc;
}

int igtcloud__csv_columns_parse(igtcloud__csv_columns *out, const char *line)
{
    igtcloud__csv_columns columns = { NULL, 0 };
    igtcloud__buf field = IGTCLOUD_BUF_INIT;
    int rc = 0;
    const char *p = line;
    for (;;) {
        igtcloud__buf_clear(&field);
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0') {
                    rc = igtcloud__error_set(IGTCLOUD_EINVALID,
                                             "unterminated quote in the CSV header");
                    goto done;
                }
                if (*p == '"' && p[1] == '"') {
                    rc = igtcloud__buf_putc(&field, '"');
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    rc = igtcloud__buf_putc(&field, *p++);
                }
                if (rc)
                    goto done;
            }
        } else {
            size_t len = strcspn(p, ",\r\n");
            if ((rc = igtcloud__buf_put(&field, p, len)))
                goto done;
            p += len;
        }
        if ((rc = columns_add(&columns, igtcloud__buf_cstr(&field), field.size)))
            goto done;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '\0' || *p == '\r' || *p == '\n')
            break;
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "malformed CSV header near '%.20s'", p);
        goto done;
    }
    if (columns.count == 1 && columns.names[0][0] == '\0') {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "the existing CSV file has an empty header");
        goto done;
    }
    *out = columns;
    columns.names = NULL;
    columns.count = 0;
done:
    igtcloud__csv_columns_dispose(&columns);
    igtcloud__buf_dispose(&field);
    return rc;
}

/* A string the reference's models turn into a datetime: YYYY-MM-DDTHH:MM:SS... */
static int format_datetime(igtcloud__buf *out, const char *text)
{
    time_t t;
    int has_zone = 0;
    size_t len = strlen(text);
    if (len < 19 || text[10] != 'T' || igtcloud__isotime_parse(&t, &has_zone, text))
        return 1;
    int rc = igtcloud__buf_put(out, text, 10);
    if (!rc)
        rc = igtcloud__buf_putc(out, ' ');
    if (!rc)
        rc = igtcloud__buf_put(out, text + 11, 8);
    const char *p = text + 19;
    if (!rc && *p == '.') {
        /* Python prints microseconds, six digits, when they are not zero. */
        char micro[7] = "000000";
        int nonzero = 0;
        p++;
        for (int i = 0; isdigit((unsigned char)*p); i++, p++) {
            if (i < 6) {
                micro[i] = *p;
                nonzero |= *p != '0';
            }
        }
        if (nonzero) {
            rc = igtcloud__buf_putc(out, '.');
            if (!rc)
                rc = igtcloud__buf_puts(out, micro);
        }
    }
    if (!rc && has_zone) {
        if (*p == 'Z')
            rc = igtcloud__buf_puts(out, "+00:00");
        else if (strlen(p) == 5) /* +HHMM */
            rc = igtcloud__buf_printf(out, "%.3s:%.2s", p, p + 3);
        else
            rc = igtcloud__buf_puts(out, p);
    }
    return rc < 0 ? rc : 0;
}

/* Python's repr of a float: the shortest form that reads back the same. */
static int format_real(igtcloud__buf *out, double v)
{
    char text[40];
    if (isinf(v))
        return igtcloud__buf_puts(out, v > 0 ? "inf" : "-inf");
    if (isnan(v))
        return igtcloud__buf_puts(out, "nan");
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(text, sizeof(text), "%.*g", precision, v);
        if (strtod(text, NULL) == v)
            break;
    }
    int rc = igtcloud__buf_puts(out, text);
    if (!rc && !strpbrk(text, ".en"))
        rc = igtcloud__buf_puts(out, ".0");
    return rc;
}

static int format_repr(igtcloud__buf *out, const json_t *value);

static int format_repr_string(igtcloud__buf *out, const char *s)
{
    int rc = igtcloud__buf_putc(out, '\'');
    for (; !rc && *s; s++) {
        if (*s == '\'' || *s == '\\')
            rc = igtcloud__buf_putc(out, '\\');
        if (!rc)
            rc = igtcloud__buf_putc(out, *s);
    }
    return rc ? rc : igtcloud__buf_putc(out, '\'');
}

/* Python's repr of nested values inside lists: ['a', 1, {'k': True}]. */
static int format_repr(igtcloud__buf *out, const json_t *value)
{
    int rc = 0;
    if (json_is_string(value))
        return format_repr_string(out, json_string_value(value));
    if (json_is_array(value)) {
        size_t i;
        json_t *item;
        rc = igtcloud__buf_putc(out, '[');
        json_array_foreach((json_t *)value, i, item) {
            if (!rc && i > 0)
                rc = igtcloud__buf_puts(out, ", ");
            if (!rc)
                rc = format_repr(out, item);
        }
        return rc ? rc : igtcloud__buf_putc(out, ']');
    }
    if (json_is_object(value)) {
        const char *key;
        json_t *item;
        int first = 1;
        rc = igtcloud__buf_putc(out, '{');
        json_object_foreach((json_t *)value, key, item) {
            if (!rc && !first)
                rc = igtcloud__buf_puts(out, ", ");
            first = 0;
            if (!rc)
                rc = format_repr_string(out, key);
            if (!rc)
                rc = igtcloud__buf_puts(out, ": ");
            if (!rc)
                rc = format_repr(out, item);
        }
        return rc ? rc : igtcloud__buf_putc(out, '}');
    }
    if (json_is_null(value))
        return igtcloud__buf_puts(out, "None");
    return igtcloud__csv_format_value(out, value);
}

int igtcloud__csv_format_value(igtcloud__buf *out, const json_t *value)
{
    if (!value || json_is_null(value))
        return 0;
    if (json_is_true(value))
        return igtcloud__buf_puts(out, "True");
    if (json_is_false(value))
        return igtcloud__buf_puts(out, "False");
    if (json_is_integer(value))
        return igtcloud__buf_printf(out, "%lld", (long long)json_integer_value(value));
    if (json_is_real(value))
        return format_real(out, json_real_value(value));
    if (json_is_string(value)) {
        const char *text = json_string_value(value);
        int rc = format_datetime(out, text);
        return rc <= 0 ? rc : igtcloud__buf_puts(out, text);
    }
    if (json_is_array(value)) {
        size_t i;
        json_t *item;
        int all_strings = 1;
        json_array_foreach((json_t *)value, i, item) all_strings &= json_is_string(item);
        if (!all_strings)
            return format_repr(out, value);
        json_array_foreach((json_t *)value, i, item) {
            int rc = i > 0 ? igtcloud__buf_puts(out, ", ") : 0;
            if (!rc)
                rc = igtcloud__buf_puts(out, json_string_value(item));
            if (rc)
                return rc;
        }
        return 0;
    }
    return format_repr(out, value);
}

int igtcloud__csv_put_field(igtcloud__buf *out, const char *text, size_t len)
{
    int quote = 0;
    for (size_t i = 0; i < len && !quote; i++)
        quote = text[i] == ',' || text[i] == '"' || text[i] == '\r' || text[i] == '\n';
    if (!quote)
        return igtcloud__buf_put(out, text, len);
    int rc = igtcloud__buf_putc(out, '"');
    for (size_t i = 0; !rc && i < len; i++) {
        if (text[i] == '"')
            rc = igtcloud__buf_putc(out, '"');
        if (!rc)
            rc = igtcloud__buf_putc(out, text[i]);
    }
    return rc ? rc : igtcloud__buf_putc(out, '"');
}

int igtcloud__csv_write_header(igtcloud__buf *out, const igtcloud__csv_columns *columns)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < columns->count; i++) {
        if (i > 0)
            rc = igtcloud__buf_putc(out, ',');
        if (!rc)
            rc = igtcloud__csv_put_field(out, columns->names[i], strlen(columns->names[i]));
    }
    return rc ? rc : igtcloud__buf_puts(out, "\r\n");
}

int igtcloud__csv_write_row(igtcloud__buf *out, const igtcloud__csv_columns *columns,
                            const json_t *flat_study, const char *file_name,
                            long long file_size)
{
    igtcloud__buf value = IGTCLOUD_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; !rc && i < columns->count; i++) {
        const char *name = columns->names[i];
        igtcloud__buf_clear(&value);
        if (i > 0 && (rc = igtcloud__buf_putc(out, ',')))
            break;
        if (strcmp(name, "filename") == 0 && file_name)
            rc = igtcloud__buf_puts(&value, file_name);
        else if (strcmp(name, "filesize") == 0 && file_size >= 0)
            rc = igtcloud__buf_printf(&value, "%lld", file_size);
        else
            rc = igtcloud__csv_format_value(&value, json_object_get(flat_study, name));
        if (!rc)
            rc = igtcloud__csv_put_field(out, igtcloud__buf_cstr(&value), value.size);
    }
    if (!rc)
        rc = igtcloud__buf_puts(out, "\r\n");
    igtcloud__buf_dispose(&value);
    return rc;
}
