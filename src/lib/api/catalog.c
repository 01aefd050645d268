/*
 * The catalog: projects, institutes, studies and file listings of the data
 * service (PROTOCOL.md section 4). Each entity keeps the fields callers use
 * plus its compact JSON text, all in one allocation, so that large listings
 * stay small once parsed. Listings are parsed as their answer arrives
 * (json_stream.h), one entry at a time, so the answer is never held whole:
 * at the peak, memory holds the entries kept and one entry being read.
 */
#include "api/catalog_int.h"
#include "api/json_stream.h"
#include "auth/session_int.h"
#include "core/error.h"
#include "core/isotime.h"
#include "tools/layout.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- shared helpers ------------------------------------------------------ */

int igtcloud__catalog_put_segment(igtcloud__buf *out, const char *segment)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)segment; *p && !rc; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            rc = igtcloud__buf_putc(out, (char)*p);
        } else {
            char enc[4] = { '%', hex[*p >> 4], hex[*p & 15], '\0' };
            rc = igtcloud__buf_puts(out, enc);
        }
    }
    return rc;
}

/* The session's connection hands a listing's body here as it arrives. */
static int feed_stream(const char *data, size_t len, void *payload)
{
    return igtcloud__json_stream_feed(payload, data, len);
}

int igtcloud__catalog_get_stream(igtcloud_session *session, const char *path,
                                 igtcloud__json_stream *stream)
{
    igtcloud__http_response res;
    igtcloud__buf url = IGTCLOUD_BUF_INIT;
    igtcloud__http_response_init(&res);
    /* The URL igtcloud__session_request asks for: only its answer is streamed. */
    int rc = igtcloud__buf_printf(&url, "%s%s", session->base, path);
    if (rc)
        return rc;
    igtcloud__http_client_set_body_sink(session->http, url.ptr, feed_stream, stream);
    rc = igtcloud__session_request(&res, session, "GET", path, NULL);
    if (!rc && res.status == 401) {
        /* Nothing reached the stream: only a 2xx answer is streamed. */
        igtcloud__http_response_dispose(&res);
        rc = igtcloud_session_refresh(session);
        if (!rc)
            rc = igtcloud__session_request(&res, session, "GET", path, NULL);
        else
            igtcloud__http_response_init(&res);
    }
    igtcloud__http_client_set_body_sink(session->http, NULL, NULL, NULL);
    if (rc)
        goto done;
    if (res.status < 200 || res.status > 299) {
        rc = igtcloud__session_error(&res, stream->what);
        goto done;
    }
    rc = igtcloud__json_stream_finish(stream);
done:
    igtcloud__http_response_dispose(&res);
    igtcloud__buf_dispose(&url);
    return rc;
}

static const char *str_field(const json_t *obj, const char *name)
{
    const char *v = json_string_value(json_object_get(obj, name));
    return v ? v : "";
}

/*
 * One allocation holding `n` strings back to back; ptrs[i] point into it.
 * Returns the block (to free) or NULL.
 */
static char *pack_strings(const char **ptrs, const char *const *src, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += strlen(src[i]) + 1;
    char *mem = malloc(total ? total : 1);
    if (!mem)
        return NULL;
    char *p = mem;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(src[i]) + 1;
        memcpy(p, src[i], len);
        ptrs[i] = p;
        p += len;
    }
    return mem;
}

static char *compact_json(const json_t *obj)
{
    return json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

/* ---- categories and filters ---------------------------------------------- */

const char *igtcloud_category_name(igtcloud_category category)
{
    switch (category) {
    case IGTCLOUD_CATEGORY_FILES:
        return "files";
    case IGTCLOUD_CATEGORY_DICOM:
        return "dicom";
    case IGTCLOUD_CATEGORY_ANNOTATIONS:
        return "annotations";
    case IGTCLOUD_CATEGORY_PROJECT:
        return "project";
    default:
        return "";
    }
}

int igtcloud_category_parse(igtcloud_category *out, const char *name)
{
    static const igtcloud_category all[] = { IGTCLOUD_CATEGORY_FILES, IGTCLOUD_CATEGORY_DICOM,
                                             IGTCLOUD_CATEGORY_ANNOTATIONS };
    for (size_t i = 0; name && i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcasecmp(name, igtcloud_category_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return igtcloud__error_set(IGTCLOUD_EINVALID,
                               "invalid category '%s': choose files, dicom or annotations",
                               name ? name : "");
}

int igtcloud_day_parse(int64_t *out, const char *text)
{
    static const char shape[] = "dddd-dd-dd";
    int ok = text && strlen(text) == sizeof(shape) - 1;
    for (size_t i = 0; ok && i < sizeof(shape) - 1; i++)
        ok = shape[i] == 'd' ? (text[i] >= '0' && text[i] <= '9') : text[i] == shape[i];
    time_t t = 0;
    if (ok)
        ok = igtcloud__isotime_parse(&t, NULL, text) == 0;
    if (ok) {
        /* Reject days that do not exist (2021-02-30) rather than rolling them over. */
        struct tm tm;
        char again[16];
        ok = gmtime_r(&t, &tm) != NULL &&
             strftime(again, sizeof(again), "%Y-%m-%d", &tm) == sizeof(shape) - 1 &&
             strcmp(again, text) == 0;
    }
    if (!ok)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "invalid date '%s': expected YYYY-MM-DD",
                                   text ? text : "");
    *out = (int64_t)t;
    return 0;
}

int igtcloud_file_ext_match(const char *const *exts, const igtcloud_file_info *file)
{
    return igtcloud__layout_ext_match(exts, file->type, file->name);
}

/* ---- projects, institutes and studies ------------------------------------ */

/* Projects and institutes have the same fields; studies their own. */
enum { P_ID, P_NAME, P_PREFIX, P_TYPE, P_JSON, P_COUNT };
enum { S_ID, S_HUMAN, S_INSTITUTE, S_TYPE, S_PREFIX, S_KEY, S_JSON, S_COUNT };

/*
 * A project, institute or study: its fields packed in `mem`, which `f`
 * points into. The public types wrap an entity as their only member, so a
 * pointer to the entity converts to a pointer to its wrapper (C11 6.7.2.1).
 */
typedef struct entity {
    char *mem;
    const char *f[S_COUNT];
    int64_t date;   /* studies only */
    int has_date;
} entity;

typedef struct entity_list {
    entity **items;
    size_t count, alloc;
} entity_list;

struct igtcloud_project { entity e; };
struct igtcloud_institute { entity e; };
struct igtcloud_study { entity e; };
struct igtcloud_project_list { entity_list l; };
struct igtcloud_institute_list { entity_list l; };
struct igtcloud_study_list { entity_list l; };

static int entity_new(entity **out, const char *const *fields, size_t n, int64_t date,
                      int has_date)
{
    entity *e = calloc(1, sizeof(*e));
    if (!e)
        return igtcloud__error_oom();
    e->mem = pack_strings(e->f, fields, n);
    if (!e->mem) {
        free(e);
        return igtcloud__error_oom();
    }
    e->date = date;
    e->has_date = has_date;
    *out = e;
    return 0;
}

static void entity_free(entity *e)
{
    if (!e)
        return;
    free(e->mem);
    free(e);
}

/* A project or an institute. */
static int place_from_json(entity **out, const json_t *obj)
{
    char *text = compact_json(obj);
    if (!text)
        return igtcloud__error_oom();
    const char *fields[P_COUNT] = { str_field(obj, "id"), str_field(obj, "name"),
                                    str_field(obj, "s3Prefix"), str_field(obj, "studyType"),
                                    text };
    int rc = entity_new(out, fields, P_COUNT, 0, 0);
    free(text);
    return rc;
}

static int study_from_json(entity **out, const json_t *obj)
{
    char *text = compact_json(obj);
    if (!text)
        return igtcloud__error_oom();
    const char *institute = str_field(obj, "instituteId");
    if (!*institute)
        institute = str_field(obj, "hospitalId");
    const char *key = igtcloud__layout_study_key(obj);
    time_t date = 0;
    int has_date = igtcloud__layout_study_date(&date, obj) == 0;
    const char *fields[S_COUNT] = { str_field(obj, "studyDatabaseId"),
                                    str_field(obj, "studyIdHumanReadable"),
                                    institute,
                                    str_field(obj, "studyType"),
                                    str_field(obj, "s3Prefix"),
                                    key ? key : "",
                                    text };
    int rc = entity_new(out, fields, S_COUNT, (int64_t)date, has_date);
    free(text);
    return rc;
}

static void entity_list_free(entity_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        entity_free(list->items[i]);
    free(list->items);
    free(list);
}

static const entity *entity_list_at(const entity_list *list, size_t index)
{
    return list && index < list->count ? list->items[index] : NULL;
}

/* What a listing holds: how its errors name it and how an entry is read. */
typedef struct entity_kind {
    const char *what;   /* the call, in error messages */
    const char *noun;   /* one entry, in error messages */
    const char *id;     /* a string member every entry must have, or NULL */
    int (*from_json)(entity **out, const json_t *obj);
} entity_kind;

static const entity_kind projects = { "listing projects", "a project", "id", place_from_json };
static const entity_kind institutes = { "listing institutes", "an institute", "id",
                                        place_from_json };
static const entity_kind studies = { "listing studies", "a study", NULL, study_from_json };

/* Each entry of a listing, in its compact form; the callee owns it. */
typedef int (*entity_fn)(entity *e, void *payload);

typedef struct entity_walk {
    const entity_kind *kind;
    const char *name;    /* keep only the first entry of this name, or NULL */
    int found;
    entity_fn fn;
    void *payload;
} entity_walk;

/* One element of the listing's array, as the stream hands it over. */
static int walk_entry(json_t *item, const char *member, size_t index, void *payload)
{
    entity_walk *w = payload;
    entity *e = NULL;
    (void)member;
    if (w->name && w->found)
        return 0; /* the first of the name is kept; what follows is not looked at */
    if (!json_is_object(item) ||
        (w->kind->id && !json_is_string(json_object_get(item, w->kind->id))))
        return igtcloud__error_set(IGTCLOUD_EPROTO, "%s: entry %zu is not %s", w->kind->what,
                                   index, w->kind->noun);
    if (w->name && strcmp(str_field(item, "name"), w->name) != 0)
        return 0;
    w->found = 1;
    int rc = w->kind->from_json(&e, item);
    return rc ? rc : w->fn(e, w->payload);
}

/*
 * GET the listing at `path`, a JSON array of `kind` entries, and hand each
 * entry (with `name`, only the first entry of that name) to `fn` in its
 * compact form. The answer is parsed as it arrives (json_stream.h): at the
 * peak, memory holds one entry's text and tree besides what `fn` keeps.
 */
static int entity_walk_fetch(igtcloud_session *session, const char *path,
                             const entity_kind *kind, const char *name, entity_fn fn,
                             void *payload)
{
    entity_walk w = { kind, name, 0, fn, payload };
    igtcloud__json_stream stream;
    igtcloud__json_stream_init(&stream, IGTCLOUD__JSON_STREAM_ARRAY, kind->what, walk_entry, &w);
    int rc = igtcloud__catalog_get_stream(session, path, &stream);
    igtcloud__json_stream_dispose(&stream);
    return rc;
}

/* entity_fn keeping every entry in a list. */
static int list_keep(entity *e, void *payload)
{
    entity_list *list = payload;
    if (list->count == list->alloc) {
        size_t n = list->alloc ? list->alloc * 2 : 16;
        entity **grown = realloc(list->items, n * sizeof(*grown));
        if (!grown) {
            entity_free(e);
            return igtcloud__error_oom();
        }
        list->items = grown;
        list->alloc = n;
    }
    list->items[list->count++] = e;
    return 0;
}

/* The listing at `path` as a list (entity_walk_fetch). */
static int entity_list_fetch(entity_list **out, igtcloud_session *session, const char *path,
                             const entity_kind *kind, const char *name)
{
    entity_list *list = calloc(1, sizeof(*list));
    if (!list)
        return igtcloud__error_oom();
    int rc = entity_walk_fetch(session, path, kind, name, list_keep, list);
    if (rc) {
        entity_list_free(list);
        return rc;
    }
    *out = list;
    return 0;
}

/* ---- projects ------------------------------------------------------------ */

void igtcloud_project_free(igtcloud_project *project)
{
    entity_free(project ? &project->e : NULL);
}

int igtcloud_project_dup(igtcloud_project **out, const igtcloud_project *project)
{
    entity *e = NULL;
    if (!out || !project)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no project to copy");
    int rc = entity_new(&e, project->e.f, P_COUNT, 0, 0);
    if (!rc)
        *out = (igtcloud_project *)e;
    return rc;
}

void igtcloud_project_list_free(igtcloud_project_list *list)
{
    entity_list_free(list ? &list->l : NULL);
}

int igtcloud_project_list_fetch(igtcloud_project_list **out, igtcloud_session *session)
{
    entity_list *list = NULL;
    if (!out || !session)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no session");
    int rc = entity_list_fetch(&list, session, "/api/data/projects", &projects, NULL);
    if (!rc)
        *out = (igtcloud_project_list *)list;
    return rc;
}

size_t igtcloud_project_list_count(const igtcloud_project_list *list)
{
    return list ? list->l.count : 0;
}

const igtcloud_project *igtcloud_project_list_at(const igtcloud_project_list *list, size_t index)
{
    return (const igtcloud_project *)entity_list_at(list ? &list->l : NULL, index);
}

int igtcloud_project_find(igtcloud_project **out, igtcloud_session *session, const char *name)
{
    igtcloud_project_list *list = NULL;
    if (!out || !name)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no project name");
    int rc = igtcloud_project_list_fetch(&list, session);
    if (rc)
        return rc;
    rc = igtcloud__error_set(IGTCLOUD_ENOTFOUND, "project '%s' not found", name);
    for (size_t i = 0; i < list->l.count; i++) {
        if (strcmp(list->l.items[i]->f[P_NAME], name) == 0) {
            rc = igtcloud_project_dup(out, igtcloud_project_list_at(list, i));
            break;
        }
    }
    if (!rc)
        igtcloud_error_clear();
    igtcloud_project_list_free(list);
    return rc;
}

const char *igtcloud_project_id(const igtcloud_project *p) { return p ? p->e.f[P_ID] : ""; }
const char *igtcloud_project_name(const igtcloud_project *p) { return p ? p->e.f[P_NAME] : ""; }
const char *igtcloud_project_s3_prefix(const igtcloud_project *p) { return p ? p->e.f[P_PREFIX] : ""; }
const char *igtcloud_project_study_type(const igtcloud_project *p) { return p ? p->e.f[P_TYPE] : ""; }
const char *igtcloud_project_json(const igtcloud_project *p) { return p ? p->e.f[P_JSON] : "{}"; }

/* ---- institutes ---------------------------------------------------------- */

void igtcloud_institute_list_free(igtcloud_institute_list *list)
{
    entity_list_free(list ? &list->l : NULL);
}

int igtcloud_institute_list_fetch(igtcloud_institute_list **out, igtcloud_session *session,
                                  const igtcloud_project *project, const char *name)
{
    entity_list *list = NULL;
    igtcloud__buf path = IGTCLOUD_BUF_INIT;
    int rc;
    const char *only = !name || strcmp(name, "*") == 0 ? NULL : name;
    if (!out || !session || !project)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no session or project");
    if ((rc = igtcloud__buf_puts(&path, "/api/data/projects/")) ||
        (rc = igtcloud__catalog_put_segment(&path, project->e.f[P_ID])) ||
        (rc = igtcloud__buf_puts(&path, "/hospitals")) ||
        (rc = entity_list_fetch(&list, session, path.ptr, &institutes, only)))
        goto done;
    if (only && list->count == 0) {
        rc = igtcloud__error_set(IGTCLOUD_ENOTFOUND, "institute '%s' not found in project '%s'",
                                 name, project->e.f[P_NAME]);
        goto done;
    }
    *out = (igtcloud_institute_list *)list;
    list = NULL;
done:
    entity_list_free(list);
    igtcloud__buf_dispose(&path);
    return rc;
}

size_t igtcloud_institute_list_count(const igtcloud_institute_list *list)
{
    return list ? list->l.count : 0;
}

const igtcloud_institute *igtcloud_institute_list_at(const igtcloud_institute_list *list,
                                                     size_t index)
{
    return (const igtcloud_institute *)entity_list_at(list ? &list->l : NULL, index);
}

const char *igtcloud_institute_id(const igtcloud_institute *i) { return i ? i->e.f[P_ID] : ""; }
const char *igtcloud_institute_name(const igtcloud_institute *i) { return i ? i->e.f[P_NAME] : ""; }
const char *igtcloud_institute_s3_prefix(const igtcloud_institute *i) { return i ? i->e.f[P_PREFIX] : ""; }
const char *igtcloud_institute_study_type(const igtcloud_institute *i) { return i ? i->e.f[P_TYPE] : ""; }
const char *igtcloud_institute_json(const igtcloud_institute *i) { return i ? i->e.f[P_JSON] : "{}"; }

/* ---- studies ------------------------------------------------------------- */

void igtcloud_study_free(igtcloud_study *study)
{
    entity_free(study ? &study->e : NULL);
}

int igtcloud_study_dup(igtcloud_study **out, const igtcloud_study *study)
{
    entity *e = NULL;
    if (!out || !study)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no study to copy");
    int rc = entity_new(&e, study->e.f, S_COUNT, study->e.date, study->e.has_date);
    if (!rc)
        *out = (igtcloud_study *)e;
    return rc;
}

int igtcloud_study_from_json(igtcloud_study **out, const char *json, size_t len)
{
    json_error_t jerr;
    entity *e = NULL;
    if (!out || !json)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no study text");
    json_t *obj = json_loadb(json, len, 0, &jerr);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return igtcloud__error_set(IGTCLOUD_EPROTO, "the study is not a JSON object%s%s",
                                   obj ? "" : ": ", obj ? "" : jerr.text);
    }
    int rc = study_from_json(&e, obj);
    if (!rc)
        *out = (igtcloud_study *)e;
    json_decref(obj);
    return rc;
}

void igtcloud_study_list_free(igtcloud_study_list *list)
{
    entity_list_free(list ? &list->l : NULL);
}

/* The path of an institute's studies. */
static int studies_path(igtcloud__buf *path, const char *institute_id)
{
    int rc;
    if ((rc = igtcloud__buf_puts(path, "/api/data/hospitals/")) ||
        (rc = igtcloud__catalog_put_segment(path, institute_id)) ||
        (rc = igtcloud__buf_puts(path, "/studies")))
        return rc;
    return 0;
}

int igtcloud_study_list_fetch(igtcloud_study_list **out, igtcloud_session *session,
                              const char *institute_id)
{
    entity_list *list = NULL;
    igtcloud__buf path = IGTCLOUD_BUF_INIT;
    int rc;
    if (!out || !session || !institute_id)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no session or institute");
    if ((rc = studies_path(&path, institute_id)) ||
        (rc = entity_list_fetch(&list, session, path.ptr, &studies, NULL)))
        goto done;
    *out = (igtcloud_study_list *)list;
done:
    igtcloud__buf_dispose(&path);
    return rc;
}

typedef struct study_walk {
    igtcloud__study_fn fn;
    void *payload;
} study_walk;

static int study_hand_over(entity *e, void *payload)
{
    study_walk *w = payload;
    return w->fn((igtcloud_study *)e, w->payload);
}

int igtcloud__study_walk_fetch(igtcloud_session *session, const char *institute_id,
                               igtcloud__study_fn fn, void *payload)
{
    igtcloud__buf path = IGTCLOUD_BUF_INIT;
    study_walk w = { fn, payload };
    if (!session || !institute_id)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no session or institute");
    int rc = studies_path(&path, institute_id);
    if (!rc)
        rc = entity_walk_fetch(session, path.ptr, &studies, NULL, study_hand_over, &w);
    igtcloud__buf_dispose(&path);
    return rc;
}

/*
 * A study as a record of bytes: its date (8 bytes, this machine's order),
 * whether it has one (1 byte), then its fields, each NUL-terminated, in
 * S_* order. Records live in the process's own temporary files only.
 */
#define RECORD_HEAD 9

int igtcloud__study_pack(igtcloud__buf *out, const igtcloud_study *study)
{
    unsigned char head[RECORD_HEAD];
    int64_t date = study->e.date;
    memcpy(head, &date, sizeof(date));
    head[8] = study->e.has_date ? 1 : 0;
    int rc = igtcloud__buf_put(out, head, sizeof(head));
    for (size_t i = 0; !rc && i < S_COUNT; i++)
        rc = igtcloud__buf_put(out, study->e.f[i], strlen(study->e.f[i]) + 1);
    return rc;
}

int igtcloud__study_unpack(igtcloud_study **out, const char *data, size_t len)
{
    const char *fields[S_COUNT];
    int64_t date;
    size_t at = RECORD_HEAD;
    if (len < RECORD_HEAD)
        goto corrupt;
    memcpy(&date, data, sizeof(date));
    for (size_t i = 0; i < S_COUNT; i++) {
        const char *end = at < len ? memchr(data + at, '\0', len - at) : NULL;
        if (!end)
            goto corrupt;
        fields[i] = data + at;
        at = (size_t)(end - data) + 1;
    }
    if (at != len)
        goto corrupt;
    entity *e = NULL;
    int rc = entity_new(&e, fields, S_COUNT, date, data[8] != 0);
    if (!rc)
        *out = (igtcloud_study *)e;
    return rc;
corrupt:
    return igtcloud__error_set(IGTCLOUD_EIO, "a study read back from its temporary file is "
                               "damaged (%zu bytes)", len);
}

size_t igtcloud_study_list_count(const igtcloud_study_list *list)
{
    return list ? list->l.count : 0;
}

const igtcloud_study *igtcloud_study_list_at(const igtcloud_study_list *list, size_t index)
{
    return (const igtcloud_study *)entity_list_at(list ? &list->l : NULL, index);
}

const igtcloud_study *igtcloud_study_list_find_key(const igtcloud_study_list *list,
                                                    const char *key)
{
    for (size_t i = 0; list && key && i < list->l.count; i++) {
        if (strcmp(list->l.items[i]->f[S_KEY], key) == 0)
            return igtcloud_study_list_at(list, i);
    }
    return NULL;
}

const char *igtcloud_study_id(const igtcloud_study *s) { return s ? s->e.f[S_ID] : ""; }
const char *igtcloud_study_human_id(const igtcloud_study *s) { return s ? s->e.f[S_HUMAN] : ""; }
const char *igtcloud_study_institute_id(const igtcloud_study *s) { return s ? s->e.f[S_INSTITUTE] : ""; }
const char *igtcloud_study_type(const igtcloud_study *s) { return s ? s->e.f[S_TYPE] : ""; }
const char *igtcloud_study_s3_prefix(const igtcloud_study *s) { return s ? s->e.f[S_PREFIX] : ""; }
const char *igtcloud_study_key(const igtcloud_study *s) { return s ? s->e.f[S_KEY] : ""; }
const char *igtcloud_study_json(const igtcloud_study *s) { return s ? s->e.f[S_JSON] : "{}"; }

int igtcloud_study_date(int64_t *out, const igtcloud_study *study)
{
    if (!study || !study->e.has_date)
        return IGTCLOUD_ENOTFOUND;
    *out = study->e.date;
    return 0;
}

int igtcloud__study_parse(json_t **out, const igtcloud_study *study)
{
    json_error_t jerr;
    json_t *obj = json_loads(study->e.f[S_JSON], 0, &jerr);
    if (!obj)
        return igtcloud__error_set(IGTCLOUD_ENOMEM, "cannot parse a study back: %s", jerr.text);
    *out = obj;
    return 0;
}

int igtcloud_study_folder(char *out, size_t size, const igtcloud_study *study, int hierarchical)
{
    igtcloud__buf folder = IGTCLOUD_BUF_INIT;
    json_t *obj = NULL;
    int rc;
    if (!out || !size || !study)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no study or buffer");
    obj = json_pack("{s:s, s:s}", "studyIdHumanReadable", study->e.f[S_HUMAN], "studyDatabaseId",
                    study->e.f[S_ID]);
    if (!obj) {
        rc = igtcloud__error_oom();
        goto done;
    }
    rc = igtcloud__layout_study_folder(&folder, obj, hierarchical);
    if (rc) {
        rc = IGTCLOUD_EINVALID;
        goto done;
    }
    if (folder.size >= size) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "study folder of %s is too long", study->e.f[S_ID]);
        goto done;
    }
    memcpy(out, folder.ptr, folder.size + 1);
done:
    json_decref(obj);
    igtcloud__buf_dispose(&folder);
    return rc;
}

/* ---- files --------------------------------------------------------------- */

typedef struct file_entry {
    igtcloud_category category;
    int64_t size;
    int completed, is_new;
    size_t key, name, type, upload_id;   /* offsets into the list's arena */
} file_entry;

struct igtcloud_file_list {
    file_entry *items;
    size_t count, alloc;
    igtcloud__buf arena;
};

void igtcloud_file_list_free(igtcloud_file_list *list)
{
    if (!list)
        return;
    free(list->items);
    igtcloud__buf_dispose(&list->arena);
    free(list);
}

static int arena_put(size_t *off, igtcloud__buf *arena, const char *s)
{
    *off = arena->size;
    return igtcloud__buf_put(arena, s, strlen(s) + 1);
}

/* Read one File object, entry `index` of its category's array; the strings are f's. */
static int file_info_of(igtcloud_file_info *out, const json_t *f, igtcloud_category category,
                        size_t index, const char *what)
{
    const char *key = json_string_value(json_object_get(f, "key"));
    const char *name = json_string_value(json_object_get(f, "fileName"));
    if (!json_is_object(f) || !key || !name)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "%s: entry %zu has no key or fileName", what,
                                   index);
    json_t *size = json_object_get(f, "fileSize");
    out->category = category;
    out->key = key;
    out->name = name;
    out->type = str_field(f, "type");
    out->size = json_is_integer(size) ? (int64_t)json_integer_value(size) : -1;
    out->completed = json_is_true(json_object_get(f, "isCompleted"));
    out->is_new = json_is_true(json_object_get(f, "isNew"));
    out->upload_id = str_field(f, "uploadId");
    return 0;
}

/* Append one file to the list. */
static int add_file(igtcloud_file_list *list, const igtcloud_file_info *f)
{
    if (list->count == list->alloc) {
        size_t n = list->alloc ? list->alloc * 2 : 64;
        file_entry *grown = realloc(list->items, n * sizeof(*grown));
        if (!grown)
            return igtcloud__error_oom();
        list->items = grown;
        list->alloc = n;
    }
    file_entry *e = &list->items[list->count];
    e->category = f->category;
    e->size = f->size;
    e->completed = f->completed;
    e->is_new = f->is_new;
    int rc;
    if ((rc = arena_put(&e->key, &list->arena, f->key)) ||
        (rc = arena_put(&e->name, &list->arena, f->name)) ||
        (rc = arena_put(&e->type, &list->arena, f->type)) ||
        (rc = arena_put(&e->upload_id, &list->arena, f->upload_id)))
        return rc;
    list->count++;
    return 0;
}

/* One answer of a files endpoint being read: which members are wanted. */
typedef struct files_walk {
    igtcloud_file_list *list;             /* where the files go, or NULL: */
    igtcloud__file_fn fn;                 /* ... handed over one at a time */
    void *payload;
    const char *const *members;
    const igtcloud_category *categories;  /* 0: the member is not wanted */
    size_t n;
    const char *what;
    unsigned int seen;                    /* bit i: members[i] was named */
} files_walk;

static int wanted_member(const files_walk *w, const char *member)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->categories[i] && strcmp(w->members[i], member) == 0)
            return (int)i;
    return -1;
}

/* A member's name: a wanted one named twice is refused (the whole parse would keep the last). */
static int files_member(const char *member, void *payload)
{
    files_walk *w = payload;
    int i = wanted_member(w, member);
    if (i < 0)
        return 0;
    if (w->seen & (1u << i))
        return igtcloud__error_set(IGTCLOUD_EPROTO, "%s: '%s' is named twice", w->what, member);
    w->seen |= 1u << i;
    return 0;
}

static int files_value(json_t *value, const char *member, size_t index, void *payload)
{
    files_walk *w = payload;
    int i = wanted_member(w, member);
    if (i < 0)
        return 0;
    if (index == IGTCLOUD__JSON_STREAM_WHOLE)
        return igtcloud__error_set(IGTCLOUD_EPROTO, "%s: '%s' is not an array", w->what,
                                   igtcloud_category_name(w->categories[i]));
    igtcloud_file_info f;
    int rc = file_info_of(&f, value, w->categories[i], index, w->what);
    if (rc)
        return rc;
    return w->list ? add_file(w->list, &f) : w->fn(&f, w->payload);
}

static size_t member_rank(igtcloud_category category, const igtcloud_category *cats, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cats[i] == category)
            return i;
    return n;
}

/*
 * Put entries [first, count) in the order of the members asked for (dicom
 * before annotations), keeping the API's order within each member: the
 * order of the listing when its members were looked up one by one in the
 * parsed answer, whatever order the answer names them in.
 */
static int order_by_member(igtcloud_file_list *list, size_t first, const igtcloud_category *cats,
                           size_t n)
{
    size_t count = list->count - first, k = 0;
    int sorted = 1;
    for (size_t i = first + 1; i < list->count && sorted; i++)
        sorted = member_rank(list->items[i - 1].category, cats, n) <=
                 member_rank(list->items[i].category, cats, n);
    if (sorted)
        return 0;
    file_entry *copy = malloc(count * sizeof(*copy));
    if (!copy)
        return igtcloud__error_oom();
    memcpy(copy, list->items + first, count * sizeof(*copy));
    for (size_t m = 0; m < n; m++)
        for (size_t i = 0; i < count; i++)
            if (member_rank(copy[i].category, cats, n) == m)
                list->items[first + k++] = copy[i];
    free(copy);
    return 0;
}

/* Where a listing's files go: into a list, or to fn one at a time. */
typedef struct files_sink {
    igtcloud_file_list *list;
    igtcloud__file_fn fn;
    void *payload;
} files_sink;

static int fetch_files(const files_sink *sink, igtcloud_session *session, const char *path,
                       const char *const *members, const igtcloud_category *categories,
                       size_t n, const char *what)
{
    files_walk w = { sink->list, sink->fn, sink->payload, members, categories, n, what, 0 };
    igtcloud__json_stream stream;
    size_t first = sink->list ? sink->list->count : 0;
    igtcloud__json_stream_init(&stream, IGTCLOUD__JSON_STREAM_OBJECT, what, files_value, &w);
    stream.member_fn = files_member;
    int rc = igtcloud__catalog_get_stream(session, path, &stream);
    igtcloud__json_stream_dispose(&stream);
    if (!rc && sink->list)
        rc = order_by_member(sink->list, first, categories, n);
    return rc;
}

static int walk_study(const files_sink *sink, igtcloud_session *session,
                      const igtcloud_study *study, unsigned int categories)
{
    igtcloud__buf path = IGTCLOUD_BUF_INIT;
    int rc = 0;
    if ((rc = igtcloud__buf_puts(&path, "/api/data/hospitals/")) ||
        (rc = igtcloud__catalog_put_segment(&path, study->e.f[S_INSTITUTE])) ||
        (rc = igtcloud__buf_puts(&path, "/studies/")) ||
        (rc = igtcloud__catalog_put_segment(&path, study->e.f[S_ID])) ||
        (rc = igtcloud__buf_puts(&path, "/files")))
        goto done;
    if (categories & IGTCLOUD_CATEGORY_FILES) {
        const char *members[] = { "files" };
        const igtcloud_category cats[] = { IGTCLOUD_CATEGORY_FILES };
        if ((rc = fetch_files(sink, session, path.ptr, members, cats, 1, "listing study files")))
            goto done;
    }
    if (categories & (IGTCLOUD_CATEGORY_DICOM | IGTCLOUD_CATEGORY_ANNOTATIONS)) {
        const char *members[] = { "dicom", "annotations" };
        const igtcloud_category cats[] = {
            (categories & IGTCLOUD_CATEGORY_DICOM) ? IGTCLOUD_CATEGORY_DICOM : 0,
            (categories & IGTCLOUD_CATEGORY_ANNOTATIONS) ? IGTCLOUD_CATEGORY_ANNOTATIONS : 0
        };
        if ((rc = igtcloud__buf_puts(&path, "?auxiliary=True")) ||
            (rc = fetch_files(sink, session, path.ptr, members, cats, 2,
                              "listing DICOM and annotations")))
            goto done;
    }
done:
    igtcloud__buf_dispose(&path);
    return rc;
}

static int walk_project(const files_sink *sink, igtcloud_session *session,
                        const igtcloud_project *project)
{
    igtcloud__buf path = IGTCLOUD_BUF_INIT;
    const char *members[] = { "files" };
    const igtcloud_category cats[] = { IGTCLOUD_CATEGORY_PROJECT };
    int rc;
    if (!(rc = igtcloud__buf_puts(&path, "/api/data/projects/")) &&
        !(rc = igtcloud__catalog_put_segment(&path, project->e.f[P_ID])) &&
        !(rc = igtcloud__buf_puts(&path, "/files")))
        rc = fetch_files(sink, session, path.ptr, members, cats, 1, "listing project files");
    igtcloud__buf_dispose(&path);
    return rc;
}

int igtcloud_file_list_fetch_study(igtcloud_file_list **out, igtcloud_session *session,
                                   const igtcloud_study *study, unsigned int categories)
{
    if (!out || !session || !study || !(categories & IGTCLOUD_CATEGORY_ALL_STUDY))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no session, study or category");
    files_sink sink = { calloc(1, sizeof(igtcloud_file_list)), NULL, NULL };
    if (!sink.list)
        return igtcloud__error_oom();
    int rc = walk_study(&sink, session, study, categories);
    if (rc)
        igtcloud_file_list_free(sink.list);
    else
        *out = sink.list;
    return rc;
}

int igtcloud_file_list_fetch_project(igtcloud_file_list **out, igtcloud_session *session,
                                     const igtcloud_project *project)
{
    if (!out || !session || !project)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no session or project");
    files_sink sink = { calloc(1, sizeof(igtcloud_file_list)), NULL, NULL };
    if (!sink.list)
        return igtcloud__error_oom();
    int rc = walk_project(&sink, session, project);
    if (rc)
        igtcloud_file_list_free(sink.list);
    else
        *out = sink.list;
    return rc;
}

int igtcloud__file_walk_study(igtcloud_session *session, const igtcloud_study *study,
                              unsigned int categories, igtcloud__file_fn fn, void *payload)
{
    if (!session || !study || !fn || !(categories & IGTCLOUD_CATEGORY_ALL_STUDY))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no session, study or category");
    files_sink sink = { NULL, fn, payload };
    return walk_study(&sink, session, study, categories);
}

int igtcloud__file_walk_project(igtcloud_session *session, const igtcloud_project *project,
                                igtcloud__file_fn fn, void *payload)
{
    if (!session || !project || !fn)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no session or project");
    files_sink sink = { NULL, fn, payload };
    return walk_project(&sink, session, project);
}

size_t igtcloud_file_list_count(const igtcloud_file_list *list)
{
    return list ? list->count : 0;
}

int igtcloud_file_list_at(igtcloud_file_info *out, const igtcloud_file_list *list, size_t index)
{
    if (!out || !list || index >= list->count)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "file index %zu out of range", index);
    const file_entry *e = &list->items[index];
    const char *base = list->arena.ptr;
    out->category = e->category;
    out->key = base + e->key;
    out->name = base + e->name;
    out->type = base + e->type;
    out->size = e->size;
    out->completed = e->completed;
    out->is_new = e->is_new;
    out->upload_id = base + e->upload_id;
    return 0;
}
