/* seed.c - picks the freshest database beside ours. "Freshest" is the highest applied
 * write sequence: every write answered 200 reached the master and every slave, so any
 * copy with the highest sequence holds them all. */
#include "seed.h"

#include <glob.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

/* The applied sequence of the database at path, or -1 if it is not one of ours. */
static int64_t seq_of(const char *path)
{
    store *s = store_new(path);
    int64_t seq = -1;
    if (!s || store_applied_seq(s, &seq) < 0)
        seq = -1;
    store_free(s);
    return seq;
}

static int copy_into(store *own, const char *from)
{
    store *src = store_new(from);
    unsigned char *buf = NULL;
    size_t len = 0;
    int64_t seq = 0;
    int rc = -1;
    if (!src)
        goto fail;
    if (store_snapshot_out(src, &buf, &len, &seq) < 0 || store_snapshot_in(own, buf, len, seq) < 0)
        goto fail;
    log_info("seed: took %s (seq %lld, %zu bytes)", from, (long long)seq, len);
    rc = 1;
fail:
    sqlite3_free(buf);
    store_free(src);
    return rc;
}

int seed_from_freshest(store *own, const char *own_path)
{
    int64_t best_seq = 0;
    if (store_applied_seq(own, &best_seq) < 0)
        return -1;
    char *dir_copy = xstrdup(own_path);
    char *pattern = xasprintf("%s/*.db", dirname(dir_copy));
    free(dir_copy);
    glob_t g;
    char *best = NULL;
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            const char *p = g.gl_pathv[i];
            if (strcmp(p, own_path) == 0)
                continue; /* (a differently spelled own path is harmless: its seq is not higher) */
            int64_t seq = seq_of(p);
            if (seq > best_seq) {
                best_seq = seq;
                free(best);
                best = xstrdup(p);
            }
        }
        globfree(&g);
    }
    free(pattern);
    int rc = best ? copy_into(own, best) : 0;
    free(best);
    return rc;
}
