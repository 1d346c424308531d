/* transfer.c - chunks of one snapshot into one file (see transfer.h). Chunks of one
 * answer come in order: one publisher, one channel, one queue. */
#include "transfer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

#define TRANSFER_ALLOWED 8 /* the newest requests of one resync that may be answered */

struct transfer {
    char *path;
    char *allowed[TRANSFER_ALLOWED]; /* a ring of correlation ids */
    unsigned nallowed;
    char *corr;   /* the answer being assembled; NULL: none */
    FILE *f;      /* open while a transfer is under way */
    int64_t next; /* the chunk index due */
};

transfer *transfer_new(const char *path)
{
    transfer *t = xcalloc(1, sizeof *t);
    t->path = xstrdup(path);
    return t;
}

static void drop_partial(transfer *t)
{
    if (t->f) {
        fclose(t->f);
        t->f = NULL;
        unlink(t->path);
    }
    free(t->corr);
    t->corr = NULL;
    t->next = 0;
}

static void forget_allowed(transfer *t)
{
    for (unsigned i = 0; i < TRANSFER_ALLOWED; i++) {
        free(t->allowed[i]);
        t->allowed[i] = NULL;
    }
    t->nallowed = 0;
}

void transfer_free(transfer *t)
{
    if (!t)
        return;
    drop_partial(t);
    forget_allowed(t);
    free(t->path);
    free(t);
}

void transfer_reset(transfer *t)
{
    drop_partial(t);
    forget_allowed(t);
}

void transfer_allow(transfer *t, const char *corr)
{
    unsigned i = t->nallowed++ % TRANSFER_ALLOWED;
    free(t->allowed[i]);
    t->allowed[i] = xstrdup(corr);
}

static int allowed(const transfer *t, const char *corr)
{
    for (unsigned i = 0; i < TRANSFER_ALLOWED; i++)
        if (t->allowed[i] && strcmp(t->allowed[i], corr) == 0)
            return 1;
    return 0;
}

/* Chunk 0 of an allowed answer while none is being assembled: start on it. */
static int start(transfer *t, const char *corr)
{
    if (!(t->f = fopen(t->path, "wb"))) {
        log_error("transfer: cannot create %s: %s", t->path, strerror(errno));
        return -1;
    }
    t->corr = xstrdup(corr);
    t->next = 0;
    return 0;
}

int transfer_add(transfer *t, const char *corr, const struct wire_chunk *ch, const void *buf, size_t len)
{
    if (ch->count < 1)
        return TRANSFER_IGNORED;
    if (!t->corr) {
        if (ch->index != 0 || !allowed(t, corr) || start(t, corr) < 0)
            return TRANSFER_IGNORED;
    } else if (strcmp(corr, t->corr) != 0) {
        return TRANSFER_IGNORED; /* another answer is being assembled */
    } else if (ch->index != t->next) {
        log_warn("transfer: chunk %lld of %lld came when %lld was due; dropping the partial copy",
                 (long long)ch->index, (long long)ch->count, (long long)t->next);
        drop_partial(t);
        return TRANSFER_IGNORED;
    }
    if (len && fwrite(buf, 1, len, t->f) != len) {
        log_error("transfer: writing %s: %s", t->path, strerror(errno));
        drop_partial(t);
        return TRANSFER_IGNORED;
    }
    if (++t->next < ch->count)
        return TRANSFER_MORE;
    int rc = fclose(t->f);
    t->f = NULL;
    drop_partial(t);    /* nothing is open now: only forgets the answer */
    forget_allowed(t);  /* a duplicate, or another answer, must not start another copy */
    if (rc != 0) {
        log_error("transfer: closing %s: %s", t->path, strerror(errno));
        unlink(t->path);
        return TRANSFER_IGNORED;
    }
    return TRANSFER_DONE;
}
