/* The BERT executor's set-up and traffic with the host (cuda_bert.h):
 * parameters and optimizer, the plan's device blocks, batches in, the
 * loss and logits out, weights / gradients / moments / activations back. */
#include "engine/cuda/cuda_bert_internal.h"
#include "engine/cuda/cuda_ops.h"

#include <stdlib.h>
#include <string.h>

int thaw_cuda_bert_create(ThawCudaBert **out, ThawCudaContext *ctx, const BertModel *m,
                          OptimizerKind kind, ThawError *err)
{
    *out = NULL;
    if (ctx->act_bf16) {   /* the text ops are fp32 only (cuda_context.h) */
        return thaw_fail(err, THAW_ERR_ARG, "GPU BERT executor: bf16 is for image models "
                         "only; text runs train in fp32 or tf32");
    }
    ThawCudaBert *cb = (ThawCudaBert *)calloc(1, sizeof *cb);
    if (!cb) {
        return thaw_fail(err, THAW_ERR_NOMEM, "GPU BERT executor: out of memory");
    }
    cb->ctx = ctx;
    int rc = thaw_cuda_arena_init(ctx, &cb->arena, &m->params, err);
    rc = rc ? rc : thaw_cuda_arena_upload(ctx, &cb->arena, &m->params, err);
    rc = rc ? rc : thaw_cuda_optimizer_init(ctx, &cb->optim, kind, &m->params, err);
    /* the upload reads pageable memory the caller may change next */
    rc = rc ? rc : thaw_cuda_synchronize(ctx, err);
    if (rc) {
        thaw_cuda_bert_destroy(cb);
        return rc;
    }
    *out = cb;
    return 0;
}

void thaw_cuda_bert_destroy(ThawCudaBert *cb)
{
    if (!cb) {
        return;
    }
    cudaStreamSynchronize(cb->ctx->stream);
    cuda_bert_prof_free(cb);
    thaw_cuda_arena_free(&cb->arena);
    thaw_cuda_optimizer_free(&cb->optim);
    DevBlock *blocks[] = {&cb->acts, &cb->grads, &cb->ints, &cb->groups, &cb->loss};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        thaw_cuda_release(blocks[i]->ptr);
    }
    thaw_cuda_staging_free(&cb->out_stage);
    free(cb->host_groups);
    free(cb);
}

int cuda_bert_check_plan(const ThawCudaBert *cb, const BertModel *m, ThawError *err)
{
    if (!m->arena || m->arena != cb->host_base || m->arena_floats != cb->arena_floats ||
        m->batch != cb->batch || m->seq != cb->seq || m->training != cb->training) {
        return thaw_fail(err, THAW_ERR_ARG,
                         "GPU BERT executor: the model was planned again (batch %d x %d); "
                         "call thaw_cuda_bert_plan first", m->batch, m->seq);
    }
    return 0;
}

static void carve_grads(ThawCudaBert *cb, const BertModel *m)
{
    const size_t bt = (size_t)m->batch * m->seq;
    const size_t btc = bt * m->cfg.hidden_size, bti = bt * m->cfg.intermediate_size;
    const size_t bc = (size_t)m->batch * m->cfg.hidden_size;
    float *p = (float *)cb->grads.ptr;
    float **btc_bufs[8] = {&cb->g.d_out, &cb->g.d_in, &cb->g.d_res, &cb->g.d_ln1,
                           &cb->g.d_ctx, &cb->g.d_q, &cb->g.d_k, &cb->g.d_v};
    for (int i = 0; i < 8; i++) {
        *btc_bufs[i] = p;
        p += btc;
    }
    cb->g.d_gelu = p;
    p += bti;
    cb->g.d_inter = p;
    p += bti;
    cb->g.d_feat = p;
    p += bc;
    cb->g.d_pooled = p;
    p += bc;
    cb->g.d_cls = p;
    p += bc;
    cb->g.d_logits = p;
}

int thaw_cuda_bert_plan(ThawCudaBert *cb, const BertModel *m, ThawError *err)
{
    if (!m->arena) {
        return thaw_fail(err, THAW_ERR_ARG, "GPU BERT executor: plan before bert_plan");
    }
    const size_t bt = (size_t)m->batch * m->seq;
    const size_t btc = bt * m->cfg.hidden_size, bti = bt * m->cfg.intermediate_size;
    const size_t bc = (size_t)m->batch * m->cfg.hidden_size;
    const size_t k = m->num_classes > 0 ? (size_t)m->num_classes : 1;
    const size_t bk = (size_t)m->batch * k;
    const size_t group_ints = 3 * (3 * bt + 1);   /* id, start, order per table */
    int rc = thaw_cuda_block_grow(cb->ctx, &cb->acts, m->arena_floats * sizeof(float), err);
    rc = rc ? rc : thaw_cuda_block_grow(cb->ctx, &cb->grads,
                                        (8 * btc + 2 * bti + 3 * bc + bk) * sizeof(float), err);
    rc = rc ? rc : thaw_cuda_block_grow(cb->ctx, &cb->ints,
                                        (4 * bt + (size_t)m->batch) * sizeof(int32_t), err);
    rc = rc ? rc : thaw_cuda_block_grow(cb->ctx, &cb->groups, group_ints * sizeof(int32_t),
                                        err);
    rc = rc ? rc : thaw_cuda_block_grow(cb->ctx, &cb->loss,
                                        ((size_t)m->batch + 1) * sizeof(float), err);
    if (rc) {
        return rc;
    }
    const size_t out_bytes = (1 + bk) * sizeof(float);
    if (out_bytes > cb->out_stage.bytes) {
        rc = thaw_cuda_synchronize(cb->ctx, err);   /* a download may still land there */
        if (rc) {
            return rc;
        }
        thaw_cuda_staging_free(&cb->out_stage);
        rc = thaw_cuda_staging_init(&cb->out_stage, out_bytes, err);
        if (rc) {
            return rc;
        }
    }
    if (group_ints > cb->host_groups_cap) {
        int32_t *h = (int32_t *)realloc(cb->host_groups, group_ints * sizeof(int32_t));
        if (!h) {
            return thaw_fail(err, THAW_ERR_NOMEM, "GPU BERT executor: out of memory");
        }
        cb->host_groups = h;
        cb->host_groups_cap = group_ints;
    }
    carve_grads(cb, m);
    cb->host_base = m->arena;
    cb->arena_floats = m->arena_floats;
    cb->batch = m->batch;
    cb->seq = m->seq;
    cb->training = m->training;
    cb->has_inputs = cb->has_labels = 0;
    return 0;
}

int thaw_cuda_bert_set_batch(ThawCudaBert *cb, BertModel *m, const int32_t *ids,
                             const int32_t *types, const int32_t *mask,
                             const int32_t *labels, ThawError *err)
{
    cb->has_inputs = cb->has_labels = 0;   /* a rejected batch leaves none behind */
    int rc = cuda_bert_check_plan(cb, m, err);
    rc = rc ? rc : bert_set_inputs(m, ids, types, mask, err);
    if (rc) {
        return rc;
    }
    for (int b = 0; labels && b < m->batch; b++) {
        if (labels[b] < 0 || labels[b] >= m->num_classes) {
            return thaw_fail(err, THAW_ERR_ARG, "bert: label %d of batch item %d outside "
                             "0..%d", labels[b], b, m->num_classes - 1);
        }
    }
    const size_t bt = (size_t)m->batch * m->seq;
    int32_t *dev = (int32_t *)cb->ints.ptr;
    /* pageable sources: the call returns once they are staged (CUDA's
     * rule for host-to-device copies), so the host may reuse them */
    rc = thaw_cuda_upload(cb->ctx, dev, m->ints, 4 * bt * sizeof(int32_t), err);
    if (rc == 0 && labels) {
        rc = thaw_cuda_upload(cb->ctx, dev + 4 * bt, labels,
                              (size_t)m->batch * sizeof(int32_t), err);
    }
    cb->has_inputs = rc == 0;
    cb->has_labels = rc == 0 && labels != NULL;
    return rc;
}

static int queue_logits(ThawCudaBert *cb, const BertModel *m, ThawError *err)
{
    if (m->head == BERT_HEAD_NONE) {
        return thaw_fail(err, THAW_ERR_ARG, "GPU BERT executor: no classifier head");
    }
    float *host = (float *)cb->out_stage.host + 1;
    THAW_CUDA_CHECK(cudaMemcpyAsync(host, cuda_bert_dev(cb, m, m->logits),
                                    (size_t)m->batch * m->num_classes * sizeof(float),
                                    cudaMemcpyDeviceToHost, cb->ctx->stream));
    return 0;
}

int thaw_cuda_bert_loss(ThawCudaBert *cb, const BertModel *m, float smoothing, ThawError *err)
{
    int rc = cuda_bert_check_plan(cb, m, err);
    if (rc) {
        return rc;
    }
    if (!cb->has_labels || m->head == BERT_HEAD_NONE) {
        return thaw_fail(err, THAW_ERR_ARG,
                         "GPU BERT executor: the loss needs a head and the batch's labels");
    }
    const int32_t *labels = (const int32_t *)cb->ints.ptr + 4 * (size_t)m->batch * m->seq;
    float *rows = (float *)cb->loss.ptr, *mean = rows + m->batch;
    rc = thaw_cuda_cross_entropy_forward(cb->ctx, mean, cuda_bert_dev(cb, m, m->probs), rows,
                                         cuda_bert_dev(cb, m, m->logits), labels, m->batch,
                                         m->num_classes, smoothing, err);
    if (rc) {
        return rc;
    }
    THAW_CUDA_CHECK(cudaMemcpyAsync(cb->out_stage.host, mean, sizeof(float),
                                    cudaMemcpyDeviceToHost, cb->ctx->stream));
    return queue_logits(cb, m, err);
}

int thaw_cuda_bert_fetch_logits(ThawCudaBert *cb, const BertModel *m, ThawError *err)
{
    int rc = cuda_bert_check_plan(cb, m, err);
    return rc ? rc : queue_logits(cb, m, err);
}

int thaw_cuda_bert_outputs(ThawCudaBert *cb, float *loss, const float **logits,
                           ThawError *err)
{
    int rc = thaw_cuda_synchronize(cb->ctx, err);
    if (rc) {
        return rc;
    }
    if (loss) {
        *loss = *(const float *)cb->out_stage.host;
    }
    if (logits) {
        *logits = (const float *)cb->out_stage.host + 1;
    }
    return 0;
}

int thaw_cuda_bert_optimizer_step(ThawCudaBert *cb, const BertModel *m, const Optimizer *hyper,
                                  ThawError *err)
{
    thaw_cuda_optimizer_set_hyper(&cb->optim, hyper);
    return thaw_cuda_optimizer_step(cb->ctx, &cb->optim, &cb->arena, &m->params, err);
}

int thaw_cuda_bert_download(ThawCudaBert *cb, BertModel *m, ThawError *err)
{
    return thaw_cuda_arena_download(cb->ctx, &cb->arena, &m->params, err);
}

int thaw_cuda_bert_upload(ThawCudaBert *cb, const BertModel *m, ThawError *err)
{
    int rc = thaw_cuda_arena_upload(cb->ctx, &cb->arena, &m->params, err);
    return rc ? rc : thaw_cuda_synchronize(cb->ctx, err);
}

int thaw_cuda_bert_download_grads(ThawCudaBert *cb, BertModel *m, ThawError *err)
{
    return thaw_cuda_arena_download_grads(cb->ctx, &cb->arena, &m->params, err);
}

int thaw_cuda_bert_download_optimizer(ThawCudaBert *cb, Optimizer *host, ThawError *err)
{
    return thaw_cuda_optimizer_download(cb->ctx, &cb->optim, host, err);
}

int thaw_cuda_bert_upload_optimizer(ThawCudaBert *cb, const Optimizer *host, ThawError *err)
{
    return thaw_cuda_optimizer_upload(cb->ctx, &cb->optim, host, err);
}

int thaw_cuda_bert_download_acts(ThawCudaBert *cb, BertModel *m, ThawError *err)
{
    int rc = cuda_bert_check_plan(cb, m, err);
    rc = rc ? rc : thaw_cuda_download(cb->ctx, m->arena, cb->acts.ptr,
                                      m->arena_floats * sizeof(float), err);
    return rc ? rc : thaw_cuda_synchronize(cb->ctx, err);
}

size_t thaw_cuda_bert_device_bytes(const ThawCudaBert *cb)
{
    size_t n = (2 * cb->arena.n_weights + cb->arena.n_buffers) * sizeof(float);
    n += cb->out_stage.bytes;   /* pinned host memory, but the executor's */
    n += cb->optim.n_weights * sizeof(float) * (cb->optim.kind == OPT_ADAMW ? 2 : 1);
    const DevBlock *blocks[] = {&cb->acts, &cb->grads, &cb->ints, &cb->groups, &cb->loss};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        n += blocks[i]->bytes;
    }
    return n;
}
