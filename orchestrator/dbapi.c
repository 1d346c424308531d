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

/* Sends envelope (stolen) on queue and returns the worker's answer object, or NULL with
 * *err set to a 503 reply. */
static json_t *call(dbapi *d, const char *queue, json_t *envelope, http_reply **err)
{
    char *text = jsonx_dump(envelope);
    json_decref(envelope);
    char *answer = NULL;
    size_t len = 0;
    char corr[40];
    int rc = rpc_call(d->rpc, queue, text, strlen(text), d->timeout_ms, &answer, &len, corr);
    free(text);
    if (rc != RPC_OK) {
        log_warn("db: %s request %s got no answer (%s)", queue, corr,
                 rc == RPC_ETIMEOUT ? "timeout" : "broker unavailable");
        *err = http_reply_error(503, "no %s answered in time", strcmp(queue, MQ_READ_QUEUE) ? "master" : "slave");
        return NULL;
    }
    json_t *a = json_loadb(answer, len, 0, NULL);
    free(answer);
    json_int_t status;
    if (!a || jsonx_get_int(a, "status", &status) < 0) {
        json_decref(a);
        log_error("db: a worker sent a malformed answer to %s", corr);
        *err = http_reply_error(502, "a worker sent a malformed answer");
        return NULL;
    }
    if (status != 200) {
        const char *msg = "the request was refused";
        jsonx_get_str(a, "error", &msg);
        *err = http_reply_error(status >= 400 && status < 600 ? (int)status : 500, "%s", msg);
        json_decref(a);
        return NULL;
    }
    return a;
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
    json_t *a = call(d, MQ_READ_QUEUE, env, &err);
    if (!a)
        return err;
    json_t *rows = json_incref(json_object_get(a, "body"));
    const char *worker = NULL;
    jsonx_get_str(a, "worker", &worker);
    http_reply *r = http_reply_json(200, rows ? rows : json_array());
    if (worker) /* which slave served the read: for operators and the round-robin test */
        http_reply_header(r, "X-Worker", worker);
    json_decref(a);
    return r;
}

/* Sends a write envelope; on success keeps the sequence and answers without it. */
static http_reply *write_envelope(dbapi *d, json_t *env)
{
    http_reply *err = NULL;
    json_t *a = call(d, MQ_WRITE_QUEUE, env, &err);
    if (!a)
        return err;
    json_t *res = json_object_get(a, "body");
    json_int_t seq = 0;
    if (json_is_object(res) && jsonx_get_int(res, "seq", &seq) == 0) {
        seq_advance(d, seq);
        json_object_del(res, "seq");
    }
    json_t *out = json_is_object(res) ? json_incref(res) : json_object();
    json_decref(a);
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
