#include "cli_session.h"
#include "cmd.h"
#include "prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct password_source {
    int from_stdin;
    const char *problem;
};

static int ask_password(char *buf, size_t size, const char *user, const char *host, void *payload)
{
    struct password_source *src = payload;
    int rc;
    if (src->from_stdin) {
        rc = cli_read_stdin_line(buf, size);
    } else {
        char prompt[512];
        snprintf(prompt, sizeof(prompt), "%s@%s's password: ", user, host);
        rc = cli_prompt(buf, size, prompt, 1);
        if (rc == CLI_PROMPT_NO_TERMINAL) {
            src->problem = "not logged in and no terminal to ask the password on; run "
                           "'igtcloud login' or use --password-stdin";
            return IGTCLOUD_EINVALID;
        }
    }
    if (rc != CLI_PROMPT_OK || buf[0] == '\0') {
        src->problem = src->from_stdin ? "no password on standard input" : "no password given";
        return IGTCLOUD_EINVALID;
    }
    return 0;
}

void cli_debug_line(const char *line, void *payload)
{
    (void)payload;
    fprintf(stderr, "igtcloud: debug: %s\n", line);
}

int cli_session_open(igtcloud_session **out, const struct cli_session_args *a)
{
    char user_buf[256];
    const char *domain = a->domain;
    const char *user = a->user;
    if (!domain || !*domain)
        domain = a->environment;
    if (!domain || !*domain)
        domain = getenv("CLOUD_DOMAIN");
    if (!domain || !*domain)
        domain = "PROD";
    if (!user || !*user)
        user = getenv("CLOUD_USERNAME");

    igtcloud_session_options opts = IGTCLOUD_SESSION_OPTIONS_INIT;
    struct password_source source = { a->password_stdin, NULL };
    opts.domain = domain;
    opts.ca_file = a->cacert;
    if (a->debug)
        opts.debug_cb = cli_debug_line;
    if (!user || !*user) {
        /* No user known: only a running `igtcloud login` can help, else ask who. */
        opts.flags = IGTCLOUD_SESSION_REUSE_ONLY;
        if (igtcloud_session_open(out, &opts) == 0)
            return CLI_EXIT_OK;
        opts.flags = 0;
        int prc = cli_prompt(user_buf, sizeof(user_buf), "Username: ", 0);
        if (prc != CLI_PROMPT_OK || !user_buf[0]) {
            fprintf(stderr, "igtcloud: not logged in: run 'igtcloud login', or give --user "
                            "(or CLOUD_USERNAME)\n");
            return CLI_EXIT_AUTH;
        }
        user = user_buf;
    }
    opts.user = user;
    opts.password_cb = ask_password;
    opts.password_payload = &source;
    int status = igtcloud_session_open(out, &opts);
    if (status < 0) {
        if (source.problem) {
            fprintf(stderr, "igtcloud: %s\n", source.problem);
            return CLI_EXIT_AUTH;
        }
        return cli_report_error(status);
    }
    return CLI_EXIT_OK;
}
