/* signals.c - signals are taken synchronously with sigwait, so no handler ever runs in
 * the middle of library code. SIGPIPE stays blocked: a peer that hangs up is an error
 * return, not a death. */
#include "signals.h"

#include <signal.h>

static void term_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
}

void signals_block(void)
{
    sigset_t set;
    term_set(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int signals_wait(void)
{
    sigset_t set;
    term_set(&set);
    int sig = 0;
    sigwait(&set, &sig);
    return sig;
}
