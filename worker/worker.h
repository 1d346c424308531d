/* worker.h - what main hands to a role (master_run, slave_run): settings, the stop flag
 * and the promotion seam. Header only: there is no behaviour to hold. */
#ifndef RS_WORKER_WORKER_H
#define RS_WORKER_WORKER_H

#include <signal.h>

#include "mq.h"

struct worker_ctx {
    struct mq_cfg mq;
    const char *id;                   /* WORKER_ID: names this worker in answers and epochs */
    unsigned read_prefetch;           /* READ_PREFETCH: reads a slave holds unacked at once */
    volatile sig_atomic_t *stop;      /* set by SIGTERM/SIGINT; every loop checks it */
    /* Asked by a slave between messages: nonzero makes it drain its sync queue and
     * return SLAVE_PROMOTE so main runs master_run() on the same store. NULL: never.
     * The ZooKeeper election drives it; for now main wires SIGUSR1 to it. */
    int (*should_promote)(void *ud);
    void *promote_ud;
};

#endif
