/* clock.c - see clock.h. */
#include "clock.h"

static void now(clockid_t clk, struct timespec *ts)
{
    clock_gettime(clk, ts);
}

double clock_mono_s(void)
{
    struct timespec t;
    now(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int64_t clock_mono_ms(void)
{
    struct timespec t;
    now(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int64_t clock_wall_ms(void)
{
    struct timespec t;
    now(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void clock_deadline(struct timespec *ts, long ms)
{
    now(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

long clock_ms_until(const struct timespec *ts)
{
    struct timespec t;
    now(CLOCK_MONOTONIC, &t);
    return (long)(ts->tv_sec - t.tv_sec) * 1000 + (ts->tv_nsec - t.tv_nsec) / 1000000;
}

void clock_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}
