/* mq.h - thin, checked helpers over librabbitmq-c (connection, topology, publish, confirms). */
#ifndef RS_MQ_H
#define RS_MQ_H

#include <amqp.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct mq_cfg {
    const char *host;   /* AMQP_HOST, default 127.0.0.1; "h1,h2,h3" (a cluster): each in turn */
    int port;           /* AMQP_PORT, default 5672 */
    const char *user;   /* AMQP_USER, default guest */
    const char *pass;   /* AMQP_PASS, default guest */
    const char *vhost;  /* AMQP_VHOST, default / */
    int heartbeat;      /* AMQP_HEARTBEAT seconds, default 10 */
    /* AMQP_QUEUE_TYPE, default NULL (the broker's own, classic): the type of the shared
     * queues mq_queue_declare makes; "quorum" replicates them over a cluster's nodes
     * (docs/DEPLOY.md). Every declarer of a queue must agree on it, so the orchestrator
     * passes it on to the workers. */
    const char *queue_type;
    /* The application's queues and exchanges, declared on channel ch of every new
     * connection before mq_connect returns it (0, or -1: the connection is dropped and
     * tried again); NULL: none. Not read from the environment. */
    int (*declare)(amqp_connection_state_t c, amqp_channel_t ch, const struct mq_cfg *cfg);
    /* The longest pause between two attempts of mq_connect (0: MQ_BACKOFF_MAX_MS): each
     * client keeps its own pace of coming back after a broker restart. Not read from the
     * environment. */
    long backoff_max_ms;
};

void mq_cfg_from_env(struct mq_cfg *cfg);

/* Connects, logs in, opens channel 1 and declares cfg->declare on it, retrying with a
 * backoff (MQ_BACKOFF_FIRST_MS, doubling up to cfg->backoff_max_ms) until it succeeds or
 * *stop is set: NULL only when stopping. The one connect loop of every AMQP client here. */
#define MQ_BACKOFF_FIRST_MS 100
#define MQ_BACKOFF_MAX_MS 1000
amqp_connection_state_t mq_connect(const struct mq_cfg *cfg, const atomic_int *stop);
/* Closes politely when possible and frees the connection; NULL is fine. */
void mq_close(amqp_connection_state_t conn);

/* 0 when the reply is normal; otherwise logs what failed and returns -1. */
int mq_check(amqp_rpc_reply_t r, const char *what);
/* 0 when status is AMQP_STATUS_OK; otherwise logs and returns -1. */
int mq_check_status(int status, const char *what);

int mq_channel_open(amqp_connection_state_t c, amqp_channel_t ch);
/* A durable queue shared by its consumers, of the given type (mq_cfg.queue_type; NULL: the
 * broker's default). */
int mq_queue_declare(amqp_connection_state_t c, amqp_channel_t ch, const char *name, const char *type);
/* An exclusive queue with a broker-chosen name; the caller frees the name. NULL on error. */
char *mq_queue_declare_temp(amqp_connection_state_t c, amqp_channel_t ch);
int mq_queue_delete(amqp_connection_state_t c, amqp_channel_t ch, const char *name);
int mq_fanout_declare(amqp_connection_state_t c, amqp_channel_t ch, const char *name);
int mq_queue_bind(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, const char *exchange);
int mq_qos(amqp_connection_state_t c, amqp_channel_t ch, unsigned prefetch);
/* Starts a consumer; tag may be NULL for a broker-chosen one. */
int mq_consume(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, const char *tag, int no_ack);
/* An exclusive consumer with a broker-chosen tag: the broker refuses it while the queue has
 * another consumer, and refuses any other consumer while it lasts (-1 then). */
int mq_consume_exclusive(amqp_connection_state_t c, amqp_channel_t ch, const char *queue);
/* How many consumers the (existing) queue has now, or -1. */
int mq_queue_consumers(amqp_connection_state_t c, amqp_channel_t ch, const char *queue);
int mq_ack(amqp_connection_state_t c, amqp_channel_t ch, uint64_t delivery_tag);

/* An int64 AMQP header of a message. */
struct mq_header {
    const char *name;
    int64_t value;
};
#define MQ_HEADERS_MAX 8

/* A transient message: any pointer may be NULL (exchange: the default one; content_type:
 * application/json); expiration_ms 0 means none; at most MQ_HEADERS_MAX headers. */
struct mq_msg {
    const char *exchange, *routing_key;
    const char *corr_id, *reply_to, *message_id, *content_type;
    const char *type, *app_id; /* AMQP's free-form type and application id properties */
    long expiration_ms;
    const struct mq_header *headers;
    size_t nheaders;
    const void *body;
    size_t len;
};
/* The one way a message is published. */
int mq_publish_msg(amqp_connection_state_t c, amqp_channel_t ch, const struct mq_msg *m);

/* Puts ch in confirm mode. */
int mq_confirm_select(amqp_connection_state_t c, amqp_channel_t ch);
/* Waits until the broker has confirmed every publish with a delivery tag in [first, last]
 * on ch (a confirm channel on a connection that consumes nothing, so that nothing but
 * confirms can arrive). 0, or -1 when one was nacked, on timeout or connection error. */
int mq_confirm_wait_range(amqp_connection_state_t c, amqp_channel_t ch, uint64_t first, uint64_t last,
                          long timeout_ms);
/* Lets an idle connection exchange heartbeats; -1 when it is gone. */
int mq_keepalive(amqp_connection_state_t c);

/* Waits up to timeout_ms for a delivery, for a single-threaded consumer loop. 1: *env
 * holds one (free it with amqp_destroy_envelope), and its message id is this thread's
 * request id in the log from now on; 0: nothing arrived (or a frame we may ignore); -1: the
 * connection or a channel is gone and the caller must reconnect. */
int mq_recv(amqp_connection_state_t c, amqp_envelope_t *env, long timeout_ms);

/* A property of a delivery as a fresh string ("" when absent); the caller frees it. */
char *mq_corr_id(const amqp_envelope_t *env);
char *mq_reply_to(const amqp_envelope_t *env);

/* A string property (flag: AMQP_BASIC_CORRELATION_ID_FLAG, _MESSAGE_ID_, _REPLY_TO_, _TYPE_
 * or _APP_ID_FLAG) copied into out: 0, or -1 and "" when absent or size bytes or longer. */
int mq_prop(const amqp_basic_properties_t *p, amqp_flags_t flag, char *out, size_t size);
/* A header of a delivery: 0 and the value, or -1 when absent or of another kind. */
int mq_header_int(const amqp_envelope_t *env, const char *name, int64_t *out);
/* A copy of an amqp_bytes_t as a NUL-terminated string (empty for NULL bytes). */
char *mq_bytes_dup(amqp_bytes_t b);

#endif
