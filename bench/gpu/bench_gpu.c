/* Training throughput of thaw's GPU executor (engine/cuda/cuda_graph.h), one
 * configuration per process. bench/gpu/run.sh runs the matrix (ResNet-50 and
 * EfficientNet-Lite0, batch 64 and 128, 224x224, fp32 and TF32) beside
 * bench_gpu_torch.py.
 *
 * usage: bench_gpu [--arch resnet50|efficientnet_lite0|...] [--batch N]
 *                  [--size S] [--tf32 | --bf16] [--iters N] [--warmup N] [--device N]
 *                  [--heuristic] [--cudnn-1x1] [--gemm-1x1] [--cudnn-bn]
 *                  [--cudnn-depthwise] [--no-fuse]
 *                  [--no-assign] [--serial] [--workspace-mib N] [--profile FILE]
 * --bf16: bf16 mixed precision (thaw_cuda_context_set_bf16: bf16
 * activations and matrix operands, fp32 master weights and optimizer), the
 * counterpart of bench_gpu_torch.py --bf16 (torch.autocast).
 * --heuristic: cuDNN's heuristics pick the convolution algorithms (no
 * timing); default: benchmark mode (timed on first use, as PyTorch's
 * cudnn.benchmark and `thaw train --device cuda`). 1x1 convolutions: by
 * default each shape times cuBLAS matrix products against cuDNN on first
 * use and each direction takes the faster (THAW_CUDA_1X1_TIMED; the JSON
 * line says how many of the shapes' forward / backward data / backward
 * filter passes chose GEMMs); --cudnn-1x1: all through cuDNN; --gemm-1x1:
 * all as GEMMs, untimed.
 * --cudnn-bn: train-mode batch norm on cuDNN's NHWC kernels (not with a
 * fused activation; the JSON line counts the passes cuDNN took).
 * --cudnn-depthwise: depthwise convolutions through cuDNN instead of
 * thaw's own kernels (the default). --no-fuse: batch norm / add and their
 * relu(6) as separate passes (fusion, the default, does them in one:
 * thaw_cuda_graph_set_fuse).
 * --no-assign: zero-then-add for activation gradients instead of the
 * executor's default assign mode (thaw_cuda_graph_set_assign).
 * --workspace-mib N: cuDNN's workspace limit (default 256; PyTorch lets
 * cuDNN use what is free). --profile FILE: after the timed steps, 3 more
 * steps with a CUDA event around every op; FILE
 * gets the GPU time per op type and the 15 slowest ops (forward, backward).
 *
 * A step: a batch uploaded from pinned memory (built in the executor's
 * staging buffer, as PyTorch's side uploads a pinned tensor; `thaw train`
 * also copies each loader batch into that buffer, not timed here), forward,
 * softmax cross-entropy, backward over every group (strategy full), SGD
 * (momentum 0.9) on the device arena, in `thaw train`'s order: the loss is
 * read back after the forward (one synchronisation per step), backward and
 * SGD are queued, and the next step's upload (on the executor's copy
 * stream) overlaps them; a step's time runs from one step's return to the
 * next's. --serial: the order before the copy stream, everything queued
 * and the loss read at the end, so nothing overlaps the upload (PyTorch's
 * eager loop as bench_gpu_torch.py writes it). cuDNN picks its
 * fastest algorithms (not the deterministic set); the first (warm-up) step
 * pays the algorithm search. Input is random, labels random.
 *
 * prints one JSON line:
 * {"impl":"thaw","arch":..,"batch":..,"size":..,"precision":"fp32"|"tf32"|"bf16",
 *  "iters":..,"step_ms_min":..,"step_ms_median":..,"img_s":<batch/median>,
 *  "device_mb":..,"gpu":".."}
 * or {"impl":"thaw","skipped":"no GPU (...)"} with exit status 77. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/cuda/cuda_device.h"
#include "engine/cuda/cuda_graph.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/models/model.h"
#include "engine/optim/optimizer.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *OP_NAMES[] = {"conv", "batchnorm", "relu", "relu6", "maxpool", "avgpool",
                                 "add", "flatten", "linear", "dropout", "pad"};
#define N_OP_TYPES ((int)(sizeof OP_NAMES / sizeof OP_NAMES[0]))

static int by_time_desc(const void *a, const void *b, void *ctx)
{
    const double *t = ctx;
    double x = t[*(const int *)a], y = t[*(const int *)b];
    return (x < y) - (x > y);
}

/* GPU time per op type and the slowest ops, per step, to path. */
static int write_profile(const char *path, const Model *m, const double *fwd,
                         const double *bwd, int steps, double step_ms)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_gpu: cannot write %s\n", path);
        return 1;
    }
    const Graph *g = &m->graph;
    double type_fwd[N_OP_TYPES] = {0}, type_bwd[N_OP_TYPES] = {0}, total = 0;
    int type_n[N_OP_TYPES] = {0};
    double *both = malloc((size_t)g->n_ops * sizeof(double));
    int *order = malloc((size_t)g->n_ops * sizeof(int));
    for (int i = 0; i < g->n_ops; i++) {
        int t = (int)g->ops[i].type;
        type_fwd[t] += fwd[i] / steps;
        type_bwd[t] += bwd[i] / steps;
        type_n[t]++;
        both[i] = (fwd[i] + bwd[i]) / steps;
        total += both[i];
        order[i] = i;
    }
    fprintf(f, "per step: ops %.2f ms of a %.2f ms step (rest: upload, loss, optimizer, "
               "launch gaps)\n", total, step_ms);
    fprintf(f, "%-10s %5s %10s %10s %6s\n", "op type", "ops", "fwd ms", "bwd ms", "share");
    for (int t = 0; t < N_OP_TYPES; t++) {
        if (type_n[t]) {
            fprintf(f, "%-10s %5d %10.3f %10.3f %5.1f%%\n", OP_NAMES[t], type_n[t],
                    type_fwd[t], type_bwd[t], 100.0 * (type_fwd[t] + type_bwd[t]) / total);
        }
    }
    qsort_r(order, (size_t)g->n_ops, sizeof *order, by_time_desc, both);
    fprintf(f, "slowest ops: index type [n,h,w,c] -> [n,h,w,c]  fwd ms  bwd ms\n");
    for (int k = 0; k < 15 && k < g->n_ops; k++) {
        const Op *op = &g->ops[order[k]];
        const Value *x = &g->values[op->in[0]], *y = &g->values[op->out];
        fprintf(f, "%4d %-9s [%d,%d,%d,%d] -> [%d,%d,%d,%d]", order[k], OP_NAMES[op->type],
                x->n, x->h, x->w, x->c, y->n, y->h, y->w, y->c);
        if (op->type == OP_CONV) {
            fprintf(f, " k%dx%d s%d g%d", op->u.conv.r, op->u.conv.s, op->u.conv.stride_h,
                    op->u.conv.groups);
        }
        fprintf(f, "  %.3f  %.3f\n", fwd[order[k]] / steps, bwd[order[k]] / steps);
    }
    free(both);
    free(order);
    fclose(f);
    return 0;
}

static int fail(const ThawError *err, const char *what)
{
    fprintf(stderr, "bench_gpu: %s: %s\n", what, err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    const char *arch = "resnet50";
    int batch = 64, size = 224, tf32 = 0, bf16 = 0, iters = 20, warmup = 3, device = 0, heuristic = 0,
        cudnn_1x1 = 0, timed_1x1 = 1, cudnn_bn = 0, assign = 1, workspace_mib = 0, own_depthwise = 1,
        fuse = 1, serial = 0;
    const char *profile = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--tf32") == 0) {
            tf32 = 1;
        } else if (strcmp(a, "--bf16") == 0) {
            bf16 = 1;
        } else if (strcmp(a, "--heuristic") == 0) {
            heuristic = 1;
        } else if (strcmp(a, "--cudnn-1x1") == 0) {
            cudnn_1x1 = 1, timed_1x1 = 0;
        } else if (strcmp(a, "--cudnn-bn") == 0) {
            cudnn_bn = 1;
        } else if (strcmp(a, "--gemm-1x1") == 0) {
            timed_1x1 = 0;
        } else if (strcmp(a, "--no-fuse") == 0) {
            fuse = 0;
        } else if (strcmp(a, "--cudnn-depthwise") == 0) {
            own_depthwise = 0;
        } else if (strcmp(a, "--no-assign") == 0) {
            assign = 0;
        } else if (strcmp(a, "--serial") == 0) {
            serial = 1;
        } else if (v && strcmp(a, "--profile") == 0) {
            profile = v, i++;
        } else if (v && strcmp(a, "--arch") == 0) {
            arch = v, i++;
        } else if (v && strcmp(a, "--batch") == 0) {
            batch = atoi(v), i++;
        } else if (v && strcmp(a, "--size") == 0) {
            size = atoi(v), i++;
        } else if (v && strcmp(a, "--iters") == 0) {
            iters = atoi(v), i++;
        } else if (v && strcmp(a, "--warmup") == 0) {
            warmup = atoi(v), i++;
        } else if (v && strcmp(a, "--device") == 0) {
            device = atoi(v), i++;
        } else if (v && strcmp(a, "--workspace-mib") == 0) {
            workspace_mib = atoi(v), i++;
        } else {
            fprintf(stderr, "usage: bench_gpu [--arch A] [--batch N] [--size S] [--tf32 | --bf16] "
                            "[--iters N] [--warmup N] [--device N] [--heuristic] "
                            "[--cudnn-1x1] [--gemm-1x1] [--cudnn-bn] [--cudnn-depthwise] [--no-fuse] [--no-assign] [--serial] [--workspace-mib N] "
                            "[--profile FILE]\n");
            return 2;
        }
    }
    if (iters < 1 || batch < 1 || workspace_mib < 0) {
        fprintf(stderr, "bench_gpu: --iters and --batch must be >= 1, --workspace-mib >= 0\n");
        return 2;
    }
    int count = 0;
    char reason[256];
    thaw_cuda_device_count(&count, reason, sizeof reason);
    if (count <= device) {
        printf("{\"impl\":\"thaw\",\"skipped\":\"no GPU (%s)\"}\n",
               count ? "no such device" : reason);
        return 77;
    }
    ThawError err = {0};
    ThawCudaDeviceInfo info;
    ThawCudaContext *ctx = NULL;
    if (thaw_cuda_device_info(device, &info, &err) ||
        thaw_cuda_context_create(&ctx, device, tf32, (size_t)workspace_mib << 20, &err)) {
        return fail(&err, "device");
    }
    thaw_cuda_context_set_bf16(ctx, bf16);
    thaw_cuda_context_set_benchmark(ctx, !heuristic);
    thaw_cuda_context_set_gemm_1x1(ctx, timed_1x1 ? THAW_CUDA_1X1_TIMED : !cudnn_1x1);
    thaw_cuda_context_set_own_depthwise(ctx, own_depthwise);
    thaw_cuda_context_set_cudnn_batchnorm(ctx, cudnn_bn);
    Model m;
    memset(&m, 0, sizeof m);
    if (model_create(&m, arch, 1000, 1, &err)) {
        return fail(&err, "model");
    }
    for (int g = 0; g < m.params.n_groups; g++) {
        params_set_group_frozen(&m.params, g, 0);
        m.params.groups[g].lr = 0.01f;
    }
    GraphMode mode = {.training = 1, .train_bn = 0, .want_input_grad = 0};
    Optimizer hyper;
    ThawCudaGraph *cg = NULL;
    if (model_plan(&m, batch, size, size, &mode, &err) ||
        optimizer_init(&hyper, OPT_SGD, &m.params, &err)) {
        return fail(&err, "plan");
    }
    hyper.momentum = 0.9f;
    if (thaw_cuda_graph_create(&cg, ctx, &m, OPT_SGD, &err) ||
        thaw_cuda_graph_plan(cg, &m, &err)) {
        return fail(&err, "executor");
    }
    thaw_cuda_graph_set_assign(cg, assign);
    thaw_cuda_graph_set_fuse(cg, &m, fuse);
    const size_t per = (size_t)3 * size * size;
    /* The batch lives in the executor's pinned staging buffer, as
     * bench_gpu_torch.py's lives in a pinned tensor: each step uploads it. */
    int32_t *labels = NULL;
    float *images = thaw_cuda_graph_input_stage(cg, &m, &labels);
    double *ms = malloc((size_t)iters * sizeof(double));
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < per * batch; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        images[i] = (float)((s >> 40) / (double)(1u << 24)) * 4.0f - 2.0f;
    }
    for (int i = 0; i < batch; i++) {
        labels[i] = (int32_t)(i * 7919 % 1000);
    }
    float loss = 0;
    const int profiled = profile ? 3 : 0;
    double *op_fwd = NULL, *op_bwd = NULL;
    double t_prev = now_ms();
    for (int it = 0; it < warmup + iters + profiled; it++) {
        if (it == warmup + iters) {
            op_fwd = calloc((size_t)m.graph.n_ops, sizeof(double));
            op_bwd = calloc((size_t)m.graph.n_ops, sizeof(double));
            if (!op_fwd || !op_bwd || thaw_cuda_graph_set_profile(cg, &m, 1, &err)) {
                return fail(&err, "profile");
            }
        }
        int rc = thaw_cuda_graph_set_batch(cg, &m, images, labels, &err);
        rc = rc ? rc : thaw_cuda_graph_forward(cg, &m, &err);
        rc = rc ? rc : thaw_cuda_graph_loss(cg, &m, 0.0f, &err);
        if (!serial) {
            rc = rc ? rc : thaw_cuda_graph_outputs(cg, &loss, NULL, &err);
        }
        rc = rc ? rc : thaw_cuda_graph_backward(cg, &m, 0.0f, &err);
        rc = rc ? rc : thaw_cuda_graph_optimizer_step(cg, &m, &hyper, &err);
        if (serial) {
            rc = rc ? rc : thaw_cuda_graph_outputs(cg, &loss, NULL, &err);
        }
        if (rc == 0 && it >= warmup + iters) {
            /* (waits for the step's backward itself) */
            rc = thaw_cuda_graph_op_times(cg, op_fwd, op_bwd, m.graph.n_ops, &err);
        }
        if (rc) {
            return fail(&err, "step");
        }
        /* step to step: in the default order a step's backward finishes
         * inside the next one's time */
        const double t = now_ms();
        if (it >= warmup && it < warmup + iters) {
            ms[it - warmup] = t - t_prev;
        }
        t_prev = t;
    }
    if (thaw_cuda_synchronize(ctx, &err)) {
        return fail(&err, "synchronize");
    }
    qsort(ms, (size_t)iters, sizeof *ms, cmp_double);
    double med = ms[iters / 2];
    if (profile && write_profile(profile, &m, op_fwd, op_bwd, profiled, med)) {
        return 1;
    }
    free(op_fwd);
    free(op_bwd);
    int gemm_dirs[3], timed_shapes;
    char one_by_one[96];
    thaw_cuda_conv2d_gemm_counts(ctx, gemm_dirs, &timed_shapes);
    char bn_note[64] = "";
    if (cudnn_bn) {
        snprintf(bn_note, sizeof bn_note, ", cudnn bn %ld passes",
                 thaw_cuda_context_cudnn_batchnorm_calls(ctx));
    }
    snprintf(one_by_one, sizeof one_by_one, ", 1x1 timed: gemm for %d/%d/%d of %d shapes",
             gemm_dirs[0], gemm_dirs[1], gemm_dirs[2], timed_shapes);
    printf("{\"impl\":\"thaw\",\"arch\":\"%s\",\"batch\":%d,\"size\":%d,\"precision\":\"%s\","
           "\"iters\":%d,\"step_ms_min\":%.3f,\"step_ms_median\":%.3f,\"img_s\":%.1f,"
           "\"loss\":%.4f,\"device_mb\":%.0f,\"conv_algos\":\"%s%s%s%s%s%s\",\"gpu\":\"%s\"}\n",
           arch, batch, size, bf16 ? "bf16" : tf32 ? "tf32" : "fp32", iters, ms[0], med, batch / med * 1e3,
           loss, thaw_cuda_graph_device_bytes(cg) / 1e6, heuristic ? "heuristic" : "benchmark",
           timed_1x1 && !heuristic ? one_by_one : cudnn_1x1 ? ", 1x1 cudnn" : ", 1x1 gemm",
           own_depthwise ? "" : ", cudnn depthwise",
           assign ? "" : ", zero-then-add", fuse ? "" : ", unfused", bn_note,
           info.name);
    free(ms);
    optimizer_free(&hyper);
    thaw_cuda_graph_destroy(cg);
    model_free(&m);
    thaw_cuda_context_destroy(ctx);
    return 0;
}
