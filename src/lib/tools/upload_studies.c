/*
 * Upload's studies (phase 3 of a run): matching local study folders to the
 * studies on the server, and creating those not found; also the single call
 * igtcloud_upload_study_find_or_create.
 */
#include "igtcloud/upload.h"

#include "igtcloud/catalog.h"
#include "api/catalog_int.h"
#include "api/upload_api.h"
#include "core/error.h"
#include "tools/layout.h"
#include "tools/upload_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const json_t *obj, const char *field)
{
    return json_string_value(json_object_get(obj, field));
}

/* ------------------------------------------------------------------ */
/* Phase 3: studies                                                    */

/* Study types without a patient (PROTOCOL.md section 4; entities.json). */
static int type_has_patient(const char *type)
{
    return strcmp(type, "EpdStudy") != 0 && strcmp(type, "IGuideUStudy") != 0;
}

/*
 * The existing study a folder stands for, into *out (owned by the caller;
 * NULL when none): read back from the institute's spool, which keeps a
 * look-up index of a few bytes a study rather than the studies.
 */
static int match_study(igtcloud_study **out, igtcloud__study_spool *studies, const json_t *local,
                       const char *name, int hierarchical)
{
    const char *id = local ? jstr(local, "studyDatabaseId") : NULL;
    int rc = 0;
    *out = NULL;
    if (id && ((rc = igtcloud__study_spool_find(out, studies, IGTCLOUD__STUDY_BY_ID, id)) || *out))
        return rc;
    const char *key = local ? igtcloud__layout_study_key(local) : NULL;
    if (key && (!id || strcmp(key, id) != 0) &&
        ((rc = igtcloud__study_spool_find(out, studies, IGTCLOUD__STUDY_BY_KEY, key)) || *out))
        return rc;
    if (local && (id || key))
        return 0;
    /* A folder as download writes it ("patient---study"), then the study key. */
    igtcloud__study_match by = hierarchical ? IGTCLOUD__STUDY_BY_TREE_FOLDER
                                            : IGTCLOUD__STUDY_BY_FLAT_FOLDER;
    if ((rc = igtcloud__study_spool_find(out, studies, by, name)) || *out)
        return rc;
    return igtcloud__study_spool_find(out, studies, IGTCLOUD__STUDY_BY_KEY, name);
}

/* The body of a new study: study.json without server-owned fields, or one from the name. */
static json_t *study_body(const json_t *local, const char *type, const char *name,
                          int hierarchical)
{
    static const char *const server_owned[] = {
        "studyDatabaseId", "instituteId", "hospitalId", "s3Prefix", "patientS3Prefix",
        "studyIdHumanReadable", "electronicRecordState", NULL
    };
    json_t *body;
    if (local) {
        body = json_deep_copy(local);
        for (int i = 0; body && server_owned[i]; i++)
            json_object_del(body, server_owned[i]);
        if (body && !jstr(body, "studyType"))
            json_object_set_new(body, "studyType", json_string(type));
        return body;
    }
    body = json_pack("{s:s}", "studyType", type);
    if (!body)
        return NULL;
    const char *slash = hierarchical ? strchr(name, '/') : NULL;
    char patient[512];
    snprintf(patient, sizeof(patient), "%.*s", slash ? (int)(slash - name) : (int)strlen(name),
             name);
    int rc = 0;
    if (type_has_patient(type)) {
        rc = json_object_set_new(body, "patient", json_pack("{s:s, s:s}", "patientId", patient,
                                                            "patientName", patient));
        if (rc == 0 && slash)
            rc = json_object_set_new(body, "studyId", json_string(slash + 1));
    } else {
        rc = json_object_set_new(body, strcmp(type, "EpdStudy") == 0 ? "name" : "subjectId",
                                 json_string(slash ? slash + 1 : name));
    }
    if (rc) {
        json_decref(body);
        return NULL;
    }
    return body;
}

static int inst_studies(igtcloud_upload *u, uinst *inst)
{
    if (inst->studies)
        return 0;
    return igtcloud__study_spool_fetch(&inst->studies, u->session,
                                       igtcloud_institute_id(inst->inst),
                                       IGTCLOUD__STUDY_SPOOL_INDEX);
}

/*
 * Find every study (read-only); nothing is created here. The institutes'
 * spools (a file each) are needed only here: they are freed on the way out.
 */
int igtcloud__upload_find_studies(igtcloud_upload *u)
{
    int rc = 0;
    for (size_t i = 0; i < u->nstudies && !rc; i++) {
        ustudy *st = u->studies[i];
        if ((rc = inst_studies(u, st->inst)) ||
            (rc = match_study(&st->remote, st->inst->studies, st->local, st->name,
                              u->o.hierarchical)) ||
            !st->remote)
            continue;
        u->sum.studies_found++;
        igtcloud__upload_emit(u, IGTCLOUD_UPLOAD_EVENT_STUDY_FOUND, st->folder, NULL, st, 0, 0,
                              igtcloud_study_human_id(st->remote));
        /* Its remote files are listed when its own are planned (upload_plan.c). */
    }
    for (size_t i = 0; i < u->ninsts; i++) {
        igtcloud__study_spool_free(u->insts[i].studies);
        u->insts[i].studies = NULL;
    }
    return rc;
}

/* POST a study; the created study (with studyDatabaseId and s3Prefix) into *out. */
static int post_study(igtcloud_study **out, igtcloud_session *s, const char *institute_id,
                      const json_t *body)
{
    json_t *made = NULL;
    char *text = NULL;
    int rc = igtcloud__upload_create_study(&made, s, institute_id, body);
    if (rc == 0 && !(text = json_dumps(made, JSON_COMPACT | JSON_PRESERVE_ORDER)))
        rc = igtcloud__error_oom();
    if (rc == 0)
        rc = igtcloud_study_from_json(out, text, strlen(text));
    free(text);
    json_decref(made);
    return rc;
}

int igtcloud__upload_study_create(igtcloud_upload *u, ustudy *st)
{
    const char *type = igtcloud_institute_study_type(st->inst->inst);
    if (!*type)
        type = igtcloud_project_study_type(u->project);
    json_t *body = study_body(st->local, *type ? type : "Study", st->name, u->o.hierarchical);
    if (!body)
        return igtcloud__error_oom();
    int rc = post_study(&st->remote, u->session, igtcloud_institute_id(st->inst->inst), body);
    json_decref(body);
    st->created = rc == 0;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Single calls                                                        */

int igtcloud_upload_study_find_or_create(char **out_json, int *created, igtcloud_session *s,
                                         const char *institute_id, const char *study_type,
                                         const char *name, const char *study_json)
{
    json_t *local = NULL, *body = NULL;
    igtcloud__study_spool *studies = NULL;
    igtcloud_study *made = NULL;
    char *text = NULL;
    int rc = 0;
    if (!out_json || !s || !institute_id || !name)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "a session, institute id and name are "
                                                      "needed");
    if (study_json &&
        (rc = igtcloud__upload_study_check(&local, study_json, strlen(study_json), "study.json")))
        return rc;
    int hierarchical = strchr(name, '/') != NULL;
    if ((rc = igtcloud__study_spool_fetch(&studies, s, institute_id,
                                          IGTCLOUD__STUDY_SPOOL_INDEX)) ||
        (rc = match_study(&made, studies, local, name, hierarchical)))
        goto done;
    int found = made != NULL;
    if (!found) {
        body = study_body(local, study_type ? study_type : "Study", name, hierarchical);
        rc = body ? post_study(&made, s, institute_id, body) : igtcloud__error_oom();
    }
    if (rc)
        goto done;
    if (!(text = strdup(igtcloud_study_json(made)))) {
        rc = igtcloud__error_oom();
        goto done;
    }
    *out_json = text;
    if (created)
        *created = !found;
done:
    json_decref(local);
    igtcloud__study_spool_free(studies);
    igtcloud_study_free(made);
    json_decref(body);
    return rc;
}
