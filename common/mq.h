/* mq.h - thin, checked helpers over librabbitmq-c (connection, topology, publish, confirms). */
#ifndef RS_MQ_H
#define RS_MQ_H

#include <amqp.h>
#include <stddef.h>

/* Well-known names of the wire protocol (docs/DESIGN.md). */
#define MQ_READ_QUEUE "readQ"
#define MQ_WRITE_QUEUE "writeQ"
#define MQ_RESPONSE_QUEUE "responseQ"
#define MQ_SYNC_EXCHANGE "syncQ"

struct mq_cfg {
    const char *host;   /* AMQP_HOST, default 127.0.0.1 */
    int port;           /* AMQP_PORT, default 5672 */
    const char *user;   /* AMQP_USER, default guest */
    const char *pass;   /* AMQP_PASS, default guest */
    const char *vhost;  /* AMQP_VHOST, default / */
    int heartbeat;      /* AMQP_HEARTBEAT seconds, default 10 */
};

void mq_cfg_from_env(struct mq_cfg *cfg);

/* Connects, logs in and opens channel 1, retrying with backoff for up to retry_ms
 * (0: one attempt). NULL on failure. */
amqp_connection_state_t mq_connect(const struct mq_cfg *cfg, long retry_ms);
/* Closes politely when possible and frees the connection; NULL is fine. */
void mq_close(amqp_connection_state_t conn);

/* 0 when the reply is normal; otherwise logs what failed and returns -1. */
int mq_check(amqp_rpc_reply_t r, const char *what);
/* 0 when status is AMQP_STATUS_OK; otherwise logs and returns -1. */
int mq_check_status(int status, const char *what);

int mq_channel_open(amqp_connection_state_t c, amqp_channel_t ch);
/* Durable, shared queue (exclusive=0) or a queue that dies with the connection (exclusive=1). */
int mq_queue_declare(amqp_connection_state_t c, amqp_channel_t ch, const char *name, int exclusive);
/* An exclusive queue with a broker-chosen name; the caller frees the name. NULL on error. */
char *mq_queue_declare_temp(amqp_connection_state_t c, amqp_channel_t ch);
int mq_queue_delete(amqp_connection_state_t c, amqp_channel_t ch, const char *name);
int mq_fanout_declare(amqp_connection_state_t c, amqp_channel_t ch, const char *name);
int mq_queue_bind(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, const char *exchange);
int mq_qos(amqp_connection_state_t c, amqp_channel_t ch, unsigned prefetch);
/* Starts a consumer; tag may be NULL for a broker-chosen one. */
int mq_consume(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, const char *tag, int no_ack);
int mq_ack(amqp_connection_state_t c, amqp_channel_t ch, uint64_t delivery_tag);

/* Publishes a transient message. corr_id, reply_to and content_type may be NULL. */
int mq_publish(amqp_connection_state_t c, amqp_channel_t ch, const char *exchange, const char *routing_key,
               const char *corr_id, const char *reply_to, const char *content_type, const void *body, size_t len);

/* The same with a message id too (the request id, for the consumer's log lines);
 * message_id may be NULL. */
int mq_publish_id(amqp_connection_state_t c, amqp_channel_t ch, const char *exchange, const char *routing_key,
                  const char *corr_id, const char *reply_to, const char *message_id, const void *body, size_t len);

/* Puts ch in confirm mode. */
int mq_confirm_select(amqp_connection_state_t c, amqp_channel_t ch);
/* Waits for the broker's basic.ack on ch (after a publish on a confirm channel).
 * Only confirms may arrive meanwhile (use it on a connection with nothing else unacked).
 * 0 acked, -1 nacked, timed out or connection error. */
int mq_confirm_wait(amqp_connection_state_t c, amqp_channel_t ch, long timeout_ms);

/* A copy of an amqp_bytes_t as a NUL-terminated string (empty for NULL bytes). */
char *mq_bytes_dup(amqp_bytes_t b);

#endif
