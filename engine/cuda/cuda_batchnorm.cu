/* BatchNorm2d on the GPU with the CPU op's exact semantics
 * (engine/ops/batchnorm.c): own kernels rather than cuDNN's, because the CPU
 * op also has an eval-mode backward with dgamma/dbeta (frozen statistics in
 * a trainable group) that cuDNN lacks, and because every sum here is
 * deterministic. Each call: per-channel sums (cuda_channel_sums.cu, double),
 * one thread per channel for the constants (double, as on the CPU), then
 * one elementwise pass in which each thread owns 4 channels
 * (cuda_channel_grid.h). Statistics use the first row as shift like the CPU,
 * so E[x^2] - E[x]^2 never cancels. Maps in the context's storage (float
 * or bf16), statistics and parameters float. */
#include "engine/cuda/cuda_batchnorm_cudnn.h"
#include "engine/cuda/cuda_channel_grid.h"
#include "engine/cuda/cuda_channel_sums.h"
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_ops.h"

/* Scratch: the chunk partials, then s1, s2 (c doubles each), then three
 * per-channel float arrays (k, sub, q). */
typedef struct {
    double *s1, *s2;
    float *k, *sub, *q;
    void *partials;
} BnScratch;

static int bn_scratch(ThawCudaContext *ctx, int m, int c, BnScratch *s, ThawError *err)
{
    size_t part = thaw_cuda_channel_sums_scratch(m, c);
    size_t doubles = 2 * (size_t)c * sizeof(double);
    void *base = NULL;
    int rc = thaw_cuda_scratch(ctx, part + doubles + 3 * (size_t)c * sizeof(float), &base, err);
    if (rc) {
        return rc;
    }
    char *p = (char *)base;
    s->partials = p;
    s->s1 = (double *)(p + part);
    s->s2 = s->s1 + c;
    s->k = (float *)(p + part + doubles);
    s->sub = s->k + c;
    s->q = s->sub + c;
    return 0;
}

template <typename S>
__global__ static void train_stats(float *mean, float *rstd, float *k,
                                   float *running_mean, float *running_var,
                                   const double *s1, const double *s2,
                                   const S *shift, const float *gamma,
                                   double momentum, double eps, int m, int c)
{
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= c) {
        return;
    }
    double d = s1[ch] / m;
    double mu = (double)thaw_ld(shift[ch]) + d;
    double var = s2[ch] / m - d * d;
    var = var < 0.0 ? 0.0 : var;
    double rs = 1.0 / sqrt(var + eps);
    mean[ch] = (float)mu;
    rstd[ch] = (float)rs;
    k[ch] = (float)(rs * gamma[ch]);
    if (running_mean) {
        running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + momentum * mu);
    }
    if (running_var) {
        /* PyTorch tracks the unbiased variance; one row has none. */
        double unb = m > 1 ? var * m / (m - 1) : var;
        running_var[ch] = (float)((1.0 - momentum) * running_var[ch] + momentum * unb);
    }
}

__global__ static void eval_scale(float *k, const float *gamma, const float *running_var,
                                  double eps, int c)
{
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch < c) {
        k[ch] = (float)(gamma[ch] / sqrt((double)running_var[ch] + eps));
    }
}

/* y = act((x - mu) * k + b): the mean is subtracted first, as on the CPU. */
template <int V, typename S>
__global__ static void apply_affine(S *y, const S *x, const float *mu,
                                    const float *k, const float *b, int act, ThawChanGrid g)
{
    const ThawChanSpan s = thaw_chan_span(g);
    if (s.ch < 0) {
        return;
    }
    float mv[V], kv[V], bv[V];
    for (int v = 0; v < V; v++) {
        mv[v] = mu[s.ch + v];
        kv[v] = k[s.ch + v];
        bv[v] = b[s.ch + v];
    }
#pragma unroll 4
    for (long r = s.r; r < s.r1; r += g.lanes) {
        const size_t at = (size_t)r * g.c + s.ch;
        float xv[V];
        thaw_vload<V>(xv, x + at);
        for (int v = 0; v < V; v++) {
            xv[v] = thaw_cuda_act((xv[v] - mv[v]) * kv[v] + bv[v], act);
        }
        thaw_vstore<V>(y + at, xv);
    }
}

/* dbeta += s1, dgamma += s2 * rs; the constants of dx for train mode. */
__global__ static void grad_stats(float *dgamma, float *dbeta, float *k, float *sub,
                                  float *q, const double *s1, const double *s2,
                                  const float *rstd, const float *gamma,
                                  const float *running_var, double eps, int m, int c)
{
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= c) {
        return;
    }
    double rs = rstd ? (double)rstd[ch] : 1.0 / sqrt((double)running_var[ch] + eps);
    if (dbeta) {
        dbeta[ch] += (float)s1[ch];
    }
    if (dgamma) {
        dgamma[ch] += (float)(s2[ch] * rs);
    }
    k[ch] = (float)(gamma[ch] * rs);
    sub[ch] = (float)(s1[ch] / m);
    q[ch] = (float)(s2[ch] * rs * rs / m);
}

template <int V, typename S>
__global__ static void train_dx(S *dx, const S *dy, const S *x,
                                const float *mean, const float *k, const float *sub,
                                const float *q, int assign, ThawChanGrid g)
{
    const ThawChanSpan s = thaw_chan_span(g);
    if (s.ch < 0) {
        return;
    }
    float mv[V], kv[V], sv[V], qv[V];
    for (int v = 0; v < V; v++) {
        mv[v] = mean[s.ch + v];
        kv[v] = k[s.ch + v];
        sv[v] = sub[s.ch + v];
        qv[v] = q[s.ch + v];
    }
#pragma unroll 4
    for (long r = s.r; r < s.r1; r += g.lanes) {
        const size_t at = (size_t)r * g.c + s.ch;
        float dyv[V], xv[V], out[V];
        thaw_vload<V>(dyv, dy + at);
        thaw_vload<V>(xv, x + at);
        thaw_vload_acc<V>(out, dx + at, assign);
        for (int v = 0; v < V; v++) {
            out[v] += kv[v] * (dyv[v] - sv[v] - (xv[v] - mv[v]) * qv[v]);
        }
        thaw_vstore<V>(dx + at, out);
    }
}

template <int V, typename S>
__global__ static void eval_dx(S *dx, const S *dy, const float *k, int assign, ThawChanGrid g)
{
    const ThawChanSpan s = thaw_chan_span(g);
    if (s.ch < 0) {
        return;
    }
    float kv[V];
    for (int v = 0; v < V; v++) {
        kv[v] = k[s.ch + v];
    }
#pragma unroll 4
    for (long r = s.r; r < s.r1; r += g.lanes) {
        const size_t at = (size_t)r * g.c + s.ch;
        float dyv[V], out[V];
        thaw_vload<V>(dyv, dy + at);
        thaw_vload_acc<V>(out, dx + at, assign);
        for (int v = 0; v < V; v++) {
            out[v] += dyv[v] * kv[v];
        }
        thaw_vstore<V>(dx + at, out);
    }
}

/* The elementwise passes' grid: 4 channels a thread where c and the maps
 * allow, 8 rows a thread. */
static ThawChanGrid pass_grid(int m, int c, const void *p0, const void *p1, const void *p2)
{
    int vec4 = thaw_chan_aligned(p0) && thaw_chan_aligned(p1) && thaw_chan_aligned(p2);
    return thaw_chan_grid(m, c, vec4, 8, 65535);
}

#define PER_CHANNEL(kernel, c, ...)                                            \
    do {                                                                       \
        kernel<<<(unsigned)(((c) + 127) / 128), 128, 0, ctx->stream>>>(__VA_ARGS__); \
        THAW_CUDA_CHECK_LAUNCH(#kernel);                                       \
    } while (0)


/* The four passes, one instantiation per storage type (float, bf16). */
template <typename S>
static int forward_train_on(ThawCudaContext *ctx, void *y_, float *mean, float *rstd,
                            const void *x_, const float *gamma, const float *beta,
                            float *running_mean, float *running_var, float momentum, float eps,
                            int m, int c, ThawCudaAct act, ThawError *err)
{
    S *y = (S *)y_;
    const S *x = (const S *)x_;
    BnScratch s;
    int rc = bn_scratch(ctx, m, c, &s, err);
    /* x itself as the shift: its first row. */
    rc = rc ? rc : thaw_cuda_channel_sums<S, S>(ctx, s.s1, s.s2, x, x, x, x, m, c, s.partials, err);
    if (rc) {
        return rc;
    }
    PER_CHANNEL(train_stats<S>, c, mean, rstd, s.k, running_mean, running_var, s.s1, s.s2, x,
                gamma, (double)momentum, (double)eps, m, c);
    const ThawChanGrid g = pass_grid(m, c, y, x, NULL);
    THAW_CHAN_LAUNCH(apply_affine, S, g, y, x, mean, s.k, beta, (int)act, g);
    return 0;
}

template <typename S>
static int forward_eval_on(ThawCudaContext *ctx, void *y, const void *x, const float *gamma,
                           const float *beta, const float *running_mean,
                           const float *running_var, float eps, int m, int c, ThawCudaAct act,
                           ThawError *err)
{
    BnScratch s;
    int rc = bn_scratch(ctx, 0, c, &s, err);
    if (rc) {
        return rc;
    }
    PER_CHANNEL(eval_scale, c, s.k, gamma, running_var, (double)eps, c);
    const ThawChanGrid g = pass_grid(m, c, y, x, NULL);
    THAW_CHAN_LAUNCH(apply_affine, S, g, (S *)y, (const S *)x, running_mean, s.k, beta,
                     (int)act, g);
    return 0;
}

template <typename S>
static int backward_train_on(ThawCudaContext *ctx, void *dx, float *dgamma, float *dbeta,
                             const void *dy_, const void *x_, const float *mean,
                             const float *rstd, const float *gamma, int m, int c,
                             ThawError *err)
{
    const S *dy = (const S *)dy_, *x = (const S *)x_;
    BnScratch s;
    int rc = bn_scratch(ctx, m, c, &s, err);
    /* s1 = sum dy, s2 = sum dy (x - mean) */
    rc = rc ? rc
            : thaw_cuda_channel_sums<S, float>(ctx, s.s1, s.s2, dy, NULL, x, mean, m, c,
                                               s.partials, err);
    if (rc) {
        return rc;
    }
    PER_CHANNEL(grad_stats, c, dgamma, dbeta, s.k, s.sub, s.q, s.s1, s.s2, rstd, gamma,
                (const float *)NULL, 0.0, m, c);
    if (dx) {
        const ThawChanGrid g = pass_grid(m, c, dx, dy, x);
        THAW_CHAN_LAUNCH(train_dx, S, g, (S *)dx, dy, x, mean, s.k, s.sub, s.q,
                         ctx->din_assign, g);
    }
    return 0;
}

template <typename S>
static int backward_eval_on(ThawCudaContext *ctx, void *dx, float *dgamma, float *dbeta,
                            const void *dy_, const void *x_, const float *gamma,
                            const float *running_mean, const float *running_var, float eps,
                            int m, int c, ThawError *err)
{
    const S *dy = (const S *)dy_, *x = (const S *)x_;
    BnScratch s;
    int rc = bn_scratch(ctx, (dgamma || dbeta) ? m : 0, c, &s, err);
    if (rc) {
        return rc;
    }
    if (dgamma || dbeta) {
        rc = thaw_cuda_channel_sums<S, float>(ctx, s.s1, s.s2, dy, NULL, x, running_mean, m, c,
                                              s.partials, err);
        if (rc) {
            return rc;
        }
        /* The statistics are constants: only dgamma/dbeta and k matter. */
        PER_CHANNEL(grad_stats, c, dgamma, dbeta, s.k, s.sub, s.q, s.s1, s.s2,
                    (const float *)NULL, gamma, running_var, (double)eps, m, c);
    } else {
        PER_CHANNEL(eval_scale, c, s.k, gamma, running_var, (double)eps, c);
    }
    if (dx) {
        const ThawChanGrid g = pass_grid(m, c, dx, dy, NULL);
        THAW_CHAN_LAUNCH(eval_dx, S, g, (S *)dx, dy, s.k, ctx->din_assign, g);
    }
    return 0;
}

extern "C" {

int thaw_cuda_batchnorm_forward_train(ThawCudaContext *ctx, void *y, float *mean, float *rstd,
                                      const void *x, const float *gamma, const float *beta,
                                      float *running_mean, float *running_var, float momentum,
                                      float eps, int m, int c, ThawCudaAct act, ThawError *err)
{
    if (m <= 0 || c <= 0) {
        return 0;
    }
    int done = 0;
    /* cuDNN's kernels: fp32 maps only (the option is off by default) */
    int rc = act == THAW_CUDA_ACT_NONE && !ctx->act_bf16
                 ? thaw_cuda_bn_cudnn_forward_train(ctx, (float *)y, mean, rstd,
                                                    (const float *)x, gamma, beta,
                                                    running_mean, running_var, momentum, eps,
                                                    m, c, &done, err)
                 : 0;
    if (rc || done) {
        return rc;
    }
    return THAW_BY_STORAGE(ctx, forward_train_on, ctx, y, mean, rstd, x, gamma, beta,
                           running_mean, running_var, momentum, eps, m, c, act, err);
}

int thaw_cuda_batchnorm_forward_eval(ThawCudaContext *ctx, void *y, const void *x,
                                     const float *gamma, const float *beta,
                                     const float *running_mean, const float *running_var,
                                     float eps, int m, int c, ThawCudaAct act, ThawError *err)
{
    if (m <= 0 || c <= 0) {
        return 0;
    }
    return THAW_BY_STORAGE(ctx, forward_eval_on, ctx, y, x, gamma, beta, running_mean,
                           running_var, eps, m, c, act, err);
}

int thaw_cuda_batchnorm_backward_train(ThawCudaContext *ctx, void *dx, float *dgamma,
                                       float *dbeta, const void *dy, const void *x,
                                       const float *mean, const float *rstd,
                                       const float *gamma, float eps, int m, int c,
                                       ThawError *err)
{
    if ((!dx && !dgamma && !dbeta) || m <= 0 || c <= 0) {
        return 0;
    }
    int done = 0;
    int rc = ctx->act_bf16 ? 0
                           : thaw_cuda_bn_cudnn_backward_train(
                                 ctx, (float *)dx, dgamma, dbeta, (const float *)dy,
                                 (const float *)x, mean, rstd, gamma, eps, m, c, &done, err);
    if (rc || done) {
        return rc;
    }
    return THAW_BY_STORAGE(ctx, backward_train_on, ctx, dx, dgamma, dbeta, dy, x, mean, rstd,
                           gamma, m, c, err);
}

int thaw_cuda_batchnorm_backward_eval(ThawCudaContext *ctx, void *dx, float *dgamma,
                                      float *dbeta, const void *dy, const void *x,
                                      const float *gamma, const float *running_mean,
                                      const float *running_var, float eps, int m, int c,
                                      ThawError *err)
{
    if ((!dx && !dgamma && !dbeta) || m <= 0 || c <= 0) {
        return 0;
    }
    return THAW_BY_STORAGE(ctx, backward_eval_on, ctx, dx, dgamma, dbeta, dy, x, gamma,
                           running_mean, running_var, eps, m, c, err);
}

} /* extern "C" */
