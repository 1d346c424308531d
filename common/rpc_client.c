/* rpc_client.c - RPC over AMQP with many calls in flight.
 *
 * librabbitmq connections are not thread-safe, so one I/O thread owns the connection:
 * callers queue their message in an outbox, wake the thread through an eventfd and sleep
 * on their own condition variable until the answer with their correlation id arrives or
 * their deadline passes. The mutex guards only the outbox and the table of waiters; no
 * lock is held across the network round trip. */
#include "rpc_client.h"

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
#define RPC_CONNECT_RETRY_MS 2000

struct waiter {
    char id[40];
    int done;
    struct rpc_answer a;
    pthread_cond_t cv;
    struct waiter *next; /* bucket chain */
};

struct outmsg {
    char *queue;
    char *body;
    size_t len;
    char id[40];
    char req_id[48]; /* the caller's request id, as the AMQP message id */
    struct outmsg *next;
};

struct rpc_client {
    struct mq_cfg cfg;
    char *reply_queue;
    pthread_t thread;
    atomic_int stop;
    atomic_int ready;
    int wake_fd;
    atomic_uint_fast64_t next_seq;
    atomic_ulong calls, in_flight, timeouts, unavailable;
    uint64_t id_prefix; /* random per process: ids never repeat across restarts */

    pthread_mutex_t lock; /* guards table, outbox */
    struct waiter *table[RPC_BUCKETS];
    struct outmsg *out_head, *out_tail;
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
    if (!(p->_flags & AMQP_BASIC_CORRELATION_ID_FLAG) || p->correlation_id.len >= 40)
        return;
    char id[40];
    memcpy(id, p->correlation_id.bytes, p->correlation_id.len);
    id[p->correlation_id.len] = '\0';
    pthread_mutex_lock(&c->lock);
    struct waiter *w = c->table[bucket_of(id)];
    while (w && strcmp(w->id, id) != 0)
        w = w->next;
    if (w && !w->done) {
        w->a.body = mq_bytes_dup(env->message.body);
        w->a.len = env->message.body.len;
        if ((p->_flags & AMQP_BASIC_TYPE_FLAG) && p->type.len < 16) {
            char st[16];
            memcpy(st, p->type.bytes, p->type.len);
            st[p->type.len] = '\0';
            w->a.status = atoi(st);
        }
        if ((p->_flags & AMQP_BASIC_APP_ID_FLAG) && p->app_id.len < sizeof w->a.worker) {
            memcpy(w->a.worker, p->app_id.bytes, p->app_id.len);
            w->a.worker[p->app_id.len] = '\0';
        }
        w->done = 1;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&c->lock);
    if (!w)
        log_debug("rpc: dropped a late answer %s", id);
}

static amqp_connection_state_t io_connect(rpc_client *c)
{
    amqp_connection_state_t conn = mq_connect(&c->cfg, RPC_CONNECT_RETRY_MS);
    if (!conn)
        return NULL;
    if (mq_queue_declare(conn, 1, MQ_READ_QUEUE, 0) < 0 || mq_queue_declare(conn, 1, MQ_WRITE_QUEUE, 0) < 0 ||
        mq_queue_declare(conn, 1, c->reply_queue, 0) < 0 || mq_consume(conn, 1, c->reply_queue, NULL, 1) < 0) {
        mq_close(conn);
        return NULL;
    }
    atomic_store(&c->ready, 1);
    return conn;
}

/* Publishes everything queued; -1 when the connection failed. */
static int io_flush(rpc_client *c, amqp_connection_state_t conn)
{
    pthread_mutex_lock(&c->lock);
    struct outmsg *m = c->out_head;
    c->out_head = c->out_tail = NULL;
    pthread_mutex_unlock(&c->lock);
    int rc = 0;
    while (m) {
        struct outmsg *next = m->next;
        /* after a failure the rest is dropped; its callers time out and answer 503 */
        if (rc == 0 && mq_publish_id(conn, 1, "", m->queue, m->id, c->reply_queue, m->req_id, m->body, m->len) < 0)
            rc = -1;
        free(m->queue);
        free(m->body);
        free(m);
        m = next;
    }
    return rc;
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
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->id_prefix = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16);
    c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->wake_fd < 0 || pthread_create(&c->thread, NULL, io_main, c) != 0) {
        log_error("rpc: cannot start the I/O thread: %s", strerror(errno));
        if (c->wake_fd >= 0)
            close(c->wake_fd);
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
    for (struct outmsg *m = c->out_head, *next; m; m = next) {
        next = m->next;
        free(m->queue);
        free(m->body);
        free(m);
    }
    pthread_mutex_unlock(&c->lock);
    close(c->wake_fd);
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
}

int rpc_client_ready(rpc_client *c)
{
    return atomic_load(&c->ready);
}

static void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

int rpc_call(rpc_client *c, const char *queue, const char *body, size_t len, long timeout_ms,
             struct rpc_answer *answer, char *corr_id_out)
{
    struct waiter w = {0};
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.cv, &ca);
    pthread_condattr_destroy(&ca);
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

    struct timespec deadline;
    deadline_in(&deadline, timeout_ms);
    pthread_mutex_lock(&c->lock);
    size_t b = bucket_of(w.id);
    w.next = c->table[b];
    c->table[b] = &w;
    if (c->out_tail)
        c->out_tail->next = m;
    else
        c->out_head = m;
    c->out_tail = m;
    pthread_mutex_unlock(&c->lock);

    atomic_fetch_add(&c->calls, 1);
    atomic_fetch_add(&c->in_flight, 1);
    uint64_t one = 1;
    ssize_t wr = write(c->wake_fd, &one, sizeof one);
    (void)wr; /* a full counter still wakes the thread */

    int rc = RPC_OK;
    pthread_mutex_lock(&c->lock);
    while (!w.done && rc == RPC_OK) {
        if (atomic_load(&c->stop))
            rc = RPC_ESHUTDOWN;
        else if (pthread_cond_timedwait(&w.cv, &c->lock, &deadline) == ETIMEDOUT && !w.done)
            rc = atomic_load(&c->ready) ? RPC_ETIMEOUT : RPC_EUNAVAILABLE;
    }
    table_remove(c, &w);
    pthread_mutex_unlock(&c->lock);
    pthread_cond_destroy(&w.cv);
    atomic_fetch_sub(&c->in_flight, 1);
    if (rc == RPC_ETIMEOUT)
        atomic_fetch_add(&c->timeouts, 1);
    else if (rc == RPC_EUNAVAILABLE)
        atomic_fetch_add(&c->unavailable, 1);

    if (rc != RPC_OK) {
        free(w.a.body);
        return rc;
    }
    *answer = w.a;
    return RPC_OK;
}
