/* BERT forward, layer by layer into the planned arena, and the loss.
 *   embeddings: LN(word[id] + pos[t] + type[tt]) -> dropout
 *   layer:      q,k,v = Linear(x); ctx = attention(q, k, v, mask)
 *               ln1 = LN(dropout(dense(ctx)) + x)
 *               out = LN(dropout(dense2(gelu(dense1(ln1)))) + ln1)
 *   pooling:    masked mean of the last layer; tanh(dense([CLS]))
 *   head:       classifier(mean) or classifier(dropout(pooler)) */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/models/bert_internal.h"
#include "engine/ops/attention.h"
#include "engine/ops/cross_entropy.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/embedding.h"
#include "engine/ops/gelu.h"
#include "engine/ops/layernorm.h"
#include "engine/ops/linear.h"

int bert_set_inputs(BertModel *m, const int32_t *ids, const int32_t *types,
                    const int32_t *mask, ThawError *err)
{
    if (!m->arena) {
        return thaw_fail(err, THAW_ERR_ARG, "bert: inputs before bert_plan");
    }
    const int bt = m->batch * m->seq;
    int32_t *id = m->ints, *pos = id + bt, *tt = pos + bt, *km = tt + bt;
    for (int i = 0; i < bt; i++) {
        int b = i / m->seq, t = i % m->seq;
        if (ids[i] < 0 || ids[i] >= m->cfg.vocab_size) {
            return thaw_fail(err, THAW_ERR_ARG,
                             "bert: token id %d at [%d, %d] outside the "
                             "vocabulary (0..%d)", ids[i], b, t,
                             m->cfg.vocab_size - 1);
        }
        int type = types ? types[i] : 0;
        if (type < 0 || type >= m->cfg.type_vocab_size) {
            return thaw_fail(err, THAW_ERR_ARG,
                             "bert: token type %d at [%d, %d] outside 0..%d",
                             type, b, t, m->cfg.type_vocab_size - 1);
        }
        int keep = mask ? mask[i] : 1;
        if (keep != 0 && keep != 1) {
            return thaw_fail(err, THAW_ERR_ARG,
                             "bert: attention mask %d at [%d, %d] is not 0 or 1",
                             keep, b, t);
        }
        id[i] = ids[i];
        pos[i] = t;
        tt[i] = type;
        km[i] = keep;
    }
    return THAW_OK;
}

static float hidden_p(const BertModel *m)
{
    return m->training ? m->cfg.hidden_dropout : 0.0f;
}

static void embeddings_forward(BertModel *m)
{
    const int bt = m->batch * m->seq, c = m->cfg.hidden_size;
    const int32_t *id = m->ints, *pos = id + bt, *tt = pos + bt;
    BertLayerActs *a = &m->layers[0];
    embedding_forward(a->res2, id, bert_w(m, BE_WORD), bt, c);
    embedding_forward_add(a->res2, pos, bert_w(m, BE_POS), bt, c);
    embedding_forward_add(a->res2, tt, bert_w(m, BE_TYPE), bt, c);
    layernorm_forward(a->emb_ln, a->mean2, a->rstd2, a->res2,
                      bert_w(m, BE_LN_W), bert_w(m, BE_LN_B), bt, c,
                      m->cfg.layer_norm_eps);
    if (a->drop2) {
        dropout_forward(a->out, a->drop2, a->emb_ln, hidden_p(m),
                        (size_t)bt * c, &m->rng);
    }
}

/* dst = dropout(dst) + residual, in place. */
static void dropout_residual(BertModel *m, float *dst, float *mask,
                             const float *residual, size_t n)
{
    if (mask) {
        dropout_forward(dst, mask, dst, hidden_p(m), n, &m->rng);
    }
    add_forward(dst, dst, residual, n);
}

static void layer_forward(BertModel *m, int l)
{
    const BertConfig *cf = &m->cfg;
    const int bt = m->batch * m->seq, c = cf->hidden_size;
    const int in = cf->intermediate_size;
    const size_t btc = (size_t)bt * c;
    BertLayerActs *a = &m->layers[l + 1];
    const float *x = m->layers[l].out;
#define W(k) bert_w(m, bert_layer_param(m, l, (k)))
    linear_forward(a->q, x, W(BL_Q_W), W(BL_Q_B), bt, c, c);
    linear_forward(a->k, x, W(BL_K_W), W(BL_K_B), bt, c, c);
    linear_forward(a->v, x, W(BL_V_W), W(BL_V_B), bt, c, c);
    const int32_t *km = m->ints + 3 * (size_t)bt;
    attention_probs_forward(a->probs, a->q, a->k, km, m->batch, m->seq, c,
                            cf->num_heads);
    if (a->att_drop) {
        size_t n = (size_t)m->batch * cf->num_heads * m->seq * m->seq;
        dropout_forward(a->probs_used, a->att_drop, a->probs,
                        cf->attention_dropout, n, &m->rng);
    }
    attention_context_forward(a->ctx, a->probs_used, a->v, m->batch, m->seq,
                              c, cf->num_heads);
    linear_forward(a->res1, a->ctx, W(BL_AO_W), W(BL_AO_B), bt, c, c);
    dropout_residual(m, a->res1, a->drop1, x, btc);
    layernorm_forward(a->ln1, a->mean1, a->rstd1, a->res1, W(BL_LN1_W),
                      W(BL_LN1_B), bt, c, cf->layer_norm_eps);
    linear_forward(a->inter, a->ln1, W(BL_I_W), W(BL_I_B), bt, c, in);
    gelu_forward(a->gelu, a->inter, (size_t)bt * in);
    linear_forward(a->res2, a->gelu, W(BL_O_W), W(BL_O_B), bt, in, c);
    dropout_residual(m, a->res2, a->drop2, a->ln1, btc);
    layernorm_forward(a->out, a->mean2, a->rstd2, a->res2, W(BL_LN2_W),
                      W(BL_LN2_B), bt, c, cf->layer_norm_eps);
#undef W
}

/* sentence-transformers: sum(h * mask) / clamp(sum(mask), 1e-9). */
static void mean_pool(BertModel *m)
{
    const int c = m->cfg.hidden_size, bt = m->batch * m->seq;
    const float *h = m->layers[m->cfg.num_layers].out;
    const int32_t *km = m->ints + 3 * (size_t)bt;
    for (int b = 0; b < m->batch; b++) {
        float *o = m->pooled_mean + (size_t)b * c;
        memset(o, 0, (size_t)c * sizeof(float));
        int count = 0;
        for (int t = 0; t < m->seq; t++) {
            if (!km[b * m->seq + t]) {
                continue;
            }
            count++;
            const float *row = h + ((size_t)b * m->seq + t) * c;
            for (int j = 0; j < c; j++) {
                o[j] += row[j];
            }
        }
        float inv = count > 0 ? 1.0f / (float)count : 0.0f;
        for (int j = 0; j < c; j++) {
            o[j] *= inv;
        }
    }
}

static void pooler_forward(BertModel *m)
{
    const int c = m->cfg.hidden_size;
    const float *h = m->layers[m->cfg.num_layers].out;
    for (int b = 0; b < m->batch; b++) {
        memcpy(m->cls + (size_t)b * c, h + (size_t)b * m->seq * c,
               (size_t)c * sizeof(float));
    }
    int p = bert_pooler_param(m);
    linear_forward(m->pooled, m->cls, bert_w(m, p), bert_w(m, p + 1), m->batch,
                   c, c);
    for (size_t i = 0; i < (size_t)m->batch * c; i++) {
        m->pooled[i] = tanhf(m->pooled[i]);
    }
}

int bert_forward(BertModel *m, const int32_t *ids, const int32_t *types,
                 const int32_t *mask, ThawError *err)
{
    int rc = bert_set_inputs(m, ids, types, mask, err);
    if (rc) {
        return rc;
    }
    embeddings_forward(m);
    for (int l = 0; l < m->cfg.num_layers; l++) {
        layer_forward(m, l);
    }
    mean_pool(m);
    pooler_forward(m);
    if (m->head == BERT_HEAD_NONE) {
        return THAW_OK;
    }
    const int c = m->cfg.hidden_size;
    const float *feat = m->pooled_mean;
    if (m->head == BERT_HEAD_CLS) {
        if (m->pooled_drop_mask) {
            dropout_forward(m->pooled_drop, m->pooled_drop_mask, m->pooled,
                            hidden_p(m), (size_t)m->batch * c, &m->rng);
        }
        feat = m->pooled_drop;
    }
    int p = bert_classifier_param(m);
    linear_forward(m->logits, feat, bert_w(m, p), bert_w(m, p + 1), m->batch,
                   c, m->num_classes);
    return THAW_OK;
}

float bert_loss(BertModel *m, const int32_t *labels, float smoothing)
{
    return cross_entropy_forward(m->probs, m->logits, labels, m->batch,
                                 m->num_classes, smoothing);
}
