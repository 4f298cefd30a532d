/* BERT encoder: parameter registration with Hugging Face names and groups,
 * init and the activation arena plan (loading: bert_load.c). Forward and
 * backward are in bert_forward.c and bert_backward.c. */
#include "engine/models/bert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/models/bert_internal.h"
#include "engine/models/init.h"

float *bert_grad(const BertModel *m, int index)
{
    return params_trainable(&m->params, index) ? params_grad(&m->params, index)
                                               : NULL;
}

const float *bert_w(const BertModel *m, int index)
{
    return params_data(&m->params, index);
}

static int add(BertModel *m, int group, const char *name, int64_t d0,
               int64_t d1)
{
    int64_t shape[2] = {d0, d1};
    return params_add(&m->params, name, PARAM_WEIGHT, group, d1 > 0 ? 2 : 1,
                      shape) < 0;
}

/* Linear: weight [out, in] and bias [out], "<prefix>.weight/.bias". */
static int add_linear(BertModel *m, int group, const char *prefix,
                      int64_t out, int64_t in)
{
    char name[PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s.weight", prefix);
    int bad = add(m, group, name, out, in);
    snprintf(name, sizeof name, "%s.bias", prefix);
    return bad | add(m, group, name, out, 0);
}

static int add_layernorm(BertModel *m, int group, const char *prefix,
                         int64_t c)
{
    char name[PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s.weight", prefix);
    int bad = add(m, group, name, c, 0);
    snprintf(name, sizeof name, "%s.bias", prefix);
    return bad | add(m, group, name, c, 0);
}

/* Order must match the enums in bert_internal.h. */
static int register_params(BertModel *m)
{
    const BertConfig *c = &m->cfg;
    const int64_t h = c->hidden_size, in = c->intermediate_size;
    int g = params_group(&m->params, "embeddings");
    int bad = add(m, g, "embeddings.word_embeddings.weight", c->vocab_size, h);
    bad |= add(m, g, "embeddings.position_embeddings.weight", c->max_position, h);
    bad |= add(m, g, "embeddings.token_type_embeddings.weight",
               c->type_vocab_size, h);
    bad |= add_layernorm(m, g, "embeddings.LayerNorm", h);
    for (int l = 0; l < c->num_layers && !bad; l++) {
        char p[32], n[64];
        snprintf(p, sizeof p, "encoder.layer.%d", l);
        g = params_group(&m->params, p);
        static const char *const qkv[3] = {"query", "key", "value"};
        for (int i = 0; i < 3; i++) {
            snprintf(n, sizeof n, "%s.attention.self.%s", p, qkv[i]);
            bad |= add_linear(m, g, n, h, h);
        }
        snprintf(n, sizeof n, "%s.attention.output.dense", p);
        bad |= add_linear(m, g, n, h, h);
        snprintf(n, sizeof n, "%s.attention.output.LayerNorm", p);
        bad |= add_layernorm(m, g, n, h);
        snprintf(n, sizeof n, "%s.intermediate.dense", p);
        bad |= add_linear(m, g, n, in, h);
        snprintf(n, sizeof n, "%s.output.dense", p);
        bad |= add_linear(m, g, n, h, in);
        snprintf(n, sizeof n, "%s.output.LayerNorm", p);
        bad |= add_layernorm(m, g, n, h);
    }
    g = params_group(&m->params, "pooler");
    bad |= add_linear(m, g, "pooler.dense", h, h);
    if (m->head != BERT_HEAD_NONE) {
        g = params_group(&m->params, "classifier");
        bad |= add_linear(m, g, "classifier", m->num_classes, h);
    }
    return bad || g < 0;
}

/* transformers' BertPreTrainedModel._init_weights; the new classifier as
 * torch.nn.Linear's reset_parameters. */
static void init_params(BertModel *m, uint64_t seed)
{
    uint64_t rng = seed;
    const ParamTable *t = &m->params;
    int cls = m->head != BERT_HEAD_NONE ? bert_classifier_param(m) : -1;
    for (int i = 0; i < t->count; i++) {
        const ParamInfo *p = &t->items[i];
        float *x = params_data(t, i);
        const char *dot = strrchr(p->name, '.');
        int is_ln = strstr(p->name, "LayerNorm") != NULL;
        if (i == cls || i == cls + 1) {
            float bound = 1.0f / sqrtf((float)m->cfg.hidden_size);
            for (size_t j = 0; j < p->numel; j++) {
                x[j] = (2.0f * rng_uniform(&rng) - 1.0f) * bound;
            }
        } else if (is_ln && strcmp(dot, ".weight") == 0) {
            for (size_t j = 0; j < p->numel; j++) {
                x[j] = 1.0f;
            }
        } else if (p->ndim == 2) {
            for (size_t j = 0; j < p->numel; j++) {
                x[j] = 0.02f * rng_normal(&rng);
            }
        } else {
            memset(x, 0, p->numel * sizeof(float));
        }
    }
    /* BERT's padding token (id 0) has a zero embedding at init */
    memset(params_data(t, BE_WORD), 0, (size_t)m->cfg.hidden_size * sizeof(float));
    m->rng = rng;
}

int bert_create(BertModel *m, const BertConfig *cfg, BertHead head,
                int num_classes, uint64_t seed, ThawError *err)
{
    memset(m, 0, sizeof *m);
    int rc = bert_config_check(cfg, "bert config", err);
    if (rc) {
        return rc;
    }
    if ((head == BERT_HEAD_NONE) != (num_classes == 0) || num_classes < 0) {
        return thaw_fail(err, THAW_ERR_ARG,
                         "bert: a classifier head needs classes >= 1 "
                         "(got %d), and no head needs 0", num_classes);
    }
    m->cfg = *cfg;
    m->head = head;
    m->num_classes = num_classes;
    params_init(&m->params);
    if (register_params(m)) {
        params_free(&m->params);
        return thaw_fail(err, THAW_ERR_NOMEM, "bert: cannot register parameters");
    }
    rc = params_allocate(&m->params, err);
    if (rc) {
        params_free(&m->params);
        return rc;
    }
    init_params(m, seed);
    return THAW_OK;
}

static void free_plan(BertModel *m)
{
    free(m->arena);
    free(m->ints);
    free(m->layers);
    if (m->back) {
        free(m->back->block);
        free(m->back);
    }
    m->arena = NULL;
    m->ints = NULL;
    m->layers = NULL;
    m->back = NULL;
    m->batch = m->seq = 0;
}

void bert_free(BertModel *m)
{
    free_plan(m);
    params_free(&m->params);
}

/* Hands out consecutive slices of one block; count-only when base is NULL. */
typedef struct {
    float *base;
    size_t used;
} Carve;

static float *carve(Carve *c, size_t n)
{
    float *p = c->base ? c->base + c->used : NULL;
    c->used += (n + 15) & ~(size_t)15;   /* 64-byte aligned slices */
    return p;
}

static void carve_layers(BertModel *m, Carve *c, int drop_hidden,
                         int drop_att)
{
    const size_t bt = (size_t)m->batch * m->seq;
    const size_t btc = bt * m->cfg.hidden_size;
    const size_t bti = bt * m->cfg.intermediate_size;
    const size_t bhtt = (size_t)m->batch * m->cfg.num_heads * m->seq * m->seq;
    const size_t bc = (size_t)m->batch * m->cfg.hidden_size;
    for (int l = 0; l <= m->cfg.num_layers; l++) {
        BertLayerActs *a = &m->layers[l];
        memset(a, 0, sizeof *a);
        a->res2 = carve(c, btc);
        a->mean2 = carve(c, bt);
        a->rstd2 = carve(c, bt);
        a->out = carve(c, btc);
        if (l == 0) {
            /* embeddings: LN output, then dropout into out */
            a->emb_ln = drop_hidden ? carve(c, btc) : a->out;
            a->drop2 = drop_hidden ? carve(c, btc) : NULL;
            continue;
        }
        a->drop2 = drop_hidden ? carve(c, btc) : NULL;
        a->q = carve(c, btc);
        a->k = carve(c, btc);
        a->v = carve(c, btc);
        a->probs = carve(c, bhtt);
        a->probs_used = drop_att ? carve(c, bhtt) : a->probs;
        a->att_drop = drop_att ? carve(c, bhtt) : NULL;
        a->ctx = carve(c, btc);
        a->res1 = carve(c, btc);
        a->mean1 = carve(c, bt);
        a->rstd1 = carve(c, bt);
        a->drop1 = drop_hidden ? carve(c, btc) : NULL;
        a->ln1 = carve(c, btc);
        a->inter = carve(c, bti);
        a->gelu = carve(c, bti);
    }
    m->pooled_mean = carve(c, bc);
    m->cls = carve(c, bc);
    m->pooled = carve(c, bc);
    m->pooled_drop = drop_hidden ? carve(c, bc) : m->pooled;
    m->pooled_drop_mask = drop_hidden ? carve(c, bc) : NULL;
    size_t bk = (size_t)m->batch * (m->num_classes > 0 ? m->num_classes : 1);
    m->logits = carve(c, bk);
    m->probs = carve(c, bk);
}

int bert_plan(BertModel *m, int batch, int seq, int training, ThawError *err)
{
    if (batch < 1 || seq < 1 || seq > m->cfg.max_position) {
        return thaw_fail(err, THAW_ERR_ARG,
                         "bert: batch %d x sequence %d (sequence must lie in "
                         "1..%d)", batch, seq, m->cfg.max_position);
    }
    free_plan(m);
    m->batch = batch;
    m->seq = seq;
    m->training = training != 0;
    int drop_hidden = m->training && m->cfg.hidden_dropout > 0.0f;
    int drop_att = m->training && m->cfg.attention_dropout > 0.0f;
    m->layers = calloc((size_t)m->cfg.num_layers + 1, sizeof *m->layers);
    m->ints = malloc(4 * (size_t)batch * seq * sizeof(int32_t));
    Carve c = {NULL, 0};
    if (m->layers) {
        carve_layers(m, &c, drop_hidden, drop_att);   /* sizing pass */
    }
    m->arena_floats = c.used;
    m->arena = m->layers ? aligned_alloc(64, c.used * sizeof(float)) : NULL;
    if (!m->layers || !m->ints || !m->arena) {
        size_t mb = c.used * sizeof(float) >> 20;
        free_plan(m);
        return thaw_fail(err, THAW_ERR_NOMEM,
                         "bert: out of memory for activations (%zu MiB for "
                         "batch %d x %d)", mb, batch, seq);
    }
    c.base = m->arena;
    c.used = 0;
    carve_layers(m, &c, drop_hidden, drop_att);
    return THAW_OK;
}

const float *bert_hidden(const BertModel *m, int layer)
{
    return layer >= 0 && layer <= m->cfg.num_layers ? m->layers[layer].out : NULL;
}

const float *bert_mean_pooled(const BertModel *m)
{
    return m->pooled_mean;
}

const float *bert_pooler_output(const BertModel *m)
{
    return m->pooled;
}

const float *bert_logits(const BertModel *m)
{
    return m->head != BERT_HEAD_NONE ? m->logits : NULL;
}

void bert_l2_normalize(float *rows, int n, int dim)
{
    for (int i = 0; i < n; i++) {
        float *r = rows + (size_t)i * dim;
        double ss = 0.0;
        for (int j = 0; j < dim; j++) {
            ss += (double)r[j] * r[j];
        }
        /* torch.nn.functional.normalize: x / max(||x||, 1e-12) */
        float inv = (float)(1.0 / fmax(sqrt(ss), 1e-12));
        for (int j = 0; j < dim; j++) {
            r[j] *= inv;
        }
    }
}
