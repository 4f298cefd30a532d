/* Multi-head attention as the GPU runs it, on the CPU: the strided-batched
 * GEMM descriptions of engine/cuda/cuda_attention_gemms.h through a plain
 * column-major GEMM (what cuBLAS computes), and the warp-per-row kernels'
 * lanes (cuda_warp_rows.h via host_warp_rows.h) over every row of their
 * launches, against the CPU op
 * (engine/ops/attention.c): probabilities with a key mask (one sequence all
 * padding), context, and the backward with a dropout mask, += and assign
 * (beta 0). A wrong transpose, leading dimension or stride fails it;
 * tests/gpu/test_gpu_text_ops runs the real thing on a GPU. */
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

#include "engine/ops/attention.h"
}

#include "tests/gpu/host_check.h"
#include "engine/cuda/cuda_attention_gemms.h"
#include "tests/gpu/host_warp_rows.h"

/* cublasSgemmStridedBatched's arithmetic: column-major, element (i, j) of
 * X with leading dimension ld at X[i + j * ld]. */
static void run_gemm(const ThawStridedGemm &g)
{
    /* cuBLAS's argument rules: what it would refuse fails here too */
    assert_true(g.m >= 0 && g.n >= 0 && g.k >= 0 && g.count >= 1);
    assert_true(g.lda >= (g.trans_a ? g.k : g.m) && g.lda >= 1);
    assert_true(g.ldb >= (g.trans_b ? g.n : g.k) && g.ldb >= 1);
    assert_true(g.ldc >= g.m && g.ldc >= 1);
    for (int h = 0; h < g.count; h++) {
        const float *a = g.a + h * g.stride_a, *b = g.b + h * g.stride_b;
        float *c = g.c + h * g.stride_c;
        for (int j = 0; j < g.n; j++) {
            for (int i = 0; i < g.m; i++) {
                double acc = 0.0;
                for (int l = 0; l < g.k; l++) {
                    double av = g.trans_a ? a[l + (size_t)i * g.lda] : a[i + (size_t)l * g.lda];
                    double bv = g.trans_b ? b[j + (size_t)l * g.ldb] : b[l + (size_t)j * g.ldb];
                    acc += av * bv;
                }
                float *dst = c + i + (size_t)j * g.ldc;
                *dst = (float)(g.alpha * acc + (g.beta != 0.0f ? g.beta * *dst : 0.0));
            }
        }
    }
}

/* n NaNs: an output a description forgets to write stays NaN and fails. */
static float *nan_floats(size_t n)
{
    float *p = host_alloc_floats(n);
    for (size_t i = 0; i < n; i++) {
        p[i] = NAN;
    }
    return p;
}

static void attention_case(int batch, int seq, int channels, int heads)
{
    printf("attention batch %d, seq %d, channels %d, heads %d\n", batch, seq, channels, heads);
    const ThawAttnShape s = {batch, seq, channels, heads};
    const int launches = thaw_attn_launches(&s);
    const size_t btc = (size_t)batch * seq * channels, tt = (size_t)batch * heads * seq * seq;
    const float scale = 1.0f / sqrtf((float)(channels / heads));
    unsigned seed = 5;
    float *q = host_random_floats(btc, &seed, -2, 2), *k = host_random_floats(btc, &seed, -2, 2);
    float *v = host_random_floats(btc, &seed, -1, 1), *dout = host_random_floats(btc, &seed, -1, 1);
    int32_t *mask = (int32_t *)malloc((size_t)batch * seq * sizeof *mask);
    for (int i = 0; i < batch * seq; i++) {
        int b = i / seq, t = i % seq;
        mask[i] = b == batch - 1 && batch > 1 ? 0 : t < seq - b;   /* last: all padding */
    }
    float *drop = host_random_floats(tt, &seed, 0, 1);
    for (size_t i = 0; i < tt; i++) {
        drop[i] = drop[i] < 0.1f ? 0.0f : 1.0f / 0.9f;
    }
    /* CPU op */
    float *probs = host_alloc_floats(tt), *used = host_alloc_floats(tt);
    float *out = host_alloc_floats(btc);
    attention_probs_forward(probs, q, k, mask, batch, seq, channels, heads);
    for (size_t i = 0; i < tt; i++) {
        used[i] = probs[i] * drop[i];
    }
    attention_context_forward(out, used, v, batch, seq, channels, heads);
    float *dq = host_random_floats(btc, &seed, -1, 1), *dk = host_random_floats(btc, &seed, -1, 1);
    float *dv = host_random_floats(btc, &seed, -1, 1);
    float *gq = host_copy_floats(dq, btc), *gk = host_copy_floats(dk, btc);
    float *gv = host_copy_floats(dv, btc);
    float *ws = host_alloc_floats(attention_workspace_floats(seq));
    attention_backward(dq, dk, dv, dout, q, k, v, probs, used, drop, ws, batch, seq, channels,
                       heads);
    /* the GPU's descriptions and bodies */
    float *gprobs = nan_floats(tt), *gout = nan_floats(btc);
    for (int i = 0; i < launches; i++) {
        run_gemm(thaw_attn_scores(&s, gprobs, q, k, scale, i));
    }
    for (long r = 0; r < (long)batch * heads * seq; r++) {
        const int32_t *mk = mask ? mask + (r / ((long)heads * seq)) * seq : NULL;
        host_softmax_row(gprobs + r * seq, gprobs + r * seq, mk, seq);
    }
    host_assert_close("probs (masked, one sequence all padding)", gprobs, probs, tt, 1e-5);
    for (int i = 0; i < launches; i++) {
        run_gemm(thaw_attn_context(&s, gout, used, v, i));
    }
    host_assert_close("context", gout, out, btc, 1e-5);
    float *ds = nan_floats(tt);
    for (int pass = 0; pass < 2; pass++) {   /* 0: +=, 1: assign (beta 0) */
        const float beta = pass ? 0.0f : 1.0f;
        float *aq = pass ? nan_floats(btc) : gq;
        float *ak = pass ? nan_floats(btc) : gk;
        float *av = pass ? nan_floats(btc) : gv;
        for (int i = 0; i < launches; i++) {
            run_gemm(thaw_attn_dv(&s, av, used, dout, beta, i));
            run_gemm(thaw_attn_ds(&s, ds, dout, v, i));
        }
        for (long r = 0; r < (long)batch * heads * seq; r++) {
            host_softmax_din_row(ds + r * seq, ds + r * seq, probs + r * seq,
                                 drop ? drop + r * seq : NULL, seq, 1);
        }
        for (int i = 0; i < launches; i++) {
            run_gemm(thaw_attn_dq(&s, aq, ds, k, scale, beta, i));
            run_gemm(thaw_attn_dk(&s, ak, ds, q, scale, beta, i));
        }
        if (pass == 0) {
            host_assert_close("dq (+=)", aq, dq, btc, 1e-5);
            host_assert_close("dk (+=)", ak, dk, btc, 1e-5);
            host_assert_close("dv (+=)", av, dv, btc, 1e-5);
        } else {
            float *oq = host_alloc_floats(btc), *ok = host_alloc_floats(btc);
            float *ov = host_alloc_floats(btc);
            memset(oq, 0, btc * 4);
            memset(ok, 0, btc * 4);
            memset(ov, 0, btc * 4);
            attention_backward(oq, ok, ov, dout, q, k, v, probs, used, drop, ws, batch, seq,
                               channels, heads);
            host_assert_close("dq (=, beta 0)", aq, oq, btc, 1e-5);
            host_assert_close("dk (=, beta 0)", ak, ok, btc, 1e-5);
            host_assert_close("dv (=, beta 0)", av, ov, btc, 1e-5);
            void *mine[] = {aq, ak, av, oq, ok, ov};
            for (size_t i = 0; i < sizeof mine / sizeof *mine; i++) {
                free(mine[i]);
            }
        }
    }
    void *all[] = {q, k, v, dout, mask, drop, probs, used, out, dq, dk, dv, gq, gk, gv, ws,
                   gprobs, gout, ds};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        free(all[i]);
    }
}

static void attention_on_the_cpu(void **state)
{
    (void)state;
    attention_case(3, 9, 24, 4);     /* odd sequence, D = 6, one padded batch */
    attention_case(2, 16, 32, 2);    /* D = 16 */
    attention_case(1, 5, 12, 3);     /* one sequence (no all-padding row) */
    attention_case(5, 7, 12, 2);     /* more sequences than heads: a launch per head */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attention_on_the_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
