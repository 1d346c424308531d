/* mq.c - librabbitmq-c made checked: every call's outcome becomes 0/-1 here, and the
 * library's reason is logged once, at this edge. */
#include "mq.h"

#include <amqp_tcp_socket.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "xalloc.h"

#define MQ_FRAME_MAX 131072

void mq_cfg_from_env(struct mq_cfg *cfg)
{
    cfg->host = config_str("AMQP_HOST", "127.0.0.1");
    cfg->port = (int)config_long("AMQP_PORT", 5672, 1, 65535);
    cfg->user = config_str("AMQP_USER", "guest");
    cfg->pass = config_str("AMQP_PASS", "guest");
    cfg->vhost = config_str("AMQP_VHOST", "/");
    cfg->heartbeat = (int)config_long("AMQP_HEARTBEAT", 10, 0, 3600);
}

int mq_check(amqp_rpc_reply_t r, const char *what)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return 0;
    case AMQP_RESPONSE_NONE:
        log_warn("amqp: %s: missing RPC reply", what);
        break;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        log_warn("amqp: %s: %s", what, amqp_error_string2(r.library_error));
        break;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *m = r.reply.decoded;
            log_warn("amqp: %s: connection closed by broker: %d %.*s", what, m->reply_code,
                     (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *m = r.reply.decoded;
            log_warn("amqp: %s: channel closed by broker: %d %.*s", what, m->reply_code,
                     (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        } else {
            log_warn("amqp: %s: broker error, method 0x%08x", what, r.reply.id);
        }
        break;
    }
    return -1;
}

int mq_check_status(int status, const char *what)
{
    if (status == AMQP_STATUS_OK)
        return 0;
    log_warn("amqp: %s: %s", what, amqp_error_string2(status));
    return -1;
}

static amqp_connection_state_t connect_once(const struct mq_cfg *cfg)
{
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *sock = amqp_tcp_socket_new(c);
    struct timeval tv = {5, 0};
    if (!sock)
        goto fail;
    if (amqp_socket_open_noblock(sock, cfg->host, cfg->port, &tv) != AMQP_STATUS_OK)
        goto fail;
    if (mq_check(amqp_login(c, cfg->vhost, 0, MQ_FRAME_MAX, cfg->heartbeat, AMQP_SASL_METHOD_PLAIN, cfg->user,
                            cfg->pass),
                 "login") < 0)
        goto fail;
    if (mq_channel_open(c, 1) < 0)
        goto fail;
    return c;
fail:
    amqp_destroy_connection(c);
    return NULL;
}

amqp_connection_state_t mq_connect(const struct mq_cfg *cfg, long retry_ms)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long backoff_ms = 100;
    for (;;) {
        amqp_connection_state_t c = connect_once(cfg);
        if (c) {
            log_info("amqp: connected to %s:%d", cfg->host, cfg->port);
            return c;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (spent + backoff_ms > retry_ms) {
            log_warn("amqp: cannot connect to %s:%d", cfg->host, cfg->port);
            return NULL;
        }
        usleep((useconds_t)backoff_ms * 1000);
        backoff_ms = backoff_ms * 2 > 2000 ? 2000 : backoff_ms * 2;
    }
}

void mq_close(amqp_connection_state_t c)
{
    if (!c)
        return;
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
}

int mq_channel_open(amqp_connection_state_t c, amqp_channel_t ch)
{
    amqp_channel_open(c, ch);
    return mq_check(amqp_get_rpc_reply(c), "channel.open");
}

int mq_queue_declare(amqp_connection_state_t c, amqp_channel_t ch, const char *name, int exclusive)
{
    amqp_queue_declare(c, ch, amqp_cstring_bytes(name), 0, !exclusive, exclusive, 0, amqp_empty_table);
    return mq_check(amqp_get_rpc_reply(c), "queue.declare");
}

char *mq_queue_declare_temp(amqp_connection_state_t c, amqp_channel_t ch)
{
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(c, ch, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    if (mq_check(amqp_get_rpc_reply(c), "queue.declare (temporary)") < 0 || !ok)
        return NULL;
    return mq_bytes_dup(ok->queue);
}

int mq_queue_delete(amqp_connection_state_t c, amqp_channel_t ch, const char *name)
{
    amqp_queue_delete(c, ch, amqp_cstring_bytes(name), 0, 0);
    return mq_check(amqp_get_rpc_reply(c), "queue.delete");
}

int mq_fanout_declare(amqp_connection_state_t c, amqp_channel_t ch, const char *name)
{
    amqp_exchange_declare(c, ch, amqp_cstring_bytes(name), amqp_cstring_bytes("fanout"), 0, 1, 0, 0,
                          amqp_empty_table);
    return mq_check(amqp_get_rpc_reply(c), "exchange.declare");
}

int mq_queue_bind(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, const char *exchange)
{
    amqp_queue_bind(c, ch, amqp_cstring_bytes(queue), amqp_cstring_bytes(exchange), amqp_empty_bytes,
                    amqp_empty_table);
    return mq_check(amqp_get_rpc_reply(c), "queue.bind");
}

int mq_qos(amqp_connection_state_t c, amqp_channel_t ch, unsigned prefetch)
{
    amqp_basic_qos(c, ch, 0, (uint16_t)prefetch, 0);
    return mq_check(amqp_get_rpc_reply(c), "basic.qos");
}

int mq_consume(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, const char *tag, int no_ack)
{
    amqp_basic_consume(c, ch, amqp_cstring_bytes(queue), tag ? amqp_cstring_bytes(tag) : amqp_empty_bytes, 0,
                       no_ack, 0, amqp_empty_table);
    return mq_check(amqp_get_rpc_reply(c), "basic.consume");
}

int mq_ack(amqp_connection_state_t c, amqp_channel_t ch, uint64_t delivery_tag)
{
    return mq_check_status(amqp_basic_ack(c, ch, delivery_tag, 0), "basic.ack");
}

static int publish(amqp_connection_state_t c, amqp_channel_t ch, const char *exchange, const char *routing_key,
                   const char *corr_id, const char *reply_to, const char *content_type, const char *message_id,
                   const void *body, size_t len)
{
    amqp_basic_properties_t props = {0};
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.delivery_mode = 1; /* transient */
    props.content_type = amqp_cstring_bytes(content_type ? content_type : "application/json");
    if (corr_id) {
        props._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
        props.correlation_id = amqp_cstring_bytes(corr_id);
    }
    if (reply_to) {
        props._flags |= AMQP_BASIC_REPLY_TO_FLAG;
        props.reply_to = amqp_cstring_bytes(reply_to);
    }
    if (message_id && *message_id) {
        props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        props.message_id = amqp_cstring_bytes(message_id);
    }
    amqp_bytes_t b = {len, (void *)body};
    return mq_check_status(amqp_basic_publish(c, ch, amqp_cstring_bytes(exchange), amqp_cstring_bytes(routing_key),
                                              0, 0, &props, b),
                           "basic.publish");
}

int mq_publish(amqp_connection_state_t c, amqp_channel_t ch, const char *exchange, const char *routing_key,
               const char *corr_id, const char *reply_to, const char *content_type, const void *body, size_t len)
{
    return publish(c, ch, exchange, routing_key, corr_id, reply_to, content_type, NULL, body, len);
}

int mq_publish_id(amqp_connection_state_t c, amqp_channel_t ch, const char *exchange, const char *routing_key,
                  const char *corr_id, const char *reply_to, const char *message_id, const void *body, size_t len)
{
    return publish(c, ch, exchange, routing_key, corr_id, reply_to, NULL, message_id, body, len);
}

int mq_confirm_select(amqp_connection_state_t c, amqp_channel_t ch)
{
    amqp_confirm_select(c, ch);
    return mq_check(amqp_get_rpc_reply(c), "confirm.select");
}

int mq_confirm_wait(amqp_connection_state_t c, amqp_channel_t ch, long timeout_ms)
{
    struct timespec deadline, now;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left_us = (deadline.tv_sec - now.tv_sec) * 1000000 + (deadline.tv_nsec - now.tv_nsec) / 1000;
        if (left_us <= 0) {
            log_warn("amqp: publisher confirm timed out after %ld ms", timeout_ms);
            return -1;
        }
        struct timeval tv = {left_us / 1000000, left_us % 1000000};
        amqp_frame_t f;
        int st = amqp_simple_wait_frame_noblock(c, &f, &tv);
        if (st == AMQP_STATUS_TIMEOUT)
            continue;
        if (st != AMQP_STATUS_OK)
            return mq_check_status(st, "waiting for a publisher confirm");
        if (f.frame_type != AMQP_FRAME_METHOD || f.channel != ch)
            continue;
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD)
            return 0;
        if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            log_warn("amqp: broker nacked a publish");
            return -1;
        }
        if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD || f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
            log_warn("amqp: channel closed while waiting for a confirm");
            return -1;
        }
    }
}

char *mq_bytes_dup(amqp_bytes_t b)
{
    if (!b.bytes)
        return xstrdup("");
    return xstrndup(b.bytes, b.len);
}
