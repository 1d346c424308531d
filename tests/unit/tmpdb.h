/* tmpdb.h - throw-away SQLite files for the worker's unit tests. */
#ifndef RS_TESTS_TMPDB_H
#define RS_TESTS_TMPDB_H

#include <stdio.h>
#include <unistd.h>

/* Removes a database file and the WAL files SQLite keeps beside it. */
static inline void remove_db(const char *path)
{
    char side[160];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

#endif
