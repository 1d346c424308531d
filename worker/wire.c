/* wire.c - connecting, receiving and answering on RabbitMQ for the worker's single-threaded
 * loops. librabbitmq failures become -1 here and are logged once. */
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsonx.h"
#include "log.h"
#include "xalloc.h"

#define WIRE_BACKOFF_MAX_MS 5000

int64_t wire_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps ms in short slices so a stop request is seen quickly. */
static void nap(const struct worker_ctx *w, long ms)
{
    for (long left = ms; left > 0 && !*w->stop; left -= 100)
        usleep((useconds_t)(left < 100 ? left : 100) * 1000);
}

amqp_connection_state_t wire_connect(const struct worker_ctx *w)
{
    long backoff = 200;
    while (!*w->stop) {
        amqp_connection_state_t c = mq_connect(&w->mq, 0);
        if (c)
            return c;
        nap(w, backoff);
        backoff = backoff * 2 > WIRE_BACKOFF_MAX_MS ? WIRE_BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
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

int wire_recv(amqp_connection_state_t c, amqp_envelope_t *env, long timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    amqp_maybe_release_buffers(c);
    amqp_rpc_reply_t r = amqp_consume_message(c, env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        /* the request id the orchestrator sent as message id: on every line this causes */
        const amqp_basic_properties_t *p = &env->message.properties;
        char id[48] = "";
        if ((p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) && p->message_id.len < sizeof id) {
            memcpy(id, p->message_id.bytes, p->message_id.len);
            id[p->message_id.len] = '\0';
        }
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

char *wire_corr_id(const amqp_envelope_t *env)
{
    const amqp_basic_properties_t *p = &env->message.properties;
    return p->_flags & AMQP_BASIC_CORRELATION_ID_FLAG ? mq_bytes_dup(p->correlation_id) : xstrdup("");
}

char *wire_reply_to(const amqp_envelope_t *env)
{
    const amqp_basic_properties_t *p = &env->message.properties;
    return p->_flags & AMQP_BASIC_REPLY_TO_FLAG ? mq_bytes_dup(p->reply_to) : xstrdup("");
}

int wire_answer(amqp_connection_state_t c, amqp_channel_t ch, const amqp_envelope_t *env, const char *worker_id,
                json_t *answer)
{
    char *reply_to = wire_reply_to(env);
    char *corr = wire_corr_id(env);
    int rc = 0;
    if (reply_to[0]) {
        /* On the wire the status and the worker ride in the properties and the body is the
         * answer itself, so the orchestrator can pass rows on without parsing them. */
        json_int_t status = 500;
        jsonx_get_int(answer, "status", &status);
        json_t *body = status == 200 ? json_incref(json_object_get(answer, "body")) : NULL;
        if (!body) {
            const char *msg = "the worker could not answer";
            jsonx_get_str(answer, "error", &msg);
            body = json_pack("{s:s}", "error", msg);
        }
        char *text = jsonx_dump(body), type[16];
        snprintf(type, sizeof type, "%d", (int)status);
        struct wire_msg m = {.exchange = "", .routing_key = reply_to, .corr_id = corr, .body = text,
                             .len = strlen(text), .content_type = "application/json", .type = type,
                             .app_id = worker_id};
        rc = wire_publish(c, ch, &m);
        free(text);
        json_decref(body);
    }
    free(reply_to);
    free(corr);
    return rc;
}

int wire_answer_ok(amqp_connection_state_t c, amqp_channel_t ch, const amqp_envelope_t *env,
                   const char *worker_id, json_t *body)
{
    json_t *a = json_pack("{s:i,s:o}", "status", 200, "body", body);
    int rc = wire_answer(c, ch, env, worker_id, a);
    json_decref(a);
    return rc;
}

int wire_answer_error(amqp_connection_state_t c, amqp_channel_t ch, const amqp_envelope_t *env,
                      const char *worker_id, int status, const char *msg)
{
    json_t *a = json_pack("{s:i,s:s}", "status", status, "error", msg);
    log_info("refused a request with %d: %s", status, msg);
    int rc = wire_answer(c, ch, env, worker_id, a);
    json_decref(a);
    return rc;
}

int wire_publish(amqp_connection_state_t c, amqp_channel_t ch, const struct wire_msg *m)
{
    amqp_basic_properties_t props = {0};
    amqp_table_entry_t hdr[2];
    char expiration[32];
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.delivery_mode = 1; /* transient: every queue but the durable ones is per-connection */
    if (m->corr_id) {
        props._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
        props.correlation_id = amqp_cstring_bytes(m->corr_id);
    }
    if (m->reply_to) {
        props._flags |= AMQP_BASIC_REPLY_TO_FLAG;
        props.reply_to = amqp_cstring_bytes(m->reply_to);
    }
    props._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.content_type = amqp_cstring_bytes(m->content_type ? m->content_type : "application/json");
    if (m->type) {
        props._flags |= AMQP_BASIC_TYPE_FLAG;
        props.type = amqp_cstring_bytes(m->type);
    }
    if (m->app_id) {
        props._flags |= AMQP_BASIC_APP_ID_FLAG;
        props.app_id = amqp_cstring_bytes(m->app_id);
    }
    if (m->expiration_ms > 0) {
        snprintf(expiration, sizeof expiration, "%ld", m->expiration_ms);
        props._flags |= AMQP_BASIC_EXPIRATION_FLAG;
        props.expiration = amqp_cstring_bytes(expiration);
    }
    if (m->epoch) {
        hdr[0].key = amqp_cstring_bytes("seq");
        hdr[0].value.kind = AMQP_FIELD_KIND_I64;
        hdr[0].value.value.i64 = m->seq;
        hdr[1].key = amqp_cstring_bytes("epoch");
        hdr[1].value.kind = AMQP_FIELD_KIND_UTF8;
        hdr[1].value.value.bytes = amqp_cstring_bytes(m->epoch);
        props._flags |= AMQP_BASIC_HEADERS_FLAG;
        props.headers.num_entries = 2;
        props.headers.entries = hdr;
    }
    amqp_bytes_t body = {m->len, (void *)m->body};
    return mq_check_status(amqp_basic_publish(c, ch, amqp_cstring_bytes(m->exchange),
                                              amqp_cstring_bytes(m->routing_key), 0, 0, &props, body),
                           "basic.publish");
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

int wire_header_int(const amqp_envelope_t *env, const char *name, int64_t *out)
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

int wire_header_str(const amqp_envelope_t *env, const char *name, char *buf, size_t len)
{
    const amqp_field_value_t *v = find_header(env, name);
    if (!v || (v->kind != AMQP_FIELD_KIND_UTF8 && v->kind != AMQP_FIELD_KIND_BYTES) || len == 0)
        return -1;
    size_t n = v->value.bytes.len < len - 1 ? v->value.bytes.len : len - 1;
    memcpy(buf, v->value.bytes.bytes, n);
    buf[n] = '\0';
    return 0;
}
