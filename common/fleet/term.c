/* term.c - terms as a compare-and-set counter in ZooKeeper (see term.h). */
#include "term.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "membership.h"

#define TERM_CAS_TRIES 20 /* each failure means another writer won a round: rare */

int term_begin(struct zk *zk, int64_t floor, struct term *t)
{
    int rc = zk_create(zk, ZKP_TERM, "0", 1, ZKF_PERSISTENT, NULL, 0);
    if (rc < 0 && rc != ZK_EEXISTS)
        return rc;
    for (int i = 0; i < TERM_CAS_TRIES; i++) {
        char *data = NULL;
        int version = 0;
        if ((rc = zk_get_version(zk, ZKP_TERM, &data, &version)) < 0)
            return rc;
        int64_t cur = strtoll(data, NULL, 10);
        free(data);
        int64_t next = (cur > floor ? cur : floor) + 1;
        char text[24];
        int len = snprintf(text, sizeof text, "%" PRId64, next);
        rc = zk_set_version(zk, ZKP_TERM, text, (size_t)len, version, &t->version);
        if (rc == ZK_OK) {
            t->number = next;
            return ZK_OK;
        }
        if (rc != ZK_EBADVERSION)
            return rc;
    }
    log_error("term: could not begin a term in %d tries", TERM_CAS_TRIES);
    return ZK_ERR;
}

int term_check(struct zk *zk, const struct term *t, long timeout_ms)
{
    char *data = NULL;
    int version = -1;
    int rc = zk_sync_get(zk, ZKP_TERM, timeout_ms, &data, &version);
    if (rc < 0)
        return rc;
    /* Both: a ZooKeeper that lost its data restarts versions, never term numbers. */
    int64_t number = strtoll(data, NULL, 10);
    free(data);
    return version == t->version && number == t->number ? ZK_OK : ZK_EBADVERSION;
}
