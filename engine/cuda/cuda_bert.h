/* The BERT encoder on the GPU: engine/models/bert_forward.c and
 * bert_backward.c step for step with the CUDA ops. The host BertModel
 * stays the plan: bert_plan lays out its activation arena for a batch and
 * sequence length and this executor mirrors that layout in one device
 * block (a host activation pointer p maps to the device block at the same
 * offset), so the CPU code's buffers, aliases and dropout choices carry
 * over unchanged, and tests can download the whole device arena into
 * m->arena and read it with bert_hidden() and friends. Device memory grows
 * only when a plan needs more than any before (text batches are padded to
 * their longest text, so the sequence length changes from step to step);
 * a step allocates nothing once the longest batch has been seen.
 *
 * While the model trains here the device weights and optimizer moments are
 * the ones that count: download before reading m->params on the host
 * (checkpoints, export), upload after changing them there. The dropout
 * generator (m->rng) stays on the host and advances exactly as on the CPU,
 * so both devices draw the same masks from the same seed. Plain C API. */
#ifndef THAW_CUDA_BERT_H
#define THAW_CUDA_BERT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "engine/core/error.h"
#include "engine/cuda/cuda_context.h"
#include "engine/models/bert.h"
#include "engine/optim/optimizer.h"

typedef struct ThawCudaBert ThawCudaBert;

/* Device parameters of m (uploaded now) and an optimizer of kind (fresh
 * state). The context stays the caller's. */
int thaw_cuda_bert_create(ThawCudaBert **out, ThawCudaContext *ctx, const BertModel *m,
                          OptimizerKind kind, ThawError *err);
void thaw_cuda_bert_destroy(ThawCudaBert *cb);

/* Mirrors m's current plan (call after every bert_plan). */
int thaw_cuda_bert_plan(ThawCudaBert *cb, const BertModel *m, ThawError *err);

/* Checks and stages one batch (bert_set_inputs: ids, optional types and
 * mask, [batch, seq]) and uploads it with the labels (NULL: inference). */
int thaw_cuda_bert_set_batch(ThawCudaBert *cb, BertModel *m, const int32_t *ids,
                             const int32_t *types, const int32_t *mask,
                             const int32_t *labels, ThawError *err);

/* Forward over the plan (asynchronous). */
int thaw_cuda_bert_forward(ThawCudaBert *cb, BertModel *m, ThawError *err);
/* Mean softmax cross-entropy with the batch's labels (label smoothing);
 * queues the loss and the logits for thaw_cuda_bert_outputs. */
int thaw_cuda_bert_loss(ThawCudaBert *cb, const BertModel *m, float smoothing,
                        ThawError *err);
/* Queues the logits only (validation). */
int thaw_cuda_bert_fetch_logits(ThawCudaBert *cb, const BertModel *m, ThawError *err);
/* Waits; *loss and *logits ([batch, classes], valid until the next loss,
 * fetch or plan) hold what was queued; either may be NULL. */
int thaw_cuda_bert_outputs(ThawCudaBert *cb, float *loss, const float **logits,
                           ThawError *err);
/* Zeroes the trainable gradients and runs backward from the last loss
 * (same smoothing): frozen parameters get none, and backward stops below
 * the lowest trainable block, as bert_backward does. The embedding
 * gradients' token groups come from m->ints, which set_batch filled: do
 * not stage other inputs into m (bert_set_inputs, bert_forward) between
 * set_batch and backward. */
int thaw_cuda_bert_backward(ThawCudaBert *cb, BertModel *m, float smoothing, ThawError *err);
/* The optimizer step with m->params' group lr, weight decay and freezing;
 * betas, eps, momentum from hyper (NULL: keep). */
int thaw_cuda_bert_optimizer_step(ThawCudaBert *cb, const BertModel *m, const Optimizer *hyper,
                                  ThawError *err);

/* Host <-> device. Downloads wait. */
int thaw_cuda_bert_download(ThawCudaBert *cb, BertModel *m, ThawError *err);
int thaw_cuda_bert_upload(ThawCudaBert *cb, const BertModel *m, ThawError *err);
int thaw_cuda_bert_download_grads(ThawCudaBert *cb, BertModel *m, ThawError *err);
int thaw_cuda_bert_download_optimizer(ThawCudaBert *cb, Optimizer *host, ThawError *err);
int thaw_cuda_bert_upload_optimizer(ThawCudaBert *cb, const Optimizer *host, ThawError *err);
/* The device activations of the last forward into m->arena (same layout),
 * so bert_hidden, bert_mean_pooled, bert_pooler_output and bert_logits
 * read the GPU's values (tests). */
int thaw_cuda_bert_download_acts(ThawCudaBert *cb, BertModel *m, ThawError *err);

/* Device bytes held now (parameters, optimizer, activations, scratch). */
size_t thaw_cuda_bert_device_bytes(const ThawCudaBert *cb);

/* Per-op GPU time (benchmarks; cuda_bert_profile.cu): with profiling on,
 * the passes record a CUDA event around every op call; profile_take waits,
 * adds the times up per callee since the last take into out (at most cap
 * rows, *n of them) and starts over. Off frees the events. */
typedef struct {
    char name[48];      /* the callee, e.g. "thaw_cuda_linear_backward" */
    double ms;
    int calls;
} ThawCudaBertOpTime;
int thaw_cuda_bert_set_profile(ThawCudaBert *cb, int on, ThawError *err);
int thaw_cuda_bert_profile_take(ThawCudaBert *cb, ThawCudaBertOpTime *out, int cap, int *n,
                                ThawError *err);

#ifdef __cplusplus
}
#endif

#endif
