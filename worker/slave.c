/* slave.c - the slave's loop. One connection: channel 1 carries the sync queue (bound to
 * syncQ before the snapshot is asked for, so no change is missed) and the reply queue of
 * snapshot answers; channel 2 consumes readQ with its own prefetch, so a read that waits
 * for the copy to catch up never holds back the sync messages it waits for. */
#include "slave.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "log.h"
#include "query.h"
#include "sync.h"
#include "wire.h"
#include "xalloc.h"

#define CH_SYNC 1
#define CH_READS 2
#define TAG_SYNC "sync"
#define TAG_REPLY "reply"
#define TAG_READ "read"
#define RECV_TIMEOUT_MS 100
#define SNAPSHOT_RETRY_MS 3000 /* ask again (no master yet, or it died meanwhile) */
#define READ_RESYNC_MS 3000    /* a read still behind this long: our copy may have a hole */
#define READ_GIVE_UP_MS 10000  /* the orchestrator gave up long ago: release the message */
/* A promoted slave's queue counts as drained after this quiet. We are elected only once
 * the old master is gone, and it answered a write only after the broker confirmed the
 * sync message into our queue, which the broker pushes to us without a prefetch limit:
 * everything is already on its way, so a short quiet is enough. */
#define DRAIN_IDLE_MS 200

/* A read that arrived before the copy reached its min_seq; still unacked. */
struct pending_read {
    amqp_envelope_t env; /* owned: destroyed when answered */
    json_t *request;
    int64_t min_seq;
    int64_t arrived_ms;
    int resync_asked;
    struct pending_read *next;
};

struct slave {
    store *s;
    const struct worker_ctx *w;
    amqp_connection_state_t c;
    struct sync_state st;
    char *sync_queue, *reply_queue;
    int resyncing;       /* a snapshot is asked for; sync messages wait in buffered */
    int64_t asked_ms;    /* when the last snapshot request went out */
    unsigned asked;      /* snapshot requests so far, for correlation ids */
    json_t *buffered;    /* sync messages that arrived while resyncing, in order */
    int serving;         /* readQ is consumed */
    int synced;          /* what on_synced was last told */
    struct pending_read *reads;
};

static int ask_snapshot(struct slave *sl)
{
    char corr[192];
    snprintf(corr, sizeof corr, "snapshot-%.64s-%u", sl->w->id, ++sl->asked);
    const char body[] = "{\"snapshot\":true}";
    /* Expires in the queue: requests made while no master runs must not pile up into
     * a burst of snapshots when one comes. */
    struct wire_msg m = {.exchange = "", .routing_key = MQ_WRITE_QUEUE, .corr_id = corr,
                         .reply_to = sl->reply_queue, .expiration_ms = SNAPSHOT_RETRY_MS, .body = body,
                         .len = sizeof body - 1};
    sl->asked_ms = wire_now_ms();
    return wire_publish(sl->c, CH_SYNC, &m);
}

/* Tells w->on_synced when the copy becomes complete or stops being so. */
static void set_synced(struct slave *sl, int synced)
{
    const struct worker_ctx *w = sl->w;
    if (sl->synced == synced)
        return;
    sl->synced = synced;
    if (w->on_synced)
        w->on_synced(synced, w->seam_ud);
}

/* From now on sync messages wait in buffered until a snapshot is installed. */
static int want_snapshot(struct slave *sl)
{
    sl->resyncing = 1;
    set_synced(sl, 0);
    if (!sl->buffered)
        sl->buffered = json_array();
    return ask_snapshot(sl);
}

static int start_resync(struct slave *sl, const char *why)
{
    log_warn("slave: resync from a fresh snapshot: %s (applied %" PRId64 ")", why, sl->st.applied);
    return want_snapshot(sl);
}

/* Applies one write or clear of a sync message in one transaction with applied_seq and
 * the write_log row a promoted slave needs to recognise redelivered writes. */
static int apply_sync(struct slave *sl, const json_t *msg, int64_t seq)
{
    char err[256] = "";
    json_t *result = NULL;
    const char *id = "";
    jsonx_get_str(msg, "id", &id);
    if (store_begin(sl->s) < 0)
        return -1;
    const json_t *request = json_object_get(msg, "request");
    int rc;
    if (request) {
        rc = query_write(sl->s, request, &result, err, sizeof err);
    } else if (json_is_true(json_object_get(msg, "clear"))) {
        int64_t changes = 0;
        rc = store_clear(sl->s, &changes);
        result = json_pack("{s:I,s:i}", "changes", (json_int_t)changes, "lastId", 0);
    } else {
        rc = -1;
        snprintf(err, sizeof err, "neither a request nor a clear");
    }
    if (rc < 0) {
        /* The master applied it; failing here means our copy differs from its. */
        log_error("slave: cannot apply seq %" PRId64 ": %s", seq, err);
        goto fail;
    }
    json_object_set_new(result, "seq", json_integer(seq));
    json_t *answer = json_pack("{s:i,s:O}", "status", 200, "body", result);
    char *text = jsonx_dump(answer);
    json_decref(answer);
    rc = store_set_applied_seq(sl->s, seq);
    if (rc == 0 && id[0])
        rc = store_log_put(sl->s, id, seq, text);
    free(text);
    if (rc < 0)
        goto fail;
    json_decref(result);
    return store_commit(sl->s);
fail:
    json_decref(result);
    store_rollback(sl->s);
    return -1;
}

/* Runs one sync message through the ordering rules. -1 only for a broken connection. */
static int on_sync(struct slave *sl, const json_t *msg)
{
    const char *epoch;
    json_int_t seq;
    if (jsonx_get_str(msg, "epoch", &epoch) < 0 || strlen(epoch) >= SYNC_EPOCH_MAX ||
        jsonx_get_int(msg, "seq", &seq) < 0) {
        log_warn("slave: ignoring a malformed sync message");
        return 0;
    }
    int begin = json_is_true(json_object_get(msg, "begin"));
    enum sync_action a = sync_decide(&sl->st, epoch, seq, begin);
    char why[SYNC_EPOCH_MAX + 96];
    switch (a) {
    case SYNC_APPLY:
        if (apply_sync(sl, msg, seq) < 0)
            return start_resync(sl, "a write failed to apply");
        break;
    case SYNC_ADOPT:
        log_info("slave: following master term %s from seq %" PRId64, epoch, (int64_t)seq);
        break;
    case SYNC_SKIP:
        log_debug("slave: skipping seq %" PRId64 " of %s", (int64_t)seq, epoch);
        break;
    case SYNC_RESYNC:
        snprintf(why, sizeof why, "%s seq %" PRId64 " of term %s", begin ? "begin marker at" : "message",
                 (int64_t)seq, epoch);
        return start_resync(sl, why);
    }
    sync_done(&sl->st, a, epoch, seq);
    return 0;
}

/* Replays messages buffered during a resync. A replay may start another resync: the
 * rest then waits for the next snapshot. */
static int replay_buffered(struct slave *sl)
{
    json_t *old = sl->buffered;
    size_t i;
    json_t *msg;
    int rc = 0;
    sl->buffered = NULL;
    json_array_foreach(old, i, msg) {
        if (sl->resyncing)
            json_array_append(sl->buffered, msg);
        else if ((rc = on_sync(sl, msg)) < 0)
            break;
    }
    json_decref(old);
    return rc;
}

static void read_free(struct pending_read *r)
{
    amqp_destroy_envelope(&r->env);
    json_decref(r->request);
    free(r);
}

/* Answers a read (acks it first: the answer is what counts, a requeue would run it twice). */
static int serve_read(struct slave *sl, struct pending_read *r)
{
    char err[256] = "";
    json_t *rows = NULL;
    int rc = query_read(sl->s, r->request, &rows, err, sizeof err);
    if (mq_ack(sl->c, r->env.channel, r->env.delivery_tag) < 0) {
        json_decref(rows);
        return -1;
    }
    if (rc == QUERY_OK)
        return wire_answer_ok(sl->c, r->env.channel, &r->env, sl->w->id, rows);
    return wire_answer_error(sl->c, r->env.channel, &r->env, sl->w->id, rc == QUERY_EINVALID ? 400 : 500, err);
}

/* Answers the reads the copy now satisfies, resyncs for or gives up on the old ones. */
static int check_reads(struct slave *sl)
{
    int64_t now = wire_now_ms();
    struct pending_read **pp = &sl->reads;
    while (*pp) {
        struct pending_read *r = *pp;
        int rc = 0, done = 1;
        if (!sl->resyncing && sl->st.applied >= r->min_seq) {
            rc = serve_read(sl, r);
        } else if (now - r->arrived_ms > READ_GIVE_UP_MS) {
            log_warn("slave: a read waited too long for seq %" PRId64 " (applied %" PRId64 ")", r->min_seq,
                     sl->st.applied);
            rc = mq_ack(sl->c, r->env.channel, r->env.delivery_tag);
            if (rc == 0)
                rc = wire_answer_error(sl->c, r->env.channel, &r->env, sl->w->id, 503,
                                       "the replica could not catch up in time");
        } else {
            done = 0;
            if (now - r->arrived_ms > READ_RESYNC_MS && !r->resync_asked && !sl->resyncing) {
                r->resync_asked = 1;
                rc = start_resync(sl, "a read waits for a sequence that never came");
            }
        }
        if (done) {
            *pp = r->next;
            read_free(r);
        } else {
            pp = &r->next;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* A read delivery: answered now, refused, or kept until the copy catches up. The
 * envelope is taken over. */
static int on_read(struct slave *sl, amqp_envelope_t *env)
{
    if (sl->w->bench_echo) { /* the bench's limit: the round trip without the database */
        int rc = mq_ack(sl->c, env->channel, env->delivery_tag);
        if (rc == 0)
            rc = wire_answer_ok(sl->c, env->channel, env, sl->w->id, json_array());
        amqp_destroy_envelope(env);
        return rc;
    }
    char err[256];
    const amqp_bytes_t *b = &env->message.body;
    json_t *msg = jsonx_parse(b->bytes, b->len, err, sizeof err);
    json_t *request = json_object_get(msg, "request");
    json_int_t min_seq = 0;
    if (!json_is_object(msg) || !request || jsonx_get_int(msg, "min_seq", &min_seq) == -2) {
        int rc = mq_ack(sl->c, env->channel, env->delivery_tag);
        if (rc == 0)
            rc = wire_answer_error(sl->c, env->channel, env, sl->w->id, 400,
                                   msg ? "a read message needs a \"request\" and an integer \"min_seq\"" : err);
        json_decref(msg);
        amqp_destroy_envelope(env);
        return rc;
    }
    struct pending_read *r = xcalloc(1, sizeof *r);
    r->env = *env;
    r->request = json_incref(request);
    r->min_seq = min_seq;
    r->arrived_ms = wire_now_ms();
    json_decref(msg);
    /* Appended, so reads are answered in arrival order. */
    struct pending_read **pp = &sl->reads;
    while (*pp)
        pp = &(*pp)->next;
    *pp = r;
    return check_reads(sl);
}

static int start_serving(struct slave *sl)
{
    if (mq_channel_open(sl->c, CH_READS) < 0 || mq_qos(sl->c, CH_READS, sl->w->read_prefetch) < 0 ||
        mq_consume(sl->c, CH_READS, MQ_READ_QUEUE, TAG_READ, 0) < 0)
        return -1;
    sl->serving = 1;
    log_info("slave: serving reads (seq %" PRId64 ", prefetch %u)", sl->st.applied, sl->w->read_prefetch);
    return 0;
}

/* A snapshot answer: installed, then the buffered messages replayed over it. */
static int on_snapshot(struct slave *sl, const amqp_envelope_t *env)
{
    const amqp_basic_properties_t *p = &env->message.properties;
    char epoch[SYNC_EPOCH_MAX] = "";
    int64_t seq;
    if (!sl->resyncing)
        return 0; /* a late answer to an earlier request */
    if (!(p->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG) || p->content_type.len != strlen(WIRE_SQLITE_TYPE) ||
        memcmp(p->content_type.bytes, WIRE_SQLITE_TYPE, p->content_type.len) != 0 ||
        wire_header_int(env, "seq", &seq) < 0) {
        log_warn("slave: ignoring a snapshot answer that is not a database with a seq header");
        return 0;
    }
    wire_header_str(env, "epoch", epoch, sizeof epoch);
    if (store_snapshot_in(sl->s, env->message.body.bytes, env->message.body.len, seq) < 0) {
        log_error("slave: cannot install the snapshot; asking again");
        return 0; /* the retry timer asks again */
    }
    sync_reset(&sl->st, epoch, seq);
    sl->resyncing = 0;
    log_info("slave: installed a %zu-byte snapshot at seq %" PRId64 " of term %s", env->message.body.len, seq,
             epoch[0] ? epoch : "?");
    if (replay_buffered(sl) < 0)
        return -1;
    if (!sl->serving && !sl->resyncing && start_serving(sl) < 0)
        return -1;
    if (!sl->resyncing)
        set_synced(sl, 1); /* the initial sync (or a resync) is complete */
    return check_reads(sl);
}

static int on_delivery(struct slave *sl, amqp_envelope_t *env)
{
    const amqp_bytes_t *tag = &env->consumer_tag;
    int rc = 0;
    if (tag->len == strlen(TAG_READ) && memcmp(tag->bytes, TAG_READ, tag->len) == 0)
        return on_read(sl, env); /* takes the envelope */
    if (tag->len == strlen(TAG_SYNC) && memcmp(tag->bytes, TAG_SYNC, tag->len) == 0) {
        json_t *msg = json_loadb(env->message.body.bytes, env->message.body.len, 0, NULL);
        if (!json_is_object(msg))
            log_warn("slave: ignoring a sync message that is not a JSON object");
        else if (sl->resyncing)
            json_array_append(sl->buffered, msg);
        else
            rc = on_sync(sl, msg);
        json_decref(msg);
        if (rc == 0)
            rc = mq_ack(sl->c, env->channel, env->delivery_tag);
        if (rc == 0 && !sl->resyncing)
            rc = check_reads(sl);
    } else if (tag->len == strlen(TAG_REPLY) && memcmp(tag->bytes, TAG_REPLY, tag->len) == 0) {
        rc = on_snapshot(sl, env);
    }
    amqp_destroy_envelope(env);
    return rc;
}

static int setup(struct slave *sl)
{
    amqp_connection_state_t c = sl->c;
    if (mq_queue_declare(c, CH_SYNC, MQ_READ_QUEUE, 0) < 0 || mq_queue_declare(c, CH_SYNC, MQ_WRITE_QUEUE, 0) < 0 ||
        mq_queue_declare(c, CH_SYNC, MQ_RESPONSE_QUEUE, 0) < 0 || mq_fanout_declare(c, CH_SYNC, MQ_SYNC_EXCHANGE) < 0)
        return -1;
    /* Bound first: every change from now on waits in our queue while the snapshot comes. */
    sl->sync_queue = mq_queue_declare_temp(c, CH_SYNC);
    if (!sl->sync_queue || mq_queue_bind(c, CH_SYNC, sl->sync_queue, MQ_SYNC_EXCHANGE) < 0)
        return -1;
    sl->reply_queue = mq_queue_declare_temp(c, CH_SYNC);
    if (!sl->reply_queue)
        return -1;
    if (mq_consume(c, CH_SYNC, sl->sync_queue, TAG_SYNC, 0) < 0 || mq_consume(c, CH_SYNC, sl->reply_queue, TAG_REPLY, 1) < 0)
        return -1;
    log_info("slave: asking the master for a snapshot");
    return want_snapshot(sl);
}

/* Becomes ready to run as master: stops taking reads (unacked ones go back to readQ for
 * the other slaves), applies everything left in the sync queue, deletes it. */
static int promote(struct slave *sl)
{
    log_info("slave: promotion: draining the sync queue (applied %" PRId64 ")", sl->st.applied);
    if (sl->serving) {
        amqp_channel_close(sl->c, CH_READS, AMQP_REPLY_SUCCESS);
        sl->serving = 0;
    }
    while (sl->reads) {
        struct pending_read *r = sl->reads;
        sl->reads = r->next;
        read_free(r);
    }
    int64_t quiet_since = wire_now_ms();
    while (wire_now_ms() - quiet_since < DRAIN_IDLE_MS) {
        amqp_envelope_t env;
        int got = wire_recv(sl->c, &env, RECV_TIMEOUT_MS);
        if (got < 0)
            break; /* what we hold is what we have: the queue died with the connection */
        if (got == 0)
            continue;
        quiet_since = wire_now_ms();
        if (on_delivery(sl, &env) < 0)
            break;
    }
    if (sl->resyncing)
        log_warn("slave: promoted with a copy that missed writes (applied %" PRId64 ")", sl->st.applied);
    mq_queue_delete(sl->c, CH_SYNC, sl->sync_queue);
    log_info("slave: promoted at seq %" PRId64, sl->st.applied);
    return SLAVE_PROMOTE;
}

/* Forgets the state of a connection; its unacked messages return to their queues. */
static void reset(struct slave *sl)
{
    while (sl->reads) {
        struct pending_read *r = sl->reads;
        sl->reads = r->next;
        read_free(r);
    }
    json_decref(sl->buffered);
    sl->buffered = NULL;
    free(sl->sync_queue);
    free(sl->reply_queue);
    sl->sync_queue = sl->reply_queue = NULL;
    sl->resyncing = sl->serving = 0;
}

/* One connection's life: -1 when it broke, else SLAVE_STOPPED or SLAVE_PROMOTE. */
static int serve(struct slave *sl)
{
    if (setup(sl) < 0)
        return -1;
    for (;;) {
        if (*sl->w->stop)
            return SLAVE_STOPPED;
        if (sl->w->should_promote && sl->w->should_promote(sl->w->seam_ud))
            return promote(sl);
        if (sl->resyncing && wire_now_ms() - sl->asked_ms > SNAPSHOT_RETRY_MS && ask_snapshot(sl) < 0)
            return -1;
        if (sl->w->report && sl->serving)
            sl->w->report("slave", sl->st.applied, sl->w->seam_ud);
        amqp_envelope_t env;
        int got = wire_recv(sl->c, &env, RECV_TIMEOUT_MS);
        if (got < 0)
            return -1;
        if (got > 0 && on_delivery(sl, &env) < 0)
            return -1;
        if (sl->reads && check_reads(sl) < 0)
            return -1;
    }
}

int slave_run(store *s, const struct worker_ctx *w)
{
    struct slave sl = {.s = s, .w = w};
    int rc = SLAVE_STOPPED;
    int64_t applied;
    if (store_applied_seq(s, &applied) < 0)
        return -1;
    sync_reset(&sl.st, NULL, applied);
    while (!*w->stop) {
        sl.c = wire_connect(w);
        if (!sl.c)
            break;
        rc = serve(&sl);
        if (rc < 0 && !*w->stop)
            log_warn("slave: lost RabbitMQ; reconnecting, then resyncing");
        if (rc != SLAVE_PROMOTE)
            set_synced(&sl, 0); /* the next connection starts with a snapshot */
        reset(&sl);
        mq_close(sl.c);
        sl.c = NULL;
        if (rc == SLAVE_PROMOTE)
            return SLAVE_PROMOTE;
    }
    log_info("slave: stopped at seq %" PRId64, sl.st.applied);
    return SLAVE_STOPPED;
}
