/* common_rpc_client_test.c - the rpc_client_free contract: calls still waiting when the
 * client is freed return RPC_ESHUTDOWN, and free returns only after every one has left,
 * so none touches freed memory (ASan would say so). No broker: the port is closed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mq.h"
#include "rpc_client.h"

#define CALLERS 16

struct caller {
    rpc_client *c;
    int rc;
    atomic_int *entered;
};

static void *call(void *arg)
{
    struct caller *k = arg;
    struct rpc_answer a;
    atomic_fetch_add(k->entered, 1);
    k->rc = rpc_call(k->c, "nowhere", "{}", 2, 60000, &a, NULL);
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static void test_free_waits_for_every_caller(void **state)
{
    (void)state;
    struct mq_cfg cfg = {.host = "127.0.0.1", .port = 1, .user = "guest", .pass = "guest", .vhost = "/",
                         .heartbeat = 10};
    for (int round = 0; round < 5; round++) {
        rpc_client *c = rpc_client_new(&cfg, "responseQ");
        assert_non_null(c);
        atomic_int entered = 0;
        struct caller k[CALLERS];
        pthread_t t[CALLERS];
        for (int i = 0; i < CALLERS; i++) {
            k[i] = (struct caller){.c = c, .rc = 99, .entered = &entered};
            assert_int_equal(pthread_create(&t[i], NULL, call, &k[i]), 0);
        }
        struct rpc_stats st;
        do { /* every call is inside rpc_call: none may start once free has begun */
            sleep_ms(1);
            rpc_client_stats(c, &st);
        } while (atomic_load(&entered) < CALLERS || st.in_flight < CALLERS);
        sleep_ms(round * 20);
        rpc_client_free(c);
        for (int i = 0; i < CALLERS; i++) {
            pthread_join(t[i], NULL);
            assert_int_equal(k[i].rc, RPC_ESHUTDOWN);
        }
    }
}

int main(void)
{
    log_init("common_rpc_client_test");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_waits_for_every_caller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
