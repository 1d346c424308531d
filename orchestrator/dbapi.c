/* dbapi.c - the DBaaS front door. Requests are validated as JSON objects here; the
 * worker's request compiler owns the schema, and its refusals come back as 400s. The
 * messages and answers are fleet/wire.h's. */
#include "dbapi.h"

#include "clock.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idempotency.h"
#include "log.h"
#include "fleet/wire.h"
#include "xalloc.h"

#define DBAPI_REFUSAL_MAX 512 /* a worker's sentence for a refusal (its own are under 256) */

struct dbapi {
    rpc_client *rpc;
    idem_keys *keys; /* Idempotency-Keys of writes in flight */
    long timeout_ms;
    _Atomic int64_t seq;
    dbapi_read_hook read_hook;
    void *read_hook_ud;
    dbapi_done_hook done_hook;
    void *done_hook_ud;
};

/* Tells the done hook about r, begun at start; returns r. */
static http_reply *done(dbapi *d, int is_write, double start, http_reply *r)
{
    if (d->done_hook)
        d->done_hook(is_write, http_reply_status(r), clock_mono_s() - start, d->done_hook_ud);
    return r;
}

dbapi *dbapi_new(rpc_client *rpc, long timeout_ms)
{
    dbapi *d = xcalloc(1, sizeof *d);
    d->rpc = rpc;
    d->keys = idem_keys_new();
    d->timeout_ms = timeout_ms;
    return d;
}

void dbapi_free(dbapi *d)
{
    if (!d)
        return;
    idem_keys_free(d->keys);
    free(d);
}

void dbapi_set_read_hook(dbapi *d, dbapi_read_hook fn, void *ud)
{
    d->read_hook = fn;
    d->read_hook_ud = ud;
}

void dbapi_set_done_hook(dbapi *d, dbapi_done_hook fn, void *ud)
{
    d->done_hook = fn;
    d->done_hook_ud = ud;
}

int64_t dbapi_seq(const dbapi *d)
{
    return atomic_load(&((struct dbapi *)d)->seq);
}

/* Raises the answered-write watermark; never lowers it. */
static void seq_advance(dbapi *d, int64_t seq)
{
    int64_t cur = atomic_load(&d->seq);
    while (seq > cur && !atomic_compare_exchange_weak(&d->seq, &cur, seq))
        ;
}

/* The reply to a call nobody answered. A 503 says the request was not carried out; a
 * write that went out on a broker connection that was then lost may have been, and says so
 * with a 504 (docs/DESIGN.md "Ghost writes"). */
static http_reply *unanswered(const char *queue, const char *corr, int rc)
{
    int is_read = strcmp(queue, WIRE_READ_QUEUE) == 0;
    log_warn("db: %s request %s got no answer (%s)", queue, corr,
             rc == RPC_ETIMEOUT ? "timeout" : rc == RPC_ELOST ? "broker connection lost" : "broker unavailable");
    if (rc == RPC_ELOST && !is_read)
        return http_reply_error(504, "the broker connection was lost with this write in flight and the master's "
                                     "answer never came: it may have been applied; retry it with the same "
                                     "Idempotency-Key to learn its outcome");
    return http_reply_error(503, "no %s answered in time", is_read ? "slave" : "master");
}

/* Sends text (stolen) on queue. RPC_OK with *a filled when a worker answered 200;
 * otherwise NULL-bodied *a and *err set to the reply to send (the worker's refusal, or
 * unanswered()'s). */
static int call(dbapi *d, const char *queue, char *text, struct rpc_answer *a, http_reply **err)
{
    char corr[RPC_CORR_ID_MAX];
    int rc = rpc_call(d->rpc, queue, text, strlen(text), d->timeout_ms, a, corr);
    free(text);
    if (rc != RPC_OK) {
        *err = unanswered(queue, corr, rc);
        return -1;
    }
    int status = wire_answer_status(a);
    if (status == 200)
        return 0;
    if (status < 400 || status > 599) {
        log_error("db: a worker sent an answer without a status to %s", corr);
        *err = http_reply_error(502, "a worker sent a malformed answer");
    } else {
        char msg[DBAPI_REFUSAL_MAX];
        wire_answer_refusal(a, msg, sizeof msg);
        *err = http_reply_error(status, "%s", msg);
    }
    free(a->body);
    a->body = NULL;
    return -1;
}

static http_reply *read_call(dbapi *d, http_req *req);

http_reply *dbapi_read(http_req *req, void *ud)
{
    dbapi *d = ud;
    double start = clock_mono_s();
    return done(d, 0, start, read_call(d, req));
}

static http_reply *read_call(dbapi *d, http_req *req)
{
    const json_t *body;
    http_reply *err = http_req_object_or_reply(req, &body);
    if (err)
        return err;
    if (d->read_hook)
        d->read_hook(d->read_hook_ud);
    struct rpc_answer a;
    if (call(d, WIRE_READ_QUEUE, wire_read_build(body, dbapi_seq(d)), &a, &err) < 0)
        return err;
    /* the rows pass through as the worker encoded them: no parse, no second encoding */
    http_reply *r = http_reply_raw(200, a.body, a.len);
    if (a.app_id[0]) /* which slave served the read: for operators and the round-robin test */
        http_reply_header(r, "X-Worker", a.app_id);
    free(a.body);
    return r;
}

/* Sends a write (its request is borrowed); on success keeps the sequence and answers
 * without it. The message says until when we wait: the master commits nothing later than
 * that, so a 503 from here means "not applied" (docs/DESIGN.md "Ghost writes"). */
static http_reply *write_call(dbapi *d, struct wire_write *w);

static http_reply *write_message(dbapi *d, struct wire_write *w)
{
    double start = clock_mono_s();
    return done(d, 1, start, write_call(d, w));
}

static http_reply *write_call(dbapi *d, struct wire_write *w)
{
    http_reply *err = NULL;
    struct rpc_answer a;
    w->deadline = clock_wall_ms() + d->timeout_ms;
    if (call(d, WIRE_WRITE_QUEUE, wire_write_build(w), &a, &err) < 0)
        return err;
    int64_t seq;
    json_t *out = wire_write_answer(&a, &seq);
    free(a.body);
    seq_advance(d, seq);
    return http_reply_json(200, out);
}

/* A keyed write: at most one in flight per key. */
static http_reply *write_keyed(dbapi *d, const json_t *body, const char *key)
{
    if (!idem_keys_claim(d->keys, key))
        return http_reply_error(409, "a write with this Idempotency-Key is still in flight");
    char digest[IDEM_DIGEST_LEN + 1];
    idem_digest(body, digest);
    struct wire_write w = {.request = body, .key = key, .hash = digest};
    http_reply *r = write_message(d, &w);
    idem_keys_release(d->keys, key);
    return r;
}

http_reply *dbapi_write(http_req *req, void *ud)
{
    dbapi *d = ud;
    const json_t *body;
    const char *key = http_req_header(req, "Idempotency-Key");
    if (key && !idem_key_valid(key))
        return http_reply_error(400, "Idempotency-Key must be 1 to %d printable ASCII characters", IDEM_KEY_MAX);
    http_reply *err = http_req_object_or_reply(req, &body);
    if (err)
        return err;
    if (key)
        return write_keyed(d, body, key);
    struct wire_write w = {.request = body};
    return write_message(d, &w);
}

http_reply *dbapi_clear(http_req *req, void *ud)
{
    (void)req;
    struct wire_write w = {.request = NULL};
    http_reply *r = write_message(ud, &w);
    if (r && http_reply_status(r) == 200) {
        http_reply_free(r);
        return http_reply_json(200, json_object());
    }
    return r;
}
