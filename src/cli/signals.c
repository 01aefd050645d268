#include "cmd.h"

#include <signal.h>
#include <string.h>

void cli_catch_signals(void (*handler)(int), int hangup)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a prompt, a sleep or a transfer must notice the signal. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (hangup)
        sigaction(SIGHUP, &sa, NULL);
}
