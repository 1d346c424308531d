/* master.c - the master's loop, taking writes in groups (group commit).
 *
 * Two connections: `c` consumes writeQ exclusively (prefetch WRITE_BATCH) and carries
 * answers and snapshots; `pub` publishes sync messages in confirm mode and consumes
 * nothing, so that nothing but confirms arrives while we wait for them.
 *
 * A batch is the writes that are waiting, up to WRITE_BATCH. It becomes answers in this
 * order (docs/DESIGN.md "Fencing", "Master write rules"): every write applied in its own
 * savepoint with its own sequence, inside one transaction; one sync message for them all
 * published and confirmed into every slave queue; the commit; the term checked against
 * ZooKeeper once; each answer; one ack for all. A master whose term is over stops before
 * the answers: the writes return to writeQ for the next master, which holds them already
 * or applies them. */
#include "master.h"

#include "clock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "jsonx.h"
#include "log.h"
#include "query.h"
#include "fleet/wire.h"
#include "xalloc.h"

#define CH 1
#define CONFIRM_TIMEOUT_MS 5000
#define RECV_TIMEOUT_MS 250
#define WRITEQ_WAIT_MS 100 /* between looks at whether the last master still consumes */
/* A write is committed only while its caller still waits, with this much to spare for
 * the confirm, the term check and the answer's way back. */
#define DEADLINE_MARGIN_MS 500
#define SNAPSHOT_REQUEST_MAX_AGE_MS 3000 /* a slave asks again after this long */

/* One write of a batch: what its message said and what becomes of it. */
struct item {
    amqp_envelope_t env; /* owned */
    struct wire_write_msg m; /* its message (owned), parsed */
    char id[WIRE_WRITE_ID_MAX]; /* its write id (wire.h) */
    int status;          /* 200 with answer, or the refusal with err */
    char err[256];
    json_t *answer;      /* owned */
    int64_t seq;         /* > 0: a sync message goes out at this sequence */
    int64_t at;
};

struct master {
    store *s;
    const struct worker_ctx *w;
    amqp_connection_state_t c, pub;
    uint64_t pub_tags; /* publishes on pub so far: the last one's delivery tag */
    int64_t term;
    int64_t applied;
    char *snap_path; /* where a snapshot is written before it is sent */
    struct item *batch;
    size_t n;
    struct wire_sync_write *sync; /* the batch's sync message, as many as batch */
};

/* ---- sync messages on pub ---- */

static int publish_sync(struct master *m, const struct wire_sync *s)
{
    int rc = wire_sync_publish(m->pub, CH, s);
    if (rc == 0)
        m->pub_tags++;
    return rc;
}

static int confirmed_since(struct master *m, uint64_t first)
{
    if (first > m->pub_tags)
        return 0;
    return mq_confirm_wait_range(m->pub, CH, first, m->pub_tags, CONFIRM_TIMEOUT_MS);
}

static int publish_begin(struct master *m)
{
    struct wire_sync s = {.kind = WIRE_SYNC_BEGIN, .term = m->term, .seq = m->applied};
    uint64_t first = m->pub_tags + 1;
    int rc = publish_sync(m, &s);
    return rc == 0 ? confirmed_since(m, first) : rc;
}

/* The batch's writes go out as one sync message: one publish, one confirm and, on every
 * slave, one delivery and one transaction for the whole group. 0 when none is due. */
static int publish_batch(struct master *m)
{
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct item *it = &m->batch[i];
        if (it->status == 200 && it->seq > 0)
            m->sync[k++] = (struct wire_sync_write){.seq = it->seq, .request = it->m.w.request,
                                                    .clear = !it->m.w.request, .id = it->id,
                                                    .hash = it->m.w.hash, .at = it->at};
    }
    int rc = wire_sync_publish_batch(m->pub, CH, m->term, m->sync, k);
    if (rc > 0)
        m->pub_tags++;
    return rc < 0 ? rc : 0;
}

/* ---- connections ---- */

static int abdicating(const struct master *m)
{
    const struct worker_ctx *w = m->w;
    return *w->stop || (w->should_abdicate && w->should_abdicate(w->seam_ud));
}

/* Waits until no other master consumes writeQ (a frozen predecessor's connection can
 * outlive its term), then consumes it exclusively: the broker itself then refuses a
 * second consumer. 1 when consuming, 0 when we must stop or abdicate, -1 on error. */
static int consume_writes(struct master *m)
{
    int waited = 0;
    for (;;) {
        if (abdicating(m))
            return 0;
        int n = mq_queue_consumers(m->c, CH, WIRE_WRITE_QUEUE);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        if (!waited++)
            log_warn("master: writeQ still has %d consumer(s), a previous master's; waiting for it to go", n);
        usleep(WRITEQ_WAIT_MS * 1000);
    }
    if (mq_qos(m->c, CH, m->w->write_batch) < 0 || mq_consume_exclusive(m->c, CH, WIRE_WRITE_QUEUE) < 0)
        return -1;
    return 1;
}

/* 1 serving, 0 abdicating, -1 broken. */
static int setup(struct master *m)
{
    m->pub_tags = 0;
    if (mq_confirm_select(m->pub, CH) < 0)
        return -1;
    /* Announce the term before taking writes, so slaves see where it starts. */
    if (publish_begin(m) < 0)
        return -1;
    int rc = consume_writes(m);
    if (rc <= 0)
        return rc;
    log_info("master: serving writes (term %" PRId64 ", seq %" PRId64 ", batches of up to %u)", m->term, m->applied,
             m->w->write_batch);
    if (m->w->set_state) /* only now: the fleet view's "serving" master takes writes */
        m->w->set_state(MEMBER_STATE_SERVING, m->w->seam_ud);
    return rc;
}

/* ---- snapshots ---- */

/* Sends the file at path in chunks of w->snapshot_chunk bytes: RabbitMQ refuses messages
 * over its limit (128 MiB by default), and a slave may join a store of any size. */
static int send_file(struct master *m, const amqp_envelope_t *env, const char *path, struct wire_chunk *ch)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0; /* no answer: the slave asks again */
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    size_t piece = m->w->snapshot_chunk;
    ch->count = size <= 0 ? 1 : (size + (long)piece - 1) / (long)piece;
    char *reply_to = mq_reply_to(env), *corr = mq_corr_id(env);
    unsigned char *buf = xmalloc(piece);
    int rc = 0;
    for (ch->index = 0; ch->index < ch->count && rc == 0; ch->index++) {
        size_t n = fread(buf, 1, piece, f);
        rc = wire_chunk_publish(m->c, CH, reply_to, corr, ch, buf, n);
    }
    log_info("master: sent a %ld-byte snapshot at seq %" PRId64 " in %" PRId64 " chunk(s) to %s", size, ch->seq,
             ch->count, reply_to);
    free(buf);
    free(reply_to);
    free(corr);
    fclose(f);
    return rc;
}

/* Acked first: a snapshot that fails must not come back forever; the slave asks again. */
static int serve_snapshot(struct master *m, const amqp_envelope_t *env, const struct wire_write_msg *msg)
{
    struct wire_chunk ch = {0};
    if (mq_ack(m->c, CH, env->delivery_tag) < 0)
        return -1;
    if (!(env->message.properties._flags & AMQP_BASIC_REPLY_TO_FLAG)) {
        log_warn("master: a snapshot request without reply_to");
        return 0;
    }
    /* Waited here while we wrote another copy: the slave has asked again since. */
    if (msg->asked && clock_wall_ms() - msg->asked > SNAPSHOT_REQUEST_MAX_AGE_MS) {
        log_info("master: skipping a snapshot request %lld ms old", (long long)(clock_wall_ms() - msg->asked));
        return 0;
    }
    if (store_snapshot_file(m->s, m->snap_path, &ch.seq, &ch.term) < 0) {
        log_error("master: cannot take a snapshot"); /* no answer: the slave asks again */
        return 0;
    }
    int rc = send_file(m, env, m->snap_path, &ch);
    unlink(m->snap_path);
    return rc;
}

/* ---- one write of a batch ---- */

static void refuse(struct item *it, int status, const char *msg)
{
    it->status = status;
    snprintf(it->err, sizeof it->err, "%s", msg);
}

/* Reads the message into it; a malformed one is refused with 400. */
static void parse(struct item *it)
{
    it->status = 200;
    if (wire_write_parse(&it->env.message.body, &it->m, it->err, sizeof it->err) < 0)
        it->status = 400;
    else if (it->m.kind != WIRE_SNAPSHOT)
        wire_write_id(&it->m.w, &it->env, it->id);
}

/* Rule 1: a write already answered (a redelivery after a crash or a lost connection, or a
 * retry with its Idempotency-Key, possibly in this very batch) gets the stored answer, and
 * its sync message goes out again in case it never did; slaves that hold it skip it.
 * 1 when found, 0 when not, -1 on error. */
static int from_log(struct master *m, struct item *it)
{
    char *stored = NULL;
    int found = store_log_get(m->s, it->id, &it->seq, &stored);
    if (found <= 0)
        return found;
    json_t *answer = json_loads(stored, 0, NULL);
    free(stored);
    const char *was = "";
    jsonx_get_str(answer, "hash", &was);
    if (!answer || strcmp(was, it->m.w.hash) != 0) {
        it->seq = 0;
        refuse(it, 422, "this Idempotency-Key was used with another request");
        json_decref(answer);
        return 1;
    }
    log_info("master: write %s was applied before (seq %" PRId64 "); answering it again", it->id, it->seq);
    json_object_del(answer, "hash");
    it->answer = answer;
    it->at = clock_wall_ms() / 1000;
    return 1;
}

/* Rules 1-2 for one write inside the batch's transaction. */
static void decide(struct master *m, struct item *it)
{
    if (it->status != 200)
        return;
    int logged = from_log(m, it);
    if (logged != 0) {
        if (logged < 0)
            refuse(it, 500, "the database failed to read the write log");
        return;
    }
    /* A caller that gave up got a 503, and a 503 must mean "not applied" (docs/DESIGN.md
     * "Ghost writes"): the batch commits within milliseconds of this check. */
    if (it->m.w.deadline && clock_wall_ms() > it->m.w.deadline - DEADLINE_MARGIN_MS) {
        log_warn("master: write %s came after its caller gave up; not applied", it->id);
        refuse(it, 503, "the write reached the master after its deadline");
        return;
    }
    it->at = clock_wall_ms() / 1000;
    struct apply_in in = {.request = it->m.w.request, .id = it->id, .hash = it->m.w.hash, .seq = m->applied + 1,
                          .at = it->at};
    int rc = apply_write(m->s, &in, &it->answer, it->err, sizeof it->err);
    if (rc < 0) {
        it->status = rc == QUERY_EINVALID ? 400 : 500;
        return;
    }
    it->seq = m->applied = in.seq;
}

/* ---- a batch ---- */

/* The last gate before an acknowledgement (see the file comment). 0: answer;
 * MASTER_ABDICATED: our term is over or cannot be vouched for, answer nothing. */
static int fenced(struct master *m)
{
    const struct worker_ctx *w = m->w;
    int f = w->fence ? w->fence(w->seam_ud) : 0;
    if (f == 0)
        return 0;
    if (f > 0) {
        log_error("master: ALARM: term %" PRId64 " is over; %zu write(s) up to seq %" PRId64 " were committed here "
                  "but are not acknowledged, and this copy is demoted so that it never seeds a fleet",
                  m->term, m->n, m->applied);
        store_set_term(m->s, 0);
    } else {
        log_warn("master: cannot confirm term %" PRId64 " with ZooKeeper; %zu write(s) go back unanswered", m->term,
                 m->n);
    }
    return MASTER_ABDICATED;
}

/* Applies the batch inside one open transaction; 0, or -1 when it cannot be opened
 * (every write is then refused with 500). */
static int apply_batch(struct master *m)
{
    if (store_begin(m->s) < 0) {
        for (size_t i = 0; i < m->n; i++)
            refuse(&m->batch[i], 500, "the database failed to start a transaction");
        return -1;
    }
    for (size_t i = 0; i < m->n; i++)
        decide(m, &m->batch[i]);
    return 0;
}

/* Publishes the batch's sync message and waits for its confirm, then commits: a
 * write that the broker never took is rolled back, so a 503 for it stays true. */
static int replicate_batch(struct master *m, int64_t applied_before)
{
    uint64_t first = m->pub_tags + 1;
    int rc = publish_batch(m);
    if (rc == 0)
        rc = confirmed_since(m, first);
    if (rc < 0 || store_commit(m->s) < 0) {
        if (rc < 0)
            store_rollback(m->s);
        m->applied = applied_before;
        return -1; /* reconnect: a new term begins, so no slave keeps what we rolled back */
    }
    return 0;
}

/* The term checked, every answer, one ack. Answers before the ack: a master that dies in
 * between leaves the writes to be redelivered and answered again from the log, while one
 * that acked first and died would leave its callers with nothing but a timeout. */
static int acknowledge_batch(struct master *m)
{
    int rc = fenced(m);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < m->n && rc == 0; i++) {
        struct item *it = &m->batch[i];
        if (it->status == 200)
            rc = wire_answer(m->c, CH, &it->env, m->w->id, it->answer);
        else
            rc = wire_answer_error(m->c, CH, &it->env, m->w->id, it->status, it->err);
    }
    if (rc == 0)
        rc = mq_check_status(amqp_basic_ack(m->c, CH, m->batch[m->n - 1].env.delivery_tag, 1), "basic.ack");
    log_debug("master: a batch of %zu write(s), applied up to seq %" PRId64, m->n, m->applied);
    return rc;
}

/* One batch end to end (see the file comment). */
static int process_batch(struct master *m)
{
    int64_t before = m->applied;
    if (apply_batch(m) == 0 && replicate_batch(m, before) < 0)
        return -1;
    return acknowledge_batch(m);
}

static void drop_batch(struct master *m)
{
    for (size_t i = 0; i < m->n; i++) {
        amqp_destroy_envelope(&m->batch[i].env);
        json_decref(m->batch[i].m.msg);
        json_decref(m->batch[i].answer);
    }
    m->n = 0;
}

static int is_snapshot_request(const struct item *it)
{
    return it->status == 200 && it->m.kind == WIRE_SNAPSHOT;
}

/* Takes env (and everything else already waiting, up to the bound) as a batch and serves
 * it; a snapshot request ends the batch and is served after it. 0, -1 broken, or
 * MASTER_ABDICATED. */
static int serve_batch(struct master *m, const amqp_envelope_t *env)
{
    int rc = 0, snapshot = 0;
    amqp_envelope_t next;
    m->n = 0;
    for (;;) {
        struct item *it = &m->batch[m->n++];
        memset(it, 0, sizeof *it);
        it->env = *env;
        parse(it);
        if ((snapshot = is_snapshot_request(it)) != 0 || m->n == m->w->write_batch)
            break;
        int got = mq_recv(m->c, &next, 0);
        if (got <= 0) {
            rc = got;
            break;
        }
        env = &next;
    }
    size_t writes = m->n - (size_t)snapshot;
    struct item last = m->batch[m->n - 1];
    m->n = writes;
    if (rc == 0 && writes > 0)
        rc = process_batch(m);
    drop_batch(m);
    if (snapshot) {
        if (rc == 0)
            rc = serve_snapshot(m, &last.env, &last.m);
        amqp_destroy_envelope(&last.env);
        json_decref(last.m.msg);
    }
    return rc;
}

/* One connection's life: -1 when it broke, MASTER_STOPPED when asked to stop,
 * MASTER_ABDICATED when no longer elected. */
static int serve(struct master *m)
{
    int rc = setup(m);
    if (rc <= 0)
        return rc < 0 ? -1 : *m->w->stop ? MASTER_STOPPED : MASTER_ABDICATED;
    while (!*m->w->stop) {
        if (abdicating(m))
            return MASTER_ABDICATED;
        if (m->w->report)
            m->w->report(MEMBER_MASTER, m->applied, m->w->seam_ud);
        amqp_envelope_t env;
        int got = mq_recv(m->c, &env, RECV_TIMEOUT_MS);
        if (got < 0)
            return -1;
        if (got == 0) {
            if (mq_keepalive(m->pub) < 0) /* pub only talks when writes come */
                return -1;
            continue;
        }
        /* Asked again with the write in hand: the election may have moved while we
         * waited. Unacked, it goes back to writeQ when the connection closes. */
        if (abdicating(m)) {
            amqp_destroy_envelope(&env);
            return MASTER_ABDICATED;
        }
        if ((rc = serve_batch(m, &env)) != 0)
            return rc < 0 ? -1 : rc;
    }
    return MASTER_STOPPED;
}

static void disconnect(struct master *m)
{
    /* Closing drops the consumer at once: writeQ is free for the next master, and the
     * writes in hand, unacked, go back to it. */
    mq_close(m->c);
    mq_close(m->pub);
    m->c = m->pub = NULL;
}

/* Every connection after the first begins a new term: sync messages published on the
 * last one but never confirmed may have reached slaves, and were rolled back here; a new
 * term's begin marker below their sequence makes those slaves resync. */
static int next_term(struct master *m)
{
    const struct worker_ctx *w = m->w;
    int64_t term;
    if (w->begin_term(m->term, &term, w->seam_ud) < 0 || store_set_term(m->s, term) < 0)
        return -1;
    m->term = term;
    return 0;
}

int master_run(store *s, const struct worker_ctx *w)
{
    struct master m = {.s = s, .w = w};
    if (store_applied_seq(s, &m.applied) < 0 || store_term(s, &m.term) < 0)
        return -1;
    m.snap_path = xasprintf("%s.snap-out", w->db_path);
    m.batch = xcalloc(w->write_batch, sizeof *m.batch);
    m.sync = xcalloc(w->write_batch, sizeof *m.sync);
    int rc = MASTER_STOPPED;
    for (int first = 1; !*w->stop && rc != MASTER_ABDICATED; first = 0) {
        m.c = mq_connect(&w->mq, w->stop);
        m.pub = m.c ? mq_connect(&w->mq, w->stop) : NULL;
        if (!m.pub) {
            disconnect(&m);
            break;
        }
        if (!first && next_term(&m) < 0) {
            disconnect(&m);
            rc = MASTER_ABDICATED;
            break;
        }
        rc = serve(&m);
        if (rc < 0 && !*w->stop)
            log_warn("master: lost RabbitMQ; reconnecting");
        disconnect(&m);
    }
    free(m.sync);
    free(m.batch);
    free(m.snap_path);
    if (rc == MASTER_ABDICATED) {
        log_warn("master: no longer the elected master; stopped taking writes at seq %" PRId64, m.applied);
        return MASTER_ABDICATED;
    }
    log_info("master: stopped at seq %" PRId64, m.applied);
    return MASTER_STOPPED;
}
