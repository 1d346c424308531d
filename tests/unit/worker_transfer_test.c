/* worker_transfer_test.c - a snapshot assembled from chunks: in order, with a lost or
 * foreign chunk, two answers interleaved, and a new resync. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../worker/transfer.h"

static char path[64];

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/worker_transfer_test.XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    unlink(path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static long file_size(void)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static int add(transfer *t, const char *corr, int64_t index, int64_t count, const char *text)
{
    struct wire_chunk ch = {.seq = 7, .term = 2, .index = index, .count = count};
    return transfer_add(t, corr, &ch, text, strlen(text));
}

static void test_chunks_in_order(void **state)
{
    (void)state;
    transfer *t = transfer_new(path);
    transfer_allow(t, "a");
    assert_int_equal(add(t, "a", 0, 3, "abc"), TRANSFER_MORE);
    assert_int_equal(add(t, "a", 1, 3, "def"), TRANSFER_MORE);
    assert_int_equal(add(t, "a", 2, 3, "g"), TRANSFER_DONE);
    assert_int_equal(file_size(), 7);
    /* a duplicate of the last chunk, or another answer, does not start another copy */
    assert_int_equal(add(t, "a", 2, 3, "g"), TRANSFER_IGNORED);
    assert_int_equal(add(t, "a", 0, 1, "g"), TRANSFER_IGNORED);
    assert_int_equal(file_size(), 7);
    transfer_free(t);
    assert_int_equal(file_size(), 7); /* a complete copy is the caller's to install */
}

static void test_foreign_and_lost_chunks(void **state)
{
    (void)state;
    transfer *t = transfer_new(path);
    assert_int_equal(add(t, "a", 0, 2, "x"), TRANSFER_IGNORED); /* nothing allowed yet */
    transfer_allow(t, "b");
    assert_int_equal(add(t, "a", 0, 1, "x"), TRANSFER_IGNORED); /* not one of our requests */
    assert_int_equal(add(t, "b", 1, 3, "def"), TRANSFER_IGNORED); /* not a beginning */
    assert_int_equal(add(t, "b", 0, 3, "abc"), TRANSFER_MORE);
    assert_int_equal(add(t, "b", 2, 3, "ghi"), TRANSFER_IGNORED); /* 1 was lost */
    assert_int_equal(file_size(), -1);                             /* the partial copy is gone */
    assert_int_equal(add(t, "b", 1, 3, "def"), TRANSFER_IGNORED);  /* and it does not resume */
    assert_int_equal(add(t, "b", 0, 1, "whole"), TRANSFER_DONE);   /* a later answer to it does */
    assert_int_equal(file_size(), 5);
    transfer_free(t);
}

/* The slave asked twice while the master was writing a large copy: the first answer to
 * begin is assembled, the other one's chunks are ignored meanwhile. */
static void test_two_answers_interleaved(void **state)
{
    (void)state;
    transfer *t = transfer_new(path);
    transfer_allow(t, "a");
    transfer_allow(t, "b");
    assert_int_equal(add(t, "b", 0, 2, "b0"), TRANSFER_MORE);
    assert_int_equal(add(t, "a", 0, 2, "a0"), TRANSFER_IGNORED);
    assert_int_equal(add(t, "a", 1, 2, "a1"), TRANSFER_IGNORED);
    assert_int_equal(add(t, "b", 1, 2, "b1!"), TRANSFER_DONE);
    assert_int_equal(file_size(), 5);
    transfer_free(t);
}

static void test_reset_drops_partial_and_requests(void **state)
{
    (void)state;
    transfer *t = transfer_new(path);
    transfer_allow(t, "a");
    assert_int_equal(add(t, "a", 0, 2, "abc"), TRANSFER_MORE);
    transfer_reset(t);
    assert_int_equal(file_size(), -1);
    assert_int_equal(add(t, "a", 1, 2, "def"), TRANSFER_IGNORED);
    assert_int_equal(add(t, "a", 0, 1, "def"), TRANSFER_IGNORED);
    transfer_allow(t, "b");
    assert_int_equal(add(t, "b", 0, 0, ""), TRANSFER_IGNORED); /* a count of 0 is no answer */
    transfer_free(t);
    assert_int_equal(file_size(), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chunks_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_and_lost_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_answers_interleaved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_drops_partial_and_requests, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
