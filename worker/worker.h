/* worker.h - what main hands to a role (master_run, slave_run): settings, the stop flag
 * and the seams the election drives (promote, abdicate, synced). Header only: there is
 * no behaviour to hold. */
#ifndef RS_WORKER_WORKER_H
#define RS_WORKER_WORKER_H

#include <stdatomic.h>
#include <stdint.h>

#include "fleet/membership.h"
#include "mq.h"

struct worker_ctx {
    struct mq_cfg mq;
    const char *id;                   /* WORKER_ID: names this worker in answers and epochs */
    unsigned read_prefetch;           /* READ_PREFETCH: reads a slave holds unacked at once */
    int bench_echo;                   /* WORKER_BENCH_ECHO=1: answer reads with [] at once,
                                       * without SQLite; only to measure the path's limit */
    const char *db_path;              /* DB_PATH: snapshots in flight live beside it */
    unsigned sync_prefetch;           /* SYNC_PREFETCH: sync messages a slave holds unapplied */
    unsigned write_batch;             /* WRITE_BATCH: writes a master takes into one commit */
    size_t snapshot_chunk;            /* SNAPSHOT_CHUNK_BYTES: one AMQP message of a snapshot */
    const atomic_int *stop;           /* set by SIGTERM/SIGINT; every loop checks it */
    /* Asked by a slave between messages: nonzero makes it drain its sync queue and
     * return SLAVE_PROMOTE so main runs master_run() on the same store. NULL: never.
     * The ZooKeeper election drives it (ZK_HOSTS set); without ZooKeeper, SIGUSR1. */
    int (*should_promote)(void *ud);
    /* Told by a slave whenever its copy becomes complete (1: the snapshot and the changes
     * buffered meanwhile are applied, reads are served) or stops being so (0: a resync or
     * a lost connection). Only a complete copy may stand for master. NULL: nobody listens. */
    void (*on_synced)(int synced, void *ud);
    /* Asked by a master between writes: nonzero makes master_run return MASTER_ABDICATED
     * at once, the write in hand unacked (RabbitMQ gives it to the next master). NULL: never.
     * A cached answer, for speed: fence below is the one that decides. */
    int (*should_abdicate)(void *ud);
    /* Called once by a newly elected master before it takes a write: begins a term above
     * floor (the highest term its copy has seen) and puts it in *term. 0, or -1 when no
     * term can be begun or the election was lost meanwhile: then it must not serve. */
    int (*begin_term)(int64_t floor, int64_t *term, void *ud);
    /* Asked before every acknowledgement, after the write is confirmed into every slave
     * queue: 0 while our term is still the fleet's current one, by a read that cannot be
     * stale; anything else means fenced or unknown, and nothing may be answered. */
    int (*fence)(void *ud);
    /* Called on every turn of a role's loop with its role and applied sequence; the
     * ZooKeeper code publishes it now and then for the orchestrator's metrics. */
    void (*report)(enum member_role role, int64_t applied, void *ud);
    /* Told by a role when its state changes (a slave: MEMBER_STATE_COPYING, _SERVING,
     * _RESYNCING of membership.h; a master: _SERVING once it consumes writeQ); published
     * at once, for the dashboard and whoever waits for a fleet that takes writes. NULL:
     * nobody listens. */
    void (*set_state)(const char *state, void *ud);
    void *seam_ud; /* the ud of the seams above */
};

#endif
