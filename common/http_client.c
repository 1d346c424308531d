/* http_client.c - keep-alive HTTP over libcurl. Easy handles live in a small free list:
 * a call borrows one (with its open connection) and gives it back, so connections are
 * reused and no lock is held while a request is on the wire. */
#include "http_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "jsonx.h"
#include "log.h"
#include "sbuf.h"
#include "xalloc.h"

struct handle {
    CURL *curl;
    struct handle *next;
};

struct http_client {
    long timeout_ms;
    long dns_cache_s; /* HTTP_DNS_CACHE_S, default 60 (libcurl's): how long a name's address is kept */
    pthread_mutex_t lock; /* guards only the free list */
    struct handle *free_list;
    char *auth; /* "Authorization: Bearer ..." or NULL */
};

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void http_client_global_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_init_once);
}

http_client *http_client_new(long timeout_ms)
{
    http_client_global_init();
    http_client *c = xcalloc(1, sizeof *c);
    c->timeout_ms = timeout_ms;
    /* short in the swarm stack, whose names resolve to tasks that move (docker/stack.yml) */
    c->dns_cache_s = config_long("HTTP_DNS_CACHE_S", 60, 0, 86400);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void http_client_free(http_client *c)
{
    if (!c)
        return;
    for (struct handle *h = c->free_list, *next; h; h = next) {
        next = h->next;
        curl_easy_cleanup(h->curl);
        free(h);
    }
    pthread_mutex_destroy(&c->lock);
    free(c->auth);
    free(c);
}

void http_client_set_bearer(http_client *c, const char *token)
{
    free(c->auth);
    c->auth = token && *token ? xasprintf("Authorization: Bearer %s", token) : NULL;
}

static struct handle *borrow(http_client *c)
{
    pthread_mutex_lock(&c->lock);
    struct handle *h = c->free_list;
    if (h)
        c->free_list = h->next;
    pthread_mutex_unlock(&c->lock);
    if (h)
        return h;
    h = xcalloc(1, sizeof *h);
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        return NULL;
    }
    return h;
}

static void give_back(http_client *c, struct handle *h)
{
    pthread_mutex_lock(&c->lock);
    h->next = c->free_list;
    c->free_list = h;
    pthread_mutex_unlock(&c->lock);
}

/* The request headers: ours, then extra (NULL-terminated "Name: value" lines, may be NULL). */
static struct curl_slist *request_headers(const char *const *extra)
{
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    for (; extra && *extra; extra++)
        hdrs = curl_slist_append(hdrs, *extra);
    return hdrs;
}

static int request(http_client *c, const char *method, const char *url, const char *const *extra,
                   const char *body, size_t body_len, long *status, char **resp, size_t *resp_len)
{
    struct handle *h = borrow(c);
    if (!h)
        return -1;
    CURL *cu = h->curl;
    sbuf b;
    sbuf_init(&b);
    struct curl_slist *hdrs = request_headers(extra);
    if (c->auth)
        hdrs = curl_slist_append(hdrs, c->auth);
    char idh[80];
    if (*log_request_id()) { /* the request we are serving goes on with its id */
        snprintf(idh, sizeof idh, "X-Request-Id: %s", log_request_id());
        hdrs = curl_slist_append(hdrs, idh);
    }

    curl_easy_reset(cu); /* keeps the connection cache, clears the last call's options */
    curl_easy_setopt(cu, CURLOPT_URL, url);
    curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(cu, CURLOPT_DNS_CACHE_TIMEOUT, c->dns_cache_s);
    /* Reuse a connection only while it is younger than the servers' idle timeout
     * (HTTP_IDLE_TIMEOUT_S, 30 s), so curl does not pick one the server is closing. */
    curl_easy_setopt(cu, CURLOPT_MAXAGE_CONN, 20L);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, sbuf_sink);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, &b);
    if (body) {
        curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE, (long)body_len);
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(cu, CURLOPT_HTTPGET, 1L);
    }

    CURLcode rc = curl_easy_perform(cu);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        log_warn("http client: %s %s: %s", method, url, curl_easy_strerror(rc));
        sbuf_deinit(&b);
        /* a failed handle may hold a broken connection: drop it rather than reuse it */
        curl_easy_cleanup(cu);
        free(h);
        return -1;
    }
    curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, status);
    give_back(c, h);
    if (resp_len)
        *resp_len = b.len;
    if (resp)
        *resp = sbuf_take(&b, NULL);
    sbuf_deinit(&b);
    return 0;
}

int http_client_request(http_client *c, const char *method, const char *url, const char *body,
                        size_t body_len, long *status, char **resp, size_t *resp_len)
{
    return request(c, method, url, NULL, body, body_len, status, resp, resp_len);
}

int http_client_json(http_client *c, const char *method, const char *url, const json_t *body,
                     long *status, json_t **out)
{
    return http_client_json_with(c, method, url, NULL, body, status, out);
}

int http_client_json_with(http_client *c, const char *method, const char *url, const char *const *headers,
                          const json_t *body, long *status, json_t **out)
{
    char *text = body ? jsonx_dump(body) : NULL, *resp = NULL;
    size_t resp_len = 0;
    int rc = request(c, method, url, headers, text, text ? strlen(text) : 0, status, &resp, &resp_len);
    free(text);
    *out = NULL;
    if (rc < 0)
        return -1;
    if (resp_len)
        *out = json_loadb(resp, resp_len, JSON_DECODE_ANY, NULL);
    free(resp);
    return 0;
}
