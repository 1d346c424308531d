/* http_metrics.h - request counts by route and status, and latency histograms, rendered
 * in the Prometheus text format. Lock-free: every counter is an atomic. */
#ifndef RS_HTTP_METRICS_H
#define RS_HTTP_METRICS_H

#include <stddef.h>

#include "http_server.h"
#include "sbuf.h"

typedef struct http_metrics http_metrics;

/* routes must outlive the metrics; they name the series. */
http_metrics *http_metrics_new(const struct http_route *routes, size_t nroutes);
void http_metrics_free(http_metrics *m);
/* route: index into routes, or -1 for a request no route took (404, 413, healthz...). */
void http_metrics_observe(http_metrics *m, int route, int status, double seconds);
void http_metrics_render(const http_metrics *m, sbuf *out);

#endif
