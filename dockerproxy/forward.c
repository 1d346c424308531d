/* forward.c - one request to the engine per call, on a fresh libcurl handle: the calls
 * are few (a worker start, a crash, a reconcile pass) and a unix socket connects in
 * microseconds, so there is nothing to pool. */
#include "forward.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"
#include "log.h"
#include "sbuf.h"
#include "xalloc.h"

int dproxy_forward(const char *sock, const char *method, const char *target, const char *body, size_t len,
                   struct dproxy_answer *ans)
{
    memset(ans, 0, sizeof *ans);
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    sbuf resp;
    sbuf_init(&resp);
    char *url = xasprintf("http://localhost%s", target);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Expect:");
    if (len || strcmp(method, "POST") == 0) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    docker_curl_request(c, sock, method, url, &resp);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ans->status);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(ans->ctype, sizeof ans->ctype, "%s", ct ? ct : "");
        ans->body = sbuf_take(&resp, &ans->len);
    } else {
        log_error("dockerproxy: %s %.200s via %s: %s", method, target, sock, curl_easy_strerror(rc));
    }
    sbuf_deinit(&resp);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    free(url);
    return rc == CURLE_OK ? 0 : -1;
}
