/* worker.h - what main hands to a role (master_run, slave_run): settings, the stop flag
 * and the seams the election drives (promote, abdicate, synced). Header only: there is
 * no behaviour to hold. */
#ifndef RS_WORKER_WORKER_H
#define RS_WORKER_WORKER_H

#include <signal.h>
#include <stdint.h>

#include "mq.h"

struct worker_ctx {
    struct mq_cfg mq;
    const char *id;                   /* WORKER_ID: names this worker in answers and epochs */
    unsigned read_prefetch;           /* READ_PREFETCH: reads a slave holds unacked at once */
    int bench_echo;                   /* WORKER_BENCH_ECHO=1: answer reads with [] at once,
                                       * without SQLite; only to measure the path's limit */
    volatile sig_atomic_t *stop;      /* set by SIGTERM/SIGINT; every loop checks it */
    /* Asked by a slave between messages: nonzero makes it drain its sync queue and
     * return SLAVE_PROMOTE so main runs master_run() on the same store. NULL: never.
     * The ZooKeeper election drives it (ZK_HOSTS set); without ZooKeeper, SIGUSR1. */
    int (*should_promote)(void *ud);
    /* Told by a slave whenever its copy becomes complete (1: the snapshot and the changes
     * buffered meanwhile are applied, reads are served) or stops being so (0: a resync or
     * a lost connection). Only a complete copy may stand for master. NULL: nobody listens. */
    void (*on_synced)(int synced, void *ud);
    /* Asked by a master between writes: nonzero makes master_run return MASTER_ABDICATED
     * at once, the write in hand unacked (RabbitMQ gives it to the next master). NULL: never. */
    int (*should_abdicate)(void *ud);
    /* Called on every turn of a role's loop with its role and applied sequence; the
     * ZooKeeper code publishes it now and then for the orchestrator's metrics. */
    void (*report)(const char *role, int64_t applied, void *ud);
    void *seam_ud; /* the ud of the seams above */
};

#endif
