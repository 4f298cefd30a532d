/* BERT backward: the forward of bert_forward.c in reverse, accumulating
 * into the parameter gradients of trainable parameters. Frozen groups and
 * frozen modules (a per-module freeze: "encoder.layer.3.attention.self.
 * query") get no gradient, gradients still flow through them, and backward
 * stops below the lowest block with a trainable module: with the encoder
 * frozen only the head runs. */
#include <stdlib.h>
#include <string.h>

#include "engine/models/bert_internal.h"
#include "engine/ops/attention.h"
#include "engine/ops/cross_entropy.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/embedding.h"
#include "engine/ops/gelu.h"
#include "engine/ops/layernorm.h"
#include "engine/ops/linear.h"

static int alloc_scratch(BertModel *m, ThawError *err)
{
    if (m->back) {
        return THAW_OK;
    }
    const size_t bt = (size_t)m->batch * m->seq;
    const size_t btc = bt * m->cfg.hidden_size;
    const size_t bti = bt * m->cfg.intermediate_size;
    const size_t bc = (size_t)m->batch * m->cfg.hidden_size;
    const size_t bk = (size_t)m->batch * m->num_classes;
    const size_t ws = attention_workspace_floats(m->seq);
    BertBackScratch *s = calloc(1, sizeof *s);
    size_t total = 8 * btc + 2 * bti + 3 * bc + bk + ws;
    float *p = s ? malloc(total * sizeof(float)) : NULL;
    if (!p) {
        free(s);
        return thaw_fail(err, THAW_ERR_NOMEM,
                         "bert: out of memory for gradients (%zu MiB)",
                         total * sizeof(float) >> 20);
    }
    s->block = p;
    float **btc_bufs[8] = {&s->d_out, &s->d_in, &s->d_res, &s->d_ln1,
                           &s->d_ctx, &s->d_q, &s->d_k, &s->d_v};
    for (int i = 0; i < 8; i++) {
        *btc_bufs[i] = p;
        p += btc;
    }
    s->d_gelu = p;
    p += bti;
    s->d_inter = p;
    p += bti;
    s->d_feat = p;
    p += bc;
    s->d_pooled = p;
    p += bc;
    s->d_cls = p;
    p += bc;
    s->d_logits = p;
    p += bk;
    s->att_ws = p;
    m->back = s;
    return THAW_OK;
}

static void zero(float *p, size_t n)
{
    memset(p, 0, n * sizeof(float));
}

/* Parameter index trains: its group's flag, or its module's own choice
 * (a per-module freeze, params.h). */
static int trainable(const BertModel *m, int index)
{
    return params_trainable(&m->params, index);
}

static int any_trainable(const BertModel *m, int first, int count)
{
    for (int i = first; i < first + count; i++) {
        if (trainable(m, i)) {
            return 1;
        }
    }
    return 0;
}

int bert_lowest_trainable_block(const BertModel *m)
{
    if (any_trainable(m, 0, BE_COUNT)) {
        return 0;
    }
    for (int l = 0; l < m->cfg.num_layers; l++) {
        if (any_trainable(m, bert_layer_param(m, l, 0), BL_COUNT)) {
            return l + 1;
        }
    }
    return m->cfg.num_layers + 1;
}

/* Head and pooling backward: writes (=) the gradient of the last hidden
 * state into d_out. Returns 0 when nothing below the head needs it. */
static void head_backward(BertModel *m, const int32_t *labels,
                          float smoothing, int need_hidden)
{
    BertBackScratch *s = m->back;
    const int c = m->cfg.hidden_size, k = m->num_classes, n = m->batch;
    zero(s->d_logits, (size_t)n * k);
    cross_entropy_backward(s->d_logits, m->probs, labels, n, k, smoothing,
                           1.0f);
    int p = bert_classifier_param(m);
    int pool = bert_pooler_param(m);
    int need_feat = need_hidden ||
                    (m->head == BERT_HEAD_CLS && trainable(m, pool));
    const float *feat = m->head == BERT_HEAD_CLS ? m->pooled_drop : m->pooled_mean;
    zero(s->d_feat, (size_t)n * c);
    linear_backward(need_feat ? s->d_feat : NULL, bert_grad(m, p),
                    bert_grad(m, p + 1), s->d_logits, feat, bert_w(m, p), n, c,
                    k);
    if (!need_feat) {
        return;
    }
    const size_t btc = (size_t)n * m->seq * c;
    if (need_hidden) {
        zero(s->d_out, btc);
    }
    if (m->head == BERT_HEAD_MEAN) {
        const int32_t *km = m->ints + 3 * (size_t)n * m->seq;
        for (int b = 0; b < n; b++) {
            int count = 0;
            for (int t = 0; t < m->seq; t++) {
                count += km[b * m->seq + t];
            }
            float inv = count > 0 ? 1.0f / (float)count : 0.0f;
            for (int t = 0; t < m->seq; t++) {
                if (!km[b * m->seq + t]) {
                    continue;
                }
                float *d = s->d_out + ((size_t)b * m->seq + t) * c;
                for (int j = 0; j < c; j++) {
                    d[j] = s->d_feat[(size_t)b * c + j] * inv;
                }
            }
        }
        return;
    }
    /* CLS: feat = dropout(tanh(dense(cls))) */
    zero(s->d_pooled, (size_t)n * c);
    if (m->pooled_drop_mask) {
        dropout_backward(s->d_pooled, s->d_feat, m->pooled_drop_mask,
                         (size_t)n * c);
    } else {
        memcpy(s->d_pooled, s->d_feat, (size_t)n * c * sizeof(float));
    }
    for (size_t i = 0; i < (size_t)n * c; i++) {
        s->d_pooled[i] *= 1.0f - m->pooled[i] * m->pooled[i];
    }
    zero(s->d_cls, (size_t)n * c);
    linear_backward(need_hidden ? s->d_cls : NULL, bert_grad(m, pool),
                    bert_grad(m, pool + 1), s->d_pooled, m->cls,
                    bert_w(m, pool), n, c, c);
    if (!need_hidden) {
        return;
    }
    for (int b = 0; b < n; b++) {
        memcpy(s->d_out + (size_t)b * m->seq * c, s->d_cls + (size_t)b * c,
               (size_t)c * sizeof(float));
    }
}

/* From d_out (gradient of layer l's output) to d_in (its input's, when
 * need_din), accumulating layer l's parameter gradients. */
static void layer_backward(BertModel *m, int l, int need_din)
{
    const BertConfig *cf = &m->cfg;
    BertBackScratch *s = m->back;
    const BertLayerActs *a = &m->layers[l + 1];
    const float *x = m->layers[l].out;
    const int bt = m->batch * m->seq, c = cf->hidden_size;
    const int in = cf->intermediate_size;
    const size_t btc = (size_t)bt * c, bti = (size_t)bt * in;
#define W(k) bert_w(m, bert_layer_param(m, l, (k)))
#define G(k) bert_grad(m, bert_layer_param(m, l, (k)))
    zero(s->d_res, btc);
    layernorm_backward(s->d_res, G(BL_LN2_W), G(BL_LN2_B), s->d_out, a->res2,
                       a->mean2, a->rstd2, W(BL_LN2_W), bt, c);
    memcpy(s->d_ln1, s->d_res, btc * sizeof(float));   /* residual branch */
    if (a->drop2) {
        for (size_t i = 0; i < btc; i++) {
            s->d_res[i] *= a->drop2[i];
        }
    }
    zero(s->d_gelu, bti);
    linear_backward(s->d_gelu, G(BL_O_W), G(BL_O_B), s->d_res, a->gelu,
                    W(BL_O_W), bt, in, c);
    zero(s->d_inter, bti);
    gelu_backward(s->d_inter, s->d_gelu, a->inter, bti);
    linear_backward(s->d_ln1, G(BL_I_W), G(BL_I_B), s->d_inter, a->ln1,
                    W(BL_I_W), bt, c, in);
    zero(s->d_res, btc);
    layernorm_backward(s->d_res, G(BL_LN1_W), G(BL_LN1_B), s->d_ln1, a->res1,
                       a->mean1, a->rstd1, W(BL_LN1_W), bt, c);
    if (need_din) {
        memcpy(s->d_in, s->d_res, btc * sizeof(float));
    }
    if (a->drop1) {
        for (size_t i = 0; i < btc; i++) {
            s->d_res[i] *= a->drop1[i];
        }
    }
    zero(s->d_ctx, btc);
    linear_backward(s->d_ctx, G(BL_AO_W), G(BL_AO_B), s->d_res, a->ctx,
                    W(BL_AO_W), bt, c, c);
    zero(s->d_q, btc);
    zero(s->d_k, btc);
    zero(s->d_v, btc);
    attention_backward(s->d_q, s->d_k, s->d_v, s->d_ctx, a->q, a->k, a->v,
                       a->probs, a->probs_used, a->att_drop, s->att_ws,
                       m->batch, m->seq, c, cf->num_heads);
    float *din = need_din ? s->d_in : NULL;
    linear_backward(din, G(BL_Q_W), G(BL_Q_B), s->d_q, x, W(BL_Q_W), bt, c, c);
    linear_backward(din, G(BL_K_W), G(BL_K_B), s->d_k, x, W(BL_K_W), bt, c, c);
    linear_backward(din, G(BL_V_W), G(BL_V_B), s->d_v, x, W(BL_V_W), bt, c, c);
#undef W
#undef G
}

static void embeddings_backward(BertModel *m)
{
    BertBackScratch *s = m->back;
    const BertLayerActs *a = &m->layers[0];
    const int bt = m->batch * m->seq, c = m->cfg.hidden_size;
    const size_t btc = (size_t)bt * c;
    const int32_t *id = m->ints, *pos = id + bt, *tt = pos + bt;
    if (a->drop2) {
        for (size_t i = 0; i < btc; i++) {
            s->d_out[i] *= a->drop2[i];
        }
    }
    zero(s->d_res, btc);
    layernorm_backward(s->d_res, bert_grad(m, BE_LN_W), bert_grad(m, BE_LN_B),
                       s->d_out, a->res2, a->mean2, a->rstd2,
                       bert_w(m, BE_LN_W), bt, c);
    /* each table is its own module: a frozen one gets no gradient */
    const int tables[3] = {BE_WORD, BE_POS, BE_TYPE};
    const int32_t *rows[3] = {id, pos, tt};
    for (int k = 0; k < 3; k++) {
        float *g = bert_grad(m, tables[k]);
        if (g) {
            embedding_backward(g, s->d_res, rows[k], bt, c);
        }
    }
}

int bert_backward(BertModel *m, const int32_t *labels, float smoothing,
                  ThawError *err)
{
    if (m->head == BERT_HEAD_NONE || !m->arena) {
        return thaw_fail(err, THAW_ERR_ARG,
                         "bert: backward needs a classifier head and a forward");
    }
    int rc = alloc_scratch(m, err);
    if (rc) {
        return rc;
    }
    const int layers = m->cfg.num_layers;
    int lowest = bert_lowest_trainable_block(m);
    head_backward(m, labels, smoothing, lowest <= layers);
    for (int l = layers - 1; l >= 0 && l + 1 >= lowest; l--) {
        layer_backward(m, l, l + 1 > lowest);
        float *t = m->back->d_out;   /* input gradient feeds the layer below */
        m->back->d_out = m->back->d_in;
        m->back->d_in = t;
    }
    if (lowest == 0) {
        embeddings_backward(m);
    }
    return THAW_OK;
}
