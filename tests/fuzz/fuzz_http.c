/* fuzz_http.c - percent-decoding and routing of the HTTP server (common/http_server.c).
 *
 * The route matcher and dispatcher are static, and driving them through a listening
 * libmicrohttpd daemon costs a connection per input, so this target includes
 * http_server.c itself and calls dispatch() on a request built in memory: the routes of
 * the users and rides services, the request line and the body from the input. Handlers
 * that would reach libmicrohttpd (headers, query arguments) are not used here.
 *
 * Input: "METHOD PATH\nBODY". The whole input also goes through http_percent_decode,
 * with and without plus_is_space, checked against a reference decoder. */
#include "../../common/http_server.c"

#include <ctype.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int nstars(const char *pattern)
{
    int n = 0;
    for (const char *p = pattern; *p; p++)
        n += *p == '*';
    return n;
}

/* Every route answers 200 once its captures and body pass the checks below. */
static http_reply *on_route(http_req *req, void *ud)
{
    const struct http_route *rt = ud;
    size_t want = (size_t)nstars(rt->pattern);
    if (want > HTTP_MAX_PARAMS)
        want = HTTP_MAX_PARAMS;
    if (req->nparams != want || http_req_param(req, want) != NULL)
        abort();
    for (size_t i = 0; i < want; i++)
        if (!http_req_param(req, i) || !*http_req_param(req, i))
            abort(); /* "*" captures a non-empty segment */
    size_t len;
    http_req_body(req, &len);
    if (len) {
        http_reply *err = NULL;
        json_t *v = http_req_json_object(req, &err);
        if (!v == !err || (err && http_reply_status(err) != 400))
            abort();
        json_decref(v);
        http_reply_free(err);
    }
    return http_reply_json(200, json_object());
}

static struct http_route fz_routes[] = {
    {"PUT", "/api/v1/users", on_route, NULL},         {"GET", "/api/v1/users", on_route, NULL},
    {"DELETE", "/api/v1/users/*", on_route, NULL},    {"GET", "/api/v1/_count", on_route, NULL},
    {"DELETE", "/api/v1/_count", on_route, NULL},     {"POST", "/api/v1/db/clear", on_route, NULL},
    {"POST", "/api/v1/rides", on_route, NULL},        {"GET", "/api/v1/rides", on_route, NULL},
    {"GET", "/api/v1/rides/count", on_route, NULL},   {"GET", "/api/v1/rides/*", on_route, NULL},
    {"POST", "/api/v1/rides/*", on_route, NULL},      {"DELETE", "/api/v1/rides/*", on_route, NULL},
    {"POST", "/api/v1/db/read", on_route, NULL},      {"POST", "/api/v1/db/write", on_route, NULL},
    {"POST", "/api/v1/crash/*", on_route, NULL},      {"GET", "/api/v1/worker/list", on_route, NULL},
    {"GET", "/x/*/*/*/*/*", on_route, NULL}, /* more captures than HTTP_MAX_PARAMS */
};
static http_server *fz_srv;

/* The decoder as http_server.h specifies it, written the slow way. */
static int ref_decode(const char *s, size_t len, int plus, char *out, size_t *olen)
{
    static const char hexd[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            if (len - i < 3)
                return -1;
            const char *h = strchr(hexd, tolower((unsigned char)s[i + 1]));
            const char *l = strchr(hexd, tolower((unsigned char)s[i + 2]));
            if (!s[i + 1] || !s[i + 2] || !h || !l || (h == hexd && l == hexd))
                return -1;
            out[o++] = (char)((h - hexd) * 16 + (l - hexd));
            i += 2;
        } else {
            out[o++] = s[i] == '+' && plus ? ' ' : s[i];
        }
    }
    *olen = o;
    return 0;
}

static void check_decode(const char *s, size_t len, int plus)
{
    char *ref = malloc(len + 1);
    size_t rlen = 0;
    int rrc = ref_decode(s, len, plus, ref, &rlen);
    char *dec = http_percent_decode(s, len, plus);
    if ((dec == NULL) != (rrc < 0))
        abort();
    if (dec && (strlen(dec) != rlen || memcmp(dec, ref, rlen) != 0))
        abort(); /* also: a decoded value holds no NUL byte */
    free(dec);
    free(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_srv) {
        for (size_t i = 0; i < sizeof fz_routes / sizeof fz_routes[0]; i++)
            fz_routes[i].ud = &fz_routes[i];
        fz_srv = http_server_new(fz_routes, sizeof fz_routes / sizeof fz_routes[0], NULL);
        log_set_level(LOGL_ERROR);
    }
    /* The input up to its first NUL (callers hand over C strings) through the decoder,
     * both ways. */
    size_t clen = strnlen((const char *)data, size);
    check_decode((const char *)data, clen, 0);
    check_decode((const char *)data, clen, 1);

    const uint8_t *nl = memchr(data, '\n', size);
    size_t line_len = nl ? (size_t)(nl - data) : size;
    char *line = strndup((const char *)data, line_len); /* MHD hands over C strings */
    char *sp = strchr(line, ' ');
    if (!sp || sp[1] != '/') {
        free(line);
        return 0;
    }
    *sp = '\0';
    http_req req = {.method = line, .path = sp + 1};
    if (nl && size - line_len - 1 > 0) {
        req.body_len = size - line_len - 1;
        req.body = malloc(req.body_len + 1);
        memcpy(req.body, nl + 1, req.body_len);
        req.body[req.body_len] = '\0';
    }
    http_reply *r = dispatch(fz_srv, &req);
    int st = http_reply_status(r);
    if (st != 200 && st != 400 && st != 404 && st != 405)
        abort();
    if ((st == 405) != (r->allow[0] != '\0') && strcmp(req.path, "/healthz") != 0)
        abort();
    if (!r->body)
        abort();
    http_reply_free(r);
    for (size_t i = 0; i < req.nparams; i++)
        free(req.params[i]);
    free(req.body);
    free(line);
    return 0;
}
