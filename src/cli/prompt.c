#include "prompt.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

void cli_wipe(void *p, size_t len)
{
    volatile unsigned char *v = p;
    while (len--)
        *v++ = 0;
}

/* Read one line byte by byte (the terminal or pipe hands us no more than that). */
static int read_line(int fd, char *buf, size_t size)
{
    size_t used = 0;
    int too_long = 0;
    for (;;) {
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR)
            return CLI_PROMPT_INTERRUPTED;
        if (n < 0)
            return CLI_PROMPT_INTERRUPTED;
        if (n == 0) {
            if (used == 0)
                return CLI_PROMPT_INTERRUPTED;
            break;
        }
        if (c == '\n')
            break;
        if (used + 1 < size)
            buf[used++] = c;
        else
            too_long = 1;
    }
    if (used > 0 && buf[used - 1] == '\r')
        used--;
    buf[used] = '\0';
    if (too_long) {
        cli_wipe(buf, size);
        return CLI_PROMPT_TOO_LONG;
    }
    return CLI_PROMPT_OK;
}

int cli_prompt(char *buf, size_t size, const char *prompt, int secret)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return CLI_PROMPT_NO_TERMINAL;
    struct termios saved, quiet;
    int restore = 0;
    if (secret && tcgetattr(fd, &saved) == 0) {
        quiet = saved;
        quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHOE | ECHOK | ECHONL);
        if (tcsetattr(fd, TCSAFLUSH, &quiet) == 0)
            restore = 1;
    }
    if (write(fd, prompt, strlen(prompt)) < 0) {
        /* Nothing useful to do: the read below still works or fails. */
    }
    int rc = read_line(fd, buf, size);
    if (restore) {
        tcsetattr(fd, TCSAFLUSH, &saved);
        if (write(fd, "\n", 1) < 0) {
            /* The echo is restored; a missing newline is cosmetic. */
        }
    }
    close(fd);
    return rc;
}

int cli_read_stdin_line(char *buf, size_t size)
{
    return read_line(STDIN_FILENO, buf, size);
}
