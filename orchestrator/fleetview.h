/* fleetview.h - the fleet view (docs/API.md "Admin token", "The fleet view"): GET /dashboard, GET
 * /api/v1/fleet and the Server-Sent Events of GET /api/v1/events.
 *
 * One thread ticks once a second: it takes the charts' sample, notices the broker going
 * and coming back, and, while a stream is open, sends every stream the fleet's snapshot.
 * It also watches who is master in ZooKeeper and the session's state, and times a
 * failover from the old master's death to the first write a new one accepts. */
#ifndef RS_FLEETVIEW_H
#define RS_FLEETVIEW_H

#include "dbapi.h"
#include "events.h"
#include "http_server.h"
#include "rpc_client.h"
#include "supervisor.h"
#include "zk.h"

typedef struct fleetview fleetview;

/* Everything borrowed must outlive the view; sup and zk are NULL without ZooKeeper.
 * Hooks itself into db (done hook) and sup (events, master_down). */
fleetview *fleetview_new(rpc_client *rpc, dbapi *db, supervisor *sup, struct zk *zk);
/* Starts the ticking thread and the watches. */
int fleetview_start(fleetview *fv);
/* Ends every stream and stops. NULL is fine. */
void fleetview_free(fleetview *fv);

/* Route handlers; ud is the fleetview. */
http_reply *fleetview_page(http_req *req, void *ud);
http_reply *fleetview_fleet(http_req *req, void *ud);
http_reply *fleetview_events(http_req *req, void *ud);

#endif
