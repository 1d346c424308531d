/* wire.h - the worker's side of the RabbitMQ wire protocol (docs/DESIGN.md): connecting
 * with backoff, receiving one delivery with a timeout, answering RPCs, publishing with
 * headers, and reading headers. Worker-local additions to common/mq.h. */
#ifndef RS_WORKER_WIRE_H
#define RS_WORKER_WIRE_H

#include <amqp.h>
#include <jansson.h>
#include <stdint.h>

#include "worker.h"

#define WIRE_SQLITE_TYPE "application/x-sqlite3"

/* Monotonic milliseconds, for deadlines. */
int64_t wire_now_ms(void);

/* Connects (channel 1 open), retrying with backoff until it succeeds or *w->stop is set;
 * NULL only when stopping. */
amqp_connection_state_t wire_connect(const struct worker_ctx *w);

/* Waits up to timeout_ms for a delivery. 1: *env holds one (free it with
 * amqp_destroy_envelope); 0: nothing arrived (or a frame we may ignore); -1: the
 * connection or a channel is gone and the caller must reconnect. */
int wire_recv(amqp_connection_state_t c, amqp_envelope_t *env, long timeout_ms);

/* A property of a delivery as a fresh string ("" when absent); the caller frees it. */
char *wire_corr_id(const amqp_envelope_t *env);
char *wire_reply_to(const amqp_envelope_t *env);

/* Answers an RPC delivery on its reply_to with its correlation_id: answer (borrowed) gets
 * "worker": w->id added. Deliveries without reply_to are not answered (0). */
int wire_answer(amqp_connection_state_t c, amqp_channel_t ch, const amqp_envelope_t *env, const char *worker_id,
                json_t *answer);
/* {"status": 200, "body": body}; body is stolen. */
int wire_answer_ok(amqp_connection_state_t c, amqp_channel_t ch, const amqp_envelope_t *env,
                   const char *worker_id, json_t *body);
/* {"status": status, "error": msg}. */
int wire_answer_error(amqp_connection_state_t c, amqp_channel_t ch, const amqp_envelope_t *env,
                      const char *worker_id, int status, const char *msg);

/* Publishes a transient message with the properties mq_publish() lacks. Any pointer may
 * be NULL; expiration_ms 0 means none; epoch with seq adds the headers "seq" (int64)
 * and "epoch" of a snapshot answer (epoch NULL: no headers). */
struct wire_msg {
    const char *exchange, *routing_key;
    const char *corr_id, *reply_to, *content_type;
    const char *type, *app_id; /* answers: the status and the worker id (NULL: none) */
    long expiration_ms;
    const char *epoch;
    int64_t seq;
    const void *body;
    size_t len;
};
int wire_publish(amqp_connection_state_t c, amqp_channel_t ch, const struct wire_msg *m);

/* A header of a delivery: 0 and the value, or -1 when absent or of another kind. */
int wire_header_int(const amqp_envelope_t *env, const char *name, int64_t *out);
/* Copies a string header into buf (truncated to len-1 bytes). */
int wire_header_str(const amqp_envelope_t *env, const char *name, char *buf, size_t len);

#endif
