/* sync.h - the slave's ordering rules for sync messages (docs/DESIGN.md "Slave sync
 * rules") as a pure state machine: no I/O, so every case is unit-tested. */
#ifndef RS_WORKER_SYNC_H
#define RS_WORKER_SYNC_H

#include <stdint.h>

/* What the slave holds: the master term its copy follows (0 when unknown: a database
 * that never followed a term) and the last sequence applied. Terms only grow: each
 * master takes a new one from ZooKeeper (common/fleet/term.h) before it answers a write. */
struct sync_state {
    int64_t term;
    int64_t applied;
};

enum sync_action {
    SYNC_APPLY,  /* the next write: apply it, then sync_done() */
    SYNC_SKIP,   /* already held (a duplicate of our own term, or a repeated begin marker) */
    SYNC_ADOPT,  /* a newer term's begin marker at exactly our sequence: follow it */
    SYNC_RESYNC, /* a gap, or a newer term that starts elsewhere than our copy */
    SYNC_FENCED, /* a message of a term older than ours: its master was fenced and answered
                  * nothing for it; refused, never applied, and logged as an alarm */
};

/* Starts from a snapshot (or a database) holding applied, of term (0: unknown). */
void sync_reset(struct sync_state *st, int64_t term, int64_t applied);

/* Decides what to do with a sync message of (term, seq), begin marker or not. */
enum sync_action sync_decide(const struct sync_state *st, int64_t term, int64_t seq, int begin);

/* Records that the action decided for (term, seq) was carried out: APPLY moves applied
 * to seq, APPLY and ADOPT take the message's term; the others change nothing. */
void sync_done(struct sync_state *st, enum sync_action action, int64_t term, int64_t seq);

const char *sync_action_name(enum sync_action a);

#endif
