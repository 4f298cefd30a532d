/* Full-model parity of the GPU executor (engine/cuda/cuda_graph.h) with the
 * CPU engine: ResNet-18, ResNet-50 and EfficientNet-Lite0 built by the model
 * builder (torchvision-style seeded init, 10 classes, batch 8, 64x64 and
 * 128x128 inputs), fp32, TF32 off, deterministic cuDNN algorithms.
 *   1. One training step with every group trainable: logits, loss, every
 *      parameter gradient, BN running statistics.
 *   2. Three SGD (momentum, weight decay) steps with the first two groups
 *      frozen, one more module frozen by name, a different lr per group:
 *      every weight and buffer; frozen weights bit for bit unchanged.
 *   3. The same with AdamW.
 * Tolerance (issue 5, full models): max |gpu - cpu| <= 1e-3 x max |cpu| per
 * tensor, or 10x the tensor's own noise floor when that is larger: the
 * floor is how far the CPU's own result moves when the input images move
 * by one float rounding (x * (1 +- 2^-24)), the largest of 3 such runs.
 * Deep random-init networks in train-mode BN amplify rounding: a ReLU
 * input within rounding of zero (or of 6) flips its gate, and BN backward
 * over few rows cancels; the floor says how much of a difference is the
 * problem's and how much the backend's. AdamW divides each gradient by its
 * own running magnitude, so a weight whose gradient is rounding noise
 * moves by about lr either way: the floor runs show the same (the fused
 * AdamW kernel itself is checked to 1e-4 in test_gpu_ops). On an H100
 * (2026-11-26, one floor run per check, SGD lrs 10x higher than now) GPU
 * and floor differences were of the same size for almost every tensor;
 * 4 of 84 checks were over 10x that one floor sample. Each check
 * prints one "gpu-op" line with the worst tensor of its class (conv
 * weights, BN weights, BN biases, linear weights, biases, BN buffers) so
 * tests/gpu/run.sh lists them.
 * Without a GPU: "skipped: no GPU", exit 77. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/cuda_graph.h"
#include "engine/models/model.h"
#include "engine/optim/optimizer.h"

#include "gpu_parity.h"

#define MODEL_TOL 1e-3
#define CLASSES 10
#define BATCH 8
#define FLOOR_FACTOR 10.0

static int cudnn_bn_on;   /* THAW_GPU_CUDNN_BN=1 */
#define N_ALT 3                 /* noise-floor samples per check */

typedef struct {
    const char *arch;
    int size;
} Case;

enum { CLS_CONV, CLS_BN_W, CLS_BN_B, CLS_LINEAR, CLS_BIAS, CLS_BUFFER, N_CLASSES };
static const char *class_names[N_CLASSES] = {"conv.weight", "bn.weight", "bn.bias",
                                             "linear.weight", "bias", "bn.buffers"};

typedef struct {
    double worst_rel;          /* max over tensors of diff / max|ref| */
    double worst_floor;        /* that tensor's noise floor (0: none) */
    char worst_name[PARAM_NAME_MAX];
    int tensors, failing;
    int over_plain;            /* over 1e-3 but within the floor rule */
} ClassStat;

static int tensor_class(const ParamTable *t, const ParamInfo *p)
{
    if (p->kind != PARAM_WEIGHT) {
        return CLS_BUFFER;
    }
    if (p->ndim == 4) {
        return CLS_CONV;
    }
    if (p->ndim == 2) {
        return CLS_LINEAR;
    }
    /* 1-d: BN gamma / beta when the module has running statistics, else
     * a conv or linear bias */
    char stats[PARAM_NAME_MAX + 16];
    params_module_name(t, (int)(p - t->items), stats, PARAM_NAME_MAX);
    strcat(stats, ".running_mean");
    if (params_find(t, stats) < 0) {
        return CLS_BIAS;
    }
    return strstr(p->name, ".bias") ? CLS_BN_B : CLS_BN_W;
}

/* diff / max|ref| of one tensor (inf for NaN). */
static double rel_diff(const float *got, const float *ref, size_t n, double *scale_out)
{
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (isnan(d)) {
            worst = INFINITY;
        } else if (d > worst) {
            worst = d;
        }
        scale = fabs(ref[i]) > scale ? fabs(ref[i]) : scale;
    }
    *scale_out = scale;
    return worst / (scale > 1e-30 ? scale : 1e-30);
}

static int listed;   /* failing tensors printed for the current model */

/* floor < 0: no noise floor (the plain 1e-3 rule). */
static void add_stat(ClassStat *s, const char *name, double rel, double floor)
{
    double tol = floor > 0 && FLOOR_FACTOR * floor > MODEL_TOL ? FLOOR_FACTOR * floor : MODEL_TOL;
    s->tensors++;
    if (!(rel <= tol)) {
        s->failing++;
        if (listed++ < 12) {
            printf("   over tol: %-40s rel %.3e  floor %.3e\n", name, rel, floor);
        }
    } else if (rel > MODEL_TOL) {
        s->over_plain++;
    }
    if (!(rel <= s->worst_rel)) {
        s->worst_rel = rel;
        s->worst_floor = floor > 0 ? floor : 0;
        snprintf(s->worst_name, sizeof s->worst_name, "%s", name);
    }
}

/* checked 0: the lines are information only (AdamW weights). */
static void print_stats(const char *prefix, ClassStat *stats, int checked)
{
    for (int k = 0; k < N_CLASSES; k++) {
        ClassStat *s = &stats[k];
        if (s->tensors == 0) {
            continue;
        }
        char label[96], detail[260];
        snprintf(label, sizeof label, "%s %s", prefix, class_names[k]);
        snprintf(detail, sizeof detail,
                 "%d tensors, %d over tol, %d over 1e-3 within 10x floor; worst rel %.3e "
                 "(%s, floor %.1e)", s->tensors, s->failing, s->over_plain, s->worst_rel,
                 s->worst_name, s->worst_floor);
        if (checked) {
            check_true(label, s->failing == 0, detail);
        } else {
            printf("gpu-op %-30s %s  (info)\n", label, detail);
        }
    }
}

static void compare_host(const char *name, const float *got, const float *ref, size_t n)
{
    double scale;
    double rel = rel_diff(got, ref, n, &scale);
    char detail[160];
    snprintf(detail, sizeof detail, "worst rel %.3e  max_ref %.3e  tol %.0e", rel, scale,
             MODEL_TOL);
    check_true(name, rel <= MODEL_TOL, detail);
}

static void fill_batch(float *images, int32_t *labels, size_t per_image)
{
    for (size_t i = 0; i < per_image * BATCH; i++) {
        images[i] = uniform(-2.0f, 2.0f);
    }
    for (int i = 0; i < BATCH; i++) {
        labels[i] = (int32_t)(uniform(0.0f, 1.0f) * CLASSES) % CLASSES;
    }
}

/* Plans both models in training mode and maps the GPU one. */
static int plan_both(Model *cpu, Model *gpu, ThawCudaGraph *cg, int size)
{
    GraphMode mode = {.training = 1, .train_bn = 0, .want_input_grad = 0};
    int rc = model_plan(cpu, BATCH, size, size, &mode, &err);
    rc = rc ? rc : model_plan(gpu, BATCH, size, size, &mode, &err);
    return rc ? rc : thaw_cuda_graph_plan(cg, gpu, &err);
}

/* One step on the GPU (forward, loss, backward, optional optimizer step). */
static int gpu_step(ThawCudaGraph *cg, Model *gm, const float *images, const int32_t *labels,
                    const Optimizer *hyper, float *loss, const float **logits)
{
    int rc = thaw_cuda_graph_set_batch(cg, gm, images, labels, &err);
    rc = rc ? rc : thaw_cuda_graph_forward(cg, gm, &err);
    rc = rc ? rc : thaw_cuda_graph_loss(cg, gm, 0.1f, &err);
    rc = rc ? rc : thaw_cuda_graph_outputs(cg, loss, logits, &err);
    rc = rc ? rc : thaw_cuda_graph_backward(cg, gm, 0.1f, &err);
    if (rc == 0 && hyper) {
        rc = thaw_cuda_graph_optimizer_step(cg, gm, hyper, &err);
    }
    return rc;
}

static void cpu_step(Model *m, const float *images, const int32_t *labels, Optimizer *o,
                     float *loss)
{
    model_forward(m, images);
    *loss = model_loss(m, labels, 0.1f);
    params_zero_grad(&m->params);
    model_backward(m, labels, 0.1f);
    if (o) {
        optimizer_step(o, &m->params);
    }
}

/* The images moved by one rounding (the noise floor's input). */
static float *nudge(const float *images, size_t n)
{
    float *x = copy_host(images, n);
    for (size_t i = 0; i < n; i++) {
        x[i] *= 1.0f + (uniform(0.0f, 1.0f) < 0.5f ? -1.0f : 1.0f) * 0x1p-24f;
    }
    return x;
}

/* Gradients and BN buffers of the CPU model after the last backward. */
static float *cpu_grads(const Model *m)
{
    return copy_host(m->params.grads, m->params.n_weights);
}

/* The executor's assign mode (its default: an input gradient's first write
 * assigns, no zeroing) must give the very same gradients as zero-then-add:
 * the same step again (same images, dropout mask) with it off, compared
 * bit for bit with the step just taken; then the device gets back the
 * host's weights and BN buffers (the extra forward moved the running
 * statistics). */
static void assign_mode_same(const Case *c, Model *gm, ThawCudaGraph *cg, const float *images,
                             const int32_t *labels, uint64_t rng_before)
{
    char name[96];
    const ParamTable *t = &gm->params;
    float *assigned = copy_host(t->grads, t->n_weights);
    float loss;
    gm->graph.dropout_rng = rng_before;
    thaw_cuda_graph_set_assign(cg, 0);
    check_rc(gpu_step(cg, gm, images, labels, NULL, &loss, NULL), "gpu step (zero-then-add)");
    thaw_cuda_graph_set_assign(cg, 1);
    check_rc(thaw_cuda_graph_download_grads(cg, gm, &err), "download grads");
    size_t differ = 0;
    for (size_t k = 0; k < t->n_weights; k++) {
        differ += memcmp(&assigned[k], &t->grads[k], sizeof(float)) != 0;
    }
    char detail[96];
    snprintf(detail, sizeof detail, "%zu of %zu gradients differ from zero-then-add", differ,
             t->n_weights);
    snprintf(name, sizeof name, "%s grad assign mode", c->arch);
    check_true(name, differ == 0, detail);
    check_rc(thaw_cuda_graph_upload(cg, gm, &err), "upload weights");
    free(assigned);
}

/* The executor's fusion (batch norm / add + relu(6) in one pass, on by
 * default, so the parity step above ran fused) must give the very same
 * logits and gradients as the plain ops: the same step again with it off,
 * compared bit for bit with the fused one; then the host's weights and BN
 * buffers go back to the device. With cuDNN's batch norm the unfused step
 * takes cuDNN's kernels and the fused one ours, so they differ by rounding:
 * skipped then. */
static void fusion_same(const Case *c, Model *gm, ThawCudaGraph *cg, const float *images,
                        const int32_t *labels, uint64_t rng_before, const float *fused_logits)
{
    char name[96], detail[160];
    snprintf(name, sizeof name, "%s fused step", c->arch);
    if (cudnn_bn_on) {
        printf("gpu-op %-30s skipped: cuDNN batch norm takes only the unfused ones\n", name);
        return;
    }
    const ParamTable *t = &gm->params;
    check_rc(thaw_cuda_graph_download_grads(cg, gm, &err), "download grads");
    float *fused_grads = copy_host(t->grads, t->n_weights);
    float loss;
    const float *logits = NULL;
    gm->graph.dropout_rng = rng_before;
    const int fused = thaw_cuda_graph_fused_ops(cg, gm);
    thaw_cuda_graph_set_fuse(cg, gm, 0);
    check_rc(gpu_step(cg, gm, images, labels, NULL, &loss, &logits), "gpu step (unfused)");
    thaw_cuda_graph_set_fuse(cg, gm, 1);
    size_t logits_differ = 0, grads_differ = 0;
    for (size_t k = 0; logits && k < (size_t)BATCH * CLASSES; k++) {
        logits_differ += memcmp(&fused_logits[k], &logits[k], sizeof(float)) != 0;
    }
    check_rc(thaw_cuda_graph_download_grads(cg, gm, &err), "download grads");
    for (size_t k = 0; k < t->n_weights; k++) {
        grads_differ += memcmp(&fused_grads[k], &t->grads[k], sizeof(float)) != 0;
    }
    snprintf(detail, sizeof detail, "%d activations fused; %zu logits and %zu of %zu "
             "gradients differ from the unfused step", fused, logits_differ, grads_differ,
             t->n_weights);
    check_true(name, fused > 0 && logits && logits_differ == 0 && grads_differ == 0, detail);
    check_rc(thaw_cuda_graph_upload(cg, gm, &err), "upload weights");
    free(fused_grads);
}

static void gradient_step(const Case *c, Model *cpu, Model *alts, Model *gm,
                          ThawCudaGraph *cg, float *images, int32_t *labels, size_t per_image)
{
    char name[96];
    fill_batch(images, labels, per_image);
    check_rc(plan_both(cpu, gm, cg, c->size), "plan");
    GraphMode mode = {.training = 1, .train_bn = 0, .want_input_grad = 0};
    float cpu_loss, gpu_loss;
    const float *gpu_logits = NULL;
    model_forward(cpu, images);
    float *ref_logits = copy_host(model_logits(cpu), (size_t)BATCH * CLASSES);
    cpu_loss = model_loss(cpu, labels, 0.1f);
    params_zero_grad(&cpu->params);
    model_backward(cpu, labels, 0.1f);
    float *ref_grads = cpu_grads(cpu);
    /* the noise floor: the same CPU step on images moved by one rounding */
    double floor_logits = 0, floor_loss = 0, scale;
    for (int a = 0; a < N_ALT; a++) {
        Model *alt = &alts[a];
        check_rc(model_plan(alt, BATCH, c->size, c->size, &mode, &err), "plan alt");
        float *nudged = nudge(images, per_image * BATCH);
        model_forward(alt, nudged);
        free(nudged);
        floor_logits = fmax(floor_logits, rel_diff(model_logits(alt), ref_logits,
                                                   (size_t)BATCH * CLASSES, &scale));
        float alt_loss = model_loss(alt, labels, 0.1f);
        floor_loss = fmax(floor_loss, fabs((double)alt_loss - cpu_loss) / fabs((double)cpu_loss));
        params_zero_grad(&alt->params);
        model_backward(alt, labels, 0.1f);
    }
    const uint64_t rng_before = gm->graph.dropout_rng;
    check_rc(gpu_step(cg, gm, images, labels, NULL, &gpu_loss, &gpu_logits), "gpu step");
    snprintf(name, sizeof name, "%s step logits", c->arch);
    compare_host(name, gpu_logits, ref_logits, (size_t)BATCH * CLASSES);
    snprintf(name, sizeof name, "%s step loss", c->arch);
    compare_host(name, &gpu_loss, &cpu_loss, 1);
    float *step_logits = copy_host(gpu_logits, (size_t)BATCH * CLASSES);
    printf("   noise floor: logits move %.3e, loss %.3e (relative) when the images move by "
           "one rounding\n", floor_logits, floor_loss);
    check_rc(thaw_cuda_graph_download_grads(cg, gm, &err), "download grads");
    check_rc(thaw_cuda_graph_download(cg, gm, &err), "download weights");
    ClassStat stats[N_CLASSES];
    memset(stats, 0, sizeof stats);
    const ParamTable *t = &cpu->params;
    for (int i = 0; i < t->count; i++) {
        const ParamInfo *p = &t->items[i];
        double floor = 0;
        if (p->kind == PARAM_WEIGHT) {
            for (int a = 0; a < N_ALT; a++) {
                floor = fmax(floor, rel_diff(alts[a].params.grads + p->offset,
                                             ref_grads + p->offset, p->numel, &scale));
            }
            double rel = rel_diff(params_grad(&gm->params, i), ref_grads + p->offset,
                                  p->numel, &scale);
            add_stat(&stats[tensor_class(t, p)], p->name, rel, floor);
        } else if (p->kind == PARAM_BUFFER) {
            for (int a = 0; a < N_ALT; a++) {
                floor = fmax(floor, rel_diff(params_data(&alts[a].params, i),
                                             params_data(t, i), p->numel, &scale));
            }
            double rel = rel_diff(params_data(&gm->params, i), params_data(t, i), p->numel,
                                  &scale);
            add_stat(&stats[CLS_BUFFER], p->name, rel, floor);
        }
    }
    snprintf(name, sizeof name, "%s grad", c->arch);
    print_stats(name, stats, 1);
    assign_mode_same(c, gm, cg, images, labels, rng_before);
    fusion_same(c, gm, cg, images, labels, rng_before, step_logits);
    free(step_logits);
    free(ref_logits);
    free(ref_grads);
}

/* Freezes the first two groups and one module of a later group, gives
 * every group its own lr, on both tables alike. Returns the module name. */
static const char *freeze_some(ParamTable *t)
{
    static char module[PARAM_NAME_MAX];
    module[0] = 0;
    for (int g = 0; g < t->n_groups; g++) {
        params_set_group_frozen(t, g, g < 2);
        t->groups[g].lr = 1e-4f * (float)(1 + g % 3);
        t->groups[g].weight_decay = g % 2 ? 0.05f : 0.0f;
    }
    /* the first conv weight of the third group */
    for (int i = 0; i < t->count && t->n_groups > 3; i++) {
        if (t->items[i].group == 2 && t->items[i].ndim == 4) {
            params_module_name(t, i, module, sizeof module);
            params_set_module_frozen(t, module, 1);
            break;
        }
    }
    return module;
}

/* Freezing, per-group lrs and the optimizer of one side of the steps. */
static const char *prepare_side(Model *m, OptimizerKind kind, Optimizer *opt)
{
    const char *module = freeze_some(&m->params);
    check_rc(optimizer_init(opt, kind, &m->params, &err), "optimizer");
    if (kind == OPT_SGD) {
        opt->momentum = 0.9f;
        for (int g = 0; g < m->params.n_groups; g++) {
            /* SGD moves weights by lr x gradient: larger lrs than AdamW's */
            m->params.groups[g].lr *= 10.0f;
        }
    }
    return module;
}

static void compare_loss(const char *name, float got, float ref, double floor)
{
    double rel = fabs((double)got - ref) / fabs((double)ref);
    double tol = FLOOR_FACTOR * floor > MODEL_TOL ? FLOOR_FACTOR * floor : MODEL_TOL;
    char detail[160];
    snprintf(detail, sizeof detail, "rel %.3e  floor %.3e  tol %.1e", rel, floor, tol);
    check_true(name, rel <= tol, detail);
}

/* Three optimizer steps on the CPU, on the GPU, and on N_ALT more CPU
 * models fed the images moved by one rounding (the noise floors). */
static void optimizer_steps(const Case *c, OptimizerKind kind, Model *cpu, Model *alts,
                            Model *gm, ThawCudaGraph *cg, float *images, int32_t *labels,
                            size_t per_image)
{
    char name[128];
    const char *opt_name = kind == OPT_ADAMW ? "adamw" : "sgd";
    Optimizer opt, alt_opt[N_ALT], gpu_hyper;
    const char *module = prepare_side(cpu, kind, &opt);
    prepare_side(gm, kind, &gpu_hyper);   /* hyper-parameters only */
    GraphMode mode = {.training = 1, .train_bn = 0, .want_input_grad = 0};
    for (int a = 0; a < N_ALT; a++) {
        prepare_side(&alts[a], kind, &alt_opt[a]);
        check_rc(model_plan(&alts[a], BATCH, c->size, c->size, &mode, &err), "plan alt");
    }
    /* the GPU executor starts with fresh moments, like opt */
    float *before = copy_host(cpu->params.weights, cpu->params.n_weights);
    check_rc(plan_both(cpu, gm, cg, c->size), "plan");
    for (int s = 0; s < 3; s++) {
        float cpu_loss, gpu_loss;
        fill_batch(images, labels, per_image);
        cpu_step(cpu, images, labels, &opt, &cpu_loss);
        double floor = 0;
        for (int a = 0; a < N_ALT; a++) {
            float alt_loss;
            float *nudged = nudge(images, per_image * BATCH);
            cpu_step(&alts[a], nudged, labels, &alt_opt[a], &alt_loss);
            free(nudged);
            floor = fmax(floor, fabs((double)alt_loss - cpu_loss) / fabs((double)cpu_loss));
        }
        check_rc(gpu_step(cg, gm, images, labels, &gpu_hyper, &gpu_loss, NULL), "gpu step");
        snprintf(name, sizeof name, "%s %s loss %d", c->arch, opt_name, s + 1);
        compare_loss(name, gpu_loss, cpu_loss, floor);
    }
    check_rc(thaw_cuda_graph_download(cg, gm, &err), "download weights");
    ClassStat stats[N_CLASSES];
    memset(stats, 0, sizeof stats);
    const ParamTable *t = &cpu->params;
    size_t frozen_changed = 0, frozen_n = 0, trained_moved = 0;
    for (int i = 0; i < t->count; i++) {
        const ParamInfo *p = &t->items[i];
        if (p->kind == PARAM_COUNTER) {
            continue;
        }
        double scale, floor = 0;
        const float *got = params_data(&gm->params, i), *ref = params_data(t, i);
        for (int a = 0; a < N_ALT; a++) {
            floor = fmax(floor, rel_diff(params_data(&alts[a].params, i), ref, p->numel, &scale));
        }
        add_stat(&stats[tensor_class(t, p)], p->name, rel_diff(got, ref, p->numel, &scale),
                 floor);
        if (p->kind == PARAM_WEIGHT) {
            const float *b = before + p->offset;
            int frozen = params_frozen(t, i);
            frozen_n += frozen ? p->numel : 0;
            for (size_t k = 0; k < p->numel; k++) {
                if (frozen) {
                    frozen_changed += memcmp(&got[k], &b[k], sizeof(float)) != 0;
                } else {
                    trained_moved += got[k] != b[k];
                }
            }
        }
    }
    snprintf(name, sizeof name, "%s %s x3", c->arch, opt_name);
    print_stats(name, stats, 1);
    char detail[200];
    snprintf(detail, sizeof detail, "%zu of %zu frozen weights changed (groups 0-1, %s); "
             "%zu trained weights moved", frozen_changed, frozen_n,
             module[0] ? module : "-", trained_moved);
    snprintf(name, sizeof name, "%s %s frozen untouched", c->arch, opt_name);
    check_true(name, frozen_changed == 0 && trained_moved > 0, detail);
    free(before);
    optimizer_free(&opt);
    for (int a = 0; a < N_ALT; a++) {
        optimizer_free(&alt_opt[a]);
    }
    optimizer_free(&gpu_hyper);
}

/* B's forward and loss (dropout from rng), B's logits copied out. */
static float *logits_of(Model *gm, ThawCudaGraph *cg, const float *images,
                        const int32_t *labels, uint64_t rng)
{
    float loss;
    const float *l = NULL;
    gm->graph.dropout_rng = rng;
    check_rc(thaw_cuda_graph_set_batch(cg, gm, images, labels, &err), "batch");
    check_rc(thaw_cuda_graph_forward(cg, gm, &err), "forward");
    check_rc(thaw_cuda_graph_loss(cg, gm, 0.1f, &err), "loss");
    check_rc(thaw_cuda_graph_outputs(cg, &loss, &l, &err), "outputs");
    return copy_host(l, (size_t)BATCH * CLASSES);
}

/* The images of a batch go up on the executor's copy stream; the forward
 * must still see the batch just given. Reference: B's logits with B
 * already on the device. Then, with A on the device and the main stream
 * idle, B again: the layout change would start at once and read A if it
 * did not wait for B's copy. Then after a step on A whose backward is
 * still queued, B again: the upload overlaps that backward. All three the
 * same bits (same dropout masks), and not A's. */
static void upload_overlaps_backward(const Case *c, Model *gm, ThawCudaGraph *cg,
                                     size_t per_image)
{
    char name[96], detail[200];
    const size_t nl = (size_t)BATCH * CLASSES;
    float *a = malloc(per_image * BATCH * sizeof(float));
    float *b = malloc(per_image * BATCH * sizeof(float));
    int32_t la[BATCH], lb[BATCH];
    fill_batch(a, la, per_image);
    fill_batch(b, lb, per_image);
    const uint64_t rng = gm->graph.dropout_rng;
    free(logits_of(gm, cg, b, lb, rng));   /* B on the device, then its reference */
    float *ref = logits_of(gm, cg, b, lb, rng);
    float *logits_a = logits_of(gm, cg, a, la, rng);
    check_rc(thaw_cuda_synchronize(ctx, &err), "synchronize");
    float *idle = logits_of(gm, cg, b, lb, rng);
    float loss;
    check_rc(gpu_step(cg, gm, a, la, NULL, &loss, NULL), "gpu step on A");
    float *overlapped = logits_of(gm, cg, b, lb, rng);
    size_t differ_idle = 0, differ_overlap = 0, same_as_a = 0;
    for (size_t i = 0; i < nl; i++) {
        differ_idle += memcmp(&idle[i], &ref[i], sizeof(float)) != 0;
        differ_overlap += memcmp(&overlapped[i], &ref[i], sizeof(float)) != 0;
        same_as_a += memcmp(&ref[i], &logits_a[i], sizeof(float)) == 0;
    }
    snprintf(detail, sizeof detail, "of %zu logits of B: %zu differ after A with the GPU idle, "
             "%zu after A's queued backward; %zu equal A's", nl, differ_idle, differ_overlap,
             same_as_a);
    snprintf(name, sizeof name, "%s upload overlaps backward", c->arch);
    check_true(name, differ_idle == 0 && differ_overlap == 0 && same_as_a < nl, detail);
    free(a);
    free(b);
    free(ref);
    free(logits_a);
    free(idle);
    free(overlapped);
}

static int create_models(const Case *c, Model **models, int n)
{
    for (int k = 0; k < n; k++) {
        memset(models[k], 0, sizeof *models[k]);
        if (model_create(models[k], c->arch, CLASSES, 7, &err) != 0) {
            printf("gpu-op %-30s error: %s  FAIL\n", c->arch, err.msg);
            failures++;
            return 1;
        }
    }
    return 0;
}

static void run_case(const Case *c)
{
    /* models[0] the CPU reference, [1] the GPU's host side, [2..] the
     * noise-floor runs */
    Model models[2 + N_ALT];
    Model *all[2 + N_ALT];
    for (int k = 0; k < 2 + N_ALT; k++) {
        all[k] = &models[k];
    }
    if (create_models(c, all, 2 + N_ALT)) {
        return;
    }
    printf("-- %s, batch %d x 3x%dx%d, %zu weights\n", c->arch, BATCH, c->size, c->size,
           models[0].params.n_weights);
    listed = 0;
    fflush(stdout);
    const size_t per_image = (size_t)3 * c->size * c->size;
    float *images = malloc(per_image * BATCH * sizeof(float));
    int32_t labels[BATCH];
    ThawCudaGraph *cg = NULL;
    check_rc(thaw_cuda_graph_create(&cg, ctx, &models[1], OPT_SGD, &err), "executor");
    gradient_step(c, &models[0], &models[2], &models[1], cg, images, labels, per_image);
    optimizer_steps(c, OPT_SGD, &models[0], &models[2], &models[1], cg, images, labels,
                    per_image);
    upload_overlaps_backward(c, &models[1], cg, per_image);
    printf("   device memory held: %.1f MB\n", thaw_cuda_graph_device_bytes(cg) / 1e6);
    thaw_cuda_graph_destroy(cg);
    for (int k = 0; k < 2 + N_ALT; k++) {
        model_free(all[k]);
    }
    /* AdamW from the same fresh start */
    if (create_models(c, all, 2 + N_ALT) == 0) {
        check_rc(thaw_cuda_graph_create(&cg, ctx, &models[1], OPT_ADAMW, &err), "executor");
        optimizer_steps(c, OPT_ADAMW, &models[0], &models[2], &models[1], cg, images, labels,
                        per_image);
        thaw_cuda_graph_destroy(cg);
        for (int k = 0; k < 2 + N_ALT; k++) {
            model_free(all[k]);
        }
    }
    free(images);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    gpu_start((size_t)256 << 20);
    thaw_cuda_context_set_deterministic(ctx, 1);
    /* THAW_GPU_CUDNN_DEPTHWISE=1: depthwise convolutions through cuDNN
     * instead of the backend's own kernels (tests/gpu/run.sh runs Lite0 both
     * ways) */
    const char *cudnn_dw = getenv("THAW_GPU_CUDNN_DEPTHWISE");
    if (cudnn_dw && strcmp(cudnn_dw, "1") == 0) {
        thaw_cuda_context_set_own_depthwise(ctx, 0);
        printf("depthwise convolutions: cuDNN (THAW_GPU_CUDNN_DEPTHWISE=1)\n");
    }
    /* THAW_GPU_CUDNN_BN=1: train-mode batch norm on cuDNN's kernels */
    const char *cudnn_bn = getenv("THAW_GPU_CUDNN_BN");
    if (cudnn_bn && strcmp(cudnn_bn, "1") == 0) {
        cudnn_bn_on = 1;
        thaw_cuda_context_set_cudnn_batchnorm(ctx, 1);
        printf("batch norm: cuDNN's kernels (THAW_GPU_CUDNN_BN=1)\n");
    }
    static const Case cases[] = {
        {"resnet18", 64},
        {"efficientnet_lite0", 128},
        {"resnet50", 128},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        /* an argument picks one model (debugging on the GPU box) */
        if (argc > 1 && strcmp(argv[1], cases[k].arch) != 0) {
            continue;
        }
        run_case(&cases[k]);
    }
    return gpu_finish();
}
