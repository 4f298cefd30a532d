/* Which activations an executor may fold into the op that feeds them: a
 * batch norm or residual add whose only consumer is the next op, a relu or
 * relu6, can write that op's output with the activation applied, and the
 * activation's forward is skipped. Backward is unchanged: neither producer
 * reads its own output there (batch norm reads its input, add nothing) and
 * the activation reads its output, which the fused pass wrote. The GPU
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

#ifdef __cplusplus
}
#endif

#endif
