/* Shared by the GPU parity tests (one executable each, so the statics
 * here are per test): random inputs, device copies, the value-scaled
 * comparison (max |gpu - cpu| <= 1e-4 x max |cpu|) printed as one
 * "gpu-op NAME ..." line per check for tests/gpu/run.sh's summary, and the
 * start that prints "skipped: no GPU" and exits 77 without a device. */
#ifndef THAW_TEST_GPU_PARITY_H
#define THAW_TEST_GPU_PARITY_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/cuda_context.h"
#include "engine/cuda/cuda_device.h"

#define SKIP_CODE 77
#define REL_TOL 1e-4

static ThawCudaContext *ctx;
static ThawError err;
static int failures;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static inline float uniform(float lo, float hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * (float)((rng >> 40) / (double)(1ull << 24));
}

static inline float *random_host(size_t n, float lo, float hi)
{
    float *x = malloc((n + 1) * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        x[i] = uniform(lo, hi);
    }
    return x;
}

static inline float *copy_host(const float *x, size_t n)
{
    float *y = malloc((n + 1) * sizeof *y);
    memcpy(y, x, n * sizeof *y);
    return y;
}

/* Exits the test (as a failure) on a CUDA error: later checks would only
 * repeat it. */
static inline void check_rc(int rc, const char *what)
{
    if (rc) {
        printf("FAIL: %s: %s\n", what, err.msg);
        exit(1);
    }
}

static inline void *to_device(const void *host, size_t bytes)
{
    void *d = NULL;
    check_rc(thaw_cuda_alloc(&d, bytes, &err), "alloc");
    check_rc(thaw_cuda_upload(ctx, d, host, bytes, &err), "upload");
    return d;
}

static inline float *from_device(const float *d, size_t n)
{
    float *h = malloc((n + 1) * sizeof *h);
    check_rc(thaw_cuda_download(ctx, h, d, n * sizeof *h, &err), "download");
    check_rc(thaw_cuda_synchronize(ctx, &err), "synchronize");
    return h;
}

/* Compares device values d against the CPU reference ref. */
static inline void compare(const char *name, const float *d, const float *ref, size_t n)
{
    float *got = from_device(d, n);
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - ref[i]);
        worst = isnan(diff) || diff > worst ? (isnan(diff) ? INFINITY : diff) : worst;
        scale = fabs(ref[i]) > scale ? fabs(ref[i]) : scale;
    }
    double tol = REL_TOL * (scale > 1e-30 ? scale : 1e-30);
    int ok = worst <= tol;
    printf("gpu-op %-30s max_diff %.3e  max_ref %.3e  tol %.3e  %s\n", name, worst,
           scale, tol, ok ? "PASS" : "FAIL");
    failures += !ok;
    free(got);
}

/* Exact comparison of float device values (ops that add in the CPU's
 * order: the same bits). */
static inline void compare_bits(const char *name, const float *d, const float *ref, size_t n)
{
    float *got = from_device(d, n);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad += memcmp(&got[i], &ref[i], sizeof *got) != 0;
    }
    printf("gpu-op %-30s bit mismatches %zu of %zu  %s\n", name, bad, n, bad ? "FAIL" : "PASS");
    failures += bad != 0;
    free(got);
}

/* Exact comparison of int32 device values (argmax indices). */
static inline void compare_exact_int(const char *name, const int32_t *d, const int32_t *ref, size_t n)
{
    int32_t *got = malloc((n + 1) * sizeof *got);
    check_rc(thaw_cuda_download(ctx, got, d, n * sizeof *got, &err), "download");
    check_rc(thaw_cuda_synchronize(ctx, &err), "synchronize");
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad += got[i] != ref[i];
    }
    printf("gpu-op %-30s mismatches %zu of %zu  %s\n", name, bad, n, bad ? "FAIL" : "PASS");
    failures += bad != 0;
    free(got);
}

/* A named pass/fail check that is not a value comparison. */
static inline void check_true(const char *name, int ok, const char *detail)
{
    printf("gpu-op %-30s %s  %s\n", name, detail ? detail : "", ok ? "PASS" : "FAIL");
    failures += !ok;
}

/* Without a device: "skipped: no GPU", exit 77. Otherwise prints the GPU
 * and opens ctx on device 0 with exact fp32 (TF32 off). */
static inline void gpu_start(size_t workspace_limit)
{
    int count = 0;
    char reason[256];
    thaw_cuda_device_count(&count, reason, sizeof reason);
    if (count == 0) {
        printf("skipped: no GPU (%s)\n", reason);
        exit(SKIP_CODE);
    }
    ThawCudaDeviceInfo info;
    check_rc(thaw_cuda_device_info(0, &info, &err), "device info");
    printf("gpu: %s (sm_%d%d, %.1f GiB)\n", info.name, info.cc_major, info.cc_minor,
           info.total_bytes / (double)(1u << 30));
    check_rc(thaw_cuda_context_create(&ctx, 0, 0, workspace_limit, &err), "context");
}

static inline int gpu_finish(void)
{
    thaw_cuda_context_destroy(ctx);
    printf("%s: %d failing check(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}

#endif
