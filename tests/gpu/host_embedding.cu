/* The embedding kernels' bodies (engine/cuda/cuda_embedding_body.h) run on
 * the CPU over every index their launches cover, against the CPU op
 * (engine/ops/embedding.c): gather, gather-add, and the scatter-add over
 * token groups (engine/ops/embedding_groups.h) onto a table that already
 * holds gradients. They add in the CPU op's order, so the test asks for the
 * same bits (tolerance 0); a group walked out of token order, or a wrong
 * row, fails it. tests/gpu/test_gpu_text_ops runs the kernels on a GPU. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include <cmocka.h>

#include "engine/ops/embedding.h"
#include "engine/ops/embedding_groups.h"
}

#include "tests/gpu/host_check.h"
#include "engine/cuda/cuda_embedding_body.h"

static void embedding_case(int n, int vocab, int dim)
{
    printf("embedding %d tokens, vocabulary %d, dim %d\n", n, vocab, dim);
    unsigned seed = 11;
    int32_t *ids = (int32_t *)malloc((size_t)n * sizeof *ids);
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        ids[i] = (int32_t)((seed >> 8) % (unsigned)vocab);
    }
    const size_t nd = (size_t)n * dim, vd = (size_t)vocab * dim;
    float *table = host_random_floats(vd, &seed, -1, 1);
    float *out0 = host_random_floats(nd, &seed, -1, 1);
    float *ref = host_copy_floats(out0, nd), *got = host_copy_floats(out0, nd);
    embedding_forward_add(ref, ids, table, n, dim);
    for (size_t e = 0; e < nd; e++) {
        thaw_embedding_forward_at(got, ids, table, dim, 1, e);
    }
    host_assert_close("forward (+=)", got, ref, nd, 0.0);
    embedding_forward(ref, ids, table, n, dim);
    for (size_t e = 0; e < nd; e++) {
        got[e] = NAN;
        thaw_embedding_forward_at(got, ids, table, dim, 0, e);
    }
    host_assert_close("forward", got, ref, nd, 0.0);

    /* dout with a wide range, so a different addition order shows */
    float *dy = host_random_floats(nd, &seed, -1, 1);
    for (size_t e = 0; e < nd; e += 3) {
        dy[e] *= 1e4f;
    }
    float *dref = host_random_floats(vd, &seed, -1, 1), *dgot = host_copy_floats(dref, vd);
    embedding_backward(dref, dy, ids, n, dim);
    EmbeddingGroups g = {0, (int32_t *)malloc((size_t)n * 4), (int32_t *)malloc((size_t)(n + 1) * 4),
                         (int32_t *)malloc((size_t)n * 4)};
    assert_int_equal(embedding_groups_build(&g, ids, n), 0);
    const size_t total = (size_t)g.n_groups * dim;
    for (size_t e = 0; e < total; e++) {
        thaw_embedding_backward_at(dgot, dy, g.id, g.start, g.order, dim, e);
    }
    char what[64];
    snprintf(what, sizeof what, "backward (+=), %d groups", g.n_groups);
    host_assert_close(what, dgot, dref, vd, 0.0);
    void *all[] = {ids, table, out0, ref, got, dy, dref, dgot, g.id, g.start, g.order};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        free(all[i]);
    }
}

static void embedding_bodies(void **state)
{
    (void)state;
    embedding_case(300, 50, 37);      /* many repeats, odd width */
    embedding_case(512, 30522, 64);   /* a word table: mostly single tokens */
    embedding_case(256, 2, 16);       /* token types: two long groups */
    embedding_case(1, 1, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(embedding_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
