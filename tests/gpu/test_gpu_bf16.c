/* bf16 mixed precision of the GPU executor (thaw_cuda_context_set_bf16:
 * bf16 activations and matrix operands, fp32 master weights, reductions
 * and optimizer) against the CPU engine in fp32, on ResNet-18 (64x64) and
 * EfficientNet-Lite0 (128x128), batch 8, torchvision-style seeded init,
 * after op checks that say which op is off when a model check fails.
 *
 * Ops (bf16 context): convolution 3x3 (cuDNN), 1x1 strided (cuBLAS), 3x3
 * depthwise stride 2 (own kernels), batch norm (train, fused relu), max
 * pool, residual add, linear, cross-entropy, then relu6, batch norm eval,
 * global / adaptive average pooling, padding, dropout and flatten (their
 * backward adding onto a random din), each forward and backward, against
 * the CPU op fed the same bf16-rounded inputs. The maps they write
 * are bf16 (one rounding: within 1e-2 x max |ref| with fp32 accumulation
 * in between); float outputs (statistics, weight gradients computed from
 * bf16 maps, the loss) must be the CPU's to 1e-2, max-pool indices exact.
 *
 * bf16 keeps 8 bits of mantissa, so the results are not the CPU's to 1e-3
 * (test_gpu_models checks fp32 that way); the question is whether they are
 * the CPU's up to bf16 rounding, as PyTorch's autocast is:
 *   - the mode took effect: the logits differ from the same step on an fp32
 *     executor, which itself matches the CPU to 1e-3;
 *   - one step: the loss within 2%; the logits and the gradient of all
 *     trainable weights (1 - cosine of the concatenated gradients) within
 *     10x their floor: how far the CPU's own fp32 step moves when only the
 *     input images are rounded to bf16. These random-init networks in
 *     train-mode batch norm are ill-conditioned: that one rounding turns
 *     the gradients by 1 - cos = 0.018 (ResNet-18) and 0.165 (Lite0), and
 *     tests/gpu/host_graph_executor's emulation of this executor's bf16
 *     (every store rounded) measured 0.077 and 0.48, 3-4x the floor;
 *   - three SGD steps (momentum, weight decay, the first two groups frozen):
 *     frozen weights bit for bit unchanged (fp32 masters), the weights'
 *     total change within 10x its floor, the loss after the steps within
 *     2% or 10x its floor.
 * Without a GPU: "skipped: no GPU", exit 77. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/cuda_graph.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/models/model.h"
#include "engine/ops/activation.h"
#include "engine/ops/batchnorm.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/cross_entropy.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linear.h"
#include "engine/ops/pad.h"
#include "engine/ops/pool.h"
#include "engine/optim/optimizer.h"

#include "gpu_parity.h"

#define CLASSES 10
#define BATCH 8
#define SMOOTHING 0.1f
#define LOSS_TOL 0.02
#define LOGITS_MIN_TOL 0.05
#define FLOOR_FACTOR 10.0
#define FP32_TOL 1e-3

/* max |a - b| / max |b| */
static double rel_max(const float *a, const float *b, size_t n)
{
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        worst = isnan(d) ? INFINITY : fmax(worst, d);
        scale = fmax(scale, fabs((double)b[i]));
    }
    return worst / (scale > 0 ? scale : 1.0);
}

/* Cosine of a and b over n entries (1 when both are zero). */
static double cosine(const float *a, const float *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    if (aa == 0 && bb == 0) {
        return 1.0;
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0.0;
}

#define OP_TOL 1e-2

static ThawCudaContext *ctx16;   /* the bf16 context; ctx (gpu_parity.h) is fp32 */

/* ---- bf16 on the host: round to nearest even, as the device does ---- */

static uint16_t bf16_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) {
        return 0x7FC0;   /* NaN */
    }
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float bf16_value(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Random floats already rounded to bf16 (the CPU reference's inputs). */
static float *random_bf16(size_t n, float lo, float hi)
{
    float *x = random_host(n, lo, hi);
    for (size_t i = 0; i < n; i++) {
        x[i] = bf16_value(bf16_bits(x[i]));
    }
    return x;
}

static void *owned[64];
static int n_owned;

static void *keep(void *d)
{
    if (n_owned < 64) {
        owned[n_owned++] = d;
    }
    return d;
}

static void release_owned(void)
{
    for (int i = 0; i < n_owned; i++) {
        thaw_cuda_release(owned[i]);
    }
    n_owned = 0;
}

/* A device bf16 copy of x (its values are bf16 already or get rounded). */
static void *dev16(const float *x, size_t n)
{
    uint16_t *h = malloc((n + 1) * sizeof *h);
    for (size_t i = 0; i < n; i++) {
        h[i] = bf16_bits(x[i]);
    }
    void *d = keep(to_device(h, n * sizeof *h));
    free(h);
    return d;
}

static float *dev32(const float *x, size_t n)
{
    return keep(to_device(x, n * sizeof(float)));
}

/* A bf16 device map against ref (max |diff| <= OP_TOL x max |ref|). */
static void compare16(const char *name, const void *d, const float *ref, size_t n)
{
    uint16_t *h = malloc((n + 1) * sizeof *h);
    check_rc(thaw_cuda_download(ctx16, h, d, n * sizeof *h, &err), "download");
    check_rc(thaw_cuda_synchronize(ctx16, &err), "synchronize");
    float *got = malloc((n + 1) * sizeof *got);
    for (size_t i = 0; i < n; i++) {
        got[i] = bf16_value(h[i]);
    }
    double r = rel_max(got, ref, n);
    char detail[96];
    snprintf(detail, sizeof detail, "bf16 max|diff|/max|ref| %.3e  tol %.0e", r, OP_TOL);
    check_true(name, r <= OP_TOL, detail);
    free(h);
    free(got);
}

/* A float device array against ref, same bound. */
static void compare32(const char *name, const float *d, const float *ref, size_t n)
{
    float *got = malloc((n + 1) * sizeof *got);
    check_rc(thaw_cuda_download(ctx16, got, d, n * sizeof *got, &err), "download");
    check_rc(thaw_cuda_synchronize(ctx16, &err), "synchronize");
    double r = rel_max(got, ref, n);
    char detail[96];
    snprintf(detail, sizeof detail, "fp32 max|diff|/max|ref| %.3e  tol %.0e", r, OP_TOL);
    check_true(name, r <= OP_TOL, detail);
    free(got);
}

static int plan_train(Model *m, int size)
{
    GraphMode mode = {.training = 1, .train_bn = 0, .want_input_grad = 0};
    return model_plan(m, BATCH, size, size, &mode, &err);
}

static int gpu_step(ThawCudaGraph *cg, Model *gm, const float *images, const int32_t *labels,
                    const Optimizer *hyper, float *loss, const float **logits)
{
    int rc = thaw_cuda_graph_set_batch(cg, gm, images, labels, &err);
    rc = rc ? rc : thaw_cuda_graph_forward(cg, gm, &err);
    rc = rc ? rc : thaw_cuda_graph_loss(cg, gm, SMOOTHING, &err);
    rc = rc ? rc : thaw_cuda_graph_outputs(cg, loss, logits, &err);
    rc = rc ? rc : thaw_cuda_graph_backward(cg, gm, SMOOTHING, &err);
    if (rc == 0 && hyper) {
        rc = thaw_cuda_graph_optimizer_step(cg, gm, hyper, &err);
    }
    return rc;
}

/* logits (may be NULL) gets the step's logits: backward may reuse their
 * memory, and a second forward would draw other dropout masks. */
static float cpu_step(Model *m, const float *images, const int32_t *labels, Optimizer *o,
                      float *logits)
{
    model_forward(m, images);
    if (logits) {
        memcpy(logits, model_logits(m), (size_t)BATCH * CLASSES * sizeof(float));
    }
    float loss = model_loss(m, labels, SMOOTHING);
    params_zero_grad(&m->params);
    model_backward(m, labels, SMOOTHING);
    if (o) {
        optimizer_step(o, &m->params);
    }
    return loss;
}

/* The trainable entries' values of a (gradients or weights) packed. */
static size_t pack_trainable(const ParamTable *t, const float *values, float *out)
{
    size_t n = 0;
    for (int i = 0; i < t->count; i++) {
        const ParamInfo *p = &t->items[i];
        if (p->kind == PARAM_WEIGHT && params_trainable(t, i)) {
            memcpy(out + n, values + p->offset, p->numel * sizeof(float));
            n += p->numel;
        }
    }
    return n;
}

/* The images rounded to bf16 (the floor runs' input). */
static float *rounded_images(const float *images, size_t n)
{
    float *r = copy_host(images, n);
    for (size_t i = 0; i < n; i++) {
        r[i] = bf16_value(bf16_bits(r[i]));
    }
    return r;
}

/* One step: the fp32 executor matches the CPU, the bf16 one is close
 * (within its floors, fl: the CPU on the rounded images) and not the same. */
static void one_step(const char *arch, int size, Model *cpu, Model *g32, Model *g16,
                     Model *fl, const float *images, const float *rounded,
                     const int32_t *labels)
{
    char name[96], detail[200];
    const size_t nl = (size_t)BATCH * CLASSES;
    check_rc(plan_train(cpu, size), "plan cpu");
    float *ref_logits = malloc((nl + 1) * sizeof(float));
    float *floor_logits = malloc((nl + 1) * sizeof(float));
    float cpu_loss = cpu_step(cpu, images, labels, NULL, ref_logits);
    check_rc(plan_train(fl, size), "plan floor");
    cpu_step(fl, rounded, labels, NULL, floor_logits);
    double logits_floor = rel_max(floor_logits, ref_logits, nl);

    ThawCudaGraph *cg32 = NULL, *cg16 = NULL;
    float loss32, loss16;
    const float *l = NULL;
    check_rc(thaw_cuda_graph_create(&cg32, ctx, g32, OPT_SGD, &err), "fp32 executor");
    check_rc(plan_train(g32, size), "plan fp32");
    check_rc(thaw_cuda_graph_plan(cg32, g32, &err), "map fp32");
    check_rc(gpu_step(cg32, g32, images, labels, NULL, &loss32, &l), "fp32 step");
    float *logits32 = copy_host(l, nl);

    check_rc(thaw_cuda_graph_create(&cg16, ctx16, g16, OPT_SGD, &err), "bf16 executor");
    check_rc(plan_train(g16, size), "plan bf16");
    check_rc(thaw_cuda_graph_plan(cg16, g16, &err), "map bf16");
    check_rc(gpu_step(cg16, g16, images, labels, NULL, &loss16, &l), "bf16 step");
    float *logits16 = copy_host(l, nl);
    check_rc(thaw_cuda_graph_download_grads(cg16, g16, &err), "download grads");

    double r32 = rel_max(logits32, ref_logits, nl), r16 = rel_max(logits16, ref_logits, nl);
    double apart = rel_max(logits16, logits32, nl);
    snprintf(name, sizeof name, "%s bf16 in effect", arch);
    snprintf(detail, sizeof detail, "fp32 logits vs cpu %.2e (tol %.0e); bf16 vs fp32 %.2e (> 0)",
             r32, FP32_TOL, apart);
    check_true(name, r32 <= FP32_TOL && apart > 0.0, detail);

    const double ltol = fmax(LOGITS_MIN_TOL, FLOOR_FACTOR * logits_floor);
    snprintf(name, sizeof name, "%s bf16 logits", arch);
    snprintf(detail, sizeof detail, "max|diff|/max|ref| %.3e  floor %.3e  tol %.2e", r16,
             logits_floor, ltol);
    check_true(name, r16 <= ltol, detail);
    double lrel = fabs((double)loss16 - cpu_loss) / fabs((double)cpu_loss);
    snprintf(name, sizeof name, "%s bf16 loss", arch);
    snprintf(detail, sizeof detail, "%.5f vs cpu %.5f: rel %.3e  tol %.0e", loss16, cpu_loss,
             lrel, LOSS_TOL);
    check_true(name, lrel <= LOSS_TOL, detail);

    const ParamTable *t = &cpu->params;
    float *a = malloc((t->n_weights + 1) * sizeof(float));
    float *b = malloc((t->n_weights + 1) * sizeof(float));
    size_t n = pack_trainable(t, g16->params.grads, a);
    pack_trainable(t, t->grads, b);
    double all = cosine(a, b, n), worst = 1.0;
    pack_trainable(t, fl->params.grads, a);
    double floor = 1.0 - cosine(a, b, n);
    char worst_name[PARAM_NAME_MAX] = "-";
    for (int i = 0; i < t->count; i++) {
        const ParamInfo *p = &t->items[i];
        if (p->kind != PARAM_WEIGHT || !params_trainable(t, i)) {
            continue;
        }
        double c = cosine(g16->params.grads + p->offset, t->grads + p->offset, p->numel);
        if (c < worst) {
            worst = c;
            snprintf(worst_name, sizeof worst_name, "%s", p->name);
        }
    }
    snprintf(name, sizeof name, "%s bf16 grad", arch);
    snprintf(detail, sizeof detail, "1 - cos %.4f over %zu (floor %.4f, tol %.4f); worst "
             "tensor %s cos %.4f", 1.0 - all, n, floor, FLOOR_FACTOR * floor + 1e-4, worst_name,
             worst);
    check_true(name, 1.0 - all <= FLOOR_FACTOR * floor + 1e-4, detail);
    printf("   device memory held: fp32 %.1f MB, bf16 %.1f MB\n",
           thaw_cuda_graph_device_bytes(cg32) / 1e6, thaw_cuda_graph_device_bytes(cg16) / 1e6);
    thaw_cuda_graph_destroy(cg32);
    thaw_cuda_graph_destroy(cg16);
    free(a);
    free(b);
    free(ref_logits);
    free(floor_logits);
    free(logits32);
    free(logits16);
}

static void freeze_first_groups(ParamTable *t, Optimizer *o)
{
    for (int g = 0; g < t->n_groups; g++) {
        params_set_group_frozen(t, g, g < 2);
        t->groups[g].lr = 1e-3f * (float)(1 + g % 3);
        t->groups[g].weight_decay = g % 2 ? 0.05f : 0.0f;
    }
    check_rc(optimizer_init(o, OPT_SGD, t, &err), "optimizer");
    o->momentum = 0.9f;
}

/* Three SGD steps on both; then the loss of one more forward. */
static void three_steps(const char *arch, int size, Model *cpu, Model *g16, Model *fl,
                        const float *images, const float *rounded, const int32_t *labels)
{
    char name[96], detail[200];
    Optimizer co, go, fo;
    freeze_first_groups(&cpu->params, &co);
    freeze_first_groups(&g16->params, &go);
    freeze_first_groups(&fl->params, &fo);
    const ParamTable *t = &cpu->params;
    float *start = copy_host(t->weights, t->n_weights);
    ThawCudaGraph *cg = NULL;
    check_rc(thaw_cuda_graph_create(&cg, ctx16, g16, OPT_SGD, &err), "bf16 executor");
    check_rc(plan_train(cpu, size), "plan cpu");
    check_rc(plan_train(g16, size), "plan bf16");
    check_rc(plan_train(fl, size), "plan floor");
    check_rc(thaw_cuda_graph_plan(cg, g16, &err), "map bf16");
    float cpu_loss = 0, gpu_loss = 0;
    for (int s = 0; s < 3; s++) {
        cpu_step(cpu, images, labels, &co, NULL);
        cpu_step(fl, rounded, labels, &fo, NULL);
        check_rc(gpu_step(cg, g16, images, labels, &go, &gpu_loss, NULL), "bf16 step");
    }
    cpu_loss = cpu_step(cpu, images, labels, NULL, NULL);
    float floor_loss = cpu_step(fl, rounded, labels, NULL, NULL);
    check_rc(gpu_step(cg, g16, images, labels, NULL, &gpu_loss, NULL), "bf16 forward");
    check_rc(thaw_cuda_graph_download(cg, g16, &err), "download weights");

    size_t frozen = 0, moved = 0;
    for (int i = 0; i < t->count; i++) {
        const ParamInfo *p = &t->items[i];
        if (p->kind != PARAM_WEIGHT || params_trainable(t, i)) {
            continue;
        }
        frozen += p->numel;
        moved += memcmp(g16->params.weights + p->offset, start + p->offset,
                        p->numel * sizeof(float)) != 0;
    }
    snprintf(name, sizeof name, "%s bf16 frozen", arch);
    snprintf(detail, sizeof detail, "%zu frozen weights, %zu tensors changed", frozen, moved);
    check_true(name, frozen > 0 && moved == 0, detail);

    float *dg = malloc((t->n_weights + 1) * sizeof(float));
    float *dc = malloc((t->n_weights + 1) * sizeof(float));
    for (size_t k = 0; k < t->n_weights; k++) {
        dg[k] = g16->params.weights[k] - start[k];
        dc[k] = t->weights[k] - start[k];
    }
    float *pg = malloc((t->n_weights + 1) * sizeof(float));
    float *pc = malloc((t->n_weights + 1) * sizeof(float));
    size_t n = pack_trainable(t, dg, pg);
    pack_trainable(t, dc, pc);
    double turn = 1.0 - cosine(pg, pc, n);
    for (size_t k = 0; k < t->n_weights; k++) {
        dg[k] = fl->params.weights[k] - start[k];
    }
    pack_trainable(t, dg, pg);
    double floor = 1.0 - cosine(pg, pc, n);
    snprintf(name, sizeof name, "%s bf16 3 sgd steps", arch);
    snprintf(detail, sizeof detail, "weight change 1 - cos %.4f (floor %.4f, tol %.4f)", turn,
             floor, FLOOR_FACTOR * floor + 1e-4);
    check_true(name, turn <= FLOOR_FACTOR * floor + 1e-4, detail);
    double lrel = fabs((double)gpu_loss - cpu_loss) / fabs((double)cpu_loss);
    double lfloor = fabs((double)floor_loss - cpu_loss) / fabs((double)cpu_loss);
    const double ltol = fmax(LOSS_TOL, FLOOR_FACTOR * lfloor);
    snprintf(name, sizeof name, "%s bf16 loss after steps", arch);
    snprintf(detail, sizeof detail, "%.5f vs cpu %.5f: rel %.3e  floor %.3e  tol %.2e",
             gpu_loss, cpu_loss, lrel, lfloor, ltol);
    check_true(name, lrel <= ltol, detail);
    thaw_cuda_graph_destroy(cg);
    optimizer_free(&co);
    optimizer_free(&go);
    optimizer_free(&fo);
    free(start);
    free(dg);
    free(dc);
    free(pg);
    free(pc);
}

/* One convolution forward and backward (din, dweight) on ctx16. */
static void conv16(const char *name, int n, int h, int w, int c, int k, int r, int stride, int pad,
                   int groups)
{
    Conv2dShape s;
    check_rc(conv2d_shape_init(&s, n, h, w, c, k, r, r, stride, pad, 1, groups) ? THAW_ERR_ARG
                                                                               : 0,
             "conv shape");
    const size_t nx = (size_t)n * h * w * c, ny = (size_t)n * s.p * s.q * k;
    const size_t nw = (size_t)k * (c / groups) * r * r;
    float *x = random_bf16(nx, -1, 1), *wt = random_bf16(nw, -0.3f, 0.3f);
    float *dy = random_bf16(ny, -1, 1);
    float *y = calloc(ny + 1, sizeof(float)), *dx = calloc(nx + 1, sizeof(float));
    float *dw = calloc(nw + 1, sizeof(float));
    float *ws = malloc((conv2d_workspace_floats(&s) + 1) * sizeof(float));
    conv2d_forward(y, x, wt, NULL, &s, ws);
    conv2d_backward(dx, dw, NULL, dy, x, wt, &s, ws);
    void *d_x = dev16(x, nx), *d_w = dev16(wt, nw), *d_dy = dev16(dy, ny);
    void *d_y = dev16(y, ny), *d_dx = dev16(dx, nx);
    float *zeros = calloc(nw + 1, sizeof(float));
    float *d_dw = dev32(zeros, nw);
    char label[96];
    check_rc(thaw_cuda_conv2d_forward(ctx16, d_y, d_x, d_w, NULL, &s, &err), name);
    thaw_cuda_context_set_din_assign(ctx16, 1);
    check_rc(thaw_cuda_conv2d_backward(ctx16, d_dx, d_dw, NULL, d_dy, d_x, d_w, &s, &err), name);
    thaw_cuda_context_set_din_assign(ctx16, 0);
    snprintf(label, sizeof label, "bf16 %s fwd", name);
    compare16(label, d_y, y, ny);
    snprintf(label, sizeof label, "bf16 %s din", name);
    compare16(label, d_dx, dx, nx);
    snprintf(label, sizeof label, "bf16 %s dweight", name);
    compare32(label, d_dw, dw, nw);
    free(x), free(wt), free(dy), free(y), free(dx), free(dw), free(ws), free(zeros);
    release_owned();
}

static void batchnorm16(int m, int c)
{
    const size_t mc = (size_t)m * c;
    float *x = random_bf16(mc, -2, 3), *g = random_host(c, 0.5f, 1.5f);
    float *b = random_host(c, -0.5f, 0.5f), *dy = random_bf16(mc, -1, 1);
    float *rm = calloc(c + 1, sizeof(float)), *rv = calloc(c + 1, sizeof(float));
    float *y = malloc((mc + 1) * sizeof(float)), *mean = malloc((c + 1) * sizeof(float));
    float *rstd = malloc((c + 1) * sizeof(float)), *dx = calloc(mc + 1, sizeof(float));
    float *dg = calloc(c + 1, sizeof(float)), *db = calloc(c + 1, sizeof(float));
    batchnorm_forward_train(y, mean, rstd, x, g, b, NULL, NULL, 0.1f, 1e-5f, m, c);
    batchnorm_backward_train(dx, dg, db, dy, x, mean, rstd, g, m, c);
    float *act = malloc((mc + 1) * sizeof(float));
    relu_forward(act, y, mc);
    void *d_x = dev16(x, mc), *d_y = dev16(y, mc), *d_dy = dev16(dy, mc), *d_dx = dev16(dx, mc);
    float *d_g = dev32(g, c), *d_b = dev32(b, c), *d_mean = dev32(rm, c);
    float *d_rstd = dev32(rm, c), *d_dg = dev32(rm, c), *d_db = dev32(rv, c);
    check_rc(thaw_cuda_batchnorm_forward_train(ctx16, d_y, d_mean, d_rstd, d_x, d_g, d_b, NULL,
                                               NULL, 0.1f, 1e-5f, m, c, THAW_CUDA_ACT_RELU,
                                               &err), "bn forward");
    compare16("bf16 batchnorm train y + relu", d_y, act, mc);
    compare32("bf16 batchnorm mean", d_mean, mean, c);
    compare32("bf16 batchnorm rstd", d_rstd, rstd, c);
    thaw_cuda_context_set_din_assign(ctx16, 1);
    check_rc(thaw_cuda_batchnorm_backward_train(ctx16, d_dx, d_dg, d_db, d_dy, d_x, d_mean,
                                                d_rstd, d_g, 1e-5f, m, c, &err), "bn backward");
    thaw_cuda_context_set_din_assign(ctx16, 0);
    compare16("bf16 batchnorm dx", d_dx, dx, mc);
    compare32("bf16 batchnorm dgamma", d_dg, dg, c);
    compare32("bf16 batchnorm dbeta", d_db, db, c);
    free(x), free(g), free(b), free(dy), free(rm), free(rv), free(y), free(mean), free(rstd);
    free(dx), free(dg), free(db), free(act);
    release_owned();
}

static void pool_add_linear_loss16(void)
{
    /* max pool 3x3 s2 p1 */
    Pool2dShape ps;
    check_rc(pool2d_shape_init(&ps, 2, 9, 9, 16, 3, 2, 1) ? THAW_ERR_ARG : 0, "pool shape");
    const size_t pin = (size_t)2 * 9 * 9 * 16, pout = (size_t)2 * ps.p * ps.q * 16;
    float *x = random_bf16(pin, -1, 1), *dout = random_bf16(pout, -1, 1);
    float *out = malloc((pout + 1) * sizeof(float)), *din = calloc(pin + 1, sizeof(float));
    int32_t *am = malloc((pout + 1) * sizeof(int32_t));
    maxpool2d_forward(out, am, x, &ps);
    maxpool2d_backward(din, dout, am, &ps);
    float *pool_zeros = calloc(pin + 1, sizeof(float));
    void *d_x = dev16(x, pin), *d_out = dev16(out, pout), *d_dout = dev16(dout, pout);
    void *d_din = dev16(pool_zeros, pin);   /* the CPU's din started at zero too */
    int32_t *d_am = keep(to_device(am, pout * sizeof(int32_t)));
    check_rc(thaw_cuda_maxpool2d_forward(ctx16, d_out, d_am, d_x, &ps, &err), "maxpool");
    check_rc(thaw_cuda_maxpool2d_backward(ctx16, d_din, d_dout, d_am, &ps, &err), "maxpool");
    compare16("bf16 maxpool fwd", d_out, out, pout);
    compare_exact_int("bf16 maxpool argmax", d_am, am, pout);
    compare16("bf16 maxpool bwd (+=)", d_din, din, pin);
    free(x), free(dout), free(out), free(din), free(am), free(pool_zeros);

    /* residual add + relu, and its gated backward */
    const size_t na = 4096;
    float *a = random_bf16(na, -1, 1), *b = random_bf16(na, -1, 1), *g = random_bf16(na, -1, 1);
    float *sum = malloc((na + 1) * sizeof(float)), *dsum = calloc(na + 1, sizeof(float));
    add_forward(sum, a, b, na);
    relu_forward(sum, sum, na);
    relu_backward(dsum, g, sum, na);
    void *d_a = dev16(a, na), *d_b = dev16(b, na), *d_s = dev16(a, na), *d_g = dev16(g, na);
    void *d_da = dev16(a, na);
    check_rc(thaw_cuda_add_forward(ctx16, d_s, d_a, d_b, na, THAW_CUDA_ACT_RELU, &err), "add");
    compare16("bf16 add + relu fwd", d_s, sum, na);
    thaw_cuda_context_set_din_assign(ctx16, 1);
    check_rc(thaw_cuda_add_backward_gated(ctx16, d_da, NULL, d_g, d_s, THAW_CUDA_ACT_RELU, na,
                                          &err), "add backward");
    thaw_cuda_context_set_din_assign(ctx16, 0);
    compare16("bf16 add + relu bwd", d_da, dsum, na);
    free(a), free(b), free(g), free(sum), free(dsum);

    /* linear with bias, then cross-entropy on its logits */
    const int n = 8, in_f = 64, out_f = 10;
    float *lx = random_bf16((size_t)n * in_f, -1, 1), *lw = random_bf16((size_t)out_f * in_f, -0.3f, 0.3f);
    float *lb = random_host(out_f, -0.1f, 0.1f), *ly = malloc((n * out_f + 1) * sizeof(float));
    linear_forward(ly, lx, lw, lb, n, in_f, out_f);
    void *d_lx = dev16(lx, (size_t)n * in_f), *d_lw = dev16(lw, (size_t)out_f * in_f);
    float *d_lb = dev32(lb, out_f);
    void *d_ly = dev16(ly, (size_t)n * out_f);
    check_rc(thaw_cuda_linear_forward(ctx16, d_ly, d_lx, d_lw, d_lb, n, in_f, out_f, &err),
             "linear");
    compare16("bf16 linear fwd", d_ly, ly, (size_t)n * out_f);
    /* cross-entropy reads the device's bf16 logits: the CPU gets the same */
    uint16_t *lh = malloc((n * out_f + 1) * sizeof *lh);
    check_rc(thaw_cuda_download(ctx16, lh, d_ly, (size_t)n * out_f * 2, &err), "download");
    check_rc(thaw_cuda_synchronize(ctx16, &err), "synchronize");
    for (int i = 0; i < n * out_f; i++) {
        ly[i] = bf16_value(lh[i]);
    }
    int32_t labels[8] = {0, 3, 9, 1, 1, 5, 7, 2};
    float *probs = malloc((n * out_f + 1) * sizeof(float));
    float *dlog = calloc(n * out_f + 1, sizeof(float));
    float loss = cross_entropy_forward(probs, ly, labels, n, out_f, SMOOTHING);
    cross_entropy_backward(dlog, probs, labels, n, out_f, SMOOTHING, 1.0f);
    float *d_probs = dev32(probs, (size_t)n * out_f), *d_rows = dev32(probs, n + 1);
    int32_t *d_labels = keep(to_device(labels, sizeof labels));
    float *zeros = calloc((size_t)n * out_f + (size_t)out_f * in_f + 1, sizeof(float));
    void *d_dlog = dev16(zeros, (size_t)n * out_f);
    check_rc(thaw_cuda_cross_entropy_forward(ctx16, d_rows + n, d_probs, d_rows, d_ly, d_labels,
                                             n, out_f, SMOOTHING, &err), "cross-entropy");
    compare32("bf16 cross-entropy loss", d_rows + n, &loss, 1);
    check_rc(thaw_cuda_cross_entropy_backward(ctx16, d_dlog, d_probs, d_labels, n, out_f,
                                              SMOOTHING, 1.0f, &err), "cross-entropy backward");
    compare16("bf16 cross-entropy dlogits", d_dlog, dlog, (size_t)n * out_f);
    /* linear backward from those bf16 dlogits */
    uint16_t *gh = malloc((n * out_f + 1) * sizeof *gh);
    check_rc(thaw_cuda_download(ctx16, gh, d_dlog, (size_t)n * out_f * 2, &err), "download");
    check_rc(thaw_cuda_synchronize(ctx16, &err), "synchronize");
    for (int i = 0; i < n * out_f; i++) {
        dlog[i] = bf16_value(gh[i]);
    }
    float *ldx = calloc((size_t)n * in_f + 1, sizeof(float));
    float *ldw = calloc((size_t)out_f * in_f + 1, sizeof(float));
    float *ldb = calloc(out_f + 1, sizeof(float));
    linear_backward(ldx, ldw, ldb, dlog, lx, lw, n, in_f, out_f);
    void *d_ldx = dev16(zeros, (size_t)n * in_f);
    float *d_ldw = dev32(zeros, (size_t)out_f * in_f), *d_ldb = dev32(zeros, out_f);
    check_rc(thaw_cuda_linear_backward(ctx16, d_ldx, d_ldw, d_ldb, d_dlog, d_lx, d_lw, n, in_f,
                                       out_f, &err), "linear backward");
    compare16("bf16 linear din", d_ldx, ldx, (size_t)n * in_f);
    compare32("bf16 linear dweight", d_ldw, ldw, (size_t)out_f * in_f);
    compare32("bf16 linear dbias", d_ldb, ldb, out_f);
    free(lx), free(lw), free(lb), free(ly), free(lh), free(probs), free(dlog), free(zeros);
    free(gh), free(ldx), free(ldw), free(ldb);
    release_owned();
}

/* The ops the models reach only through the model checks: relu6, batch
 * norm eval (fused relu6), global and adaptive average pooling, padding,
 * dropout (same seed: the CPU's mask) and flatten, forward and backward;
 * backward adds (+=) onto a random din here, as the executor does where a
 * value has several consumers. */
static void more_ops16(void)
{
    const int n = 2, h = 7, w = 6, c = 24, m = n * h * w;
    const size_t mc = (size_t)m * c;
    float *x = random_bf16(mc, -3, 8), *dy = random_bf16(mc, -1, 1);
    float *din0 = random_bf16(mc, -1, 1);
    float *y = malloc((mc + 1) * sizeof(float)), *dx = copy_host(din0, mc);

    /* relu6 */
    relu6_forward(y, x, mc);
    relu6_backward(dx, dy, y, mc);
    void *d_x = dev16(x, mc), *d_y = dev16(din0, mc), *d_dy = dev16(dy, mc);
    void *d_dx = dev16(din0, mc);
    check_rc(thaw_cuda_relu6_forward(ctx16, d_y, d_x, mc, &err), "relu6");
    check_rc(thaw_cuda_relu6_backward(ctx16, d_dx, d_dy, d_y, mc, &err), "relu6 backward");
    compare16("bf16 relu6 fwd", d_y, y, mc);
    compare16("bf16 relu6 bwd (+=)", d_dx, dx, mc);

    /* batch norm eval with its relu6 fused, then the eval backward */
    float *g = random_host(c, 0.5f, 1.5f), *b = random_host(c, -0.5f, 0.5f);
    float *rm = random_host(c, -1, 1), *rv = random_host(c, 0.5f, 2.0f);
    float *dg = calloc(c + 1, sizeof(float)), *db = calloc(c + 1, sizeof(float));
    batchnorm_forward_eval(y, x, g, b, rm, rv, 1e-5f, m, c);
    relu6_forward(y, y, mc);
    memcpy(dx, din0, mc * sizeof(float));
    batchnorm_backward_eval(dx, dg, db, dy, x, g, rm, rv, 1e-5f, m, c);
    float *d_g = dev32(g, c), *d_b = dev32(b, c), *d_rm = dev32(rm, c), *d_rv = dev32(rv, c);
    float *zeros = calloc(mc + 1, sizeof(float));
    float *d_dg = dev32(zeros, c), *d_db = dev32(zeros, c);
    d_dx = dev16(din0, mc);
    check_rc(thaw_cuda_batchnorm_forward_eval(ctx16, d_y, d_x, d_g, d_b, d_rm, d_rv, 1e-5f, m,
                                              c, THAW_CUDA_ACT_RELU6, &err), "bn eval");
    check_rc(thaw_cuda_batchnorm_backward_eval(ctx16, d_dx, d_dg, d_db, d_dy, d_x, d_g, d_rm,
                                               d_rv, 1e-5f, m, c, &err), "bn eval backward");
    compare16("bf16 batchnorm eval y + relu6", d_y, y, mc);
    compare16("bf16 batchnorm eval dx (+=)", d_dx, dx, mc);
    compare32("bf16 batchnorm eval dgamma", d_dg, dg, c);
    compare32("bf16 batchnorm eval dbeta", d_db, db, c);

    /* global (1x1) and adaptive (7x6 -> 3x2) average pooling */
    const size_t nc = (size_t)n * c, na = (size_t)n * 3 * 2 * c;
    float *gp = malloc((nc + 1) * sizeof(float)), *dgp = random_bf16(na, -1, 1);
    adaptive_avgpool2d_forward(gp, x, n, h, w, c, 1, 1);
    memcpy(dx, din0, mc * sizeof(float));
    adaptive_avgpool2d_backward(dx, dgp, n, h, w, c, 1, 1);
    void *d_gp = dev16(zeros, nc), *d_dgp = dev16(dgp, na);
    d_dx = dev16(din0, mc);
    check_rc(thaw_cuda_global_avgpool_forward(ctx16, d_gp, d_x, n, h, w, c, &err), "avgpool");
    check_rc(thaw_cuda_global_avgpool_backward(ctx16, d_dx, d_dgp, n, h, w, c, &err),
             "avgpool backward");
    compare16("bf16 global avgpool fwd", d_gp, gp, nc);
    compare16("bf16 global avgpool bwd (+=)", d_dx, dx, mc);
    float *ap = malloc((na + 1) * sizeof(float));
    adaptive_avgpool2d_forward(ap, x, n, h, w, c, 3, 2);
    memcpy(dx, din0, mc * sizeof(float));
    adaptive_avgpool2d_backward(dx, dgp, n, h, w, c, 3, 2);
    void *d_ap = dev16(zeros, na);
    d_dx = dev16(din0, mc);
    check_rc(thaw_cuda_adaptive_avgpool2d_forward(ctx16, d_ap, d_x, n, h, w, c, 3, 2, &err),
             "adaptive avgpool");
    check_rc(thaw_cuda_adaptive_avgpool2d_backward(ctx16, d_dx, d_dgp, n, h, w, c, 3, 2, &err),
             "adaptive avgpool backward");
    compare16("bf16 adaptive avgpool 3x2 fwd", d_ap, ap, na);
    compare16("bf16 adaptive avgpool 3x2 bwd (+=)", d_dx, dx, mc);

    /* TensorFlow "SAME" padding: 0 before, 1 after */
    Pad2dShape ps = {.n = n, .h = h, .w = w, .c = c, .top = 0, .bottom = 1, .left = 0,
                     .right = 1};
    const size_t np = (size_t)n * (h + 1) * (w + 1) * c;
    float *pad = malloc((np + 1) * sizeof(float)), *dpad = random_bf16(np, -1, 1);
    pad2d_forward(pad, x, &ps);
    memcpy(dx, din0, mc * sizeof(float));
    pad2d_backward(dx, dpad, &ps);
    void *d_pad = dev16(dpad, np), *d_dpad = dev16(dpad, np);
    d_dx = dev16(din0, mc);
    check_rc(thaw_cuda_pad2d_forward(ctx16, d_pad, d_x, &ps, &err), "pad");
    check_rc(thaw_cuda_pad2d_backward(ctx16, d_dx, d_dpad, &ps, &err), "pad backward");
    compare16("bf16 pad fwd", d_pad, pad, np);
    compare16("bf16 pad bwd (+=)", d_dx, dx, mc);

    /* dropout p = 0.2, the CPU's generator from the same seed */
    uint64_t seed_cpu = 1234, seed_gpu = 1234;
    float *mask = malloc((mc + 1) * sizeof(float));
    dropout_forward(y, mask, x, 0.2f, mc, &seed_cpu);
    memcpy(dx, din0, mc * sizeof(float));
    dropout_backward(dx, dy, mask, mc);
    float *d_mask = dev32(zeros, mc);
    d_dx = dev16(din0, mc);
    check_rc(thaw_cuda_dropout_forward(ctx16, d_y, d_mask, d_x, 0.2f, mc, &seed_gpu, &err),
             "dropout");
    check_rc(thaw_cuda_dropout_backward(ctx16, d_dx, d_dy, d_mask, mc, &err), "dropout backward");
    compare16("bf16 dropout fwd", d_y, y, mc);
    compare32("bf16 dropout mask", d_mask, mask, mc);
    check_true("bf16 dropout generator", seed_cpu == seed_gpu, "state advanced as on the CPU");
    compare16("bf16 dropout bwd (+=)", d_dx, dx, mc);

    /* flatten to (c, h, w) and back */
    flatten_forward(y, x, n, h, w, c);
    memcpy(dx, din0, mc * sizeof(float));
    flatten_backward(dx, dy, n, h, w, c);
    d_dx = dev16(din0, mc);
    check_rc(thaw_cuda_flatten_forward(ctx16, d_y, d_x, n, h, w, c, &err), "flatten");
    check_rc(thaw_cuda_flatten_backward(ctx16, d_dx, d_dy, n, h, w, c, &err), "flatten backward");
    compare16("bf16 flatten fwd", d_y, y, mc);
    compare16("bf16 flatten bwd (+=)", d_dx, dx, mc);

    free(x), free(dy), free(din0), free(y), free(dx), free(g), free(b), free(rm), free(rv);
    free(dg), free(db), free(zeros), free(gp), free(dgp), free(ap), free(pad), free(dpad);
    free(mask);
    release_owned();
}

static void op_checks(void)
{
    printf("-- ops on the bf16 context against the CPU ops on the same bf16 inputs\n");
    conv16("conv 3x3 s1 p1 (cuDNN)", 2, 12, 12, 16, 32, 3, 1, 1, 1);
    conv16("conv 1x1 s2 (GEMM)", 2, 12, 12, 32, 64, 1, 2, 0, 1);
    conv16("depthwise 3x3 s2 p1", 2, 13, 13, 32, 32, 3, 2, 1, 32);
    batchnorm16(2 * 12 * 12, 32);
    pool_add_linear_loss16();
    more_ops16();
    fflush(stdout);
}

static void run_case(const char *arch, int size)
{
    Model cpu, g32, g16, fl;   /* fl: the CPU on bf16-rounded images (the floors) */
    Model *all[] = {&cpu, &g32, &g16, &fl};
    for (int k = 0; k < 4; k++) {
        memset(all[k], 0, sizeof *all[k]);
        check_rc(model_create(all[k], arch, CLASSES, 7, &err), arch);
    }
    printf("-- %s, batch %d x 3x%dx%d, bf16 vs the CPU in fp32\n", arch, BATCH, size, size);
    const size_t n_img = (size_t)3 * size * size * BATCH;
    float *images = random_host(n_img, -2.0f, 2.0f);
    int32_t labels[BATCH];
    for (int i = 0; i < BATCH; i++) {
        labels[i] = (int32_t)(uniform(0.0f, 1.0f) * CLASSES) % CLASSES;
    }
    float *rounded = rounded_images(images, n_img);
    one_step(arch, size, &cpu, &g32, &g16, &fl, images, rounded, labels);
    for (int k = 0; k < 4; k++) {
        model_free(all[k]);
        memset(all[k], 0, sizeof *all[k]);
    }
    check_rc(model_create(&cpu, arch, CLASSES, 7, &err), arch);
    check_rc(model_create(&g16, arch, CLASSES, 7, &err), arch);
    check_rc(model_create(&fl, arch, CLASSES, 7, &err), arch);
    three_steps(arch, size, &cpu, &g16, &fl, images, rounded, labels);
    model_free(&cpu);
    model_free(&g16);
    model_free(&fl);
    free(images);
    free(rounded);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    gpu_start((size_t)256 << 20);
    thaw_cuda_context_set_deterministic(ctx, 1);
    check_rc(thaw_cuda_context_create(&ctx16, 0, 0, (size_t)256 << 20, &err), "bf16 context");
    thaw_cuda_context_set_bf16(ctx16, 1);
    if (argc == 1) {
        op_checks();
    }
    static const struct {
        const char *arch;
        int size;
    } cases[] = {{"resnet18", 64}, {"efficientnet_lite0", 128}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        if (argc > 1 && strcmp(argv[1], cases[k].arch) != 0) {
            continue;
        }
        run_case(cases[k].arch, cases[k].size);
    }
    thaw_cuda_context_destroy(ctx16);
    return gpu_finish();
}
