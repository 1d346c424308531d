/* scaler.h - the autoscaler's arithmetic: reads counted per interval, slaves wanted. */
#ifndef RS_SCALER_H
#define RS_SCALER_H

typedef struct scaler scaler;

/* interval_s: SCALE_INTERVAL; max_slaves caps the answer (at least 1). */
scaler *scaler_new(double interval_s, int max_slaves);
void scaler_free(scaler *s);

/* Counts one db/read at monotonic time now (seconds); the first one starts the clock. */
void scaler_count_read(scaler *s, double now);
/* When an interval has ended by now, returns the slaves wanted for the reads of that
 * interval and resets the count; otherwise -1. Call it often; it catches up one
 * interval per call if calls were late. */
int scaler_tick(scaler *s, double now);
/* max(1, ceil(reads / 20)), capped at max_slaves: 0-20 -> 1, 21-40 -> 2, ... */
int scaler_target(long reads, int max_slaves);
/* Seconds until the interval under way ends (-1 before the first read). */
double scaler_seconds_left(const scaler *s, double now);
/* Reads counted in the interval under way. */
long scaler_reads(const scaler *s);
/* Reads of the last interval that ended (the count behind scaler_tick's last answer). */
long scaler_last_reads(const scaler *s);

#endif
