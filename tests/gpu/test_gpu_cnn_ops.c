/* Parity of the CUDA backend's CNN ops with the CPU engine's on random
 * inputs (tests/gpu/gpu_parity.h: max |gpu - cpu| <= 1e-4 x max |cpu|, fp32,
 * TF32 off): convolution through cuDNN (7x7 s2 stem, 3x3 with bias, 1x1 s1
 * and s2, grouped, depthwise 5x5, depthwise 3x3 s2 behind TF-same padding;
 * deterministic algorithms, then the default choice), batch norm (train,
 * eval, both backwards, NULL gradients), max and adaptive average pooling,
 * dropout (the CPU's mask exactly), pad and flatten. Without a GPU: prints
 * "skipped: no GPU" and exits 77. */
#include "engine/cuda/cuda_ops.h"
#include "engine/ops/activation.h"
#include "engine/ops/batchnorm.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/pad.h"
#include "engine/ops/pool.h"

#include "gpu_parity.h"

#define WORKSPACE_LIMIT ((size_t)64 << 20)

/* Device buffers of one test, released together. */
static void *owned[64];
static int n_owned;

static float *dev(const float *host, size_t n)
{
    float *d = to_device(host, (n + 1) * sizeof(float));
    owned[n_owned++] = d;
    return d;
}

static void release_all(void)
{
    while (n_owned > 0) {
        thaw_cuda_release(owned[--n_owned]);
    }
}

/* A failed cuDNN call fails the check but not the run: the other ops'
 * checks still print. */
static int soft_rc(int rc, const char *what)
{
    if (rc) {
        printf("gpu-op %-30s error: %s  FAIL\n", what, err.msg);
        failures++;
    }
    return rc == 0;
}

static void print_plan(const char *name, const Conv2dShape *s)
{
    ThawCudaConvAlgos a;
    if (!soft_rc(thaw_cuda_conv2d_plan(ctx, s, &a, &err), name)) {
        return;
    }
    size_t most = a.fwd_workspace;
    most = a.bwd_data_workspace > most ? a.bwd_data_workspace : most;
    most = a.bwd_filter_workspace > most ? a.bwd_filter_workspace : most;
    char detail[160];
    snprintf(detail, sizeof detail, "algos fwd %d data %d filter %d, workspace %zu B", a.fwd,
             a.bwd_data, a.bwd_filter, most);
    char label[64];
    snprintf(label, sizeof label, "%s plan", name);
    check_true(label, most <= WORKSPACE_LIMIT, detail);
}

/* Forward and backward of one convolution; with tf_same, a pad op (0 before,
 * 1 after, as TensorFlow pads even sizes for stride 2) comes first. */
/* Set: conv_case forces which directions of its 1x1 shape run as GEMMs
 * (timed mode), else they follow the timing. */
static const int *forced_paths;

static void conv_case(const char *name, int n, int h, int w, int c, int k, int r,
                      int stride, int pad, int groups, int with_bias, int tf_same)
{
    Pad2dShape ps = {n, h, w, c, 0, tf_same, 0, tf_same};
    const int ch = h + tf_same, cw = w + tf_same;
    Conv2dShape s;
    if (conv2d_shape_init(&s, n, ch, cw, c, k, r, r, stride, pad, 1, groups) != 0) {
        check_true(name, 0, "bad shape in the test");
        return;
    }
    const size_t in_n = (size_t)n * h * w * c, cin_n = (size_t)n * ch * cw * c;
    const size_t out_n = (size_t)n * s.p * s.q * k, w_n = (size_t)k * (c / groups) * r * r;
    float *x = random_host(in_n, -1, 1), *wt = random_host(w_n, -0.5f, 0.5f);
    float *b = random_host(k, -1, 1), *dout = random_host(out_n, -1, 1);
    float *din = random_host(in_n, -1, 1), *dw = random_host(w_n, -1, 1);
    float *db = random_host(k, -1, 1), *out = malloc(out_n * sizeof(float));
    float *cx = malloc(cin_n * sizeof(float)), *dcx = calloc(cin_n, sizeof(float));
    float *ws = malloc((conv2d_workspace_floats(&s) + 1) * sizeof(float));
    float *d_x = dev(x, in_n), *d_w = dev(wt, w_n), *d_b = dev(b, k), *d_dout = dev(dout, out_n);
    float *d_din = dev(din, in_n), *d_dw = dev(dw, w_n), *d_db = dev(db, k);
    float *d_out = dev(out, out_n), *d_cx = dev(dcx, cin_n), *d_dcx = dev(dcx, cin_n);
    const float *bias = with_bias ? b : NULL, *d_bias = with_bias ? d_b : NULL;
    char label[64];

    /* CPU */
    if (tf_same) {
        pad2d_forward(cx, x, &ps);
    } else {
        memcpy(cx, x, in_n * sizeof(float));
    }
    conv2d_forward(out, cx, wt, bias, &s, ws);
    conv2d_backward(tf_same ? dcx : din, dw, with_bias ? db : NULL, dout, cx, wt, &s, ws);
    if (tf_same) {
        pad2d_backward(din, dcx, &ps);
    }
    /* GPU */
    if (forced_paths) {
        check_rc(thaw_cuda_conv2d_force_paths(ctx, &s, forced_paths, &err), name);
    }
    const float *gx = d_x;
    if (tf_same) {
        check_rc(thaw_cuda_pad2d_forward(ctx, d_cx, d_x, &ps, &err), "pad fwd");
        gx = d_cx;
    }
    int ok = soft_rc(thaw_cuda_conv2d_forward(ctx, d_out, gx, d_w, d_bias, &s, &err), name) &&
             soft_rc(thaw_cuda_conv2d_backward(ctx, tf_same ? d_dcx : d_din, d_dw,
                                               with_bias ? d_db : NULL, d_dout, gx, d_w, &s,
                                               &err), name);
    if (ok && tf_same) {
        check_rc(thaw_cuda_pad2d_backward(ctx, d_din, d_dcx, &ps, &err), "pad bwd");
    }
    if (!ok) {
        goto done;
    }
    snprintf(label, sizeof label, "%s fwd", name);
    compare(label, d_out, out, out_n);
    snprintf(label, sizeof label, "%s din (+=)", name);
    compare(label, d_din, din, in_n);
    snprintf(label, sizeof label, "%s dweight (+=)", name);
    compare(label, d_dw, dw, w_n);
    if (with_bias) {
        snprintf(label, sizeof label, "%s dbias (+=)", name);
        compare(label, d_db, db, k);
    }
    print_plan(name, &s);
done:;
    float *hosts[] = {x, wt, b, dout, din, dw, db, out, cx, dcx, ws};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        free(hosts[i]);
    }
    release_all();
}

static void test_conv(void)
{
    thaw_cuda_context_set_deterministic(ctx, 1);
    conv_case("conv 7x7 s2 stem", 2, 32, 32, 3, 16, 7, 2, 3, 1, 0, 0);
    conv_case("conv 3x3 s1 +bias", 2, 12, 12, 16, 24, 3, 1, 1, 1, 1, 0);
    conv_case("conv 1x1 s1", 2, 9, 9, 24, 40, 1, 1, 0, 1, 0, 0);
    conv_case("conv 1x1 s2", 2, 10, 10, 16, 32, 1, 2, 0, 1, 0, 0);
    conv_case("conv 3x3 s2 groups 4", 2, 11, 11, 16, 32, 3, 2, 1, 4, 0, 0);
    conv_case("dw 5x5 s1", 2, 10, 10, 24, 24, 5, 1, 2, 24, 0, 0);
    conv_case("dw 3x3 s2 TF-same", 2, 16, 16, 32, 32, 3, 2, 0, 32, 1, 1);
    int plans = thaw_cuda_conv2d_cached_plans(ctx);
    char detail[64];
    snprintf(detail, sizeof detail, "%d plans for 7 shapes", plans);
    check_true("conv plan cache", plans == 7, detail);
    /* The default (fastest fitting) algorithms must agree as well. */
    thaw_cuda_context_set_deterministic(ctx, 0);
    check_true("conv cache cleared", thaw_cuda_conv2d_cached_plans(ctx) == 0, NULL);
    conv_case("conv 3x3 s1 any-algo", 2, 12, 12, 16, 24, 3, 1, 1, 1, 1, 0);
    conv_case("conv 7x7 s2 any-algo", 2, 32, 32, 3, 16, 7, 2, 3, 1, 0, 0);
    conv_case("dw 3x3 s2 any-algo", 2, 16, 16, 32, 32, 3, 2, 0, 32, 0, 1);
    /* 1x1 through cuBLAS (what the timed default runs without benchmark
     * mode) with a bias, and through cuDNN */
    conv_case("conv 1x1 s2 +bias gemm", 2, 10, 10, 16, 32, 1, 2, 0, 1, 1, 0);
    thaw_cuda_context_set_gemm_1x1(ctx, 0);
    conv_case("conv 1x1 s1 cudnn", 2, 9, 9, 24, 40, 1, 1, 0, 1, 0, 0);
    conv_case("conv 1x1 s2 cudnn", 2, 10, 10, 16, 32, 1, 2, 0, 1, 0, 0);
    thaw_cuda_context_set_gemm_1x1(ctx, 1);
    /* algorithms timed by cuDNN (benchmark mode, thaw train's default) */
    thaw_cuda_context_set_benchmark(ctx, 1);
    conv_case("conv 3x3 s1 timed", 2, 12, 12, 16, 24, 3, 1, 1, 1, 1, 0);
    conv_case("dw 3x3 s2 timed", 2, 16, 16, 32, 32, 3, 2, 0, 32, 0, 1);
    /* 1x1 timed against the GEMMs: what the timing picks, then every mix
     * of the two paths (forward / backward data / backward filter) */
    thaw_cuda_context_set_gemm_1x1(ctx, THAW_CUDA_1X1_TIMED);
    conv_case("conv 1x1 s1 timed-1x1", 4, 14, 14, 64, 96, 1, 1, 0, 1, 0, 0);
    conv_case("conv 1x1 s2 +bias timed-1x1", 4, 14, 14, 64, 96, 1, 2, 0, 1, 1, 0);
    {
        Conv2dShape s1;
        ThawCudaConvAlgos algos;
        conv2d_shape_init(&s1, 4, 14, 14, 64, 96, 1, 1, 1, 0, 1, 1);
        check_rc(thaw_cuda_conv2d_plan(ctx, &s1, &algos, &err), "timed-1x1 plan");
        printf("  timed-1x1 [4,14,14,64]->96: gemm %d/%d/%d, ms gemm %.3f/%.3f/%.3f "
               "cudnn %.3f/%.3f/%.3f\n", algos.gemm[0], algos.gemm[1], algos.gemm[2],
               algos.gemm_ms[0], algos.gemm_ms[1], algos.gemm_ms[2], algos.cudnn_ms[0],
               algos.cudnn_ms[1], algos.cudnn_ms[2]);
        check_true("timed-1x1 timed the GEMMs", algos.gemm_ms[0] > 0 && algos.gemm_ms[1] > 0 &&
                   algos.gemm_ms[2] > 0, NULL);
        int picked = 1;
        for (int d = 0; d < 3; d++) {
            picked &= algos.cudnn_ms[d] > 0 &&
                      algos.gemm[d] == (algos.gemm_ms[d] <= algos.cudnn_ms[d]);
        }
        check_true("timed-1x1 took the faster path per direction", picked, NULL);
    }
    static const int mixes[][3] = {{0, 0, 0}, {1, 0, 1}, {0, 1, 0}, {0, 0, 1}, {1, 1, 0}};
    /* one unstrided mix as well */
    {
        static const int mix[3] = {0, 1, 0};
        forced_paths = mix;
        conv_case("conv 1x1 s1 paths 010", 2, 9, 9, 24, 40, 1, 1, 0, 1, 0, 0);
        forced_paths = NULL;
    }
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "conv 1x1 s2 +bias paths %d%d%d", mixes[i][0],
                 mixes[i][1], mixes[i][2]);
        forced_paths = mixes[i];
        conv_case(label, 2, 10, 10, 16, 32, 1, 2, 0, 1, 1, 0);
        forced_paths = NULL;
        Conv2dShape s2;
        ThawCudaConvAlgos got;
        conv2d_shape_init(&s2, 2, 10, 10, 16, 32, 1, 1, 2, 0, 1, 1);
        check_rc(thaw_cuda_conv2d_plan(ctx, &s2, &got, &err), label);
        check_true(label, got.gemm[0] == mixes[i][0] && got.gemm[1] == mixes[i][1] &&
                   got.gemm[2] == mixes[i][2], "the forced paths are the plan's");
    }
    thaw_cuda_context_set_gemm_1x1(ctx, 1);
    thaw_cuda_context_set_benchmark(ctx, 0);
    /* depthwise on the backend's own kernels (engine/cuda/cuda_depthwise.h):
     * 4 and 1 channels a thread, a bias, TF-same, Lite0's widest layer */
    thaw_cuda_context_set_own_depthwise(ctx, 1);
    conv_case("dw 5x5 s1 own", 2, 10, 10, 24, 24, 5, 1, 2, 24, 0, 0);
    conv_case("dw 3x3 s2 TF-same +bias own", 2, 16, 16, 32, 32, 3, 2, 0, 32, 1, 1);
    conv_case("dw 3x3 s1 c6 own", 2, 9, 9, 6, 6, 3, 1, 1, 6, 0, 0);
    conv_case("dw 5x5 s2 c1152 own", 2, 9, 9, 1152, 1152, 5, 2, 2, 1152, 0, 0);
    conv_case("dw 3x3 s1 many rows own", 8, 56, 56, 16, 16, 3, 1, 1, 16, 0, 0);
    thaw_cuda_context_set_own_depthwise(ctx, 0);
}

static void bn_case(const char *name, int m, int c, float lo, float hi)
{
    const size_t mc = (size_t)m * c;
    const float momentum = 0.1f, eps = 1e-5f;
    float *x = random_host(mc, lo, hi), *g = random_host(c, 0.5f, 1.5f);
    float *b = random_host(c, -0.5f, 0.5f), *rm = random_host(c, -1, 1);
    float *rv = random_host(c, 0.5f, 2), *dy = random_host(mc, -1, 1);
    float *dx = random_host(mc, -1, 1), *dg = random_host(c, -1, 1), *dbt = random_host(c, -1, 1);
    float *y = malloc(mc * sizeof(float)), *mean = malloc(c * sizeof(float));
    float *rstd = malloc(c * sizeof(float));
    float *d_x = dev(x, mc), *d_g = dev(g, c), *d_b = dev(b, c), *d_rm = dev(rm, c);
    float *d_rv = dev(rv, c), *d_dy = dev(dy, mc), *d_dx = dev(dx, mc), *d_dg = dev(dg, c);
    float *d_db = dev(dbt, c), *d_y = dev(y, mc), *d_mean = dev(mean, c), *d_rstd = dev(rstd, c);
    char label[64];
#define BN_CMP(what, d, h, count)                                              \
    do {                                                                       \
        snprintf(label, sizeof label, "%s %s", name, what);                    \
        compare(label, d, h, count);                                           \
    } while (0)

    batchnorm_forward_train(y, mean, rstd, x, g, b, rm, rv, momentum, eps, m, c);
    check_rc(thaw_cuda_batchnorm_forward_train(ctx, d_y, d_mean, d_rstd, d_x, d_g, d_b, d_rm,
                                               d_rv, momentum, eps, m, c, THAW_CUDA_ACT_NONE,
                                               &err), name);
    BN_CMP("train y", d_y, y, mc);
    BN_CMP("mean", d_mean, mean, c);
    BN_CMP("rstd", d_rstd, rstd, c);
    BN_CMP("running_mean", d_rm, rm, c);
    BN_CMP("running_var", d_rv, rv, c);

    batchnorm_backward_train(dx, dg, dbt, dy, x, mean, rstd, g, m, c);
    check_rc(thaw_cuda_batchnorm_backward_train(ctx, d_dx, d_dg, d_db, d_dy, d_x, d_mean,
                                                d_rstd, d_g, eps, m, c, &err), name);
    BN_CMP("train dx (+=)", d_dx, dx, mc);
    BN_CMP("train dgamma (+=)", d_dg, dg, c);
    BN_CMP("train dbeta (+=)", d_db, dbt, c);
    /* Frozen affine: dx only. */
    batchnorm_backward_train(dx, NULL, NULL, dy, x, mean, rstd, g, m, c);
    check_rc(thaw_cuda_batchnorm_backward_train(ctx, d_dx, NULL, NULL, d_dy, d_x, d_mean,
                                                d_rstd, d_g, eps, m, c, &err), name);
    BN_CMP("train dx only", d_dx, dx, mc);

    /* Eval mode with the running statistics just updated. */
    batchnorm_forward_eval(y, x, g, b, rm, rv, eps, m, c);
    check_rc(thaw_cuda_batchnorm_forward_eval(ctx, d_y, d_x, d_g, d_b, d_rm, d_rv, eps, m, c,
                                              THAW_CUDA_ACT_NONE, &err), name);
    BN_CMP("eval y", d_y, y, mc);
    /* fused activations (the executor's fusion): batch norm then relu(6) */
    float *act = malloc(mc * sizeof(float));
    relu_forward(act, y, mc);
    check_rc(thaw_cuda_batchnorm_forward_eval(ctx, d_y, d_x, d_g, d_b, d_rm, d_rv, eps, m, c,
                                              THAW_CUDA_ACT_RELU, &err), name);
    BN_CMP("eval y + relu", d_y, act, mc);
    float *rm2 = malloc(c * sizeof(float)), *rs2 = malloc(c * sizeof(float));
    batchnorm_forward_train(act, rm2, rs2, x, g, b, NULL, NULL, momentum, eps, m, c);
    relu6_forward(act, act, mc);
    check_rc(thaw_cuda_batchnorm_forward_train(ctx, d_y, d_mean, d_rstd, d_x, d_g, d_b, NULL,
                                               NULL, momentum, eps, m, c, THAW_CUDA_ACT_RELU6,
                                               &err), name);
    BN_CMP("train y + relu6", d_y, act, mc);
    free(act);
    free(rm2);
    free(rs2);
    batchnorm_backward_eval(dx, dg, dbt, dy, x, g, rm, rv, eps, m, c);
    check_rc(thaw_cuda_batchnorm_backward_eval(ctx, d_dx, d_dg, d_db, d_dy, d_x, d_g, d_rm,
                                               d_rv, eps, m, c, &err), name);
    BN_CMP("eval dx (+=)", d_dx, dx, mc);
    BN_CMP("eval dgamma (+=)", d_dg, dg, c);
    BN_CMP("eval dbeta (+=)", d_db, dbt, c);
    batchnorm_backward_eval(dx, NULL, NULL, dy, x, g, rm, rv, eps, m, c);
    check_rc(thaw_cuda_batchnorm_backward_eval(ctx, d_dx, NULL, NULL, d_dy, d_x, d_g, d_rm,
                                               d_rv, eps, m, c, &err), name);
    BN_CMP("eval dx only", d_dx, dx, mc);
#undef BN_CMP
    float *hosts[] = {x, g, b, rm, rv, dy, dx, dg, dbt, y, mean, rstd};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        free(hosts[i]);
    }
    release_all();
}

static void test_batchnorm(void)
{
    bn_case("bn 98x100 offset", 2 * 7 * 7, 100, 3, 5);
    bn_case("bn 1024x64", 4 * 16 * 16, 64, -1, 1);
    bn_case("bn 8x520", 8, 520, -2, 2);
    /* train mode on cuDNN's NHWC kernels (the eval cases stay on ours) */
    /* (each case: forward, full backward and dx-only backward on cuDNN) */
    thaw_cuda_context_set_cudnn_batchnorm(ctx, 1);
    static const struct { const char *name; int m, c; float lo, hi; } on_cudnn[] = {
        {"bn 98x100 offset cudnn", 2 * 7 * 7, 100, 3, 5},
        {"bn 1024x64 cudnn", 4 * 16 * 16, 64, -1, 1},
        {"bn 8x520 cudnn", 8, 520, -2, 2},
        {"bn 6272x256 cudnn", 8 * 28 * 28, 256, -1, 1},
    };
    for (size_t i = 0; i < sizeof on_cudnn / sizeof on_cudnn[0]; i++) {
        long before = thaw_cuda_context_cudnn_batchnorm_calls(ctx);
        bn_case(on_cudnn[i].name, on_cudnn[i].m, on_cudnn[i].c, on_cudnn[i].lo, on_cudnn[i].hi);
        long took = thaw_cuda_context_cudnn_batchnorm_calls(ctx) - before;
        char label[64], detail[64];
        snprintf(label, sizeof label, "%s on cuDNN", on_cudnn[i].name);
        snprintf(detail, sizeof detail, "%ld of 3 train passes", took);
        check_true(label, took == 3, detail);
    }
    thaw_cuda_context_set_cudnn_batchnorm(ctx, 0);
    bn_case("bn 40000x32", 40000, 32, -1, 3);
    /* one channel a thread (30 % 4 != 0); channels over two blocks (1152,
     * 2048: Lite0's and ResNet-50's widest) */
    bn_case("bn 300x30", 300, 30, -1, 1);
    bn_case("bn 98x1152", 2 * 7 * 7, 1152, -1, 2);
    bn_case("bn 50x2048", 50, 2048, 0, 4);
}

static void maxpool_case(const char *name, int n, int h, int w, int c)
{
    Pool2dShape s;
    check_rc(pool2d_shape_init(&s, n, h, w, c, 3, 2, 1) ? THAW_ERR_ARG : 0, "pool shape");
    const size_t in_n = (size_t)n * h * w * c, out_n = (size_t)n * s.p * s.q * c;
    float *x = random_host(in_n, -1, 1), *dout = random_host(out_n, -1, 1);
    float *din = random_host(in_n, -1, 1), *out = malloc(out_n * sizeof(float));
    int32_t *am = malloc(out_n * sizeof(int32_t));
    float *d_x = dev(x, in_n), *d_dout = dev(dout, out_n), *d_din = dev(din, in_n);
    float *d_out = dev(out, out_n);
    int32_t *d_am = (int32_t *)dev(out, out_n);
    char label[64];
    maxpool2d_forward(out, am, x, &s);
    maxpool2d_backward(din, dout, am, &s);
    check_rc(thaw_cuda_maxpool2d_forward(ctx, d_out, d_am, d_x, &s, &err), name);
    check_rc(thaw_cuda_maxpool2d_backward(ctx, d_din, d_dout, d_am, &s, &err), name);
    snprintf(label, sizeof label, "%s fwd", name);
    compare(label, d_out, out, out_n);
    snprintf(label, sizeof label, "%s argmax", name);
    compare_exact_int(label, d_am, am, out_n);
    snprintf(label, sizeof label, "%s bwd (+=)", name);
    compare(label, d_din, din, in_n);
    free(x); free(dout); free(din); free(out); free(am);
    release_all();
}

static void avgpool_case(const char *name, int n, int h, int w, int c, int oh, int ow)
{
    const size_t in_n = (size_t)n * h * w * c, out_n = (size_t)n * oh * ow * c;
    float *x = random_host(in_n, -1, 1), *dout = random_host(out_n, -1, 1);
    float *din = random_host(in_n, -1, 1), *out = malloc(out_n * sizeof(float));
    float *d_x = dev(x, in_n), *d_dout = dev(dout, out_n), *d_din = dev(din, in_n);
    float *d_out = dev(out, out_n);
    char label[64];
    adaptive_avgpool2d_forward(out, x, n, h, w, c, oh, ow);
    adaptive_avgpool2d_backward(din, dout, n, h, w, c, oh, ow);
    check_rc(thaw_cuda_adaptive_avgpool2d_forward(ctx, d_out, d_x, n, h, w, c, oh, ow, &err), name);
    check_rc(thaw_cuda_adaptive_avgpool2d_backward(ctx, d_din, d_dout, n, h, w, c, oh, ow, &err),
             name);
    snprintf(label, sizeof label, "%s fwd", name);
    compare(label, d_out, out, out_n);
    snprintf(label, sizeof label, "%s bwd (+=)", name);
    compare(label, d_din, din, in_n);
    free(x); free(dout); free(din); free(out);
    release_all();
}

static void dropout_case(const char *name, float p, size_t n)
{
    float *x = random_host(n, -1, 1), *dout = random_host(n, -1, 1);
    float *din = random_host(n, -1, 1), *out = malloc(n * sizeof(float));
    float *mask = malloc(n * sizeof(float));
    float *d_x = dev(x, n), *d_dout = dev(dout, n), *d_din = dev(din, n);
    float *d_out = dev(out, n), *d_mask = dev(out, n);
    uint64_t cpu_rng = 0x1234567887654321ull, gpu_rng = cpu_rng;
    char label[64];
    for (int call = 0; call < 2; call++) {   /* the second call: advanced state */
        dropout_forward(out, mask, x, p, n, &cpu_rng);
        check_rc(thaw_cuda_dropout_forward(ctx, d_out, d_mask, d_x, p, n, &gpu_rng, &err), name);
    }
    dropout_backward(din, dout, mask, n);
    check_rc(thaw_cuda_dropout_backward(ctx, d_din, d_dout, d_mask, n, &err), name);
    snprintf(label, sizeof label, "%s fwd", name);
    compare(label, d_out, out, n);
    snprintf(label, sizeof label, "%s mask", name);
    compare(label, d_mask, mask, n);
    snprintf(label, sizeof label, "%s bwd (+=)", name);
    compare(label, d_din, din, n);
    snprintf(label, sizeof label, "%s rng state", name);
    check_true(label, cpu_rng == gpu_rng, NULL);
    free(x); free(dout); free(din); free(out); free(mask);
    release_all();
}

static void test_layout(void)
{
    Pad2dShape ps = {2, 7, 6, 5, 1, 2, 3, 0};
    const int oh = 7 + 3, ow = 6 + 3;
    const size_t in_n = 2 * 7 * 6 * 5, out_n = (size_t)2 * oh * ow * 5;
    float *x = random_host(in_n, -1, 1), *dout = random_host(out_n, -1, 1);
    float *din = random_host(in_n, -1, 1), *out = random_host(out_n, -1, 1);
    float *d_x = dev(x, in_n), *d_dout = dev(dout, out_n), *d_din = dev(din, in_n);
    float *d_out = dev(out, out_n);
    pad2d_forward(out, x, &ps);
    pad2d_backward(din, dout, &ps);
    check_rc(thaw_cuda_pad2d_forward(ctx, d_out, d_x, &ps, &err), "pad fwd");
    check_rc(thaw_cuda_pad2d_backward(ctx, d_din, d_dout, &ps, &err), "pad bwd");
    compare("pad (1,2,3,0) fwd", d_out, out, out_n);
    compare("pad (1,2,3,0) bwd (+=)", d_din, din, in_n);
    /* flatten [2, 7, 6, 5] -> [2, 210] in (c, h, w) order */
    flatten_forward(out, x, 2, 7, 6, 5);
    flatten_backward(din, x, 2, 7, 6, 5);
    check_rc(thaw_cuda_flatten_forward(ctx, d_out, d_x, 2, 7, 6, 5, &err), "flatten fwd");
    check_rc(thaw_cuda_flatten_backward(ctx, d_din, d_x, 2, 7, 6, 5, &err), "flatten bwd");
    compare("flatten fwd", d_out, out, in_n);
    compare("flatten bwd (+=)", d_din, din, in_n);
    free(x); free(dout); free(din); free(out);
    release_all();
}

int main(void)
{
    gpu_start(WORKSPACE_LIMIT);
    test_batchnorm();
    maxpool_case("maxpool 3x3 s2 17x17", 2, 17, 17, 40);
    maxpool_case("maxpool 3x3 s2 16x16", 2, 16, 16, 64);
    maxpool_case("maxpool 3x3 s2 9x9 c6 (one channel a thread)", 1, 9, 9, 6);
    avgpool_case("avgpool 7x7->3x3", 2, 7, 7, 24, 3, 3);
    avgpool_case("avgpool 6x5->2x4", 3, 6, 5, 33, 2, 4);
    avgpool_case("avgpool 5x5->1x1", 2, 5, 5, 70, 1, 1);
    dropout_case("dropout p=0.3", 0.3f, 10001);
    dropout_case("dropout p=0", 0.0f, 999);
    dropout_case("dropout p=1", 1.0f, 1000);
    test_layout();
    test_conv();   /* last: cuDNN failures are reported, not fatal */
    return gpu_finish();
}
