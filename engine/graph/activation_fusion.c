/* Activation fusion plan (activation_fusion.h). */
#include "engine/graph/activation_fusion.h"

#include <string.h>

static int value_uses(const Graph *g, int v)
{
    int uses = v == g->output;
    for (int i = 0; i < g->n_ops; i++) {
        for (int k = 0; k < g->ops[i].n_in; k++) {
            uses += g->ops[i].in[k] == v;
        }
    }
    return uses;
}

/* Writing value out while reading value in, element by element, is safe
 * when their buffers are the same or apart: with a partial overlap one
 * thread could overwrite what another has still to read. */
static int apart_or_same(const Graph *g, const float *const *data, int out, int in)
{
    const float *o = data[out], *i = data[in];
    return o == i || o + g->values[out].numel <= i || i + g->values[in].numel <= o;
}

int graph_plan_activation_fusion(const Graph *g, const float *const *value_data,
                                 unsigned char *fuse)
{
    int folded = 0;
    memset(fuse, GRAPH_FUSE_NONE, (size_t)g->n_ops);
    for (int i = 0; i + 1 < g->n_ops; i++) {
        const Op *op = &g->ops[i], *next = &g->ops[i + 1];
        if ((op->type != OP_BATCHNORM && op->type != OP_ADD) ||
            (next->type != OP_RELU && next->type != OP_RELU6) || next->in[0] != op->out ||
            value_uses(g, op->out) != 1) {
            continue;
        }
        int ok = 1;
        for (int k = 0; k < op->n_in; k++) {
            ok = ok && apart_or_same(g, value_data, next->out, op->in[k]);
        }
        if (ok) {
            fuse[i] = GRAPH_FUSE_ACT_AFTER;
            fuse[i + 1] = GRAPH_FUSE_DONE_BEFORE;
            folded++;
            i++;
        }
    }
    return folded;
}
