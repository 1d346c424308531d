/* zk.h - a ZooKeeper session that outlives connection loss and session expiry.
 *
 * Wraps the multi-threaded C client. One struct zk is one logical session: when the
 * server expires the real session, the module opens a new one by itself, re-creates the
 * ephemeral nodes created with ZKF_OWNED, and re-arms every watch.
 *
 * Callbacks (state listeners, child and node watches) all run on one internal thread,
 * one at a time, never on the caller's thread and never on the ZooKeeper library's own
 * threads; so a callback may call any zk_* function except zk_free. */
#ifndef RS_ZK_H
#define RS_ZK_H

#include <stddef.h>

struct zk;

/* Status codes (0 ok, negative error); ZooKeeper's own codes never leave zk.c. */
enum {
    ZK_OK = 0,
    ZK_ERR = -1,         /* anything else; the library's message has been logged */
    ZK_ENONODE = -2,     /* the node (or for a create, its parent) does not exist */
    ZK_EEXISTS = -3,     /* create: the node already exists */
    ZK_ENOTEMPTY = -4,   /* delete: the node has children */
    ZK_ECONN = -5,       /* not connected right now (lost connection or session) */
    ZK_EBADVERSION = -6, /* set with a version: the node changed since that version was read */
};

/* Flags for zk_create. */
enum {
    ZKF_PERSISTENT = 0,
    ZKF_EPHEMERAL = 1,   /* vanishes when the session ends */
    ZKF_SEQUENCE = 2,    /* the server appends a 10-digit counter to the name */
    ZKF_OWNED = 4,       /* ephemeral only, no SEQUENCE: re-created after session expiry */
};

enum zk_state {
    ZK_STATE_CONNECTED,     /* connected; the session (and its ephemerals) is intact */
    ZK_STATE_DISCONNECTED,  /* connection lost; the session may survive if we are back in time */
    ZK_STATE_EXPIRED,       /* the session is gone, with its ephemerals; a new one is opening */
};

/* One child of a watched or listed node: name (not the full path) and its data. */
struct zk_child {
    char *name;
    char *data;  /* NUL-terminated copy of the node's bytes ("" when empty) */
    size_t len;
};

typedef void (*zk_state_cb)(enum zk_state state, void *arg);
/* kids are sorted by name, valid only during the call. */
typedef void (*zk_children_cb)(const char *path, const struct zk_child *kids, size_t n, void *arg);
/* data is NULL when the node does not exist. */
typedef void (*zk_node_cb)(const char *path, const char *data, size_t len, void *arg);

/* Opens a session to hosts ("h1:2181,h2:2181"), session_ms the requested session timeout.
 * Waits up to wait_ms for the first connection (0: do not wait); NULL if that fails. */
struct zk *zk_new(const char *hosts, int session_ms, long wait_ms);
/* Closes the session (its ephemerals vanish at once) and frees. Not from a callback. */
void zk_free(struct zk *zk);

int zk_is_connected(struct zk *zk);
/* The server-assigned session id (changes after an expiry); 0 before the first connection. */
long long zk_session_id(struct zk *zk);
/* The session timeout the server granted, in ms. */
int zk_session_timeout(struct zk *zk);

/* Creates path and every missing ancestor as persistent, empty nodes; existing is fine. */
int zk_ensure_path(struct zk *zk, const char *path);
/* Creates path with data. With ZKF_SEQUENCE the real name is written to out (may be NULL). */
int zk_create(struct zk *zk, const char *path, const void *data, size_t len, int flags,
              char *out, size_t outlen);
/* The node's data as a fresh NUL-terminated string in *data (caller frees); len optional. */
int zk_get(struct zk *zk, const char *path, char **data, size_t *len);
/* Overwrites the data (any version); an owned ephemeral is re-created with the new data. */
int zk_set(struct zk *zk, const char *path, const void *data, size_t len);
/* zk_get that also returns the node's data version (for zk_set_version). */
int zk_get_version(struct zk *zk, const char *path, char **data, int *version);
/* Compare-and-set: overwrites only while the node is still at version; ZK_EBADVERSION
 * when someone else wrote it first. *new_version (may be NULL) gets the version after. */
int zk_set_version(struct zk *zk, const char *path, const void *data, size_t len, int version, int *new_version);
/* A read that cannot be stale: asks the server to catch up with the leader (zoo_async,
 * "sync"), waiting up to timeout_ms, then zk_get_version. Reads served after a sync
 * reflect every write committed before it was sent. */
int zk_sync_get(struct zk *zk, const char *path, long timeout_ms, char **data, int *version);
/* Deletes the node (any version) and forgets it if owned. */
int zk_delete(struct zk *zk, const char *path);
/* 1 if the node exists, 0 if not, negative on error. */
int zk_exists(struct zk *zk, const char *path);
/* The current children with their data, sorted by name; free with zk_children_free. */
int zk_children(struct zk *zk, const char *path, struct zk_child **kids, size_t *n);
void zk_children_free(struct zk_child *kids, size_t n);

/* Calls cb on every state change. Returns a subscription id (> 0) or negative. */
int zk_listen(struct zk *zk, zk_state_cb cb, void *arg);
/* Delivers the full child list of path (each child's data included) now and after every
 * change: a child added or removed, a child's data changed, a reconnect, a new session.
 * path need not exist yet (an empty list until it does). Returns an id (> 0) or negative. */
int zk_watch_children(struct zk *zk, const char *path, zk_children_cb cb, void *arg);
/* Delivers path's data (or its absence) now and after every create, change or delete. */
int zk_watch_node(struct zk *zk, const char *path, zk_node_cb cb, void *arg);
/* Ends a listener or watch; once it returns, its callback is not running and never runs
 * again (unless called from that very callback, which is allowed). */
void zk_unwatch(struct zk *zk, int id);

/* Test seam: makes the server expire this session now (by closing it from a second
 * handle that shares its id), as a long network partition would. */
int zk_test_expire(struct zk *zk);
/* Test seam: ends the session now, as a crashed process would, and stays closed: every
 * later call fails with ZK_ECONN until zk_free. */
void zk_test_close(struct zk *zk);

#endif
