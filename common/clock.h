/* clock.h - time as the services use it, in one place: monotonic seconds and milliseconds
 * (durations, timeouts), wall-clock milliseconds (deadlines that cross processes), absolute
 * deadlines for pthread_cond_timedwait, and condition variables timed on the monotonic
 * clock, so that a change of the wall clock never stretches or cuts a wait. */
#ifndef RS_CLOCK_H
#define RS_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

double clock_mono_s(void);
int64_t clock_mono_ms(void);
int64_t clock_wall_ms(void);

/* *ts = now on the monotonic clock + ms: the deadline of a wait on a clock_cond_init()
 * condition variable. */
void clock_deadline(struct timespec *ts, long ms);
/* Milliseconds from now until the monotonic deadline ts; <= 0 once it passed. */
long clock_ms_until(const struct timespec *ts);

/* Initializes cv for waits against clock_deadline() deadlines. */
void clock_cond_init(pthread_cond_t *cv);

#endif
