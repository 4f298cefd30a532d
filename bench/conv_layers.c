/* Times conv2d_forward and conv2d_backward (din + dweight, no bias, as in
 * ResNet) for one shape. Driven by bench/conv_layers.py, which runs PyTorch
 * on the same shapes in the same run and prints the comparison.
 *
 * usage: [THAW_BENCH_WINOGRAD=0] conv_layers n h w c k r s stride pad groups reps [f|b|fb]
 * (the optional last argument times only forward or only backward, for
 * profiling one direction with perf)
 * prints: "fwd_ms=<min> bwd_ms=<min> fwd_med=<median> bwd_med=<median>
 *          fwd_cpu=<min CPU ms> bwd_cpu=<min CPU ms> ws_mb=... threads=..." */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/ops/conv2d.h"

static double clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static double now_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

/* CPU time of all threads: steadier than wall time when other jobs share
 * the cores (it still counts spin-waiting), used to compare our variants. */
static double cpu_ms(void)
{
    return clock_ms(CLOCK_PROCESS_CPUTIME_ID);
}

static float *randn(size_t n, unsigned *seed)
{
    float *p = malloc(n * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        p[i] = (float)(*seed >> 8) / 16777216.0f - 0.5f;
    }
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    /* THAW_BENCH_WINOGRAD=0: 3x3 stride-1 convs through im2col + GEMM, to
     * compare the two paths on one machine in one run */
    const char *wino = getenv("THAW_BENCH_WINOGRAD");
    if (wino && strcmp(wino, "0") == 0) {
        conv2d_set_winograd(0);
    }
    if (argc != 12 && argc != 13) {
        fprintf(stderr, "usage: %s n h w c k r s stride pad groups reps [f|b|fb]\n", argv[0]);
        return 2;
    }
    int v[11];
    for (int i = 0; i < 11; i++) {
        v[i] = atoi(argv[i + 1]);
    }
    Conv2dShape s;
    if (conv2d_shape_init(&s, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7],
                          v[8], 1, v[9]) != 0) {
        fprintf(stderr, "invalid shape\n");
        return 2;
    }
    const char *budget = getenv("THAW_CONV_CHUNK_FLOATS");   /* tuning */
    if (budget) {
        conv2d_set_chunk_budget((size_t)atol(budget));
    }
    int reps = v[10] > 0 ? v[10] : 1;
    const char *mode = argc == 13 ? argv[12] : "fb";
    int do_f = strchr(mode, 'f') != NULL, do_b = strchr(mode, 'b') != NULL;
    unsigned seed = 42;
    size_t n_in = (size_t)s.n * s.h * s.w * s.c;
    size_t n_out = (size_t)s.n * s.p * s.q * s.k;
    size_t n_w = (size_t)s.k * (s.c / s.groups) * s.r * s.s;
    float *in = randn(n_in, &seed), *w = randn(n_w, &seed);
    float *dout = randn(n_out, &seed), *out = randn(n_out, &seed);
    float *din = calloc(n_in, sizeof(float)), *dw = calloc(n_w, sizeof(float));
    size_t ws_n = conv2d_workspace_floats(&s);
    float *ws = calloc(ws_n ? ws_n : 1, sizeof(float));
    if (!din || !dw || !ws) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    double *tf = calloc((size_t)reps, sizeof(double));
    double *tb = calloc((size_t)reps, sizeof(double));
    double cf = 1e30, cb = 1e30;
    if (do_f) {
        conv2d_forward(out, in, w, NULL, &s, ws);           /* warm-up */
    }
    if (do_b) {
        conv2d_backward(din, dw, NULL, dout, in, w, &s, ws);
    }
    for (int i = 0; do_f && i < reps; i++) {
        double t0 = now_ms(), c0 = cpu_ms();
        conv2d_forward(out, in, w, NULL, &s, ws);
        tf[i] = now_ms() - t0;
        c0 = cpu_ms() - c0;
        cf = c0 < cf ? c0 : cf;
    }
    for (int i = 0; do_b && i < reps; i++) {
        double t0 = now_ms(), c0 = cpu_ms();
        conv2d_backward(din, dw, NULL, dout, in, w, &s, ws);
        tb[i] = now_ms() - t0;
        c0 = cpu_ms() - c0;
        cb = c0 < cb ? c0 : cb;
    }
    qsort(tf, (size_t)reps, sizeof(double), cmp_double);
    qsort(tb, (size_t)reps, sizeof(double), cmp_double);
    printf("fwd_ms=%.3f bwd_ms=%.3f fwd_med=%.3f bwd_med=%.3f fwd_cpu=%.3f "
           "bwd_cpu=%.3f ws_mb=%.1f threads=%d\n",
           tf[0], tb[0], tf[reps / 2], tb[reps / 2], do_f ? cf : 0.0,
           do_b ? cb : 0.0, ws_n * 4.0 / 1048576.0, omp_get_max_threads());
    free(tf); free(tb); free(in); free(w); free(dout); free(out);
    free(din); free(dw); free(ws);
    return 0;
}
