#ifndef SANDBOX_DATA_ACCESS_H
#define SANDBOX_DATA_ACCESS_H

#include "auth.h"
#include "data_store.h"

/*
 * Who may see what in /api/data and /api/action. A user sees the projects
 * they are a member of, with those projects' institutes, studies and files;
 * anything else answers 404 so that existence does not leak. A service
 * identity sees only its own institute (and that institute's project), and
 * only in the calls that pass `service_ok`; every other call answers 403.
 *
 * Each function authenticates or resolves, and on failure sets the response
 * (401/403/404/500) and returns -1. On success the caller owns the row(s).
 */

/* Authenticate the call (401 when it is not). */
int sandbox_data_auth(const sandbox_request *req, sandbox_response *res,
                      sandbox_principal *who);

/* 403 for a service identity; 0 for a user. */
int sandbox_data_users_only(const sandbox_principal *who, sandbox_response *res);

int sandbox_data_project(sandbox_response *res, sandbox_store *store,
                         const sandbox_principal *who, const char *project_id, int service_ok,
                         sandbox_project_row *out);

int sandbox_data_institute(sandbox_response *res, sandbox_store *store,
                           const sandbox_principal *who, const char *institute_id,
                           int service_ok, sandbox_institute_row *out);

/* The study `study_id` of institute `institute_id`; both rows on success. */
int sandbox_data_study(sandbox_response *res, sandbox_store *store,
                       const sandbox_principal *who, const char *institute_id,
                       const char *study_id, int service_ok, sandbox_institute_row *inst,
                       sandbox_study_row *out);

/* 204 No Content. */
void sandbox_data_no_content(sandbox_response *res);

/* 500 for a store failure, rolling back the transaction when `in_tx`. */
void sandbox_data_store_error(sandbox_response *res, sandbox_store *store, int in_tx);

/* 1 for "true"/"True"/"1" (query flags as Python clients send them). */
int sandbox_query_flag(const char *value);

#endif
