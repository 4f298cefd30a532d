/* The GPU graph executor: the plan's mapping onto device memory, forward
 * and backward. The switches mirror engine/graph/run.c op for op (same
 * trainable / runs_backward / bn_batch_stats decisions, same NULL weight
 * gradient for frozen entries, same zero-on-first-write of gradients), so
 * freezing behaves exactly as on the CPU. */
#include "engine/cuda/cuda_graph_internal.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/graph/activation_fusion.h"

#include <stdlib.h>
#include <string.h>

int thaw_cuda_graph_create(ThawCudaGraph **out, ThawCudaContext *ctx, const Model *m,
                           OptimizerKind kind, ThawError *err)
{
    *out = NULL;
    ThawCudaGraph *cg = (ThawCudaGraph *)calloc(1, sizeof *cg);
    if (!cg) {
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory for the GPU executor");
    }
    cg->ctx = ctx;
    cg->assign_grads = 1;
    cg->fuse = 1;
    cg->bf16 = ctx->act_bf16;
    int rc = thaw_cuda_arena_init(ctx, &cg->arena, &m->params, err);
    if (rc == 0 && cg->bf16) {
        rc = thaw_cuda_block_grow(ctx, &cg->weights16, (cg->arena.n_weights + 1) * 2, err);
    }
    if (rc == 0) {
        rc = thaw_cuda_arena_upload(ctx, &cg->arena, &m->params, err);
        rc = rc ? rc : thaw_cuda_graph_refresh_weights16(cg, err);
        rc = rc ? rc : thaw_cuda_optimizer_init(ctx, &cg->optim, kind, &m->params, err);
        /* the upload's events and stream (cuda_graph_io.cu) */
        cudaEvent_t *events[] = {&cg->in_free, &cg->in_read, &cg->in_copied};
        for (size_t i = 0; rc == 0 && i < sizeof events / sizeof events[0]; i++) {
            cudaError_t s = cudaEventCreateWithFlags(events[i], cudaEventDisableTiming);
            if (s != cudaSuccess) {
                rc = thaw_cuda_fail_runtime(err, s, "cudaEventCreateWithFlags", __FILE__,
                                            __LINE__);
            }
        }
        if (rc == 0) {
            cudaError_t s = cudaStreamCreateWithFlags(&cg->copy_stream, cudaStreamNonBlocking);
            if (s != cudaSuccess) {
                rc = thaw_cuda_fail_runtime(err, s, "cudaStreamCreateWithFlags", __FILE__,
                                            __LINE__);
            }
        }
    }
    if (rc) {
        thaw_cuda_graph_destroy(cg);
        return rc;
    }
    *out = cg;
    return 0;
}

void thaw_cuda_graph_destroy(ThawCudaGraph *cg)
{
    if (!cg) {
        return;
    }
    if (cg->ctx) {
        ThawError ignored;
        thaw_cuda_synchronize(cg->ctx, &ignored);
    }
    if (cg->copy_stream) {
        cudaStreamSynchronize(cg->copy_stream);
    }
    DevBlock *blocks[] = {&cg->acts,   &cg->small,    &cg->argmax,    &cg->input_nchw,
                          &cg->labels, &cg->probs,    &cg->row_loss,  &cg->weights16,
                          &cg->logits32};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        thaw_cuda_release(blocks[i]->ptr);
    }
    thaw_cuda_arena_free(&cg->arena);
    if (cg->optim.steps) {
        thaw_cuda_optimizer_free(&cg->optim);
    }
    thaw_cuda_staging_free(&cg->in_stage);
    thaw_cuda_staging_free(&cg->out_stage);
    cudaEvent_t events[] = {cg->in_free, cg->in_read, cg->in_copied};
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        if (events[i]) {
            cudaEventDestroy(events[i]);
        }
    }
    if (cg->copy_stream) {
        cudaStreamDestroy(cg->copy_stream);
    }
    thaw_cuda_graph_set_profile(cg, NULL, 0, NULL);
    free(cg->vdata);
    free(cg->vgrad);
    free(cg->op_mean);
    free(cg->op_rstd);
    free(cg->op_mask);
    free(cg->op_argmax);
    free(cg->op_fuse);
    free(cg);
}

static int grow_tables(ThawCudaGraph *cg, int n_values, int n_ops, ThawError *err)
{
    if (n_values > cg->cap_values) {
        free(cg->vdata);
        free(cg->vgrad);
        cg->vdata = (float **)calloc((size_t)n_values, sizeof(float *));
        cg->vgrad = (float **)calloc((size_t)n_values, sizeof(float *));
        cg->cap_values = cg->vdata && cg->vgrad ? n_values : 0;
    }
    if (n_ops > cg->cap_ops) {
        free(cg->op_mean);
        free(cg->op_rstd);
        free(cg->op_mask);
        free(cg->op_argmax);
        free(cg->op_fuse);
        cg->op_mean = (float **)calloc((size_t)n_ops, sizeof(float *));
        cg->op_rstd = (float **)calloc((size_t)n_ops, sizeof(float *));
        cg->op_mask = (float **)calloc((size_t)n_ops, sizeof(float *));
        cg->op_argmax = (int32_t **)calloc((size_t)n_ops, sizeof(int32_t *));
        cg->op_fuse = (unsigned char *)calloc((size_t)n_ops, 1);
        cg->cap_ops = cg->op_mean && cg->op_rstd && cg->op_mask && cg->op_argmax &&
                              cg->op_fuse
                          ? n_ops
                          : 0;
    }
    if (cg->cap_values < n_values || cg->cap_ops < n_ops) {
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory mapping the graph");
    }
    return 0;
}

/* Floats of the plan's saved_small block: BN mean/rstd, dropout masks (as
 * graph_plan's allocate_small counts them). */
static size_t small_floats(const Graph *g)
{
    size_t n = 0;
    for (int i = 0; i < g->n_ops; i++) {
        const Op *op = &g->ops[i];
        size_t end = 0;
        if (op->mean) {
            end = (size_t)(op->mean - g->saved_small) + 2 * (size_t)g->values[op->out].c;
        } else if (op->mask) {
            end = (size_t)(op->mask - g->saved_small) + g->values[op->out].numel;
        }
        n = end > n ? end : n;
    }
    return n;
}

/* The fusion plan (engine/graph/activation_fusion.h) over the device
 * mapping; all GRAPH_FUSE_NONE when fusion is off. */
static void plan_fusions(ThawCudaGraph *cg, const Graph *g)
{
    memset(cg->op_fuse, GRAPH_FUSE_NONE, (size_t)g->n_ops);
    if (cg->fuse) {
        graph_plan_activation_fusion(g, (const float *const *)cg->vdata, cg->op_fuse);
    }
}

void thaw_cuda_graph_set_fuse(ThawCudaGraph *cg, const Model *m, int on)
{
    cg->fuse = on != 0;
    if (cg->planned) {
        plan_fusions(cg, &m->graph);
    }
}

int thaw_cuda_graph_fused_ops(const ThawCudaGraph *cg, const Model *m)
{
    int n = 0;
    for (int i = 0; cg->planned && i < m->graph.n_ops; i++) {
        n += cg->op_fuse[i] == GRAPH_FUSE_DONE_BEFORE;
    }
    return n;
}

int thaw_cuda_graph_plan(ThawCudaGraph *cg, const Model *m, ThawError *err)
{
    const Graph *g = &m->graph;
    if (!g->arena || g->input < 0 || g->output < 0) {
        return thaw_fail(err, THAW_ERR_ARG, "GPU executor: the model has no plan");
    }
    cg->planned = 0;
    if (cg->bf16 != cg->ctx->act_bf16) {
        return thaw_fail(err, THAW_ERR_ARG, "GPU executor: the context's bf16 mode changed "
                         "after the executor was made");
    }
    /* An upload a failed set_batch left on the copy stream (the main
     * stream's wait covers it otherwise) must be done before its memory
     * may move. */
    THAW_CUDA_CHECK(cudaStreamSynchronize(cg->copy_stream));
    int rc = grow_tables(cg, g->n_values, g->n_ops, err);
    /* argmax: one slot per max-pool op that runs backward, one shared
     * scratch for the others (as the CPU plan) */
    size_t argmax_n = 0, scratch_n = 0;
    for (int i = 0; i < g->n_ops; i++) {
        const Op *op = &g->ops[i];
        if (op->type == OP_MAXPOOL) {
            size_t k = g->values[op->out].numel;
            if (op->runs_backward) {
                argmax_n += k;
            } else if (k > scratch_n) {
                scratch_n = k;
            }
        }
    }
    const Value *in = &g->values[g->input];
    const size_t classes = g->values[g->output].numel / (size_t)m->batch;
    rc = rc ? rc : thaw_cuda_block_grow(cg->ctx, &cg->acts, (g->arena_floats + 16) * thaw_cuda_graph_act_bytes(cg), err);
    rc = rc ? rc : thaw_cuda_block_grow(cg->ctx, &cg->small, (small_floats(g) + 16) * sizeof(float), err);
    rc = rc ? rc : thaw_cuda_block_grow(cg->ctx, &cg->argmax, (argmax_n + scratch_n + 1) * sizeof(int32_t), err);
    rc = rc ? rc : thaw_cuda_block_grow(cg->ctx, &cg->input_nchw, in->numel * sizeof(float), err);
    rc = rc ? rc : thaw_cuda_block_grow(cg->ctx, &cg->labels, (size_t)m->batch * sizeof(int32_t), err);
    rc = rc ? rc : thaw_cuda_block_grow(cg->ctx, &cg->probs, (size_t)m->batch * classes * sizeof(float), err);
    rc = rc ? rc : thaw_cuda_block_grow(cg->ctx, &cg->row_loss, ((size_t)m->batch + 1) * sizeof(float), err);
    if (cg->bf16) {
        rc = rc ? rc : thaw_cuda_block_grow(cg->ctx, &cg->logits32, (size_t)m->batch * classes * sizeof(float), err);
    }
    /* pinned staging: images + labels in, loss + logits out */
    size_t in_bytes = in->numel * sizeof(float) + (size_t)m->batch * sizeof(int32_t);
    size_t out_bytes = (1 + (size_t)m->batch * classes) * sizeof(float);
    if (rc == 0 && cg->in_stage.bytes < in_bytes) {
        rc = thaw_cuda_synchronize(cg->ctx, err);
        thaw_cuda_staging_free(&cg->in_stage);
        cg->in_pending = 0;
        rc = rc ? rc : thaw_cuda_staging_init(&cg->in_stage, in_bytes, err);
    }
    if (rc == 0 && cg->out_stage.bytes < out_bytes) {
        rc = thaw_cuda_synchronize(cg->ctx, err);
        thaw_cuda_staging_free(&cg->out_stage);
        rc = rc ? rc : thaw_cuda_staging_init(&cg->out_stage, out_bytes, err);
    }
    if (rc) {
        return rc;
    }
    float *acts = (float *)cg->acts.ptr, *small = (float *)cg->small.ptr;
    for (int v = 0; v < g->n_values; v++) {
        const Value *val = &g->values[v];
        cg->vdata[v] = acts + (val->data - g->arena);
        cg->vgrad[v] = val->grad ? acts + (val->grad - g->arena) : NULL;
    }
    int32_t *next = (int32_t *)cg->argmax.ptr, *scratch = next + argmax_n;
    for (int i = 0; i < g->n_ops; i++) {
        const Op *op = &g->ops[i];
        cg->op_mean[i] = op->mean ? small + (op->mean - g->saved_small) : NULL;
        cg->op_rstd[i] = op->rstd ? small + (op->rstd - g->saved_small) : NULL;
        cg->op_mask[i] = op->mask ? small + (op->mask - g->saved_small) : NULL;
        cg->op_argmax[i] = NULL;
        if (op->type == OP_MAXPOOL) {
            if (op->runs_backward) {
                cg->op_argmax[i] = next;
                next += g->values[op->out].numel;
            } else {
                cg->op_argmax[i] = scratch;
            }
        }
    }
    cg->batch = m->batch;
    cg->classes = (int)classes;
    cg->planned = 1;
    plan_fusions(cg, g);
    return 0;
}

/* ---- forward ---- */

static float *param(ThawCudaGraph *cg, const ParamTable *p, int index)
{
    return index >= 0 ? thaw_cuda_arena_data(&cg->arena, p, index) : NULL;
}

/* A convolution or linear weight as the ops take it: the fp32 master, or
 * its bf16 copy in bf16 mode. */
static const void *matmul_weight(ThawCudaGraph *cg, const ParamTable *p, int index)
{
    float *w = param(cg, p, index);
    if (!w || !cg->bf16) {
        return w;
    }
    return (const char *)cg->weights16.ptr + (size_t)(w - cg->arena.weights) * 2;
}

static float *param_grad(ThawCudaGraph *cg, const ParamTable *p, const Op *op, int index)
{
    return index >= 0 && op->trainable && params_trainable(p, index)
               ? thaw_cuda_arena_grad(&cg->arena, p, index)
               : NULL;
}

static int copy_device(ThawCudaGraph *cg, void *dst, const void *src, size_t n,
                       ThawError *err)
{
    THAW_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * thaw_cuda_graph_act_bytes(cg),
                                    cudaMemcpyDeviceToDevice, cg->ctx->stream));
    return 0;
}

static int forward_op(ThawCudaGraph *cg, Model *m, int i, ThawError *err)
{
    Graph *g = &m->graph;
    ParamTable *p = &m->params;
    ThawCudaContext *ctx = cg->ctx;
    const Op *op = &g->ops[i];
    const Value *x = &g->values[op->in[0]];
    const Value *y = &g->values[op->out];
    void *xd = thaw_cuda_graph_act(cg, cg->vdata[op->in[0]]);
    void *yd = thaw_cuda_graph_act(cg, cg->vdata[op->out]);
    ThawCudaAct act = THAW_CUDA_ACT_NONE;
    if (cg->op_fuse[i] == GRAPH_FUSE_DONE_BEFORE) {
        return 0;
    }
    if (cg->op_fuse[i] == GRAPH_FUSE_ACT_AFTER) {
        const Op *next = &g->ops[i + 1];
        act = next->type == OP_RELU ? THAW_CUDA_ACT_RELU : THAW_CUDA_ACT_RELU6;
        yd = thaw_cuda_graph_act(cg, cg->vdata[next->out]);
    }
    switch (op->type) {
    case OP_CONV:
        return thaw_cuda_conv2d_forward(ctx, yd, xd, matmul_weight(cg, p, op->weight),
                                        param(cg, p, op->bias), &op->u.conv, err);
    case OP_BATCHNORM: {
        int rows = x->n * x->h * x->w;
        if (op->bn_batch_stats) {
            if (op->counter >= 0) {
                *params_counter(p, op->counter) += 1;
            }
            return thaw_cuda_batchnorm_forward_train(
                ctx, yd, cg->op_mean[i], cg->op_rstd[i], xd, param(cg, p, op->weight),
                param(cg, p, op->bias), param(cg, p, op->running_mean),
                param(cg, p, op->running_var), op->u.bn.momentum, op->u.bn.eps, rows, x->c,
                act, err);
        }
        return thaw_cuda_batchnorm_forward_eval(
            ctx, yd, xd, param(cg, p, op->weight), param(cg, p, op->bias),
            param(cg, p, op->running_mean), param(cg, p, op->running_var), op->u.bn.eps,
            rows, x->c, act, err);
    }
    case OP_RELU:
        return thaw_cuda_relu_forward(ctx, yd, xd, y->numel, err);
    case OP_RELU6:
        return thaw_cuda_relu6_forward(ctx, yd, xd, y->numel, err);
    case OP_MAXPOOL:
        return thaw_cuda_maxpool2d_forward(ctx, yd, cg->op_argmax[i], xd, &op->u.pool, err);
    case OP_AVGPOOL:
        if (op->u.avg.oh == 1 && op->u.avg.ow == 1) {
            return thaw_cuda_global_avgpool_forward(ctx, yd, xd, x->n, x->h, x->w, x->c, err);
        }
        return thaw_cuda_adaptive_avgpool2d_forward(ctx, yd, xd, x->n, x->h, x->w, x->c,
                                                    op->u.avg.oh, op->u.avg.ow, err);
    case OP_ADD:
        return thaw_cuda_add_forward(ctx, yd, xd, thaw_cuda_graph_act(cg, cg->vdata[op->in[1]]),
                                     y->numel, act, err);
    case OP_FLATTEN:
        return thaw_cuda_flatten_forward(ctx, yd, xd, x->n, x->h, x->w, x->c, err);
    case OP_LINEAR:
        return thaw_cuda_linear_forward(ctx, yd, xd, matmul_weight(cg, p, op->weight),
                                        param(cg, p, op->bias), x->n,
                                        op->u.linear.in_features, op->u.linear.out_features,
                                        err);
    case OP_DROPOUT:
        if (g->training && op->u.dropout_p > 0.0f) {
            return thaw_cuda_dropout_forward(ctx, yd, cg->op_mask[i], xd, op->u.dropout_p,
                                             y->numel, &g->dropout_rng, err);
        }
        return yd != xd ? copy_device(cg, yd, xd, y->numel, err) : 0;
    case OP_PAD:
        return thaw_cuda_pad2d_forward(ctx, yd, xd, &op->u.pad, err);
    }
    return thaw_fail(err, THAW_ERR_ARG, "GPU executor: op %d has an unknown type %d", i,
                     (int)op->type);
}

/* Records event k of a profiled pass (no-op when profiling is off). */
static int mark(ThawCudaGraph *cg, cudaEvent_t *events, int k, ThawError *err)
{
    if (cg->profile && k < cg->n_events) {
        THAW_CUDA_CHECK(cudaEventRecord(events[k], cg->ctx->stream));
    }
    return 0;
}

int thaw_cuda_graph_forward(ThawCudaGraph *cg, Model *m, ThawError *err)
{
    if (!cg->planned) {
        return thaw_fail(err, THAW_ERR_ARG, "GPU executor: forward before a plan");
    }
    const int n = m->graph.n_ops;
    for (int i = 0; i < n; i++) {
        int rc = mark(cg, cg->ev_fwd, i, err);
        rc = rc ? rc : forward_op(cg, m, i, err);
        if (rc) {
            return rc;
        }
    }
    cg->fwd_pending = cg->profile;
    return mark(cg, cg->ev_fwd, n, err);
}

void thaw_cuda_graph_set_assign(ThawCudaGraph *cg, int on)
{
    cg->assign_grads = on != 0;
}

int thaw_cuda_graph_set_profile(ThawCudaGraph *cg, const Model *m, int on, ThawError *err)
{
    if (cg->n_events) {
        if (cg->ctx) {
            ThawError ignored;
            thaw_cuda_synchronize(cg->ctx, &ignored);
        }
        for (int i = 0; i < cg->n_events; i++) {
            cudaEventDestroy(cg->ev_fwd[i]);
            cudaEventDestroy(cg->ev_bwd[i]);
        }
    }
    free(cg->ev_fwd);
    free(cg->ev_bwd);
    free(cg->fwd_ms);
    free(cg->bwd_ms);
    cg->ev_fwd = cg->ev_bwd = NULL;
    cg->fwd_ms = cg->bwd_ms = NULL;
    cg->n_events = 0;
    cg->profile = cg->fwd_pending = cg->bwd_pending = 0;
    if (!on) {
        return 0;
    }
    const int n = m->graph.n_ops + 1;
    cg->ev_fwd = (cudaEvent_t *)calloc((size_t)n, sizeof(cudaEvent_t));
    cg->ev_bwd = (cudaEvent_t *)calloc((size_t)n, sizeof(cudaEvent_t));
    cg->fwd_ms = (double *)calloc((size_t)n, sizeof(double));
    cg->bwd_ms = (double *)calloc((size_t)n, sizeof(double));
    if (!cg->ev_fwd || !cg->ev_bwd || !cg->fwd_ms || !cg->bwd_ms) {
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory for GPU profiling");
    }
    for (int i = 0; i < n; i++) {
        THAW_CUDA_CHECK(cudaEventCreate(&cg->ev_fwd[i]));
        THAW_CUDA_CHECK(cudaEventCreate(&cg->ev_bwd[i]));
        cg->n_events = i + 1;
    }
    cg->profile = 1;
    return 0;
}

/* Backward events run in op order n-1 .. 0: event k is recorded before op
 * n-1-k, so op i's time is event (n-1-i) to event (n-i). Ops that do not
 * run backward record back-to-back events and get ~0. */
int thaw_cuda_graph_op_times(ThawCudaGraph *cg, double *fwd_ms, double *bwd_ms, int n_ops,
                             ThawError *err)
{
    if (!cg->profile || n_ops + 1 != cg->n_events) {
        return thaw_fail(err, THAW_ERR_ARG, "GPU executor: profiling is off or the plan changed");
    }
    int rc = thaw_cuda_synchronize(cg->ctx, err);
    for (int i = 0; rc == 0 && i < n_ops; i++) {
        float t = 0.0f;
        if (cg->fwd_pending) {
            THAW_CUDA_CHECK(cudaEventElapsedTime(&t, cg->ev_fwd[i], cg->ev_fwd[i + 1]));
            cg->fwd_ms[i] += t;
        }
        if (cg->bwd_pending) {
            int k = n_ops - 1 - i;
            THAW_CUDA_CHECK(cudaEventElapsedTime(&t, cg->ev_bwd[k], cg->ev_bwd[k + 1]));
            cg->bwd_ms[i] += t;
        }
        fwd_ms[i] = cg->fwd_ms[i];
        bwd_ms[i] = cg->bwd_ms[i];
    }
    cg->fwd_pending = cg->bwd_pending = 0;
    return rc;
}

/* ---- backward ---- */

/* Gradient destination for input k of op i. Its first write (the op is
 * the value's last consumer) zeroes it, or, in assign mode, sets *assign so
 * the op writes instead of adding (input 1 of x + x is not a first write). */
static int input_grad(ThawCudaGraph *cg, const Graph *g, int i, int k, float **out,
                      int *assign, ThawError *err)
{
    const Op *op = &g->ops[i];
    int v = op->in[k];
    const Value *val = &g->values[v];
    *out = NULL;
    *assign = 0;
    if (!val->needs_grad) {
        return 0;
    }
    if (val->last_consumer == i && !(k == 1 && op->in[0] == v)) {
        if (cg->assign_grads) {
            *assign = 1;
        } else {
            int rc = thaw_cuda_zero(cg->ctx, thaw_cuda_graph_act(cg, cg->vgrad[v]),
                                    val->numel * thaw_cuda_graph_act_bytes(cg), err);
            if (rc) {
                return rc;
            }
        }
    }
    *out = cg->vgrad[v];
    return 0;
}

/* Whether the add at op i also runs its fused activation's backward
 * (activation_fusion.h: assign mode and buffers that allow it); else the
 * activation's backward runs on its own as planned. */
static int add_takes_act_backward(const ThawCudaGraph *cg, const Graph *g, int i)
{
    return graph_add_backward_folds(g, (const float *const *)cg->vdata,
                                    (const float *const *)cg->vgrad, cg->op_fuse, i,
                                    cg->assign_grads);
}

/* Op i's backward into dx (and db, an add's second input; both float
 * offsets, vgrad entries). */
static int backward_dispatch(ThawCudaGraph *cg, Model *m, int i, float *dx_at, float *db_at,
                             ThawError *err)
{
    void *dx = thaw_cuda_graph_act(cg, dx_at), *db = thaw_cuda_graph_act(cg, db_at);
    Graph *g = &m->graph;
    ParamTable *p = &m->params;
    ThawCudaContext *ctx = cg->ctx;
    const Op *op = &g->ops[i];
    const Value *x = &g->values[op->in[0]];
    const Value *y = &g->values[op->out];
    const void *xd = thaw_cuda_graph_act(cg, cg->vdata[op->in[0]]);
    const void *yd = thaw_cuda_graph_act(cg, cg->vdata[op->out]);
    const void *dy = thaw_cuda_graph_act(cg, cg->vgrad[op->out]);
    switch (op->type) {
    case OP_CONV:
        return thaw_cuda_conv2d_backward(ctx, dx, param_grad(cg, p, op, op->weight),
                                         param_grad(cg, p, op, op->bias), dy, xd,
                                         matmul_weight(cg, p, op->weight), &op->u.conv, err);
    case OP_BATCHNORM: {
        int rows = x->n * x->h * x->w;
        if (op->bn_batch_stats) {
            return thaw_cuda_batchnorm_backward_train(
                ctx, dx, param_grad(cg, p, op, op->weight), param_grad(cg, p, op, op->bias),
                dy, xd, cg->op_mean[i], cg->op_rstd[i], param(cg, p, op->weight),
                op->u.bn.eps, rows, x->c, err);
        }
        return thaw_cuda_batchnorm_backward_eval(
            ctx, dx, param_grad(cg, p, op, op->weight), param_grad(cg, p, op, op->bias), dy,
            xd, param(cg, p, op->weight), param(cg, p, op->running_mean),
            param(cg, p, op->running_var), op->u.bn.eps, rows, x->c, err);
    }
    case OP_RELU:
        return dx ? thaw_cuda_relu_backward(ctx, dx, dy, yd, y->numel, err) : 0;
    case OP_RELU6:
        return dx ? thaw_cuda_relu6_backward(ctx, dx, dy, yd, y->numel, err) : 0;
    case OP_MAXPOOL:
        return dx ? thaw_cuda_maxpool2d_backward(ctx, dx, dy, cg->op_argmax[i], &op->u.pool,
                                                 err)
                  : 0;
    case OP_AVGPOOL:
        if (!dx) {
            return 0;
        }
        if (op->u.avg.oh == 1 && op->u.avg.ow == 1) {
            return thaw_cuda_global_avgpool_backward(ctx, dx, dy, x->n, x->h, x->w, x->c, err);
        }
        return thaw_cuda_adaptive_avgpool2d_backward(ctx, dx, dy, x->n, x->h, x->w, x->c,
                                                     op->u.avg.oh, op->u.avg.ow, err);
    case OP_ADD:
        if (add_takes_act_backward(cg, g, i)) {
            /* act(a + b): the activation's backward, folded in here */
            const Op *next = &g->ops[i + 1];
            return thaw_cuda_add_backward_gated(
                ctx, dx, db, thaw_cuda_graph_act(cg, cg->vgrad[next->out]),
                thaw_cuda_graph_act(cg, cg->vdata[next->out]),
                next->type == OP_RELU ? THAW_CUDA_ACT_RELU : THAW_CUDA_ACT_RELU6, y->numel, err);
        }
        return thaw_cuda_add_backward(ctx, dx, db, dy, y->numel, err);
    case OP_FLATTEN:
        return dx ? thaw_cuda_flatten_backward(ctx, dx, dy, x->n, x->h, x->w, x->c, err) : 0;
    case OP_LINEAR:
        return thaw_cuda_linear_backward(ctx, dx, param_grad(cg, p, op, op->weight),
                                         param_grad(cg, p, op, op->bias), dy, xd,
                                         matmul_weight(cg, p, op->weight), x->n,
                                         op->u.linear.in_features,
                                         op->u.linear.out_features, err);
    case OP_DROPOUT:
        if (!dx) {
            return 0;
        }
        if (cg->op_mask[i] && op->u.dropout_p > 0.0f) {
            return thaw_cuda_dropout_backward(ctx, dx, dy, cg->op_mask[i], y->numel, err);
        }
        return thaw_cuda_add_backward(ctx, dx, NULL, dy, y->numel, err);
    case OP_PAD:
        return dx ? thaw_cuda_pad2d_backward(ctx, dx, dy, &op->u.pad, err) : 0;
    }
    return thaw_fail(err, THAW_ERR_ARG, "GPU executor: op %d has an unknown type %d", i,
                     (int)op->type);
}

/* Op i's backward with its input gradients' first-write rule: zeroed
 * before, or (assign mode) written by the op; an add whose two inputs
 * differ in that rule runs as two calls. */
static int backward_op(ThawCudaGraph *cg, Model *m, int i, ThawError *err)
{
    const Graph *g = &m->graph;
    const Op *op = &g->ops[i];
    ThawCudaContext *ctx = cg->ctx;
    float *dx = NULL, *db = NULL;
    int assign0 = 0, assign1 = 0;
    int rc = input_grad(cg, g, i, 0, &dx, &assign0, err);
    if (rc == 0 && op->type == OP_ADD) {
        rc = input_grad(cg, g, i, 1, &db, &assign1, err);
    }
    if (rc) {
        return rc;
    }
    if (op->type == OP_ADD && assign0 != assign1 && dx && db) {
        ctx->din_assign = assign0;
        rc = backward_dispatch(cg, m, i, dx, NULL, err);
        ctx->din_assign = assign1;
        rc = rc ? rc : backward_dispatch(cg, m, i, NULL, db, err);
    } else {
        ctx->din_assign = dx ? assign0 : assign1;
        rc = backward_dispatch(cg, m, i, dx, db, err);
    }
    ctx->din_assign = 0;
    return rc;
}

int thaw_cuda_graph_backward(ThawCudaGraph *cg, Model *m, float smoothing, ThawError *err)
{
    Graph *g = &m->graph;
    int rc = thaw_cuda_arena_zero_grad(cg->ctx, &cg->arena, &m->params, err);
    if (rc || !g->training || !cg->vgrad[g->output]) {
        return rc;
    }
    if (!cg->has_labels) {
        return thaw_fail(err, THAW_ERR_ARG, "GPU executor: backward needs the batch's labels");
    }
    const Value *out = &g->values[g->output];
    void *dlogits = thaw_cuda_graph_act(cg, cg->vgrad[g->output]);
    rc = thaw_cuda_zero(cg->ctx, dlogits, out->numel * thaw_cuda_graph_act_bytes(cg), err);
    rc = rc ? rc : thaw_cuda_cross_entropy_backward(cg->ctx, dlogits,
                                                    (const float *)cg->probs.ptr,
                                                    (const int32_t *)cg->labels.ptr, m->batch,
                                                    cg->classes, smoothing, 1.0f, err);
    for (int i = g->n_ops - 1; rc == 0 && i >= 0; i--) {
        rc = mark(cg, cg->ev_bwd, g->n_ops - 1 - i, err);
        /* an activation folded into the add before it runs in the add's
         * backward when the add can take it (its gradient has no other
         * reader) */
        int folded = cg->op_fuse[i] == GRAPH_FUSE_DONE_BEFORE && i > 0 &&
                     add_takes_act_backward(cg, g, i - 1);
        if (rc == 0 && g->ops[i].runs_backward && !folded) {
            rc = backward_op(cg, m, i, err);
        }
    }
    rc = rc ? rc : mark(cg, cg->ev_bwd, g->n_ops, err);
    cg->bwd_pending = rc == 0 && cg->profile;
    return rc;
}
