/* rpc_client.h - many RPCs in flight over one AMQP connection, answers matched by
 * correlation id, each call with its own deadline. One I/O thread owns the connection. */
#ifndef RS_RPC_CLIENT_H
#define RS_RPC_CLIENT_H

#include <stddef.h>
#include "mq.h"

typedef struct rpc_client rpc_client;

/* Starts the I/O thread; it connects (and reconnects) in the background, and cfg->declare
 * declares the queues on each new connection. reply_queue is the shared queue answers come
 * back on, declared by cfg->declare. */
rpc_client *rpc_client_new(const struct mq_cfg *cfg, const char *reply_queue);
/* Stops the I/O thread; calls still waiting fail with RPC_ESHUTDOWN, and it returns only
 * once every one of them has left (so none touches the client after it is gone). No call
 * may start once it has begun. */
void rpc_client_free(rpc_client *c);

/* RPC_ETIMEOUT: sent, no answer, the connection up all along. RPC_EUNAVAILABLE: the broker
 * was down at the deadline and the message never went out. RPC_ELOST: it went out on a
 * connection that was lost, and (published again on the next one) still got no answer:
 * the worker may have carried it out. */
enum { RPC_OK = 0, RPC_ETIMEOUT = -1, RPC_EUNAVAILABLE = -2, RPC_ESHUTDOWN = -3, RPC_ELOST = -4 };

#define RPC_CORR_ID_MAX 40 /* a correlation id and its NUL */
#define RPC_PROP_MAX 64    /* an answer's string property and its NUL; a longer one is dropped */

/* An answer: its body and the AMQP properties its protocol may give a meaning (what the
 * fleet's mean is in fleet/wire.h). */
struct rpc_answer {
    char *body; /* NUL-terminated; the caller frees it */
    size_t len;
    char type[RPC_PROP_MAX];   /* "" when absent */
    char app_id[RPC_PROP_MAX]; /* "" when absent */
};

/* Publishes body on queue with a fresh correlation id and waits up to timeout_ms.
 * On RPC_OK *answer is filled. corr_id_out (optional, RPC_CORR_ID_MAX bytes) receives the
 * correlation id used. */
int rpc_call(rpc_client *c, const char *queue, const char *body, size_t len, long timeout_ms,
             struct rpc_answer *answer, char *corr_id_out);

struct rpc_stats {
    unsigned long calls;       /* every rpc_call since start */
    unsigned long in_flight;   /* waiting for an answer now */
    unsigned long timeouts;    /* no answer before the deadline, broker up */
    unsigned long unavailable; /* no answer before the deadline, broker down */
    unsigned long lost;        /* no answer, sent on a connection that was lost (RPC_ELOST) */
};
void rpc_client_stats(rpc_client *c, struct rpc_stats *out);

/* True once the connection is up and the reply queue consumed. */
int rpc_client_ready(rpc_client *c);

#endif
