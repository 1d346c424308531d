/* sbuf.h - the project's one growable buffer: text for responses (metrics, JSON written
 * straight as text), SQL, anything built piece by piece. */
#ifndef RS_SBUF_H
#define RS_SBUF_H

#include <stddef.h>

typedef struct sbuf {
    char *data; /* NUL-terminated; owned by the buffer until sbuf_take */
    size_t len;
    size_t cap;
} sbuf;

void sbuf_init(sbuf *b);
/* The same with room for cap_hint bytes (at least 16) before it first grows. */
void sbuf_init_cap(sbuf *b, size_t cap_hint);
void sbuf_deinit(sbuf *b);
void sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_append(sbuf *b, const void *data, size_t len);
/* A string literal, its length taken at compile time. */
#define sbuf_lit(b, lit) sbuf_append((b), "" lit, sizeof(lit) - 1)
/* s as a JSON string: quotes added, '"', '\\' and control characters escaped as jansson
 * does, for replies too hot to build as jansson objects. */
void sbuf_json_str(sbuf *b, const char *s);
/* v in decimal. */
void sbuf_int(sbuf *b, long long v);
/* An fwrite-style sink (libcurl's CURLOPT_WRITEFUNCTION), ud being the sbuf. */
size_t sbuf_sink(char *data, size_t size, size_t nmemb, void *ud);
/* Hands the text to the caller (free()); the buffer is released: sbuf_init it to reuse. */
char *sbuf_take(sbuf *b, size_t *len);

#endif
