/* rpc_client.c - RPC over AMQP with many calls in flight.
 *
 * librabbitmq connections are not thread-safe, so one I/O thread owns the connection:
 * callers queue their message in an outbox, wake the thread through an eventfd and sleep
 * on their own condition variable until the answer with their correlation id arrives or
 * their deadline passes. The mutex guards only the message lists and the table of waiters;
 * no lock is held across the network round trip.
 *
 * A message stays with the client until its caller leaves: queued in the outbox, then sent.
 * When the connection is lost, everything sent goes back to the outbox and is published
 * again on the next one, because its answer may have been lost with the broker: the
 * workers answer a repeated correlation id from their log (docs/DESIGN.md "Ghost
 * writes"). A call whose message went out on a lost connection and that still gets no
 * answer ends in RPC_ELOST: whether it was carried out is unknown. */
#include "rpc_client.h"

#include "clock.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

#define RPC_BUCKETS 1024
#define RPC_POLL_MS 200
#define RPC_FLUSH_MAX 256 /* messages published per turn of the I/O loop */

/* Where a message is; it moves only under the lock. */
enum out_state {
    OUT_QUEUED,     /* in the outbox */
    OUT_PUBLISHING, /* taken by the I/O thread, which alone touches it until it puts it back */
    OUT_SENT,       /* in the sent list, waiting for its answer */
};

struct outmsg {
    char *queue;
    char *body;
    size_t len;
    char id[RPC_CORR_ID_MAX];
    char req_id[LOG_REQUEST_ID_MAX]; /* the caller's request id, as the AMQP message id */
    struct timespec deadline; /* the caller's: past it the message is worth nothing */
    enum out_state state;
    unsigned published; /* times it went out */
    int lost;           /* it went out on a connection that was lost before the answer came */
    int orphan;         /* its caller left while it was being published: the I/O thread frees it */
    struct outmsg *prev, *next;
};

struct outlist {
    struct outmsg *head, *tail;
};

struct waiter {
    char id[RPC_CORR_ID_MAX];
    int done;
    struct rpc_answer a;
    struct outmsg *m; /* its message, until it leaves */
    pthread_cond_t cv;
    struct waiter *next; /* bucket chain */
};

struct rpc_client {
    struct mq_cfg cfg;
    char *reply_queue;
    pthread_t thread;
    atomic_int stop;
    atomic_int ready;
    int wake_fd;
    atomic_uint_fast64_t next_seq;
    atomic_ulong calls, in_flight, timeouts, unavailable, lost;
    uint64_t id_prefix; /* random per process: ids never repeat across restarts */

    pthread_mutex_t lock; /* guards table, outbox, sent, every message's state, waiting */
    pthread_cond_t drained; /* signalled when the last waiter leaves while stopping */
    unsigned waiting;       /* calls inside rpc_call: rpc_client_free waits for them */
    struct waiter *table[RPC_BUCKETS];
    struct outlist outbox, sent;
};

static size_t bucket_of(const char *id)
{
    size_t h = 5381;
    for (; *id; id++)
        h = h * 33 + (unsigned char)*id;
    return h % RPC_BUCKETS;
}

/* Called with the lock held. */
static void table_remove(rpc_client *c, struct waiter *w)
{
    struct waiter **pp = &c->table[bucket_of(w->id)];
    for (; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            return;
        }
}

static void deliver(rpc_client *c, amqp_envelope_t *env)
{
    amqp_basic_properties_t *p = &env->message.properties;
    char id[RPC_CORR_ID_MAX];
    if (mq_prop(p, AMQP_BASIC_CORRELATION_ID_FLAG, id, sizeof id) < 0)
        return;
    pthread_mutex_lock(&c->lock);
    struct waiter *w = c->table[bucket_of(id)];
    while (w && strcmp(w->id, id) != 0)
        w = w->next;
    if (w && !w->done) {
        w->a.body = mq_bytes_dup(env->message.body);
        w->a.len = env->message.body.len;
        mq_prop(p, AMQP_BASIC_TYPE_FLAG, w->a.type, sizeof w->a.type);
        mq_prop(p, AMQP_BASIC_APP_ID_FLAG, w->a.app_id, sizeof w->a.app_id);
        w->done = 1;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&c->lock);
    if (!w)
        log_debug("rpc: dropped a late answer %s", id);
}

static amqp_connection_state_t io_connect(rpc_client *c)
{
    amqp_connection_state_t conn = mq_connect(&c->cfg, &c->stop);
    if (!conn)
        return NULL;
    if (mq_consume(conn, 1, c->reply_queue, NULL, 1) < 0) {
        mq_close(conn);
        return NULL;
    }
    atomic_store(&c->ready, 1);
    return conn;
}

static void outmsg_free(struct outmsg *m)
{
    free(m->queue);
    free(m->body);
    free(m);
}

/* ---- the message lists (lock held) ---- */

static void outlist_push(struct outlist *l, struct outmsg *m)
{
    m->next = NULL;
    m->prev = l->tail;
    if (l->tail)
        l->tail->next = m;
    else
        l->head = m;
    l->tail = m;
}

static void outlist_remove(struct outlist *l, struct outmsg *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        l->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        l->tail = m->prev;
    m->prev = m->next = NULL;
}

/* Moves all of src in front of dst, in order. */
static void outlist_prepend(struct outlist *dst, struct outlist *src)
{
    if (!src->head)
        return;
    src->tail->next = dst->head;
    if (dst->head)
        dst->head->prev = src->tail;
    else
        dst->tail = src->tail;
    dst->head = src->head;
    src->head = src->tail = NULL;
}

static void outlist_free(struct outlist *l)
{
    for (struct outmsg *m = l->head, *next; m; m = next) {
        next = m->next;
        outmsg_free(m);
    }
    l->head = l->tail = NULL;
}

/* Publishes one message with the caller's remaining time as its AMQP expiration, so the
 * broker drops it unconsumed once nobody waits for the answer. 1 when it went out, 0 when
 * its time was up, -1 when the connection failed (it may have gone out). */
static int publish_out(rpc_client *c, amqp_connection_state_t conn, const struct outmsg *m)
{
    long left = clock_ms_until(&m->deadline);
    if (left <= 0)
        return 0; /* its caller gave up while it waited here: sending it would be a ghost */
    struct mq_msg pm = {.exchange = "", .routing_key = m->queue, .corr_id = m->id, .reply_to = c->reply_queue,
                        .message_id = m->req_id, .expiration_ms = left, .body = m->body, .len = m->len};
    return mq_publish_msg(conn, 1, &pm) < 0 ? -1 : 1;
}

/* Puts back what io_flush took: a message that went out (or may have) joins the sent
 * list, one it never tried goes back to the front of the outbox, one whose caller left is
 * freed. out[i] is publish_out's result for the i-th message, or 2 when not tried. */
static void flush_done(rpc_client *c, struct outmsg *m, const signed char *out)
{
    struct outlist retry = {0};
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; m; i++) {
        struct outmsg *next = m->next;
        if (m->orphan) {
            outmsg_free(m);
        } else if (out[i] == 2) {
            m->state = OUT_QUEUED;
            outlist_push(&retry, m);
        } else {
            m->published += out[i] != 0;
            m->lost |= out[i] < 0;
            m->state = OUT_SENT;
            outlist_push(&c->sent, m);
        }
        m = next;
    }
    outlist_prepend(&c->outbox, &retry);
    pthread_mutex_unlock(&c->lock);
}

/* Publishes up to RPC_FLUSH_MAX queued messages; how many it took, or -1 when the
 * connection failed (what was not tried stays queued for the next connection). */
static int flush_some(rpc_client *c, amqp_connection_state_t conn)
{
    pthread_mutex_lock(&c->lock);
    struct outmsg *first = c->outbox.head, *m = first;
    size_t n = 0;
    for (; m && n < RPC_FLUSH_MAX; m = m->next, n++)
        m->state = OUT_PUBLISHING;
    if (n) {
        struct outmsg *last = m ? m->prev : c->outbox.tail;
        c->outbox.head = m;
        if (m)
            m->prev = NULL;
        else
            c->outbox.tail = NULL;
        last->next = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    signed char out[RPC_FLUSH_MAX];
    int rc = 0;
    size_t i = 0;
    for (m = first; i < n; m = m->next, i++) {
        out[i] = rc < 0 ? 2 : (signed char)publish_out(c, conn, m);
        if (out[i] < 0)
            rc = -1;
    }
    if (n)
        flush_done(c, first, out);
    return rc < 0 ? -1 : (int)n;
}

/* Publishes everything queued; -1 when the connection failed. */
static int io_flush(rpc_client *c, amqp_connection_state_t conn)
{
    int n;
    while ((n = flush_some(c, conn)) == RPC_FLUSH_MAX)
        ;
    return n < 0 ? -1 : 0;
}

/* The connection is gone: answers to what it carried may be lost with it, so all of it
 * goes out again, in order, before anything newer. */
static void io_lost(rpc_client *c)
{
    pthread_mutex_lock(&c->lock);
    for (struct outmsg *m = c->sent.head; m; m = m->next) {
        m->lost |= m->published > 0;
        m->state = OUT_QUEUED;
    }
    outlist_prepend(&c->outbox, &c->sent);
    pthread_mutex_unlock(&c->lock);
}

/* A leaving call's message: unlinked and freed, or left to the I/O thread while it
 * publishes it. Lock held. */
static void out_release(rpc_client *c, struct outmsg *m)
{
    if (m->state == OUT_PUBLISHING) {
        m->orphan = 1;
        return;
    }
    outlist_remove(m->state == OUT_QUEUED ? &c->outbox : &c->sent, m);
    outmsg_free(m);
}

/* Waits for socket input or a wake-up; 1 when there may be frames to read. */
static int io_wait(rpc_client *c, amqp_connection_state_t conn)
{
    if (amqp_frames_enqueued(conn) || amqp_data_in_buffer(conn))
        return 1;
    struct pollfd fds[2] = {{amqp_get_sockfd(conn), POLLIN, 0}, {c->wake_fd, POLLIN, 0}};
    int n = poll(fds, 2, RPC_POLL_MS);
    if (n > 0 && (fds[1].revents & POLLIN)) {
        uint64_t v;
        ssize_t r = read(c->wake_fd, &v, sizeof v);
        (void)r; /* the counter only wakes us */
    }
    /* on a poll timeout still read once, so librabbitmq sends and checks heartbeats */
    return n == 0 || (fds[0].revents & (POLLIN | POLLERR | POLLHUP));
}

/* Reads one frame's worth of input; -1 when the connection is gone. */
static int io_read(rpc_client *c, amqp_connection_state_t conn)
{
    amqp_envelope_t env;
    struct timeval zero = {0, 0};
    amqp_maybe_release_buffers(conn);
    amqp_rpc_reply_t r = amqp_consume_message(conn, &env, &zero, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        deliver(c, &env);
        amqp_destroy_envelope(&env);
        return 0;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
        return 0;
    /* anything else (a closed channel, a lost socket, a missed heartbeat): start over */
    mq_check(r, "consuming answers");
    return -1;
}

static void *io_main(void *arg)
{
    rpc_client *c = arg;
    amqp_connection_state_t conn = NULL;
    while (!atomic_load(&c->stop)) {
        if (!conn && !(conn = io_connect(c)))
            continue;
        if (io_flush(c, conn) < 0 || (io_wait(c, conn) && io_read(c, conn) < 0)) {
            atomic_store(&c->ready, 0);
            amqp_destroy_connection(conn);
            conn = NULL;
            io_lost(c);
            log_warn("rpc: connection lost, reconnecting");
        }
    }
    atomic_store(&c->ready, 0);
    mq_close(conn);
    return NULL;
}

rpc_client *rpc_client_new(const struct mq_cfg *cfg, const char *reply_queue)
{
    rpc_client *c = xcalloc(1, sizeof *c);
    c->cfg = *cfg;
    c->reply_queue = xstrdup(reply_queue);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->drained, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->id_prefix = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16);
    c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->wake_fd < 0 || pthread_create(&c->thread, NULL, io_main, c) != 0) {
        log_error("rpc: cannot start the I/O thread: %s", strerror(errno));
        if (c->wake_fd >= 0)
            close(c->wake_fd);
        pthread_cond_destroy(&c->drained);
        pthread_mutex_destroy(&c->lock);
        free(c->reply_queue);
        free(c);
        return NULL;
    }
    return c;
}

void rpc_client_free(rpc_client *c)
{
    if (!c)
        return;
    atomic_store(&c->stop, 1);
    pthread_join(c->thread, NULL);
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < RPC_BUCKETS; i++)
        for (struct waiter *w = c->table[i]; w; w = w->next)
            pthread_cond_signal(&w->cv); /* they see stop and leave */
    while (c->waiting > 0)
        pthread_cond_wait(&c->drained, &c->lock);
    outlist_free(&c->outbox); /* the I/O thread is gone: nothing is being published */
    outlist_free(&c->sent);
    pthread_mutex_unlock(&c->lock);
    close(c->wake_fd);
    pthread_cond_destroy(&c->drained);
    pthread_mutex_destroy(&c->lock);
    free(c->reply_queue);
    free(c);
}

void rpc_client_stats(rpc_client *c, struct rpc_stats *out)
{
    out->calls = atomic_load(&c->calls);
    out->in_flight = atomic_load(&c->in_flight);
    out->timeouts = atomic_load(&c->timeouts);
    out->unavailable = atomic_load(&c->unavailable);
    out->lost = atomic_load(&c->lost);
}

int rpc_client_ready(rpc_client *c)
{
    return atomic_load(&c->ready);
}

/* Registers the waiter and queues its message; the I/O thread is woken after. */
static void enqueue(rpc_client *c, struct waiter *w, struct outmsg *m)
{
    pthread_mutex_lock(&c->lock);
    size_t b = bucket_of(w->id);
    w->next = c->table[b];
    c->table[b] = w;
    m->state = OUT_QUEUED;
    outlist_push(&c->outbox, m);
    w->m = m;
    c->waiting++;
    atomic_fetch_add(&c->calls, 1);
    atomic_fetch_add(&c->in_flight, 1);
    pthread_mutex_unlock(&c->lock);
    uint64_t one = 1;
    ssize_t wr = write(c->wake_fd, &one, sizeof one);
    (void)wr; /* a full counter still wakes the thread */
}

/* Waits for the answer, the deadline or shutdown, then leaves: everything it does to c
 * happens under the lock, and the last waiter to leave a stopping client says so, so that
 * rpc_client_free never destroys what a waiter still touches. */
static int await_answer(rpc_client *c, struct waiter *w, const struct timespec *deadline)
{
    int rc = RPC_OK;
    pthread_mutex_lock(&c->lock);
    while (!w->done && rc == RPC_OK) {
        if (atomic_load(&c->stop))
            rc = RPC_ESHUTDOWN;
        else if (pthread_cond_timedwait(&w->cv, &c->lock, deadline) == ETIMEDOUT && !w->done)
            rc = atomic_load(&c->ready) ? RPC_ETIMEOUT : RPC_EUNAVAILABLE;
    }
    if (rc != RPC_OK && w->m->lost)
        rc = RPC_ELOST;
    table_remove(c, w);
    out_release(c, w->m); /* a message still queued is never sent: its caller has its answer */
    atomic_fetch_sub(&c->in_flight, 1);
    if (rc == RPC_ETIMEOUT)
        atomic_fetch_add(&c->timeouts, 1);
    else if (rc == RPC_EUNAVAILABLE)
        atomic_fetch_add(&c->unavailable, 1);
    else if (rc == RPC_ELOST)
        atomic_fetch_add(&c->lost, 1);
    if (--c->waiting == 0 && atomic_load(&c->stop))
        pthread_cond_signal(&c->drained);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int rpc_call(rpc_client *c, const char *queue, const char *body, size_t len, long timeout_ms,
             struct rpc_answer *answer, char *corr_id_out)
{
    struct waiter w = {0};
    clock_cond_init(&w.cv);
    snprintf(w.id, sizeof w.id, "%016llx-%llu", (unsigned long long)c->id_prefix,
             (unsigned long long)atomic_fetch_add(&c->next_seq, 1));
    if (corr_id_out)
        memcpy(corr_id_out, w.id, sizeof w.id);

    struct outmsg *m = xcalloc(1, sizeof *m);
    m->queue = xstrdup(queue);
    m->body = xstrndup(body, len);
    m->len = len;
    memcpy(m->id, w.id, sizeof w.id);
    snprintf(m->req_id, sizeof m->req_id, "%s", log_request_id());
    clock_deadline(&m->deadline, timeout_ms);
    struct timespec deadline = m->deadline; /* m is touched under the lock once queued */

    enqueue(c, &w, m);
    int rc = await_answer(c, &w, &deadline);
    pthread_cond_destroy(&w.cv);
    if (rc != RPC_OK) {
        free(w.a.body);
        return rc;
    }
    *answer = w.a;
    return RPC_OK;
}
