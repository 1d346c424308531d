/* events.c - a ring of encoded events and the streams that follow it. Events are encoded
 * once, when they happen; a stream gets the same bytes as an SSE frame. */
#include "events.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "jsonx.h"
#include "log.h"
#include "sbuf.h"
#include "xalloc.h"

#define STREAM_MAX_BUFFERED (1024 * 1024) /* a client this far behind is dropped */

struct events {
    pthread_mutex_t lock;
    char **ring; /* encoded events; ring[(first + i) % cap], i < n */
    long long *ids;
    size_t cap, first, n;
    long long next_id;
    http_stream *streams[EVENTS_MAX_STREAMS];
    size_t nstreams;
};

events *events_new(size_t history)
{
    events *e = xcalloc(1, sizeof *e);
    pthread_mutex_init(&e->lock, NULL);
    e->cap = history ? history : 1;
    e->ring = xcalloc(e->cap, sizeof *e->ring);
    e->ids = xcalloc(e->cap, sizeof *e->ids);
    e->next_id = 1;
    return e;
}

void events_free(events *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nstreams; i++) {
        http_stream_close(e->streams[i]);
        http_stream_release(e->streams[i]);
    }
    for (size_t i = 0; i < e->cap; i++)
        free(e->ring[i]);
    free(e->ring);
    free(e->ids);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

/* Lock held. Writes one frame to every stream; a stream that is gone is dropped. */
static void send_all(events *e, const char *frame, size_t len)
{
    for (size_t i = 0; i < e->nstreams;) {
        if (http_stream_write(e->streams[i], frame, len) == 0) {
            i++;
            continue;
        }
        http_stream_release(e->streams[i]);
        e->streams[i] = e->streams[--e->nstreams];
    }
}

static char *frame_of(long long id, const char *name, const char *json_text, size_t *len)
{
    sbuf b;
    sbuf_init(&b);
    if (id > 0)
        sbuf_printf(&b, "id: %lld\n", id);
    if (name)
        sbuf_printf(&b, "event: %s\n", name);
    sbuf_printf(&b, "data: %s\n\n", json_text); /* compact JSON holds no newline */
    return sbuf_take(&b, len);
}

void events_emit(events *e, const char *type, json_t *fields, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o = fields ? fields : json_object();
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "message", json_string(msg));
    json_object_set_new(o, "time", json_integer((json_int_t)clock_wall_ms()));
    pthread_mutex_lock(&e->lock);
    long long id = e->next_id++;
    json_object_set_new(o, "id", json_integer(id));
    char *text = jsonx_dump(o);
    size_t slot = (e->first + e->n) % e->cap;
    if (e->n == e->cap) { /* full: the oldest goes */
        free(e->ring[e->first]);
        e->first = (e->first + 1) % e->cap;
        e->n--;
    }
    e->ring[slot] = text;
    e->ids[slot] = id;
    e->n++;
    size_t len;
    char *frame = frame_of(id, NULL, text, &len);
    send_all(e, frame, len);
    pthread_mutex_unlock(&e->lock);
    free(frame);
    log_info("event: %s: %s", type, msg);
    json_decref(o);
}

json_t *events_recent(events *e, size_t max)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&e->lock);
    size_t from = e->n > max ? e->n - max : 0;
    for (size_t i = from; i < e->n; i++) {
        json_t *v = json_loads(e->ring[(e->first + i) % e->cap], 0, NULL);
        if (v)
            json_array_append_new(arr, v);
    }
    pthread_mutex_unlock(&e->lock);
    return arr;
}

int events_subscribe(events *e, http_stream *st, long long last_id)
{
    pthread_mutex_lock(&e->lock);
    if (e->nstreams == EVENTS_MAX_STREAMS) {
        pthread_mutex_unlock(&e->lock);
        return -1;
    }
    sbuf b;
    sbuf_init(&b);
    sbuf_printf(&b, "retry: 1000\n\n");
    for (size_t i = 0; i < e->n; i++) {
        size_t k = (e->first + i) % e->cap;
        if (e->ids[k] > last_id)
            sbuf_printf(&b, "id: %lld\ndata: %s\n\n", e->ids[k], e->ring[k]);
    }
    int rc = http_stream_write(st, b.data, b.len);
    sbuf_deinit(&b);
    if (rc == 0) {
        http_stream_ref(st);
        e->streams[e->nstreams++] = st;
    }
    pthread_mutex_unlock(&e->lock);
    return 0;
}

void events_broadcast(events *e, const char *name, const char *json_text)
{
    size_t len;
    char *frame = frame_of(0, name, json_text, &len);
    pthread_mutex_lock(&e->lock);
    send_all(e, frame, len);
    pthread_mutex_unlock(&e->lock);
    free(frame);
}

size_t events_streams(events *e)
{
    pthread_mutex_lock(&e->lock);
    size_t n = e->nstreams;
    pthread_mutex_unlock(&e->lock);
    return n;
}
