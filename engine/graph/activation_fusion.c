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

/* Writing a buffer while reading another, element by element, is safe
 * when they are the same or apart: with a partial overlap one thread could
 * overwrite what another has still to read. */
static int ranges_apart_or_same(const float *o, size_t no, const float *i, size_t ni)
{
    return o == i || o + no <= i || i + ni <= o;
}

/* The same for values out (written) and in (read). */
static int apart_or_same(const Graph *g, const float *const *data, int out, int in)
{
    return ranges_apart_or_same(data[out], g->values[out].numel, data[in], g->values[in].numel);
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

int graph_add_backward_folds(const Graph *g, const float *const *value_data,
                             const float *const *value_grad, const unsigned char *fuse, int i,
                             int assign)
{
    if (!assign || i < 0 || i + 1 >= g->n_ops || g->ops[i].type != OP_ADD ||
        fuse[i] != GRAPH_FUSE_ACT_AFTER) {
        return 0;
    }
    const Op *op = &g->ops[i];
    const int act_out = g->ops[i + 1].out;
    const size_t n = g->values[act_out].numel;
    const float *act = value_data[act_out], *dact = value_grad[act_out];
    for (int k = 0; k < op->n_in; k++) {
        const int v = op->in[k];
        const Value *val = &g->values[v];
        if (!val->needs_grad) {
            continue;
        }
        if (val->last_consumer != i || (k == 1 && op->in[0] == v) || !dact) {
            return 0;
        }
        const float *d = value_grad[v];
        if (!ranges_apart_or_same(d, val->numel, dact, n) ||
            !ranges_apart_or_same(d, val->numel, act, n)) {
            return 0;
        }
    }
    return 1;
}
