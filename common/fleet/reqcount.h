/* reqcount.h - the request counter behind a service's _count (docs/API.md): kept in this
 * process, or shared through ZooKeeper by every replica of the service.
 *
 * Shared (COUNT_ZK_HOSTS set): the count is the decimal data of one persistent znode,
 * /rideshare/counts/<service>. reqcount_add queues +1 and waits until a flusher thread has
 * added all that is queued to the znode in one compare-and-set (a group commit: one write
 * for any number of requests arriving meanwhile). So a request is in the shared count
 * before it is answered, and a GET on any replica right after it sees it (reads are
 * synced with the leader). The wait is bounded by COUNT_FLUSH_WAIT_MS (default 2000);
 * while ZooKeeper cannot be reached, adds do not wait, and what they queued is written
 * once it can be: the count then lags, and loses only what this replica had queued if it
 * dies before that. */
#ifndef RS_REQCOUNT_H
#define RS_REQCOUNT_H

typedef struct reqcount reqcount;

/* A counter in this process. */
reqcount *reqcount_new_local(void);
/* A counter shared under /rideshare/counts/<name> on the ensemble hosts ("h1:2181,...");
 * waits up to 30 s for the first connection. NULL on error (logged). */
reqcount *reqcount_new_zk(const char *hosts, int session_ms, const char *name, long flush_wait_ms);
/* COUNT_ZK_HOSTS unset or empty: local; else shared, with ZK_SESSION_MS (default 5000) and
 * COUNT_FLUSH_WAIT_MS (default 2000). NULL on error. */
reqcount *reqcount_from_env(const char *name);
/* Flushes what is queued (shared: bounded by the flush wait), then frees. */
void reqcount_free(reqcount *c);

/* Counts one request. Thread-safe. */
void reqcount_add(reqcount *c);
/* The count in *out; 0, or negative when the shared count cannot be read now. */
int reqcount_get(reqcount *c, long long *out);
/* Back to zero; 0, or negative when the shared count cannot be written now. */
int reqcount_reset(reqcount *c);
/* "local" or "zookeeper". */
const char *reqcount_kind(const reqcount *c);

#endif
