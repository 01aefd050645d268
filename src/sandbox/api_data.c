#include "api_data.h"

/*
 * /api/data (openapi/entities.json). The more specific patterns come first:
 * "/projects/hospitals/{}" must win over "/projects/{}/...".
 */
const sandbox_route sandbox_data_routes[] = {
    { "GET", "/api/data/projects", sandbox_api_projects_list },
    { "POST", "/api/data/projects", sandbox_api_projects_create },
    { "GET", "/api/data/projects/hospitals/{}", sandbox_api_hospital_get },
    { "GET", "/api/data/projects/{}", sandbox_api_project_get },
    { "DELETE", "/api/data/projects/{}", sandbox_api_project_delete },
    { "GET", "/api/data/projects/{}/hospitals", sandbox_api_project_hospitals_list },
    { "POST", "/api/data/projects/{}/hospitals", sandbox_api_project_hospitals_create },
    { "DELETE", "/api/data/projects/{}/hospitals/{}", sandbox_api_project_hospital_delete },
    { "GET", "/api/data/projects/{}/files", sandbox_api_project_files_list },
    { "POST", "/api/data/projects/{}/files", sandbox_api_project_files_register },
    { "DELETE", "/api/data/projects/{}/files", sandbox_api_project_files_delete },
    { "GET", "/api/data/hospitals", sandbox_api_hospitals_list },
    { "GET", "/api/data/hospitals/{}/studies", sandbox_api_studies_list },
    { "POST", "/api/data/hospitals/{}/studies", sandbox_api_studies_create },
    { "GET", "/api/data/hospitals/{}/studies/{}", sandbox_api_study_get },
    { "PUT", "/api/data/hospitals/{}/studies/{}", sandbox_api_study_put },
    { "PATCH", "/api/data/hospitals/{}/studies/{}", sandbox_api_study_patch },
    { "DELETE", "/api/data/hospitals/{}/studies/{}", sandbox_api_study_delete },
    { "GET", "/api/data/hospitals/{}/studies/{}/files", sandbox_api_study_files_list },
    { "POST", "/api/data/hospitals/{}/studies/{}/files", sandbox_api_study_files_register },
    { "DELETE", "/api/data/hospitals/{}/studies/{}/files", sandbox_api_study_files_delete },
    { "POST", "/api/data/hospitals/{}/studies/{}/files/$file-upload-completed",
      sandbox_api_study_file_completed },
    { "POST", "/api/data/hospitals/{}/studies/{}/electronic-record-state",
      sandbox_api_study_record_state },
    { "GET", "/api/data/users/me", sandbox_api_users_me },
    { NULL, NULL, NULL },
};
