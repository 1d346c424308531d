/* http_stream.h - a response body written by the application over time (Server-Sent
 * Events), sent by the server's event loops: a stream holds no handler thread.
 *
 * The writer (any thread) appends; the loop copies what is buffered to the socket and,
 * when nothing is, suspends the connection until the next write resumes it. Two
 * references: the writer's (http_stream_new) and the server's (http_reply_stream). */
#ifndef RS_HTTP_STREAM_H
#define RS_HTTP_STREAM_H

#include <stddef.h>

typedef struct http_stream http_stream;
typedef struct http_stream_set http_stream_set;

/* max_buffered: bytes a slow reader may leave unsent before the stream is closed. */
http_stream *http_stream_new(size_t max_buffered);
/* Appends data; 0 ok, -1 when the stream is closed (the client left, the server stops,
 * or the reader fell max_buffered behind, which closes it). */
int http_stream_write(http_stream *st, const char *data, size_t len);
/* Ends the body once what is buffered is sent. */
void http_stream_close(http_stream *st);
/* Takes one more reference (released with http_stream_release). */
void http_stream_ref(http_stream *st);
/* Drops a reference. */
void http_stream_release(http_stream *st);

/* ---- for http_server.c ---- */

/* The streams a server is sending, so that it can end them before it stops. */
http_stream_set *http_stream_set_new(void);
/* Closes every stream and waits (up to wait_ms) until the loops have let them go: MHD
 * must not stop with a connection suspended. Then frees the set. */
void http_stream_set_free(http_stream_set *set, long wait_ms);
/* Adds the server's reference; returns an MHD_Response * (void * keeps microhttpd.h out
 * of this header) whose body is the stream, on conn; NULL on failure. */
void *http_stream_response(http_stream *st, http_stream_set *set, void *conn);

#endif
