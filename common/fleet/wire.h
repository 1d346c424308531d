/* wire.h - the fleet's wire protocol on RabbitMQ, in one place (docs/DESIGN.md "Wire
 * protocol on RabbitMQ"): the queues and the exchange, and every message that crosses
 * them, built and parsed side by side: reads and writes (orchestrator -> workers), sync
 * messages (master -> slaves), snapshot requests and chunks (slave <-> master), and the
 * answers (workers -> orchestrator). A field is added here, on both sides at once. */
#ifndef RS_FLEET_WIRE_H
#define RS_FLEET_WIRE_H

#include <amqp.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mq.h"
#include "rpc_client.h"

/* ---- topology ---- */

#define WIRE_READ_QUEUE "readQ"         /* orchestrator -> slaves, round-robin */
#define WIRE_WRITE_QUEUE "writeQ"       /* orchestrator and new slaves -> the master */
#define WIRE_RESPONSE_QUEUE "responseQ" /* workers -> orchestrator: every answer */
#define WIRE_SYNC_EXCHANGE "syncQ"      /* master -> one queue per slave (fanout) */

/* Declares every shared queue and the exchange above (idempotent): the mq_cfg.declare of
 * every connection in the fleet, so that whoever connects first finds them all. */
int wire_declare_topology(amqp_connection_state_t c, amqp_channel_t ch, const struct mq_cfg *cfg);
/* A slave's own sync queue: exclusive, named by the broker, bound to WIRE_SYNC_EXCHANGE.
 * The name (the caller frees it), or NULL. */
char *wire_declare_sync_queue(amqp_connection_state_t c, amqp_channel_t ch);

/* ---- a read: orchestrator -> readQ -> a slave ---- */

/* {"min_seq": S, "request": R}: a slave answers it once its copy has applied write S
 * (read-your-writes). The text; the caller frees it. */
char *wire_read_build(const json_t *request, int64_t min_seq);

struct wire_read {
    json_t *msg;           /* owned: what request points into (json_decref it) */
    const json_t *request;
    int64_t min_seq;       /* 0 when absent */
};
/* 0, or -1 with err: the reason to refuse it with 400 (out->msg is then NULL). */
int wire_read_parse(const amqp_bytes_t *body, struct wire_read *out, char *err, size_t errlen);

/* ---- a write: orchestrator -> writeQ -> the master ---- */

struct wire_write {
    const json_t *request;  /* NULL: a clear */
    const char *key, *hash; /* the caller's Idempotency-Key and the request's digest; NULL: none */
    int64_t deadline;       /* the wall-clock ms its caller waits until; 0: none */
};
/* {"request": R, "key": K, "hash": H, "deadline": D} or {"clear": true, "deadline": D}.
 * The text; the caller frees it. */
char *wire_write_build(const struct wire_write *w);

/* What arrives on writeQ: a write, a clear, or a slave's snapshot request. */
enum wire_write_kind { WIRE_WRITE, WIRE_CLEAR, WIRE_SNAPSHOT };
struct wire_write_msg {
    json_t *msg;            /* owned: what the pointers below point into (json_decref it) */
    enum wire_write_kind kind;
    struct wire_write w;    /* key NULL, hash "" when the write came without a key */
    int64_t asked;          /* a snapshot request: the wall-clock ms it was asked at; 0: unknown */
};
/* 0, or -1 with err: the reason to refuse it with 400 (out->msg may still hold the body). */
int wire_write_parse(const amqp_bytes_t *body, struct wire_write_msg *out, char *err, size_t errlen);

/* A write's id, its key in write_log and in sync messages: "k:<Idempotency-Key>" for a
 * keyed write (a retry is the same write), else the correlation id of its delivery. */
#define WIRE_WRITE_ID_MAX 192
void wire_write_id(const struct wire_write *w, const amqp_envelope_t *env, char out[WIRE_WRITE_ID_MAX]);

/* A write's answer body as the orchestrator passes it on: without the "seq" it took,
 * which goes to *seq (0: none). The caller's; an empty object when the body is not one. */
json_t *wire_write_answer(const struct rpc_answer *a, int64_t *seq);

/* ---- sync: the master -> syncQ -> every slave ---- */

/* One write of a batch: a write or a clear, applied at seq. */
struct wire_sync_write {
    int64_t seq;
    const json_t *request; /* NULL with clear set for a clear */
    int clear;
    const char *id, *hash; /* its write id, and its digest when keyed ("": none) */
    int64_t at;            /* the master's unix time when it applied it */
};

enum wire_sync_kind {
    WIRE_SYNC_BATCH,  /* a group commit's writes, in order, all of term */
    WIRE_SYNC_BEGIN,  /* a master begins term holding seq */
    WIRE_SYNC_MARKER, /* a promoting slave's own marker: it drains its queue up to it */
};
struct wire_sync {
    enum wire_sync_kind kind;
    int64_t term;          /* a batch or a begin */
    int64_t seq;           /* a begin */
    size_t nwrites;        /* a batch: read each with wire_sync_write_at */
    const json_t *writes;  /* a batch: the "writes" array, or the message itself (one write) */
    const char *marker;    /* a marker */
};

/* A group commit's writes as one message {"term": T, "writes": [{"seq", "id", "at",
 * "request" | "clear": true, "hash"?}, ...]}: one publish, one confirm, and one delivery
 * on every slave for the whole batch. 1 when published, 0 when n == 0 (nothing is sent),
 * -1 on error. */
int wire_sync_publish_batch(amqp_connection_state_t c, amqp_channel_t ch, int64_t term,
                            const struct wire_sync_write *writes, size_t n);
/* {"term", "seq", "begin": true} or {"marker"}: s->kind WIRE_SYNC_BEGIN or _MARKER. */
int wire_sync_publish(amqp_connection_state_t c, amqp_channel_t ch, const struct wire_sync *s);
/* 0 and *out, whose strings point into *owner (json_decref it); -1 when malformed
 * (logged; *owner NULL). A message of one write at the top level ({"term", "seq", ...},
 * what masters sent before batches) is a batch of one. */
int wire_sync_parse(const amqp_bytes_t *body, struct wire_sync *out, json_t **owner);
/* The i-th write of a batch: 0, or -1 when it has no seq (logged; skip it). A write that
 * is neither a request nor a clear parses, for the slave to refuse. */
int wire_sync_write_at(const struct wire_sync *s, size_t i, struct wire_sync_write *out);

/* ---- snapshots: slave -> writeQ -> the master -> the slave's reply queue ---- */

/* {"snapshot": true, "asked": <wall-clock ms>} on writeQ, answered on reply_to with corr,
 * expiring in the broker after expiration_ms. */
int wire_snapshot_ask(amqp_connection_state_t c, amqp_channel_t ch, const char *corr, const char *reply_to,
                      long expiration_ms);

#define WIRE_SQLITE_TYPE "application/x-sqlite3" /* the content type of a snapshot's chunks */

/* Where one piece of a snapshot answer stands: the copy holds (term, seq), and this is
 * chunk index of count. Sent as the int64 headers "seq", "term", "chunk" and "chunks". */
struct wire_chunk {
    int64_t seq, term;
    int64_t index, count;
};
/* Publishes one chunk (len bytes of the database file) to reply_to, with corr. */
int wire_chunk_publish(amqp_connection_state_t c, amqp_channel_t ch, const char *reply_to, const char *corr,
                       const struct wire_chunk *chunk, const void *buf, size_t len);
/* The chunk a delivery carries: 0, or -1 when it is not a database chunk. */
int wire_chunk_parse(const amqp_envelope_t *env, struct wire_chunk *out);

/* ---- answers: a worker -> the request's reply_to (responseQ) -> the orchestrator ---- */

/* Answers an RPC delivery on its reply_to with its correlation_id: answer (borrowed) is
 * {"status", "body"} or {"status", "error"}; on the wire the status goes in the AMQP
 * `type`, worker_id in `app_id`, and the body is the "body" itself (or {"error"}), so the
 * orchestrator passes rows on without parsing them. Deliveries without reply_to are not
 * answered (0). */
int wire_answer(amqp_connection_state_t c, amqp_channel_t ch, const amqp_envelope_t *env, const char *worker_id,
                json_t *answer);
/* {"status": 200, "body": body}; body is stolen. */
int wire_answer_ok(amqp_connection_state_t c, amqp_channel_t ch, const amqp_envelope_t *env,
                   const char *worker_id, json_t *body);
/* {"status": status, "error": msg}, logged. */
int wire_answer_error(amqp_connection_state_t c, amqp_channel_t ch, const amqp_envelope_t *env,
                      const char *worker_id, int status, const char *msg);

/* The status an answer carries, as rpc_call received it; 0 when it names none. The worker
 * that gave it is a->app_id. */
int wire_answer_status(const struct rpc_answer *a);
/* A refusal's sentence ("the request was refused" when its body has none) into out. */
void wire_answer_refusal(const struct rpc_answer *a, char *out, size_t size);

#endif
