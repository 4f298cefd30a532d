/* Parity of every CUDA op with the CPU engine's op on random inputs:
 * max |gpu - cpu| <= 1e-4 x max |cpu| (value-scaled, llm.c style), fp32
 * with TF32 off. Without a GPU it prints "skipped: no GPU" and exits 77,
 * which ctest reports as skipped. One line per check ("gpu-op NAME ...")
 * for tests/gpu/run.sh's summary. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/params.h"
#include "engine/cuda/cuda_arena.h"
#include "engine/cuda/cuda_context.h"
#include "engine/cuda/cuda_device.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_optim.h"
#include "engine/ops/activation.h"
#include "engine/ops/cross_entropy.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linear.h"
#include "engine/ops/pool.h"
#include "engine/optim/optimizer.h"

#include "gpu_parity.h"

static void test_linear(void)
{
    const int n = 37, in_f = 129, out_f = 65;
    float *x = random_host((size_t)n * in_f, -1, 1), *w = random_host((size_t)out_f * in_f, -1, 1);
    float *b = random_host(out_f, -1, 1), *dout = random_host((size_t)n * out_f, -1, 1);
    float *din = random_host((size_t)n * in_f, -1, 1), *dw = random_host((size_t)out_f * in_f, -1, 1);
    float *db = random_host(out_f, -1, 1), *out = random_host((size_t)n * out_f, -1, 1);
    float *d_x = to_device(x, sizeof(float) * n * in_f), *d_w = to_device(w, sizeof(float) * out_f * in_f);
    float *d_b = to_device(b, sizeof(float) * out_f), *d_dout = to_device(dout, sizeof(float) * n * out_f);
    float *d_din = to_device(din, sizeof(float) * n * in_f), *d_dw = to_device(dw, sizeof(float) * out_f * in_f);
    float *d_db = to_device(db, sizeof(float) * out_f), *d_out = to_device(out, sizeof(float) * n * out_f);

    linear_forward(out, x, w, b, n, in_f, out_f);
    check_rc(thaw_cuda_linear_forward(ctx, d_out, d_x, d_w, d_b, n, in_f, out_f, &err), "linear fwd");
    compare("linear_forward(bias)", d_out, out, (size_t)n * out_f);
    linear_forward(out, x, w, NULL, n, in_f, out_f);
    check_rc(thaw_cuda_linear_forward(ctx, d_out, d_x, d_w, NULL, n, in_f, out_f, &err), "linear fwd");
    compare("linear_forward(no bias)", d_out, out, (size_t)n * out_f);

    linear_backward(din, dw, db, dout, x, w, n, in_f, out_f);
    check_rc(thaw_cuda_linear_backward(ctx, d_din, d_dw, d_db, d_dout, d_x, d_w, n, in_f,
                                       out_f, &err), "linear bwd");
    compare("linear_backward din (+=)", d_din, din, (size_t)n * in_f);
    compare("linear_backward dweight (+=)", d_dw, dw, (size_t)out_f * in_f);
    compare("linear_backward dbias (+=)", d_db, db, out_f);
    float *all[] = {x, w, b, dout, din, dw, db, out, d_x, d_w, d_b, d_dout, d_din, d_dw, d_db, d_out};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        i < 8 ? free(all[i]) : thaw_cuda_release(all[i]);
    }
}

/* n = 10007: the one-float kernels; n = 10240: the float4 ones. */
static void test_pointwise_flat(size_t n)
{
    const size_t bytes = n * sizeof(float);
    char name[96];
#define NAMED(what) (snprintf(name, sizeof name, "%s, n=%zu", what, n), name)
    float *x = random_host(n, -8, 8), *dout = random_host(n, -1, 1);
    float *din = random_host(n, -1, 1), *out = malloc(bytes), *din2 = copy_host(din, n);
    float *d_x = to_device(x, bytes), *d_dout = to_device(dout, bytes);
    float *d_out = to_device(x, bytes), *d_din = to_device(din, bytes);

    relu_forward(out, x, n);
    check_rc(thaw_cuda_relu_forward(ctx, d_out, d_x, n, &err), "relu fwd");
    compare(NAMED("relu_forward"), d_out, out, n);
    relu_backward(din, dout, out, n);
    check_rc(thaw_cuda_relu_backward(ctx, d_din, d_dout, d_out, n, &err), "relu bwd");
    compare(NAMED("relu_backward (+=)"), d_din, din, n);
    /* assign mode: din written, whatever it held (here NaN) */
    float *zeros = calloc(n, sizeof(float)), *nans = malloc(bytes);
    for (size_t i = 0; i < n; i++) {
        nans[i] = NAN;
    }
    float *d_nan = to_device(nans, bytes), *d_nan2 = to_device(nans, bytes);
    free(nans);
    relu_backward(zeros, dout, out, n);
    thaw_cuda_context_set_din_assign(ctx, 1);
    check_rc(thaw_cuda_relu_backward(ctx, d_nan, d_dout, d_out, n, &err), "relu bwd (=)");
    thaw_cuda_context_set_din_assign(ctx, 0);
    compare(NAMED("relu_backward (=, assign mode)"), d_nan, zeros, n);

    relu6_forward(out, x, n);
    check_rc(thaw_cuda_relu6_forward(ctx, d_out, d_x, n, &err), "relu6 fwd");
    compare(NAMED("relu6_forward"), d_out, out, n);
    relu6_backward(din, dout, out, n);
    check_rc(thaw_cuda_relu6_backward(ctx, d_din, d_dout, d_out, n, &err), "relu6 bwd");
    compare(NAMED("relu6_backward (+=)"), d_din, din, n);

    add_forward(out, x, dout, n);
    check_rc(thaw_cuda_add_forward(ctx, d_out, d_x, d_dout, n, THAW_CUDA_ACT_NONE, &err),
             "add fwd");
    compare(NAMED("add_forward"), d_out, out, n);
    /* fused: relu(a + b), relu6(a + b) */
    relu_forward(zeros, out, n);
    check_rc(thaw_cuda_add_forward(ctx, d_out, d_x, d_dout, n, THAW_CUDA_ACT_RELU, &err),
             "add+relu fwd");
    compare(NAMED("add_forward + relu"), d_out, zeros, n);
    relu6_forward(zeros, out, n);
    check_rc(thaw_cuda_add_forward(ctx, d_out, d_x, d_dout, n, THAW_CUDA_ACT_RELU6, &err),
             "add+relu6 fwd");
    compare(NAMED("add_forward + relu6"), d_out, zeros, n);
    memset(zeros, 0, bytes);
    float *d_din2 = to_device(din2, bytes);
    add_backward(din, din2, dout, n);
    check_rc(thaw_cuda_add_backward(ctx, d_din, d_din2, d_dout, n, &err), "add bwd");
    compare(NAMED("add_backward da (+=)"), d_din, din, n);
    compare(NAMED("add_backward db (+=)"), d_din2, din2, n);
    /* assign mode, both inputs: each written with dout */
    thaw_cuda_context_set_din_assign(ctx, 1);
    check_rc(thaw_cuda_add_backward(ctx, d_nan, d_nan2, d_dout, n, &err), "add bwd (=)");
    check_rc(thaw_cuda_add_backward(ctx, NULL, d_din, d_dout, n, &err), "add bwd db only (=)");
    thaw_cuda_context_set_din_assign(ctx, 0);
    compare(NAMED("add_backward da (=, assign mode)"), d_nan, dout, n);
    compare(NAMED("add_backward db (=, assign mode)"), d_nan2, dout, n);
    compare(NAMED("add_backward db only (=, assign mode)"), d_din, dout, n);
    /* x + x: both gradients are one buffer, so it gains 2 dout */
    for (size_t i = 0; i < n; i++) {
        din2[i] += 2.0f * dout[i];
    }
    check_rc(thaw_cuda_add_backward(ctx, d_din2, d_din2, d_dout, n, &err), "add bwd x+x");
    compare(NAMED("add_backward x + x (+=)"), d_din2, din2, n);
    /* fused relu6(a + b) backward: da (+)= relu6'(out) dout, x as the output */
    memset(zeros, 0, bytes);
    relu6_backward(zeros, dout, x, n);
    for (size_t i = 0; i < n; i++) {
        din2[i] += zeros[i];
    }
    check_rc(thaw_cuda_add_backward_gated(ctx, d_din2, NULL, d_dout, d_x, THAW_CUDA_ACT_RELU6,
                                          n, &err), "add bwd gated");
    compare(NAMED("add_backward after relu6 (+=, fused)"), d_din2, din2, n);
    memset(zeros, 0, bytes);
    relu_backward(zeros, dout, x, n);
    thaw_cuda_context_set_din_assign(ctx, 1);
    check_rc(thaw_cuda_add_backward_gated(ctx, d_nan, d_nan2, d_dout, d_x, THAW_CUDA_ACT_RELU,
                                          n, &err), "add bwd gated (=)");
    thaw_cuda_context_set_din_assign(ctx, 0);
    compare(NAMED("add_backward after relu da (=, fused)"), d_nan, zeros, n);
    compare(NAMED("add_backward after relu db (=, fused)"), d_nan2, zeros, n);
#undef NAMED

    float *hosts[] = {x, dout, din, out, din2, zeros};
    float *devs[] = {d_x, d_dout, d_out, d_din, d_din2, d_nan, d_nan2};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        free(hosts[i]);
    }
    for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) {
        thaw_cuda_release(devs[i]);
    }
}

static void test_pointwise(void)
{
    test_pointwise_flat(10007);
    test_pointwise_flat(10240);

    const int b = 3, h = 7, w = 5, c = 33;
    const size_t big = (size_t)b * h * w * c, small = (size_t)b * c;
    float *map = random_host(big, -2, 2), *pooled = malloc(small * sizeof(float));
    float *dpooled = random_host(small, -1, 1), *dmap = random_host(big, -1, 1);
    float *d_map = to_device(map, big * sizeof(float)), *d_pooled = to_device(dpooled, small * sizeof(float));
    float *d_dpooled = to_device(dpooled, small * sizeof(float)), *d_dmap = to_device(dmap, big * sizeof(float));
    adaptive_avgpool2d_forward(pooled, map, b, h, w, c, 1, 1);
    check_rc(thaw_cuda_global_avgpool_forward(ctx, d_pooled, d_map, b, h, w, c, &err), "pool fwd");
    compare("global_avgpool_forward", d_pooled, pooled, small);
    adaptive_avgpool2d_backward(dmap, dpooled, b, h, w, c, 1, 1);
    check_rc(thaw_cuda_global_avgpool_backward(ctx, d_dmap, d_dpooled, b, h, w, c, &err), "pool bwd");
    compare("global_avgpool_backward (+=)", d_dmap, dmap, big);

    float *hosts[] = {map, pooled, dpooled, dmap};
    float *devs[] = {d_map, d_pooled, d_dpooled, d_dmap};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        free(hosts[i]);
    }
    for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) {
        thaw_cuda_release(devs[i]);
    }
}

static void test_cross_entropy(void)
{
    const int n = 19, classes = 1000;
    const size_t total = (size_t)n * classes;
    const float smoothing = 0.1f, dloss = 0.7f;
    float *logits = random_host(total, -6, 6), *probs = malloc(total * sizeof(float));
    float *dlogits = random_host(total, -1, 1);
    int32_t labels[19];
    for (int i = 0; i < n; i++) {
        labels[i] = (int32_t)(uniform(0, 1) * classes) % classes;
    }
    float *d_logits = to_device(logits, total * sizeof(float));
    float *d_probs = to_device(logits, total * sizeof(float));
    float *d_dlogits = to_device(dlogits, total * sizeof(float));
    float *d_rows = to_device(logits, n * sizeof(float)), *d_loss = to_device(logits, sizeof(float));
    int32_t *d_labels = to_device(labels, sizeof labels);

    float loss = cross_entropy_forward(probs, logits, labels, n, classes, smoothing);
    check_rc(thaw_cuda_cross_entropy_forward(ctx, d_loss, d_probs, d_rows, d_logits, d_labels,
                                             n, classes, smoothing, &err), "ce fwd");
    compare("cross_entropy_forward loss", d_loss, &loss, 1);
    compare("cross_entropy_forward probs", d_probs, probs, total);
    cross_entropy_backward(dlogits, probs, labels, n, classes, smoothing, dloss);
    check_rc(thaw_cuda_cross_entropy_backward(ctx, d_dlogits, d_probs, d_labels, n, classes,
                                              smoothing, dloss, &err), "ce bwd");
    compare("cross_entropy_backward (+=)", d_dlogits, dlogits, total);
    free(logits);
    free(probs);
    free(dlogits);
    void *devs[] = {d_logits, d_probs, d_dlogits, d_rows, d_loss, d_labels};
    for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) {
        thaw_cuda_release(devs[i]);
    }
}

/* Three groups (two trainable with their own lr/wd, one frozen), a buffer,
 * three steps with fresh gradients: every weight must match the CPU
 * optimizer, and frozen weights must not move at all. */
static void test_optimizer(OptimizerKind kind, float momentum, int nesterov,
                           const char *name)
{
    ParamTable t;
    params_init(&t);
    int ga = params_group(&t, "a"), gb = params_group(&t, "b"), gc = params_group(&t, "c");
    t.groups[ga].lr = 0.1f;
    t.groups[ga].weight_decay = 0.01f;
    t.groups[gb].lr = 0.05f;
    t.groups[gc].lr = 0.2f;
    t.groups[gc].weight_decay = 0.1f;
    params_add(&t, "a.weight", PARAM_WEIGHT, ga, 2, (int64_t[]){17, 9});
    params_add(&t, "a.bias", PARAM_WEIGHT, ga, 1, (int64_t[]){17});
    params_add(&t, "bn.running_mean", PARAM_BUFFER, gb, 1, (int64_t[]){5});
    params_add(&t, "b.weight", PARAM_WEIGHT, gb, 1, (int64_t[]){300});
    params_add(&t, "c.weight", PARAM_WEIGHT, gc, 1, (int64_t[]){50});
    check_rc(params_allocate(&t, &err), "params_allocate");
    params_set_group_frozen(&t, gc, 1);
    for (size_t i = 0; i < t.n_weights; i++) {
        t.weights[i] = uniform(-1, 1);
    }
    float *start = copy_host(t.weights, t.n_weights);

    Optimizer cpu;
    ThawCudaOptimizer gpu;
    ThawCudaArena arena;
    check_rc(optimizer_init(&cpu, kind, &t, &err), "optimizer_init");
    check_rc(thaw_cuda_optimizer_init(ctx, &gpu, kind, &t, &err), "cuda optimizer init");
    cpu.momentum = gpu.momentum = momentum;
    cpu.nesterov = gpu.nesterov = nesterov;
    check_rc(thaw_cuda_arena_init(ctx, &arena, &t, &err), "arena init");
    check_rc(thaw_cuda_arena_upload(ctx, &arena, &t, &err), "arena upload");
    for (int step = 0; step < 3; step++) {
        for (size_t i = 0; i < t.n_weights; i++) {
            t.grads[i] = uniform(-1, 1);
        }
        check_rc(thaw_cuda_upload(ctx, arena.grads, t.grads, t.n_weights * sizeof(float), &err),
                 "grads upload");
        optimizer_step(&cpu, &t);
        check_rc(thaw_cuda_optimizer_step(ctx, &gpu, &arena, &t, &err), "cuda optimizer step");
    }
    char label[64];
    snprintf(label, sizeof label, "%s 3 steps weights", name);
    compare(label, arena.weights, t.weights, t.n_weights);

    float *got = from_device(arena.weights, t.n_weights);
    int c_index = params_find(&t, "c.weight");
    size_t off = t.items[c_index].offset;
    int frozen_ok = memcmp(got + off, start + off, 50 * sizeof(float)) == 0;
    printf("gpu-op %-30s %s\n", "frozen group untouched", frozen_ok ? "PASS" : "FAIL");
    failures += !frozen_ok;

    free(got);
    free(start);
    thaw_cuda_arena_free(&arena);
    thaw_cuda_optimizer_free(&gpu);
    optimizer_free(&cpu);
    params_free(&t);
}

int main(void)
{
    gpu_start(0);
    test_linear();
    test_pointwise();
    test_cross_entropy();
    test_optimizer(OPT_SGD, 0.0f, 0, "sgd");
    test_optimizer(OPT_SGD, 0.9f, 1, "sgd momentum nesterov");
    test_optimizer(OPT_ADAMW, 0.0f, 0, "adamw");
    return gpu_finish();
}
