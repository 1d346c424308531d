/* sync.c - the slave's sync ordering. The rules rely on the master's guarantees: a write
 * is answered only after its sync message was confirmed into every slave queue, and a
 * promoted slave drains its queue first, so a new master's begin sequence is at least
 * every slave's. Hence a message at or below applied is old news whatever its epoch. */
#include "sync.h"

#include <stdio.h>
#include <string.h>

void sync_reset(struct sync_state *st, const char *epoch, int64_t applied)
{
    snprintf(st->epoch, sizeof st->epoch, "%s", epoch ? epoch : "");
    st->applied = applied;
}

enum sync_action sync_decide(const struct sync_state *st, const char *epoch, int64_t seq, int begin)
{
    int unknown = st->epoch[0] == '\0';
    int same = !unknown && epoch && strcmp(st->epoch, epoch) == 0;

    if (begin) {
        if (same) /* our own master's marker again (a reconnect, or from before our snapshot) */
            return seq <= st->applied ? SYNC_SKIP : SYNC_RESYNC;
        if (seq == st->applied)
            return SYNC_ADOPT;
        /* Without a known epoch, a lower marker predates the snapshot we started from. */
        if (unknown && seq < st->applied)
            return SYNC_SKIP;
        return SYNC_RESYNC; /* a new term that starts elsewhere than our copy */
    }
    if (seq <= st->applied)
        return SYNC_SKIP;
    if (seq - 1 == st->applied && (same || unknown)) /* seq > applied: no overflow */
        return SYNC_APPLY;
    return SYNC_RESYNC; /* a gap, or a new term whose begin marker we never saw */
}

void sync_done(struct sync_state *st, enum sync_action action, const char *epoch, int64_t seq)
{
    if (action == SYNC_APPLY)
        st->applied = seq;
    if ((action == SYNC_APPLY || action == SYNC_ADOPT) && epoch)
        snprintf(st->epoch, sizeof st->epoch, "%s", epoch);
}

const char *sync_action_name(enum sync_action a)
{
    switch (a) {
    case SYNC_APPLY:
        return "apply";
    case SYNC_SKIP:
        return "skip";
    case SYNC_ADOPT:
        return "adopt";
    case SYNC_RESYNC:
        return "resync";
    }
    return "?";
}
