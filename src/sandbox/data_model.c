#include "data_model.h"
#include "objects.h"
#include "core/isotime.h"

#include <stdio.h>
#include <string.h>

const char *const sandbox_study_types[] = {
    "Study", "BaseStudy", "AnnotationStudy", "ClinicalImageLibraryStudy", "CoreLabsStudy",
    "EchoNavStudy", "EpdStudy", "IGuideUStudy", "MarvelStudy", "WeTrustStudy", NULL,
};

int sandbox_study_type_known(const char *type)
{
    for (int i = 0; type && sandbox_study_types[i]; i++)
        if (strcmp(type, sandbox_study_types[i]) == 0)
            return 1;
    return 0;
}

int sandbox_study_type_has_patient(const char *type)
{
    /* EpdStudy and IGuideUStudy derive from RootStudy, the rest from BaseStudy. */
    return sandbox_study_type_known(type) && strcmp(type, "EpdStudy") != 0 &&
           strcmp(type, "IGuideUStudy") != 0;
}

/* Date-time fields of the study types in openapi/entities.json. */
static const char *const date_fields[] = {
    "studyDate", "date", "procedureDate", "datetime", "studyStartDateTime",
    "studyEndDateTime", "maxRetentionDate", "latestAnnotations", NULL,
};

/*
 * A date field must be null or an ISO date-time string. The cloud answers
 * with full date-times, so a date-only value is completed with midnight.
 */
static int check_date(json_t *parent, const char *name, const char *shown, char *msg,
                      size_t msg_size)
{
    json_t *value = json_object_get(parent, name);
    if (!value || json_is_null(value))
        return 0;
    const char *text = json_string_value(value);
    time_t t;
    if (!text || igtcloud__isotime_parse(&t, NULL, text) != 0) {
        snprintf(msg, msg_size, "field '%s' must be an ISO date-time like 2021-03-04T10:00:00",
                 shown);
        return -1;
    }
    if (strlen(text) == 10) {
        char full[32];
        snprintf(full, sizeof(full), "%sT00:00:00", text);
        json_string_set(value, full);
    }
    return 0;
}

int sandbox_study_check(json_t *study, char *msg, size_t msg_size)
{
    if (!json_is_object(study)) {
        snprintf(msg, msg_size, "a study must be a JSON object");
        return -1;
    }
    json_t *type = json_object_get(study, "studyType");
    if (!type || json_is_null(type)) {
        snprintf(msg, msg_size, "field 'studyType' is required");
        return -1;
    }
    if (!json_is_string(type) || !sandbox_study_type_known(json_string_value(type))) {
        snprintf(msg, msg_size,
                 "field 'studyType' must be one of Study, BaseStudy, AnnotationStudy, "
                 "ClinicalImageLibraryStudy, CoreLabsStudy, EchoNavStudy, EpdStudy, "
                 "IGuideUStudy, MarvelStudy, WeTrustStudy");
        return -1;
    }
    json_t *institute = json_object_get(study, "instituteId");
    if (institute && !json_is_null(institute) && !json_is_string(institute)) {
        snprintf(msg, msg_size, "field 'instituteId' must be a string");
        return -1;
    }
    json_t *patient = json_object_get(study, "patient");
    if (patient && !json_is_null(patient) && !json_is_object(patient)) {
        snprintf(msg, msg_size, "field 'patient' must be an object");
        return -1;
    }
    for (int i = 0; date_fields[i]; i++)
        if (check_date(study, date_fields[i], date_fields[i], msg, msg_size))
            return -1;
    if (json_is_object(patient) &&
        check_date(patient, "dateOfBirth", "patient.dateOfBirth", msg, msg_size))
        return -1;
    return 0;
}

/* The first of `names` that is a non-empty string in obj, or NULL. */
static const char *first_string(const json_t *obj, const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        const char *v = json_string_value(json_object_get(obj, names[i]));
        if (v && *v)
            return v;
    }
    return NULL;
}

/* Append `part` to out, making it one safe path segment of at most 120 bytes. */
static void put_part(char *out, size_t out_size, size_t *used, const char *part)
{
    size_t n = 0;
    for (const char *p = part; *p && n < 120 && *used + 1 < out_size; p++, n++) {
        unsigned char c = (unsigned char)*p;
        out[(*used)++] = (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) ? '_' : (char)c;
    }
    out[*used] = '\0';
}

void sandbox_study_human_id(char *out, size_t out_size, const json_t *study,
                            const char *fallback_patient, const char *fallback_study)
{
    /* The patient (or subject) first, then what names the study within it. */
    static const char *const patient_names[] = { "patientId", "patientName", NULL };
    static const char *const subject_names[] = { "subjectId", "site", NULL };
    static const char *const study_names[] = {
        "studyId", "name", "clinicalStudy", "visitName", "studyName", NULL,
    };
    const char *patient = first_string(json_object_get(study, "patient"), patient_names);
    if (!patient)
        patient = first_string(study, subject_names);
    const char *name = first_string(study, study_names);
    size_t used = 0;
    if (out_size == 0)
        return;
    out[0] = '\0';
    put_part(out, out_size, &used, patient ? patient : fallback_patient);
    if (used + 1 < out_size) {
        out[used++] = '/';
        out[used] = '\0';
    }
    put_part(out, out_size, &used, name ? name : fallback_study);
}

int sandbox_json_merge_patch(json_t *target, const json_t *patch)
{
    const char *key;
    json_t *value;
    if (!json_is_object(target) || !json_is_object(patch))
        return -1;
    json_object_foreach((json_t *)patch, key, value) {
        if (json_is_null(value)) {
            json_object_del(target, key);
        } else if (json_is_object(value)) {
            json_t *current = json_object_get(target, key);
            if (!json_is_object(current)) {
                current = json_object();
                if (!current || json_object_set_new(target, key, current))
                    return -1;
            }
            if (sandbox_json_merge_patch(current, value))
                return -1;
        } else if (json_object_set(target, key, value)) {
            return -1;
        }
    }
    return 0;
}

const char *sandbox_category_name(sandbox_category c)
{
    switch (c) {
    case SANDBOX_CATEGORY_FILES: return "files";
    case SANDBOX_CATEGORY_DICOM: return "dicom";
    case SANDBOX_CATEGORY_ANNOTATIONS: return "annotations";
    case SANDBOX_CATEGORY_PROJECT: return "project";
    default: return "";
    }
}

const char *sandbox_category_folder(sandbox_category c)
{
    switch (c) {
    case SANDBOX_CATEGORY_FILES: return "files/";
    case SANDBOX_CATEGORY_DICOM: return "0/";
    case SANDBOX_CATEGORY_ANNOTATIONS: return "annotations/";
    default: return "";
    }
}

sandbox_category sandbox_category_parse(const char *name)
{
    if (!name)
        return SANDBOX_CATEGORY_NONE;
    if (strcmp(name, "files") == 0)
        return SANDBOX_CATEGORY_FILES;
    if (strcmp(name, "dicom") == 0)
        return SANDBOX_CATEGORY_DICOM;
    if (strcmp(name, "annotations") == 0)
        return SANDBOX_CATEGORY_ANNOTATIONS;
    return SANDBOX_CATEGORY_NONE;
}

sandbox_category sandbox_study_file_category(const char *study_prefix, const char *key,
                                             const char **rel)
{
    static const sandbox_category order[] = {
        SANDBOX_CATEGORY_FILES, SANDBOX_CATEGORY_DICOM, SANDBOX_CATEGORY_ANNOTATIONS,
    };
    size_t plen = strlen(study_prefix);
    if (!key || strncmp(key, study_prefix, plen) != 0 || sandbox_object_key_problem(key))
        return SANDBOX_CATEGORY_NONE;
    const char *rest = key + plen;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const char *folder = sandbox_category_folder(order[i]);
        size_t flen = strlen(folder);
        if (strncmp(rest, folder, flen) == 0 && rest[flen] != '\0') {
            if (rel)
                *rel = rest + flen;
            return order[i];
        }
    }
    return SANDBOX_CATEGORY_NONE;
}

void sandbox_file_type(char *out, size_t out_size, const char *file_name)
{
    const char *base = strrchr(file_name, '/');
    base = base ? base + 1 : file_name;
    /* Leading dots belong to the name, as in os.path.splitext. */
    const char *p = base;
    while (*p == '.')
        p++;
    const char *dot = strrchr(p, '.');
    snprintf(out, out_size, "%s", dot ? dot : "");
}

json_t *sandbox_file_json(const sandbox_file_info *f)
{
    char type[64];
    sandbox_file_type(type, sizeof(type), f->file_name);
    long long progress = f->is_completed ? f->file_size : f->progress_bytes;
    long long percent = f->is_completed ? 100
                        : f->file_size > 0 ? progress * 100 / f->file_size : 0;
    if (percent > 100)
        percent = 100;
    return json_pack("{s:s, s:s, s:I, s:b, s:b, s:s, s:o, s:I, s:I}",
                     "key", f->key,
                     "fileName", f->file_name,
                     "fileSize", (json_int_t)f->file_size,
                     "isCompleted", f->is_completed,
                     "isNew", f->is_new,
                     "type", type,
                     "uploadId", f->upload_id ? json_string(f->upload_id) : json_null(),
                     "progressPercentage", (json_int_t)percent,
                     "progressInBytes", (json_int_t)progress);
}
