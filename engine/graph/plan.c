/* graph_plan: which ops train, which values backward reads, and one arena
 * for every activation and gradient. Time runs forward over the ops (op i at
 * t = i), then the loss (t = n), then backward (op i at t = 2n - i). A
 * buffer lives from its first write to its last read; buffers whose lives do
 * not overlap share memory (greedy first fit, largest first). Frozen parts
 * therefore keep nothing for backward, and in eval mode activations are
 * recycled as soon as their consumers ran. */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t floats;
    int start, end;
    size_t offset;
} Lifetime;

#define ALIGN_FLOATS 16

static size_t align_up(size_t n)
{
    return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
}

static int min_i(int a, int b) { return a < b ? a : b; }
static int max_i(int a, int b) { return a > b ? a : b; }

static int any_trainable(const ParamTable *p, const Op *op)
{
    return (op->weight >= 0 && params_trainable(p, op->weight)) ||
           (op->bias >= 0 && params_trainable(p, op->bias));
}

/* A BatchNorm module trains (batch statistics) unless it is frozen: its own
 * layer choice, else its group's flag. */
static int bn_module_frozen(const ParamTable *p, const Op *op)
{
    int e = op->weight >= 0 ? op->weight : op->bias >= 0 ? op->bias : op->running_mean;
    return e >= 0 ? params_frozen(p, e) : p->groups[op->group].frozen;
}

static void decide_modes(Graph *g, const ParamTable *params)
{
    for (int v = 0; v < g->n_values; v++) {
        g->values[v].needs_grad = 0;
        g->values[v].saved = 0;
    }
    if (g->input >= 0) {
        g->values[g->input].needs_grad = g->training && g->want_input_grad;
    }
    for (int i = 0; i < g->n_ops; i++) {
        Op *op = &g->ops[i];
        op->trainable = g->training && any_trainable(params, op);
        op->bn_batch_stats = 0;
        if (op->type == OP_BATCHNORM && g->training) {
            op->bn_batch_stats = !bn_module_frozen(params, op) || g->train_bn;
        }
        int grad_in = 0;
        for (int k = 0; k < op->n_in; k++) {
            grad_in |= g->values[op->in[k]].needs_grad;
        }
        op->runs_backward = g->training && (op->trainable || grad_in);
        g->values[op->out].needs_grad = op->runs_backward;
    }
    /* What each backward reads (beyond parameters and its own small saves). */
    for (int i = 0; i < g->n_ops; i++) {
        Op *op = &g->ops[i];
        if (!op->runs_backward) {
            continue;
        }
        switch (op->type) {
        case OP_CONV:
        case OP_LINEAR:
            if (op->trainable) {
                g->values[op->in[0]].saved = 1;
            }
            break;
        case OP_BATCHNORM:
            if (op->bn_batch_stats || op->trainable) {
                g->values[op->in[0]].saved = 1;
            }
            break;
        case OP_RELU:
        case OP_RELU6:
            g->values[op->out].saved = 1;
            break;
        default:
            break;
        }
    }
}

/* An in-place op may reuse its input's buffer only when nothing else reads
 * that input afterwards. */
static void check_inplace(Graph *g, const int *n_consumers)
{
    for (int v = 0; v < g->n_values; v++) {
        Value *val = &g->values[v];
        int u = val->inplace_of;
        if (u < 0) {
            continue;
        }
        const Value *src = &g->values[u];
        if (n_consumers[u] != 1 || src->saved || u == g->input ||
            u == g->output || src->numel != val->numel) {
            val->inplace_of = -1;
        }
    }
}

static int root_of(const Graph *g, int v)
{
    while (g->values[v].inplace_of >= 0) {
        v = g->values[v].inplace_of;
    }
    return v;
}

static int cmp_size_desc(const void *a, const void *b, void *ctx)
{
    const Lifetime *l = ctx;
    const int *x = a, *y = b;
    if (l[*x].floats != l[*y].floats) {
        return l[*x].floats < l[*y].floats ? 1 : -1;
    }
    return *x - *y;
}

/* Greedy first fit: place each buffer at the lowest offset not used by a
 * placed buffer that is alive at the same time. */
static size_t place_buffers(Lifetime *life, int n)
{
    int *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    int *placed = malloc((size_t)(n ? n : 1) * sizeof *placed);
    if (!order || !placed) {
        free(order);
        free(placed);
        return (size_t)-1;
    }
    for (int i = 0; i < n; i++) {
        order[i] = i;
    }
    qsort_r(order, (size_t)n, sizeof *order, cmp_size_desc, life);
    size_t total = 0;
    int n_placed = 0;
    for (int k = 0; k < n; k++) {
        Lifetime *b = &life[order[k]];
        size_t offset = 0;
        int moved = 1;
        while (moved) {
            moved = 0;
            for (int j = 0; j < n_placed; j++) {
                const Lifetime *o = &life[placed[j]];
                int overlap_t = o->start <= b->end && b->start <= o->end;
                int overlap_m = o->offset < offset + b->floats &&
                                offset < o->offset + o->floats;
                if (overlap_t && overlap_m) {
                    offset = o->offset + o->floats;
                    moved = 1;
                }
            }
        }
        b->offset = offset;
        placed[n_placed++] = order[k];
        if (offset + b->floats > total) {
            total = offset + b->floats;
        }
    }
    free(order);
    free(placed);
    return total;
}

static size_t op_workspace(const Op *op)
{
    return op->type == OP_CONV ? conv2d_workspace_floats(&op->u.conv) : 0;
}

static int allocate_small(Graph *g, ThawError *err)
{
    size_t small = 0, scratch = 0;
    for (int i = 0; i < g->n_ops; i++) {
        const Op *op = &g->ops[i];
        if (op->type == OP_BATCHNORM) {
            small += 2 * (size_t)g->values[op->out].c;
        } else if (op->type == OP_DROPOUT && g->training) {
            small += g->values[op->out].numel;
        } else if (op->type == OP_MAXPOOL && !op->runs_backward &&
                   g->values[op->out].numel > scratch) {
            scratch = g->values[op->out].numel;
        }
        size_t ws = op_workspace(op);
        if (ws > g->workspace_floats) {
            g->workspace_floats = ws;
        }
    }
    g->saved_small = malloc((small + 1) * sizeof(float));
    g->workspace = malloc((g->workspace_floats + 1) * sizeof(float));
    g->argmax_scratch = malloc((scratch + 1) * sizeof(int32_t));
    if (!g->saved_small || !g->workspace || !g->argmax_scratch) {
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory planning the graph");
    }
    float *cursor = g->saved_small;
    for (int i = 0; i < g->n_ops; i++) {
        Op *op = &g->ops[i];
        op->mean = op->rstd = op->mask = NULL;
        op->argmax = NULL;
        if (op->type == OP_BATCHNORM) {
            int c = g->values[op->out].c;
            op->mean = cursor;
            op->rstd = cursor + c;
            cursor += 2 * (size_t)c;
        } else if (op->type == OP_DROPOUT && g->training) {
            op->mask = cursor;
            cursor += g->values[op->out].numel;
        } else if (op->type == OP_MAXPOOL) {
            if (op->runs_backward) {
                op->argmax = malloc(g->values[op->out].numel * sizeof(int32_t));
                if (!op->argmax) {
                    return thaw_fail(err, THAW_ERR_NOMEM, "out of memory planning the graph");
                }
            }
        }
    }
    return 0;
}

int graph_plan(Graph *g, const ParamTable *params, const GraphMode *mode,
               ThawError *err)
{
    graph_release_plan(g);
    g->training = mode->training;
    g->train_bn = mode->train_bn;
    g->want_input_grad = mode->want_input_grad;
    decide_modes(g, params);

    const int n = g->n_ops, nv = g->n_values;
    int *n_consumers = calloc((size_t)nv, sizeof(int));
    int *grad_first = malloc((size_t)nv * sizeof(int));
    Lifetime *life = calloc((size_t)(2 * nv + 1), sizeof *life);
    if (!n_consumers || !grad_first || !life) {
        free(n_consumers);
        free(grad_first);
        free(life);
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory planning the graph");
    }
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < g->ops[i].n_in; k++) {
            n_consumers[g->ops[i].in[k]]++;
        }
    }
    check_inplace(g, n_consumers);

    /* Activation lifetimes: per value, then merged into its root buffer. */
    for (int v = 0; v < nv; v++) {
        int p = g->values[v].producer;
        life[v].start = p >= 0 ? p : -1;
        life[v].end = life[v].start;
        life[v].floats = align_up(g->values[v].numel);
        grad_first[v] = -1;
    }
    for (int i = 0; i < n; i++) {
        const Op *op = &g->ops[i];
        for (int k = 0; k < op->n_in; k++) {
            int v = op->in[k];
            life[v].end = max_i(life[v].end, i);
            if (g->values[v].saved && op->runs_backward &&
                (op->type == OP_CONV || op->type == OP_LINEAR ||
                 op->type == OP_BATCHNORM)) {
                life[v].end = max_i(life[v].end, 2 * n - i);
            }
            if (g->values[v].needs_grad && grad_first[v] < i) {
                grad_first[v] = i;
            }
        }
        if (g->values[op->out].saved) {
            life[op->out].end = max_i(life[op->out].end, 2 * n - i);
        }
    }
    if (g->output >= 0) {
        life[g->output].end = max_i(life[g->output].end, n);
    }
    for (int v = nv - 1; v >= 0; v--) {
        int r = root_of(g, v);
        g->values[v].buffer = r;
        if (r != v) {
            life[r].start = min_i(life[r].start, life[v].start);
            life[r].end = max_i(life[r].end, life[v].end);
            life[v].floats = 0;
        }
    }
    /* Gradient lifetimes, in slots nv..2nv-1. */
    for (int v = 0; v < nv; v++) {
        Value *val = &g->values[v];
        Lifetime *gl = &life[nv + v];
        val->grad_buffer = -1;
        if (!val->needs_grad) {
            continue;
        }
        val->grad_buffer = nv + v;
        gl->floats = align_up(val->numel);
        gl->start = v == g->output ? n : 2 * n - grad_first[v];
        gl->end = val->producer >= 0 ? 2 * n - val->producer : 2 * n + 1;
        if (v == g->output) {
            gl->start = n;
        }
    }
    size_t total = place_buffers(life, 2 * nv);
    int rc = 0;
    if (total == (size_t)-1) {
        rc = thaw_fail(err, THAW_ERR_NOMEM, "out of memory planning the graph");
    } else {
        g->arena_floats = total;
        g->arena = aligned_alloc(64, align_up(total + 1) * sizeof(float));
        if (!g->arena) {
            rc = thaw_fail(err, THAW_ERR_NOMEM,
                           "out of memory: activations need %.1f MB",
                           (double)total * 4 / 1e6);
        }
    }
    if (rc == 0) {
        for (int v = 0; v < nv; v++) {
            Value *val = &g->values[v];
            val->data = g->arena + life[val->buffer].offset;
            val->grad = val->grad_buffer >= 0
                            ? g->arena + life[val->grad_buffer].offset
                            : NULL;
        }
        rc = allocate_small(g, err);
    }
    for (int v = 0; v < nv; v++) {
        g->values[v].last_consumer = grad_first[v];
    }
    free(n_consumers);
    free(grad_first);
    free(life);
    return rc;
}
