/* http_metrics.c - the series are declared once, in the tables below; everything else
 * loops over them. */
#include "http_metrics.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "xalloc.h"

static const int statuses[] = {200, 201, 204, 400, 404, 405, 413, 500, 502, 503};
#define NSTATUS (sizeof statuses / sizeof statuses[0])
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

struct series {
    atomic_ulong by_status[NSTATUS + 1]; /* the last slot: any other status */
    atomic_ulong le[NBUCKETS];           /* non-cumulative; summed when rendered */
    atomic_ulong count;
    atomic_ullong sum_us;
};

struct http_metrics {
    const struct http_route *routes;
    size_t nroutes;
    struct series *s; /* nroutes + 1: the last one is "unrouted" */
};

http_metrics *http_metrics_new(const struct http_route *routes, size_t nroutes)
{
    http_metrics *m = xcalloc(1, sizeof *m);
    m->routes = routes;
    m->nroutes = nroutes;
    m->s = xcalloc(nroutes + 1, sizeof *m->s);
    return m;
}

void http_metrics_free(http_metrics *m)
{
    if (!m)
        return;
    free(m->s);
    free(m);
}

void http_metrics_observe(http_metrics *m, int route, int status, double seconds)
{
    struct series *s = &m->s[route < 0 || (size_t)route >= m->nroutes ? m->nroutes : (size_t)route];
    size_t i = 0;
    while (i < NSTATUS && statuses[i] != status)
        i++;
    atomic_fetch_add(&s->by_status[i], 1);
    for (size_t b = 0; b < NBUCKETS; b++)
        if (seconds <= buckets[b]) {
            atomic_fetch_add(&s->le[b], 1);
            break;
        }
    atomic_fetch_add(&s->count, 1);
    atomic_fetch_add(&s->sum_us, (unsigned long long)(seconds * 1e6));
}

static void labels(const http_metrics *m, size_t r, const char **method, const char **route)
{
    *method = r < m->nroutes ? m->routes[r].method : "any";
    *route = r < m->nroutes ? m->routes[r].pattern : "other";
}

void http_metrics_render(const http_metrics *m, sbuf *out)
{
    const char *method, *route;
    sbuf_printf(out, "# HELP http_requests_total HTTP requests by route and status.\n"
                     "# TYPE http_requests_total counter\n");
    for (size_t r = 0; r <= m->nroutes; r++) {
        labels(m, r, &method, &route);
        for (size_t i = 0; i <= NSTATUS; i++) {
            unsigned long n = atomic_load(&m->s[r].by_status[i]);
            if (n == 0)
                continue;
            if (i < NSTATUS)
                sbuf_printf(out, "http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %lu\n", method,
                            route, statuses[i], n);
            else
                sbuf_printf(out, "http_requests_total{method=\"%s\",route=\"%s\",status=\"other\"} %lu\n", method,
                            route, n);
        }
    }
    sbuf_printf(out, "# HELP http_request_duration_seconds Time from request to reply, by route.\n"
                     "# TYPE http_request_duration_seconds histogram\n");
    for (size_t r = 0; r <= m->nroutes; r++) {
        unsigned long count = atomic_load(&m->s[r].count), cum = 0;
        if (count == 0)
            continue;
        labels(m, r, &method, &route);
        for (size_t b = 0; b < NBUCKETS; b++) {
            cum += atomic_load(&m->s[r].le[b]);
            sbuf_printf(out, "http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%g\"} %lu\n",
                        method, route, buckets[b], cum);
        }
        sbuf_printf(out, "http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"} %lu\n",
                    method, route, count);
        sbuf_printf(out, "http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n", method, route,
                    (double)atomic_load(&m->s[r].sum_us) / 1e6);
        sbuf_printf(out, "http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %lu\n", method, route,
                    count);
    }
}
