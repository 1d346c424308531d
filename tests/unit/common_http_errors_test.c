/* common_http_errors_test.c - error replies stay JSON whatever the request holds
 * (found by tests/fuzz/fuzz_http.c; seeds corpus/http/regress_404_*): a path with bytes
 * that are not UTF-8, or a quoted path long enough to be cut inside a character, used to
 * give a 404 with an empty body, because json_pack refuses such a message. Runs a real
 * server on an ephemeral loopback port and speaks raw HTTP/1.1 to it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_server.h"
#include "log.h"

static http_reply *on_user(http_req *req, void *ud)
{
    (void)ud;
    return http_reply_error(400, "no such user: %s", http_req_param(req, 0));
}

static const struct http_route routes[] = {
    {"DELETE", "/api/v1/users/*", on_user, NULL},
};

/* Sends req (len bytes) and reads the whole answer (Connection: close) into out. */
static void roundtrip(int port, const char *req, size_t len, char *out, size_t outlen)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(write(fd, req, len), (ssize_t)len);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < outlen && (r = read(fd, out + n, outlen - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(fd);
}

/* GET/DELETE path; the answer's status line and body. */
static void request(int port, const char *method, const char *path, char *out, size_t outlen)
{
    char req[4096];
    int len = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", method, path);
    assert_true(len > 0 && (size_t)len < sizeof req);
    roundtrip(port, req, (size_t)len, out, outlen);
}

static int setup(void **state)
{
    log_set_level(LOGL_ERROR);
    http_server *srv = http_server_new(routes, sizeof routes / sizeof routes[0], NULL);
    if (http_server_start(srv, 0) != 0) {
        http_server_free(srv);
        return -1;
    }
    *state = srv;
    return 0;
}

static int teardown(void **state)
{
    http_server_free(*state);
    return 0;
}

static void assert_json_error(const char *answer, const char *status)
{
    assert_non_null(strstr(answer, status));
    assert_non_null(strstr(answer, "Content-Type: application/json"));
    assert_non_null(strstr(answer, "\r\n\r\n{\"error\":\""));
}

static void test_404_path_not_utf8(void **state)
{
    char out[8192];
    request(http_server_port(*state), "GET", "/api/v1/us\xff\xfe" "ers", out, sizeof out);
    assert_json_error(out, " 404 ");
    assert_non_null(strstr(out, "/api/v1/us??ers")); /* the bad bytes show as '?' */
}

static void test_404_long_path_cut_in_a_character(void **state)
{
    char path[1024] = "/api/v1/";
    for (int i = 0; i < 300; i++)
        strcat(path, "\xc3\xa9"); /* U+00E9: the 512-byte message ends inside one */
    char out[8192];
    request(http_server_port(*state), "GET", path, out, sizeof out);
    assert_json_error(out, " 404 ");
}

static void test_405_and_valid_utf8_untouched(void **state)
{
    char out[8192];
    request(http_server_port(*state), "DELETE", "/api/v1/users/%C3%A9l%C3%A9a", out, sizeof out);
    assert_json_error(out, " 400 ");
    assert_non_null(strstr(out, "no such user: \xc3\xa9l\xc3\xa9" "a"));
    request(http_server_port(*state), "DELETE", "/api/v1/users/%ff", out, sizeof out);
    assert_json_error(out, " 400 ");
    assert_non_null(strstr(out, "no such user: ?\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_404_path_not_utf8),
        cmocka_unit_test(test_404_long_path_cut_in_a_character),
        cmocka_unit_test(test_405_and_valid_utf8_untouched),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
