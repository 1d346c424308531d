/* slave.c - the slave's loop. One connection: channel 1 carries the sync queue (bound to
 * syncQ before the snapshot is asked for, so no change is missed) and the reply queue of
 * snapshot answers; channel 2 consumes readQ with its own prefetch, so a read that waits
 * for the copy to catch up never holds back the sync messages it waits for.
 *
 * Sync messages are acked once applied. While a snapshot is on its way they wait in
 * memory unacked, at most w->sync_prefetch of them: the broker keeps the rest, so a slow
 * resync under a heavy write load cannot grow this process. */
#include "slave.h"

#include "clock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "log.h"
#include "fleet/membership.h"
#include "query.h"
#include "sync.h"
#include "transfer.h"
#include "fleet/wire.h"
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
/* A promoted slave drains its queue up to its own marker; this long without a single
 * message before the marker means the queue is broken, and promotion fails. */
#define DRAIN_STALL_MS 3000
/* "snapshot-<worker id>-<n>", a snapshot request's correlation id, and "<worker id>-<ms>", a
 * promotion's marker (the id cut to 64 bytes: the number keeps them apart) */
#define SNAPSHOT_CORR_MAX (MEMBER_ID_MAX + 32)
#define MARKER_MAX (MEMBER_ID_MAX + 32)

/* A read that arrived before the copy reached its min_seq; still unacked. */
struct pending_read {
    amqp_envelope_t env; /* owned: destroyed when answered */
    struct wire_read m;  /* its message (owned) */
    int64_t arrived_ms;
    int resync_asked;
    struct pending_read *next;
};

/* A sync message waiting for the snapshot, unacked. */
struct held {
    struct wire_sync s;
    json_t *owner; /* what s points into */
    uint64_t tag;
};

struct slave {
    store *s;
    const struct worker_ctx *w;
    amqp_connection_state_t c;
    struct sync_state st;
    char *sync_queue, *reply_queue;
    transfer *tr;
    int resyncing;       /* a snapshot is asked for; sync messages wait in held */
    int64_t asked_ms;    /* when the last snapshot request went out, or a chunk came */
    unsigned asked;      /* snapshot requests so far, for correlation ids */
    struct held *held;   /* sync messages that arrived while resyncing, in order */
    size_t nheld;
    int replaying;       /* held messages are being applied: their alarms are old news */
    int serving;         /* readQ is consumed */
    int served;          /* it has served once: a later copy is a resync */
    int synced;          /* what on_synced was last told */
    char marker[MARKER_MAX]; /* a promotion's marker in our queue; "" when not promoting */
    int marker_seen;
    struct pending_read *reads;
};

static int ask_snapshot(struct slave *sl)
{
    char corr[SNAPSHOT_CORR_MAX];
    snprintf(corr, sizeof corr, "snapshot-%.64s-%u", sl->w->id, ++sl->asked);
    transfer_allow(sl->tr, corr);
    sl->asked_ms = clock_mono_ms();
    /* Expires in the queue, and the master skips a request older than that: requests made
     * while no master runs, or while it writes a large copy, must not each cost a snapshot. */
    return wire_snapshot_ask(sl->c, CH_SYNC, corr, sl->reply_queue, SNAPSHOT_RETRY_MS);
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

/* Publishes what the slave is doing (the dashboard's "state" column). */
static void tell_state(struct slave *sl, const char *state)
{
    if (sl->w->set_state)
        sl->w->set_state(state, sl->w->seam_ud);
}

/* From now on sync messages wait in held until a snapshot is installed. */
static int start_resync(struct slave *sl, const char *why)
{
    tell_state(sl, sl->served ? MEMBER_STATE_RESYNCING : MEMBER_STATE_COPYING);
    if (why)
        log_warn("slave: resync from a fresh snapshot: %s (applied %" PRId64 ")", why, sl->st.applied);
    if (!sl->resyncing)
        transfer_reset(sl->tr);
    sl->resyncing = 1;
    set_synced(sl, 0);
    return ask_snapshot(sl);
}

/* Applies one write or clear of a sync message of term exactly as the master did
 * (apply.h): the write_log row lets a promoted slave answer a redelivery or a retry as the
 * master would. */
static int apply_sync(struct slave *sl, int64_t term, const struct wire_sync_write *w)
{
    char err[256] = "";
    struct apply_in in = {.request = w->request, .id = w->id, .hash = w->hash, .seq = w->seq, .at = w->at,
                          .new_term = term != sl->st.term ? term : 0};
    if (!w->request && !w->clear) {
        log_error("slave: seq %" PRId64 " is neither a request nor a clear", w->seq);
        return -1;
    }
    json_t *answer = NULL;
    if (apply_write(sl->s, &in, &answer, err, sizeof err) < 0) {
        /* The master applied it; failing here means our copy differs from its. */
        log_error("slave: cannot apply seq %" PRId64 ": %s", w->seq, err);
        return -1;
    }
    json_decref(answer);
    return 0;
}

/* An older term's message: its master was fenced, answered nothing for it, and the new
 * master does not hold it. Refused, never applied: the alarm of docs/DESIGN.md. */
static void refuse_fenced(struct slave *sl, int64_t term, int64_t seq, int begin)
{
    if (sl->replaying) /* held during a resync: older than the snapshot we installed */
        log_info("slave: dropped a %s of term %" PRId64 " (seq %" PRId64 ") older than our snapshot",
                 begin ? "begin marker" : "write", term, seq);
    else
        log_error("slave: ALARM: refused a %s of old term %" PRId64 " at seq %" PRId64 " (we follow term %" PRId64
                  "): a fenced master published it and answered nothing",
                  begin ? "begin marker" : "write", term, seq, sl->st.term);
}

/* Runs one write (w) or a begin marker (w NULL) of term at seq through the ordering rules.
 * -1 only for a broken connection. */
static int on_sync_one(struct slave *sl, int64_t term, int64_t seq, const struct wire_sync_write *w)
{
    int begin = !w;
    enum sync_action a = sync_decide(&sl->st, term, seq, begin);
    char why[128];
    switch (a) {
    case SYNC_APPLY:
        if (apply_sync(sl, term, w) < 0)
            return start_resync(sl, "a write failed to apply");
        break;
    case SYNC_ADOPT:
        if (store_set_term(sl->s, term) < 0)
            return start_resync(sl, "cannot record the new term");
        log_info("slave: following master term %" PRId64 " from seq %" PRId64, term, seq);
        break;
    case SYNC_SKIP:
        log_debug("slave: skipping seq %" PRId64 " of term %" PRId64, seq, term);
        break;
    case SYNC_FENCED:
        refuse_fenced(sl, term, seq, begin);
        break;
    case SYNC_RESYNC:
        snprintf(why, sizeof why, "%s seq %" PRId64 " of term %" PRId64, begin ? "begin marker at" : "message", seq,
                 term);
        return start_resync(sl, why);
    }
    sync_done(&sl->st, a, term, seq);
    return 0;
}

/* A master batch's writes, in order, in one transaction of our own: one commit per batch,
 * as on the master. A write that starts a resync ends the batch there; the snapshot that
 * follows holds the rest (the master committed the batch before it reads a request). */
static int on_sync_batch(struct slave *sl, const struct wire_sync *s)
{
    if (store_begin(sl->s) < 0)
        return start_resync(sl, "cannot start a transaction");
    int rc = 0;
    for (size_t i = 0; i < s->nwrites && rc == 0 && !sl->resyncing; i++) {
        struct wire_sync_write w;
        if (wire_sync_write_at(s, i, &w) == 0)
            rc = on_sync_one(sl, s->term, w.seq, &w);
    }
    if (store_commit(sl->s) < 0 && !sl->resyncing)
        return start_resync(sl, "cannot commit a batch");
    return rc;
}

/* Runs one sync message (a batch of writes, or a begin marker) through the ordering
 * rules. -1 only for a broken connection. */
static int on_sync(struct slave *sl, const struct wire_sync *s)
{
    return s->kind == WIRE_SYNC_BEGIN ? on_sync_one(sl, s->term, s->seq, NULL) : on_sync_batch(sl, s);
}

/* Replays and acks the messages held during a resync. A replay may start another resync:
 * the rest then stays held for the next snapshot. */
static int replay_held(struct slave *sl)
{
    size_t i = 0;
    int rc = 0;
    sl->replaying = 1;
    for (; i < sl->nheld && !sl->resyncing && rc == 0; i++) {
        rc = on_sync(sl, &sl->held[i].s);
        if (rc == 0)
            rc = mq_ack(sl->c, CH_SYNC, sl->held[i].tag);
        json_decref(sl->held[i].owner);
    }
    sl->replaying = 0;
    if (i > 0) {
        memmove(sl->held, sl->held + i, (sl->nheld - i) * sizeof *sl->held);
        sl->nheld -= i;
    }
    return rc;
}

static void hold(struct slave *sl, const struct wire_sync *s, json_t *owner, uint64_t tag)
{
    /* The broker sends at most sync_prefetch unacked messages: that is the bound. */
    if (!sl->held)
        sl->held = xcalloc(sl->w->sync_prefetch + 1, sizeof *sl->held);
    if (sl->nheld == sl->w->sync_prefetch + 1) { /* cannot happen while the broker keeps its word */
        log_error("slave: more sync messages than the prefetch allows; dropping one");
        json_decref(owner);
        return;
    }
    sl->held[sl->nheld++] = (struct held){*s, owner, tag};
}

static void drop_held(struct slave *sl)
{
    for (size_t i = 0; i < sl->nheld; i++)
        json_decref(sl->held[i].owner);
    free(sl->held);
    sl->held = NULL;
    sl->nheld = 0;
}

static void read_free(struct pending_read *r)
{
    amqp_destroy_envelope(&r->env);
    json_decref(r->m.msg);
    free(r);
}

static void drop_reads(struct slave *sl)
{
    while (sl->reads) {
        struct pending_read *r = sl->reads;
        sl->reads = r->next;
        read_free(r);
    }
}

/* Answers a read (acks it first: the answer is what counts, a requeue would run it twice). */
static int serve_read(struct slave *sl, struct pending_read *r)
{
    char err[256] = "";
    json_t *rows = NULL;
    int rc = query_read(sl->s, r->m.request, &rows, err, sizeof err);
    if (mq_ack(sl->c, r->env.channel, r->env.delivery_tag) < 0) {
        json_decref(rows);
        return -1;
    }
    if (rc == QUERY_OK)
        return wire_answer_ok(sl->c, r->env.channel, &r->env, sl->w->id, rows);
    return wire_answer_error(sl->c, r->env.channel, &r->env, sl->w->id, rc == QUERY_EINVALID ? 400 : 500, err);
}

/* One pending read: answered or given up on (1), or still waiting (0); -1 broken. */
static int check_read(struct slave *sl, struct pending_read *r, int64_t now)
{
    if (!sl->resyncing && sl->st.applied >= r->m.min_seq)
        return serve_read(sl, r) < 0 ? -1 : 1;
    if (now - r->arrived_ms > READ_GIVE_UP_MS) {
        log_warn("slave: a read waited too long for seq %" PRId64 " (applied %" PRId64 ")", r->m.min_seq,
                 sl->st.applied);
        int rc = mq_ack(sl->c, r->env.channel, r->env.delivery_tag);
        if (rc == 0)
            rc = wire_answer_error(sl->c, r->env.channel, &r->env, sl->w->id, 503,
                                   "the replica could not catch up in time");
        return rc < 0 ? -1 : 1;
    }
    if (now - r->arrived_ms > READ_RESYNC_MS && !r->resync_asked && !sl->resyncing) {
        r->resync_asked = 1;
        if (start_resync(sl, "a read waits for a sequence that never came") < 0)
            return -1;
    }
    return 0;
}

/* Answers the reads the copy now satisfies, resyncs for or gives up on the old ones. */
static int check_reads(struct slave *sl)
{
    int64_t now = clock_mono_ms();
    struct pending_read **pp = &sl->reads;
    while (*pp) {
        struct pending_read *r = *pp;
        int rc = check_read(sl, r, now);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            *pp = r->next;
            read_free(r);
        } else {
            pp = &r->next;
        }
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
    struct wire_read m;
    if (wire_read_parse(&env->message.body, &m, err, sizeof err) < 0) {
        int rc = mq_ack(sl->c, env->channel, env->delivery_tag);
        if (rc == 0)
            rc = wire_answer_error(sl->c, env->channel, env, sl->w->id, 400, err);
        amqp_destroy_envelope(env);
        return rc;
    }
    struct pending_read *r = xcalloc(1, sizeof *r);
    r->env = *env;
    r->m = m;
    r->arrived_ms = clock_mono_ms();
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
        mq_consume(sl->c, CH_READS, WIRE_READ_QUEUE, TAG_READ, 0) < 0)
        return -1;
    sl->serving = 1;
    log_info("slave: serving reads (seq %" PRId64 ", prefetch %u)", sl->st.applied, sl->w->read_prefetch);
    return 0;
}

/* The whole snapshot is in its file: installed, then the held messages replayed over it. */
static int install_snapshot(struct slave *sl, const char *path, const struct wire_chunk *ch)
{
    int64_t seq, term;
    int rc = store_install(sl->s, path);
    unlink(path);
    if (rc < 0 || store_applied_seq(sl->s, &seq) < 0 || store_term(sl->s, &term) < 0) {
        log_error("slave: cannot install the snapshot; asking again");
        transfer_reset(sl->tr);
        return ask_snapshot(sl);
    }
    sync_reset(&sl->st, term, seq);
    sl->resyncing = 0;
    log_info("slave: installed a snapshot in %" PRId64 " chunk(s) at seq %" PRId64 " of term %" PRId64, ch->count,
             seq, term);
    if (replay_held(sl) < 0)
        return -1;
    if (!sl->serving && !sl->resyncing && start_serving(sl) < 0)
        return -1;
    if (!sl->resyncing) {
        set_synced(sl, 1); /* the initial sync (or a resync) is complete */
        sl->served = 1;
        tell_state(sl, MEMBER_STATE_SERVING);
    }
    return check_reads(sl);
}

/* One chunk of a snapshot answer. */
static int on_snapshot(struct slave *sl, const amqp_envelope_t *env)
{
    struct wire_chunk ch;
    if (!sl->resyncing)
        return 0; /* a late answer to an earlier request */
    if (wire_chunk_parse(env, &ch) < 0) {
        log_warn("slave: ignoring a snapshot answer that is not a database chunk");
        return 0;
    }
    char *corr = mq_corr_id(env);
    int got = transfer_add(sl->tr, corr, &ch, env->message.body.bytes, env->message.body.len);
    free(corr);
    if (got == TRANSFER_MORE)
        sl->asked_ms = clock_mono_ms(); /* progress: a large copy is no reason to ask again */
    if (got != TRANSFER_DONE)
        return 0;
    char *path = xasprintf("%s.snap-in", sl->w->db_path);
    int rc = install_snapshot(sl, path, &ch);
    free(path);
    return rc;
}

/* A sync delivery: a promotion marker, a message held for the snapshot, or applied. */
static int on_sync_delivery(struct slave *sl, amqp_envelope_t *env)
{
    struct wire_sync s;
    json_t *owner;
    int rc = 0;
    if (wire_sync_parse(&env->message.body, &s, &owner) < 0) {
        /* logged; acked below, it can never be applied */
    } else if (s.kind == WIRE_SYNC_MARKER) {
        if (sl->marker[0] && strcmp(s.marker, sl->marker) == 0)
            sl->marker_seen = 1; /* another promotion's marker is nothing to us */
    } else if (sl->resyncing) {
        hold(sl, &s, owner, env->delivery_tag);
        return 0; /* acked once replayed */
    } else {
        rc = on_sync(sl, &s);
    }
    json_decref(owner);
    if (rc == 0)
        rc = mq_ack(sl->c, env->channel, env->delivery_tag);
    if (rc == 0 && !sl->resyncing)
        rc = check_reads(sl);
    return rc;
}

static int tag_is(const amqp_envelope_t *env, const char *tag)
{
    return env->consumer_tag.len == strlen(tag) && memcmp(env->consumer_tag.bytes, tag, env->consumer_tag.len) == 0;
}

static int on_delivery(struct slave *sl, amqp_envelope_t *env)
{
    int rc = 0;
    if (tag_is(env, TAG_READ))
        return on_read(sl, env); /* takes the envelope */
    if (tag_is(env, TAG_SYNC))
        rc = on_sync_delivery(sl, env);
    else if (tag_is(env, TAG_REPLY))
        rc = on_snapshot(sl, env);
    amqp_destroy_envelope(env);
    return rc;
}

static int setup(struct slave *sl)
{
    amqp_connection_state_t c = sl->c;
    /* Bound first: every change from now on waits in our queue while the snapshot comes. */
    if (!(sl->sync_queue = wire_declare_sync_queue(c, CH_SYNC)))
        return -1;
    sl->reply_queue = mq_queue_declare_temp(c, CH_SYNC);
    if (!sl->reply_queue)
        return -1;
    /* The prefetch bounds the sync consumer only: snapshot answers come unacked. */
    if (mq_qos(c, CH_SYNC, sl->w->sync_prefetch) < 0 || mq_consume(c, CH_SYNC, sl->sync_queue, TAG_SYNC, 0) < 0 ||
        mq_consume(c, CH_SYNC, sl->reply_queue, TAG_REPLY, 1) < 0)
        return -1;
    log_info("slave: asking the master for a snapshot");
    return start_resync(sl, NULL);
}

/* Publishes our marker into syncQ and applies our queue up to it: everything the old
 * master had confirmed before our term began is ahead of it (docs/DESIGN.md "Fencing").
 * 0 when drained; -1 when the queue broke or showed a hole. */
static int drain_to_marker(struct slave *sl)
{
    snprintf(sl->marker, sizeof sl->marker, "%.64s-%lld", sl->w->id, (long long)clock_mono_ms());
    sl->marker_seen = 0;
    struct wire_sync s = {.kind = WIRE_SYNC_MARKER, .marker = sl->marker};
    int rc = wire_sync_publish(sl->c, CH_SYNC, &s);
    int64_t last = clock_mono_ms();
    while (rc == 0 && !sl->marker_seen && !sl->resyncing && clock_mono_ms() - last < DRAIN_STALL_MS) {
        amqp_envelope_t env;
        int got = mq_recv(sl->c, &env, RECV_TIMEOUT_MS);
        if (got < 0)
            return -1;
        if (got > 0) {
            last = clock_mono_ms();
            rc = tag_is(&env, TAG_SYNC) ? on_sync_delivery(sl, &env) : 0;
            amqp_destroy_envelope(&env);
        }
    }
    sl->marker[0] = '\0';
    if (rc == 0 && sl->marker_seen && !sl->resyncing)
        return 0;
    log_error("slave: promotion failed: %s", sl->resyncing ? "our copy has a hole" : "our marker never came back");
    return -1;
}

/* Becomes ready to run as master: stops taking reads (unacked ones go back to readQ for
 * the other slaves), begins our term, drains the sync queue up to our marker, deletes it.
 * SLAVE_SEED when elected without a complete copy (a seeder); -1 when promotion failed:
 * the next connection starts over with a snapshot. */
static int promote(struct slave *sl)
{
    log_info("slave: promotion: draining the sync queue (applied %" PRId64 ")", sl->st.applied);
    if (sl->serving) {
        amqp_channel_close(sl->c, CH_READS, AMQP_REPLY_SUCCESS);
        sl->serving = 0;
    }
    drop_reads(sl);
    if (sl->resyncing)
        return SLAVE_SEED;
    const struct worker_ctx *w = sl->w;
    int64_t term = sl->st.term + 1;
    /* The term first: from now on the old master can acknowledge nothing, so whatever it
     * acknowledged is ahead of our marker. */
    if (w->begin_term && w->begin_term(sl->st.term, &term, w->seam_ud) < 0)
        return -1;
    if (drain_to_marker(sl) < 0 || store_set_term(sl->s, term) < 0)
        return -1;
    mq_queue_delete(sl->c, CH_SYNC, sl->sync_queue);
    log_info("slave: promoted at seq %" PRId64 ", term %" PRId64, sl->st.applied, term);
    return SLAVE_PROMOTE;
}

/* Forgets the state of a connection; its unacked messages return to their queues. */
static void reset(struct slave *sl)
{
    drop_reads(sl);
    drop_held(sl);
    free(sl->sync_queue);
    free(sl->reply_queue);
    sl->sync_queue = sl->reply_queue = NULL;
    sl->resyncing = sl->serving = 0;
}

/* One connection's life: -1 when it broke, else SLAVE_STOPPED, SLAVE_PROMOTE or SLAVE_SEED. */
static int serve(struct slave *sl)
{
    if (setup(sl) < 0)
        return -1;
    for (;;) {
        if (*sl->w->stop)
            return SLAVE_STOPPED;
        if (sl->w->should_promote && sl->w->should_promote(sl->w->seam_ud))
            return promote(sl);
        if (sl->resyncing && clock_mono_ms() - sl->asked_ms > SNAPSHOT_RETRY_MS && ask_snapshot(sl) < 0)
            return -1;
        if (sl->w->report && sl->serving)
            sl->w->report(MEMBER_SLAVE, sl->st.applied, sl->w->seam_ud);
        amqp_envelope_t env;
        int got = mq_recv(sl->c, &env, RECV_TIMEOUT_MS);
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
    int64_t applied, term;
    if (store_applied_seq(s, &applied) < 0 || store_term(s, &term) < 0)
        return -1;
    sync_reset(&sl.st, term, applied);
    char *path = xasprintf("%s.snap-in", w->db_path);
    sl.tr = transfer_new(path);
    free(path);
    while (!*w->stop) {
        sl.c = mq_connect(&w->mq, w->stop);
        if (!sl.c)
            break;
        rc = serve(&sl);
        if (rc < 0 && !*w->stop)
            log_warn("slave: lost RabbitMQ or a promotion; reconnecting, then resyncing");
        if (rc != SLAVE_PROMOTE && rc != SLAVE_SEED)
            set_synced(&sl, 0); /* the next connection starts with a snapshot */
        reset(&sl);
        mq_close(sl.c);
        sl.c = NULL;
        if (rc == SLAVE_PROMOTE || rc == SLAVE_SEED)
            break;
    }
    transfer_free(sl.tr);
    if (rc == SLAVE_PROMOTE || rc == SLAVE_SEED)
        return rc;
    log_info("slave: stopped at seq %" PRId64, sl.st.applied);
    return SLAVE_STOPPED;
}
