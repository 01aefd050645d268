#include "cli_run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void apply_env(const char *const *env)
{
    for (size_t i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        if (!eq)
            continue;
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)(eq - env[i]), env[i]);
        if (eq[1])
            setenv(name, eq + 1, 1);
        else
            unsetenv(name);
    }
}

static pid_t start(const char *const *argv, const char *const *env, const char *input,
                   int out_fd, int err_fd)
{
    int in_pipe[2];
    if (pipe(in_pipe))
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setsid();
        dup2(in_pipe[0], STDIN_FILENO);
        dup2(out_fd, STDOUT_FILENO);
        dup2(err_fd, STDERR_FILENO);
        close(in_pipe[0]);
        close(in_pipe[1]);
        signal(SIGPIPE, SIG_DFL);
        apply_env(env);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(in_pipe[0]);
    if (input) {
        size_t len = strlen(input), done = 0;
        void (*old)(int) = signal(SIGPIPE, SIG_IGN);
        while (done < len) {
            ssize_t n = write(in_pipe[1], input + done, len - done);
            if (n <= 0)
                break;
            done += (size_t)n;
        }
        signal(SIGPIPE, old);
    }
    close(in_pipe[1]);
    return pid;
}

static void read_back(int fd, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
}

int cli_run(const char *const *argv, const char *const *env, const char *input,
            char *out, size_t out_size, char *err, size_t err_size)
{
    FILE *o = tmpfile(), *e = tmpfile();
    if (!o || !e)
        return -1;
    pid_t pid = start(argv, env, input, fileno(o), fileno(e));
    int rc = pid < 0 ? -1 : cli_wait(pid, 120);
    read_back(fileno(o), out, out_size);
    read_back(fileno(e), err, err_size);
    fclose(o);
    fclose(e);
    return rc;
}

pid_t cli_spawn(const char *const *argv, const char *const *env, const char *input,
                const char *err_path)
{
    int out = open("/dev/null", O_WRONLY);
    int err = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = start(argv, env, input, out, err);
    close(out);
    close(err);
    return pid;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cli_wait(pid_t pid, double seconds)
{
    double deadline = now_s() + seconds;
    int status = 0;
    for (;;) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid)
            break;
        if (got < 0 && errno != EINTR)
            return -1;
        if (now_s() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(10000);
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

int cli_wait_for_path(const char *path, int exists, double seconds)
{
    double deadline = now_s() + seconds;
    while (now_s() < deadline) {
        struct stat st;
        if ((lstat(path, &st) == 0) == (exists != 0))
            return 0;
        usleep(20000);
    }
    return -1;
}

char *cli_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + used, 1, cap - used - 1, f)) > 0) {
        used += n;
        if (cap - used < 2) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[used] = '\0';
    if (len)
        *len = used;
    return buf;
}
