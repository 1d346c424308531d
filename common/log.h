/* log.h - leveled JSON-lines logging on stdout: one object per line. */
#ifndef RS_LOG_H
#define RS_LOG_H

enum log_level { LOGL_DEBUG, LOGL_INFO, LOGL_WARN, LOGL_ERROR };

/* Names the service in every line; the level comes from LOG_LEVEL (debug|info|warn|error). */
void log_init(const char *service);
void log_set_level(enum log_level level);
/* Parses "debug".."error"; returns -1 for an unknown name. */
int log_level_parse(const char *name);
/* The request id of what this thread is doing now ("" / NULL: none; cut to
 * LOG_REQUEST_ID_MAX - 1 bytes); every log line the thread writes carries it, and the HTTP
 * and AMQP clients pass it on. */
#define LOG_REQUEST_ID_MAX 48
void log_set_request_id(const char *id);
const char *log_request_id(void);
void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_debug(...) log_write(LOGL_DEBUG, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...) log_write(LOGL_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...) log_write(LOGL_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_error(...) log_write(LOGL_ERROR, __FILE__, __LINE__, __VA_ARGS__)

#endif
