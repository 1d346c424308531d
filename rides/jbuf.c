/* jbuf.c - a minimal JSON text writer (strings, integers, raw text). */
#include "jbuf.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

void jbuf_init(struct jbuf *b, size_t cap_hint)
{
    b->cap = cap_hint < 16 ? 16 : cap_hint;
    b->data = xmalloc(b->cap);
    b->len = 0;
    b->data[0] = '\0';
}

void jbuf_free(struct jbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static void reserve(struct jbuf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return;
    while (b->len + n + 1 > b->cap)
        b->cap *= 2;
    b->data = xrealloc(b->data, b->cap);
}

void jbuf_raw(struct jbuf *b, const char *s, size_t n)
{
    reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void jbuf_str(struct jbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF"; /* as jansson writes them */
    size_t n = strlen(s);
    reserve(b, n * 6 + 2); /* the worst case: every byte as \u00XX */
    char *o = b->data + b->len;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c >= 0x20) {
            *o++ = (char)c;
        } else {
            *o++ = '\\';
            switch (c) {
            case '\b': *o++ = 'b'; break;
            case '\f': *o++ = 'f'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            }
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

void jbuf_int(struct jbuf *b, long long v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    jbuf_raw(b, tmp + i, sizeof tmp - i);
}
