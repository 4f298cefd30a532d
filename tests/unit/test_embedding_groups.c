/* engine/ops/embedding_groups.h: tokens grouped by id, ids ascending, each
 * group's tokens in increasing index (what makes the GPU scatter-add add in
 * the CPU op's order), every token exactly once; negative ids and n < 0
 * refused; n = 0 gives no group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "engine/ops/embedding_groups.h"

static int32_t id_buf[64], start_buf[65], order_buf[64];

static EmbeddingGroups groups(void)
{
    EmbeddingGroups g = {0, id_buf, start_buf, order_buf};
    return g;
}

static void groups_by_id_in_token_order(void **state)
{
    (void)state;
    const int32_t ids[] = {5, 2, 5, 0, 2, 5, 9, 0, 5};
    const int n = (int)(sizeof ids / sizeof *ids);
    EmbeddingGroups g = groups();
    assert_int_equal(embedding_groups_build(&g, ids, n), 0);
    assert_int_equal(g.n_groups, 4);
    const int32_t want_id[] = {0, 2, 5, 9};
    const int32_t want_start[] = {0, 2, 4, 8, 9};
    const int32_t want_order[] = {3, 7, 1, 4, 0, 2, 5, 8, 6};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(g.id[k], want_id[k]);
    }
    for (int k = 0; k < 5; k++) {
        assert_int_equal(g.start[k], want_start[k]);
    }
    for (int k = 0; k < n; k++) {
        assert_int_equal(g.order[k], want_order[k]);
    }
}

/* 64 tokens of a pseudo-random sequence over 7 ids: each token once, ids
 * ascending across groups, indices ascending within one. */
static void every_token_once(void **state)
{
    (void)state;
    int32_t ids[64];
    unsigned s = 3;
    for (int i = 0; i < 64; i++) {
        s = s * 1103515245u + 12345u;
        ids[i] = (int32_t)((s >> 16) % 7u);
    }
    EmbeddingGroups g = groups();
    assert_int_equal(embedding_groups_build(&g, ids, 64), 0);
    int seen[64] = {0};
    assert_int_equal(g.start[0], 0);
    assert_int_equal(g.start[g.n_groups], 64);
    for (int k = 0; k < g.n_groups; k++) {
        if (k > 0) {
            assert_true(g.id[k] > g.id[k - 1]);
        }
        for (int t = g.start[k]; t < g.start[k + 1]; t++) {
            assert_int_equal(ids[g.order[t]], g.id[k]);
            if (t > g.start[k]) {
                assert_true(g.order[t] > g.order[t - 1]);
            }
            seen[g.order[t]]++;
        }
    }
    for (int i = 0; i < 64; i++) {
        assert_int_equal(seen[i], 1);
    }
}

static void bad_input(void **state)
{
    (void)state;
    const int32_t ids[] = {1, -1, 2};
    EmbeddingGroups g = groups();
    assert_int_equal(embedding_groups_build(&g, ids, 3), -1);
    assert_int_equal(embedding_groups_build(&g, ids, -2), -1);
    assert_int_equal(embedding_groups_build(&g, ids, 0), 0);
    assert_int_equal(g.n_groups, 0);
    assert_int_equal(g.start[0], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(groups_by_id_in_token_order),
        cmocka_unit_test(every_token_once),
        cmocka_unit_test(bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
