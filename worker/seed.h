/* seed.h - where a master that starts an empty fleet gets its data: the freshest worker
 * database left in its data directory (a shared volume), so a fleet brought down and up
 * again loses nothing. */
#ifndef RS_WORKER_SEED_H
#define RS_WORKER_SEED_H

#include "store.h"

/* Looks at every *.db in own_path's directory but own_path itself; when one is newer than
 * own (a higher term, or the same term and a higher applied sequence), copies it whole
 * into own.
 * 1 when own was replaced, 0 when it already was the freshest, negative on error. */
int seed_from_freshest(store *own, const char *own_path);

#endif
