/* term.h - the master's term: the fencing token of the fleet (docs/DESIGN.md "Fencing").
 *
 * A term is a number that only grows, kept in ZooKeeper at /rideshare/term. Every master
 * begins one (a compare-and-set on that node) after it is elected and before it takes a
 * write, and before it acknowledges any write it checks, with a read that cannot be stale,
 * that its term is still the current one. A master frozen through its session's expiry
 * wakes to find a later term and answers nothing. */
#ifndef RS_FLEET_TERM_H
#define RS_FLEET_TERM_H

#include <stdint.h>

#include "zk.h"

struct term {
    int64_t number;  /* what sync messages and the store carry */
    int version;     /* /rideshare/term's data version once we wrote it: what the check compares */
};

/* Begins a term above both floor (the highest term this copy has seen: a ZooKeeper that
 * lost its data must not make terms go back) and the one in ZooKeeper. ZK_OK and *t, or a
 * negative zk code. */
int term_begin(struct zk *zk, int64_t floor, struct term *t);

/* ZK_OK while t is the current term, checked after a sync with the leader (zk.h
 * zk_sync_get) so a stale follower cannot vouch for it; ZK_EBADVERSION when a later
 * term began (we are fenced); another negative code when ZooKeeper cannot tell within
 * timeout_ms. Anything but ZK_OK means: acknowledge nothing. */
int term_check(struct zk *zk, const struct term *t, long timeout_ms);

#endif
