/* mq.c - librabbitmq-c made checked: every call's outcome becomes 0/-1 here, and the
 * library's reason is logged once, at this edge. */
#include "mq.h"

#include "clock.h"

#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "xalloc.h"

#define MQ_FRAME_MAX 131072
#define MQ_NAP_SLICE_MS 50
#define MQ_WARN_EVERY_MS 10000 /* while a broker stays away, one warning this often */

void mq_cfg_from_env(struct mq_cfg *cfg)
{
    cfg->host = config_str("AMQP_HOST", "127.0.0.1");
    cfg->port = (int)config_long("AMQP_PORT", 5672, 1, 65535);
    cfg->user = config_str("AMQP_USER", "guest");
    cfg->pass = config_str("AMQP_PASS", "guest");
    cfg->vhost = config_str("AMQP_VHOST", "/");
    cfg->heartbeat = (int)config_long("AMQP_HEARTBEAT", 10, 0, 3600);
    cfg->queue_type = config_str("AMQP_QUEUE_TYPE", NULL);
    cfg->declare = NULL;
    cfg->backoff_max_ms = 0;
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

static amqp_connection_state_t connect_once(const struct mq_cfg *cfg, const char *host)
{
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *sock = amqp_tcp_socket_new(c);
    struct timeval tv = {5, 0};
    if (!sock)
        goto fail;
    if (amqp_socket_open_noblock(sock, host, cfg->port, &tv) != AMQP_STATUS_OK)
        goto fail;
    if (mq_check(amqp_login(c, cfg->vhost, 0, MQ_FRAME_MAX, cfg->heartbeat, AMQP_SASL_METHOD_PLAIN, cfg->user,
                            cfg->pass),
                 "login") < 0)
        goto fail;
    if (mq_channel_open(c, 1) < 0 || (cfg->declare && cfg->declare(c, 1, cfg) < 0))
        goto fail;
    return c;
fail:
    amqp_destroy_connection(c);
    return NULL;
}

/* Sleeps ms in short slices, so that a stop is seen at once. */
static void nap(long ms, const atomic_int *stop)
{
    for (long left = ms; left > 0 && !atomic_load(stop); left -= MQ_NAP_SLICE_MS)
        usleep((useconds_t)(left < MQ_NAP_SLICE_MS ? left : MQ_NAP_SLICE_MS) * 1000);
}

/* Each host of the comma-separated list cfg->host in turn (a cluster's nodes); the first
 * that takes us wins. */
static amqp_connection_state_t connect_any(const struct mq_cfg *cfg)
{
    for (const char *h = cfg->host; *h;) {
        size_t n = strcspn(h, ",");
        char *host = xstrndup(h, n);
        amqp_connection_state_t c = *host ? connect_once(cfg, host) : NULL;
        if (c)
            log_info("amqp: connected to %s:%d", host, cfg->port);
        free(host);
        if (c)
            return c;
        h += n + (h[n] == ',');
    }
    return NULL;
}

amqp_connection_state_t mq_connect(const struct mq_cfg *cfg, const atomic_int *stop)
{
    long backoff_ms = MQ_BACKOFF_FIRST_MS, most = cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms : MQ_BACKOFF_MAX_MS;
    int64_t warned_ms = 0;
    while (!atomic_load(stop)) {
        amqp_connection_state_t c = connect_any(cfg);
        if (c)
            return c;
        if (!warned_ms || clock_mono_ms() - warned_ms >= MQ_WARN_EVERY_MS) { /* a broker down for long */
            log_warn("amqp: cannot connect to %s:%d; retrying", cfg->host, cfg->port);
            warned_ms = clock_mono_ms();
        }
        nap(backoff_ms, stop);
        backoff_ms = backoff_ms * 2 > most ? most : backoff_ms * 2;
    }
    return NULL;
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

int mq_queue_declare(amqp_connection_state_t c, amqp_channel_t ch, const char *name, const char *type)
{
    amqp_table_entry_t arg = {.key = amqp_cstring_bytes("x-queue-type")};
    arg.value.kind = AMQP_FIELD_KIND_UTF8;
    arg.value.value.bytes = amqp_cstring_bytes(type ? type : "");
    amqp_table_t args = type ? (amqp_table_t){1, &arg} : amqp_empty_table;
    amqp_queue_declare(c, ch, amqp_cstring_bytes(name), 0, 1, 0, 0, args);
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

int mq_consume_exclusive(amqp_connection_state_t c, amqp_channel_t ch, const char *queue)
{
    amqp_basic_consume(c, ch, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 1, amqp_empty_table);
    return mq_check(amqp_get_rpc_reply(c), "basic.consume (exclusive)");
}

int mq_queue_consumers(amqp_connection_state_t c, amqp_channel_t ch, const char *queue)
{
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(c, ch, amqp_cstring_bytes(queue), 1, 0, 0, 0, amqp_empty_table);
    if (mq_check(amqp_get_rpc_reply(c), "queue.declare (passive)") < 0 || !ok)
        return -1;
    return (int)ok->consumer_count;
}

int mq_ack(amqp_connection_state_t c, amqp_channel_t ch, uint64_t delivery_tag)
{
    return mq_check_status(amqp_basic_ack(c, ch, delivery_tag, 0), "basic.ack");
}

/* The optional string properties of m into props. */
static void set_strings(amqp_basic_properties_t *props, const struct mq_msg *m)
{
    const struct {
        const char *value;
        amqp_flags_t flag;
        amqp_bytes_t *field;
    } strs[] = {
        {m->corr_id, AMQP_BASIC_CORRELATION_ID_FLAG, &props->correlation_id},
        {m->reply_to, AMQP_BASIC_REPLY_TO_FLAG, &props->reply_to},
        {m->message_id && *m->message_id ? m->message_id : NULL, AMQP_BASIC_MESSAGE_ID_FLAG, &props->message_id},
        {m->type, AMQP_BASIC_TYPE_FLAG, &props->type},
        {m->app_id, AMQP_BASIC_APP_ID_FLAG, &props->app_id},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (!strs[i].value)
            continue;
        props->_flags |= strs[i].flag;
        *strs[i].field = amqp_cstring_bytes(strs[i].value);
    }
}

int mq_publish_msg(amqp_connection_state_t c, amqp_channel_t ch, const struct mq_msg *m)
{
    amqp_basic_properties_t props = {0};
    amqp_table_entry_t hdr[MQ_HEADERS_MAX];
    char expiration[24];
    if (m->nheaders > MQ_HEADERS_MAX) {
        log_error("amqp: a message with %zu headers (at most %d)", m->nheaders, MQ_HEADERS_MAX);
        return -1;
    }
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.delivery_mode = 1; /* transient: every queue but the durable ones is per-connection */
    props.content_type = amqp_cstring_bytes(m->content_type ? m->content_type : "application/json");
    set_strings(&props, m);
    if (m->expiration_ms > 0) {
        snprintf(expiration, sizeof expiration, "%ld", m->expiration_ms);
        props._flags |= AMQP_BASIC_EXPIRATION_FLAG;
        props.expiration = amqp_cstring_bytes(expiration);
    }
    for (size_t i = 0; i < m->nheaders; i++) {
        hdr[i].key = amqp_cstring_bytes(m->headers[i].name);
        hdr[i].value.kind = AMQP_FIELD_KIND_I64;
        hdr[i].value.value.i64 = m->headers[i].value;
    }
    if (m->nheaders) {
        props._flags |= AMQP_BASIC_HEADERS_FLAG;
        props.headers.num_entries = (int)m->nheaders;
        props.headers.entries = hdr;
    }
    amqp_bytes_t b = {m->len, (void *)m->body};
    return mq_check_status(amqp_basic_publish(c, ch, amqp_cstring_bytes(m->exchange ? m->exchange : ""),
                                              amqp_cstring_bytes(m->routing_key), 0, 0, &props, b),
                           "basic.publish");
}

int mq_confirm_select(amqp_connection_state_t c, amqp_channel_t ch)
{
    amqp_confirm_select(c, ch);
    return mq_check(amqp_get_rpc_reply(c), "confirm.select");
}

/* Marks the tags a basic.ack covers; -1 for a nack or a closed channel, 1 when it was a
 * frame of no interest. */
static int confirm_frame(const amqp_frame_t *f, amqp_channel_t ch, uint64_t first, unsigned char *acked, size_t n)
{
    if (f->frame_type != AMQP_FRAME_METHOD || f->channel != ch)
        return 1;
    switch (f->payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
        const amqp_basic_ack_t *a = f->payload.method.decoded;
        uint64_t lo = a->multiple ? first : a->delivery_tag;
        for (uint64_t t = lo; t <= a->delivery_tag && t >= first && t - first < n; t++)
            acked[t - first] = 1;
        return 0;
    }
    case AMQP_BASIC_NACK_METHOD:
        log_warn("amqp: broker nacked a publish");
        return -1;
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD:
        log_warn("amqp: channel closed while waiting for a confirm");
        return -1;
    default:
        return 1;
    }
}

static int all_set(const unsigned char *acked, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!acked[i])
            return 0;
    return 1;
}

int mq_confirm_wait_range(amqp_connection_state_t c, amqp_channel_t ch, uint64_t first, uint64_t last,
                          long timeout_ms)
{
    size_t n = (size_t)(last - first + 1);
    unsigned char *acked = xcalloc(n, 1);
    struct timespec deadline;
    clock_deadline(&deadline, timeout_ms);
    int rc = 0;
    while (rc == 0 && !all_set(acked, n)) {
        long left_us = clock_ms_until(&deadline) * 1000;
        if (left_us <= 0) {
            log_warn("amqp: publisher confirms timed out after %ld ms", timeout_ms);
            rc = -1;
            break;
        }
        struct timeval tv = {left_us / 1000000, left_us % 1000000};
        amqp_frame_t f;
        int st = amqp_simple_wait_frame_noblock(c, &f, &tv);
        if (st == AMQP_STATUS_TIMEOUT)
            continue;
        if (st != AMQP_STATUS_OK)
            rc = mq_check_status(st, "waiting for publisher confirms");
        else if (confirm_frame(&f, ch, first, acked, n) < 0)
            rc = -1;
    }
    free(acked);
    return rc;
}

int mq_keepalive(amqp_connection_state_t c)
{
    amqp_frame_t f;
    struct timeval zero = {0, 0};
    int st = amqp_simple_wait_frame_noblock(c, &f, &zero);
    if (st == AMQP_STATUS_OK || st == AMQP_STATUS_TIMEOUT)
        return 0;
    return mq_check_status(st, "keeping a connection alive");
}

char *mq_bytes_dup(amqp_bytes_t b)
{
    if (!b.bytes)
        return xstrdup("");
    return xstrndup(b.bytes, b.len);
}

int mq_prop(const amqp_basic_properties_t *p, amqp_flags_t flag, char *out, size_t size)
{
    const amqp_bytes_t *b = NULL;
    switch (flag) {
    case AMQP_BASIC_CORRELATION_ID_FLAG: b = &p->correlation_id; break;
    case AMQP_BASIC_MESSAGE_ID_FLAG: b = &p->message_id; break;
    case AMQP_BASIC_REPLY_TO_FLAG: b = &p->reply_to; break;
    case AMQP_BASIC_TYPE_FLAG: b = &p->type; break;
    case AMQP_BASIC_APP_ID_FLAG: b = &p->app_id; break;
    default: break;
    }
    out[0] = '\0';
    if (!b || !(p->_flags & flag) || b->len >= size)
        return -1;
    memcpy(out, b->bytes, b->len);
    out[b->len] = '\0';
    return 0;
}

/* A frame that is not a delivery arrived: read it and decide whether the connection lives. */
static int non_delivery_frame(amqp_connection_state_t c)
{
    amqp_frame_t f;
    struct timeval tv = {0, 0};
    int st = amqp_simple_wait_frame_noblock(c, &f, &tv);
    if (st == AMQP_STATUS_TIMEOUT)
        return 0;
    if (st != AMQP_STATUS_OK)
        return mq_check_status(st, "reading a frame");
    if (f.frame_type != AMQP_FRAME_METHOD)
        return 0;
    switch (f.payload.method.id) {
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD:
        log_warn("amqp: the broker closed channel %u", (unsigned)f.channel);
        return -1;
    case AMQP_BASIC_CANCEL_METHOD: /* our queue vanished under a consumer */
        log_warn("amqp: the broker cancelled a consumer on channel %u", (unsigned)f.channel);
        return -1;
    default: /* a late publisher confirm or a returned message: nothing to do */
        return 0;
    }
}

int mq_recv(amqp_connection_state_t c, amqp_envelope_t *env, long timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    amqp_maybe_release_buffers(c);
    amqp_rpc_reply_t r = amqp_consume_message(c, env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        /* the request id the publisher sent as message id: on every line this causes */
        char id[LOG_REQUEST_ID_MAX];
        mq_prop(&env->message.properties, AMQP_BASIC_MESSAGE_ID_FLAG, id, sizeof id);
        log_set_request_id(id);
        return 1;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
        if (r.library_error == AMQP_STATUS_TIMEOUT)
            return 0;
        if (r.library_error == AMQP_STATUS_UNEXPECTED_STATE)
            return non_delivery_frame(c);
    }
    mq_check(r, "consume");
    return -1;
}

char *mq_corr_id(const amqp_envelope_t *env)
{
    const amqp_basic_properties_t *p = &env->message.properties;
    return p->_flags & AMQP_BASIC_CORRELATION_ID_FLAG ? mq_bytes_dup(p->correlation_id) : xstrdup("");
}

char *mq_reply_to(const amqp_envelope_t *env)
{
    const amqp_basic_properties_t *p = &env->message.properties;
    return p->_flags & AMQP_BASIC_REPLY_TO_FLAG ? mq_bytes_dup(p->reply_to) : xstrdup("");
}

static const amqp_field_value_t *find_header(const amqp_envelope_t *env, const char *name)
{
    const amqp_basic_properties_t *p = &env->message.properties;
    if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
        return NULL;
    size_t n = strlen(name);
    for (int i = 0; i < p->headers.num_entries; i++) {
        const amqp_table_entry_t *e = &p->headers.entries[i];
        if (e->key.len == n && memcmp(e->key.bytes, name, n) == 0)
            return &e->value;
    }
    return NULL;
}

int mq_header_int(const amqp_envelope_t *env, const char *name, int64_t *out)
{
    const amqp_field_value_t *v = find_header(env, name);
    if (!v)
        return -1;
    switch (v->kind) { /* other clients pick other widths for the same number */
    case AMQP_FIELD_KIND_I8: *out = v->value.i8; return 0;
    case AMQP_FIELD_KIND_U8: *out = v->value.u8; return 0;
    case AMQP_FIELD_KIND_I16: *out = v->value.i16; return 0;
    case AMQP_FIELD_KIND_U16: *out = v->value.u16; return 0;
    case AMQP_FIELD_KIND_I32: *out = v->value.i32; return 0;
    case AMQP_FIELD_KIND_U32: *out = v->value.u32; return 0;
    case AMQP_FIELD_KIND_I64: *out = v->value.i64; return 0;
    case AMQP_FIELD_KIND_U64: *out = (int64_t)v->value.u64; return 0;
    default: return -1;
    }
}
