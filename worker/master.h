/* master.h - the master role: applies writes from writeQ, fans them out on syncQ, and
 * serves snapshots to new slaves (docs/DESIGN.md "Master write rules"). */
#ifndef RS_WORKER_MASTER_H
#define RS_WORKER_MASTER_H

#include "store.h"
#include "worker.h"

enum {
    MASTER_STOPPED = 0,   /* *w->stop was set */
    MASTER_ABDICATED = 1, /* w->should_abdicate() said so: no longer the elected master */
};

/* Runs until *w->stop is set or the master abdicates, reconnecting to RabbitMQ as needed.
 * A new master term (epoch) starts with every call, announced by a begin marker at the
 * store's sequence. MASTER_STOPPED, MASTER_ABDICATED, or negative when the store fails. */
int master_run(store *s, const struct worker_ctx *w);

#endif
