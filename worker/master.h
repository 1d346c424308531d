/* master.h - the master role: applies writes from writeQ, fans them out on syncQ, and
 * serves snapshots to new slaves (docs/DESIGN.md "Master write rules"). */
#ifndef RS_WORKER_MASTER_H
#define RS_WORKER_MASTER_H

#include "store.h"
#include "worker.h"

/* Runs until *w->stop is set, reconnecting to RabbitMQ as needed. A new master term
 * (epoch) starts with every call, announced by a begin marker at the store's sequence.
 * 0 on a requested stop, negative when the store fails. */
int master_run(store *s, const struct worker_ctx *w);

#endif
