/* metrics.c - one scrape of a table of series (see metrics.h). */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "xalloc.h"

#define METRIC_LABELS_MAX 256

struct metrics {
    const struct metric_def *defs;
    size_t n;
    sbuf *samples; /* one buffer of sample lines per family */
};

metrics *metrics_new(const struct metric_def *defs, size_t n)
{
    metrics *m = xcalloc(1, sizeof *m);
    m->defs = defs;
    m->n = n;
    m->samples = xcalloc(n, sizeof *m->samples);
    for (size_t i = 0; i < n; i++)
        sbuf_init(&m->samples[i]);
    return m;
}

void metrics_free(metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        sbuf_deinit(&m->samples[i]);
    free(m->samples);
    free(m);
}

/* %.15g: a counter or a sequence stays an integer, a fraction keeps its digits. */
void metrics_set(metrics *m, size_t id, double value)
{
    sbuf_printf(&m->samples[id], "%s %.15g\n", m->defs[id].name, value);
}

void metrics_add(metrics *m, size_t id, double value, const char *labels, ...)
{
    char text[METRIC_LABELS_MAX];
    va_list ap;
    va_start(ap, labels);
    vsnprintf(text, sizeof text, labels, ap);
    va_end(ap);
    sbuf_printf(&m->samples[id], "%s{%s} %.15g\n", m->defs[id].name, text, value);
}

void metrics_render(const metrics *m, sbuf *out)
{
    static const char *const types[] = {[METRIC_COUNTER] = "counter", [METRIC_GAUGE] = "gauge"};
    for (size_t i = 0; i < m->n; i++) {
        if (m->samples[i].len == 0)
            continue;
        const struct metric_def *d = &m->defs[i];
        sbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name, types[d->type]);
        sbuf_append(out, m->samples[i].data, m->samples[i].len);
    }
}
