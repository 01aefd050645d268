#include "password.h"
#include "cmd.h"
#include "prompt.h"

#include <igtcloud/igtcloud.h>
#include <stdio.h>
#include <string.h>

int cli_password_read(char *buf, size_t size, int from_stdin, const char *user, const char *host)
{
    if (from_stdin)
        return cli_read_stdin_line(buf, size);
    char prompt[512];
    snprintf(prompt, sizeof(prompt), "%s@%s's password: ", user ? user : "", host ? host : "");
    return cli_prompt(buf, size, prompt, 1);
}

static int fail(struct cli_password *pw, const char *problem, int exit_code, int status)
{
    pw->problem = problem;
    pw->exit_code = exit_code;
    return status;
}

int cli_password_get(struct cli_password *pw, const char *user, const char *host)
{
    if (pw->have)
        return 0;
    int rc = cli_password_read(pw->value, sizeof(pw->value), pw->from_stdin, user, host);
    if (rc == CLI_PROMPT_NO_TERMINAL)
        return fail(pw, pw->no_terminal, CLI_EXIT_USAGE, IGTCLOUD_EINVALID);
    if (rc == CLI_PROMPT_TOO_LONG)
        return fail(pw, "the password is too long", CLI_EXIT_USAGE, IGTCLOUD_EINVALID);
    if (rc == CLI_PROMPT_INTERRUPTED && pw->stop && *pw->stop)
        return fail(pw, "interrupted", CLI_EXIT_INTERRUPTED, IGTCLOUD_ECANCELLED);
    if (rc != CLI_PROMPT_OK || !pw->value[0])
        return fail(pw, pw->from_stdin ? "no password on standard input" : "no password given",
                    CLI_EXIT_USAGE, IGTCLOUD_EINVALID);
    pw->have = 1;
    return 0;
}

int cli_password_cb(char *buf, size_t size, const char *user, const char *host, void *payload)
{
    struct cli_password *pw = payload;
    int rc = cli_password_get(pw, user, host);
    if (rc)
        return rc;
    if (strlen(pw->value) >= size)
        return IGTCLOUD_EINVALID;
    snprintf(buf, size, "%s", pw->value);
    return 0;
}

int cli_password_in_argv(const char *arg)
{
    return strcmp(arg, "--password") == 0 || strncmp(arg, "--password=", 11) == 0 ||
           strcmp(arg, "-p") == 0;
}
