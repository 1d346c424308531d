/* rpc_client.h - many RPCs in flight over one AMQP connection, answers matched by
 * correlation id, each call with its own deadline. One I/O thread owns the connection. */
#ifndef RS_RPC_CLIENT_H
#define RS_RPC_CLIENT_H

#include <stddef.h>
#include "mq.h"

typedef struct rpc_client rpc_client;

/* Starts the I/O thread; it connects (and reconnects) in the background.
 * reply_queue is the durable queue answers come back on (responseQ). */
rpc_client *rpc_client_new(const struct mq_cfg *cfg, const char *reply_queue);
/* Stops the I/O thread; calls still waiting fail with RPC_ESHUTDOWN. */
void rpc_client_free(rpc_client *c);

enum { RPC_OK = 0, RPC_ETIMEOUT = -1, RPC_EUNAVAILABLE = -2, RPC_ESHUTDOWN = -3 };

/* An answer: its body, and the status and worker named in its AMQP properties
 * (type and app_id; docs/DESIGN.md). */
struct rpc_answer {
    char *body; /* NUL-terminated; the caller frees it */
    size_t len;
    int status; /* 0 when the answer named none */
    char worker[64];
};

/* Publishes body on queue with a fresh correlation id and waits up to timeout_ms.
 * On RPC_OK *answer is filled. corr_id_out (optional, >= 40 bytes) receives the
 * correlation id used. */
int rpc_call(rpc_client *c, const char *queue, const char *body, size_t len, long timeout_ms,
             struct rpc_answer *answer, char *corr_id_out);

struct rpc_stats {
    unsigned long calls;       /* every rpc_call since start */
    unsigned long in_flight;   /* waiting for an answer now */
    unsigned long timeouts;    /* no answer before the deadline, broker up */
    unsigned long unavailable; /* no answer before the deadline, broker down */
};
void rpc_client_stats(rpc_client *c, struct rpc_stats *out);

/* True once the connection is up and the reply queue consumed. */
int rpc_client_ready(rpc_client *c);

#endif
