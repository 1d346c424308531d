/* docker.c - Docker Engine API over the unix socket with libcurl, JSON with jansson. */
#include "docker.h"

#include "http_client.h"
#include "jsonx.h"
#include "log.h"
#include "sbuf.h"
#include "xalloc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The newest API we speak; an older engine gets its own version (docker_ping). */
#define DOCKER_API_MAJOR 1
#define DOCKER_API_MINOR 41

struct docker {
    char *sock;
    char prefix[16];      /* "/v1.41" */
    pthread_mutex_t mu;   /* one request at a time on the one handle */
    CURL *curl;
};

struct docker *docker_new(const char *sock)
{
    http_client_global_init();
    CURL *c = curl_easy_init();
    if (!c) {
        log_error("docker: curl_easy_init failed");
        return NULL;
    }
    struct docker *d = xcalloc(1, sizeof *d);
    d->sock = xstrdup(sock && *sock ? sock : "/var/run/docker.sock");
    snprintf(d->prefix, sizeof d->prefix, "/v%d.%d", DOCKER_API_MAJOR, DOCKER_API_MINOR);
    pthread_mutex_init(&d->mu, NULL);
    d->curl = c;
    return d;
}

void docker_free(struct docker *d)
{
    if (!d)
        return;
    curl_easy_cleanup(d->curl);
    pthread_mutex_destroy(&d->mu);
    free(d->sock);
    free(d);
}

/* One HTTP exchange. path starts with '/' and is used as is (no version prefix added
 * here). body: a JSON document, or upload: a file streamed as application/x-tar, or
 * neither. The answer's bytes go to *raw (caller frees) when raw is not NULL. Returns the
 * HTTP status, or -1 when the engine could not be reached. */
static long exchange(struct docker *d, const char *method, const char *path, const json_t *body, const char *upload,
                     char **raw)
{
    sbuf resp;
    sbuf_init(&resp);
    char *url = xasprintf("http://localhost%s", path);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    FILE *in = NULL;
    struct curl_slist *hdrs = NULL;
    long status = -1;

    pthread_mutex_lock(&d->mu);
    CURL *c = d->curl;
    curl_easy_reset(c);  /* keeps the connection, drops the last request's options */
    docker_curl_request(c, d->sock, method, url, &resp);
    if (upload) {
        struct stat sb;
        in = fopen(upload, "rb");
        if (!in || fstat(fileno(in), &sb) != 0) {
            log_error("docker: cannot read %s", upload);
            goto done;
        }
        hdrs = curl_slist_append(hdrs, "Content-Type: application/x-tar");
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READDATA, in);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)sb.st_size);
    } else if (strcmp(method, "POST") == 0) {
        /* Without a body, an empty one: otherwise curl would wait for data to send. */
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text ? text : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(text ? strlen(text) : 0));
    }
    hdrs = curl_slist_append(hdrs, "Expect:");  /* no 100-continue round trip for imports */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        log_error("docker: %s %s via %s: %s", method, path, d->sock, curl_easy_strerror(rc));
        goto done;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
done:
    pthread_mutex_unlock(&d->mu);
    if (in)
        fclose(in);
    curl_slist_free_all(hdrs);
    free(text);
    free(url);
    if (raw && status >= 0)
        *raw = sbuf_take(&resp, NULL);
    sbuf_deinit(&resp);
    return status;
}

/* exchange() on a versioned API path, with the answer parsed as JSON when wanted, and the
 * status translated: 2xx and 304 (already started/stopped) are fine. */
static int call(struct docker *d, const char *method, const char *path, const json_t *body, json_t **out)
{
    char *vpath = xasprintf("%s%s", d->prefix, path);
    char *raw = NULL;
    long status = exchange(d, method, vpath, body, NULL, &raw);
    int st = DOCKER_OK;
    if (status < 0) {
        st = DOCKER_ERR;
    } else if ((status >= 200 && status < 300) || status == 304) {
        if (out) {
            json_error_t err;
            *out = json_loads(raw, JSON_DECODE_ANY, &err);
            if (!*out) {
                log_error("docker: %s %s: unparsable answer: %s", method, path, err.text);
                st = DOCKER_ERR;
            }
        }
    } else {
        /* The engine explains itself in {"message": "..."}; 404s are often expected. */
        json_t *e = json_loads(raw, 0, NULL);
        const char *msg = json_string_value(json_object_get(e, "message"));
        st = status == 404 ? DOCKER_ENOTFOUND : status == 409 ? DOCKER_ECONFLICT : DOCKER_ERR;
        if (st == DOCKER_ENOTFOUND)
            log_debug("docker: %s %s: %ld %s", method, path, status, msg ? msg : raw);
        else
            log_error("docker: %s %s: %ld %s", method, path, status, msg ? msg : raw);
        json_decref(e);
    }
    free(raw);
    free(vpath);
    return st;
}

int docker_call(struct docker *d, const char *method, const char *path, const json_t *body, json_t **out)
{
    return call(d, method, path, body, out);
}

int docker_ping(struct docker *d)
{
    char *raw = NULL;
    long status = exchange(d, "GET", "/version", NULL, NULL, &raw);
    if (status != 200) {
        if (status >= 0)
            log_error("docker: GET /version: %ld", status);
        free(raw);
        return DOCKER_ERR;
    }
    json_t *v = json_loads(raw, 0, NULL);
    const char *api = json_string_value(json_object_get(v, "ApiVersion"));
    int major = 0, minor = 0;
    if (api && sscanf(api, "%d.%d", &major, &minor) == 2 &&
        (major < DOCKER_API_MAJOR || (major == DOCKER_API_MAJOR && minor < DOCKER_API_MINOR))) {
        pthread_mutex_lock(&d->mu);
        snprintf(d->prefix, sizeof d->prefix, "/v%d.%d", major, minor);
        pthread_mutex_unlock(&d->mu);
        log_warn("docker: engine speaks API %s only; using it", api);
    }
    json_decref(v);
    free(raw);
    return DOCKER_OK;
}

int docker_create(struct docker *d, const struct docker_spec *spec, char **id_out)
{
    int st = DOCKER_ERR;
    json_t *resp = NULL;
    char *path = NULL;
    json_t *body = json_object();
    json_t *host = json_object();
    json_object_set_new(body, "Image", json_string(spec->image));
    if (spec->cmd)
        json_object_set_new(body, "Cmd", jsonx_str_array(spec->cmd));
    if (spec->env)
        json_object_set_new(body, "Env", jsonx_str_array(spec->env));
    if (spec->labels)
        json_object_set_new(body, "Labels", jsonx_kv_object(spec->labels));
    if (spec->volumes) {
        json_t *vols = json_object();
        for (const char *const *v = spec->volumes; *v; v++)
            json_object_set_new(vols, *v, json_object());
        json_object_set_new(body, "Volumes", vols);
    }
    if (spec->binds)
        json_object_set_new(host, "Binds", jsonx_str_array(spec->binds));
    if (spec->network)
        json_object_set_new(host, "NetworkMode", json_string(spec->network));
    if (spec->memory_bytes > 0) {
        json_object_set_new(host, "Memory", json_integer(spec->memory_bytes));
        json_object_set_new(host, "MemorySwap", json_integer(spec->memory_bytes));
    }
    if (spec->pids_limit > 0)
        json_object_set_new(host, "PidsLimit", json_integer(spec->pids_limit));
    json_object_set_new(body, "HostConfig", host);

    if (spec->name) {
        char *esc = curl_easy_escape(NULL, spec->name, 0);
        path = xasprintf("/containers/create?name=%s", esc);
        curl_free(esc);
    } else {
        path = xstrdup("/containers/create");
    }
    st = call(d, "POST", path, body, &resp);
    if (st < 0)
        goto done;
    const char *id = json_string_value(json_object_get(resp, "Id"));
    if (!id) {
        log_error("docker: create answered without an Id");
        st = DOCKER_ERR;
        goto done;
    }
    if (id_out)
        *id_out = xstrdup(id);
done:
    json_decref(resp);
    json_decref(body);
    free(path);
    return st;
}

void docker_curl_request(CURL *c, const char *sock, const char *method, const char *url, sbuf *resp)
{
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sbuf_sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
}

/* "/containers/<escaped name or id><suffix>" */
static char *container_path(const char *container, const char *suffix)
{
    char *esc = curl_easy_escape(NULL, container, 0);
    char *p = xasprintf("/containers/%s%s", esc, suffix);
    curl_free(esc);
    return p;
}

/* A call on one container that answers nothing of interest. */
static int container_call(struct docker *d, const char *method, const char *container, const char *suffix)
{
    char *path = container_path(container, suffix);
    int st = call(d, method, path, NULL, NULL);
    free(path);
    return st;
}

int docker_start(struct docker *d, const char *container)
{
    return container_call(d, "POST", container, "/start");
}

int docker_inspect(struct docker *d, const char *container, struct docker_state *out)
{
    json_t *resp = NULL;
    char *path = container_path(container, "/json");
    int st = call(d, "GET", path, NULL, &resp);
    free(path);
    if (st < 0)
        return st;
    json_t *state = json_object_get(resp, "State");
    if (!json_is_object(state)) {
        log_error("docker: inspect %s: no State", container);
        json_decref(resp);
        return DOCKER_ERR;
    }
    out->pid = (long)json_integer_value(json_object_get(state, "Pid"));
    out->running = json_is_true(json_object_get(state, "Running"));
    out->exit_code = (int)json_integer_value(json_object_get(state, "ExitCode"));
    json_decref(resp);
    return DOCKER_OK;
}

int docker_kill(struct docker *d, const char *container, int sig)
{
    char suffix[32];
    snprintf(suffix, sizeof suffix, "/kill?signal=%d", sig);
    return container_call(d, "POST", container, suffix);
}

int docker_remove(struct docker *d, const char *container)
{
    return container_call(d, "DELETE", container, "?force=1&v=1");
}

void docker_objects_free(struct docker_object *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(list[i].id);
        free(list[i].name);
        free(list[i].state);
        json_decref(list[i].labels);
    }
    free(list);
}

int docker_get_filtered(struct docker *d, const char *path, const char *key, const char *const *values, json_t **out)
{
    json_t *filters = json_pack("{s:o}", key, jsonx_str_array(values));
    char *ftext = json_dumps(filters, JSON_COMPACT);
    char *esc = curl_easy_escape(NULL, ftext, 0);
    char *full = xasprintf("%s%cfilters=%s", path, strchr(path, '?') ? '&' : '?', esc);
    int st = call(d, "GET", full, NULL, out);
    curl_free(esc);
    free(ftext);
    free(full);
    json_decref(filters);
    if (st == DOCKER_OK && !json_is_array(*out)) {
        log_error("docker: the answer to %s is not an array", path);
        json_decref(*out);
        *out = NULL;
        st = DOCKER_ERR;
    }
    return st;
}

int docker_list_objects(struct docker *d, const char *path, const char *const *labels, docker_object_parse *parse,
                        struct docker_object **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    json_t *resp = NULL;
    int st = docker_get_filtered(d, path, "label", labels, &resp);
    if (st < 0)
        return st;
    size_t count = json_array_size(resp);
    struct docker_object *list = xcalloc(count + 1, sizeof *list);
    for (size_t i = 0; i < count; i++) {
        struct docker_object_src src = {0};
        parse(json_array_get(resp, i), &src);
        list[i].id = xstrdup(src.id ? src.id : "");
        list[i].name = xstrdup(src.name ? src.name : "");
        list[i].state = xstrdup(src.state ? src.state : "");
        list[i].labels = json_is_object(src.labels) ? json_incref(src.labels) : json_object();
    }
    json_decref(resp);
    *out = list;
    *n = count;
    return DOCKER_OK;
}

static void parse_container(json_t *c, struct docker_object_src *src)
{
    src->id = json_string_value(json_object_get(c, "Id"));
    src->name = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
    if (src->name && src->name[0] == '/')
        src->name++;
    src->state = json_string_value(json_object_get(c, "State"));
    src->labels = json_object_get(c, "Labels");
}

int docker_list(struct docker *d, const char *const *labels, struct docker_object **out, size_t *n)
{
    return docker_list_objects(d, "/containers/json?all=1", labels, parse_container, out, n);
}

int docker_image_exists(struct docker *d, const char *image)
{
    char *esc = curl_easy_escape(NULL, image, 0);
    char *path = xasprintf("/images/%s/json", esc);
    curl_free(esc);
    int st = call(d, "GET", path, NULL, NULL);
    free(path);
    if (st == DOCKER_OK)
        return 1;
    return st == DOCKER_ENOTFOUND ? 0 : st;
}

int docker_image_import(struct docker *d, const char *tar_path, const char *repo, const char *tag)
{
    char *erepo = curl_easy_escape(NULL, repo, 0);
    char *etag = curl_easy_escape(NULL, tag, 0);
    char *path = xasprintf("%s/images/create?fromSrc=-&repo=%s&tag=%s", d->prefix, erepo, etag);
    curl_free(erepo);
    curl_free(etag);
    char *raw = NULL;
    long status = exchange(d, "POST", path, NULL, tar_path, &raw);
    /* The answer is a stream of progress objects; a failure shows up as an "error" key. */
    int st = status == 200 && raw && !strstr(raw, "\"error\"") ? DOCKER_OK : DOCKER_ERR;
    if (st < 0)
        log_error("docker: import %s as %s:%s: %ld %s", tar_path, repo, tag, status, raw ? raw : "");
    free(raw);
    free(path);
    return st;
}
