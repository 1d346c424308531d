/* transfer.h - a snapshot arriving in chunks (fleet/wire.h struct wire_chunk), assembled
 * in a file beside the database, so that a copy of any size joins without being held in
 * memory or in one AMQP message. */
#ifndef RS_WORKER_TRANSFER_H
#define RS_WORKER_TRANSFER_H

#include <stddef.h>

#include "fleet/wire.h"

typedef struct transfer transfer;

/* Assembles into path (created, truncated, removed as needed). */
transfer *transfer_new(const char *path);
/* Removes a partial file. NULL is fine. */
void transfer_free(transfer *t);

/* A new resync: forgets the requests allowed so far and drops a partial file. */
void transfer_reset(transfer *t);
/* Chunks answering the request with this correlation id count too. A slave asks again
 * while a large copy is still being written by the master: whichever answer starts first
 * is assembled, and chunks of the others are ignored meanwhile. */
void transfer_allow(transfer *t, const char *corr);

enum { TRANSFER_IGNORED = -1, TRANSFER_MORE = 0, TRANSFER_DONE = 1 };

/* Adds one chunk. TRANSFER_DONE: the whole copy is at the path given to transfer_new (the
 * caller installs it; the allowed requests are forgotten); TRANSFER_MORE: more are due;
 * TRANSFER_IGNORED: not an allowed request, another answer is being assembled, or out of
 * order (a lost chunk drops the partial file: the caller asks again). */
int transfer_add(transfer *t, const char *corr, const struct wire_chunk *ch, const void *buf, size_t len);

#endif
