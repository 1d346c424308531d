/* series.h - the orchestrator's own series on GET /metrics (beside the HTTP ones of
 * http_metrics.c), declared once: id, name, type and help. main.c adds the samples of the
 * RPC client and the db front door, supervisor.c those of the fleet; metrics_render
 * writes them (common/metrics.h). */
#ifndef RS_ORCH_SERIES_H
#define RS_ORCH_SERIES_H

#include "metrics.h"

#define ORCH_SERIES(X)                                                                                          \
    X(S_RPC_CALLS, "rideshare_rpc_calls_total", COUNTER, "DB requests sent to workers.")                        \
    X(S_RPC_IN_FLIGHT, "rideshare_rpc_in_flight", GAUGE, "DB requests waiting for a worker's answer.")          \
    X(S_RPC_TIMEOUTS, "rideshare_rpc_timeouts_total", COUNTER, "DB requests no worker answered in time.")       \
    X(S_WRITE_SEQ, "rideshare_write_seq", GAUGE, "The highest write sequence answered.")                        \
    X(S_WORKER_INFO, "rideshare_worker_info", GAUGE, "A worker of the fleet, by id, role and container pid.")   \
    X(S_WORKER_APPLIED_SEQ, "rideshare_worker_applied_seq", GAUGE,                                              \
      "The write sequence a worker holds (reported each second).")                                              \
    X(S_WORKER_LAG, "rideshare_worker_lag", GAUGE, "Writes answered that a worker has not applied yet.")        \
    X(S_WORKERS, "rideshare_workers", GAUGE, "Workers by role (starting: not registered yet).")                 \
    X(S_SLAVES_WANTED, "rideshare_slaves_wanted", GAUGE, "Slaves the autoscaler wants.")                        \
    X(S_SCALE_READS, "rideshare_scale_reads", GAUGE, "db/read requests counted in the interval under way.")     \
    X(S_SCALE_SECONDS_LEFT, "rideshare_scale_seconds_left", GAUGE,                                              \
      "Seconds until the autoscaler's interval ends (-1: not started).")                                        \
    X(S_WORKERS_STARTED, "rideshare_workers_started_total", COUNTER,                                            \
      "Workers started (first start, respawns, scale out).")                                                    \
    X(S_WORKERS_REMOVED, "rideshare_workers_removed_total", COUNTER, "Workers removed, by reason.")             \
    X(S_SCALE_EVENTS, "rideshare_scale_events_total", COUNTER, "Changes of the wanted slave count.")            \
    X(S_CRASHES, "rideshare_crashes_total", COUNTER, "Workers crashed through the crash API.")

enum orch_series { ORCH_SERIES(METRIC_ENUM) ORCH_SERIES_COUNT };

extern const struct metric_def orch_series[ORCH_SERIES_COUNT];

#endif
