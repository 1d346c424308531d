/* sync.c - the slave's sync ordering. The rules rely on the master's guarantees: a write
 * is answered only after its sync message was confirmed into every slave queue and only
 * while its term is still the fleet's current one, and a promoted slave drains its queue
 * up to its own marker before it begins a term at its sequence. So within one term the
 * sequence decides, a newer term starts at its begin marker, and an older term's message
 * can only be one its master never answered. */
#include "sync.h"

void sync_reset(struct sync_state *st, int64_t term, int64_t applied)
{
    st->term = term > 0 ? term : 0;
    st->applied = applied;
}

static enum sync_action decide_begin(const struct sync_state *st, int64_t term, int64_t seq)
{
    if (term == st->term) /* our own master's marker again (a reconnect) */
        return seq <= st->applied ? SYNC_SKIP : SYNC_RESYNC;
    /* A newer term: the copy must be exactly where that master's begins. Behind is a
     * gap; ahead means we hold writes of the old term that its master never answered
     * (they were confirmed after the new master's marker): start over from its copy. */
    return seq == st->applied ? SYNC_ADOPT : SYNC_RESYNC;
}

enum sync_action sync_decide(const struct sync_state *st, int64_t term, int64_t seq, int begin)
{
    if (term < st->term)
        return SYNC_FENCED;
    if (begin)
        return decide_begin(st, term, seq);
    if (term == st->term || st->term == 0) {
        if (seq <= st->applied)
            return SYNC_SKIP;
        if (seq - 1 == st->applied) /* seq > applied: no overflow */
            return SYNC_APPLY;
        return SYNC_RESYNC; /* a gap */
    }
    return SYNC_RESYNC; /* a newer term whose begin marker we never saw */
}

void sync_done(struct sync_state *st, enum sync_action action, int64_t term, int64_t seq)
{
    if (action == SYNC_APPLY)
        st->applied = seq;
    if (action == SYNC_APPLY || action == SYNC_ADOPT)
        st->term = term;
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
    case SYNC_FENCED:
        return "fenced";
    }
    return "?";
}
