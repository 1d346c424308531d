/* workpool.c - a bounded set of threads over one mutex-guarded FIFO. The HTTP server hands
 * it the requests whose handlers may block, so that its event loops never wait. */
#include "workpool.h"

#include <pthread.h>
#include <stdlib.h>

#include "log.h"
#include "xalloc.h"

struct job {
    void *item;
    struct job *next;
};

struct workpool {
    workpool_fn fn;
    void *ud;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail; /* guarded by mu */
    int stopping;            /* guarded by mu */
    pthread_t *threads;
    size_t nthreads;
};

/* The next job, or NULL once stopping and the queue is empty. */
static struct job *next_job(workpool *p)
{
    pthread_mutex_lock(&p->mu);
    while (!p->head && !p->stopping)
        pthread_cond_wait(&p->cv, &p->mu);
    struct job *j = p->head;
    if (j) {
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    return j;
}

static void *run(void *arg)
{
    workpool *p = arg;
    struct job *j;
    while ((j = next_job(p))) {
        p->fn(j->item, p->ud);
        free(j);
    }
    return NULL;
}

workpool *workpool_new(size_t nthreads, workpool_fn fn, void *ud)
{
    workpool *p = xcalloc(1, sizeof *p);
    p->fn = fn;
    p->ud = ud;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = xcalloc(nthreads, sizeof *p->threads);
    for (; p->nthreads < nthreads; p->nthreads++) {
        if (pthread_create(&p->threads[p->nthreads], NULL, run, p) != 0) {
            log_error("workpool: cannot start thread %zu of %zu", p->nthreads + 1, nthreads);
            workpool_free(p);
            return NULL;
        }
    }
    return p;
}

int workpool_submit(workpool *p, void *item)
{
    struct job *j = xmalloc(sizeof *j);
    j->item = item;
    j->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        free(j);
        return -1;
    }
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void workpool_stop(workpool *p)
{
    pthread_mutex_lock(&p->mu);
    int was = p->stopping;
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (was)
        return;
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
}

void workpool_free(workpool *p)
{
    if (!p)
        return;
    workpool_stop(p);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}
