/* CUDA twins of the CPU ops (engine/ops/): same arguments plus a context
 * (its stream), same semantics: NHWC activations, PyTorch weight layout,
 * backward accumulates (+=) and a NULL gradient is skipped (input gradients
 * are written (=) instead while thaw_cuda_context_set_din_assign is on). Every pointer
 * is device memory. Calls are asynchronous; each returns 0 or THAW_ERR_CUDA
 * with the failing call in err (launch errors show at once, faults inside a
 * kernel at the next thaw_cuda_synchronize).
 *
 * Arguments typed void * (the image models' activations, their gradients,
 * convolution and linear weights) hold the context's storage type: float,
 * or bf16 when thaw_cuda_context_set_bf16 is on; float * arguments are
 * always float. */
#ifndef THAW_CUDA_OPS_H
#define THAW_CUDA_OPS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "engine/core/error.h"
#include "engine/cuda/cuda_context.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/pad.h"
#include "engine/ops/pool.h"

/* engine/ops/linear.h: out[n, o] = in[n, i] W[o, i]^T + b (cuBLAS). */
int thaw_cuda_linear_forward(ThawCudaContext *ctx, void *out, const void *in,
                             const void *weight, const float *bias, int n,
                             int in_features, int out_features, ThawError *err);
/* din += dout W; dW += dout^T in; db += column sums of dout. */
int thaw_cuda_linear_backward(ThawCudaContext *ctx, void *din, float *dweight,
                              float *dbias, const void *dout, const void *in,
                              const void *weight, int n, int in_features,
                              int out_features, ThawError *err);

/* engine/ops/activation.h: backward reads the forward output. */
int thaw_cuda_relu_forward(ThawCudaContext *ctx, void *out, const void *in, size_t n,
                           ThawError *err);
int thaw_cuda_relu_backward(ThawCudaContext *ctx, void *din, const void *dout,
                            const void *out, size_t n, ThawError *err);
int thaw_cuda_relu6_forward(ThawCudaContext *ctx, void *out, const void *in, size_t n,
                            ThawError *err);
int thaw_cuda_relu6_backward(ThawCudaContext *ctx, void *din, const void *dout,
                             const void *out, size_t n, ThawError *err);

/* An activation applied by the op that feeds it, in the same pass (the
 * executor's fusion, thaw_cuda_graph_set_fuse): the same compare-and-select
 * as the relu / relu6 ops, so the values are the same bits. */
typedef enum { THAW_CUDA_ACT_NONE, THAW_CUDA_ACT_RELU, THAW_CUDA_ACT_RELU6 } ThawCudaAct;

/* Text ops (cuda_text_ops.cu), the CPU ops' formulas: engine/ops/gelu.h
 * (exact GELU, backward reads the input), layernorm.h over rows of c
 * (mean and rstd saved; backward reads the input; dgamma / dbeta summed
 * per chunk of rows, then in chunk order), attention.h's row softmax
 * (backward reads the output; out may alias in). */
int thaw_cuda_gelu_forward(ThawCudaContext *ctx, float *out, const float *in, size_t n,
                           ThawError *err);
int thaw_cuda_gelu_backward(ThawCudaContext *ctx, float *din, const float *dout,
                            const float *in, size_t n, ThawError *err);
int thaw_cuda_layernorm_forward(ThawCudaContext *ctx, float *out, float *mean, float *rstd,
                                const float *in, const float *gamma, const float *beta,
                                int rows, int c, float eps, ThawError *err);
int thaw_cuda_layernorm_backward(ThawCudaContext *ctx, float *din, float *dgamma,
                                 float *dbeta, const float *dout, const float *in,
                                 const float *mean, const float *rstd, const float *gamma,
                                 int rows, int c, ThawError *err);
int thaw_cuda_softmax_rows_forward(ThawCudaContext *ctx, float *out, const float *in,
                                   int rows, int cols, ThawError *err);
int thaw_cuda_softmax_rows_backward(ThawCudaContext *ctx, float *din, const float *dout,
                                    const float *out, int rows, int cols, ThawError *err);

/* engine/ops/attention.h's phases, key_mask ([B, T] int32) and drop_mask
 * ([B, H, T, T] dropout scales) on the device or NULL. The context is
 * written (=); the backward adds to dq, dk, dv (assign mode: writes all
 * three, so a caller must want the same for each, and they must not
 * alias) and skips a NULL one. Strided-batched cuBLAS products per batch element
 * (cuda_attention_gemms.h), row kernels for the softmax and its gradient;
 * the backward's ds takes [B, H, T, T] floats of the context's scratch. */
int thaw_cuda_attention_probs_forward(ThawCudaContext *ctx, float *probs, const float *q,
                                      const float *k, const int32_t *key_mask, int batch,
                                      int seq, int channels, int heads, ThawError *err);
int thaw_cuda_attention_context_forward(ThawCudaContext *ctx, float *out,
                                        const float *probs_used, const float *v, int batch,
                                        int seq, int channels, int heads, ThawError *err);
int thaw_cuda_attention_backward(ThawCudaContext *ctx, float *dq, float *dk, float *dv,
                                 const float *dout, const float *q, const float *k,
                                 const float *v, const float *probs, const float *probs_used,
                                 const float *drop_mask, int batch, int seq, int channels,
                                 int heads, ThawError *err);

/* engine/ops/embedding.h: out[i, :] = table[ids[i], :] (add: +=), ids on
 * the device. Backward: dtable[v, :] += the dout rows of v's tokens, in
 * token order, from groups built on the host (engine/ops/embedding_groups.h)
 * and uploaded: device pointers below. Deterministic, the CPU op's bits. */
typedef struct {
    int n_groups;
    const int32_t *id, *start, *order;
} ThawCudaEmbeddingGroups;
int thaw_cuda_embedding_forward(ThawCudaContext *ctx, float *out, const int32_t *ids,
                                const float *table, int n, int dim, int add, ThawError *err);
int thaw_cuda_embedding_backward(ThawCudaContext *ctx, float *dtable, const float *dout,
                                 const ThawCudaEmbeddingGroups *groups, int dim,
                                 ThawError *err);

/* engine/ops/elementwise.h: out = act(a + b); da += dout, db += dout. */
int thaw_cuda_add_forward(ThawCudaContext *ctx, void *out, const void *a, const void *b,
                          size_t n, ThawCudaAct act, ThawError *err);
int thaw_cuda_add_backward(ThawCudaContext *ctx, void *da, void *db, const void *dout,
                           size_t n, ThawError *err);
/* The backward of act(a + b) (the executor's fusion): da, db (+)= the
 * activation's backward of dout at its output act_out, the same bits as
 * the relu(6) backward followed by the add's. */
int thaw_cuda_add_backward_gated(ThawCudaContext *ctx, void *da, void *db, const void *dout,
                                 const void *act_out, ThawCudaAct act, size_t n,
                                 ThawError *err);

/* Global average pooling [n, h, w, c] -> [n, c]: adaptive_avgpool2d with a
 * 1x1 output (engine/ops/pool.h). Backward spreads dout / (h*w). */
int thaw_cuda_global_avgpool_forward(ThawCudaContext *ctx, void *out, const void *in, int n,
                                     int h, int w, int c, ThawError *err);
int thaw_cuda_global_avgpool_backward(ThawCudaContext *ctx, void *din, const void *dout, int n,
                                      int h, int w, int c, ThawError *err);

/* engine/ops/cross_entropy.h, with label smoothing. probs[n, classes] keeps
 * the softmax for backward, row_loss[n] is scratch, *loss (one device
 * float) receives the mean loss. labels are int32 on the device. */
int thaw_cuda_cross_entropy_forward(ThawCudaContext *ctx, float *loss,
                                    float *probs, float *row_loss,
                                    const void *logits, const int32_t *labels,
                                    int n, int classes, float smoothing,
                                    ThawError *err);
int thaw_cuda_cross_entropy_backward(ThawCudaContext *ctx, void *dlogits,
                                     const float *probs, const int32_t *labels,
                                     int n, int classes, float smoothing,
                                     float dloss, ThawError *err);

/* engine/ops/conv2d.h through cuDNN: stride, symmetric padding, dilation,
 * groups (depthwise when groups == c); weights in PyTorch's KCRS layout
 * (see cuda_conv.cu for the KRSC copies). No workspace argument: the
 * context owns cuDNN's workspace (capped by its limit) and scratch. The
 * first call for a shape picks the algorithms and caches them. */
int thaw_cuda_conv2d_forward(ThawCudaContext *ctx, void *out, const void *in,
                             const void *weight, const float *bias,
                             const Conv2dShape *s, ThawError *err);
/* din += dconv/din, dweight += ..., dbias += column sums of dout; NULL skips. */
int thaw_cuda_conv2d_backward(ThawCudaContext *ctx, void *din, float *dweight,
                              float *dbias, const void *dout, const void *in,
                              const void *weight, const Conv2dShape *s,
                              ThawError *err);

/* What the cache chose for one shape (cudnnConvolution*Algo_t values);
 * for a 1x1 shape in timed mode (THAW_CUDA_1X1_TIMED with benchmark on)
 * also which directions run as GEMMs and the milliseconds both paths took
 * (forward, backward data, backward filter; cuDNN's from its Find, 0 when
 * not timed). */
typedef struct {
    int fwd, bwd_data, bwd_filter;
    size_t fwd_workspace, bwd_data_workspace, bwd_filter_workspace;
    int gemm[3];
    float gemm_ms[3], cudnn_ms[3];
} ThawCudaConvAlgos;
/* Plans s now (or finds it in the cache) and reports its algorithms;
 * algos may be NULL (warm-up before the first step). */
int thaw_cuda_conv2d_plan(ThawCudaContext *ctx, const Conv2dShape *s,
                          ThawCudaConvAlgos *algos, ThawError *err);
int thaw_cuda_conv2d_cached_plans(const ThawCudaContext *ctx);
/* Among the cached plans of 1x1 shapes in timed mode (*timed of them),
 * how many run each direction (forward, backward data, backward filter)
 * as GEMMs; benchmarks print it. */
void thaw_cuda_conv2d_gemm_counts(const ThawCudaContext *ctx, int gemm[3], int *timed);
/* Tests: plans the 1x1 shape s in timed mode and overrides which directions
 * (forward, backward data, backward filter) run as GEMMs, so every mix of
 * the two paths is checked whatever the timing says. */
int thaw_cuda_conv2d_force_paths(ThawCudaContext *ctx, const Conv2dShape *s, const int gemm[3],
                                 ThawError *err);

/* engine/ops/batchnorm.h on x[m, c] (m = n*h*w), own kernels (not cuDNN's:
 * the eval-mode backward with dgamma/dbeta has no cuDNN twin). Train mode:
 * batch statistics, mean/rstd saved, running stats (when non-NULL) updated
 * with momentum and the unbiased variance. Backward accumulates; NULL skips.
 * Forward writes act(batch norm) (THAW_CUDA_ACT_NONE: the plain op). The
 * train-mode backward takes the forward's eps (cuDNN's kernels ask for it).
 * Train mode without an activation can run on cuDNN's kernels instead
 * (thaw_cuda_context_set_cudnn_batchnorm). */
int thaw_cuda_batchnorm_forward_train(ThawCudaContext *ctx, void *y, float *mean,
                                      float *rstd, const void *x, const float *gamma,
                                      const float *beta, float *running_mean,
                                      float *running_var, float momentum, float eps,
                                      int m, int c, ThawCudaAct act, ThawError *err);
int thaw_cuda_batchnorm_forward_eval(ThawCudaContext *ctx, void *y, const void *x,
                                     const float *gamma, const float *beta,
                                     const float *running_mean,
                                     const float *running_var, float eps, int m,
                                     int c, ThawCudaAct act, ThawError *err);
int thaw_cuda_batchnorm_backward_train(ThawCudaContext *ctx, void *dx, float *dgamma,
                                       float *dbeta, const void *dy, const void *x,
                                       const float *mean, const float *rstd,
                                       const float *gamma, float eps, int m, int c,
                                       ThawError *err);
int thaw_cuda_batchnorm_backward_eval(ThawCudaContext *ctx, void *dx, float *dgamma,
                                      float *dbeta, const void *dy, const void *x,
                                      const float *gamma, const float *running_mean,
                                      const float *running_var, float eps, int m,
                                      int c, ThawError *err);

/* engine/ops/pool.h: max pooling with int32 argmax (flat index into in, ties
 * keep the first, NaN wins); adaptive average pooling with PyTorch's bins. */
int thaw_cuda_maxpool2d_forward(ThawCudaContext *ctx, void *out, int32_t *argmax,
                                const void *in, const Pool2dShape *s, ThawError *err);
int thaw_cuda_maxpool2d_backward(ThawCudaContext *ctx, void *din, const void *dout,
                                 const int32_t *argmax, const Pool2dShape *s,
                                 ThawError *err);
int thaw_cuda_adaptive_avgpool2d_forward(ThawCudaContext *ctx, void *out,
                                         const void *in, int n, int h, int w, int c,
                                         int oh, int ow, ThawError *err);
int thaw_cuda_adaptive_avgpool2d_backward(ThawCudaContext *ctx, void *din,
                                          const void *dout, int n, int h, int w, int c,
                                          int oh, int ow, ThawError *err);

/* engine/ops/elementwise.h's inverted dropout with the same generator: same
 * seed, same mask as the CPU (not PyTorch's stream). *rng_state is host
 * memory and advances as on the CPU. */
int thaw_cuda_dropout_forward(ThawCudaContext *ctx, void *out, float *mask,
                              const void *in, float p, size_t n, uint64_t *rng_state,
                              ThawError *err);
int thaw_cuda_dropout_backward(ThawCudaContext *ctx, void *din, const void *dout,
                               const float *mask, size_t n, ThawError *err);

/* engine/ops/pad.h (asymmetric zero padding) and flatten to (c, h, w). */
int thaw_cuda_pad2d_forward(ThawCudaContext *ctx, void *out, const void *in,
                            const Pad2dShape *s, ThawError *err);
int thaw_cuda_pad2d_backward(ThawCudaContext *ctx, void *din, const void *dout,
                             const Pad2dShape *s, ThawError *err);
int thaw_cuda_flatten_forward(ThawCudaContext *ctx, void *out, const void *in, int n,
                              int h, int w, int c, ThawError *err);
int thaw_cuda_flatten_backward(ThawCudaContext *ctx, void *din, const void *dout,
                               int n, int h, int w, int c, ThawError *err);

#ifdef __cplusplus
}
#endif

#endif
