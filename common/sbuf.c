/* sbuf.c - printf, bytes and JSON text into a buffer that doubles as it fills. */
#include "sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

#define SBUF_INITIAL 256
#define SBUF_MIN 16

void sbuf_init(sbuf *b)
{
    sbuf_init_cap(b, SBUF_INITIAL);
}

void sbuf_init_cap(sbuf *b, size_t cap_hint)
{
    b->cap = cap_hint < SBUF_MIN ? SBUF_MIN : cap_hint;
    b->len = 0;
    b->data = xmalloc(b->cap);
    b->data[0] = '\0';
}

/* Room for n more bytes and the NUL. */
static void reserve(sbuf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return;
    b->cap = (b->len + n + 1) * 2;
    b->data = xrealloc(b->data, b->cap);
}

void sbuf_deinit(sbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void sbuf_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n) * 2;
        b->data = xrealloc(b->data, b->cap);
    }
}

void sbuf_append(sbuf *b, const void *data, size_t len)
{
    reserve(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void sbuf_json_str(sbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF"; /* as jansson writes them */
    reserve(b, strlen(s) * 6 + 2); /* the worst case: every byte as \u00XX */
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

void sbuf_int(sbuf *b, long long v)
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
    sbuf_append(b, tmp + i, sizeof tmp - i);
}

size_t sbuf_sink(char *data, size_t size, size_t nmemb, void *ud)
{
    sbuf_append(ud, data, size * nmemb);
    return size * nmemb;
}

char *sbuf_take(sbuf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
