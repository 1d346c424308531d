/* jbuf.h - writes JSON text straight into one growing buffer, for the hot list reply where
 * building jansson objects only to dump them would cost hundreds of allocations. */
#ifndef RS_RIDES_JBUF_H
#define RS_RIDES_JBUF_H

#include <stddef.h>

struct jbuf {
    char *data; /* NUL-terminated; owned by the jbuf until jbuf_free */
    size_t len;
    size_t cap;
};

void jbuf_init(struct jbuf *b, size_t cap_hint);
void jbuf_free(struct jbuf *b);
/* Raw JSON text, copied as is. */
void jbuf_raw(struct jbuf *b, const char *s, size_t n);
/* A string literal, its length taken at compile time. */
#define jbuf_lit(b, lit) jbuf_raw((b), "" lit, sizeof(lit) - 1)
/* A JSON string: quotes added, '"', '\\' and control characters escaped as jansson does. */
void jbuf_str(struct jbuf *b, const char *s);
void jbuf_int(struct jbuf *b, long long v);

#endif
