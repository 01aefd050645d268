#ifndef SANDBOX_USERS_H
#define SANDBOX_USERS_H

#include "sandbox.h"

/*
 * Create a user with a hashed password (call with the store lock held or
 * before the server starts). Returns 0 and the row id, or -1 (e.g. the login
 * exists) after printing nothing: the caller reports.
 */
int sandbox_users_create(sandbox *sb, const char *login, const char *password,
                         const char *email, long long *id_out);

/* Make user `user_id` a member of project `project_id` with `role` (e.g. "DATA_MANAGER"). */
int sandbox_users_add_membership(sandbox *sb, long long user_id, const char *project_id,
                                 const char *role);

/* Look up a user's row id by login; -1 when unknown. */
int sandbox_users_find(sandbox *sb, const char *login, long long *id_out);

#endif
