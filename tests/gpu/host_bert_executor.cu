/* The GPU BERT executor's own code (engine/cuda/cuda_bert.cu and
 * cuda_bert_passes.cu: the plan mirror, the host-to-device pointer map,
 * which buffers are zeroed, which op gets which arguments, the dropout
 * draws, the frozen-block cut-off, the embedding groups) runs here on the
 * CPU: every device call it makes (the CUDA ops, the parameter arena, the
 * optimizer, copies) is replaced by a stand-in that calls the CPU op with
 * the same meaning ("device" memory is host memory). The stand-ins are the
 * CPU model's own ops, so the executor must give bert_forward /
 * bert_backward / optimizer_step's exact bits: a swapped argument, a
 * missing zeroing, a wrong offset or a dropout drawn out of order fails.
 * What this cannot check is the CUDA kernels themselves (host_text_ops,
 * host_attention, host_embedding and test_gpu_bert do). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include <cmocka.h>

#include "engine/ops/attention.h"
#include "engine/ops/cross_entropy.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/embedding.h"
#include "engine/ops/gelu.h"
#include "engine/ops/layernorm.h"
#include "engine/ops/linear.h"
}

#include "engine/cuda/cuda_bert_heads.h"
#include "engine/cuda/cuda_bert_internal.h"
#include "engine/cuda/cuda_ops.h"

#include "tests/gpu/host_runtime.h"

#define cudaMemcpyAsync host_memcpy_async
#define cudaMemcpy2DAsync host_memcpy_2d_async
#define cudaStreamSynchronize host_stream_sync
#include "engine/cuda/cuda_bert.cu"
#include "engine/cuda/cuda_bert_passes.cu"
#undef cudaMemcpyAsync
#undef cudaMemcpy2DAsync
#undef cudaStreamSynchronize

/* cuda_bert_profile.cu's marks (events; profiling is never on here) */
int cuda_bert_prof_begin(const ThawCudaBert *cb, const char *call)
{
    (void)cb;
    (void)call;
    return -1;
}

void cuda_bert_prof_end(const ThawCudaBert *cb, int mark)
{
    (void)cb;
    (void)mark;
}

void cuda_bert_prof_free(ThawCudaBert *cb)
{
    (void)cb;
}

/* ---- the backend's memory, copies and arena on the host ---- */

/* The assign mode the executor set (TRY_FIRST_WRITE): the stand-ins below
 * honour it as the kernels do (the input gradient written, not added
 * to: here zeroed, then the CPU op's +=); how often it was turned on. */
static int din_assign_now, din_assign_calls;

static void assign_zero(float *din, size_t n)
{
    if (din_assign_now && din) {
        memset(din, 0, n * sizeof(float));
    }
}

#include "tests/gpu/host_backend.h"

extern "C" {

void thaw_cuda_context_set_din_assign(ThawCudaContext *ctx, int assign)
{
    (void)ctx;
    din_assign_now = assign != 0;
    din_assign_calls += assign != 0;
}

/* ---- the CUDA ops as their CPU twins (cuda_ops.h's contract: backward
 * adds, a NULL gradient is skipped) ---- */

/* The image ops' void pointers (cuda_ops.h) hold floats here: the BERT
 * executor refuses a bf16 context. */
int thaw_cuda_linear_forward(ThawCudaContext *ctx, void *out, const void *in,
                             const void *weight, const float *bias, int n, int in_features,
                             int out_features, ThawError *err)
{
    (void)ctx;
    (void)err;
    linear_forward((float *)out, (const float *)in, (const float *)weight, bias, n,
                   in_features, out_features);
    return 0;
}

int thaw_cuda_linear_backward(ThawCudaContext *ctx, void *din, float *dweight, float *dbias,
                              const void *dout, const void *in, const void *weight, int n,
                              int in_features, int out_features, ThawError *err)
{
    (void)ctx;
    (void)err;
    assign_zero((float *)din, (size_t)n * in_features);
    linear_backward((float *)din, dweight, dbias, (const float *)dout, (const float *)in,
                    (const float *)weight, n, in_features, out_features);
    return 0;
}

int thaw_cuda_gelu_forward(ThawCudaContext *ctx, float *out, const float *in, size_t n,
                           ThawError *err)
{
    (void)ctx;
    (void)err;
    gelu_forward(out, in, n);
    return 0;
}

int thaw_cuda_gelu_backward(ThawCudaContext *ctx, float *din, const float *dout, const float *in,
                            size_t n, ThawError *err)
{
    (void)ctx;
    (void)err;
    assign_zero(din, n);
    gelu_backward(din, dout, in, n);
    return 0;
}

int thaw_cuda_layernorm_forward(ThawCudaContext *ctx, float *out, float *mean, float *rstd,
                                const float *in, const float *gamma, const float *beta,
                                int rows, int c, float eps, ThawError *err)
{
    (void)ctx;
    (void)err;
    layernorm_forward(out, mean, rstd, in, gamma, beta, rows, c, eps);
    return 0;
}

int thaw_cuda_layernorm_backward(ThawCudaContext *ctx, float *din, float *dgamma, float *dbeta,
                                 const float *dout, const float *in, const float *mean,
                                 const float *rstd, const float *gamma, int rows, int c,
                                 ThawError *err)
{
    (void)ctx;
    (void)err;
    assign_zero(din, (size_t)rows * c);
    layernorm_backward(din, dgamma, dbeta, dout, in, mean, rstd, gamma, rows, c);
    return 0;
}

int thaw_cuda_attention_probs_forward(ThawCudaContext *ctx, float *probs, const float *q,
                                      const float *k, const int32_t *key_mask, int batch,
                                      int seq, int channels, int heads, ThawError *err)
{
    (void)ctx;
    (void)err;
    attention_probs_forward(probs, q, k, key_mask, batch, seq, channels, heads);
    return 0;
}

int thaw_cuda_attention_context_forward(ThawCudaContext *ctx, float *out,
                                        const float *probs_used, const float *v, int batch,
                                        int seq, int channels, int heads, ThawError *err)
{
    (void)ctx;
    (void)err;
    attention_context_forward(out, probs_used, v, batch, seq, channels, heads);
    return 0;
}

int thaw_cuda_attention_backward(ThawCudaContext *ctx, float *dq, float *dk, float *dv,
                                 const float *dout, const float *q, const float *k,
                                 const float *v, const float *probs, const float *probs_used,
                                 const float *drop_mask, int batch, int seq, int channels,
                                 int heads, ThawError *err)
{
    (void)ctx;
    (void)err;
    const size_t btc = (size_t)batch * seq * channels;
    assign_zero(dq, btc);
    assign_zero(dk, btc);
    assign_zero(dv, btc);
    float *ws = (float *)malloc(attention_workspace_floats(seq) * sizeof(float));
    attention_backward(dq, dk, dv, dout, q, k, v, probs, probs_used, drop_mask, ws, batch, seq,
                       channels, heads);
    free(ws);
    return 0;
}

int thaw_cuda_embedding_forward(ThawCudaContext *ctx, float *out, const int32_t *ids,
                                const float *table, int n, int dim, int add, ThawError *err)
{
    (void)ctx;
    (void)err;
    if (add) {
        embedding_forward_add(out, ids, table, n, dim);
    } else {
        embedding_forward(out, ids, table, n, dim);
    }
    return 0;
}

/* The groups' order is the CPU op's per-id order: tokens ascending. */
int thaw_cuda_embedding_backward(ThawCudaContext *ctx, float *dtable, const float *dout,
                                 const ThawCudaEmbeddingGroups *g, int dim, ThawError *err)
{
    (void)ctx;
    (void)err;
    for (int k = 0; k < g->n_groups; k++) {
        float *row = dtable + (size_t)g->id[k] * dim;
        for (int i = g->start[k]; i < g->start[k + 1]; i++) {
            const float *d = dout + (size_t)g->order[i] * dim;
            for (int j = 0; j < dim; j++) {
                row[j] += d[j];
            }
        }
    }
    return 0;
}

int thaw_cuda_add_forward(ThawCudaContext *ctx, void *out, const void *a, const void *b,
                          size_t n, ThawCudaAct act, ThawError *err)
{
    (void)ctx;
    (void)err;
    assert_int_equal(act, THAW_CUDA_ACT_NONE);
    add_forward((float *)out, (const float *)a, (const float *)b, n);
    return 0;
}

int thaw_cuda_cross_entropy_forward(ThawCudaContext *ctx, float *loss, float *probs,
                                    float *row_loss, const void *logits, const int32_t *labels,
                                    int n, int classes, float smoothing, ThawError *err)
{
    (void)ctx;
    (void)row_loss;
    (void)err;
    *loss = cross_entropy_forward(probs, (const float *)logits, labels, n, classes, smoothing);
    return 0;
}

int thaw_cuda_cross_entropy_backward(ThawCudaContext *ctx, void *dlogits, const float *probs,
                                     const int32_t *labels, int n, int classes, float smoothing,
                                     float dloss, ThawError *err)
{
    (void)ctx;
    (void)err;
    cross_entropy_backward((float *)dlogits, probs, labels, n, classes, smoothing, dloss);
    return 0;
}

int thaw_cuda_dropout_forward(ThawCudaContext *ctx, void *out, float *mask, const void *in,
                              float p, size_t n, uint64_t *rng_state, ThawError *err)
{
    (void)ctx;
    (void)err;
    dropout_forward((float *)out, mask, (const float *)in, p, n, rng_state);
    return 0;
}

int thaw_cuda_dropout_backward(ThawCudaContext *ctx, void *din, const void *dout,
                               const float *mask, size_t n, ThawError *err)
{
    (void)ctx;
    (void)err;
    assign_zero((float *)din, n);
    dropout_backward((float *)din, (const float *)dout, mask, n);
    return 0;
}

/* cuda_bert_heads.h: bert_forward.c / bert_backward.c's inline loops. */
int thaw_cuda_masked_mean_forward(ThawCudaContext *ctx, float *out, const float *h,
                                  const int32_t *km, int batch, int seq, int c, ThawError *err)
{
    (void)ctx;
    (void)err;
    for (int b = 0; b < batch; b++) {
        float *o = out + (size_t)b * c;
        memset(o, 0, (size_t)c * sizeof(float));
        int count = 0;
        for (int t = 0; t < seq; t++) {
            if (km[b * seq + t]) {
                count++;
                for (int j = 0; j < c; j++) {
                    o[j] += h[((size_t)b * seq + t) * c + j];
                }
            }
        }
        float inv = count > 0 ? 1.0f / (float)count : 0.0f;
        for (int j = 0; j < c; j++) {
            o[j] *= inv;
        }
    }
    return 0;
}

int thaw_cuda_masked_mean_backward(ThawCudaContext *ctx, float *dh, const float *dfeat,
                                   const int32_t *km, int batch, int seq, int c, ThawError *err)
{
    (void)ctx;
    (void)err;
    for (int b = 0; b < batch; b++) {
        int count = 0;
        for (int t = 0; t < seq; t++) {
            count += km[b * seq + t];
        }
        for (int t = 0; t < seq; t++) {
            for (int j = 0; j < c; j++) {
                dh[((size_t)b * seq + t) * c + j] =
                    km[b * seq + t] ? dfeat[(size_t)b * c + j] * (1.0f / (float)count) : 0.0f;
            }
        }
    }
    return 0;
}

int thaw_cuda_tanh_inplace(ThawCudaContext *ctx, float *x, size_t n, ThawError *err)
{
    (void)ctx;
    (void)err;
    for (size_t i = 0; i < n; i++) {
        x[i] = tanhf(x[i]);
    }
    return 0;
}

int thaw_cuda_tanh_backward_inplace(ThawCudaContext *ctx, float *d, const float *y, size_t n,
                                    ThawError *err)
{
    (void)ctx;
    (void)err;
    for (size_t i = 0; i < n; i++) {
        d[i] *= 1.0f - y[i] * y[i];
    }
    return 0;
}

int thaw_cuda_scale_inplace(ThawCudaContext *ctx, float *x, const float *mask, size_t n,
                            ThawError *err)
{
    (void)ctx;
    (void)err;
    for (size_t i = 0; i < n; i++) {
        x[i] *= mask[i];
    }
    return 0;
}

} /* extern "C" */

/* ---- the test ---- */

#define BATCH 3
#define MAX_SEQ 7
#define CLASSES 3

static const BertConfig small_config = {
    .vocab_size = 60, .hidden_size = 16, .num_layers = 2, .num_heads = 4,
    .intermediate_size = 32, .max_position = 16, .type_vocab_size = 2,
    .layer_norm_eps = 1e-12f, .hidden_dropout = 0.1f, .attention_dropout = 0.1f,
};

static ThawCudaContext fake_ctx;

static void make_batch(int seq, int32_t *ids, int32_t *types, int32_t *mask, int32_t *labels,
                       int round)
{
    for (int b = 0; b < BATCH; b++) {
        int len = b == BATCH - 1 ? 2 : seq - b % 2;
        for (int t = 0; t < seq; t++) {
            int keep = t < len;
            ids[b * seq + t] = keep ? 1 + (7 * b + 3 * t + 11 * round) % 59 : 0;
            types[b * seq + t] = t >= len / 2;
            mask[b * seq + t] = keep;
        }
        labels[b] = (b + round) % CLASSES;
    }
}

static void assert_same_bits(const char *what, const float *got, const float *ref, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad += memcmp(&got[i], &ref[i], sizeof(float)) != 0;
    }
    printf("  %-40s %zu of %zu values differ\n", what, bad, n);
    assert_int_equal(bad, 0);
}

static void set_groups(BertModel *m, int mode)
{
    ParamTable *t = &m->params;
    for (int g = 0; g < t->n_groups; g++) {
        const char *name = t->groups[g].name;
        int head = strcmp(name, "classifier") == 0;
        int low = strcmp(name, "embeddings") == 0 || strcmp(name, "encoder.layer.0") == 0;
        params_set_group_frozen(t, g, mode == 1 ? low : mode == 2 ? !head : 0);
        t->groups[g].lr = head ? 1e-2f : 3e-3f;
        t->groups[g].weight_decay = 0.01f;
    }
    if (mode == 0) {   /* a frozen module inside a trainable block, and one table */
        assert_true(params_set_module_frozen(t, "encoder.layer.1.attention.self.key", 1) > 0);
        assert_true(params_set_module_frozen(t, "embeddings.position_embeddings", 1) > 0);
    }
}

/* mode 0: all trainable but two modules; 1: embeddings and layer 0 frozen;
 * 2: only the classifier. Three steps at sequence lengths 7, 5, 6, then
 * an eval-mode forward. */
static void run_case(BertHead head, int mode, OptimizerKind kind)
{
    printf("%s head, mode %d, %s\n", head == BERT_HEAD_CLS ? "cls" : "mean", mode,
           optimizer_name(kind));
    ThawError err = {};
    BertModel cpu, gm;
    assert_int_equal(bert_create(&cpu, &small_config, head, CLASSES, 42, &err), 0);
    assert_int_equal(bert_create(&gm, &small_config, head, CLASSES, 42, &err), 0);
    set_groups(&cpu, mode);
    set_groups(&gm, mode);
    Optimizer opt;
    assert_int_equal(optimizer_init(&opt, kind, &cpu.params, &err), 0);
    opt.momentum = 0.9f;
    ThawCudaBert *cb = NULL;
    assert_int_equal(thaw_cuda_bert_create(&cb, &fake_ctx, &gm, kind, &err), 0);
    static const int seqs[3] = {7, 5, 6};
    for (int s = 0; s < 3; s++) {
        int seq = seqs[s];
        int32_t ids[BATCH * MAX_SEQ], types[BATCH * MAX_SEQ], mask[BATCH * MAX_SEQ];
        int32_t labels[BATCH];
        make_batch(seq, ids, types, mask, labels, s);
        assert_int_equal(bert_plan(&cpu, BATCH, seq, 1, &err), 0);
        assert_int_equal(bert_forward(&cpu, ids, types, mask, &err), 0);
        float cpu_loss = bert_loss(&cpu, labels, 0.1f);
        params_zero_grad(&cpu.params);
        assert_int_equal(bert_backward(&cpu, labels, 0.1f, &err), 0);

        assert_int_equal(bert_plan(&gm, BATCH, seq, 1, &err), 0);
        assert_int_equal(thaw_cuda_bert_plan(cb, &gm, &err), 0);
        assert_int_equal(thaw_cuda_bert_set_batch(cb, &gm, ids, types, mask, labels, &err), 0);
        assert_int_equal(thaw_cuda_bert_forward(cb, &gm, &err), 0);
        assert_int_equal(thaw_cuda_bert_loss(cb, &gm, 0.1f, &err), 0);
        float gpu_loss;
        const float *logits;
        assert_int_equal(thaw_cuda_bert_outputs(cb, &gpu_loss, &logits, &err), 0);
        assert_int_equal(thaw_cuda_bert_backward(cb, &gm, 0.1f, &err), 0);
        assert_true(gm.rng == cpu.rng);   /* the same dropout draws */

        char what[160];
        snprintf(what, sizeof what, "step %d loss", s + 1);
        assert_same_bits(what, &gpu_loss, &cpu_loss, 1);
        snprintf(what, sizeof what, "step %d logits", s + 1);
        assert_same_bits(what, logits, bert_logits(&cpu), (size_t)BATCH * CLASSES);
        assert_int_equal(thaw_cuda_bert_download_acts(cb, &gm, &err), 0);
        for (int l = 0; l <= small_config.num_layers; l++) {
            snprintf(what, sizeof what, "step %d hidden %d", s + 1, l);
            assert_same_bits(what, bert_hidden(&gm, l), bert_hidden(&cpu, l),
                             (size_t)BATCH * seq * small_config.hidden_size);
        }
        snprintf(what, sizeof what, "step %d pooler", s + 1);
        assert_same_bits(what, bert_pooler_output(&gm), bert_pooler_output(&cpu),
                         (size_t)BATCH * small_config.hidden_size);
        assert_int_equal(thaw_cuda_bert_download_grads(cb, &gm, &err), 0);
        size_t trainable = 0;
        for (int i = 0; i < cpu.params.count; i++) {
            if (params_trainable(&cpu.params, i)) {
                trainable += cpu.params.items[i].numel;
                snprintf(what, sizeof what, "step %d grad %s", s + 1, cpu.params.items[i].name);
                size_t n = cpu.params.items[i].numel, bad = 0;
                const float *g = params_grad(&gm.params, i), *r = params_grad(&cpu.params, i);
                for (size_t k = 0; k < n; k++) {
                    bad += memcmp(&g[k], &r[k], sizeof(float)) != 0;
                }
                if (bad) {
                    printf("  %s: %zu of %zu differ\n", what, bad, n);
                }
                assert_int_equal(bad, 0);
            }
        }
        printf("  step %d: %zu trainable gradient values the same bits\n", s + 1, trainable);
        optimizer_step(&opt, &cpu.params);
        assert_int_equal(thaw_cuda_bert_optimizer_step(cb, &gm, &opt, &err), 0);
    }
    assert_int_equal(thaw_cuda_bert_download(cb, &gm, &err), 0);
    assert_same_bits("weights after 3 steps", gm.params.weights, cpu.params.weights,
                     cpu.params.n_weights);
    Optimizer back;
    assert_int_equal(optimizer_init(&back, kind, &gm.params, &err), 0);
    assert_int_equal(thaw_cuda_bert_download_optimizer(cb, &back, &err), 0);
    assert_same_bits("first moments", back.exp_avg, opt.exp_avg, opt.n_weights);
    assert_memory_equal(back.steps, opt.steps, (size_t)opt.n_params * sizeof(int64_t));

    /* eval mode (no dropout), no labels: the logits of validation */
    int32_t ids[BATCH * 4], types[BATCH * 4], mask[BATCH * 4], labels[BATCH];
    make_batch(4, ids, types, mask, labels, 9);
    assert_int_equal(bert_plan(&cpu, BATCH, 4, 0, &err), 0);
    assert_int_equal(bert_forward(&cpu, ids, types, mask, &err), 0);
    assert_int_equal(bert_plan(&gm, BATCH, 4, 0, &err), 0);
    assert_int_equal(thaw_cuda_bert_plan(cb, &gm, &err), 0);
    assert_int_equal(thaw_cuda_bert_set_batch(cb, &gm, ids, types, mask, NULL, &err), 0);
    assert_int_equal(thaw_cuda_bert_forward(cb, &gm, &err), 0);
    assert_int_equal(thaw_cuda_bert_fetch_logits(cb, &gm, &err), 0);
    const float *logits;
    assert_int_equal(thaw_cuda_bert_outputs(cb, NULL, &logits, &err), 0);
    assert_same_bits("eval logits", logits, bert_logits(&cpu), (size_t)BATCH * CLASSES);
    /* a stale plan (also one that only changes train/eval mode), a
     * forward before its inputs, a loss without labels and a bad label
     * are errors, not crashes; a rejected batch leaves no labels behind */
    assert_int_equal(bert_plan(&gm, BATCH, 5, 0, &err), 0);
    assert_int_not_equal(thaw_cuda_bert_forward(cb, &gm, &err), 0);
    printf("  stale plan: %s\n", err.msg);
    assert_int_equal(thaw_cuda_bert_plan(cb, &gm, &err), 0);
    assert_int_equal(bert_plan(&gm, BATCH, 5, 1, &err), 0);
    assert_int_not_equal(thaw_cuda_bert_forward(cb, &gm, &err), 0);
    assert_int_equal(thaw_cuda_bert_plan(cb, &gm, &err), 0);
    assert_int_not_equal(thaw_cuda_bert_forward(cb, &gm, &err), 0);
    printf("  no inputs: %s\n", err.msg);
    int32_t ids5[BATCH * 5], types5[BATCH * 5], mask5[BATCH * 5], bad[BATCH] = {0, CLASSES, 1};
    make_batch(5, ids5, types5, mask5, labels, 3);
    assert_int_equal(thaw_cuda_bert_set_batch(cb, &gm, ids5, types5, mask5, labels, &err), 0);
    assert_int_not_equal(thaw_cuda_bert_set_batch(cb, &gm, ids5, types5, mask5, bad, &err), 0);
    printf("  bad label: %s\n", err.msg);
    assert_int_not_equal(thaw_cuda_bert_loss(cb, &gm, 0.0f, &err), 0);
    assert_int_equal(thaw_cuda_bert_set_batch(cb, &gm, ids5, types5, mask5, NULL, &err), 0);
    assert_int_equal(thaw_cuda_bert_forward(cb, &gm, &err), 0);
    assert_int_not_equal(thaw_cuda_bert_loss(cb, &gm, 0.0f, &err), 0);
    /* the first writes ran in assign mode, which is off again after */
    assert_true(din_assign_calls > 0);
    assert_int_equal(din_assign_now, 0);

    optimizer_free(&back);
    optimizer_free(&opt);
    thaw_cuda_bert_destroy(cb);
    bert_free(&cpu);
    bert_free(&gm);
}

static void mean_head_fine_tune(void **state)
{
    (void)state;
    run_case(BERT_HEAD_MEAN, 0, OPT_ADAMW);
}

static void cls_head_low_blocks_frozen(void **state)
{
    (void)state;
    run_case(BERT_HEAD_CLS, 1, OPT_ADAMW);
}

static void cls_head_fine_tune_sgd(void **state)
{
    (void)state;
    run_case(BERT_HEAD_CLS, 0, OPT_SGD);
}

static void feature_extraction(void **state)
{
    (void)state;
    run_case(BERT_HEAD_MEAN, 2, OPT_ADAMW);
    run_case(BERT_HEAD_CLS, 2, OPT_ADAMW);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mean_head_fine_tune),
        cmocka_unit_test(cls_head_low_blocks_frozen),
        cmocka_unit_test(cls_head_fine_tune_sgd),
        cmocka_unit_test(feature_extraction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
