#include "cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cli_take_value(const char **out, int argc, char **argv, int *i, const char *shortname,
                   const char *longname, int *missing)
{
    const char *arg = argv[*i];
    size_t long_len = strlen(longname);
    if (strncmp(arg, longname, long_len) == 0 && arg[long_len] == '=') {
        *out = arg + long_len + 1;
        return 1;
    }
    if (strcmp(arg, longname) != 0 && !(shortname && strcmp(arg, shortname) == 0))
        return 0;
    if (*i + 1 >= argc) {
        *missing = 1;
        return 1;
    }
    *out = argv[++*i];
    return 1;
}

int cli_check_url(const char *text)
{
    const char *host = NULL;
    if (strncmp(text, "http://", 7) == 0)
        host = text + 7;
    else if (strncmp(text, "https://", 8) == 0)
        host = text + 8;
    if (!host || !*host || *host == '/' || *host == ':')
        return -1;
    for (const char *p = text; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return -1;
    return 0;
}

int cli_parse_count(unsigned int *out, const char *text, long max)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(text, &end, 10);
    if (errno || !*text || *end || n < 1 || n > max)
        return -1;
    *out = (unsigned int)n;
    return 0;
}
