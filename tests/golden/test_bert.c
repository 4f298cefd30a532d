/* BERT encoder against PyTorch (gen_bert.py): a random 2-layer config read
 * from its config.json, and all-MiniLM-L6-v2 on its real weights. Eval:
 * hidden states of every layer, mean-pooled sentence embeddings (and their
 * L2 normalisation), pooler output. Train mode with dropout off, for a new
 * classifier on mean pooling and on the [CLS] pooler: logits, loss and
 * every parameter gradient; then again with the embeddings and the lower
 * layers frozen (their gradients must stay zero, the others unchanged).
 * With dropout on, the gradient against a central difference of the loss
 * (same masks). Also: bad ids, bad configs and misshapen keys are errors
 * (checkpoint layouts and unknown keys: test_bert_load.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "engine/models/bert.h"
#include "support/golden.h"

typedef struct {
    int32_t *ids, *types, *mask, *labels;
    int batch, seq;
} Batch;

static Batch load_batch(const SafeTensors *st)
{
    Batch b;
    int64_t shape[4];
    assert_int_equal(golden_shape(st, "ids", shape), 2);
    b.batch = (int)shape[0];
    b.seq = (int)shape[1];
    b.ids = golden_load_i32(st, "ids", NULL);
    b.types = golden_load_i32(st, "types", NULL);
    b.mask = golden_load_i32(st, "mask", NULL);
    b.labels = golden_load_i32(st, "labels", NULL);
    return b;
}

static void free_batch(Batch *b)
{
    free(b->ids);
    free(b->types);
    free(b->mask);
    free(b->labels);
}

static void make_model(BertModel *m, const char *config, const char *weights,
                       const SafeTensors *golden, BertHead head)
{
    BertConfig cfg;
    ThawError err = {0};
    if (bert_config_load(&cfg, config, &err) ||
        bert_create(m, &cfg, head, 3, 7, &err) ||
        bert_load_safetensors(m, weights, &err)) {
        fail_msg("%s", err.msg);
    }
    if (golden) {   /* MiniLM's file has no classifier: take the golden's */
        int64_t numel;
        int p = params_find(&m->params, "classifier.weight");
        float *w = golden_load(golden, "classifier.weight", &numel);
        memcpy(params_data(&m->params, p), w, (size_t)numel * sizeof(float));
        free(w);
        p = params_find(&m->params, "classifier.bias");
        w = golden_load(golden, "classifier.bias", &numel);
        memcpy(params_data(&m->params, p), w, (size_t)numel * sizeof(float));
        free(w);
    }
}

static int check_eval(BertModel *m, const SafeTensors *st, const Batch *b)
{
    ThawError err = {0};
    if (bert_plan(m, b->batch, b->seq, 0, &err) ||
        bert_forward(m, b->ids, b->types, b->mask, &err)) {
        fail_msg("%s", err.msg);
    }
    const int c = m->cfg.hidden_size;
    const size_t btc = (size_t)b->batch * b->seq * c, bc = (size_t)b->batch * c;
    int ok = 1;
    for (int l = 0; l <= m->cfg.num_layers; l++) {
        char key[32];
        snprintf(key, sizeof key, "hidden.%d", l);
        ok &= golden_check(st, key, bert_hidden(m, l), btc, GOLDEN_REL_TOL);
    }
    ok &= golden_check(st, "mean_pooled", bert_mean_pooled(m), bc, GOLDEN_REL_TOL);
    float *norm = malloc(bc * sizeof(float));
    memcpy(norm, bert_mean_pooled(m), bc * sizeof(float));
    bert_l2_normalize(norm, b->batch, c);
    ok &= golden_check(st, "mean_normalized", norm, bc, GOLDEN_REL_TOL);
    free(norm);
    ok &= golden_check(st, "pooler_output", bert_pooler_output(m), bc,
                       GOLDEN_REL_TOL);
    return ok;
}

/* Word embeddings: the golden holds the rows of the ids used; every other
 * row of ours must be exactly zero. */
static int check_word_grad(const SafeTensors *st, const char *key,
                           const float *got, int rows, int dim,
                           const char *head)
{
    int64_t n_used;
    char ids_key[] = "used_ids";
    int32_t *used = golden_load_i32(st, ids_key, &n_used);
    float *picked = malloc((size_t)n_used * dim * sizeof(float));
    char *is_used = calloc((size_t)rows, 1);
    for (int64_t i = 0; i < n_used; i++) {
        memcpy(picked + i * dim, got + (size_t)used[i] * dim, dim * sizeof(float));
        is_used[used[i]] = 1;
    }
    int ok = golden_check(st, key, picked, (size_t)n_used * dim, GOLDEN_REL_TOL);
    size_t stray = 0;
    for (int r = 0; r < rows; r++) {
        for (int j = 0; j < dim && !is_used[r]; j++) {
            stray += got[(size_t)r * dim + j] != 0.0f;
        }
    }
    printf("%-4s %s word rows of unused ids all zero (%zu non-zero)\n",
           stray ? "FAIL" : "OK", head, stray);
    free(picked);
    free(is_used);
    free(used);
    return ok && !stray;
}

/* The key bias gets no gradient in exact arithmetic: it shifts every score
 * of a query's row by the same q.b_k, and softmax ignores a shift. Both
 * PyTorch's and our values are rounding noise (1e-19 in float64, 1e-10 in
 * float32), so a relative test is meaningless; ours must be noise on the
 * scale of the key weight's gradient: max|g| <= 1e-4 max|dW_k|. */
static int check_key_bias(const SafeTensors *st, const char *key,
                          const float *got, size_t n)
{
    char wkey[PARAM_NAME_MAX + 32];
    snprintf(wkey, sizeof wkey, "%.*sweight", (int)(strlen(key) - 4), key);
    int64_t nw;
    float *w = golden_load(st, wkey, &nw);
    double scale = 0.0, worst = 0.0;
    for (int64_t i = 0; i < nw; i++) {
        scale = fabs(w[i]) > scale ? fabs(w[i]) : scale;
    }
    for (size_t i = 0; i < n; i++) {
        worst = fabs(got[i]) > worst ? fabs(got[i]) : worst;
    }
    free(w);
    int ok = worst <= GOLDEN_REL_TOL * scale;
    printf("%-4s %-40s max|got|=%.3e (exactly 0; scale max|dW_k|=%.3e)\n",
           ok ? "OK" : "FAIL", key, worst, scale);
    return ok;
}

/* Train mode, dropout off: loss and every gradient. Frozen groups must
 * keep an all-zero gradient. */
static int check_train(BertModel *m, const SafeTensors *st, const Batch *b,
                       const char *head)
{
    ThawError err = {0};
    m->cfg.hidden_dropout = 0.0f;
    m->cfg.attention_dropout = 0.0f;
    if (bert_plan(m, b->batch, b->seq, 1, &err) ||
        bert_forward(m, b->ids, b->types, b->mask, &err)) {
        fail_msg("%s", err.msg);
    }
    char key[PARAM_NAME_MAX + 32];
    int ok = 1;
    snprintf(key, sizeof key, "%s.logits", head);
    ok &= golden_check(st, key, bert_logits(m), (size_t)b->batch * 3,
                       GOLDEN_REL_TOL);
    float loss = bert_loss(m, b->labels, 0.0f);
    snprintf(key, sizeof key, "%s.loss", head);
    ok &= golden_check(st, key, &loss, 1, GOLDEN_REL_TOL);
    memset(m->params.grads, 0, m->params.n_weights * sizeof(float));
    if (bert_backward(m, b->labels, 0.0f, &err)) {
        fail_msg("%s", err.msg);
    }
    const ParamTable *t = &m->params;
    for (int i = 0; i < t->count; i++) {
        const ParamInfo *p = &t->items[i];
        const float *g = params_grad(t, i);
        if (!params_trainable(t, i)) {
            size_t nz = 0;
            for (size_t j = 0; j < p->numel; j++) {
                nz += g[j] != 0.0f;
            }
            printf("%-4s %s frozen %s: gradient untouched\n", nz ? "FAIL" : "OK",
                   head, p->name);
            ok &= nz == 0;
            continue;
        }
        snprintf(key, sizeof key, "%s.grad_rows.%s", head, p->name);
        if (st_find(st, key)) {
            ok &= check_word_grad(st, key, g, (int)p->shape[0], (int)p->shape[1],
                                  head);
            continue;
        }
        snprintf(key, sizeof key, "%s.grad.%s", head, p->name);
        if (strstr(p->name, "attention.self.key.bias")) {
            ok &= check_key_bias(st, key, g, p->numel);
        } else {
            ok &= golden_check(st, key, g, p->numel, GOLDEN_REL_TOL);
        }
    }
    return ok;
}

static void freeze_lower(BertModel *m, int layers)
{
    m->params.groups[params_find_group(&m->params, "embeddings")].frozen = 1;
    for (int l = 0; l < layers; l++) {
        char g[32];
        snprintf(g, sizeof g, "encoder.layer.%d", l);
        m->params.groups[params_find_group(&m->params, g)].frozen = 1;
    }
}

static void run_all(const char *golden, const char *config,
                    const char *weights, int classifier_from_golden,
                    int freeze_layers)
{
    SafeTensors *st = golden_open(golden);
    Batch b = load_batch(st);
    const SafeTensors *cls_src = classifier_from_golden ? st : NULL;
    int ok = 1;
    BertModel m;
    make_model(&m, config, weights, cls_src, BERT_HEAD_MEAN);
    ok &= check_eval(&m, st, &b);
    ok &= check_train(&m, st, &b, "mean");
    bert_free(&m);

    make_model(&m, config, weights, cls_src, BERT_HEAD_CLS);
    ok &= check_train(&m, st, &b, "cls");
    freeze_lower(&m, freeze_layers);
    ok &= check_train(&m, st, &b, "cls");
    bert_free(&m);
    free_batch(&b);
    st_close(st);
    assert_true(ok);
}

static void tiny_matches_torch(void **state)
{
    (void)state;
    char config[1024], weights[1024];
    golden_path(config, sizeof config, "bert_tiny_config.json");
    golden_path(weights, sizeof weights, "bert_tiny_weights.safetensors");
    run_all("bert_tiny.safetensors", config, weights, 0, 1);
}

static void minilm_matches_torch(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("bert_minilm.safetensors");
    char config[1024], weights[1024];
    snprintf(config, sizeof config, "%s", st_metadata(st, "config"));
    snprintf(weights, sizeof weights, "%s", st_metadata(st, "weights"));
    st_close(st);
    run_all("bert_minilm.safetensors", config, weights, 1, 3);
}

/* Dropout on (0.3 hidden and attention), where PyTorch cannot share our
 * masks: the gradient must match the loss's central difference along a
 * random direction, with the dropout stream rewound so every forward draws
 * the same masks. */
static double loss_at(BertModel *m, const Batch *b, uint64_t rng)
{
    ThawError err = {0};
    m->rng = rng;
    if (bert_forward(m, b->ids, b->types, b->mask, &err)) {
        fail_msg("%s", err.msg);
    }
    return bert_loss(m, b->labels, 0.1f);
}

static void dropout_gradient_matches_difference(void **state)
{
    (void)state;
    char config[1024], weights[1024];
    golden_path(config, sizeof config, "bert_tiny_config.json");
    golden_path(weights, sizeof weights, "bert_tiny_weights.safetensors");
    SafeTensors *st = golden_open("bert_tiny.safetensors");
    Batch b = load_batch(st);
    int ok = 1;
    for (int head = BERT_HEAD_MEAN; head <= BERT_HEAD_CLS; head++) {
        BertModel m;
        ThawError err = {0};
        make_model(&m, config, weights, NULL, (BertHead)head);
        m.cfg.hidden_dropout = m.cfg.attention_dropout = 0.3f;
        assert_int_equal(bert_plan(&m, b.batch, b.seq, 1, &err), THAW_OK);
        const uint64_t rng = 12345;
        float base = (float)loss_at(&m, &b, rng);
        memset(m.params.grads, 0, m.params.n_weights * sizeof(float));
        assert_int_equal(bert_backward(&m, b.labels, 0.1f, &err), THAW_OK);
        float *w = m.params.weights, *g = m.params.grads;
        size_t n = m.params.n_weights;
        float *dir = malloc(n * sizeof(float)), *w0 = malloc(n * sizeof(float));
        memcpy(w0, w, n * sizeof(float));
        uint64_t s = 99;
        double dot = 0.0;
        for (size_t i = 0; i < n; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            dir[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5);
            dot += (double)dir[i] * g[i];
        }
        const float eps = 1e-2f;
        for (size_t i = 0; i < n; i++) {
            w[i] = w0[i] + eps * dir[i];
        }
        double up = loss_at(&m, &b, rng);
        for (size_t i = 0; i < n; i++) {
            w[i] = w0[i] - eps * dir[i];
        }
        double down = loss_at(&m, &b, rng);
        memcpy(w, w0, n * sizeof(float));
        double fd = (up - down) / (2.0 * eps);
        double rel = fabs(fd - dot) / fmax(fabs(dot), 1e-12);
        /* eval mode differs: the masks really dropped something */
        assert_int_equal(bert_plan(&m, b.batch, b.seq, 0, &err), THAW_OK);
        float eval = (float)loss_at(&m, &b, rng);
        int good = rel < 2e-2 && eval != base;
        printf("%-4s dropout %s head: <grad, d> = %.6g, central difference "
               "%.6g (rel %.1e); train loss %.5f, eval loss %.5f\n",
               good ? "OK" : "FAIL", head == BERT_HEAD_MEAN ? "mean" : "cls",
               dot, fd, rel, base, eval);
        ok &= good;
        free(dir);
        free(w0);
        bert_free(&m);
    }
    free_batch(&b);
    st_close(st);
    assert_true(ok);
}

static void bad_inputs_are_errors(void **state)
{
    (void)state;
    char config[1024], weights[1024];
    golden_path(config, sizeof config, "bert_tiny_config.json");
    golden_path(weights, sizeof weights, "bert_tiny_weights.safetensors");
    BertConfig cfg;
    ThawError err = {0};
    assert_int_equal(bert_config_load(&cfg, config, &err), THAW_OK);
    BertModel m;
    assert_int_equal(bert_create(&m, &cfg, BERT_HEAD_MEAN, 3, 1, &err), THAW_OK);
    assert_int_equal(bert_plan(&m, 1, cfg.max_position + 1, 0, &err), THAW_ERR_ARG);
    assert_int_equal(bert_plan(&m, 1, 4, 0, &err), THAW_OK);
    int32_t ids[4] = {1, 2, 40, 3}, mask[4] = {1, 1, 1, 2};
    assert_int_equal(bert_forward(&m, ids, NULL, NULL, &err), THAW_ERR_ARG);
    assert_non_null(strstr(err.msg, "token id 40 at [0, 2]"));
    ids[2] = 5;
    assert_int_equal(bert_forward(&m, ids, NULL, mask, &err), THAW_ERR_ARG);
    assert_int_equal(bert_forward(&m, ids, ids, NULL, &err), THAW_ERR_ARG);
    assert_int_equal(bert_forward(&m, ids, NULL, NULL, &err), THAW_OK);
    bert_free(&m);

    /* a head needs classes, heads must divide hidden, gelu only */
    assert_int_equal(bert_create(&m, &cfg, BERT_HEAD_CLS, 0, 1, &err), THAW_ERR_ARG);
    static const char *const bad[] = {
        "{\"vocab_size\": 10, \"hidden_size\": 10, \"num_hidden_layers\": 1,"
        " \"num_attention_heads\": 3, \"intermediate_size\": 8,"
        " \"max_position_embeddings\": 8, \"type_vocab_size\": 1}",
        "{\"vocab_size\": 10, \"hidden_size\": 12, \"num_hidden_layers\": 1,"
        " \"num_attention_heads\": 3, \"intermediate_size\": 8,"
        " \"max_position_embeddings\": 8, \"type_vocab_size\": 1,"
        " \"hidden_act\": \"relu\"}",
        "{\"vocab_size\": 10, \"hidden_size\": 12}",
        "[1, 2]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_not_equal(bert_config_parse(&cfg, bad[i], "cfg", &err), THAW_OK);
        printf("refused: %s\n", err.msg);
    }

    /* a state_dict for another width: shape mismatch names the key */
    assert_int_equal(bert_config_load(&cfg, config, &err), THAW_OK);
    cfg.hidden_size = 32;
    assert_int_equal(bert_create(&m, &cfg, BERT_HEAD_NONE, 0, 1, &err), THAW_OK);
    assert_int_not_equal(bert_load_safetensors(&m, weights, &err), THAW_OK);
    assert_non_null(strstr(err.msg, "embeddings.word_embeddings.weight"));
    bert_free(&m);
    /* the tiny file holds classifier.*: without a head it is ignored, as
     * transformers' BertModel.from_pretrained does, and said */
    assert_int_equal(bert_config_load(&cfg, config, &err), THAW_OK);
    assert_int_equal(bert_create(&m, &cfg, BERT_HEAD_NONE, 0, 1, &err), THAW_OK);
    BertLoadInfo info;
    assert_int_equal(bert_load_weights(&m, weights, &info, &err), THAW_OK);
    assert_non_null(strstr(info.note, "classifier (3 classes) ignored: no head"));
    bert_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tiny_matches_torch),
        cmocka_unit_test(dropout_gradient_matches_difference),
        cmocka_unit_test(bad_inputs_are_errors),
        cmocka_unit_test(minilm_matches_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
