#ifndef SANDBOX_API_DATA_H
#define SANDBOX_API_DATA_H

#include "router.h"

/* Handlers of /api/data, one file per resource; the table is in api_data.c. */

/* api_projects.c */
void sandbox_api_projects_list(sandbox_request *req, sandbox_response *res);
void sandbox_api_projects_create(sandbox_request *req, sandbox_response *res);
void sandbox_api_project_get(sandbox_request *req, sandbox_response *res);
void sandbox_api_project_delete(sandbox_request *req, sandbox_response *res);
void sandbox_api_project_hospitals_list(sandbox_request *req, sandbox_response *res);
void sandbox_api_project_hospitals_create(sandbox_request *req, sandbox_response *res);
void sandbox_api_project_hospital_delete(sandbox_request *req, sandbox_response *res);
void sandbox_api_hospitals_list(sandbox_request *req, sandbox_response *res);
void sandbox_api_hospital_get(sandbox_request *req, sandbox_response *res);

/* api_studies.c */
void sandbox_api_studies_list(sandbox_request *req, sandbox_response *res);
void sandbox_api_studies_create(sandbox_request *req, sandbox_response *res);
void sandbox_api_study_get(sandbox_request *req, sandbox_response *res);
void sandbox_api_study_put(sandbox_request *req, sandbox_response *res);
void sandbox_api_study_patch(sandbox_request *req, sandbox_response *res);
void sandbox_api_study_delete(sandbox_request *req, sandbox_response *res);
void sandbox_api_study_record_state(sandbox_request *req, sandbox_response *res);

/* api_files.c */
void sandbox_api_study_files_list(sandbox_request *req, sandbox_response *res);
void sandbox_api_study_files_register(sandbox_request *req, sandbox_response *res);
void sandbox_api_study_files_delete(sandbox_request *req, sandbox_response *res);
void sandbox_api_study_file_completed(sandbox_request *req, sandbox_response *res);
void sandbox_api_project_files_list(sandbox_request *req, sandbox_response *res);
void sandbox_api_project_files_register(sandbox_request *req, sandbox_response *res);
void sandbox_api_project_files_delete(sandbox_request *req, sandbox_response *res);

/* api_users.c */
void sandbox_api_users_me(sandbox_request *req, sandbox_response *res);

#endif
