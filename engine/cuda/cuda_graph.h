/* The graph executor on the GPU: runs a Model's planned Graph (engine/graph)
 * with the CUDA ops. The CPU plan decides everything (which ops train, BN
 * mode, which values backward reads, per-layer and per-group freezing,
 * arena offsets); this executor mirrors that plan on the device: one device
 * activation arena with the CPU arena's layout, the parameter arenas
 * (cuda_arena.h) and the fused optimizer (cuda_optim.h). Device memory is
 * (re)allocated only when a new plan needs more than the last one; a
 * training step allocates nothing.
 *
 * While a model trains here the device copy of the weights, BN buffers and
 * optimizer moments is the one that counts: call thaw_cuda_graph_download
 * before reading m->params on the host (checkpoints, export), and
 * thaw_cuda_graph_upload after changing them there (loading a checkpoint).
 * BN counters (num_batches_tracked) and the dropout generator stay on the
 * host and advance exactly as on the CPU. Plain C API: no CUDA headers. */
#ifndef THAW_CUDA_GRAPH_H
#define THAW_CUDA_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "engine/core/error.h"
#include "engine/cuda/cuda_context.h"
#include "engine/models/model.h"
#include "engine/optim/optimizer.h"

typedef struct ThawCudaGraph ThawCudaGraph;

/* Device arenas for m's parameters (uploaded from m->params now) and an
 * optimizer of kind (fresh state; see thaw_cuda_graph_upload_optimizer).
 * The context stays the caller's. */
int thaw_cuda_graph_create(ThawCudaGraph **out, ThawCudaContext *ctx, const Model *m,
                           OptimizerKind kind, ThawError *err);
void thaw_cuda_graph_destroy(ThawCudaGraph *cg);

/* Maps m's current plan (after every model_plan: batch, mode or freeze
 * change) onto the device, growing device memory only when needed. */
int thaw_cuda_graph_plan(ThawCudaGraph *cg, const Model *m, ThawError *err);

/* Copies one batch (NCHW float images of the planned batch size, and
 * labels, may be NULL for inference) into pinned memory and uploads it:
 * the images on the executor's copy stream (overlapping what the context's
 * stream still has queued, such as the last step's backward), the labels
 * on the context's stream, which waits for the images before the layout
 * change to NHWC runs on the device. Waits first until the previous upload
 * has left the pinned buffer. */
int thaw_cuda_graph_set_batch(ThawCudaGraph *cg, const Model *m, const float *images_nchw,
                              const int32_t *labels, ThawError *err);

/* The pinned buffer set_batch copies into (valid after a plan): a caller
 * that builds its batch there (NCHW images, then the labels at *labels)
 * and passes these pointers to set_batch skips the host copy, as PyTorch's
 * pinned host tensors do (77 MB per ResNet-50 batch of 128: ~10 ms of one
 * core with the GPU idle). Write it only after the previous step's
 * thaw_cuda_graph_outputs: until then the upload may still read it. */
float *thaw_cuda_graph_input_stage(ThawCudaGraph *cg, const Model *m, int32_t **labels);

/* Forward over the plan (asynchronous). */
int thaw_cuda_graph_forward(ThawCudaGraph *cg, Model *m, ThawError *err);
/* Softmax cross-entropy of the last forward with the batch's labels (mean
 * over the batch, label smoothing); queues the loss and the logits for
 * thaw_cuda_graph_outputs before backward may reuse the logits' memory. */
int thaw_cuda_graph_loss(ThawCudaGraph *cg, const Model *m, float smoothing,
                         ThawError *err);
/* Queues the logits only (validation: no loss on the device). */
int thaw_cuda_graph_fetch_logits(ThawCudaGraph *cg, const Model *m, ThawError *err);
/* Waits for the stream; *loss (may be NULL) and *logits (may be NULL;
 * [batch, classes], valid until the next set_batch/loss) hold what was
 * queued. Reports a kernel's late error. */
int thaw_cuda_graph_outputs(ThawCudaGraph *cg, float *loss, const float **logits,
                            ThawError *err);
/* Zeroes trainable gradients, backward from the last loss (same smoothing),
 * accumulating into the device gradients; frozen entries get none. */
int thaw_cuda_graph_backward(ThawCudaGraph *cg, Model *m, float smoothing, ThawError *err);
/* The optimizer step over the device arena with m->params' current group
 * lr, weight decay and freezing (SGD momentum etc. from hyper). */
int thaw_cuda_graph_optimizer_step(ThawCudaGraph *cg, const Model *m, const Optimizer *hyper,
                                   ThawError *err);

/* Host <-> device: weights and BN buffers of m->params. Download waits. */
int thaw_cuda_graph_download(ThawCudaGraph *cg, Model *m, ThawError *err);
int thaw_cuda_graph_upload(ThawCudaGraph *cg, const Model *m, ThawError *err);
/* Gradients into m->params.grads (tests). Waits. */
int thaw_cuda_graph_download_grads(ThawCudaGraph *cg, Model *m, ThawError *err);
/* Optimizer moments and step counts to / from a host Optimizer of the same
 * kind and layout (checkpoints, resume). Download waits. */
int thaw_cuda_graph_download_optimizer(ThawCudaGraph *cg, Optimizer *host, ThawError *err);
int thaw_cuda_graph_upload_optimizer(ThawCudaGraph *cg, const Optimizer *host,
                                     ThawError *err);

/* Assign mode (on by default; off: zero-then-add): an input gradient's
 * first write is the op's own (=) instead of a zeroing pass and +=, which
 * saves a write and a read of every activation gradient; the gradients are
 * the same bits (tests/gpu/test_gpu_models checks it on every model). */
void thaw_cuda_graph_set_assign(ThawCudaGraph *cg, int on);

/* Fusion (on by default; measured on an H100, ResNet-50 batch 128: 4%
 * faster in fp32, 9% in TF32, bench/README.md): a batch norm or
 * residual add followed by its relu / relu6 writes the activation's output
 * in one pass and the activation's forward is skipped (one read and one
 * write of the map less); after an add, the activation's backward also
 * runs inside the add's (two passes less). The values are the same bits.
 * Re-planning keeps the setting. fused_ops: how many activations the
 * current plan folds. */
void thaw_cuda_graph_set_fuse(ThawCudaGraph *cg, const Model *m, int on);
int thaw_cuda_graph_fused_ops(const ThawCudaGraph *cg, const Model *m);

/* Per-op GPU time (benchmarks): with profiling on, every forward and
 * backward records a CUDA event around each op; op_times waits, adds the
 * last pass's times into fwd_ms[i] / bwd_ms[i] (n_ops entries, caller's
 * arrays, summed over passes since profiling was turned on). Profiling
 * adds the events' own small cost. */
int thaw_cuda_graph_set_profile(ThawCudaGraph *cg, const Model *m, int on, ThawError *err);
int thaw_cuda_graph_op_times(ThawCudaGraph *cg, double *fwd_ms, double *bwd_ms, int n_ops,
                             ThawError *err);

/* Device bytes held now (parameters, optimizer, activations, staging). */
size_t thaw_cuda_graph_device_bytes(const ThawCudaGraph *cg);

#ifdef __cplusplus
}
#endif

#endif
