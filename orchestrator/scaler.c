/* scaler.c - counts db/read requests and turns each interval's count into a slave count.
 * Readers only touch atomics; the clock starts with the first read, as the contract says,
 * and interval boundaries stay on the grid first_read + k * interval. */
#include "scaler.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "xalloc.h"

#define READS_PER_SLAVE 20

struct scaler {
    double interval;
    int max_slaves;
    atomic_long reads;
    _Atomic double start; /* first read's time, 0 until then */
    double next_boundary; /* touched only by the ticking thread */
    atomic_long last_reads;
};

scaler *scaler_new(double interval_s, int max_slaves)
{
    scaler *s = xcalloc(1, sizeof *s);
    s->interval = interval_s;
    s->max_slaves = max_slaves < 1 ? 1 : max_slaves;
    return s;
}

void scaler_free(scaler *s)
{
    free(s);
}

void scaler_count_read(scaler *s, double now)
{
    double zero = 0;
    if (atomic_load(&s->start) == 0)
        atomic_compare_exchange_strong(&s->start, &zero, now > 0 ? now : 1e-9);
    atomic_fetch_add(&s->reads, 1);
}

int scaler_target(long reads, int max_slaves)
{
    long n = (reads + READS_PER_SLAVE - 1) / READS_PER_SLAVE;
    if (max_slaves < 1)
        max_slaves = 1;
    if (n < 1)
        n = 1;
    return n > max_slaves ? max_slaves : (int)n;
}

int scaler_tick(scaler *s, double now)
{
    double start = atomic_load(&s->start);
    if (start == 0)
        return -1;
    if (s->next_boundary == 0)
        s->next_boundary = start + s->interval;
    if (now < s->next_boundary)
        return -1;
    s->next_boundary += s->interval;
    long reads = atomic_exchange(&s->reads, 0);
    atomic_store(&s->last_reads, reads);
    return scaler_target(reads, s->max_slaves);
}

double scaler_seconds_left(const scaler *s, double now)
{
    double start = atomic_load(&((struct scaler *)s)->start);
    if (start == 0)
        return -1;
    /* the grid, not next_boundary: this may run before the ticking thread has seen a read */
    double elapsed = now - start;
    double k = (double)(long)(elapsed / s->interval) + 1;
    return start + k * s->interval - now;
}

long scaler_last_reads(const scaler *s)
{
    return atomic_load(&((struct scaler *)s)->last_reads);
}

long scaler_reads(const scaler *s)
{
    return atomic_load(&((struct scaler *)s)->reads);
}
