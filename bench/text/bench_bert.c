/* MiniLM (BERT-family) fine-tuning throughput of thaw on the CPU: one
 * training step is zero-grad, forward, cross-entropy and backward through
 * every layer (all groups trainable) with a classifier on mean pooling.
 * bench/text/run_bert.sh runs it next to bench_bert_torch.py.
 *
 * usage: bench_bert [--dir WEIGHTS_DIR] [--batch N] [--seq T] [--iters N]
 *                   [--warmup N] [--threads N] [--dropout 0|1]
 * WEIGHTS_DIR holds config.json and model.safetensors (default
 * $THAW_CACHE/weights/all-minilm-l6-v2). Ids are random (seed 1) in
 * 1000..29999 with [CLS] first and no padding; labels random in 0..1.
 *
 * prints one JSON line: {"impl":"thaw","batch":..,"seq":..,"threads":..,
 *  "dropout":..,"step_ms":[..],"step_ms_min":..,"tokens_s":<B*T/min step>} */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/models/bert.h"

void openblas_set_num_threads(int num_threads);

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

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
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--dir")) snprintf(dir, sizeof dir, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seq")) seq = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--iters")) iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--warmup")) warmup = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dropout")) dropout = atoi(argv[i + 1]);
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
    if (bert_config_load(&cfg, config, &err) ||
        bert_create(&m, &cfg, BERT_HEAD_MEAN, 2, 1, &err) ||
        bert_load_safetensors(&m, weights, &err)) {
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
    for (int it = 0; it < warmup + iters; it++) {
        double t0 = now_ms();
        params_zero_grad(&m.params);
        if (bert_forward(&m, ids, NULL, NULL, &err)) {
            fprintf(stderr, "bench_bert: %s\n", err.msg);
            return 1;
        }
        loss = bert_loss(&m, labels, 0.0f);
        if (bert_backward(&m, labels, 0.0f, &err)) {
            fprintf(stderr, "bench_bert: %s\n", err.msg);
            return 1;
        }
        double dt = now_ms() - t0;
        if (it >= warmup) {
            ms[it - warmup] = dt;
            best = dt < best ? dt : best;
        }
    }
    printf("{\"impl\":\"thaw\",\"batch\":%d,\"seq\":%d,\"threads\":%d,"
           "\"dropout\":%d,\"loss\":%.5f,\"step_ms\":[", batch, seq, threads,
           dropout, loss);
    for (int i = 0; i < iters; i++) {
        printf("%s%.1f", i ? "," : "", ms[i]);
    }
    printf("],\"step_ms_min\":%.1f,\"tokens_s\":%.1f}\n", best,
           (double)bt / (best / 1e3));
    free(ms);
    free(ids);
    free(labels);
    bert_free(&m);
    return 0;
}
