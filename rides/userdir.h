/* userdir.h - asks the users service (through the load balancer, GET USERS_URL) whether a
 * user exists, as API.md requires; each call counts in the users service's _count. */
#ifndef RS_RIDES_USERDIR_H
#define RS_RIDES_USERDIR_H

typedef struct userdir userdir;

/* users_url is the full URL of the user list ("http://127.0.0.1:8080/api/v1/users"). */
userdir *userdir_new(const char *users_url, long timeout_ms);
void userdir_free(userdir *u);

/* 1 when name is a user, 0 when not, -1 when the users service did not answer usefully. */
int userdir_exists(userdir *u, const char *name);

#endif
