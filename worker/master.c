/* master.c - the master's loop: one connection, writeQ consumed with prefetch 1 on channel
 * 1, sync messages published on channel 2 in confirm mode. With one write unacked at a
 * time, nothing but confirms can arrive while we wait for one. */
#include "master.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonx.h"
#include "log.h"
#include "query.h"
#include "sync.h"
#include "wire.h"
#include "xalloc.h"

#define CH_WRITES 1
#define CH_SYNC 2
#define CONFIRM_TIMEOUT_MS 5000
#define RECV_TIMEOUT_MS 250

struct master {
    store *s;
    const struct worker_ctx *w;
    amqp_connection_state_t c;
    char epoch[SYNC_EPOCH_MAX];
    int64_t applied;
};

/* Publishes one sync message and waits for the broker to take it. -1 means the
 * connection cannot be trusted: reconnect. */
static int publish_sync(struct master *m, json_t *msg)
{
    char *text = jsonx_dump(msg);
    struct wire_msg wm = {.exchange = MQ_SYNC_EXCHANGE, .routing_key = "", .body = text, .len = strlen(text)};
    int rc = wire_publish(m->c, CH_SYNC, &wm);
    free(text);
    if (rc == 0)
        rc = mq_confirm_wait(m->c, CH_SYNC, CONFIRM_TIMEOUT_MS);
    return rc;
}

static int publish_begin(struct master *m)
{
    json_t *msg = json_pack("{s:s,s:I,s:b}", "epoch", m->epoch, "seq", (json_int_t)m->applied, "begin", 1);
    int rc = publish_sync(m, msg);
    json_decref(msg);
    return rc;
}

/* The sync message of a write: request (borrowed) or clear when request is NULL. */
static int publish_write(struct master *m, int64_t seq, const char *id, json_t *request)
{
    json_t *msg = json_pack("{s:s,s:I,s:s}", "epoch", m->epoch, "seq", (json_int_t)seq, "id", id);
    if (request)
        json_object_set(msg, "request", request);
    else
        json_object_set_new(msg, "clear", json_true());
    int rc = publish_sync(m, msg);
    json_decref(msg);
    return rc;
}

static int setup(struct master *m)
{
    amqp_connection_state_t c = m->c;
    if (mq_queue_declare(c, CH_WRITES, MQ_READ_QUEUE, 0) < 0 || mq_queue_declare(c, CH_WRITES, MQ_WRITE_QUEUE, 0) < 0 ||
        mq_queue_declare(c, CH_WRITES, MQ_RESPONSE_QUEUE, 0) < 0 ||
        mq_fanout_declare(c, CH_WRITES, MQ_SYNC_EXCHANGE) < 0)
        return -1;
    if (mq_channel_open(c, CH_SYNC) < 0 || mq_confirm_select(c, CH_SYNC) < 0)
        return -1;
    /* Announce the term before taking writes, so slaves see where it starts. */
    if (publish_begin(m) < 0)
        return -1;
    if (mq_qos(c, CH_WRITES, 1) < 0 || mq_consume(c, CH_WRITES, MQ_WRITE_QUEUE, NULL, 0) < 0)
        return -1;
    log_info("master: serving writes (epoch %s, seq %" PRId64 ")", m->epoch, m->applied);
    return 0;
}

static int serve_snapshot(struct master *m, const amqp_envelope_t *env)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    int64_t seq = 0;
    char *reply_to = wire_reply_to(env);
    char *corr = wire_corr_id(env);
    int rc = 0;
    if (!reply_to[0]) {
        log_warn("master: a snapshot request without reply_to");
        goto done;
    }
    if (store_snapshot_out(m->s, &buf, &len, &seq) < 0) {
        /* No answer: the slave asks again. */
        log_error("master: cannot take a snapshot");
        goto done;
    }
    struct wire_msg wm = {.exchange = "", .routing_key = reply_to, .corr_id = corr, .content_type = WIRE_SQLITE_TYPE,
                          .epoch = m->epoch, .seq = seq, .body = buf, .len = len};
    rc = wire_publish(m->c, CH_WRITES, &wm);
    log_info("master: sent a %zu-byte snapshot at seq %" PRId64 " to %s", len, seq, reply_to);
done:
    sqlite3_free(buf);
    free(reply_to);
    free(corr);
    return rc;
}

/* Rule 1: a write already answered (a redelivery after a crash or a lost connection) gets
 * the stored answer, and its sync message goes out again in case it never did; slaves
 * that hold it skip it. 1 when handled, 0 when not found, -1 on error. */
static int answer_logged(struct master *m, const amqp_envelope_t *env, const char *id, json_t *request)
{
    int64_t seq;
    char *stored = NULL;
    int found = store_log_get(m->s, id, &seq, &stored);
    if (found <= 0)
        return found;
    log_info("master: write %s was applied before (seq %" PRId64 "); answering it again", id, seq);
    json_t *answer = json_loads(stored, 0, NULL);
    free(stored);
    int rc = publish_write(m, seq, id, request);
    if (rc == 0)
        rc = mq_ack(m->c, CH_WRITES, env->delivery_tag);
    if (rc == 0 && answer)
        rc = wire_answer(m->c, CH_WRITES, env, m->w->id, answer);
    json_decref(answer);
    return rc < 0 ? -1 : 1;
}

/* A refused write changes nothing and takes no sequence number. */
static int refuse(struct master *m, const amqp_envelope_t *env, int status, const char *msg)
{
    if (mq_ack(m->c, CH_WRITES, env->delivery_tag) < 0)
        return -1;
    return wire_answer_error(m->c, CH_WRITES, env, m->w->id, status, msg);
}

/* Rules 2-4 for a write request, or for clear when request is NULL. -1 only when the
 * connection must be rebuilt. */
static int apply_write(struct master *m, const amqp_envelope_t *env, const char *id, json_t *request)
{
    char err[256] = "";
    query *q = NULL;
    json_t *result = NULL, *answer = NULL;
    char *answer_text = NULL;
    int rc = answer_logged(m, env, id, request);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (request && (rc = query_compile_write(request, &q, err, sizeof err)) < 0)
        return refuse(m, env, 400, err);

    int64_t seq = m->applied + 1;
    if (store_begin(m->s) < 0) {
        query_free(q);
        return refuse(m, env, 500, "the database failed to start a transaction");
    }
    if (q) {
        rc = query_exec(q, m->s, &result, err, sizeof err);
    } else {
        int64_t changes = 0;
        rc = store_clear(m->s, &changes) < 0 ? QUERY_EFAIL : QUERY_OK;
        if (rc == QUERY_OK)
            result = json_pack("{s:I,s:i}", "changes", (json_int_t)changes, "lastId", 0);
        else
            snprintf(err, sizeof err, "the database failed to clear");
    }
    query_free(q);
    if (rc < 0)
        goto refused;
    json_object_set_new(result, "seq", json_integer(seq));
    answer = json_pack("{s:i,s:O}", "status", 200, "body", result);
    answer_text = jsonx_dump(answer);
    if (store_set_applied_seq(m->s, seq) < 0 || (id[0] && store_log_put(m->s, id, seq, answer_text) < 0)) {
        rc = QUERY_EFAIL;
        snprintf(err, sizeof err, "the database failed to record the write");
        goto refused;
    }
    if (store_commit(m->s) < 0) {
        rc = QUERY_EFAIL;
        snprintf(err, sizeof err, "the database failed to commit the write");
        goto refused_done;
    }
    m->applied = seq;

    /* Rule 3 before rule 4: once answered, the write must already be in every slave queue.
     * On failure the message stays unacked; its redelivery is answered by rule 1. */
    rc = publish_write(m, seq, id, request);
    if (rc == 0)
        rc = mq_ack(m->c, CH_WRITES, env->delivery_tag);
    if (rc == 0)
        rc = wire_answer(m->c, CH_WRITES, env, m->w->id, answer);
    log_debug("master: write %s applied at seq %" PRId64, id, seq);
    goto out;

refused:
    store_rollback(m->s);
refused_done:
    rc = refuse(m, env, rc == QUERY_EINVALID ? 400 : 500, err);
out:
    json_decref(result);
    json_decref(answer);
    free(answer_text);
    return rc;
}

static int handle(struct master *m, const amqp_envelope_t *env)
{
    char err[256];
    const amqp_bytes_t *b = &env->message.body;
    json_t *msg = jsonx_parse(b->bytes, b->len, err, sizeof err);
    char *id = wire_corr_id(env);
    int rc;
    if (!json_is_object(msg)) {
        rc = refuse(m, env, 400, msg ? "a write message must be a JSON object" : err);
    } else if (json_is_true(json_object_get(msg, "snapshot"))) {
        /* Acked first: a snapshot the broker refuses (too big) must not come back forever;
         * the slave asks again anyway. */
        rc = mq_ack(m->c, CH_WRITES, env->delivery_tag);
        if (rc == 0)
            rc = serve_snapshot(m, env);
    } else if (json_is_true(json_object_get(msg, "clear"))) {
        rc = apply_write(m, env, id, NULL);
    } else {
        json_t *request = json_object_get(msg, "request");
        if (!request)
            rc = refuse(m, env, 400, "a write message needs \"request\", \"clear\" or \"snapshot\"");
        else
            rc = apply_write(m, env, id, request);
    }
    json_decref(msg);
    free(id);
    return rc;
}

static int abdicating(const struct master *m)
{
    const struct worker_ctx *w = m->w;
    return w->should_abdicate && w->should_abdicate(w->seam_ud);
}

/* One connection's life: -1 when it broke, MASTER_STOPPED when asked to stop,
 * MASTER_ABDICATED when no longer elected. */
static int serve(struct master *m)
{
    if (abdicating(m))
        return MASTER_ABDICATED;
    if (setup(m) < 0)
        return -1;
    while (!*m->w->stop) {
        if (abdicating(m))
            return MASTER_ABDICATED;
        if (m->w->report)
            m->w->report("master", m->applied, m->w->seam_ud);
        amqp_envelope_t env;
        int got = wire_recv(m->c, &env, RECV_TIMEOUT_MS);
        if (got < 0)
            return -1;
        if (got == 0)
            continue;
        /* Asked again with the write in hand: the election may have moved while we
         * waited. Unacked, it goes back to writeQ when the connection closes. */
        if (abdicating(m)) {
            amqp_destroy_envelope(&env);
            return MASTER_ABDICATED;
        }
        int rc = handle(m, &env);
        amqp_destroy_envelope(&env);
        if (rc < 0)
            return -1;
    }
    return MASTER_STOPPED;
}

int master_run(store *s, const struct worker_ctx *w)
{
    struct master m = {.s = s, .w = w};
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    /* A term is this worker and this start: a restarted master is a new term. */
    snprintf(m.epoch, sizeof m.epoch, "%.64s@%lld", w->id, (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    if (store_applied_seq(s, &m.applied) < 0)
        return -1;
    int rc = MASTER_STOPPED;
    while (!*w->stop && rc != MASTER_ABDICATED) {
        m.c = wire_connect(w);
        if (!m.c)
            break;
        rc = serve(&m);
        if (rc < 0 && !*w->stop)
            log_warn("master: lost RabbitMQ; reconnecting");
        /* Closing drops the consumer at once: writeQ is free for the next master. */
        mq_close(m.c);
        m.c = NULL;
    }
    if (rc == MASTER_ABDICATED) {
        log_warn("master: no longer the elected master; stopped taking writes at seq %" PRId64, m.applied);
        return MASTER_ABDICATED;
    }
    log_info("master: stopped at seq %" PRId64, m.applied);
    return MASTER_STOPPED;
}
