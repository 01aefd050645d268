#ifndef TEST_SANDBOX_H
#define TEST_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

/* A sandbox process started by a test on a free port with its own data folder. */
typedef struct test_sandbox {
    pid_t pid;
    char dir[256];          /* temporary folder: data/, requests.log, stdout/stderr */
    char data_dir[300];
    char log_path[300];
    char api_url[128];
    char s3_url[128];
} test_sandbox;

/*
 * Start igtcloud-sandbox with --listen 127.0.0.1:0, --data in a fresh temp
 * folder and --log-requests, plus `extra_args` (NULL-terminated, may be NULL),
 * and wait for its ready line. Returns 0, or -1 after printing why.
 */
int test_sandbox_start(test_sandbox *sb, const char *const *extra_args);

/* Start again on the same data folder (after test_sandbox_kill or _stop_keep). */
int test_sandbox_restart(test_sandbox *sb, const char *const *extra_args);

/* SIGTERM and wait; returns the exit status (or -1). Keeps the folder. */
int test_sandbox_stop_keep(test_sandbox *sb);

/* SIGTERM, wait, and remove the temporary folder. */
void test_sandbox_stop(test_sandbox *sb);

/* Read the whole request log; caller frees. */
char *test_sandbox_log(const test_sandbox *sb);

/* Remove a folder tree (for test temp folders). */
void test_remove_tree(const char *path);

/* Create a fresh temp folder under TMPDIR into out (size >= 256). */
int test_make_temp_dir(char *out, size_t size, const char *tag);

/*
 * Flip byte `at` of object `key` on the sandbox's disk (data_dir/objects/key),
 * keeping the file's times, size and inode: the sandbox then keeps the ETag
 * it recorded, as a disk's silent corruption would. 0, or -1.
 */
int test_rot_stored_byte(const char *data_dir, const char *key, long at);

#endif
