/* ThawCudaGraph's insides, shared by cuda_graph.cu (plan, forward,
 * backward) and cuda_graph_io.cu (batches, loss, outputs, host sync). */
#ifndef THAW_CUDA_GRAPH_INTERNAL_H
#define THAW_CUDA_GRAPH_INTERNAL_H

#include "engine/cuda/cuda_arena.h"
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_graph.h"
#include "engine/cuda/cuda_optim.h"

struct ThawCudaGraph {
    ThawCudaContext *ctx;
    ThawCudaArena arena;           /* weights, gradients, BN buffers */
    ThawCudaOptimizer optim;
    DevBlock acts;                 /* the plan's activation/gradient arena */
    DevBlock small;                /* BN mean/rstd, dropout masks */
    DevBlock argmax;               /* max-pool indices, per op + one scratch */
    DevBlock input_nchw;           /* the batch before its NHWC transpose */
    DevBlock labels;               /* int32 [batch] */
    DevBlock probs;                /* softmax [batch, classes] */
    DevBlock row_loss;             /* [batch] + 1 float: the mean loss */
    /* bf16 mode (the context's, fixed at create): activations in bf16, a
     * bf16 copy of the weights for convolutions and linear layers, the
     * logits widened to float before they leave the device */
    int bf16;
    DevBlock weights16;            /* bf16 [n_weights], the arena's offsets */
    DevBlock logits32;             /* float [batch, classes] */
    /* per value / per op device addresses of the current plan, as float
     * offsets into acts (the CPU arena's): thaw_cuda_graph_act gives the
     * address of the stored element (half the offset in bf16 mode) */
    float **vdata, **vgrad;
    int cap_values;
    float **op_mean, **op_rstd, **op_mask;
    int32_t **op_argmax;
    unsigned char *op_fuse;        /* GRAPH_FUSE_* of each op (activation_fusion.h) */
    int cap_ops;
    int planned;                   /* a plan is mapped */
    int batch, classes;
    /* pinned host memory: batch in, loss and logits out */
    ThawCudaStaging in_stage, out_stage;
    cudaEvent_t in_free;           /* the last upload has left in_stage */
    int in_pending;
    /* The images go up on their own stream, so a batch uploads while the
     * last step's backward still runs: in_read (main stream, after the
     * NHWC change) frees input_nchw, in_copied (copy stream) hands it on. */
    cudaStream_t copy_stream;
    cudaEvent_t in_read, in_copied;
    int has_labels;
    int assign_grads;              /* first gradient writes assign (no zeroing) */
    int fuse;                      /* BN/add + relu(6) forward in one pass */
    /* per-op timing (bench): events before each op and after the last, one
     * set for forward and one for backward; summed into *_ms on read */
    int profile;
    cudaEvent_t *ev_fwd, *ev_bwd;
    int n_events;
    double *fwd_ms, *bwd_ms;
    int fwd_pending, bwd_pending;
};

/* Device address of the activation at float-offset address p (vdata,
 * vgrad): p itself in fp32, the bf16 element at the same index in bf16
 * mode. NULL stays NULL. */
static inline void *thaw_cuda_graph_act(const ThawCudaGraph *cg, const float *p)
{
    if (!p || !cg->bf16) {
        return (void *)p;
    }
    const float *base = (const float *)cg->acts.ptr;
    return (char *)cg->acts.ptr + (size_t)(p - base) * 2;
}

/* Bytes of one stored activation element: 4, or 2 in bf16 mode. */
static inline size_t thaw_cuda_graph_act_bytes(const ThawCudaGraph *cg)
{
    return cg->bf16 ? 2 : sizeof(float);
}

/* Copies the fp32 weights into their bf16 copy (bf16 mode; after an
 * upload or an optimizer step). */
int thaw_cuda_graph_refresh_weights16(ThawCudaGraph *cg, ThawError *err);

#endif
