/* wire.c - the fleet's wire protocol (see wire.h): each message's builder beside its
 * parser, so the two sides cannot drift apart. */
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "jsonx.h"
#include "log.h"
#include "xalloc.h"

#define WIRE_STATUS_MAX 16 /* "200", as the AMQP type of an answer */

/* ---- topology ---- */

int wire_declare_topology(amqp_connection_state_t c, amqp_channel_t ch, const struct mq_cfg *cfg)
{
    const char *t = cfg->queue_type;
    if (mq_queue_declare(c, ch, WIRE_READ_QUEUE, t) < 0 || mq_queue_declare(c, ch, WIRE_WRITE_QUEUE, t) < 0 ||
        mq_queue_declare(c, ch, WIRE_RESPONSE_QUEUE, t) < 0 || mq_fanout_declare(c, ch, WIRE_SYNC_EXCHANGE) < 0)
        return -1;
    return 0;
}

char *wire_declare_sync_queue(amqp_connection_state_t c, amqp_channel_t ch)
{
    char *name = mq_queue_declare_temp(c, ch);
    if (name && mq_queue_bind(c, ch, name, WIRE_SYNC_EXCHANGE) < 0) {
        free(name);
        return NULL;
    }
    return name;
}

/* Encodes msg (stolen) as the text of a message. */
static char *dump(json_t *msg)
{
    char *text = jsonx_dump(msg);
    json_decref(msg);
    return text;
}

/* ---- reads ---- */

char *wire_read_build(const json_t *request, int64_t min_seq)
{
    return dump(json_pack("{s:I,s:O}", "min_seq", (json_int_t)min_seq, "request", request));
}

int wire_read_parse(const amqp_bytes_t *body, struct wire_read *out, char *err, size_t errlen)
{
    json_int_t min_seq = 0;
    memset(out, 0, sizeof *out);
    json_t *msg = jsonx_parse(body->bytes, body->len, err, errlen);
    const json_t *request = json_object_get(msg, "request");
    if (!json_is_object(msg) || !request || jsonx_get_int(msg, "min_seq", &min_seq) == -2) {
        if (msg)
            snprintf(err, errlen, "a read message needs a \"request\" and an integer \"min_seq\"");
        json_decref(msg);
        return -1;
    }
    *out = (struct wire_read){.msg = msg, .request = request, .min_seq = min_seq};
    return 0;
}

/* ---- writes ---- */

char *wire_write_build(const struct wire_write *w)
{
    json_t *msg = json_object();
    if (w->request)
        json_object_set(msg, "request", (json_t *)w->request);
    else
        json_object_set_new(msg, "clear", json_true());
    if (w->key)
        json_object_set_new(msg, "key", json_string(w->key));
    if (w->hash)
        json_object_set_new(msg, "hash", json_string(w->hash));
    if (w->deadline)
        json_object_set_new(msg, "deadline", json_integer(w->deadline));
    return dump(msg);
}

int wire_write_parse(const amqp_bytes_t *body, struct wire_write_msg *out, char *err, size_t errlen)
{
    json_int_t deadline = 0, asked = 0;
    memset(out, 0, sizeof *out);
    out->w.hash = "";
    out->msg = jsonx_parse(body->bytes, body->len, err, errlen);
    if (!json_is_object(out->msg)) {
        if (out->msg)
            snprintf(err, errlen, "a write message must be a JSON object");
        return -1;
    }
    if (json_is_true(json_object_get(out->msg, "snapshot"))) {
        out->kind = WIRE_SNAPSHOT;
        jsonx_get_int(out->msg, "asked", &asked);
        out->asked = asked;
        return 0;
    }
    if (jsonx_get_str(out->msg, "key", &out->w.key) == 0)
        jsonx_get_str(out->msg, "hash", &out->w.hash);
    else
        out->w.key = NULL;
    jsonx_get_int(out->msg, "deadline", &deadline);
    out->w.deadline = deadline;
    out->kind = json_is_true(json_object_get(out->msg, "clear")) ? WIRE_CLEAR : WIRE_WRITE;
    if (out->kind == WIRE_CLEAR)
        return 0;
    out->w.request = json_object_get(out->msg, "request");
    if (out->w.request)
        return 0;
    snprintf(err, errlen, "a write message needs \"request\", \"clear\" or \"snapshot\"");
    return -1;
}

void wire_write_id(const struct wire_write *w, const amqp_envelope_t *env, char out[WIRE_WRITE_ID_MAX])
{
    if (w->key) {
        snprintf(out, WIRE_WRITE_ID_MAX, "k:%.160s", w->key);
        return;
    }
    char *corr = mq_corr_id(env);
    snprintf(out, WIRE_WRITE_ID_MAX, "%s", corr);
    free(corr);
}

json_t *wire_write_answer(const struct rpc_answer *a, int64_t *seq)
{
    json_t *res = json_loadb(a->body, a->len, 0, NULL);
    json_int_t n = 0;
    *seq = 0;
    if (!json_is_object(res)) {
        json_decref(res);
        return json_object();
    }
    if (jsonx_get_int(res, "seq", &n) == 0) {
        *seq = n;
        json_object_del(res, "seq");
    }
    return res;
}

/* ---- sync ---- */

static json_t *sync_write_json(const struct wire_sync_write *w)
{
    json_t *o = json_pack("{s:I,s:s,s:I}", "seq", (json_int_t)w->seq, "id", w->id, "at", (json_int_t)w->at);
    if (w->request)
        json_object_set(o, "request", (json_t *)w->request);
    else
        json_object_set_new(o, "clear", json_true());
    if (w->hash && w->hash[0])
        json_object_set_new(o, "hash", json_string(w->hash));
    return o;
}

static int publish_sync_text(amqp_connection_state_t c, amqp_channel_t ch, json_t *msg)
{
    char *text = dump(msg);
    struct mq_msg m = {.exchange = WIRE_SYNC_EXCHANGE, .routing_key = "", .body = text, .len = strlen(text)};
    int rc = mq_publish_msg(c, ch, &m);
    free(text);
    return rc;
}

int wire_sync_publish_batch(amqp_connection_state_t c, amqp_channel_t ch, int64_t term,
                            const struct wire_sync_write *writes, size_t n)
{
    if (n == 0)
        return 0;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, sync_write_json(&writes[i]));
    int rc = publish_sync_text(c, ch, json_pack("{s:I,s:o}", "term", (json_int_t)term, "writes", arr));
    return rc < 0 ? rc : 1;
}

int wire_sync_publish(amqp_connection_state_t c, amqp_channel_t ch, const struct wire_sync *s)
{
    if (s->kind == WIRE_SYNC_MARKER)
        return publish_sync_text(c, ch, json_pack("{s:s}", "marker", s->marker));
    return publish_sync_text(
        c, ch, json_pack("{s:I,s:I,s:b}", "term", (json_int_t)s->term, "seq", (json_int_t)s->seq, "begin", 1));
}

/* A batch or a begin marker of msg (an object with an integer term) into out. */
static int sync_numbered(const json_t *msg, struct wire_sync *out)
{
    json_int_t term, seq;
    if (jsonx_get_int(msg, "term", &term) < 0)
        return -1;
    const json_t *writes = json_object_get(msg, "writes");
    if (json_is_array(writes)) {
        *out = (struct wire_sync){.kind = WIRE_SYNC_BATCH, .term = term, .writes = writes,
                                  .nwrites = json_array_size(writes)};
        return 0;
    }
    if (!json_is_true(json_object_get(msg, "begin"))) { /* one write, the message itself */
        *out = (struct wire_sync){.kind = WIRE_SYNC_BATCH, .term = term, .writes = msg, .nwrites = 1};
        return 0;
    }
    if (jsonx_get_int(msg, "seq", &seq) < 0)
        return -1;
    *out = (struct wire_sync){.kind = WIRE_SYNC_BEGIN, .term = term, .seq = seq};
    return 0;
}

int wire_sync_parse(const amqp_bytes_t *body, struct wire_sync *out, json_t **owner)
{
    memset(out, 0, sizeof *out);
    *owner = json_loadb(body->bytes, body->len, 0, NULL);
    if (!json_is_object(*owner)) {
        log_warn("wire: ignoring a sync message that is not a JSON object");
    } else if (jsonx_get_str(*owner, "marker", &out->marker) == 0) {
        out->kind = WIRE_SYNC_MARKER;
        return 0;
    } else if (sync_numbered(*owner, out) == 0) {
        return 0;
    } else {
        log_warn("wire: ignoring a malformed sync message");
    }
    json_decref(*owner);
    *owner = NULL;
    return -1;
}

int wire_sync_write_at(const struct wire_sync *s, size_t i, struct wire_sync_write *out)
{
    const json_t *w = json_is_array(s->writes) ? json_array_get(s->writes, i) : s->writes;
    json_int_t seq, at = 0;
    *out = (struct wire_sync_write){.id = "", .hash = ""};
    if (jsonx_get_int(w, "seq", &seq) < 0) {
        log_warn("wire: ignoring a sync message without a seq");
        return -1;
    }
    out->seq = seq;
    out->request = json_object_get(w, "request");
    out->clear = !out->request && json_is_true(json_object_get(w, "clear"));
    jsonx_get_str(w, "id", &out->id);
    jsonx_get_str(w, "hash", &out->hash);
    jsonx_get_int(w, "at", &at);
    out->at = at;
    return 0;
}

/* ---- snapshots ---- */

int wire_snapshot_ask(amqp_connection_state_t c, amqp_channel_t ch, const char *corr, const char *reply_to,
                      long expiration_ms)
{
    char *text = dump(json_pack("{s:b,s:I}", "snapshot", 1, "asked", (json_int_t)clock_wall_ms()));
    struct mq_msg m = {.routing_key = WIRE_WRITE_QUEUE, .corr_id = corr, .reply_to = reply_to,
                       .expiration_ms = expiration_ms, .body = text, .len = strlen(text)};
    int rc = mq_publish_msg(c, ch, &m);
    free(text);
    return rc;
}

int wire_chunk_publish(amqp_connection_state_t c, amqp_channel_t ch, const char *reply_to, const char *corr,
                       const struct wire_chunk *chunk, const void *buf, size_t len)
{
    const struct mq_header hdr[] = {
        {"seq", chunk->seq}, {"term", chunk->term}, {"chunk", chunk->index}, {"chunks", chunk->count}};
    struct mq_msg m = {.routing_key = reply_to, .corr_id = corr, .content_type = WIRE_SQLITE_TYPE, .headers = hdr,
                       .nheaders = sizeof hdr / sizeof hdr[0], .body = buf, .len = len};
    return mq_publish_msg(c, ch, &m);
}

int wire_chunk_parse(const amqp_envelope_t *env, struct wire_chunk *out)
{
    const amqp_basic_properties_t *p = &env->message.properties;
    if (!(p->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG) || p->content_type.len != strlen(WIRE_SQLITE_TYPE) ||
        memcmp(p->content_type.bytes, WIRE_SQLITE_TYPE, p->content_type.len) != 0)
        return -1;
    if (mq_header_int(env, "seq", &out->seq) < 0 || mq_header_int(env, "term", &out->term) < 0 ||
        mq_header_int(env, "chunk", &out->index) < 0 || mq_header_int(env, "chunks", &out->count) < 0)
        return -1;
    return 0;
}

/* ---- answers ---- */

int wire_answer(amqp_connection_state_t c, amqp_channel_t ch, const amqp_envelope_t *env, const char *worker_id,
                json_t *answer)
{
    char *reply_to = mq_reply_to(env);
    char *corr = mq_corr_id(env);
    int rc = 0;
    if (reply_to[0]) {
        json_int_t status = 500;
        jsonx_get_int(answer, "status", &status);
        json_t *body = status == 200 ? json_incref(json_object_get(answer, "body")) : NULL;
        if (!body) {
            const char *msg = "the worker could not answer";
            jsonx_get_str(answer, "error", &msg);
            body = json_pack("{s:s}", "error", msg);
        }
        char *text = dump(body), type[WIRE_STATUS_MAX];
        snprintf(type, sizeof type, "%d", (int)status);
        struct mq_msg m = {.routing_key = reply_to, .corr_id = corr, .body = text, .len = strlen(text),
                           .type = type, .app_id = worker_id};
        rc = mq_publish_msg(c, ch, &m);
        free(text);
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

int wire_answer_status(const struct rpc_answer *a)
{
    return a->type[0] ? atoi(a->type) : 0;
}

void wire_answer_refusal(const struct rpc_answer *a, char *out, size_t size)
{
    json_t *body = json_loadb(a->body, a->len, 0, NULL);
    const char *msg = "the request was refused";
    jsonx_get_str(body, "error", &msg);
    snprintf(out, size, "%s", msg);
    json_decref(body);
}
