/* Local checks of upload: study.json and annotation files, before anything is sent. */
#include "tools/upload_int.h"

#include "core/error.h"
#include "igtcloud/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const study_types[] = {
    "Study", "BaseStudy", "AnnotationStudy", "ClinicalImageLibraryStudy", "CoreLabsStudy",
    "EchoNavStudy", "EpdStudy", "IGuideUStudy", "MarvelStudy", "WeTrustStudy", NULL
};

/* Fields upload reads, or the server needs in a given shape. */
static const char *const string_fields[] = {
    "studyDatabaseId", "instituteId", "hospitalId", "name", "clinicalStudy", "subjectId",
    "studyId", "studyIdHumanReadable", "s3Prefix", NULL
};
static const char *const date_fields[] = {
    "studyDate", "datetime", "procedureDate", "studyStartDateTime", "studyEndDateTime", NULL
};

/* "YYYY-MM-DD" followed by nothing or by "T..." (a date-time): what the API accepts. */
static int iso_date_ok(const char *s)
{
    for (int i = 0; i < 10; i++) {
        int want_dash = i == 4 || i == 7;
        if (want_dash ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
            return 0;
    }
    return s[10] == '\0' || s[10] == 'T' || s[10] == ' ';
}

static int check_date(const json_t *obj, const char *field, const char *shown, const char *origin)
{
    json_t *v = json_object_get(obj, field);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || !iso_date_ok(json_string_value(v)))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "%s: field '%s' must be an ISO date-time "
                                                      "string such as \"2021-03-04T10:00:00\"",
                                   origin, shown);
    return 0;
}

int igtcloud__upload_study_check(json_t **out, const char *text, size_t len, const char *origin)
{
    json_error_t jerr;
    json_t *study = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc = 0;
    if (!study)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "%s: not valid JSON: line %d column %d: %s",
                                   origin, jerr.line, jerr.column, jerr.text);
    if (!json_is_object(study)) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "%s: a study must be a JSON object", origin);
        goto done;
    }
    json_t *type = json_object_get(study, "studyType");
    if (type && !json_is_null(type)) {
        int known = 0;
        for (int i = 0; json_is_string(type) && study_types[i]; i++)
            known |= strcmp(study_types[i], json_string_value(type)) == 0;
        if (!known) {
            rc = igtcloud__error_set(IGTCLOUD_EINVALID, "%s: field 'studyType' must be one of "
                                                        "Study, BaseStudy, AnnotationStudy, "
                                                        "ClinicalImageLibraryStudy, CoreLabsStudy, "
                                                        "EchoNavStudy, EpdStudy, IGuideUStudy, "
                                                        "MarvelStudy, WeTrustStudy", origin);
            goto done;
        }
    }
    for (int i = 0; string_fields[i]; i++) {
        json_t *v = json_object_get(study, string_fields[i]);
        if (v && !json_is_null(v) && !json_is_string(v)) {
            rc = igtcloud__error_set(IGTCLOUD_EINVALID, "%s: field '%s' must be a string",
                                     origin, string_fields[i]);
            goto done;
        }
    }
    for (int i = 0; date_fields[i]; i++)
        if ((rc = check_date(study, date_fields[i], date_fields[i], origin)))
            goto done;
    json_t *patient = json_object_get(study, "patient");
    if (patient && !json_is_null(patient)) {
        if (!json_is_object(patient)) {
            rc = igtcloud__error_set(IGTCLOUD_EINVALID, "%s: field 'patient' must be an object",
                                     origin);
            goto done;
        }
        static const char *const pfields[] = { "patientId", "patientName", NULL };
        for (int i = 0; pfields[i]; i++) {
            json_t *v = json_object_get(patient, pfields[i]);
            if (v && !json_is_null(v) && !json_is_string(v)) {
                rc = igtcloud__error_set(IGTCLOUD_EINVALID, "%s: field 'patient.%s' must be a "
                                                            "string", origin, pfields[i]);
                goto done;
            }
        }
        if ((rc = check_date(patient, "dateOfBirth", "patient.dateOfBirth", origin)))
            goto done;
    }
    if (out) {
        *out = study;
        study = NULL;
    }
done:
    json_decref(study);
    return rc;
}

int igtcloud__upload_annotation_check(const char *text, size_t len, const char *origin)
{
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    if (!j)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "%s: annotation is not valid JSON: line %d "
                                                      "column %d: %s",
                                   origin, jerr.line, jerr.column, jerr.text);
    json_decref(j);
    return 0;
}

int igtcloud__upload_read_file(char **out, size_t *out_len, const char *path, size_t max)
{
    int rc = 0;
    char *data = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", path, strerror(errno));
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "%s is not a regular file", path);
        goto done;
    }
    if ((uint64_t)st.st_size > max) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "%s is larger than %zu bytes", path, max);
        goto done;
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data) {
        rc = igtcloud__error_oom();
        goto done;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", path,
                                     n < 0 ? strerror(errno) : "file shrank while reading");
            goto done;
        }
        got += (size_t)n;
    }
    data[got] = '\0';
    *out = data;
    *out_len = got;
    data = NULL;
done:
    free(data);
    close(fd);
    return rc;
}

int igtcloud_upload_check_study_json(const char *text, size_t len, const char *origin)
{
    if (!text)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no study.json text given");
    return igtcloud__upload_study_check(NULL, text, len, origin ? origin : "study.json");
}
