/* metrics.h - a service's own series in the Prometheus text format. The families are
 * declared once, in a table of name, type and help (an X-macro, after twemproxy's
 * nc_stats.h); a scrape adds samples to them in any order, and metrics_render writes the
 * lot, family by family, each with its # HELP and # TYPE. */
#ifndef RS_METRICS_H
#define RS_METRICS_H

#include <stddef.h>

#include "sbuf.h"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE };

struct metric_def {
    const char *name;
    enum metric_type type;
    const char *help;
};

/* For a table X(ID, name, TYPE, help): METRIC_ENUM makes the ids, METRIC_DEF the table. */
#define METRIC_ENUM(id, name, type, help) id,
#define METRIC_DEF(id, name, type, help) [id] = {name, METRIC_##type, help},

typedef struct metrics metrics;

/* One scrape's samples of the families defs[0..n) (kept by reference). */
metrics *metrics_new(const struct metric_def *defs, size_t n);
void metrics_free(metrics *m);
/* The one sample of a family without labels. */
void metrics_set(metrics *m, size_t id, double value);
/* A labelled sample of family id: labels (printf-style) is the text between the braces. */
void metrics_add(metrics *m, size_t id, double value, const char *labels, ...) __attribute__((format(printf, 4, 5)));
/* Every family that has a sample, in the table's order, its samples in the order added. */
void metrics_render(const metrics *m, sbuf *out);

#endif
