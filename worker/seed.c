/* seed.c - picks the freshest database beside ours. "Freshest" is the highest term, then
 * the highest applied write sequence: every write answered 200 was committed by a master
 * of the newest term that answered anything, so the newest term's longest copy holds
 * them all. Ordering by sequence alone could pick a fenced master's file, whose tail
 * (never answered) conflicts with what the next term wrote at the same sequences. */
#include "seed.h"

#include <glob.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

struct version {
    int64_t term, seq;
};

static int newer(struct version a, struct version b)
{
    return a.term > b.term || (a.term == b.term && a.seq > b.seq);
}

/* The version of the database at path; -1 if it is not one of ours. */
static int version_of(const char *path, struct version *v)
{
    store *s = store_open_image(path);
    int rc = s && store_applied_seq(s, &v->seq) == 0 && store_term(s, &v->term) == 0 ? 0 : -1;
    store_free(s);
    return rc;
}

int seed_from_freshest(store *own, const char *own_path)
{
    struct version best;
    if (store_applied_seq(own, &best.seq) < 0 || store_term(own, &best.term) < 0)
        return -1;
    char *dir_copy = xstrdup(own_path);
    char *pattern = xasprintf("%s/*.db", dirname(dir_copy));
    free(dir_copy);
    glob_t g;
    char *pick = NULL;
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            const char *p = g.gl_pathv[i];
            struct version v;
            if (strcmp(p, own_path) == 0 || version_of(p, &v) < 0 || !newer(v, best))
                continue; /* (a differently spelled own path is harmless: it is not newer) */
            best = v;
            free(pick);
            pick = xstrdup(p);
        }
        globfree(&g);
    }
    free(pattern);
    int rc = 0;
    if (pick) {
        rc = store_install(own, pick) < 0 ? -1 : 1;
        if (rc == 1)
            log_info("seed: took %s (term %lld, seq %lld)", pick, (long long)best.term, (long long)best.seq);
    }
    free(pick);
    return rc;
}
