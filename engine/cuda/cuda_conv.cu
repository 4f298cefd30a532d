/* 2-D convolution through cuDNN's legacy convolution API (libcudnn_cnn in
 * cuDNN 9), NHWC activations as on the CPU.
 *
 * Weights: the CPU keeps PyTorch's [k, c/groups, r, s] (KCRS); cuDNN's NHWC
 * filter format is KRSC. When c/groups == 1 (depthwise) or r*s == 1 (1x1)
 * the two layouts are the same bytes and cuDNN reads the weights in place;
 * otherwise a kernel writes a KRSC copy into the context's scratch before
 * forward and backward data, and backward filter writes KRSC into scratch
 * that a kernel adds (+=) into the KCRS gradient. Weights are small next to
 * activations, so the copy costs little and keeps one layout everywhere else.
 *
 * 1x1 convolutions (groups 1, no padding) skip cuDNN and run as cuBLAS
 * matrix products (cuda_conv_gemm.cu) unless the context says otherwise;
 * in its timed mode the plan times both and keeps the faster per direction.
 *
 * Plans: one per Conv2dShape (batch included), made on first use and kept
 * in the context: descriptors, the algorithm for each direction from
 * cuDNN's heuristics (cudnnGet*_v7, as PyTorch does without benchmark
 * mode) or, in benchmark mode, timed by cuDNN (cudnnFind*, fastest first,
 * as torch.backends.cudnn.benchmark), its math type and workspace size. An algorithm is taken only if
 * cuDNN supports it, its workspace fits the context's limit, it is
 * deterministic when the context asks for that, and it uses FMA math
 * unless TF32 is allowed. Symmetric padding only: TF "same" padding is the
 * separate pad op, as in the CPU graph.
 *
 * bf16 (cuda_context.h): maps and filters bf16, accumulation fp32 on
 * tensor cores; the filter gradient comes back in bf16 and is added to
 * the fp32 gradient. */
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/cuda_channel_sums.h"
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_conv_gemm.h"
#include "engine/cuda/cuda_depthwise.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_storage.h"

#define MAX_ALGOS 16

struct ThawCudaConvPlan {
    Conv2dShape key;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t fwd_desc, data_desc, filter_desc;
    ThawCudaConvAlgos algos;
    struct ThawCudaConvPlan *next;
};
typedef struct ThawCudaConvPlan ConvPlan;

static int same_shape(const Conv2dShape *a, const Conv2dShape *b)
{
    return a->n == b->n && a->h == b->h && a->w == b->w && a->c == b->c &&
           a->k == b->k && a->r == b->r && a->s == b->s &&
           a->stride_h == b->stride_h && a->stride_w == b->stride_w &&
           a->pad_h == b->pad_h && a->pad_w == b->pad_w &&
           a->dil_h == b->dil_h && a->dil_w == b->dil_w && a->groups == b->groups;
}

static void plan_free(ConvPlan *p)
{
    if (p->x) cudnnDestroyTensorDescriptor(p->x);
    if (p->y) cudnnDestroyTensorDescriptor(p->y);
    if (p->w) cudnnDestroyFilterDescriptor(p->w);
    if (p->fwd_desc) cudnnDestroyConvolutionDescriptor(p->fwd_desc);
    if (p->data_desc) cudnnDestroyConvolutionDescriptor(p->data_desc);
    if (p->filter_desc) cudnnDestroyConvolutionDescriptor(p->filter_desc);
    free(p);
}

/* Tensor-core math: TF32 allowed, or bf16 operands (fp32 accumulation). */
static int tensor_cores(const ThawCudaContext *ctx)
{
    return ctx->allow_tf32 || ctx->act_bf16;
}

static int make_conv_desc(ThawCudaContext *ctx, cudnnConvolutionDescriptor_t *d,
                          const Conv2dShape *s, ThawError *err)
{
    THAW_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(d));
    THAW_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(*d, s->pad_h, s->pad_w, s->stride_h,
                                                     s->stride_w, s->dil_h, s->dil_w,
                                                     CUDNN_CROSS_CORRELATION,
                                                     CUDNN_DATA_FLOAT));
    THAW_CUDNN_CHECK(cudnnSetConvolutionGroupCount(*d, s->groups));
    /* Set before the heuristics so they consider (or exclude) tensor-core
     * algorithms; FMA keeps fp32 exact when TF32 is not allowed. bf16 asks
     * for tensor-op math as PyTorch does for 16-bit data (DEFAULT only
     * promises TF32). */
    const cudnnMathType_t math = ctx->act_bf16     ? CUDNN_TENSOR_OP_MATH
                                 : ctx->allow_tf32 ? CUDNN_DEFAULT_MATH
                                                   : CUDNN_FMA_MATH;
    THAW_CUDNN_CHECK(cudnnSetConvolutionMathType(*d, math));
    return 0;
}

/* The math type to run a candidate with, or -1 to skip it. Without TF32 the
 * descriptor stays FMA (PyTorch's rule: cuDNN then reports FMA); a DEFAULT
 * entry is run as FMA too, tensor-op entries are skipped. */
static int run_math(const ThawCudaContext *ctx, cudnnMathType_t math)
{
    if (tensor_cores(ctx)) {
        return (int)math;
    }
    return math == CUDNN_FMA_MATH || math == CUDNN_DEFAULT_MATH ? (int)CUDNN_FMA_MATH : -1;
}

/* The first candidate (cuDNN's order: fastest first when timed) that cuDNN
 * supports, whose math the context allows, that is deterministic when asked
 * and whose workspace (workspace(algo, &bytes)) fits the limit; it is left
 * set on desc. Returns 1 with *algo and *bytes, 0 when none fits. One body
 * for the three directions' perf types. */
template <typename Perf, typename Workspace>
static int first_fitting(const ThawCudaContext *ctx, cudnnConvolutionDescriptor_t desc,
                         const Perf *perf, int got, Workspace workspace, int *algo,
                         size_t *bytes, float *ms)
{
    for (int i = 0; i < got; i++) {
        size_t ws = 0;
        const int math = run_math(ctx, perf[i].mathType);
        if (perf[i].status != CUDNN_STATUS_SUCCESS || math < 0 ||
            (ctx->deterministic && perf[i].determinism != CUDNN_DETERMINISTIC) ||
            cudnnSetConvolutionMathType(desc, (cudnnMathType_t)math) != CUDNN_STATUS_SUCCESS ||
            workspace(perf[i].algo, &ws) != CUDNN_STATUS_SUCCESS || ws > ctx->workspace_limit) {
            continue;
        }
        *algo = (int)perf[i].algo;
        *bytes = ws;
        *ms = ctx->benchmark && perf[i].time > 0 ? perf[i].time : 0.0f;
        return 1;
    }
    return 0;
}

static int no_algorithm(const ThawCudaContext *ctx, const char *direction, int got,
                        ThawError *err)
{
    return thaw_fail(err, THAW_ERR_CUDA,
                     "cudnn: no %s convolution algorithm for this shape within the "
                     "%zu-byte workspace limit%s (%d candidates)", direction,
                     ctx->workspace_limit, ctx->deterministic ? ", deterministic" : "", got);
}

static int pick_fwd(ThawCudaContext *ctx, ConvPlan *p, ThawError *err)
{
    cudnnConvolutionFwdAlgoPerf_t perf[MAX_ALGOS];
    int got = 0;
    if (ctx->benchmark) {
        THAW_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(
            ctx->cudnn, p->x, p->w, p->fwd_desc, p->y, MAX_ALGOS, &got, perf));
    } else {
        THAW_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(
            ctx->cudnn, p->x, p->w, p->fwd_desc, p->y, MAX_ALGOS, &got, perf));
    }
    auto workspace = [&](cudnnConvolutionFwdAlgo_t algo, size_t *bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(ctx->cudnn, p->x, p->w, p->fwd_desc,
                                                       p->y, algo, bytes);
    };
    return first_fitting(ctx, p->fwd_desc, perf, got, workspace, &p->algos.fwd,
                         &p->algos.fwd_workspace, &p->algos.cudnn_ms[0])
               ? 0
               : no_algorithm(ctx, "forward", got, err);
}

static int pick_data(ThawCudaContext *ctx, ConvPlan *p, ThawError *err)
{
    cudnnConvolutionBwdDataAlgoPerf_t perf[MAX_ALGOS];
    int got = 0;
    if (ctx->benchmark) {
        THAW_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(
            ctx->cudnn, p->w, p->y, p->data_desc, p->x, MAX_ALGOS, &got, perf));
    } else {
        THAW_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
            ctx->cudnn, p->w, p->y, p->data_desc, p->x, MAX_ALGOS, &got, perf));
    }
    auto workspace = [&](cudnnConvolutionBwdDataAlgo_t algo, size_t *bytes) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(ctx->cudnn, p->w, p->y,
                                                            p->data_desc, p->x, algo, bytes);
    };
    return first_fitting(ctx, p->data_desc, perf, got, workspace, &p->algos.bwd_data,
                         &p->algos.bwd_data_workspace, &p->algos.cudnn_ms[1])
               ? 0
               : no_algorithm(ctx, "backward-data", got, err);
}

static int pick_filter(ThawCudaContext *ctx, ConvPlan *p, ThawError *err)
{
    cudnnConvolutionBwdFilterAlgoPerf_t perf[MAX_ALGOS];
    int got = 0;
    if (ctx->benchmark) {
        THAW_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(
            ctx->cudnn, p->x, p->y, p->filter_desc, p->w, MAX_ALGOS, &got, perf));
    } else {
        THAW_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
            ctx->cudnn, p->x, p->y, p->filter_desc, p->w, MAX_ALGOS, &got, perf));
    }
    auto workspace = [&](cudnnConvolutionBwdFilterAlgo_t algo, size_t *bytes) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(ctx->cudnn, p->x, p->y,
                                                              p->filter_desc, p->w, algo,
                                                              bytes);
    };
    return first_fitting(ctx, p->filter_desc, perf, got, workspace, &p->algos.bwd_filter,
                         &p->algos.bwd_filter_workspace, &p->algos.cudnn_ms[2])
               ? 0
               : no_algorithm(ctx, "backward-filter", got, err);
}

static int timed_1x1(const ThawCudaContext *ctx, const Conv2dShape *s)
{
    return ctx->gemm_1x1 == THAW_CUDA_1X1_TIMED && ctx->benchmark &&
           thaw_cuda_conv1x1_applies(ctx, s);
}

/* Timed mode: each direction of a 1x1 shape takes the GEMM unless cuDNN's
 * timed algorithm was faster (GEMMs when the timing buffers do not fit).
 * After the workspace is reserved: the GEMM timing uses the scratch. */
static int pick_1x1_paths(ThawCudaContext *ctx, ConvPlan *p, const Conv2dShape *s,
                          ThawError *err)
{
    if (!timed_1x1(ctx, s)) {   /* reported as route_1x1 runs it */
        const int all = thaw_cuda_conv1x1_applies(ctx, s);
        p->algos.gemm[0] = p->algos.gemm[1] = p->algos.gemm[2] = all;
        return 0;
    }
    int timed = 0;
    int rc = thaw_cuda_conv1x1_time(ctx, s, p->algos.gemm_ms, &timed, err);
    for (int dir = 0; dir < 3 && !rc; dir++) {
        const float cudnn = p->algos.cudnn_ms[dir];
        p->algos.gemm[dir] = !timed || cudnn <= 0.0f || p->algos.gemm_ms[dir] <= cudnn;
    }
    return rc;
}

static int plan_build(ThawCudaContext *ctx, ConvPlan *p, const Conv2dShape *s,
                      ThawError *err)
{
    const int cg = s->c / s->groups;
    /* bf16 maps and filters, fp32 accumulation (the convolution
     * descriptors' type): cuDNN's pseudo-bf16 configuration */
    const cudnnDataType_t t = ctx->act_bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    THAW_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->x));
    THAW_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NHWC, t, s->n, s->c, s->h,
                                                s->w));
    THAW_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->y));
    THAW_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NHWC, t, s->n, s->k, s->p,
                                                s->q));
    THAW_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->w));
    THAW_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->w, t, CUDNN_TENSOR_NHWC, s->k, cg, s->r,
                                                s->s));
    int rc = make_conv_desc(ctx, &p->fwd_desc, s, err);
    rc = rc ? rc : make_conv_desc(ctx, &p->data_desc, s, err);
    rc = rc ? rc : make_conv_desc(ctx, &p->filter_desc, s, err);
    if (rc) {
        return rc;
    }
    int on, oc, oh, ow;
    THAW_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->fwd_desc, p->x, p->w, &on, &oc,
                                                           &oh, &ow));
    if (on != s->n || oc != s->k || oh != s->p || ow != s->q) {
        return thaw_fail(err, THAW_ERR_ARG,
                         "conv shape: cuDNN computes output [%d, %d, %d, %d], the shape "
                         "says [%d, %d, %d, %d]", on, oh, ow, oc, s->n, s->p, s->q, s->k);
    }
    rc = pick_fwd(ctx, p, err);
    rc = rc ? rc : pick_data(ctx, p, err);
    rc = rc ? rc : pick_filter(ctx, p, err);
    if (rc) {
        return rc;
    }
    size_t ws = p->algos.fwd_workspace;
    ws = p->algos.bwd_data_workspace > ws ? p->algos.bwd_data_workspace : ws;
    ws = p->algos.bwd_filter_workspace > ws ? p->algos.bwd_filter_workspace : ws;
    rc = thaw_cuda_workspace_reserve(ctx, ws, err);
    return rc ? rc : pick_1x1_paths(ctx, p, s, err);
}

static int plan_get(ThawCudaContext *ctx, const Conv2dShape *s, ConvPlan **out,
                    ThawError *err)
{
    for (ConvPlan *p = ctx->conv_plans; p; p = p->next) {
        if (same_shape(&p->key, s)) {
            *out = p;
            return 0;
        }
    }
    if (s->n <= 0 || s->groups <= 0 || s->c % s->groups || s->k % s->groups ||
        s->p <= 0 || s->q <= 0) {
        return thaw_fail(err, THAW_ERR_ARG, "conv shape: invalid (use conv2d_shape_init)");
    }
    ConvPlan *p = (ConvPlan *)calloc(1, sizeof *p);
    if (!p) {
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory for a convolution plan");
    }
    p->key = *s;
    int rc = plan_build(ctx, p, s, err);
    if (rc) {
        plan_free(p);
        return rc;
    }
    p->next = ctx->conv_plans;
    ctx->conv_plans = p;
    *out = p;
    return 0;
}

/* KCRS (PyTorch) -> KRSC (cuDNN NHWC filters); i walks the destination. */
template <typename S>
__global__ static void kcrs_to_krsc(S *dst, const S *src, int cg, int rs, size_t total)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t c = i % cg, t = i / cg;
        size_t pix = t % rs, k = t / rs;
        dst[i] = src[(k * cg + c) * rs + pix];
    }
}

/* dst (KCRS, float) += src (KRSC, or KCRS when rs or cg is 1: the same
 * index); i walks the destination. */
template <typename S>
__global__ static void krsc_add_to_kcrs(float *dst, const S *src, int cg, int rs, size_t total)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t pix = i % rs, t = i / rs;
        size_t c = t % cg, k = t / cg;
        dst[i] += thaw_ld(src[(k * rs + pix) * cg + c]);
    }
}

template <typename S>
__global__ static void add_bias(S *y, const float *bias, int k, size_t total)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        y[i] = thaw_st<S>(thaw_ld(y[i]) + bias[i % (size_t)k]);
    }
}

static int needs_transpose(const Conv2dShape *s)
{
    return s->c / s->groups > 1 && s->r * s->s > 1;
}

static size_t weight_count(const Conv2dShape *s)
{
    return (size_t)s->k * (s->c / s->groups) * s->r * s->s;
}

/* The weights as cuDNN reads them: in place, or a KRSC copy in scratch. */
static int krsc_weights(ThawCudaContext *ctx, const Conv2dShape *s, const void *weight,
                        const void **out, ThawError *err)
{
    *out = weight;
    if (!needs_transpose(s)) {
        return 0;
    }
    size_t total = weight_count(s);
    void *tmp = NULL;
    int rc = thaw_cuda_scratch(ctx, total * THAW_ACT_BYTES(ctx), &tmp, err);
    if (rc) {
        return rc;
    }
    const int cg = s->c / s->groups, rs = s->r * s->s;
    if (ctx->act_bf16) {
        kcrs_to_krsc<<<thaw_cuda_blocks(total), THAW_CUDA_THREADS, 0, ctx->stream>>>(
            (thaw_bf16 *)tmp, (const thaw_bf16 *)weight, cg, rs, total);
    } else {
        kcrs_to_krsc<<<thaw_cuda_blocks(total), THAW_CUDA_THREADS, 0, ctx->stream>>>(
            (float *)tmp, (const float *)weight, cg, rs, total);
    }
    THAW_CUDA_CHECK_LAUNCH("kcrs_to_krsc");
    *out = tmp;
    return 0;
}

static int bias_backward(ThawCudaContext *ctx, float *dbias, const void *dout,
                         const Conv2dShape *s, ThawError *err)
{
    return thaw_cuda_add_column_sums(ctx, dbias, dout, s->n * s->p * s->q, s->k, err);
}

/* dweight (float) += the filter gradient. cuDNN writes it in the maps'
 * type: an fp32 one in the same layout accumulates in place (beta = 1);
 * a KRSC or bf16 one goes to scratch and a kernel adds it. */
static int filter_backward(ThawCudaContext *ctx, ConvPlan *p, float *dweight,
                           const void *dout, const void *in, const Conv2dShape *s,
                           ThawError *err)
{
    const float one = 1.0f, zero = 0.0f;
    const int via_scratch = needs_transpose(s) || ctx->act_bf16;
    size_t total = weight_count(s);
    void *dst = dweight;
    if (via_scratch) {
        int rc = thaw_cuda_scratch(ctx, total * THAW_ACT_BYTES(ctx), &dst, err);
        if (rc) {
            return rc;
        }
    }
    THAW_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
        ctx->cudnn, &one, p->x, in, p->y, dout, p->filter_desc,
        (cudnnConvolutionBwdFilterAlgo_t)p->algos.bwd_filter, ctx->workspace,
        p->algos.bwd_filter_workspace, via_scratch ? &zero : &one, p->w, dst));
    if (via_scratch) {
        /* the same index when not transposed: cg or rs of 1 */
        const int cg = needs_transpose(s) ? s->c / s->groups : 1;
        const int rs = needs_transpose(s) ? s->r * s->s : 1;
        if (ctx->act_bf16) {
            krsc_add_to_kcrs<<<thaw_cuda_blocks(total), THAW_CUDA_THREADS, 0, ctx->stream>>>(
                dweight, (const thaw_bf16 *)dst, cg, rs, total);
        } else {
            krsc_add_to_kcrs<<<thaw_cuda_blocks(total), THAW_CUDA_THREADS, 0, ctx->stream>>>(
                dweight, (const float *)dst, cg, rs, total);
        }
        THAW_CUDA_CHECK_LAUNCH("krsc_add_to_kcrs");
    }
    return 0;
}

void thaw_cuda_conv_cache_clear(ThawCudaContext *ctx)
{
    ConvPlan *p = ctx->conv_plans;
    while (p) {
        ConvPlan *next = p->next;
        plan_free(p);
        p = next;
    }
    ctx->conv_plans = NULL;
}

/* Which directions of s run as GEMMs: all for a 1x1 shape with gemm_1x1
 * on, the plan's timed choice in timed mode, none otherwise. */
static int route_1x1(ThawCudaContext *ctx, const Conv2dShape *s, int gemm[3], ThawError *err)
{
    const int all = thaw_cuda_conv1x1_applies(ctx, s);
    gemm[0] = gemm[1] = gemm[2] = all;
    if (!all || !timed_1x1(ctx, s)) {
        return 0;
    }
    ConvPlan *p = NULL;
    int rc = plan_get(ctx, s, &p, err);
    for (int dir = 0; dir < 3 && !rc; dir++) {
        gemm[dir] = p->algos.gemm[dir];
    }
    return rc;
}

extern "C" {

int thaw_cuda_conv2d_plan(ThawCudaContext *ctx, const Conv2dShape *s,
                          ThawCudaConvAlgos *algos, ThawError *err)
{
    ConvPlan *p = NULL;
    int rc = plan_get(ctx, s, &p, err);
    if (!rc && algos) {
        *algos = p->algos;
    }
    return rc;
}

void thaw_cuda_conv2d_gemm_counts(const ThawCudaContext *ctx, int gemm[3], int *timed)
{
    gemm[0] = gemm[1] = gemm[2] = *timed = 0;
    for (const ConvPlan *p = ctx->conv_plans; p; p = p->next) {
        if (!timed_1x1(ctx, &p->key)) {
            continue;
        }
        (*timed)++;
        for (int dir = 0; dir < 3; dir++) {
            gemm[dir] += p->algos.gemm[dir];
        }
    }
}

int thaw_cuda_conv2d_force_paths(ThawCudaContext *ctx, const Conv2dShape *s, const int gemm[3],
                                 ThawError *err)
{
    if (!timed_1x1(ctx, s)) {
        return thaw_fail(err, THAW_ERR_ARG, "conv paths: only a 1x1 shape in timed mode "
                         "(THAW_CUDA_1X1_TIMED with benchmark on) has a choice");
    }
    ConvPlan *p = NULL;
    int rc = plan_get(ctx, s, &p, err);
    for (int dir = 0; dir < 3 && !rc; dir++) {
        p->algos.gemm[dir] = gemm[dir] != 0;
    }
    return rc;
}

int thaw_cuda_conv2d_cached_plans(const ThawCudaContext *ctx)
{
    int n = 0;
    for (const ConvPlan *p = ctx->conv_plans; p; p = p->next) {
        n++;
    }
    return n;
}

int thaw_cuda_conv2d_forward(ThawCudaContext *ctx, void *out, const void *in,
                             const void *weight, const float *bias,
                             const Conv2dShape *s, ThawError *err)
{
    int gemm[3];
    int rc0 = route_1x1(ctx, s, gemm, err);
    if (rc0) {
        return rc0;
    }
    if (gemm[0]) {
        int rc = thaw_cuda_conv1x1_forward(ctx, out, in, weight, s, err);
        if (rc) {
            return rc;
        }
    } else if (thaw_cuda_depthwise_applies(ctx, s)) {
        int rc = thaw_cuda_depthwise_forward(ctx, out, in, weight, s, err);
        if (rc) {
            return rc;
        }
    } else {
        ConvPlan *p = NULL;
        const void *w = NULL;
        int rc = plan_get(ctx, s, &p, err);
        rc = rc ? rc : krsc_weights(ctx, s, weight, &w, err);
        if (rc) {
            return rc;
        }
        const float one = 1.0f, zero = 0.0f;
        THAW_CUDNN_CHECK(cudnnConvolutionForward(
            ctx->cudnn, &one, p->x, in, p->w, w, p->fwd_desc,
            (cudnnConvolutionFwdAlgo_t)p->algos.fwd, ctx->workspace, p->algos.fwd_workspace,
            &zero, p->y, out));
    }
    if (bias) {
        size_t total = (size_t)s->n * s->p * s->q * s->k;
        if (ctx->act_bf16) {
            add_bias<<<thaw_cuda_blocks(total), THAW_CUDA_THREADS, 0, ctx->stream>>>(
                (thaw_bf16 *)out, bias, s->k, total);
        } else {
            add_bias<<<thaw_cuda_blocks(total), THAW_CUDA_THREADS, 0, ctx->stream>>>(
                (float *)out, bias, s->k, total);
        }
        THAW_CUDA_CHECK_LAUNCH("add_bias");
    }
    return 0;
}

int thaw_cuda_conv2d_backward(ThawCudaContext *ctx, void *din, float *dweight,
                              float *dbias, const void *dout, const void *in,
                              const void *weight, const Conv2dShape *s, ThawError *err)
{
    int gemm[3];
    int rc0 = route_1x1(ctx, s, gemm, err);
    if (rc0) {
        return rc0;
    }
    if (gemm[1] && gemm[2]) {
        int rc = dbias ? bias_backward(ctx, dbias, dout, s, err) : 0;
        return rc ? rc
                  : thaw_cuda_conv1x1_backward(ctx, din, dweight, dout, in, weight, s, err);
    }
    if (thaw_cuda_depthwise_applies(ctx, s)) {
        int rc = dbias ? bias_backward(ctx, dbias, dout, s, err) : 0;
        return rc ? rc
                  : thaw_cuda_depthwise_backward(ctx, din, dweight, dout, in, weight, s, err);
    }
    ConvPlan *p = NULL;
    int rc = plan_get(ctx, s, &p, err);
    if (!rc && dbias) {
        rc = bias_backward(ctx, dbias, dout, s, err);
    }
    if (!rc && dweight) {
        rc = gemm[2] ? thaw_cuda_conv1x1_backward(ctx, NULL, dweight, dout, in, weight, s, err)
                     : filter_backward(ctx, p, dweight, dout, in, s, err);
    }
    if (rc || !din) {
        return rc;
    }
    if (gemm[1]) {
        return thaw_cuda_conv1x1_backward(ctx, din, NULL, dout, in, weight, s, err);
    }
    /* The scratch may now hold the KRSC weights: stream order keeps the
     * filter pass above from seeing them. */
    const void *w = NULL;
    rc = krsc_weights(ctx, s, weight, &w, err);
    if (rc) {
        return rc;
    }
    const float one = 1.0f, zero = 0.0f;
    THAW_CUDNN_CHECK(cudnnConvolutionBackwardData(
        ctx->cudnn, &one, p->w, w, p->y, dout, p->data_desc,
        (cudnnConvolutionBwdDataAlgo_t)p->algos.bwd_data, ctx->workspace,
        p->algos.bwd_data_workspace, ctx->din_assign ? &zero : &one, p->x, din));
    return 0;
}

} /* extern "C" */
