/* sbuf.h - a growable text buffer for building responses (metrics, JSON text). */
#ifndef RS_SBUF_H
#define RS_SBUF_H

#include <stddef.h>

typedef struct sbuf {
    char *data; /* NUL-terminated; owned by the buffer until sbuf_take */
    size_t len;
    size_t cap;
} sbuf;

void sbuf_init(sbuf *b);
void sbuf_deinit(sbuf *b);
void sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_append(sbuf *b, const void *data, size_t len);
/* An fwrite-style sink (libcurl's CURLOPT_WRITEFUNCTION), ud being the sbuf. */
size_t sbuf_sink(char *data, size_t size, size_t nmemb, void *ud);
/* Hands the text to the caller (free()); the buffer is released: sbuf_init it to reuse. */
char *sbuf_take(sbuf *b, size_t *len);

#endif
