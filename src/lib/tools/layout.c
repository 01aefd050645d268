#include "tools/layout.h"
#include "core/error.h"
#include "core/isotime.h"
#include "core/safepath.h"

#include <string.h>
#include <strings.h>

int igtcloud__layout_study_folder(igtcloud__buf *out, const json_t *study, int hierarchical)
{
    const char *human = json_string_value(json_object_get(study, "studyIdHumanReadable"));
    const char *id = json_string_value(json_object_get(study, "studyDatabaseId"));
    if (!id)
        id = "(without id)";
    if (!human || !*human)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "study %.100s has no studyIdHumanReadable", id);
    size_t start = out->size;
    int rc = 0;
    for (const char *p = human; *p && !rc; p++) {
        if (*p == '/' && !hierarchical)
            rc = igtcloud__buf_puts(out, "---");
        else
            rc = igtcloud__buf_putc(out, *p);
    }
    const char *problem = rc ? NULL : igtcloud__safepath_problem(out->ptr + start);
    if (problem) {
        char shown[160];
        igtcloud__safepath_show(shown, sizeof(shown), human);
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "study %.100s ('%s'): its folder name %s",
                                 id, shown, problem);
    }
    if (rc) {
        out->size = start;
        out->ptr[start] = '\0';
    }
    return rc;
}

const char *igtcloud__layout_study_key(const json_t *study)
{
    static const char *const fields[] = { "name", "clinicalStudy", "subjectId" };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *v = json_string_value(json_object_get(study, fields[i]));
        if (v && *v)
            return v;
    }
    const char *name =
        json_string_value(json_object_get(json_object_get(study, "patient"), "patientName"));
    if (name && *name)
        return name;
    const char *id = json_string_value(json_object_get(study, "studyDatabaseId"));
    return id && *id ? id : NULL;
}

int igtcloud__layout_study_date(time_t *out, const json_t *study)
{
    const char *type = json_string_value(json_object_get(study, "studyType"));
    const char *field = type && strcmp(type, "EpdStudy") == 0 ? "datetime" : "studyDate";
    const char *text = json_string_value(json_object_get(study, field));
    if (!text || !*text)
        return IGTCLOUD_ENOTFOUND;
    return igtcloud__isotime_parse(out, NULL, text) ? IGTCLOUD_ENOTFOUND : 0;
}

int igtcloud__layout_date_match(const json_t *study, time_t start_day, time_t end_day)
{
    time_t date;
    if (!start_day && !end_day)
        return 1;
    if (igtcloud__layout_study_date(&date, study))
        return 0;
    if (start_day && date < start_day)
        return 0;
    if (end_day && date >= end_day + 86400)
        return 0;
    return 1;
}

int igtcloud__layout_ext_match(const char *const *exts, const char *type, const char *name)
{
    if (!exts || !exts[0])
        return 1;
    const char *ext = type && *type ? type : NULL;
    if (!ext && name) {
        const char *slash = strrchr(name, '/');
        const char *dot = strrchr(slash ? slash + 1 : name, '.');
        ext = dot;
    }
    if (!ext)
        return 0;
    if (*ext == '.')
        ext++;
    for (size_t i = 0; exts[i]; i++) {
        const char *want = exts[i][0] == '.' ? exts[i] + 1 : exts[i];
        if (strcasecmp(want, ext) == 0)
            return 1;
    }
    return 0;
}
