/* The text ops' CUDA twins (GELU, layer norm, row softmax; issue 5) against
 * the CPU ops on random inputs: max |gpu - cpu| <= 1e-4 x max |cpu|, the
 * backwards both += and in assign mode; attention's phases (masked
 * probabilities, context, backward with a dropout mask); the embedding gather and its
 * grouped scatter-add (the CPU's bits, compared bit for bit). Prints "skipped: no GPU" and exits
 * 77 without a device. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/cuda_context.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/ops/attention.h"
#include "engine/ops/embedding.h"
#include "engine/ops/embedding_groups.h"
#include "engine/ops/gelu.h"
#include "engine/ops/layernorm.h"
#include "gpu_parity.h"

/* NaN everywhere on the device: an assigning backward must write it all. */
static float *device_nans(size_t n)
{
    float *h = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        h[i] = NAN;
    }
    float *d = to_device(h, n * sizeof(float));
    free(h);
    return d;
}

static void test_gelu(size_t n)
{
    char name[64];
    float *x = random_host(n, -9, 9), *dy = random_host(n, -1, 1), *din = random_host(n, -1, 1);
    float *y = malloc(n * sizeof(float)), *only = calloc(n, sizeof(float));
    float *d_x = to_device(x, n * sizeof(float)), *d_dy = to_device(dy, n * sizeof(float));
    float *d_y = to_device(x, n * sizeof(float)), *d_din = to_device(din, n * sizeof(float));
    float *d_nan = device_nans(n);
    gelu_forward(y, x, n);
    check_rc(thaw_cuda_gelu_forward(ctx, d_y, d_x, n, &err), "gelu fwd");
    snprintf(name, sizeof name, "gelu forward, n=%zu", n);
    compare(name, d_y, y, n);
    gelu_backward(din, dy, x, n);
    check_rc(thaw_cuda_gelu_backward(ctx, d_din, d_dy, d_x, n, &err), "gelu bwd");
    snprintf(name, sizeof name, "gelu backward (+=), n=%zu", n);
    compare(name, d_din, din, n);
    gelu_backward(only, dy, x, n);
    thaw_cuda_context_set_din_assign(ctx, 1);
    check_rc(thaw_cuda_gelu_backward(ctx, d_nan, d_dy, d_x, n, &err), "gelu bwd (=)");
    thaw_cuda_context_set_din_assign(ctx, 0);
    snprintf(name, sizeof name, "gelu backward (=, assign), n=%zu", n);
    compare(name, d_nan, only, n);
    float *hosts[] = {x, dy, din, y, only};
    float *devs[] = {d_x, d_dy, d_y, d_din, d_nan};
    for (size_t i = 0; i < 5; i++) {
        free(hosts[i]);
        thaw_cuda_release(devs[i]);
    }
}

static void test_layernorm(int rows, int c)
{
    char name[80];
    const size_t n = (size_t)rows * c;
    const float eps = 1e-12f;
    float *x = random_host(n, -2, 3), *g = random_host(c, 0.5f, 1.5f), *b = random_host(c, -1, 1);
    float *dy = random_host(n, -1, 1), *din = random_host(n, -1, 1);
    float *dg = random_host(c, -1, 1), *db = random_host(c, -1, 1);
    float *y = malloc(n * sizeof(float)), *mean = malloc(rows * sizeof(float));
    float *rstd = malloc(rows * sizeof(float)), *only = calloc(n, sizeof(float));
    float *d_x = to_device(x, n * 4), *d_g = to_device(g, c * 4), *d_b = to_device(b, c * 4);
    float *d_dy = to_device(dy, n * 4), *d_din = to_device(din, n * 4);
    float *d_dg = to_device(dg, c * 4), *d_db = to_device(db, c * 4);
    float *d_y = to_device(x, n * 4), *d_mean = to_device(x, rows * 4);
    float *d_rstd = to_device(x, rows * 4), *d_nan = device_nans(n);
#define LN_NAME(what) (snprintf(name, sizeof name, "layernorm %dx%d %s", rows, c, what), name)
    layernorm_forward(y, mean, rstd, x, g, b, rows, c, eps);
    check_rc(thaw_cuda_layernorm_forward(ctx, d_y, d_mean, d_rstd, d_x, d_g, d_b, rows, c, eps,
                                         &err), "layernorm fwd");
    compare(LN_NAME("forward"), d_y, y, n);
    compare(LN_NAME("mean"), d_mean, mean, rows);
    compare(LN_NAME("rstd"), d_rstd, rstd, rows);
    layernorm_backward(din, dg, db, dy, x, mean, rstd, g, rows, c);
    check_rc(thaw_cuda_layernorm_backward(ctx, d_din, d_dg, d_db, d_dy, d_x, d_mean, d_rstd,
                                          d_g, rows, c, &err), "layernorm bwd");
    compare(LN_NAME("din (+=)"), d_din, din, n);
    compare(LN_NAME("dgamma (+=)"), d_dg, dg, c);
    compare(LN_NAME("dbeta (+=)"), d_db, db, c);
    layernorm_backward(only, NULL, NULL, dy, x, mean, rstd, g, rows, c);
    thaw_cuda_context_set_din_assign(ctx, 1);
    check_rc(thaw_cuda_layernorm_backward(ctx, d_nan, NULL, NULL, d_dy, d_x, d_mean, d_rstd,
                                          d_g, rows, c, &err), "layernorm bwd (=)");
    thaw_cuda_context_set_din_assign(ctx, 0);
    compare(LN_NAME("din only (=, assign)"), d_nan, only, n);
#undef LN_NAME
    float *hosts[] = {x, g, b, dy, din, dg, db, y, mean, rstd, only};
    float *devs[] = {d_x, d_g, d_b, d_dy, d_din, d_dg, d_db, d_y, d_mean, d_rstd, d_nan};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        free(hosts[i]);
        thaw_cuda_release(devs[i]);
    }
}

static void test_softmax(int rows, int cols)
{
    char name[80];
    const size_t n = (size_t)rows * cols;
    float *x = random_host(n, -20, 20), *dy = random_host(n, -1, 1), *din = random_host(n, -1, 1);
    float *y = malloc(n * sizeof(float)), *only = calloc(n, sizeof(float));
    float *d_y = to_device(x, n * 4), *d_dy = to_device(dy, n * 4);
    float *d_din = to_device(din, n * 4), *d_nan = device_nans(n);
    softmax_rows_forward(y, x, rows, cols);
    check_rc(thaw_cuda_softmax_rows_forward(ctx, d_y, d_y, rows, cols, &err), "softmax fwd");
    snprintf(name, sizeof name, "softmax %dx%d forward (in place)", rows, cols);
    compare(name, d_y, y, n);
    softmax_rows_backward(din, dy, y, rows, cols);
    check_rc(thaw_cuda_softmax_rows_backward(ctx, d_din, d_dy, d_y, rows, cols, &err),
             "softmax bwd");
    snprintf(name, sizeof name, "softmax %dx%d backward (+=)", rows, cols);
    compare(name, d_din, din, n);
    softmax_rows_backward(only, dy, y, rows, cols);
    thaw_cuda_context_set_din_assign(ctx, 1);
    check_rc(thaw_cuda_softmax_rows_backward(ctx, d_nan, d_dy, d_y, rows, cols, &err),
             "softmax bwd (=)");
    thaw_cuda_context_set_din_assign(ctx, 0);
    snprintf(name, sizeof name, "softmax %dx%d backward (=, assign)", rows, cols);
    compare(name, d_nan, only, n);
    float *hosts[] = {x, dy, din, y, only};
    float *devs[] = {d_y, d_dy, d_din, d_nan};
    for (size_t i = 0; i < 5; i++) {
        free(hosts[i]);
    }
    for (size_t i = 0; i < 4; i++) {
        thaw_cuda_release(devs[i]);
    }
}

/* Attention's phases with a key mask (the last sequence all padding) and
 * a dropout mask: probabilities, context, backward += and assign. */
static void test_attention(int batch, int seq, int channels, int heads)
{
    char name[96];
    const size_t btc = (size_t)batch * seq * channels, tt = (size_t)batch * heads * seq * seq;
    float *q = random_host(btc, -2, 2), *k = random_host(btc, -2, 2), *v = random_host(btc, -1, 1);
    float *dout = random_host(btc, -1, 1), *drop = random_host(tt, 0, 1);
    float *dq = random_host(btc, -1, 1), *dk = random_host(btc, -1, 1), *dv = random_host(btc, -1, 1);
    int32_t *mask = malloc((size_t)batch * seq * sizeof *mask);
    for (int i = 0; i < batch * seq; i++) {
        int b = i / seq, t = i % seq;
        mask[i] = b == batch - 1 && batch > 1 ? 0 : t < seq - b;
    }
    for (size_t i = 0; i < tt; i++) {
        drop[i] = drop[i] < 0.1f ? 0.0f : 1.0f / 0.9f;
    }
    float *probs = malloc(tt * 4), *used = malloc(tt * 4), *out = malloc(btc * 4);
    float *ws = malloc(attention_workspace_floats(seq) * 4);
    attention_probs_forward(probs, q, k, mask, batch, seq, channels, heads);
    for (size_t i = 0; i < tt; i++) {
        used[i] = probs[i] * drop[i];
    }
    attention_context_forward(out, used, v, batch, seq, channels, heads);
    float *d_q = to_device(q, btc * 4), *d_k = to_device(k, btc * 4), *d_v = to_device(v, btc * 4);
    float *d_dout = to_device(dout, btc * 4), *d_drop = to_device(drop, tt * 4);
    float *d_used = to_device(used, tt * 4), *d_probs = device_nans(tt);
    float *d_out = device_nans(btc);
    int32_t *d_mask = to_device(mask, (size_t)batch * seq * sizeof *mask);
    float *d_dq = to_device(dq, btc * 4), *d_dk = to_device(dk, btc * 4);
    float *d_dv = to_device(dv, btc * 4);
    check_rc(thaw_cuda_attention_probs_forward(ctx, d_probs, d_q, d_k, d_mask, batch, seq,
                                               channels, heads, &err), "attention probs");
    snprintf(name, sizeof name, "attention %dx%dx%d/%d probs (masked)", batch, seq, channels,
             heads);
    compare(name, d_probs, probs, tt);
    check_rc(thaw_cuda_attention_context_forward(ctx, d_out, d_used, d_v, batch, seq, channels,
                                                 heads, &err), "attention context");
    snprintf(name, sizeof name, "attention %dx%dx%d/%d context", batch, seq, channels, heads);
    compare(name, d_out, out, btc);
    attention_backward(dq, dk, dv, dout, q, k, v, probs, used, drop, ws, batch, seq, channels,
                       heads);
    check_rc(thaw_cuda_attention_backward(ctx, d_dq, d_dk, d_dv, d_dout, d_q, d_k, d_v, d_probs,
                                          d_used, d_drop, batch, seq, channels, heads, &err),
             "attention backward");
    const char *which[] = {"dq", "dk", "dv"};
    float *devs3[] = {d_dq, d_dk, d_dv}, *refs3[] = {dq, dk, dv};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "attention %dx%dx%d/%d %s (+=)", batch, seq, channels, heads,
                 which[i]);
        compare(name, devs3[i], refs3[i], btc);
    }
    /* assign: NaN in, the gradient alone out */
    float *nq = device_nans(btc), *nk = device_nans(btc), *nv = device_nans(btc);
    memset(dq, 0, btc * 4);
    memset(dk, 0, btc * 4);
    memset(dv, 0, btc * 4);
    attention_backward(dq, dk, dv, dout, q, k, v, probs, used, drop, ws, batch, seq, channels,
                       heads);
    thaw_cuda_context_set_din_assign(ctx, 1);
    check_rc(thaw_cuda_attention_backward(ctx, nq, nk, nv, d_dout, d_q, d_k, d_v, d_probs,
                                          d_used, d_drop, batch, seq, channels, heads, &err),
             "attention backward (=)");
    thaw_cuda_context_set_din_assign(ctx, 0);
    float *nans3[] = {nq, nk, nv};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "attention %dx%dx%d/%d %s (=, assign)", batch, seq, channels,
                 heads, which[i]);
        compare(name, nans3[i], refs3[i], btc);
    }
    void *devs[] = {d_q, d_k, d_v, d_dout, d_drop, d_used, d_probs, d_out, d_mask, d_dq, d_dk,
                    d_dv, nq, nk, nv};
    for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) {
        thaw_cuda_release(devs[i]);
    }
    void *hosts[] = {q, k, v, dout, drop, dq, dk, dv, mask, probs, used, out, ws};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        free(hosts[i]);
    }
}

/* No key mask, no dropout, and backwards that skip gradients: dv alone,
 * then dq and dk alone (the others NULL). */
static void test_attention_nulls(int batch, int seq, int channels, int heads)
{
    char name[96];
    const size_t btc = (size_t)batch * seq * channels, tt = (size_t)batch * heads * seq * seq;
    float *q = random_host(btc, -2, 2), *k = random_host(btc, -2, 2), *v = random_host(btc, -1, 1);
    float *dout = random_host(btc, -1, 1), *zero = calloc(btc, 4);
    float *dq = calloc(btc, 4), *dk = calloc(btc, 4), *dv = calloc(btc, 4);
    float *probs = malloc(tt * 4), *ws = malloc(attention_workspace_floats(seq) * 4);
    attention_probs_forward(probs, q, k, NULL, batch, seq, channels, heads);
    attention_backward(dq, dk, dv, dout, q, k, v, probs, probs, NULL, ws, batch, seq, channels,
                       heads);
    float *d_q = to_device(q, btc * 4), *d_k = to_device(k, btc * 4), *d_v = to_device(v, btc * 4);
    float *d_dout = to_device(dout, btc * 4), *d_probs = device_nans(tt);
    float *d_dq = to_device(zero, btc * 4), *d_dk = to_device(zero, btc * 4);
    float *d_dv = to_device(zero, btc * 4);
    check_rc(thaw_cuda_attention_probs_forward(ctx, d_probs, d_q, d_k, NULL, batch, seq,
                                               channels, heads, &err), "attention probs, no mask");
    snprintf(name, sizeof name, "attention %dx%dx%d/%d probs (no mask)", batch, seq, channels,
             heads);
    compare(name, d_probs, probs, tt);
    check_rc(thaw_cuda_attention_backward(ctx, NULL, NULL, d_dv, d_dout, d_q, d_k, d_v, d_probs,
                                          d_probs, NULL, batch, seq, channels, heads, &err),
             "attention backward, dv only");
    check_rc(thaw_cuda_attention_backward(ctx, d_dq, d_dk, NULL, d_dout, d_q, d_k, d_v, d_probs,
                                          d_probs, NULL, batch, seq, channels, heads, &err),
             "attention backward, dq and dk only");
    const char *which[] = {"dq", "dk", "dv"};
    float *devs3[] = {d_dq, d_dk, d_dv}, *refs3[] = {dq, dk, dv};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "attention %dx%dx%d/%d %s (split, no dropout)", batch, seq,
                 channels, heads, which[i]);
        compare(name, devs3[i], refs3[i], btc);
    }
    void *devs[] = {d_q, d_k, d_v, d_dout, d_probs, d_dq, d_dk, d_dv};
    for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) {
        thaw_cuda_release(devs[i]);
    }
    void *hosts[] = {q, k, v, dout, zero, dq, dk, dv, probs, ws};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        free(hosts[i]);
    }
}

/* n tokens over a vocabulary of vocab rows (ids repeat: vocab < n), dim
 * columns: gather, gather-add, and the grouped backward onto a table that
 * already holds gradients. */
static void test_embedding(int n, int vocab, int dim)
{
    char name[80];
    const size_t nd = (size_t)n * dim, vd = (size_t)vocab * dim;
    int32_t *ids = malloc(n * sizeof *ids);
    unsigned seed = 17;
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        ids[i] = (int32_t)((seed >> 8) % (unsigned)vocab);
    }
    float *table = random_host(vd, -1, 1), *dtable = random_host(vd, -1, 1);
    float *dy = random_host(nd, -1, 1), *out = random_host(nd, -1, 1);
    for (size_t e = 0; e < nd; e += 3) {
        dy[e] *= 1e4f;   /* a wide range: another summation order shows */
    }
    float *d_table = to_device(table, vd * 4), *d_dtable = to_device(dtable, vd * 4);
    float *d_dy = to_device(dy, nd * 4), *d_out = to_device(out, nd * 4);
    int32_t *d_ids = to_device(ids, n * sizeof *ids);
    embedding_forward_add(out, ids, table, n, dim);
    check_rc(thaw_cuda_embedding_forward(ctx, d_out, d_ids, d_table, n, dim, 1,
                                         &err), "embedding fwd add");
    snprintf(name, sizeof name, "embedding %d tokens x %d forward (+=)", n, dim);
    compare_bits(name, d_out, out, nd);
    embedding_forward(out, ids, table, n, dim);
    check_rc(thaw_cuda_embedding_forward(ctx, d_out, d_ids, d_table, n, dim, 0, &err),
             "embedding fwd");
    snprintf(name, sizeof name, "embedding %d tokens x %d forward", n, dim);
    compare_bits(name, d_out, out, nd);
    EmbeddingGroups g = {0, malloc(n * 4), malloc((n + 1) * 4), malloc(n * 4)};
    check_rc(embedding_groups_build(&g, ids, n), "embedding groups");
    ThawCudaEmbeddingGroups dg = {g.n_groups, to_device(g.id, n * 4),
                                  to_device(g.start, (n + 1) * 4), to_device(g.order, n * 4)};
    embedding_backward(dtable, dy, ids, n, dim);
    check_rc(thaw_cuda_embedding_backward(ctx, d_dtable, d_dy, &dg, dim, &err), "embedding bwd");
    snprintf(name, sizeof name, "embedding %d groups x %d backward (+=)", g.n_groups, dim);
    compare_bits(name, d_dtable, dtable, vd);
    void *devs[] = {d_table, d_dtable, d_dy, d_out, d_ids, (void *)dg.id, (void *)dg.start,
                    (void *)dg.order};
    for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) {
        thaw_cuda_release(devs[i]);
    }
    void *hosts[] = {ids, table, dtable, dy, out, g.id, g.start, g.order};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        free(hosts[i]);
    }
}

int main(void)
{
    gpu_start(0);
    test_gelu(10007);
    test_gelu((size_t)16 * 128 * 1536);   /* MiniLM's intermediate at batch 16 */
    test_layernorm(33, 384);
    test_layernorm(16 * 128, 384);
    test_layernorm(9000, 12);
    test_softmax(37, 128);
    test_softmax(16 * 12 * 128, 128);     /* batch 16, 12 heads, 128 tokens */
    test_attention(3, 9, 24, 4);
    test_attention(16, 128, 384, 12);     /* MiniLM at batch 16, 128 tokens */
    test_attention_nulls(2, 17, 48, 4);
    test_embedding(300, 50, 37);
    test_embedding(16 * 128, 30522, 384); /* MiniLM's word table at batch 16 */
    test_embedding(16 * 128, 2, 384);     /* token types: two long groups */
    return gpu_finish();
}
