/* stats.h - the dashboard's charts: db/read and db/write rates and latency quantiles per
 * second, and workers by role, over the last STATS_WINDOW seconds.
 *
 * Handlers only add to atomic counters (stats_observe); one thread takes a sample every
 * second (stats_sample) and keeps it in a ring. */
#ifndef RS_STATS_H
#define RS_STATS_H

#include <jansson.h>

#define STATS_WINDOW 600 /* samples kept: 10 minutes at one a second */

typedef struct stats stats;

enum stats_kind { STATS_READ, STATS_WRITE };

struct stats_sample {
    double time;                 /* unix seconds */
    double reads, writes;        /* per second */
    double read_p50, read_p99;   /* milliseconds; 0 when there was no request */
    double write_p50, write_p99;
    int masters, slaves, starting;
};

stats *stats_new(void);
void stats_free(stats *s);
/* One finished db/read (or write, clear) that took seconds. Lock-free. */
void stats_observe(stats *s, enum stats_kind kind, double seconds);
/* Fills out with what was observed since the last call, over dt seconds, and keeps it
 * (the worker counts must be filled in by the caller first; time is set here). */
void stats_sample(stats *s, double dt, struct stats_sample *out);
/* The kept samples, oldest first, as an array of stats_sample_json objects. */
json_t *stats_series(stats *s);
json_t *stats_sample_json(const struct stats_sample *x);

#endif
