/* events.h - the fleet's timeline: a bounded history of what happened (workers started,
 * crashed, removed; masters elected; scaling; broker and ZooKeeper lost and regained),
 * and the Server-Sent Events streams that receive it as it happens.
 *
 * In memory only: an orchestrator restart begins a new history (docs/DESIGN.md "Fleet
 * view"). Thread-safe. */
#ifndef RS_EVENTS_H
#define RS_EVENTS_H

#include <jansson.h>
#include <stddef.h>

#include "http_stream.h"

#define EVENTS_HISTORY 1000 /* events kept */
#define EVENTS_MAX_STREAMS 64 /* SSE streams at once; more are refused (503) */

typedef struct events events;

events *events_new(size_t history);
/* Ends every stream. */
void events_free(events *e);

/* Records an event {"id", "time" (unix ms), "type", "message", ...fields} and sends it to
 * every stream. fields (may be NULL) is stolen. */
void events_emit(events *e, const char *type, json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The newest max events, oldest first (a new reference). */
json_t *events_recent(events *e, size_t max);

/* Takes a reference to st, replays the history after last_id (0: all of it) and sends
 * every later event to it. -1 when EVENTS_MAX_STREAMS streams are open. */
int events_subscribe(events *e, http_stream *st, long long last_id);
/* Sends "event: <name>" with data json_text to every stream, outside the history (the
 * fleet's snapshot once a second); drops streams that are gone. */
void events_broadcast(events *e, const char *name, const char *json_text);
size_t events_streams(events *e);

#endif
