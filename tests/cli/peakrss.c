/*
 * peakrss OUT ERR PROGRAM ARGS...: run PROGRAM with stdout to OUT and stderr
 * to ERR (stdin inherited) and print "<exit code> <peak RSS in KiB>", from
 * wait4(). The memory tests start commands through it (tests/cli/lib.sh,
 * peak_rss): a child of python3 or of any large process starts with its
 * parent's pages counted in its peak (the kernel keeps the peak across
 * exec), which would hide the peaks the tests compare.
 */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    int status;
    struct rusage ru;
    if (argc < 4)
        return 2;
    pid_t pid = fork();
    if (pid == 0) {
        int out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(126);
        execv(argv[3], argv + 3);
        _exit(127);
    }
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid)
        return 2;
    printf("%d %ld\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
           ru.ru_maxrss);
    return 0;
}
