/* One device's working set: a stream, cuBLAS and cuDNN handles bound to it,
 * and a workspace for cuDNN. Every op runs asynchronously on the context's
 * stream; thaw_cuda_synchronize waits and reports a kernel's late error.
 * Device pointers are plain float * / void * so C callers need no CUDA
 * headers. */
#ifndef THAW_CUDA_CONTEXT_H
#define THAW_CUDA_CONTEXT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "engine/core/error.h"

typedef struct ThawCudaContext ThawCudaContext;

/* allow_tf32 0: matrix products in exact fp32 (parity tests); 1: TF32
 * tensor cores. workspace_limit caps cuDNN's scratch memory (0: 256 MiB). */
int thaw_cuda_context_create(ThawCudaContext **out, int device, int allow_tf32,
                             size_t workspace_limit, ThawError *err);
void thaw_cuda_context_destroy(ThawCudaContext *ctx);
int thaw_cuda_synchronize(ThawCudaContext *ctx, ThawError *err);

/* deterministic 1: convolutions use only cuDNN algorithms whose results do
 * not depend on scheduling (parity tests, bit-reproducible runs); 0 (the
 * default): the fastest that fits the workspace limit. Clears the
 * convolution algorithm cache. */
void thaw_cuda_context_set_deterministic(ThawCudaContext *ctx, int deterministic);
/* benchmark 1: each convolution shape's algorithms are timed by cuDNN on
 * first use (cudnnFind*, PyTorch's cudnn.benchmark) and the fastest that
 * meets the other rules is kept; 0 (the default): cuDNN's heuristics
 * (cudnnGet*_v7), no timing. Clears the convolution algorithm cache. */
void thaw_cuda_context_set_benchmark(ThawCudaContext *ctx, int benchmark);
/* gemm_1x1 1: 1x1 convolutions (groups 1, no padding) run as cuBLAS
 * matrix products (engine/cuda/cuda_conv_gemm.h); 0: through cuDNN like
 * every other convolution; THAW_CUDA_1X1_TIMED (the default): in benchmark
 * mode each 1x1 shape times both on first use and each direction (forward,
 * backward data, backward filter) takes the faster (GEMMs without
 * benchmark mode; on an H100 ResNet-50 TF32 took GEMMs for 14 of its 15
 * shapes and was 1% faster than all-GEMM). Clears the convolution
 * algorithm cache. */
#define THAW_CUDA_1X1_TIMED 2
void thaw_cuda_context_set_gemm_1x1(ThawCudaContext *ctx, int gemm_1x1);
/* own_depthwise 1 (the default): depthwise convolutions run on the
 * backend's own NHWC kernels (engine/cuda/cuda_depthwise.h; Lite0 batch 128
 * trains 1.6x faster with them and fusion on an H100); 0: through cuDNN
 * like the others. */
void thaw_cuda_context_set_own_depthwise(ThawCudaContext *ctx, int own);
/* cudnn_bn 1: train-mode batch norm without a fused activation runs on
 * cuDNN's NHWC persistent kernels (engine/cuda/cuda_batchnorm_cudnn.h,
 * PyTorch's choice for channels_last); 0 (the default): the backend's own
 * kernels, deterministic double sums. On an H100 the op checks pass but
 * ResNet-18's gradients miss model parity (16 of 20 conv weight gradients
 * over tolerance, worst 1e-1 of max against a noise floor of 8e-4), so it
 * stays off; it was also slower than fusion (bench/README.md). */
void thaw_cuda_context_set_cudnn_batchnorm(ThawCudaContext *ctx, int cudnn_bn);
/* How many batch norm passes (forward or backward) ran on cuDNN's kernels
 * so far: tests and benchmarks check the option took effect. */
long thaw_cuda_context_cudnn_batchnorm_calls(const ThawCudaContext *ctx);
size_t thaw_cuda_context_workspace_limit(const ThawCudaContext *ctx);
int thaw_cuda_context_device(const ThawCudaContext *ctx);

/* bf16 1: bf16 mixed precision. The activation arguments of the ops in
 * cuda_ops.h that take void pointers (the image models' ops: convolution,
 * batch norm, pooling, activations, add, linear, dropout, pad, flatten,
 * cross-entropy logits) then hold bf16, and so do the convolution and
 * linear weights passed to them (the graph executor keeps a bf16 copy of
 * its fp32 master weights, refreshed after every optimizer step); every
 * other argument stays float: bias, batch norm parameters and statistics,
 * weight gradients, probabilities, loss. Kernels compute in float and
 * round once per store; cuDNN and cuBLAS take bf16 operands with fp32
 * accumulation on tensor cores (PyTorch's autocast). The text ops and the
 * BERT executor are fp32 only (a bf16 context is refused there). 0: fp32
 * (the default). Clears the convolution algorithm cache. */
void thaw_cuda_context_set_bf16(ThawCudaContext *ctx, int bf16);

/* din_assign 1: the next backward calls write (=) their input gradient
 * (din, dx, da/db) instead of adding to it, so it needs no zeroing first;
 * weight and bias gradients still add. The graph executor sets it around
 * an input's first gradient write when its assign mode is on; 0 (the
 * default) is the ops' += contract. */
void thaw_cuda_context_set_din_assign(ThawCudaContext *ctx, int assign);

/* Device memory (cudaMalloc / cudaFree) and copies on the context's stream.
 * Copies are asynchronous: synchronize before reading host memory, and use
 * pinned host memory (ThawCudaStaging) for real overlap. */
int thaw_cuda_alloc(void **ptr, size_t bytes, ThawError *err);
void thaw_cuda_release(void *ptr);
int thaw_cuda_upload(ThawCudaContext *ctx, void *dst, const void *src,
                     size_t bytes, ThawError *err);
int thaw_cuda_download(ThawCudaContext *ctx, void *dst, const void *src,
                       size_t bytes, ThawError *err);
int thaw_cuda_zero(ThawCudaContext *ctx, void *dst, size_t bytes, ThawError *err);

#ifdef __cplusplus
}
#endif

#endif
