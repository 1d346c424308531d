/* dbapi.h - POST /api/v1/db/read|write|clear: HTTP in, AMQP RPC to the workers, HTTP out. */
#ifndef RS_DBAPI_H
#define RS_DBAPI_H

#include <stdint.h>

#include "http_server.h"
#include "rpc_client.h"

typedef struct dbapi dbapi;

/* Called once per db/read request, before it is sent (the autoscaler counts them). */
typedef void (*dbapi_read_hook)(void *ud);

/* rpc is borrowed and must outlive the dbapi. timeout_ms bounds each RPC. */
dbapi *dbapi_new(rpc_client *rpc, long timeout_ms);
void dbapi_free(dbapi *d);
void dbapi_set_read_hook(dbapi *d, dbapi_read_hook fn, void *ud);
/* Called once per finished db/read (is_write 0) or db/write and db/clear (1), with the
 * HTTP status and the seconds it took (the dashboard's rates and latencies). */
typedef void (*dbapi_done_hook)(int is_write, int status, double seconds, void *ud);
void dbapi_set_done_hook(dbapi *d, dbapi_done_hook fn, void *ud);
/* The highest write sequence answered so far; every read waits for it (read-your-writes). */
int64_t dbapi_seq(const dbapi *d);

/* Route handlers; ud is the dbapi. */
http_reply *dbapi_read(http_req *req, void *ud);
http_reply *dbapi_write(http_req *req, void *ud);
http_reply *dbapi_clear(http_req *req, void *ud);

#endif
