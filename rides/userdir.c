/* userdir.c - the rides service's view of the users service: one GET of the user list. */
#include "userdir.h"

#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "jsonx.h"
#include "log.h"
#include "xalloc.h"

struct userdir {
    http_client *http;
    char *url;
};

userdir *userdir_new(const char *users_url, long timeout_ms)
{
    userdir *u = xcalloc(1, sizeof *u);
    u->http = http_client_new(timeout_ms);
    if (!u->http) {
        free(u);
        return NULL;
    }
    u->url = xstrdup(users_url);
    return u;
}

void userdir_free(userdir *u)
{
    if (!u)
        return;
    http_client_free(u->http);
    free(u->url);
    free(u);
}

int userdir_exists(userdir *u, const char *name)
{
    long status = 0;
    char *body = NULL;
    size_t len = 0;
    if (http_client_request(u->http, "GET", u->url, NULL, 0, &status, &body, &len) != 0) {
        log_warn("userdir: %s cannot be reached", u->url);
        return -1;
    }
    int found = -1;
    if (status == 204) {
        found = 0;
    } else if (status == 200) {
        json_t *list = jsonx_parse(body, len, NULL, 0);
        if (json_is_array(list)) {
            size_t i;
            json_t *v;
            found = 0;
            json_array_foreach(list, i, v) {
                if (json_is_string(v) && strcmp(json_string_value(v), name) == 0) {
                    found = 1;
                    break;
                }
            }
        } else {
            log_warn("userdir: %s answered 200 without a JSON array", u->url);
        }
        json_decref(list);
    } else {
        log_warn("userdir: %s answered %ld", u->url, status);
    }
    free(body);
    return found;
}
