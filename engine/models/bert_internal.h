/* Shared between bert.c (parameters, plan), bert_forward.c and
 * bert_backward.c: parameter indices and the activation layout. */
#ifndef THAW_BERT_INTERNAL_H
#define THAW_BERT_INTERNAL_H

#include "engine/models/bert.h"

/* Parameter order in the table: embeddings, then per layer, then pooler,
 * then classifier, so indices are arithmetic. */
enum {
    BE_WORD, BE_POS, BE_TYPE, BE_LN_W, BE_LN_B, BE_COUNT
};
enum {
    BL_Q_W, BL_Q_B, BL_K_W, BL_K_B, BL_V_W, BL_V_B, BL_AO_W, BL_AO_B,
    BL_LN1_W, BL_LN1_B, BL_I_W, BL_I_B, BL_O_W, BL_O_B, BL_LN2_W, BL_LN2_B,
    BL_COUNT
};

static inline int bert_layer_param(const BertModel *m, int layer, int which)
{
    (void)m;
    return BE_COUNT + layer * BL_COUNT + which;
}
static inline int bert_pooler_param(const BertModel *m)   /* weight; +1 bias */
{
    return BE_COUNT + m->cfg.num_layers * BL_COUNT;
}
static inline int bert_classifier_param(const BertModel *m)
{
    return bert_pooler_param(m) + 2;
}

/* Activations of the embeddings (index 0) or of one encoder layer. Dropout
 * buffers are NULL when the plan has no dropout; then the *_drop pointers
 * alias what they would have copied. */
struct BertLayerActs {
    float *out;            /* [B,T,C] hidden state this block hands on */
    float *res2;           /* LN2 input (embeddings: word+pos+type sum) */
    float *mean2, *rstd2;  /* [B*T] */
    float *drop2;          /* dropout mask of the branch before LN2 */
    float *emb_ln;         /* embeddings only: LN output before dropout */
    /* encoder layers only */
    float *q, *k, *v;      /* [B,T,C] */
    float *probs;          /* [B,H,T,T] */
    float *probs_used;     /* after attention dropout (or = probs) */
    float *att_drop;       /* [B,H,T,T] mask or NULL */
    float *ctx;            /* [B,T,C] attention output before its dense */
    float *res1;           /* LN1 input */
    float *mean1, *rstd1;
    float *drop1;
    float *ln1;            /* [B,T,C] */
    float *inter;          /* [B,T,I] before GELU */
    float *gelu;           /* [B,T,I] */
};

struct BertBackScratch {
    float *block;
    float *d_out, *d_in;   /* [B,T,C] gradient of a layer's output / input */
    float *d_res, *d_ln1, *d_ctx, *d_q, *d_k, *d_v;   /* [B,T,C] */
    float *d_gelu, *d_inter;                           /* [B,T,I] */
    float *d_feat, *d_pooled, *d_cls, *d_logits;       /* [B,C] / [B,K] */
    float *att_ws;
};

/* Lowest block backward must reach: 0 embeddings, l+1 layer l,
 * num_layers+1 nothing below the head. A block counts when any of its
 * modules trains (modules can freeze one by one). */
int bert_lowest_trainable_block(const BertModel *m);

/* Trainable parameter's gradient, NULL when its group is frozen. */
float *bert_grad(const BertModel *m, int index);
const float *bert_w(const BertModel *m, int index);

#endif
