/* log.c - one JSON object per line on stdout, written with a single write(2) so that
 * lines from concurrent threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

/* The service's logging config: set once at start, the level may change at run time. */
static const char *log_service = "rideshare";
static atomic_int log_min_level = LOGL_INFO;

/* Per thread, not global: each thread works on one request at a time, and the id must
 * reach log lines written deep in library code without threading it through every call. */
static _Thread_local char log_req_id[LOG_REQUEST_ID_MAX];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && strcasecmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void log_init(const char *service)
{
    log_service = service;
    int lvl = log_level_parse(getenv("LOG_LEVEL"));
    if (lvl >= 0)
        log_set_level((enum log_level)lvl);
}

void log_set_request_id(const char *id)
{
    snprintf(log_req_id, sizeof log_req_id, "%s", id ? id : "");
}

const char *log_request_id(void)
{
    return log_req_id;
}

void log_set_level(enum log_level level)
{
    atomic_store(&log_min_level, (int)level);
}

/* Appends s JSON-escaped; stops quietly when the line is full. */
static size_t put_escaped(char *buf, size_t pos, size_t cap, const char *s)
{
    for (; *s && pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[pos++] = '\\';
            buf[pos++] = (char)c;
        } else if (c < 0x20) {
            pos += (size_t)snprintf(buf + pos, cap - pos, "\\u%04x", c);
        } else {
            buf[pos++] = (char)c;
        }
    }
    return pos;
}

void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
{
    if ((int)level < atomic_load(&log_min_level))
        return;
    char msg[LOG_LINE_MAX / 2], out[LOG_LINE_MAX], ts[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000);

    const char *base = strrchr(file, '/');
    size_t pos = (size_t)snprintf(out, sizeof out, "{\"ts\":\"%s\",\"level\":\"%s\",\"service\":\"%s\",\"src\":\"%s:%d\",",
                                  ts, level_names[level], log_service, base ? base + 1 : file, line);
    if (*log_req_id) {
        pos += (size_t)snprintf(out + pos, sizeof out - pos, "\"req\":\"");
        pos = put_escaped(out, pos, sizeof out - 4, log_req_id);
        pos += (size_t)snprintf(out + pos, sizeof out - pos, "\",");
    }
    pos += (size_t)snprintf(out + pos, sizeof out - pos, "\"msg\":\"");
    pos = put_escaped(out, pos, sizeof out - 4, msg);
    memcpy(out + pos, "\"}\n", 3);
    pos += 3;
    ssize_t w = write(STDOUT_FILENO, out, pos);
    (void)w; /* nowhere left to report a failed log write */
}
