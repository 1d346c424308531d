/* workpool.h - a fixed pool of threads that runs submitted jobs in FIFO order. */
#ifndef RS_WORKPOOL_H
#define RS_WORKPOOL_H

#include <stddef.h>

typedef struct workpool workpool;

/* Runs fn(job, ud) on one of the pool's threads for every job submitted. */
typedef void (*workpool_fn)(void *job, void *ud);

/* nthreads threads, started at once; NULL when none could be started (logged). */
workpool *workpool_new(size_t nthreads, workpool_fn fn, void *ud);
/* Queues job; 0 ok, -1 once workpool_stop has begun (the job was not taken). */
int workpool_submit(workpool *p, void *job);
/* Refuses new jobs, runs every job already queued, joins the threads. Idempotent. */
void workpool_stop(workpool *p);
/* workpool_stop, then frees. */
void workpool_free(workpool *p);

#endif
