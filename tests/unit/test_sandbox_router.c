/* The sandbox's routing: which handler a method and path reach, their params, 404 and 405. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "api_data.h"
#include "router.h"

/* Route method + path; *status is 0 when a handler was found. */
static sandbox_handler route(sandbox_request *req, char *path_copy, const char *method,
                             const char *path, int *status)
{
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->path = path;
    *status = 0;
    return sandbox_route_find(req, path_copy, status);
}

static const struct {
    const char *method;
    const char *path;
    sandbox_handler handler;
    const char *param0;
    const char *param1;
} data_vectors[] = {
    { "GET", "/api/data/projects", sandbox_api_projects_list, NULL, NULL },
    { "POST", "/api/data/projects", sandbox_api_projects_create, NULL, NULL },
    { "GET", "/api/data/projects/P1", sandbox_api_project_get, "P1", NULL },
    { "DELETE", "/api/data/projects/P1", sandbox_api_project_delete, "P1", NULL },
    /* The more specific pattern wins over /projects/{}. */
    { "GET", "/api/data/projects/hospitals/H1", sandbox_api_hospital_get, "H1", NULL },
    { "GET", "/api/data/projects/P1/hospitals", sandbox_api_project_hospitals_list, "P1", NULL },
    { "POST", "/api/data/projects/P1/hospitals", sandbox_api_project_hospitals_create, "P1",
      NULL },
    { "DELETE", "/api/data/projects/P1/hospitals/H1", sandbox_api_project_hospital_delete, "P1",
      "H1" },
    { "GET", "/api/data/projects/P1/files", sandbox_api_project_files_list, "P1", NULL },
    { "POST", "/api/data/projects/P1/files", sandbox_api_project_files_register, "P1", NULL },
    { "DELETE", "/api/data/projects/P1/files", sandbox_api_project_files_delete, "P1", NULL },
    { "GET", "/api/data/hospitals", sandbox_api_hospitals_list, NULL, NULL },
    { "GET", "/api/data/hospitals/H1/studies", sandbox_api_studies_list, "H1", NULL },
    { "POST", "/api/data/hospitals/H1/studies", sandbox_api_studies_create, "H1", NULL },
    { "GET", "/api/data/hospitals/H1/studies/S1", sandbox_api_study_get, "H1", "S1" },
    { "PUT", "/api/data/hospitals/H1/studies/S1", sandbox_api_study_put, "H1", "S1" },
    { "PATCH", "/api/data/hospitals/H1/studies/S1", sandbox_api_study_patch, "H1", "S1" },
    { "DELETE", "/api/data/hospitals/H1/studies/S1", sandbox_api_study_delete, "H1", "S1" },
    { "GET", "/api/data/hospitals/H1/studies/S1/files", sandbox_api_study_files_list, "H1",
      "S1" },
    { "POST", "/api/data/hospitals/H1/studies/S1/files", sandbox_api_study_files_register, "H1",
      "S1" },
    { "DELETE", "/api/data/hospitals/H1/studies/S1/files", sandbox_api_study_files_delete, "H1",
      "S1" },
    { "POST", "/api/data/hospitals/H1/studies/S1/files/$file-upload-completed",
      sandbox_api_study_file_completed, "H1", "S1" },
    { "POST", "/api/data/hospitals/H1/studies/S1/electronic-record-state",
      sandbox_api_study_record_state, "H1", "S1" },
    { "GET", "/api/data/users/me", sandbox_api_users_me, NULL, NULL },
    /* A trailing slash names the same resource. */
    { "GET", "/api/data/projects/", sandbox_api_projects_list, NULL, NULL },
    { "GET", "/api/data/hospitals/H1/studies/S1/", sandbox_api_study_get, "H1", "S1" },
};

static void test_sandbox_router__data_routes_and_params(void **state)
{
    (void)state;
    sandbox_request req;
    char path_copy[SANDBOX_ROUTE_PATH_MAX];
    int status;
    for (size_t i = 0; i < sizeof(data_vectors) / sizeof(data_vectors[0]); i++) {
        sandbox_handler h = route(&req, path_copy, data_vectors[i].method, data_vectors[i].path,
                                  &status);
        if (h != data_vectors[i].handler)
            fail_msg("%s %s reached the wrong handler (status %d)", data_vectors[i].method,
                     data_vectors[i].path, status);
        if (data_vectors[i].param0)
            assert_string_equal(req.params[0], data_vectors[i].param0);
        else
            assert_null(req.params[0]);
        if (data_vectors[i].param1)
            assert_string_equal(req.params[1], data_vectors[i].param1);
        else
            assert_null(req.params[1]);
    }
}

/* The auth, action and services handlers are file-local; each path reaches a distinct one. */
static void test_sandbox_router__auth_action_and_service_routes(void **state)
{
    (void)state;
    static const struct {
        const char *method;
        const char *path;
    } other[] = {
        { "GET", "/api/auth/login/$aud" },
        { "POST", "/api/auth/login" },
        { "POST", "/api/auth/refresh" },
        { "POST", "/api/auth/logout" },
        { "GET", "/api/auth/introspect" },
        { "GET", "/api/auth/permissions" },
        { "POST", "/api/auth/audit-trail" },
        { "GET", "/api/auth/s3credentials" },
        { "POST", "/api/action/update-database" },
        { "GET", "/api/data/organizations/I1/services" },
        { "POST", "/api/data/organizations/I1/services" },
        { "DELETE", "/api/data/organizations/I1/services/X1" },
    };
    enum { N = sizeof(other) / sizeof(other[0]) };
    sandbox_handler seen[N];
    sandbox_request req;
    char path_copy[SANDBOX_ROUTE_PATH_MAX];
    int status;
    for (size_t i = 0; i < N; i++) {
        seen[i] = route(&req, path_copy, other[i].method, other[i].path, &status);
        if (!seen[i])
            fail_msg("%s %s is not routed (status %d)", other[i].method, other[i].path, status);
        for (size_t j = 0; j < i; j++)
            if (seen[j] == seen[i])
                fail_msg("%s %s and %s %s reach the same handler", other[i].method,
                         other[i].path, other[j].method, other[j].path);
    }
    route(&req, path_copy, "DELETE", "/api/data/organizations/I1/services/X1", &status);
    assert_string_equal(req.params[0], "I1");
    assert_string_equal(req.params[1], "X1");
    /* "$aud" is a literal segment, not a parameter. */
    assert_null(route(&req, path_copy, "GET", "/api/auth/login/other", &status));
    assert_int_equal(status, 404);
}

static void test_sandbox_router__unknown_paths_are_404(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "/",
        "",
        "/api",
        "/api/data",
        "/api/data/no-such-thing",
        "/api/data/projects/P1/extra/deep",
        "/api/data/hospitals//studies",          /* an empty parameter */
        "//api/data/projects",
        "/api/data/projects//",
        "/API/DATA/PROJECTS",                      /* paths are case-sensitive */
        "/api/data/hospitals/H1/studies/S1/files/$file-upload-completed/x",
        "api/data/projects",
    };
    sandbox_request req;
    char path_copy[SANDBOX_ROUTE_PATH_MAX];
    int status;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (route(&req, path_copy, "GET", paths[i], &status) || status != 404)
            fail_msg("GET '%s' should be 404, got %d", paths[i], status);
    }
    /* A path too long to route is 404 rather than cut. */
    char long_path[SANDBOX_ROUTE_PATH_MAX + 64];
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[sizeof(long_path) - 1] = '\0';
    memcpy(long_path, "/api/data/projects/", strlen("/api/data/projects/"));
    assert_null(route(&req, path_copy, "GET", long_path, &status));
    assert_int_equal(status, 404);
}

static void test_sandbox_router__wrong_method_is_405_with_allow(void **state)
{
    (void)state;
    static const struct {
        const char *method;
        const char *path;
        const char *allow;
    } vectors[] = {
        { "PUT", "/api/auth/login", "POST" },
        { "POST", "/api/auth/login/$aud", "GET" },
        { "DELETE", "/api/data/projects", "GET, POST" },
        { "POST", "/api/data/hospitals/H1/studies/S1", "GET, PUT, PATCH, DELETE" },
        { "GET", "/api/data/hospitals/H1/studies/S1/files/$file-upload-completed", "POST" },
        { "HEAD", "/api/data/users/me", "GET" },
        { "get", "/api/data/projects", "GET, POST" },   /* methods are case-sensitive */
        /* Two patterns match; each method is listed once. */
        { "PUT", "/api/data/projects/hospitals/hospitals", "GET, POST" },
        { "PATCH", "/api/data/projects/P1/", "GET, DELETE" },
    };
    sandbox_request req;
    char path_copy[SANDBOX_ROUTE_PATH_MAX], allow[128];
    int status;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        if (route(&req, path_copy, vectors[i].method, vectors[i].path, &status) ||
            status != 405)
            fail_msg("%s %s should be 405, got %d", vectors[i].method, vectors[i].path, status);
        assert_int_equal(sandbox_route_allowed(allow, sizeof(allow), vectors[i].path), 0);
        assert_string_equal(allow, vectors[i].allow);
    }
    assert_int_equal(sandbox_route_allowed(allow, sizeof(allow), "/api/data/nothing"), -1);
    assert_int_equal(sandbox_route_allowed(allow, 4, "/api/data/hospitals/H1/studies/S1"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sandbox_router__data_routes_and_params),
        cmocka_unit_test(test_sandbox_router__auth_action_and_service_routes),
        cmocka_unit_test(test_sandbox_router__unknown_paths_are_404),
        cmocka_unit_test(test_sandbox_router__wrong_method_is_405_with_allow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
