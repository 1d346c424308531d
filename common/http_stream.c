/* http_stream.c - see http_stream.h. The body is an MHD callback response. Its reader
 * runs on the connection's event loop: it hands out what is buffered, or suspends the
 * connection (allowed from a content reader) and returns 0; http_stream_write resumes it.
 * Suspend and resume both happen under the stream's lock, so a write never misses a
 * suspension. A suspended connection costs no thread and does not time out. */
#include "http_stream.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xalloc.h"

struct http_stream {
    pthread_mutex_t lock;
    int refs;
    char *buf;
    size_t len, cap, max;
    int closed;
    int suspended;
    struct MHD_Connection *conn; /* set while the loop sends the stream */
    http_stream_set *set;
    http_stream *next;           /* in set */
};

struct http_stream_set {
    pthread_mutex_t lock;
    http_stream *head;
};

http_stream *http_stream_new(size_t max_buffered)
{
    http_stream *st = xcalloc(1, sizeof *st);
    pthread_mutex_init(&st->lock, NULL);
    st->refs = 1;
    st->max = max_buffered;
    return st;
}

/* Lock held. Lets the loop run the reader again (it then sends or ends the stream). */
static void wake(http_stream *st)
{
    if (st->suspended && st->conn) {
        st->suspended = 0;
        MHD_resume_connection(st->conn);
    }
}

int http_stream_write(http_stream *st, const char *data, size_t len)
{
    pthread_mutex_lock(&st->lock);
    int rc = -1;
    if (st->closed)
        goto out;
    if (st->len + len > st->max) { /* a reader this far behind is not reading */
        st->closed = 1;
        wake(st);
        goto out;
    }
    if (st->len + len > st->cap) {
        st->cap = st->len + len > 2 * st->cap ? st->len + len : 2 * st->cap;
        st->buf = xrealloc(st->buf, st->cap);
    }
    memcpy(st->buf + st->len, data, len);
    st->len += len;
    wake(st);
    rc = 0;
out:
    pthread_mutex_unlock(&st->lock);
    return rc;
}

void http_stream_close(http_stream *st)
{
    pthread_mutex_lock(&st->lock);
    st->closed = 1;
    wake(st);
    pthread_mutex_unlock(&st->lock);
}

void http_stream_ref(http_stream *st)
{
    pthread_mutex_lock(&st->lock);
    st->refs++;
    pthread_mutex_unlock(&st->lock);
}

void http_stream_release(http_stream *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    int last = --st->refs == 0;
    pthread_mutex_unlock(&st->lock);
    if (!last)
        return;
    pthread_mutex_destroy(&st->lock);
    free(st->buf);
    free(st);
}

static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    http_stream *st = cls;
    ssize_t n = 0;
    pthread_mutex_lock(&st->lock);
    if (st->len) {
        size_t k = st->len < max ? st->len : max;
        memcpy(out, st->buf, k);
        memmove(st->buf, st->buf + k, st->len - k);
        st->len -= k;
        n = (ssize_t)k;
    } else if (st->closed) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        st->suspended = 1;
        MHD_suspend_connection(st->conn);
    }
    pthread_mutex_unlock(&st->lock);
    return n;
}

static void set_remove(http_stream_set *set, http_stream *st)
{
    pthread_mutex_lock(&set->lock);
    for (http_stream **p = &set->head; *p; p = &(*p)->next)
        if (*p == st) {
            *p = st->next;
            break;
        }
    pthread_mutex_unlock(&set->lock);
}

/* MHD is done with the body: the client left or the stream ended. */
static void reader_done(void *cls)
{
    http_stream *st = cls;
    pthread_mutex_lock(&st->lock);
    st->closed = 1;
    st->conn = NULL;
    st->suspended = 0;
    http_stream_set *set = st->set;
    pthread_mutex_unlock(&st->lock);
    set_remove(set, st);
    http_stream_release(st);
}

void *http_stream_response(http_stream *st, http_stream_set *set, void *conn)
{
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, reader, st, reader_done);
    if (!resp)
        return NULL;
    pthread_mutex_lock(&st->lock);
    st->refs++;
    st->conn = conn;
    st->set = set;
    pthread_mutex_unlock(&st->lock);
    pthread_mutex_lock(&set->lock);
    st->next = set->head;
    set->head = st;
    pthread_mutex_unlock(&set->lock);
    return resp;
}

http_stream_set *http_stream_set_new(void)
{
    http_stream_set *set = xcalloc(1, sizeof *set);
    pthread_mutex_init(&set->lock, NULL);
    return set;
}

void http_stream_set_free(http_stream_set *set, long wait_ms)
{
    if (!set)
        return;
    for (long waited = 0;; waited += 10) {
        pthread_mutex_lock(&set->lock);
        int empty = set->head == NULL;
        for (http_stream *st = set->head; st; st = st->next)
            http_stream_close(st); /* st->lock is taken inside set->lock only here */
        pthread_mutex_unlock(&set->lock);
        if (empty || waited >= wait_ms)
            break;
        struct timespec pause = {0, 10 * 1000000L};
        nanosleep(&pause, NULL);
    }
    pthread_mutex_destroy(&set->lock);
    free(set);
}
