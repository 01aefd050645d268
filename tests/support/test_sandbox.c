#include "test_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void test_remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int test_make_temp_dir(char *out, size_t size, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(out, size, "%s/igtcloud-test-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    return mkdtemp(out) ? 0 : -1;
}

/* The sandboxes this process runs, so a report that ends it ends them too. */
#define MAX_LIVE 32
static pid_t live[MAX_LIVE];

static void live_add(pid_t pid)
{
    for (int i = 0; i < MAX_LIVE; i++) {
        if (live[i] == 0) {
            live[i] = pid;
            return;
        }
    }
}

static void live_remove(pid_t pid)
{
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i] == pid)
            live[i] = 0;
}

static int launch(test_sandbox *sb, const char *const *extra_args)
{
    int out_pipe[2];
    if (pipe(out_pipe))
        return -1;
    const char *argv[64];
    int n = 0;
    argv[n++] = IGTCLOUD_SANDBOX_BIN;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--data";
    argv[n++] = sb->data_dir;
    argv[n++] = "--log-requests";
    argv[n++] = sb->log_path;
    for (int i = 0; extra_args && extra_args[i] && n < 62; i++)
        argv[n++] = extra_args[i];
    argv[n] = NULL;

    char err_path[320];
    snprintf(err_path, sizeof(err_path), "%s/stderr.txt", sb->dir);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(out_pipe[1], STDOUT_FILENO);
        int err = open(err_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (err >= 0)
            dup2(err, STDERR_FILENO);
        close(out_pipe[0]);
        close(out_pipe[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out_pipe[1]);
    sb->pid = pid;
    live_add(pid);

    /* Wait up to 60 s for "ready api=URL[ s3=URL]". */
    char line[512];
    size_t used = 0;
    struct pollfd pfd = { out_pipe[0], POLLIN, 0 };
    time_t deadline = time(NULL) + 60;
    while (time(NULL) < deadline && used < sizeof(line) - 1) {
        if (poll(&pfd, 1, 1000) <= 0)
            continue;
        ssize_t got = read(out_pipe[0], line + used, sizeof(line) - 1 - used);
        if (got <= 0)
            break;
        used += (size_t)got;
        line[used] = '\0';
        if (strchr(line, '\n'))
            break;
    }
    close(out_pipe[0]);
    line[used] = '\0';
    const char *api = strstr(line, "ready api=");
    if (!api) {
        fprintf(stderr, "sandbox did not become ready (see %s): '%s'\n", err_path, line);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        live_remove(pid);
        sb->pid = 0;
        return -1;
    }
    sscanf(api, "ready api=%127s", sb->api_url);
    const char *s3 = strstr(line, " s3=");
    if (s3)
        sscanf(s3, " s3=%127s", sb->s3_url);
    return 0;
}

int test_sandbox_start(test_sandbox *sb, const char *const *extra_args)
{
    memset(sb, 0, sizeof(*sb));
    if (test_make_temp_dir(sb->dir, sizeof(sb->dir), "sandbox"))
        return -1;
    snprintf(sb->data_dir, sizeof(sb->data_dir), "%s/data", sb->dir);
    snprintf(sb->log_path, sizeof(sb->log_path), "%s/requests.log", sb->dir);
    return launch(sb, extra_args);
}

int test_sandbox_restart(test_sandbox *sb, const char *const *extra_args)
{
    return launch(sb, extra_args);
}

int test_sandbox_stop_keep(test_sandbox *sb)
{
    int status = -1;
    if (sb->pid > 0) {
        kill(sb->pid, SIGTERM);
        if (waitpid(sb->pid, &status, 0) < 0)
            status = -1;
        live_remove(sb->pid);
        sb->pid = 0;
    }
    return status;
}

/*
 * A sanitizer's report from the sandbox (a leak found at exit, a UBSan
 * error) would otherwise stay in a file no one reads: it ends the test
 * program, printed. So does an exit with an error; a test's SIGKILL does not.
 */
static void check_exit(const test_sandbox *sb, int status)
{
    char err_path[320];
    snprintf(err_path, sizeof(err_path), "%s/stderr.txt", sb->dir);
    FILE *f = fopen(err_path, "r");
    char line[1024];
    int reported = 0, shown = 0;
    while (f && fgets(line, sizeof(line), f)) {
        if (strstr(line, "Sanitizer") || strstr(line, "runtime error:"))
            reported = 1;
        if (reported && shown++ < 40)
            fputs(line, stderr);
    }
    if (f)
        fclose(f);
    int bad_exit = status != -1 && ((WIFEXITED(status) && WEXITSTATUS(status) != 0) ||
                                    (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL &&
                                     WTERMSIG(status) != SIGTERM));
    if (!reported && !bad_exit)
        return;
    fprintf(stderr, "the sandbox in %s %s\n", sb->dir,
            reported ? "reported a sanitizer error (above)" : "exited with an error");
    for (int i = 0; i < MAX_LIVE; i++) {
        if (live[i] > 0) {
            kill(live[i], SIGKILL);
            waitpid(live[i], NULL, 0);
        }
    }
    exit(1);
}

void test_sandbox_stop(test_sandbox *sb)
{
    int status = test_sandbox_stop_keep(sb);
    if (sb->dir[0])
        check_exit(sb, status);
    if (sb->dir[0])
        test_remove_tree(sb->dir);
    sb->dir[0] = '\0';
}

char *test_sandbox_log(const test_sandbox *sb)
{
    FILE *f = fopen(sb->log_path, "rb");
    if (!f)
        return strdup("");
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    size_t got;
    while (text && (got = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2) {
            char *bigger = realloc(text, cap * 2);
            if (!bigger) {
                free(text);
                text = NULL;
                break;
            }
            text = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (text)
        text[len] = '\0';
    return text;
}

int test_rot_stored_byte(const char *data_dir, const char *key, long at)
{
    char object[8400];
    struct stat before;
    snprintf(object, sizeof(object), "%s/objects/%s", data_dir, key);
    if (stat(object, &before) != 0)
        return -1;
    FILE *f = fopen(object, "r+b");
    if (!f)
        return -1;
    int c = fseek(f, at, SEEK_SET) == 0 ? fgetc(f) : EOF;
    int bad = c == EOF || fseek(f, at, SEEK_SET) != 0 || fputc(c ^ 0x5a, f) == EOF;
    bad |= fclose(f) != 0;
    const struct timespec times[2] = { before.st_atim, before.st_mtim };
    return bad || utimensat(AT_FDCWD, object, times, 0) != 0 ? -1 : 0;
}
