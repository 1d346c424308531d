/* dbapi.c - the DBaaS front door. Requests are validated as JSON objects here; the
 * worker's request compiler owns the schema, and its refusals come back as 400s. */
#include "dbapi.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "log.h"
#include "mq.h"
#include "xalloc.h"

struct dbapi {
    rpc_client *rpc;
    long timeout_ms;
    _Atomic int64_t seq;
    dbapi_read_hook read_hook;
    void *read_hook_ud;
};

dbapi *dbapi_new(rpc_client *rpc, long timeout_ms)
{
    dbapi *d = xcalloc(1, sizeof *d);
    d->rpc = rpc;
    d->timeout_ms = timeout_ms;
    return d;
}

void dbapi_free(dbapi *d)
{
    free(d);
}

void dbapi_set_read_hook(dbapi *d, dbapi_read_hook fn, void *ud)
{
    d->read_hook = fn;
    d->read_hook_ud = ud;
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

/* Sends envelope (stolen) on queue. RPC_OK with *a filled when a worker answered 200;
 * otherwise NULL-bodied *a and *err set to the reply to send (the worker's refusal, or a
 * 503 when nobody answered). */
static int call(dbapi *d, const char *queue, json_t *envelope, struct rpc_answer *a, http_reply **err)
{
    char *text = jsonx_dump(envelope);
    json_decref(envelope);
    char corr[40];
    int rc = rpc_call(d->rpc, queue, text, strlen(text), d->timeout_ms, a, corr);
    free(text);
    if (rc != RPC_OK) {
        log_warn("db: %s request %s got no answer (%s)", queue, corr,
                 rc == RPC_ETIMEOUT ? "timeout" : "broker unavailable");
        *err = http_reply_error(503, "no %s answered in time", strcmp(queue, MQ_READ_QUEUE) ? "master" : "slave");
        return -1;
    }
    if (a->status == 200)
        return 0;
    if (a->status < 400 || a->status > 599) {
        log_error("db: a worker sent an answer without a status to %s", corr);
        *err = http_reply_error(502, "a worker sent a malformed answer");
    } else {
        json_t *body = json_loadb(a->body, a->len, 0, NULL);
        const char *msg = "the request was refused";
        jsonx_get_str(body, "error", &msg);
        *err = http_reply_error(a->status, "%s", msg);
        json_decref(body);
    }
    free(a->body);
    a->body = NULL;
    return -1;
}

http_reply *dbapi_read(http_req *req, void *ud)
{
    dbapi *d = ud;
    http_reply *err = NULL;
    json_t *body = http_req_json_object(req, &err);
    if (!body)
        return err;
    if (d->read_hook)
        d->read_hook(d->read_hook_ud);
    json_t *env = json_pack("{s:I,s:o}", "min_seq", (json_int_t)dbapi_seq(d), "request", body);
    struct rpc_answer a;
    if (call(d, MQ_READ_QUEUE, env, &a, &err) < 0)
        return err;
    /* the rows pass through as the worker encoded them: no parse, no second encoding */
    http_reply *r = http_reply_raw(200, a.body, a.len);
    if (a.worker[0]) /* which slave served the read: for operators and the round-robin test */
        http_reply_header(r, "X-Worker", a.worker);
    free(a.body);
    return r;
}

/* Sends a write envelope; on success keeps the sequence and answers without it. */
static http_reply *write_envelope(dbapi *d, json_t *env)
{
    http_reply *err = NULL;
    struct rpc_answer a;
    if (call(d, MQ_WRITE_QUEUE, env, &a, &err) < 0)
        return err;
    json_t *res = json_loadb(a.body, a.len, 0, NULL);
    free(a.body);
    json_int_t seq = 0;
    if (json_is_object(res) && jsonx_get_int(res, "seq", &seq) == 0) {
        seq_advance(d, seq);
        json_object_del(res, "seq");
    }
    json_t *out = json_is_object(res) ? json_incref(res) : json_object();
    json_decref(res);
    return http_reply_json(200, out);
}

http_reply *dbapi_write(http_req *req, void *ud)
{
    http_reply *err = NULL;
    json_t *body = http_req_json_object(req, &err);
    if (!body)
        return err;
    return write_envelope(ud, json_pack("{s:o}", "request", body));
}

http_reply *dbapi_clear(http_req *req, void *ud)
{
    (void)req;
    http_reply *r = write_envelope(ud, json_pack("{s:b}", "clear", 1));
    if (r && http_reply_status(r) == 200) {
        http_reply_free(r);
        return http_reply_json(200, json_object());
    }
    return r;
}
