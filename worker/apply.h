/* apply.h - how a write becomes part of a copy, the same on the master and on every slave:
 * in one (nested) transaction, the write or clear, meta.applied_seq (and meta.term when it
 * changes), and the write_log row that answers a redelivery or an Idempotency-Key retry
 * exactly as the master answered it the first time. */
#ifndef RS_WORKER_APPLY_H
#define RS_WORKER_APPLY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct apply_in {
    const json_t *request; /* a write request; NULL: a clear */
    const char *id;        /* the write id for write_log; "": none */
    const char *hash;      /* the request digest of a keyed write; "": none */
    int64_t seq;           /* the sequence it takes */
    int64_t new_term;      /* > 0: meta.term becomes this in the same transaction */
    int64_t at;            /* the master's unix time */
};

/* QUERY_OK and *answer ({"status": 200, "body": {..., "seq"}}, the caller's), or
 * QUERY_EINVALID / QUERY_EFAIL with err; on failure nothing of it remains. */
int apply_write(store *s, const struct apply_in *in, json_t **answer, char *err, size_t errlen);

#endif
