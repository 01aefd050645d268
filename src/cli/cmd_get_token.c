#include "cmd.h"

#include <igtcloud/igtcloud.h>
#include <string.h>
#include <strings.h>

static const char usage[] =
    "Usage: igtcloud get-token [OPTIONS]\n"
    "\n"
    "  Print a token of the session that 'igtcloud login' keeps in the token file.\n"
    "\n"
    "Options:\n"
    "  -t, --type [jwt|access|csrf]  which token to print (default: jwt)\n"
    "  -d, --domain DOMAIN           only a token for this domain (default:\n"
    "                                $CLOUD_DOMAIN, else any)\n"
    "  -u, --user USER               only a token of this user (default:\n"
    "                                $CLOUD_USERNAME, else any)\n"
    "      --help                    Show this message and exit.\n"
    "\n"
    "Environment:\n"
    "  CLOUD_TOKEN_MMAP  the token file (see 'igtcloud login --help')\n";

int cmd_get_token(int argc, char **argv)
{
    const char *type = "jwt", *domain = NULL, *user = NULL;
    igtcloud_session *session = NULL;
    int rc = CLI_EXIT_OK;

    for (int i = 1; i < argc; i++) {
        int missing = 0;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        }
        if (cli_take_value(&type, argc, argv, &i, "-t", "--type", &missing) ||
            cli_take_value(&domain, argc, argv, &i, "-d", "--domain", &missing) ||
            cli_take_value(&user, argc, argv, &i, "-u", "--user", &missing)) {
            if (missing)
                return cli_usage_error("get-token", "option '%s' needs a value", argv[i]);
            continue;
        }
        if (argv[i][0] == '-')
            return cli_usage_error("get-token", "no such option '%s'", argv[i]);
        return cli_usage_error("get-token", "unexpected argument '%s'", argv[i]);
    }
    if (strcasecmp(type, "jwt") != 0 && strcasecmp(type, "access") != 0 &&
        strcasecmp(type, "csrf") != 0)
        return cli_usage_error("get-token", "invalid type '%s': choose jwt, access or csrf", type);

    igtcloud_session_options opts = IGTCLOUD_SESSION_OPTIONS_INIT;
    opts.domain = domain;
    opts.user = user;
    opts.flags = IGTCLOUD_SESSION_REUSE_ONLY;
    int status = igtcloud_session_open(&session, &opts);
    if (status < 0)
        return cli_report_error(status);

    const char *value;
    if (strcasecmp(type, "jwt") == 0)
        value = igtcloud_session_jwt(session);
    else if (strcasecmp(type, "csrf") == 0)
        value = igtcloud_session_csrf(session);
    else
        value = igtcloud_session_access_token(session);
    if (!value || !*value) {
        fprintf(stderr, "igtcloud: the session in the token file has no %s token\n", type);
        rc = CLI_EXIT_AUTH;
        goto done;
    }
    printf("%s\n", value);
    if (fflush(stdout) != 0)
        rc = CLI_EXIT_IO;
done:
    igtcloud_session_free(session);
    return rc;
}
