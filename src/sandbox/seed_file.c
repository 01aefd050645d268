/*
 * Seed documents (docs/sandbox-seed.md): validation, kept apart from the
 * store and the disk so that fuzzing it is harmless, then application.
 */
#include "seed.h"
#include "seed_gen.h"
#include "data_model.h"
#include "data_store.h"
#include "objects.h"
#include "store.h"
#include "users.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Bounds that keep a typo from asking for a petabyte. */
#define MAX_GEN_STUDIES 1000000
#define MAX_GEN_FILES_PER_STUDY 100000
#define MAX_TOTAL_FILES 10000000LL
#define MAX_FILE_SIZE (4LL << 30)
#define MAX_NAME 127
/* Names of an "unchecked" (test fixture) document: long enough to exceed NAME_MAX. */
#define MAX_UNCHECKED_NAME 4096

typedef struct check {
    char *msg;
    size_t msg_size;
    long long files;          /* files the document will create */
    json_t *logins;           /* object: login -> true */
    json_t *ids;              /* object: project/institute id -> true */
    json_t *prefixes;         /* array of given prefixes */
    int unchecked;            /* "unchecked": true: hostile names allowed (tests only) */
} check;

__attribute__((format(printf, 3, 4)))
static int fail(check *c, const char *where, const char *fmt, ...)
{
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    snprintf(c->msg, c->msg_size, "%s%s%s", where, *where ? ": " : "", text);
    return -1;
}

/* Only these keys may appear in `obj` (typos in seed metadata are errors). */
static int only_keys(check *c, const char *where, const json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
        int ok = 0;
        for (int i = 0; allowed[i] && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok)
            return fail(c, where, "unknown field '%s'", key);
    }
    return 0;
}

/* An optional string field; when `required`, it must be present and non-empty. */
static int string_field(check *c, const char *where, const json_t *obj, const char *name,
                        int required, size_t max_len)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) {
        if (required)
            return fail(c, where, "field '%s' is required", name);
        return 0;
    }
    if (!json_is_string(v) || (required && json_string_length(v) == 0))
        return fail(c, where, "field '%s' must be a%s string", name, required ? " non-empty" : "");
    if (max_len && json_string_length(v) > max_len)
        return fail(c, where, "field '%s' is longer than %zu bytes", name, max_len);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return fail(c, where, "field '%s' contains a NUL character", name);
    return 0;
}

static int int_field(check *c, const char *where, const json_t *obj, const char *name,
                     long long min, long long max, long long *out)
{
    json_t *v = json_object_get(obj, name);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return fail(c, where, "field '%s' must be an integer from %lld to %lld", name, min, max);
    if (out)
        *out = json_integer_value(v);
    return 0;
}

static int array_field(check *c, const char *where, const json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    if (v && !json_is_array(v))
        return fail(c, where, "field '%s' must be an array", name);
    return 0;
}

/* Ids name rows and appear in URLs: keep them to a safe alphabet. */
static int id_field(check *c, const char *where, const json_t *obj)
{
    if (string_field(c, where, obj, "id", 0, MAX_NAME))
        return -1;
    const char *id = json_string_value(json_object_get(obj, "id"));
    if (!id)
        return 0;
    if (!*id || strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
                    strlen(id) || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return fail(c, where, "field 'id' may hold only letters, digits, '-', '_' and '.'");
    if (json_object_get(c->ids, id))
        return fail(c, where, "id '%s' is used twice", id);
    return json_object_set_new(c->ids, id, json_true());
}

/* A given s3Prefix must be valid and neither contain nor sit inside another. */
static int prefix_field(check *c, const char *where, const json_t *obj)
{
    if (string_field(c, where, obj, "s3Prefix", 0, 1000))
        return -1;
    const char *prefix = json_string_value(json_object_get(obj, "s3Prefix"));
    if (!prefix)
        return 0;
    const char *problem = sandbox_object_prefix_problem(prefix);
    if (problem)
        return fail(c, where, "field 's3Prefix': %s", problem);
    size_t i;
    json_t *other;
    json_array_foreach(c->prefixes, i, other) {
        const char *o = json_string_value(other);
        size_t n = strlen(o) < strlen(prefix) ? strlen(o) : strlen(prefix);
        if (strncmp(o, prefix, n) == 0)
            return fail(c, where, "s3Prefix '%s' overlaps '%s'", prefix, o);
    }
    return json_array_append_new(c->prefixes, json_string(prefix));
}

/*
 * The name of a project or institute: non-empty, at most 200 bytes; an
 * "unchecked" document may give any string without NUL (empty, very long,
 * with '/', "..", control characters) to plant what the real cloud could send.
 */
static int entity_name_field(check *c, const char *where, const json_t *obj)
{
    if (c->unchecked)
        return string_field(c, where, obj, "name", 0, MAX_UNCHECKED_NAME) ? -1
               : json_is_string(json_object_get(obj, "name"))
                   ? 0
                   : fail(c, where, "field 'name' is required");
    return string_field(c, where, obj, "name", 1, 200);
}

static int study_type_field(check *c, const char *where, const json_t *obj)
{
    json_t *v = json_object_get(obj, "studyType");
    if (v && !(json_is_string(v) && sandbox_study_type_known(json_string_value(v))))
        return fail(c, where, "field 'studyType' must be one of the study types (Study, "
                              "BaseStudy, AnnotationStudy, ...)");
    return 0;
}

/* A listed file: {"name", "size" | "content", "category", "completed", "seed"}. */
static int check_files(check *c, const char *where, const json_t *owner, int study)
{
    static const char *const allowed[] = { "name", "size", "content", "category", "completed",
                                           "seed", NULL };
    static const char *const allowed_unchecked[] = { "name", "size", "content", "category",
                                                     "completed", "seed", "fileName", NULL };
    char here[160];
    json_t *files = json_object_get(owner, "files");
    json_t *seen = NULL;
    size_t i;
    json_t *f;
    int rc = -1;
    if (array_field(c, where, owner, "files"))
        return -1;
    seen = json_object();
    if (!seen)
        return fail(c, where, "out of memory");
    json_array_foreach(files, i, f) {
        snprintf(here, sizeof(here), "%.100s.files[%zu]", where, i);
        if (!json_is_object(f)) {
            fail(c, here, "a file must be an object");
            goto done;
        }
        if (only_keys(c, here, f, c->unchecked ? allowed_unchecked : allowed) ||
            string_field(c, here, f, "name", 1, 900) ||
            string_field(c, here, f, "fileName", 0, MAX_UNCHECKED_NAME) ||
            string_field(c, here, f, "content", 0, 0) ||
            int_field(c, here, f, "size", 0, MAX_FILE_SIZE, NULL) ||
            int_field(c, here, f, "seed", 0, INT64_MAX, NULL))
            goto done;
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *problem = sandbox_object_key_problem(name);
        if (problem) {
            fail(c, here, "field 'name': %s", problem);
            goto done;
        }
        int has_size = json_object_get(f, "size") != NULL;
        int has_content = json_object_get(f, "content") != NULL;
        if (has_size == has_content) {
            fail(c, here, "give exactly one of 'size' and 'content'");
            goto done;
        }
        json_t *completed = json_object_get(f, "completed");
        if (completed && !json_is_boolean(completed)) {
            fail(c, here, "field 'completed' must be a boolean");
            goto done;
        }
        json_t *category = json_object_get(f, "category");
        if (category && (!study || !json_is_string(category) ||
                         sandbox_category_parse(json_string_value(category)) ==
                             SANDBOX_CATEGORY_NONE)) {
            fail(c, here, study ? "field 'category' must be files, dicom or annotations"
                                : "project files have no 'category'");
            goto done;
        }
        char key[1024];
        snprintf(key, sizeof(key), "%s/%s", category ? json_string_value(category) : "", name);
        if (json_object_get(seen, key)) {
            fail(c, here, "file '%s' is listed twice", name);
            goto done;
        }
        if (json_object_set_new(seen, key, json_true()))
            goto done;
        c->files++;
    }
    rc = 0;
done:
    json_decref(seen);
    return rc;
}

static int check_generate(check *c, const char *where, const json_t *inst)
{
    static const char *const allowed[] = { "studies", "filesPerStudy", "fileSize", "seed",
                                           "category", "extension", NULL };
    char here[160];
    json_t *g = json_object_get(inst, "generate");
    long long studies = 0, per = 0;
    if (!g)
        return 0;
    snprintf(here, sizeof(here), "%.100s.generate", where);
    if (!json_is_object(g))
        return fail(c, here, "must be an object");
    if (only_keys(c, here, g, allowed) ||
        int_field(c, here, g, "studies", 0, MAX_GEN_STUDIES, &studies) ||
        int_field(c, here, g, "filesPerStudy", 0, MAX_GEN_FILES_PER_STUDY, &per) ||
        int_field(c, here, g, "fileSize", 0, MAX_FILE_SIZE, NULL) ||
        int_field(c, here, g, "seed", 0, INT64_MAX, NULL) ||
        string_field(c, here, g, "category", 0, 0) || string_field(c, here, g, "extension", 0, 16))
        return -1;
    if (!json_object_get(g, "studies"))
        return fail(c, here, "field 'studies' is required");
    const char *category = json_string_value(json_object_get(g, "category"));
    if (category && sandbox_category_parse(category) == SANDBOX_CATEGORY_NONE)
        return fail(c, here, "field 'category' must be files, dicom or annotations");
    const char *ext = json_string_value(json_object_get(g, "extension"));
    if (ext && (ext[0] != '.' || strspn(ext + 1, "abcdefghijklmnopqrstuvwxyz"
                                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") !=
                                     strlen(ext) - 1))
        return fail(c, here, "field 'extension' must be '.' followed by letters and digits");
    c->files += studies * per;
    return 0;
}

static int check_institute(check *c, const char *where, json_t *inst, const char *project_type,
                           json_t *names)
{
    char here[160];
    if (!json_is_object(inst))
        return fail(c, where, "an institute must be an object");
    if (entity_name_field(c, where, inst) || id_field(c, where, inst) ||
        prefix_field(c, where, inst) || study_type_field(c, where, inst) ||
        array_field(c, where, inst, "studies"))
        return -1;
    const char *name = json_string_value(json_object_get(inst, "name"));
    if (json_object_get(names, name))
        return fail(c, where, "institute name '%s' is used twice in the project", name);
    if (json_object_set_new(names, name, json_true()))
        return -1;
    const char *type = json_string_value(json_object_get(inst, "studyType"));
    if (!type)
        type = project_type;
    size_t i;
    json_t *study;
    json_array_foreach(json_object_get(inst, "studies"), i, study) {
        char msg[300];
        snprintf(here, sizeof(here), "%.100s.studies[%zu]", where, i);
        if (!json_is_object(study))
            return fail(c, here, "a study must be an object");
        /* A study without a type takes its institute's. */
        if (!json_object_get(study, "studyType") &&
            json_object_set_new(study, "studyType", json_string(type)))
            return -1;
        if (sandbox_study_check(study, msg, sizeof(msg)))
            return fail(c, here, "%s", msg);
        if (json_object_get(study, "instituteId"))
            return fail(c, here, "field 'instituteId' is assigned by the seeder");
        if (json_object_get(study, "studyIdHumanReadable") && !c->unchecked)
            return fail(c, here, "field 'studyIdHumanReadable' is assigned by the seeder (an "
                                 "\"unchecked\" document may set it)");
        if (string_field(c, here, study, "studyIdHumanReadable", 0, MAX_UNCHECKED_NAME))
            return -1;
        if (check_files(c, here, study, 1))
            return -1;
    }
    return check_generate(c, where, inst);
}

static int check_project(check *c, const char *where, json_t *project, json_t *names)
{
    char here[160];
    if (!json_is_object(project))
        return fail(c, where, "a project must be an object");
    if (entity_name_field(c, where, project) || id_field(c, where, project) ||
        prefix_field(c, where, project) || study_type_field(c, where, project) ||
        array_field(c, where, project, "members") || array_field(c, where, project, "institutes"))
        return -1;
    const char *name = json_string_value(json_object_get(project, "name"));
    if (json_object_get(names, name))
        return fail(c, where, "project name '%s' is used twice", name);
    if (json_object_set_new(names, name, json_true()))
        return -1;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(project, "members"), i, m) {
        snprintf(here, sizeof(here), "%.100s.members[%zu]", where, i);
        const char *login = json_string_value(m);
        if (json_is_object(m)) {
            static const char *const allowed[] = { "login", "role", NULL };
            if (only_keys(c, here, m, allowed) || string_field(c, here, m, "login", 1, MAX_NAME) ||
                string_field(c, here, m, "role", 0, MAX_NAME))
                return -1;
            login = json_string_value(json_object_get(m, "login"));
        }
        if (!login)
            return fail(c, here, "a member is a login or {\"login\", \"role\"}");
        if (!json_object_get(c->logins, login))
            return fail(c, here, "'%s' is not one of the document's users", login);
    }
    if (check_files(c, where, project, 0))
        return -1;
    const char *type = json_string_value(json_object_get(project, "studyType"));
    json_t *inst_names = json_object();
    if (!inst_names)
        return -1;
    json_t *inst;
    int rc = 0;
    json_array_foreach(json_object_get(project, "institutes"), i, inst) {
        snprintf(here, sizeof(here), "%.100s.institutes[%zu]", where, i);
        rc = check_institute(c, here, inst, type ? type : "Study", inst_names);
        if (rc)
            break;
    }
    json_decref(inst_names);
    return rc;
}

static int check_document(check *c, json_t *doc)
{
    static const char *const allowed[] = { "seed", "users", "projects", "unchecked", NULL };
    char here[64];
    if (!json_is_object(doc))
        return fail(c, "", "the document must be a JSON object");
    json_t *unchecked = json_object_get(doc, "unchecked");
    if (unchecked && !json_is_boolean(unchecked))
        return fail(c, "", "field 'unchecked' must be a boolean");
    c->unchecked = json_is_true(unchecked);
    if (only_keys(c, "", doc, allowed) || int_field(c, "", doc, "seed", 0, INT64_MAX, NULL) ||
        array_field(c, "", doc, "users") || array_field(c, "", doc, "projects"))
        return -1;
    size_t i;
    json_t *u, *p;
    json_array_foreach(json_object_get(doc, "users"), i, u) {
        static const char *const user_keys[] = { "login", "password", "email", NULL };
        snprintf(here, sizeof(here), "users[%zu]", i);
        if (!json_is_object(u))
            return fail(c, here, "a user must be an object");
        if (only_keys(c, here, u, user_keys) || string_field(c, here, u, "login", 1, MAX_NAME) ||
            string_field(c, here, u, "password", 1, 1024) ||
            string_field(c, here, u, "email", 0, 254))
            return -1;
        const char *login = json_string_value(json_object_get(u, "login"));
        if (json_object_get(c->logins, login))
            return fail(c, here, "login '%s' is used twice", login);
        if (json_object_set_new(c->logins, login, json_true()))
            return -1;
    }
    json_t *names = json_object();
    if (!names)
        return -1;
    int rc = 0;
    json_array_foreach(json_object_get(doc, "projects"), i, p) {
        snprintf(here, sizeof(here), "projects[%zu]", i);
        rc = check_project(c, here, p, names);
        if (rc)
            break;
    }
    json_decref(names);
    if (rc == 0 && c->files > MAX_TOTAL_FILES)
        return fail(c, "", "the document describes %lld files; at most %lld are allowed",
                    c->files, MAX_TOTAL_FILES);
    return rc;
}

int sandbox_seed_parse(json_t **out, const char *text, size_t len, char *msg, size_t msg_size)
{
    json_error_t error;
    check c;
    memset(&c, 0, sizeof(c));
    c.msg = msg;
    c.msg_size = msg_size;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
    if (!doc) {
        snprintf(msg, msg_size, "malformed JSON at line %d column %d: %s", error.line,
                 error.column, error.text);
        return -1;
    }
    c.logins = json_object();
    c.ids = json_object();
    c.prefixes = json_array();
    int rc = c.logins && c.ids && c.prefixes ? check_document(&c, doc)
                                             : fail(&c, "", "out of memory");
    json_decref(c.logins);
    json_decref(c.ids);
    json_decref(c.prefixes);
    if (rc) {
        json_decref(doc);
        return -1;
    }
    *out = doc;
    return 0;
}

/* ---- application ------------------------------------------------------ */

typedef struct apply {
    sandbox *sb;
    char *msg;
    size_t msg_size;
    uint64_t seed;            /* the document's default content seed */
    sqlite3_stmt *put;        /* cached file-row statement */
    unsigned char *chunk;     /* generator buffer */
} apply;

#define CHUNK (1u << 20)

__attribute__((format(printf, 2, 3)))
static int apply_fail(apply *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->msg, a->msg_size, fmt, ap);
    va_end(ap);
    return -1;
}

/* Write one object: inline text, or `size` generated bytes named by `path`. */
static int write_object(apply *a, const char *key, const char *content, long long size,
                        uint64_t seed, const char *path)
{
    sandbox_object_writer w;
    if (sandbox_object_writer_open(&w, a->sb->data_dir, key))
        return apply_fail(a, "cannot create object '%s'", key);
    if (content) {
        if (sandbox_object_writer_write(&w, content, strlen(content)))
            goto fail;
    } else {
        sandbox_gen gen;
        sandbox_gen_init(&gen, seed, path);
        for (long long left = size; left > 0;) {
            size_t n = left > CHUNK ? CHUNK : (size_t)left;
            sandbox_gen_fill(&gen, a->chunk, n);
            if (sandbox_object_writer_write(&w, a->chunk, n))
                goto fail;
            left -= (long long)n;
        }
    }
    if (sandbox_object_writer_commit(&w))
        return apply_fail(a, "cannot write object '%s'", key);
    return 0;
fail:
    sandbox_object_writer_abort(&w);
    return apply_fail(a, "cannot write object '%s'", key);
}

/*
 * One file of an owner. `label` names the owner in content paths: the
 * study's studyIdHumanReadable, or the project's name.
 */
static int add_file(apply *a, const char *owner_kind, const char *owner_id,
                    const char *owner_prefix, const char *label, sandbox_category category,
                    const char *name, const char *file_name, const char *content,
                    long long size, int completed, uint64_t seed)
{
    char key[2400], path[2400];
    snprintf(key, sizeof(key), "%s%s%s", owner_prefix, sandbox_category_folder(category), name);
    snprintf(path, sizeof(path), "%s/%s%s", label, sandbox_category_folder(category), name);
    if (sandbox_object_key_problem(key))
        return apply_fail(a, "file '%s' would get the invalid key '%.200s'", name, key);
    if (content)
        size = (long long)strlen(content);
    if (completed && write_object(a, key, content, size, seed, path))
        return -1;
    int rc = sandbox_db_file_put(a->sb->store, &a->put, owner_kind, owner_id, category, key,
                                 file_name ? file_name : name, size, completed);
    if (rc != 0)
        return apply_fail(a, rc > 0 ? "key '%s' is used twice" : "cannot store file '%s'", key);
    return 0;
}

static int add_listed_files(apply *a, const json_t *owner_json, const char *owner_kind,
                            const char *owner_id, const char *owner_prefix, const char *label)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(owner_json, "files"), i, f) {
        json_t *seed = json_object_get(f, "seed");
        json_t *completed = json_object_get(f, "completed");
        const char *category = json_string_value(json_object_get(f, "category"));
        sandbox_category c = strcmp(owner_kind, SANDBOX_OWNER_PROJECT) == 0
                                 ? SANDBOX_CATEGORY_PROJECT
                                 : category ? sandbox_category_parse(category)
                                            : SANDBOX_CATEGORY_FILES;
        if (add_file(a, owner_kind, owner_id, owner_prefix, label, c,
                     json_string_value(json_object_get(f, "name")),
                     json_string_value(json_object_get(f, "fileName")),
                     json_string_value(json_object_get(f, "content")),
                     json_integer_value(json_object_get(f, "size")),
                     completed ? json_is_true(completed) : 1,
                     seed ? (uint64_t)json_integer_value(seed) : a->seed))
            return -1;
    }
    return 0;
}

/* The stored object of a project or institute: id first, body fields, then defaults. */
static json_t *entity_json(const json_t *given, const char *id, const char *prefix,
                           const char *const *reserved)
{
    json_t *obj = json_pack("{s:s}", "id", id);
    if (!obj || json_object_update(obj, (json_t *)given)) {
        json_decref(obj);
        return NULL;
    }
    for (int i = 0; reserved[i]; i++)
        json_object_del(obj, reserved[i]);
    if (json_object_set_new(obj, "id", json_string(id)) ||
        json_object_set_new(obj, "s3Prefix", json_string(prefix))) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static int set_default(json_t *obj, const char *name, json_t *value)
{
    json_t *current = json_object_get(obj, name);
    if (current && !json_is_null(current)) {
        json_decref(value);
        return 0;
    }
    return json_object_set_new(obj, name, value);
}

static int create_study(apply *a, const sandbox_institute_row *inst, json_t *study,
                        sandbox_study_row *row, char *human, size_t human_size)
{
    if (sandbox_db_study_create(a->sb->store, inst, study, "seed", row))
        return apply_fail(a, "cannot store a study of institute '%s'", inst->id);
    snprintf(human, human_size, "%s",
             json_string_value(json_object_get(study, "studyIdHumanReadable")));
    return 0;
}

static int generate(apply *a, const sandbox_institute_row *inst, const json_t *g,
                    const char *type)
{
    long long studies = json_integer_value(json_object_get(g, "studies"));
    long long per = json_integer_value(json_object_get(g, "filesPerStudy"));
    long long size = json_integer_value(json_object_get(g, "fileSize"));
    json_t *seed_json = json_object_get(g, "seed");
    uint64_t seed = seed_json ? (uint64_t)json_integer_value(seed_json) : a->seed;
    const char *cat_name = json_string_value(json_object_get(g, "category"));
    sandbox_category category = cat_name ? sandbox_category_parse(cat_name)
                                         : SANDBOX_CATEGORY_FILES;
    const char *ext = json_string_value(json_object_get(g, "extension"));
    if (!ext)
        ext = ".bin";
    for (long long s = 1; s <= studies; s++) {
        char id_p[32], id_s[32], name_p[48], date[32], human[320], file[64];
        snprintf(id_p, sizeof(id_p), "P%06lld", s);
        snprintf(id_s, sizeof(id_s), "S%06lld", s);
        snprintf(name_p, sizeof(name_p), "Patient %06lld", s);
        /* Deterministic dates spread over 2021. */
        snprintf(date, sizeof(date), "2021-%02lld-%02lldT%02lld:00:00", 1 + (s - 1) % 12,
                 1 + (s - 1) % 28, 8 + (s - 1) % 10);
        json_t *study = sandbox_study_type_has_patient(type)
            ? json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "studyType", type,
                        "studyId", id_s, "studyDate", date, "description", "Generated study",
                        "patient", "patientId", id_p, "patientName", name_p)
            : json_pack("{s:s, s:s, s:s, s:s, s:s}", "studyType", type, "subjectId", id_p,
                        "name", id_s, "datetime", date, "description", "Generated study");
        sandbox_study_row row;
        if (!study)
            return apply_fail(a, "out of memory");
        int rc = create_study(a, inst, study, &row, human, sizeof(human));
        json_decref(study);
        if (rc)
            return -1;
        for (long long f = 1; f <= per; f++) {
            snprintf(file, sizeof(file), "file-%04lld%s", f, ext);
            if (add_file(a, SANDBOX_OWNER_STUDY, row.id, row.s3_prefix, human, category, file,
                         NULL, NULL, size, 1, seed))
                return -1;
        }
    }
    return 0;
}

static int apply_institute(apply *a, const json_t *given, const sandbox_project_row *project)
{
    static const char *const reserved[] = { "studies", "generate", "files", NULL };
    char id[SANDBOX_ID_MAX], prefix[SANDBOX_PREFIX_MAX];
    const char *given_id = json_string_value(json_object_get(given, "id"));
    const char *given_prefix = json_string_value(json_object_get(given, "s3Prefix"));
    char uuid[37];
    if (sandbox_uuid(uuid))
        return apply_fail(a, "no randomness for ids");
    snprintf(id, sizeof(id), "%s", given_id ? given_id : uuid);
    if (given_prefix)
        snprintf(prefix, sizeof(prefix), "%s", given_prefix);
    else
        snprintf(prefix, sizeof(prefix), "institutes/%s/", id);
    json_t *project_type = json_object_get(project->json, "projectTypeName");
    json_t *study_type = json_object_get(project->json, "studyType");
    json_t *inst = entity_json(given, id, prefix, reserved);
    if (!inst || set_default(inst, "description", json_string("")) ||
        set_default(inst, "parentId", json_null()) ||
        set_default(inst, "hasSeries", json_false()) ||
        set_default(inst, "projectTypeName", project_type ? json_incref(project_type)
                                                          : json_string("IGT Cloud")) ||
        set_default(inst, "studyType", study_type ? json_incref(study_type)
                                                  : json_string("Study"))) {
        json_decref(inst);
        return apply_fail(a, "out of memory");
    }
    const char *name = json_string_value(json_object_get(inst, "name"));
    const char *type = json_string_value(json_object_get(inst, "studyType"));
    int rc = sandbox_db_institute_insert(a->sb->store, id, project->id, name, prefix, inst);
    json_decref(inst);
    if (rc)
        return apply_fail(a, "cannot store institute '%s' (is its id or s3Prefix taken?)", name);

    sandbox_institute_row row;
    if (sandbox_db_institute_load(a->sb->store, id, &row) != 0)
        return apply_fail(a, "cannot read institute '%s' back", name);
    size_t i;
    json_t *s;
    rc = 0;
    json_array_foreach(json_object_get(given, "studies"), i, s) {
        char human[320];
        sandbox_study_row study;
        json_t *copy = json_deep_copy(s);
        if (!copy) {
            rc = apply_fail(a, "out of memory");
            break;
        }
        json_object_del(copy, "files");
        json_object_del(copy, "studyIdHumanReadable");
        rc = create_study(a, &row, copy, &study, human, sizeof(human));
        /* Only an "unchecked" document gets this far with its own readable id. */
        json_t *given_human = json_object_get(s, "studyIdHumanReadable");
        if (!rc && json_is_string(given_human) &&
            (json_object_set(copy, "studyIdHumanReadable", given_human) ||
             sandbox_db_study_set_human_id(a->sb->store, study.id, json_string_value(given_human),
                                           copy)))
            rc = apply_fail(a, "cannot set the readable id of study '%s'", study.id);
        json_decref(copy);
        if (rc || (rc = add_listed_files(a, s, SANDBOX_OWNER_STUDY, study.id, study.s3_prefix,
                                         human)))
            break;
    }
    json_t *g = json_object_get(given, "generate");
    if (rc == 0 && g)
        rc = generate(a, &row, g, type);
    sandbox_institute_row_dispose(&row);
    return rc;
}

static int apply_project(apply *a, const json_t *given)
{
    static const char *const reserved[] = { "institutes", "members", "files", NULL };
    char id[SANDBOX_ID_MAX], prefix[SANDBOX_PREFIX_MAX], uuid[37];
    const char *given_id = json_string_value(json_object_get(given, "id"));
    const char *given_prefix = json_string_value(json_object_get(given, "s3Prefix"));
    if (sandbox_uuid(uuid))
        return apply_fail(a, "no randomness for ids");
    snprintf(id, sizeof(id), "%s", given_id ? given_id : uuid);
    if (given_prefix)
        snprintf(prefix, sizeof(prefix), "%s", given_prefix);
    else
        snprintf(prefix, sizeof(prefix), "projects/%s/", id);
    json_t *project = entity_json(given, id, prefix, reserved);
    if (!project || set_default(project, "description", json_string("")) ||
        set_default(project, "projectTypeName", json_string("IGT Cloud")) ||
        set_default(project, "studyType", json_string("Study")) ||
        set_default(project, "continents", json_array())) {
        json_decref(project);
        return apply_fail(a, "out of memory");
    }
    const char *name = json_string_value(json_object_get(project, "name"));
    int rc = sandbox_db_project_insert(a->sb->store, id, name, prefix, project);
    json_decref(project);
    if (rc)
        return apply_fail(a, "cannot store project '%s' (is its id or s3Prefix taken?)", name);

    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(given, "members"), i, m) {
        const char *login = json_is_string(m) ? json_string_value(m)
                                              : json_string_value(json_object_get(m, "login"));
        const char *role = json_string_value(json_object_get(m, "role"));
        long long user_id;
        if (sandbox_users_find(a->sb, login, &user_id) ||
            sandbox_users_add_membership(a->sb, user_id, id, role ? role : "DATA_MANAGER"))
            return apply_fail(a, "cannot make '%s' a member of '%s'", login, name);
    }
    sandbox_project_row row;
    if (sandbox_db_project_load(a->sb->store, id, &row) != 0)
        return apply_fail(a, "cannot read project '%s' back", name);
    rc = add_listed_files(a, given, SANDBOX_OWNER_PROJECT, id, prefix, name);
    json_t *inst;
    json_array_foreach(json_object_get(given, "institutes"), i, inst) {
        if (rc)
            break;
        rc = apply_institute(a, inst, &row);
    }
    sandbox_project_row_dispose(&row);
    return rc;
}

int sandbox_seed_apply(sandbox *sb, json_t *doc, char *msg, size_t msg_size)
{
    apply a;
    memset(&a, 0, sizeof(a));
    a.sb = sb;
    a.msg = msg;
    a.msg_size = msg_size;
    a.seed = (uint64_t)json_integer_value(json_object_get(doc, "seed"));
    a.chunk = malloc(CHUNK);
    if (!a.chunk)
        return apply_fail(&a, "out of memory");
    int rc = 0;
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(doc, "users"), i, item) {
        const char *login = json_string_value(json_object_get(item, "login"));
        if (sandbox_users_create(sb, login, json_string_value(json_object_get(item, "password")),
                                 json_string_value(json_object_get(item, "email")), NULL)) {
            rc = apply_fail(&a, "cannot create user '%s' (does the login exist?)", login);
            break;
        }
    }
    json_array_foreach(json_object_get(doc, "projects"), i, item) {
        if (rc)
            break;
        rc = apply_project(&a, item);
    }
    sqlite3_finalize(a.put);
    free(a.chunk);
    return rc;
}
