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
/* Hands the text to the caller (free()); the buffer is empty afterwards. */
char *sbuf_take(sbuf *b, size_t *len);

#endif
