/* sync.h - the slave's ordering rules for sync messages (docs/DESIGN.md "Slave sync
 * rules") as a pure state machine: no I/O, so every case is unit-tested. */
#ifndef RS_WORKER_SYNC_H
#define RS_WORKER_SYNC_H

#include <stdint.h>

/* An epoch names a master's term: its worker id and start time. */
#define SYNC_EPOCH_MAX 128

/* What the slave holds: the master term its copy follows ("" when unknown, e.g. a
 * snapshot that came without an epoch) and the last sequence applied. */
struct sync_state {
    char epoch[SYNC_EPOCH_MAX];
    int64_t applied;
};

enum sync_action {
    SYNC_APPLY,  /* the next write: apply it, then sync_applied() */
    SYNC_SKIP,   /* already held (a duplicate or a message older than our snapshot): ack, drop */
    SYNC_ADOPT,  /* a new master's begin marker at exactly our sequence: follow its epoch */
    SYNC_RESYNC, /* a gap or a term we cannot vouch for: take a fresh snapshot */
};

/* Starts from a snapshot (or a database) holding applied, of master term epoch (NULL or
 * "" when unknown). */
void sync_reset(struct sync_state *st, const char *epoch, int64_t applied);

/* Decides what to do with a sync message of (epoch, seq), begin marker or not. */
enum sync_action sync_decide(const struct sync_state *st, const char *epoch, int64_t seq, int begin);

/* Records that the action decided for (epoch, seq) was carried out: APPLY moves applied
 * to seq, APPLY and ADOPT take the message's epoch; SKIP and RESYNC change nothing. */
void sync_done(struct sync_state *st, enum sync_action action, const char *epoch, int64_t seq);

const char *sync_action_name(enum sync_action a);

#endif
