/* Which activations an executor may fold into the op that feeds them: a
 * batch norm or residual add whose only consumer is the next op, a relu or
 * relu6, can write that op's output with the activation applied, and the
 * activation's forward is skipped. Backward is unchanged: neither producer
 * reads its own output there (batch norm reads its input, add nothing) and
 * the activation reads its output, which the fused pass wrote; an add may
 * also take its activation's backward when graph_add_backward_folds says
 * its buffers allow it. The GPU
 * executor uses it (thaw_cuda_graph_set_fuse); the plan is pure graph
 * analysis, so it is tested on the CPU plan's buffers. */
#ifndef THAW_GRAPH_ACTIVATION_FUSION_H
#define THAW_GRAPH_ACTIVATION_FUSION_H

#include "engine/graph/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    GRAPH_FUSE_NONE,        /* the op runs as planned */
    GRAPH_FUSE_ACT_AFTER,   /* the op also applies the next op's activation */
    GRAPH_FUSE_DONE_BEFORE  /* an activation the previous op applied: skip it */
};

/* fuse[i] for every op of g (n_ops entries). value_data[v]: value v's
 * buffer (the CPU plan's, or a device mapping with the same offsets): a
 * pair is fused only when the activation's output and the producer's
 * inputs are the same buffer or apart, never a partial overlap. Returns
 * the number of activations folded. */
int graph_plan_activation_fusion(const Graph *g, const float *const *value_data,
                                 unsigned char *fuse);

/* Whether the add at op i, fused with the activation after it, may also
 * run that activation's backward (the executor then skips the
 * activation's). The add reads the activation's output and its gradient
 * one backward step after the plan's lifetimes for them end, so their
 * buffers may already be the add's input gradients: each input gradient
 * must be exactly one of them or apart from both (an exact alias is read
 * before it is written, element by element), and the add must write them
 * in one call that assigns (assign 1, the add the last consumer of every
 * input that needs a gradient, not x + x): zeroing an input gradient
 * first would clear what the add is about to read. value_grad[v]: value
 * v's gradient buffer. Without this rule zero-then-add backward read
 * zeros on the H100 (bench/README.md). */
int graph_add_backward_folds(const Graph *g, const float *const *value_data,
                             const float *const *value_grad, const unsigned char *fuse, int i,
                             int assign);

#ifdef __cplusplus
}
#endif

#endif
