/* BERT forward and backward on the device: bert_forward.c and
 * bert_backward.c line for line, each CPU op replaced by its CUDA twin and
 * each host activation pointer by its device twin (cuda_bert_dev). Where
 * the CPU zeroes a gradient buffer and the next op adds into it, the op
 * here writes it in assign mode (TRY_FIRST_WRITE): the same values. */
#include "engine/cuda/cuda_bert_heads.h"
#include "engine/cuda/cuda_bert_internal.h"
#include "engine/cuda/cuda_ops.h"

extern "C" {
#include "engine/ops/embedding_groups.h"
}

/* Every call of the passes; with profiling on, op calls are timed. */
#define TRY_AS(assign, call)                                                   \
    do {                                                                       \
        if (assign) {                                                          \
            thaw_cuda_context_set_din_assign(cb->ctx, 1);                      \
        }                                                                      \
        int mark_ = cb->prof ? cuda_bert_prof_begin(cb, #call) : -1;           \
        int rc_ = (call);                                                      \
        cuda_bert_prof_end(cb, mark_);                                         \
        if (assign) {                                                          \
            thaw_cuda_context_set_din_assign(cb->ctx, 0);                      \
        }                                                                      \
        if (rc_) {                                                             \
            return rc_;                                                        \
        }                                                                      \
    } while (0)
#define TRY(call) TRY_AS(0, call)
/* An op whose input gradient is a fresh buffer: it writes (=) instead of
 * zeroing the buffer first and adding (the graph executor's assign mode;
 * the same bits, one pass over the buffer less). */
#define TRY_FIRST_WRITE(call) TRY_AS(1, call)

/* Device activation, weight and (trainable only) gradient of entry i. */
#define D(p) cuda_bert_dev(cb, m, (p))
#define W(i) thaw_cuda_arena_data(&cb->arena, &m->params, (i))
#define G(i) grad_of(cb, m, (i))

static float *grad_of(const ThawCudaBert *cb, const BertModel *m, int index)
{
    return params_trainable(&m->params, index) ? thaw_cuda_arena_grad(&cb->arena, &m->params, index)
                                               : NULL;
}

static float hidden_p(const BertModel *m)
{
    return m->training ? m->cfg.hidden_dropout : 0.0f;
}

/* The device copies of m->ints: ids, positions, types, key mask. */
static const int32_t *dev_ints(const ThawCudaBert *cb, const BertModel *m, int which)
{
    return (const int32_t *)cb->ints.ptr + (size_t)which * m->batch * m->seq;
}

static int zero(ThawCudaBert *cb, float *p, size_t n, ThawError *err)
{
    return thaw_cuda_zero(cb->ctx, p, n * sizeof(float), err);
}

static int copy(ThawCudaBert *cb, float *dst, const float *src, size_t n, ThawError *err)
{
    THAW_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice,
                                    cb->ctx->stream));
    return 0;
}

static int embeddings_forward(ThawCudaBert *cb, BertModel *m, ThawError *err)
{
    ThawCudaContext *ctx = cb->ctx;
    const int bt = m->batch * m->seq, c = m->cfg.hidden_size;
    const BertLayerActs *a = &m->layers[0];
    TRY(thaw_cuda_embedding_forward(ctx, D(a->res2), dev_ints(cb, m, 0), W(BE_WORD), bt, c, 0,
                                    err));
    TRY(thaw_cuda_embedding_forward(ctx, D(a->res2), dev_ints(cb, m, 1), W(BE_POS), bt, c, 1,
                                    err));
    TRY(thaw_cuda_embedding_forward(ctx, D(a->res2), dev_ints(cb, m, 2), W(BE_TYPE), bt, c, 1,
                                    err));
    TRY(thaw_cuda_layernorm_forward(ctx, D(a->emb_ln), D(a->mean2), D(a->rstd2), D(a->res2),
                                    W(BE_LN_W), W(BE_LN_B), bt, c, m->cfg.layer_norm_eps,
                                    err));
    if (a->drop2) {
        TRY(thaw_cuda_dropout_forward(ctx, D(a->out), D(a->drop2), D(a->emb_ln), hidden_p(m),
                                      (size_t)bt * c, &m->rng, err));
    }
    return 0;
}

/* dst = dropout(dst) + residual, in place. */
static int dropout_residual(ThawCudaBert *cb, BertModel *m, float *dst, float *mask,
                            const float *residual, size_t n, ThawError *err)
{
    if (mask) {
        TRY(thaw_cuda_dropout_forward(cb->ctx, D(dst), D(mask), D(dst), hidden_p(m), n, &m->rng,
                                      err));
    }
    return thaw_cuda_add_forward(cb->ctx, D(dst), D(dst), D(residual), n, THAW_CUDA_ACT_NONE,
                                 err);
}

static int layer_forward(ThawCudaBert *cb, BertModel *m, int l, ThawError *err)
{
    ThawCudaContext *ctx = cb->ctx;
    const BertConfig *cf = &m->cfg;
    const int bt = m->batch * m->seq, c = cf->hidden_size, in = cf->intermediate_size;
    const size_t btc = (size_t)bt * c;
    const BertLayerActs *a = &m->layers[l + 1];
    const float *x = D(m->layers[l].out);
#define LW(k) W(bert_layer_param(m, l, (k)))
    TRY(thaw_cuda_linear_forward(ctx, D(a->q), x, LW(BL_Q_W), LW(BL_Q_B), bt, c, c, err));
    TRY(thaw_cuda_linear_forward(ctx, D(a->k), x, LW(BL_K_W), LW(BL_K_B), bt, c, c, err));
    TRY(thaw_cuda_linear_forward(ctx, D(a->v), x, LW(BL_V_W), LW(BL_V_B), bt, c, c, err));
    TRY(thaw_cuda_attention_probs_forward(ctx, D(a->probs), D(a->q), D(a->k),
                                          dev_ints(cb, m, 3), m->batch, m->seq, c,
                                          cf->num_heads, err));
    if (a->att_drop) {
        size_t n = (size_t)m->batch * cf->num_heads * m->seq * m->seq;
        TRY(thaw_cuda_dropout_forward(ctx, D(a->probs_used), D(a->att_drop), D(a->probs),
                                      cf->attention_dropout, n, &m->rng, err));
    }
    TRY(thaw_cuda_attention_context_forward(ctx, D(a->ctx), D(a->probs_used), D(a->v),
                                            m->batch, m->seq, c, cf->num_heads, err));
    TRY(thaw_cuda_linear_forward(ctx, D(a->res1), D(a->ctx), LW(BL_AO_W), LW(BL_AO_B), bt, c,
                                 c, err));
    TRY(dropout_residual(cb, m, a->res1, a->drop1, m->layers[l].out, btc, err));
    TRY(thaw_cuda_layernorm_forward(ctx, D(a->ln1), D(a->mean1), D(a->rstd1), D(a->res1),
                                    LW(BL_LN1_W), LW(BL_LN1_B), bt, c, cf->layer_norm_eps,
                                    err));
    TRY(thaw_cuda_linear_forward(ctx, D(a->inter), D(a->ln1), LW(BL_I_W), LW(BL_I_B), bt, c,
                                 in, err));
    TRY(thaw_cuda_gelu_forward(ctx, D(a->gelu), D(a->inter), (size_t)bt * in, err));
    TRY(thaw_cuda_linear_forward(ctx, D(a->res2), D(a->gelu), LW(BL_O_W), LW(BL_O_B), bt, in,
                                 c, err));
    TRY(dropout_residual(cb, m, a->res2, a->drop2, a->ln1, btc, err));
    TRY(thaw_cuda_layernorm_forward(ctx, D(a->out), D(a->mean2), D(a->rstd2), D(a->res2),
                                    LW(BL_LN2_W), LW(BL_LN2_B), bt, c, cf->layer_norm_eps,
                                    err));
#undef LW
    return 0;
}

/* Masked mean, [CLS] rows, tanh pooler, the classifier's input and logits. */
static int head_forward(ThawCudaBert *cb, BertModel *m, ThawError *err)
{
    ThawCudaContext *ctx = cb->ctx;
    const int c = m->cfg.hidden_size, n = m->batch;
    const float *h = D(m->layers[m->cfg.num_layers].out);
    TRY(thaw_cuda_masked_mean_forward(ctx, D(m->pooled_mean), h, dev_ints(cb, m, 3), n,
                                      m->seq, c, err));
    THAW_CUDA_CHECK(cudaMemcpy2DAsync(D(m->cls), (size_t)c * sizeof(float), h,
                                      (size_t)m->seq * c * sizeof(float),
                                      (size_t)c * sizeof(float), (size_t)n,
                                      cudaMemcpyDeviceToDevice, ctx->stream));
    int p = bert_pooler_param(m);
    TRY(thaw_cuda_linear_forward(ctx, D(m->pooled), D(m->cls), W(p), W(p + 1), n, c, c, err));
    TRY(thaw_cuda_tanh_inplace(ctx, D(m->pooled), (size_t)n * c, err));
    if (m->head == BERT_HEAD_NONE) {
        return 0;
    }
    const float *feat = m->pooled_mean;
    if (m->head == BERT_HEAD_CLS) {
        if (m->pooled_drop_mask) {
            TRY(thaw_cuda_dropout_forward(ctx, D(m->pooled_drop), D(m->pooled_drop_mask),
                                          D(m->pooled), hidden_p(m), (size_t)n * c, &m->rng,
                                          err));
        }
        feat = m->pooled_drop;
    }
    p = bert_classifier_param(m);
    return thaw_cuda_linear_forward(ctx, D(m->logits), D(feat), W(p), W(p + 1), n, c,
                                    m->num_classes, err);
}

int thaw_cuda_bert_forward(ThawCudaBert *cb, BertModel *m, ThawError *err)
{
    TRY(cuda_bert_check_plan(cb, m, err));
    if (!cb->has_inputs) {
        return thaw_fail(err, THAW_ERR_ARG, "GPU BERT executor: forward before set_batch");
    }
    TRY(embeddings_forward(cb, m, err));
    for (int l = 0; l < m->cfg.num_layers; l++) {
        TRY(layer_forward(cb, m, l, err));
    }
    return head_forward(cb, m, err);
}

/* The classifier and pooling backward: the gradient of the last hidden
 * state into g->d_out when need_hidden. */
static int head_backward(ThawCudaBert *cb, BertModel *m, float smoothing, int need_hidden,
                         ThawError *err)
{
    ThawCudaContext *ctx = cb->ctx;
    CudaBertGrads *g = &cb->g;
    const int c = m->cfg.hidden_size, k = m->num_classes, n = m->batch;
    const int32_t *labels = dev_ints(cb, m, 4);
    TRY(zero(cb, g->d_logits, (size_t)n * k, err));
    TRY(thaw_cuda_cross_entropy_backward(ctx, g->d_logits, D(m->probs), labels, n, k, smoothing,
                                         1.0f, err));
    int p = bert_classifier_param(m), pool = bert_pooler_param(m);
    int need_feat = need_hidden || (m->head == BERT_HEAD_CLS && params_trainable(&m->params, pool));
    const float *feat = m->head == BERT_HEAD_CLS ? m->pooled_drop : m->pooled_mean;
    TRY_FIRST_WRITE(thaw_cuda_linear_backward(ctx, need_feat ? g->d_feat : NULL, G(p), G(p + 1),
                                              g->d_logits, D(feat), W(p), n, c, k, err));
    if (!need_feat) {
        return 0;
    }
    if (m->head == BERT_HEAD_MEAN) {
        return need_hidden ? thaw_cuda_masked_mean_backward(ctx, g->d_out, g->d_feat,
                                                            dev_ints(cb, m, 3), n, m->seq, c,
                                                            err)
                           : 0;
    }
    /* CLS: feat = dropout(tanh(dense(cls))) */
    const size_t nc = (size_t)n * c;
    if (m->pooled_drop_mask) {
        TRY_FIRST_WRITE(thaw_cuda_dropout_backward(ctx, g->d_pooled, g->d_feat,
                                                   D(m->pooled_drop_mask), nc, err));
    } else {
        TRY(copy(cb, g->d_pooled, g->d_feat, nc, err));
    }
    TRY(thaw_cuda_tanh_backward_inplace(ctx, g->d_pooled, D(m->pooled), nc, err));
    TRY_FIRST_WRITE(thaw_cuda_linear_backward(ctx, need_hidden ? g->d_cls : NULL, G(pool),
                                              G(pool + 1), g->d_pooled, D(m->cls), W(pool), n, c,
                                              c, err));
    if (!need_hidden) {
        return 0;
    }
    TRY(zero(cb, g->d_out, nc * m->seq, err));
    THAW_CUDA_CHECK(cudaMemcpy2DAsync(g->d_out, (size_t)m->seq * c * sizeof(float), g->d_cls,
                                      (size_t)c * sizeof(float), (size_t)c * sizeof(float),
                                      (size_t)n, cudaMemcpyDeviceToDevice, ctx->stream));
    return 0;
}

/* From g->d_out (layer l's output gradient) to g->d_in (its input's, when
 * need_din), adding layer l's parameter gradients. */
static int layer_backward(ThawCudaBert *cb, BertModel *m, int l, int need_din, ThawError *err)
{
    ThawCudaContext *ctx = cb->ctx;
    const BertConfig *cf = &m->cfg;
    CudaBertGrads *g = &cb->g;
    const BertLayerActs *a = &m->layers[l + 1];
    const float *x = D(m->layers[l].out);
    const int bt = m->batch * m->seq, c = cf->hidden_size, in = cf->intermediate_size;
    const size_t btc = (size_t)bt * c, bti = (size_t)bt * in;
#define LW(k) W(bert_layer_param(m, l, (k)))
#define LG(k) G(bert_layer_param(m, l, (k)))
    TRY_FIRST_WRITE(thaw_cuda_layernorm_backward(ctx, g->d_res, LG(BL_LN2_W), LG(BL_LN2_B),
                                                 g->d_out, D(a->res2), D(a->mean2),
                                                 D(a->rstd2), LW(BL_LN2_W), bt, c, err));
    TRY(copy(cb, g->d_ln1, g->d_res, btc, err));   /* residual branch */
    if (a->drop2) {
        TRY(thaw_cuda_scale_inplace(ctx, g->d_res, D(a->drop2), btc, err));
    }
    TRY_FIRST_WRITE(thaw_cuda_linear_backward(ctx, g->d_gelu, LG(BL_O_W), LG(BL_O_B), g->d_res,
                                              D(a->gelu), LW(BL_O_W), bt, in, c, err));
    TRY_FIRST_WRITE(thaw_cuda_gelu_backward(ctx, g->d_inter, g->d_gelu, D(a->inter), bti, err));
    TRY(thaw_cuda_linear_backward(ctx, g->d_ln1, LG(BL_I_W), LG(BL_I_B), g->d_inter, D(a->ln1),
                                  LW(BL_I_W), bt, c, in, err));
    TRY_FIRST_WRITE(thaw_cuda_layernorm_backward(ctx, g->d_res, LG(BL_LN1_W), LG(BL_LN1_B),
                                                 g->d_ln1, D(a->res1), D(a->mean1),
                                                 D(a->rstd1), LW(BL_LN1_W), bt, c, err));
    if (need_din) {
        TRY(copy(cb, g->d_in, g->d_res, btc, err));
    }
    if (a->drop1) {
        TRY(thaw_cuda_scale_inplace(ctx, g->d_res, D(a->drop1), btc, err));
    }
    TRY_FIRST_WRITE(thaw_cuda_linear_backward(ctx, g->d_ctx, LG(BL_AO_W), LG(BL_AO_B), g->d_res,
                                              D(a->ctx), LW(BL_AO_W), bt, c, c, err));
    /* dq, dk, dv: all three fresh (the attention op's one assign flag) */
    TRY_FIRST_WRITE(thaw_cuda_attention_backward(ctx, g->d_q, g->d_k, g->d_v, g->d_ctx, D(a->q),
                                                 D(a->k), D(a->v), D(a->probs),
                                                 D(a->probs_used), D(a->att_drop), m->batch,
                                                 m->seq, c, cf->num_heads, err));
    float *din = need_din ? g->d_in : NULL;
    TRY(thaw_cuda_linear_backward(ctx, din, LG(BL_Q_W), LG(BL_Q_B), g->d_q, x, LW(BL_Q_W), bt,
                                  c, c, err));
    TRY(thaw_cuda_linear_backward(ctx, din, LG(BL_K_W), LG(BL_K_B), g->d_k, x, LW(BL_K_W), bt,
                                  c, c, err));
    TRY(thaw_cuda_linear_backward(ctx, din, LG(BL_V_W), LG(BL_V_B), g->d_v, x, LW(BL_V_W), bt,
                                  c, c, err));
#undef LW
#undef LG
    return 0;
}

/* dtable += the rows of d for each token's index (ids, positions or
 * types): groups built here from the host's copy of the indices. */
static int table_backward(ThawCudaBert *cb, BertModel *m, int table, int which,
                          const float *d, ThawError *err)
{
    float *dtable = G(table);
    if (!dtable) {
        return 0;
    }
    const int bt = m->batch * m->seq;
    const size_t per_table = 3 * (size_t)bt + 1;
    int32_t *host = cb->host_groups + (size_t)which * per_table;
    EmbeddingGroups eg = {0, host, host + bt, host + 2 * (size_t)bt + 1};
    if (embedding_groups_build(&eg, m->ints + (size_t)which * bt, bt) != 0) {
        return thaw_fail(err, THAW_ERR_ARG, "GPU BERT executor: negative embedding index");
    }
    int32_t *dev = (int32_t *)cb->groups.ptr + (size_t)which * per_table;
    /* pageable source: staged before the call returns */
    TRY(thaw_cuda_upload(cb->ctx, dev, host, per_table * sizeof(int32_t), err));
    ThawCudaEmbeddingGroups groups = {eg.n_groups, dev, dev + bt, dev + 2 * (size_t)bt + 1};
    return thaw_cuda_embedding_backward(cb->ctx, dtable, d, &groups, m->cfg.hidden_size, err);
}

static int embeddings_backward(ThawCudaBert *cb, BertModel *m, ThawError *err)
{
    CudaBertGrads *g = &cb->g;
    const BertLayerActs *a = &m->layers[0];
    const int bt = m->batch * m->seq, c = m->cfg.hidden_size;
    const size_t btc = (size_t)bt * c;
    if (a->drop2) {
        TRY(thaw_cuda_scale_inplace(cb->ctx, g->d_out, D(a->drop2), btc, err));
    }
    TRY_FIRST_WRITE(thaw_cuda_layernorm_backward(cb->ctx, g->d_res, G(BE_LN_W), G(BE_LN_B),
                                                 g->d_out, D(a->res2), D(a->mean2),
                                                 D(a->rstd2), W(BE_LN_W), bt, c, err));
    /* each table is its own module: a frozen one gets no gradient */
    TRY(table_backward(cb, m, BE_WORD, 0, g->d_res, err));
    TRY(table_backward(cb, m, BE_POS, 1, g->d_res, err));
    return table_backward(cb, m, BE_TYPE, 2, g->d_res, err);
}

int thaw_cuda_bert_backward(ThawCudaBert *cb, BertModel *m, float smoothing, ThawError *err)
{
    TRY(cuda_bert_check_plan(cb, m, err));
    if (m->head == BERT_HEAD_NONE || !cb->has_labels) {
        return thaw_fail(err, THAW_ERR_ARG,
                         "GPU BERT executor: backward needs a classifier head and labels");
    }
    thaw_cuda_context_set_din_assign(cb->ctx, 0);   /* += unless TRY_FIRST_WRITE */
    TRY(thaw_cuda_arena_zero_grad(cb->ctx, &cb->arena, &m->params, err));
    const int layers = m->cfg.num_layers;
    int lowest = bert_lowest_trainable_block(m);
    TRY(head_backward(cb, m, smoothing, lowest <= layers, err));
    for (int l = layers - 1; l >= 0 && l + 1 >= lowest; l--) {
        TRY(layer_backward(cb, m, l, l + 1 > lowest, err));
        float *t = cb->g.d_out;   /* the input gradient feeds the layer below */
        cb->g.d_out = cb->g.d_in;
        cb->g.d_in = t;
    }
    if (lowest == 0) {
        TRY(embeddings_backward(cb, m, err));
    }
    return 0;
}
