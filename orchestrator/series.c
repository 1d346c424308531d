/* series.c - the table of series.h. */
#include "series.h"

const struct metric_def orch_series[ORCH_SERIES_COUNT] = {ORCH_SERIES(METRIC_DEF)};
