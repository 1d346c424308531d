/* apply.c - one write into one copy (see apply.h). */
#include "apply.h"

#include <stdio.h>
#include <stdlib.h>

#include "jsonx.h"
#include "query.h"

/* The write or clear itself: its result body, or a QUERY_* code with err. */
static int run(store *s, const json_t *request, json_t **result, char *err, size_t errlen)
{
    if (request)
        return query_write(s, request, result, err, errlen);
    int64_t changes = 0;
    if (store_clear(s, &changes) < 0) {
        snprintf(err, errlen, "the database failed to clear");
        return QUERY_EFAIL;
    }
    *result = json_pack("{s:I,s:i}", "changes", (json_int_t)changes, "lastId", 0);
    return QUERY_OK;
}

/* The bookkeeping that makes the write part of this copy's history. */
static int record(store *s, const struct apply_in *in, json_t *answer)
{
    if (store_set_applied_seq(s, in->seq) < 0 || (in->new_term > 0 && store_set_term(s, in->new_term) < 0))
        return -1;
    if (!in->id[0])
        return 0;
    if (in->hash[0])
        json_object_set_new(answer, "hash", json_string(in->hash));
    char *text = jsonx_dump(answer);
    json_object_del(answer, "hash");
    int rc = store_log_put(s, in->id, in->seq, text, in->at);
    free(text);
    return rc;
}

int apply_write(store *s, const struct apply_in *in, json_t **answer, char *err, size_t errlen)
{
    json_t *result = NULL;
    if (store_begin(s) < 0) {
        snprintf(err, errlen, "the database failed to start a transaction");
        return QUERY_EFAIL;
    }
    int rc = run(s, in->request, &result, err, errlen);
    if (rc < 0) {
        store_rollback(s);
        return rc;
    }
    json_object_set_new(result, "seq", json_integer(in->seq));
    *answer = json_pack("{s:i,s:o}", "status", 200, "body", result);
    int failed = record(s, in, *answer) < 0;
    if (failed)
        store_rollback(s);
    else
        failed = store_commit(s) < 0; /* which rolls back by itself */
    if (failed) {
        json_decref(*answer);
        *answer = NULL;
        snprintf(err, errlen, "the database failed to record the write");
        return QUERY_EFAIL;
    }
    return QUERY_OK;
}
