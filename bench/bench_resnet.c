/* ResNet training/inference throughput of thaw on the CPU, one configuration
 * per process (so ru_maxrss is the peak of that configuration alone).
 * bench/run_resnet.sh runs it alternately with bench_resnet_torch.py.
 *
 * usage: bench_resnet [--arch resnet18|resnet50] [--batch N] [--size S]
 *                     [--mode forward|head|layer4|full] [--iters N]
 *                     [--warmup N] [--threads N] [--classes N]
 *        (THAW_BENCH_WINOGRAD=0 in the environment: no Winograd convs)
 *
 * Modes (the same in the PyTorch driver):
 *   forward  eval-mode forward only (BN running stats), no gradients
 *   head     everything but the head frozen (feature extraction): frozen BN
 *            in eval mode, backward only through fc
 *   layer4   layer4 and head trainable, stem..layer3 frozen
 *   full     every group trainable
 * A training step is params_zero_grad, model_forward, model_loss,
 * model_backward, optimizer_step (SGD, momentum 0.9, lr 0.01, no weight
 * decay). Input is random N(0,1)-ish NCHW float, labels random.
 *
 * prints one JSON line:
 * {"impl":"thaw","arch":..,"mode":..,"batch":..,"size":..,"threads":..,
 *  "warmup":..,"iters":..,"step_ms":[..],"step_ms_min":..,"step_ms_median":..,
 *  "img_s":<batch/min step>,"img_s_median":..,"plan_ms":..,"peak_rss_mb":..} */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "engine/ops/conv2d.h"

#include "engine/models/model.h"
#include "engine/optim/optimizer.h"

void openblas_set_num_threads(int num_threads);

typedef enum { MODE_FORWARD, MODE_HEAD, MODE_LAYER4, MODE_FULL } BenchMode;

static const char *const MODE_NAMES[] = {"forward", "head", "layer4", "full"};
static const char *const GROUPS[] = {"stem", "layer1", "layer2", "layer3", "layer4", "head"};
#define N_GROUPS ((int)(sizeof GROUPS / sizeof GROUPS[0]))

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;   /* Linux: kilobytes */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--arch resnet18|resnet50] [--batch N] [--size S]\n"
            "       [--mode forward|head|layer4|full] [--iters N] [--warmup N]\n"
            "       [--threads N] [--classes N]\n",
            prog);
}

static int parse_mode(const char *s, BenchMode *mode)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, MODE_NAMES[i]) == 0) {
            *mode = (BenchMode)i;
            return 0;
        }
    }
    return -1;
}

/* Lowest group index that trains in this mode (N_GROUPS: none). */
static int first_trainable(BenchMode mode)
{
    switch (mode) {
    case MODE_HEAD: return 5;
    case MODE_LAYER4: return 4;
    case MODE_FULL: return 0;
    default: return N_GROUPS;
    }
}

static int configure(Model *m, BenchMode mode, ThawError *err)
{
    int first = first_trainable(mode);
    for (int i = 0; i < N_GROUPS; i++) {
        int g = params_find_group(&m->params, GROUPS[i]);
        if (g < 0) {
            snprintf(err->msg, sizeof err->msg, "model has no group '%s'", GROUPS[i]);
            return -1;
        }
        m->params.groups[g].frozen = i < first;
        m->params.groups[g].lr = 0.01f;
        m->params.groups[g].weight_decay = 0.0f;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *arch = "resnet18";
    int batch = 32, size = 224, iters = 5, warmup = 1, threads = 2, classes = 1000;
    BenchMode mode = MODE_FULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(argv[0]);
            return 0;
        }
        if (!v) {
            usage(argv[0]);
            return 2;
        }
        i++;
        if (strcmp(a, "--arch") == 0) {
            arch = v;
        } else if (strcmp(a, "--batch") == 0) {
            batch = atoi(v);
        } else if (strcmp(a, "--size") == 0) {
            size = atoi(v);
        } else if (strcmp(a, "--iters") == 0) {
            iters = atoi(v);
        } else if (strcmp(a, "--warmup") == 0) {
            warmup = atoi(v);
        } else if (strcmp(a, "--threads") == 0) {
            threads = atoi(v);
        } else if (strcmp(a, "--classes") == 0) {
            classes = atoi(v);
        } else if (strcmp(a, "--mode") == 0) {
            if (parse_mode(v, &mode) != 0) {
                fprintf(stderr, "unknown mode '%s'\n", v);
                return 2;
            }
        } else {
            usage(argv[0]);
            return 2;
        }
    }
    if (batch < 1 || size < 1 || iters < 1 || warmup < 0 || threads < 1 || classes < 1) {
        usage(argv[0]);
        return 2;
    }
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    /* THAW_BENCH_WINOGRAD=0: every conv through im2col + GEMM, to measure
     * what the Winograd path gives in one run */
    const char *wino = getenv("THAW_BENCH_WINOGRAD");
    if (wino && strcmp(wino, "0") == 0) {
        conv2d_set_winograd(0);
    }

    ThawError err = {0};
    Model m;
    if (model_create(&m, arch, classes, 0, &err) != 0 || configure(&m, mode, &err) != 0) {
        fprintf(stderr, "bench_resnet: %s\n", err.msg);
        return 1;
    }
    GraphMode gm = {.training = mode != MODE_FORWARD};
    double t0 = now_ms();
    if (model_plan(&m, batch, size, size, &gm, &err) != 0) {
        fprintf(stderr, "bench_resnet: %s\n", err.msg);
        model_free(&m);
        return 1;
    }
    double plan_ms = now_ms() - t0;

    Optimizer opt;
    int have_opt = 0;
    if (mode != MODE_FORWARD) {
        if (optimizer_init(&opt, OPT_SGD, &m.params, &err) != 0) {
            fprintf(stderr, "bench_resnet: %s\n", err.msg);
            model_free(&m);
            return 1;
        }
        opt.momentum = 0.9f;
        have_opt = 1;
    }

    size_t n_in = (size_t)batch * 3 * size * size;
    float *x = malloc(n_in * sizeof(float));
    int32_t *labels = malloc((size_t)batch * sizeof(int32_t));
    double *step_ms = calloc((size_t)iters, sizeof(double));
    if (!x || !labels || !step_ms) {
        fprintf(stderr, "bench_resnet: out of memory\n");
        return 1;
    }
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n_in; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        /* sum of two uniforms: mean 0, roughly unit scale */
        float u1 = (float)(s >> 40) / 16777216.0f;
        float u2 = (float)((s >> 16) & 0xffffff) / 16777216.0f;
        x[i] = (u1 + u2 - 1.0f) * 2.45f;
    }
    for (int i = 0; i < batch; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        labels[i] = (int32_t)((s >> 33) % (uint64_t)classes);
    }

    float loss = 0.0f;
    for (int it = 0; it < warmup + iters; it++) {
        double ts = now_ms();
        if (mode == MODE_FORWARD) {
            model_forward(&m, x);
        } else {
            params_zero_grad(&m.params);
            model_forward(&m, x);
            loss = model_loss(&m, labels, 0.0f);
            model_backward(&m, labels, 0.0f);
            optimizer_step(&opt, &m.params);
        }
        double dt = now_ms() - ts;
        if (it >= warmup) {
            step_ms[it - warmup] = dt;
        }
    }
    if (mode == MODE_FORWARD) {
        loss = model_logits(&m)[0];   /* keep the result observable */
    }

    double *sorted = malloc((size_t)iters * sizeof(double));
    memcpy(sorted, step_ms, (size_t)iters * sizeof(double));
    qsort(sorted, (size_t)iters, sizeof(double), cmp_double);
    double min_ms = sorted[0];
    double med_ms = iters % 2 ? sorted[iters / 2]
                              : 0.5 * (sorted[iters / 2 - 1] + sorted[iters / 2]);

    printf("{\"impl\":\"thaw\",\"arch\":\"%s\",\"mode\":\"%s\",\"batch\":%d,\"size\":%d,"
           "\"threads\":%d,\"warmup\":%d,\"iters\":%d,\"step_ms\":[",
           arch, MODE_NAMES[mode], batch, size, threads, warmup, iters);
    for (int i = 0; i < iters; i++) {
        printf("%s%.2f", i ? "," : "", step_ms[i]);
    }
    printf("],\"step_ms_min\":%.2f,\"step_ms_median\":%.2f,\"img_s\":%.3f,"
           "\"img_s_median\":%.3f,\"plan_ms\":%.1f,\"check\":%.6g,\"peak_rss_mb\":%.1f}\n",
           min_ms, med_ms, batch * 1e3 / min_ms, batch * 1e3 / med_ms, plan_ms, (double)loss,
           peak_rss_mb());
    fflush(stdout);

    free(sorted);
    free(step_ms);
    free(labels);
    free(x);
    if (have_opt) {
        optimizer_free(&opt);
    }
    model_free(&m);
    return 0;
}
