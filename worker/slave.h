/* slave.h - the slave role: a snapshot from the master, then sync messages applied in
 * order, and reads from readQ answered once the copy is recent enough. */
#ifndef RS_WORKER_SLAVE_H
#define RS_WORKER_SLAVE_H

#include "store.h"
#include "worker.h"

enum {
    SLAVE_STOPPED = 0, /* *w->stop was set */
    SLAVE_PROMOTE = 1, /* w->should_promote() said so: the sync queue is drained up to our
                          marker and deleted, our term begun and stored; run master_run() on
                          the same store next */
    SLAVE_SEED = 2,    /* elected without a complete copy (a seeder, see ha.h): seed the store
                          from the freshest copy, begin a term, then run master_run() */
};

/* Runs until stopped or promoted, reconnecting (and resyncing) as needed. Negative when
 * the store fails. */
int slave_run(store *s, const struct worker_ctx *w);

#endif
