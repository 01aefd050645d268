#include "seed.h"
#include "store.h"
#include "users.h"

#include <string.h>

/*
 * The demo world (docs/sandbox-seed.md). Minimal for now: users, one project
 * with two institutes and one study each; files follow with the seed format.
 */
static int exec_sql(sandbox *sb, const char *sql)
{
    char *errmsg = NULL;
    int rc = sqlite3_exec(sandbox_store_db(sb->store), sql, NULL, NULL, &errmsg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "igtcloud-sandbox: seeding failed: %s\n", errmsg ? errmsg : "?");
    sqlite3_free(errmsg);
    return rc == SQLITE_OK ? 0 : -1;
}

static int seed_demo(sandbox *sb)
{
    long long demo_id = 0, other_id = 0;
    if (sandbox_users_create(sb, "demo", "demo", "demo@sandbox.invalid", &demo_id) ||
        sandbox_users_create(sb, "other", "other", "other@sandbox.invalid", &other_id))
        return -1;
    if (exec_sql(sb,
        "INSERT INTO projects(id, name, s3_prefix, json, seq) VALUES"
        " ('6f1c2b1e-0000-4000-8000-000000000001', 'Demo Project', 'projects/demo-project/',"
        "  '{\"id\": \"6f1c2b1e-0000-4000-8000-000000000001\", \"name\": \"Demo Project\","
        "    \"description\": \"The sandbox demo project\", \"projectTypeName\": \"IGT Cloud\","
        "    \"studyType\": \"Study\", \"continents\": [\"Europe\"],"
        "    \"s3Prefix\": \"projects/demo-project/\"}', 1);"
        "INSERT INTO institutes(id, project_id, name, s3_prefix, json, seq) VALUES"
        " ('6f1c2b1e-0000-4000-8000-0000000000a1', '6f1c2b1e-0000-4000-8000-000000000001',"
        "  'Hospital A', 'institutes/hospital-a/',"
        "  '{\"id\": \"6f1c2b1e-0000-4000-8000-0000000000a1\", \"name\": \"Hospital A\","
        "    \"description\": \"Demo institute A\", \"parentId\": null, \"hasSeries\": false,"
        "    \"projectTypeName\": \"IGT Cloud\", \"studyType\": \"Study\","
        "    \"s3Prefix\": \"institutes/hospital-a/\"}', 1),"
        " ('6f1c2b1e-0000-4000-8000-0000000000b2', '6f1c2b1e-0000-4000-8000-000000000001',"
        "  'Hospital B', 'institutes/hospital-b/',"
        "  '{\"id\": \"6f1c2b1e-0000-4000-8000-0000000000b2\", \"name\": \"Hospital B\","
        "    \"description\": \"Demo institute B\", \"parentId\": null, \"hasSeries\": false,"
        "    \"projectTypeName\": \"IGT Cloud\", \"studyType\": \"Study\","
        "    \"s3Prefix\": \"institutes/hospital-b/\"}', 2);"))
        return -1;
    if (sandbox_users_add_membership(sb, demo_id, "6f1c2b1e-0000-4000-8000-000000000001",
                                     "DATA_MANAGER"))
        return -1;
    return 0;
}

int sandbox_seed(sandbox *sb, const char *spec)
{
    char seeded[16];
    if (sandbox_store_meta_get(sb->store, "seeded", seeded, sizeof(seeded)) == SQLITE_OK)
        return 0;
    if (strcmp(spec, "demo") != 0) {
        fprintf(stderr, "igtcloud-sandbox: seed files are not supported yet: %s\n", spec);
        return -1;
    }
    if (sandbox_store_begin(sb->store) != SQLITE_OK)
        return -1;
    if (seed_demo(sb) || sandbox_store_meta_set(sb->store, "seeded", spec) != SQLITE_OK) {
        sandbox_store_rollback(sb->store);
        return -1;
    }
    return sandbox_store_commit(sb->store) == SQLITE_OK ? 0 : -1;
}
