#include "selection.h"
#include "cmd.h"

#include <igtcloud/igtcloud.h>
#include <string.h>

int cli_selection_option(struct cli_selection *sel, const char *command, int argc, char **argv,
                         int *i)
{
    const char *arg = argv[*i], *ext = NULL;
    int missing = 0;
    if (cli_take_value(&sel->start, argc, argv, i, NULL, "--start", &missing) ||
        cli_take_value(&sel->end, argc, argv, i, NULL, "--end", &missing) ||
        cli_take_value(&ext, argc, argv, i, NULL, "--ext", &missing)) {
        if (missing) {
            cli_usage_error(command, "option '%s' needs a value", arg);
            return -1;
        }
        if (ext && sel->nexts >= CLI_MAX_EXT) {
            cli_usage_error(command, "too many --ext options");
            return -1;
        }
        if (ext)
            sel->exts[sel->nexts++] = ext;
        return 1;
    }
    return 0;
}

int cli_selection_arg(struct cli_selection *sel, const char *command, const char *arg)
{
    if (sel->npos >= 4) {
        cli_usage_error(command, "unexpected argument '%s'", arg);
        return -1;
    }
    sel->pos[sel->npos++] = arg;
    return 0;
}

int cli_selection_check(struct cli_selection *sel, const char *command)
{
    const char *env = sel->npos == 4 ? sel->pos[3] : NULL;
    if (sel->npos < 2)
        cli_usage_error(command, "missing argument '%s'", sel->npos ? "PROJECT" : "TARGET");
    else if (env && strcmp(env, "PROD") != 0 && strcmp(env, "TEST") != 0)
        cli_usage_error(command, "invalid environment '%s': choose PROD or TEST", env);
    else if (sel->start && igtcloud_day_parse(&sel->start_day, sel->start))
        cli_usage_error(command, "invalid --start '%s': expected YYYY-MM-DD", sel->start);
    else if (sel->end && igtcloud_day_parse(&sel->end_day, sel->end))
        cli_usage_error(command, "invalid --end '%s': expected YYYY-MM-DD", sel->end);
    else {
        sel->environment = env;
        return 0;
    }
    return -1;
}
