/* MiniLM (BERT-family) fine-tuning throughput of thaw: one training step
 * is zero-grad, forward, cross-entropy and backward through every layer
 * (all groups trainable) with a classifier on mean pooling; on the GPU
 * (--device cuda) also the AdamW step, with the device synchronised at the
 * end of each step. bench/text/run_bert.sh (CPU) and bench/gpu/run.sh
 * (GPU) run it next to bench_bert_torch.py.
 *
 * usage: bench_bert [--dir WEIGHTS_DIR] [--batch N] [--seq T] [--iters N]
 *                   [--warmup N] [--threads N] [--dropout 0|1]
 *                   [--device cpu|cuda] [--tf32 0|1] [--random 0|1]
 *                   [--profile FILE]
 * WEIGHTS_DIR holds config.json and model.safetensors (default
 * $THAW_CACHE/weights/all-minilm-l6-v2); --random 1 initialises the
 * weights instead (transformers' init), with all-MiniLM-L6-v2's shape when
 * WEIGHTS_DIR has no config.json (a GPU machine without the cache). Ids are
 * random (seed 1) in 1000..29999 with [CLS] first and no padding; labels
 * random in 0..1. --profile FILE (cuda): after the timed steps, 3 more
 * with a CUDA event around every op call; FILE gets the GPU time per op
 * function and step (thaw_cuda_bert_profile_take) and what is left of the
 * step (loss, optimizer, launch gaps, host work).
 *
 * prints one JSON line: {"impl":"thaw","device":..,"batch":..,"seq":..,
 *  "threads":..,"dropout":..,"step_ms":[..],"step_ms_min":..,
 *  "tokens_s":<B*T/min step>} */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/models/bert.h"
#include "engine/optim/optimizer.h"
#ifdef THAW_HAVE_CUDA
#include "engine/cuda/cuda_bert.h"
#endif

void openblas_set_num_threads(int num_threads);

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* all-MiniLM-L6-v2's config.json, for --random 1 without the cache */
static const BertConfig MINILM_L6 = {
    .vocab_size = 30522, .hidden_size = 384, .num_layers = 6, .num_heads = 12,
    .intermediate_size = 1536, .max_position = 512, .type_vocab_size = 2,
    .layer_norm_eps = 1e-12f, .hidden_dropout = 0.1f, .attention_dropout = 0.1f,
};

/* The GPU side: the BERT executor and AdamW with the text recipe's lr. */
typedef struct {
#ifdef THAW_HAVE_CUDA
    ThawCudaContext *ctx;
    ThawCudaBert *bert;
#endif
    Optimizer hyper;
    int open;
} GpuBench;

#ifdef THAW_HAVE_CUDA
static int gpu_open(GpuBench *g, BertModel *m, int tf32, ThawError *err)
{
    for (int i = 0; i < m->params.n_groups; i++) {
        m->params.groups[i].lr = 2e-5f;
        m->params.groups[i].weight_decay = 0.01f;
    }
    int rc = optimizer_init(&g->hyper, OPT_ADAMW, &m->params, err);
    rc = rc ? rc : thaw_cuda_context_create(&g->ctx, 0, tf32, 0, err);
    rc = rc ? rc : thaw_cuda_bert_create(&g->bert, g->ctx, m, OPT_ADAMW, err);
    rc = rc ? rc : thaw_cuda_bert_plan(g->bert, m, err);
    g->open = rc == 0;
    return rc;
}

static int gpu_step(GpuBench *g, BertModel *m, const int32_t *ids, const int32_t *labels,
                    float *loss, ThawError *err)
{
    int rc = thaw_cuda_bert_set_batch(g->bert, m, ids, NULL, NULL, labels, err);
    rc = rc ? rc : thaw_cuda_bert_forward(g->bert, m, err);
    rc = rc ? rc : thaw_cuda_bert_loss(g->bert, m, 0.0f, err);
    rc = rc ? rc : thaw_cuda_bert_outputs(g->bert, loss, NULL, err);
    rc = rc ? rc : thaw_cuda_bert_backward(g->bert, m, 0.0f, err);
    rc = rc ? rc : thaw_cuda_bert_optimizer_step(g->bert, m, &g->hyper, err);
    return rc ? rc : thaw_cuda_synchronize(g->ctx, err);
}

static int cmp_op_time(const void *a, const void *b)
{
    double x = ((const ThawCudaBertOpTime *)a)->ms, y = ((const ThawCudaBertOpTime *)b)->ms;
    return (x < y) - (x > y);
}

/* 3 profiled steps; per step: each op function's GPU time, calls, share. */
static int gpu_profile(GpuBench *g, BertModel *m, const int32_t *ids, const int32_t *labels,
                       const char *path, double step_ms, ThawError *err)
{
    enum { STEPS = 3, ROWS = 48 };
    ThawCudaBertOpTime t[ROWS];
    int n = 0;
    float loss;
    int rc = thaw_cuda_bert_set_profile(g->bert, 1, err);
    for (int i = 0; i < STEPS && !rc; i++) {
        rc = gpu_step(g, m, ids, labels, &loss, err);
    }
    rc = rc ? rc : thaw_cuda_bert_profile_take(g->bert, t, ROWS, &n, err);
    rc = rc ? rc : thaw_cuda_bert_set_profile(g->bert, 0, err);
    if (rc) {
        return rc;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot write the profile", path);
    }
    qsort(t, (size_t)n, sizeof t[0], cmp_op_time);
    double ops = 0;
    for (int i = 0; i < n; i++) {
        ops += t[i].ms / STEPS;
    }
    fprintf(f, "per step: ops %.2f ms of a %.2f ms step (rest: loss, optimizer, launch gaps, "
               "host)\n%-36s %6s %9s %6s\n", ops, step_ms, "op function", "calls", "ms", "share");
    for (int i = 0; i < n; i++) {
        fprintf(f, "%-36s %6d %9.3f %5.1f%%\n", t[i].name, t[i].calls / STEPS, t[i].ms / STEPS,
                100.0 * t[i].ms / STEPS / step_ms);
    }
    return fclose(f) == 0 ? 0 : thaw_fail(err, THAW_ERR_IO, "%s: write failed", path);
}

static void gpu_close(GpuBench *g)
{
    if (g->open) {
        thaw_cuda_bert_destroy(g->bert);
        thaw_cuda_context_destroy(g->ctx);
        optimizer_free(&g->hyper);
    }
}
#else
static int gpu_open(GpuBench *g, BertModel *m, int tf32, ThawError *err)
{
    (void)g;
    (void)m;
    (void)tf32;
    return thaw_fail(err, THAW_ERR_CUDA, "this build has no CUDA backend");
}

static int gpu_step(GpuBench *g, BertModel *m, const int32_t *ids, const int32_t *labels,
                    float *loss, ThawError *err)
{
    (void)g;
    (void)m;
    (void)ids;
    (void)labels;
    (void)loss;
    return thaw_fail(err, THAW_ERR_CUDA, "this build has no CUDA backend");
}

static int gpu_profile(GpuBench *g, BertModel *m, const int32_t *ids, const int32_t *labels,
                       const char *path, double step_ms, ThawError *err)
{
    (void)g;
    (void)m;
    (void)ids;
    (void)labels;
    (void)path;
    (void)step_ms;
    return thaw_fail(err, THAW_ERR_CUDA, "this build has no CUDA backend");
}

static void gpu_close(GpuBench *g)
{
    (void)g;
}
#endif

int main(int argc, char **argv)
{
    char dir[1024];
    const char *cache = getenv("THAW_CACHE");
    if (cache) {
        snprintf(dir, sizeof dir, "%s/weights/all-minilm-l6-v2", cache);
    } else {
        snprintf(dir, sizeof dir, "%s/.cache/thaw/weights/all-minilm-l6-v2",
                 getenv("HOME") ? getenv("HOME") : ".");
    }
    int batch = 16, seq = 128, iters = 3, warmup = 1, threads = 2, dropout = 1;
    int cuda = 0, tf32 = 0, random_init = 0;
    const char *profile = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--dir")) snprintf(dir, sizeof dir, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seq")) seq = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--iters")) iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--warmup")) warmup = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dropout")) dropout = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--device")) cuda = !strcmp(argv[i + 1], "cuda");
        else if (!strcmp(argv[i], "--tf32")) tf32 = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--random")) random_init = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--profile")) profile = argv[i + 1];
        else {
            fprintf(stderr, "bench_bert: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (batch < 1 || seq < 1 || iters < 1 || iters > 100 || threads < 1) {
        fprintf(stderr, "bench_bert: bad batch/seq/iters/threads\n");
        return 2;
    }
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);

    char config[1100], weights[1100];
    snprintf(config, sizeof config, "%s/config.json", dir);
    snprintf(weights, sizeof weights, "%s/model.safetensors", dir);
    BertConfig cfg;
    BertModel m;
    ThawError err = {0};
    FILE *probe = random_init ? fopen(config, "r") : NULL;
    if (probe) {
        fclose(probe);
    }
    if (random_init && !probe) {
        cfg = MINILM_L6;
    } else if (bert_config_load(&cfg, config, &err)) {
        fprintf(stderr, "bench_bert: %s\n", err.msg);
        return 1;
    }
    if (bert_create(&m, &cfg, BERT_HEAD_MEAN, 2, 1, &err) ||
        (!random_init && bert_load_safetensors(&m, weights, &err))) {
        fprintf(stderr, "bench_bert: %s\n", err.msg);
        return 1;
    }
    if (!dropout) {
        m.cfg.hidden_dropout = m.cfg.attention_dropout = 0.0f;
    }
    if (bert_plan(&m, batch, seq, 1, &err)) {
        fprintf(stderr, "bench_bert: %s\n", err.msg);
        return 1;
    }
    size_t bt = (size_t)batch * seq;
    int32_t *ids = malloc(bt * sizeof(int32_t));
    int32_t *labels = malloc((size_t)batch * sizeof(int32_t));
    uint64_t s = 1;
    for (size_t i = 0; i < bt; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = i % seq == 0 ? 101 : 1000 + (int32_t)((s >> 33) % 29000);
    }
    for (int b = 0; b < batch; b++) {
        labels[b] = b % 2;
    }
    double *ms = calloc((size_t)iters, sizeof(double));
    double best = 1e30;
    float loss = 0.0f;
    GpuBench gpu = {0};
    if (cuda && gpu_open(&gpu, &m, tf32, &err)) {
        fprintf(stderr, "bench_bert: %s\n", err.msg);
        return 1;
    }
    for (int it = 0; it < warmup + iters; it++) {
        double t0 = now_ms();
        int rc;
        if (cuda) {
            rc = gpu_step(&gpu, &m, ids, labels, &loss, &err);
        } else {
            params_zero_grad(&m.params);
            rc = bert_forward(&m, ids, NULL, NULL, &err);
            loss = rc ? 0.0f : bert_loss(&m, labels, 0.0f);
            rc = rc ? rc : bert_backward(&m, labels, 0.0f, &err);
        }
        if (rc) {
            fprintf(stderr, "bench_bert: %s\n", err.msg);
            return 1;
        }
        double dt = now_ms() - t0;
        if (it >= warmup) {
            ms[it - warmup] = dt;
            best = dt < best ? dt : best;
        }
    }
    printf("{\"impl\":\"thaw\",\"device\":\"%s\",\"batch\":%d,\"seq\":%d,"
           "\"threads\":%d,\"dropout\":%d,\"loss\":%.5f,\"step_ms\":[",
           cuda ? (tf32 ? "cuda tf32" : "cuda fp32") : "cpu", batch, seq, threads, dropout,
           loss);
    for (int i = 0; i < iters; i++) {
        printf("%s%.1f", i ? "," : "", ms[i]);
    }
    printf("],\"step_ms_min\":%.1f,\"tokens_s\":%.1f}\n", best,
           (double)bt / (best / 1e3));
    if (profile && !cuda) {
        fprintf(stderr, "bench_bert: --profile is for --device cuda\n");
    } else if (profile && gpu_profile(&gpu, &m, ids, labels, profile, best, &err)) {
        fprintf(stderr, "bench_bert: %s\n", err.msg);
        return 1;
    }
    gpu_close(&gpu);
    free(ms);
    free(ids);
    free(labels);
    bert_free(&m);
    return 0;
}
