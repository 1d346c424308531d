/* ha.h - the worker's place in ZooKeeper: its member node, its pid, the election, and
 * the seams of worker_ctx that the election drives (docs/DESIGN.md "High availability").
 * Used only when ZK_HOSTS is set; without it the worker keeps its WORKER_ROLE for life. */
#ifndef RS_WORKER_HA_H
#define RS_WORKER_HA_H

#include <stdint.h>

#include "worker.h"

typedef struct ha ha;

/* Opens the session (waiting up to 30 s), registers id as a slave, learns the container
 * pid (WORKER_PID=self: our own; otherwise the one the orchestrator publishes, waited for
 * up to 30 s) and records it. NULL on failure (logged). */
ha *ha_new(const char *hosts, int session_ms, const char *id);
/* Leaves the election (a master hands over at once) and closes the session. NULL is fine. */
void ha_free(ha *h);

/* Points w's seams at h: a slave stands for master while its copy is complete (or, as a
 * seeder, when the fleet has had no master and no synced candidate for a session's time);
 * a master begins its term in ZooKeeper, checks it before every acknowledgement, and
 * abdicates when the election says it is no longer master. */
void ha_wire(ha *h, struct worker_ctx *w);

/* WORKER_ROLE=master: stands at once and waits up to wait_ms (plus two session timeouts,
 * for a dead predecessor's session to expire) to be elected. 1 when
 * elected (member node now says master), 0 when not (out of the election again, to
 * come back as a synced slave), negative on error. */
int ha_claim(ha *h, long wait_ms);
/* The begin_term seam (worker.h), for main's own use after a claim or a seed: begins a term
 * above floor and checks that we still hold the master node. 0 or -1. */
int ha_begin_term(int64_t floor, int64_t *term, void *ud);
/* After SLAVE_PROMOTE or SLAVE_SEED: 0 when we still hold the election (member node now says master),
 * -1 when the role was lost meanwhile. */
int ha_promoted(ha *h);

#endif
