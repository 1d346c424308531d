/* stats.c - latency histograms with buckets 20 % apart (from 0.1 ms to about 10 s), so a
 * quantile read from them is within 20 % of the truth; a sample is the difference of the
 * cumulative counters between two seconds. */
#include "stats.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "xalloc.h"

#define NBUCKETS 64
#define BUCKET_BASE_MS 0.1
#define BUCKET_RATIO 1.2

struct hist {
    atomic_ulong le[NBUCKETS]; /* cumulative since start, by bucket */
    unsigned long seen[NBUCKETS]; /* le at the last sample; the sampling thread's */
};

struct stats {
    struct hist h[2];
    pthread_mutex_t lock; /* guards the ring */
    struct stats_sample ring[STATS_WINDOW];
    size_t first, n;
};

stats *stats_new(void)
{
    stats *s = xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void stats_free(stats *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static double bucket_top_ms(int b)
{
    return BUCKET_BASE_MS * pow(BUCKET_RATIO, b);
}

void stats_observe(stats *s, enum stats_kind kind, double seconds)
{
    double ms = seconds * 1000;
    int b = ms <= BUCKET_BASE_MS ? 0 : (int)ceil(log(ms / BUCKET_BASE_MS) / log(BUCKET_RATIO));
    if (b >= NBUCKETS)
        b = NBUCKETS - 1;
    atomic_fetch_add(&s->h[kind].le[b], 1);
}

/* The requests since the last call, and their p50 and p99 (bucket tops, ms). */
static double hist_take(struct hist *h, double *p50, double *p99)
{
    unsigned long d[NBUCKETS], total = 0;
    for (int b = 0; b < NBUCKETS; b++) {
        unsigned long now = atomic_load(&h->le[b]);
        d[b] = now - h->seen[b];
        h->seen[b] = now;
        total += d[b];
    }
    *p50 = *p99 = 0;
    unsigned long cum = 0;
    for (int b = 0; b < NBUCKETS && total; b++) {
        cum += d[b];
        if (*p50 == 0 && cum * 2 >= total)
            *p50 = bucket_top_ms(b);
        if (cum * 100 >= total * 99) {
            *p99 = bucket_top_ms(b);
            break;
        }
    }
    return (double)total;
}

void stats_sample(stats *s, double dt, struct stats_sample *out)
{
    out->time = (double)clock_wall_ms() / 1000.0;
    if (dt <= 0)
        dt = 1;
    out->reads = hist_take(&s->h[STATS_READ], &out->read_p50, &out->read_p99) / dt;
    out->writes = hist_take(&s->h[STATS_WRITE], &out->write_p50, &out->write_p99) / dt;
    pthread_mutex_lock(&s->lock);
    if (s->n == STATS_WINDOW) {
        s->first = (s->first + 1) % STATS_WINDOW;
        s->n--;
    }
    s->ring[(s->first + s->n++) % STATS_WINDOW] = *out;
    pthread_mutex_unlock(&s->lock);
}

/* Rounded to 0.01, which is all a chart shows, and keeps the JSON short. */
static json_t *num(double v)
{
    return json_real(round(v * 100) / 100);
}

json_t *stats_sample_json(const struct stats_sample *x)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:i,s:i,s:i}", "time", json_real(round(x->time * 1000) / 1000),
                     "reads", num(x->reads), "writes", num(x->writes), "read_p50", num(x->read_p50), "read_p99",
                     num(x->read_p99), "write_p50", num(x->write_p50), "write_p99", num(x->write_p99), "masters",
                     x->masters, "slaves", x->slaves, "starting", x->starting);
}

json_t *stats_series(stats *s)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++)
        json_array_append_new(arr, stats_sample_json(&s->ring[(s->first + i) % STATS_WINDOW]));
    pthread_mutex_unlock(&s->lock);
    return arr;
}
