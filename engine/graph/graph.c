#include "graph.h"

#include <stdlib.h>
#include <string.h>

void graph_init(Graph *g)
{
    memset(g, 0, sizeof *g);
    g->input = g->output = -1;
    g->dropout_rng = 0x9E3779B97F4A7C15ull;
}

void graph_release_plan(Graph *g)
{
    free(g->arena);
    free(g->workspace);
    free(g->argmax_scratch);
    free(g->saved_small);
    g->arena = g->workspace = g->saved_small = NULL;
    g->argmax_scratch = NULL;
    g->arena_floats = g->workspace_floats = 0;
    for (int i = 0; i < g->n_ops; i++) {
        free(g->ops[i].argmax);
        g->ops[i].argmax = NULL;
    }
}

void graph_reset(Graph *g)
{
    graph_release_plan(g);
    g->n_values = 0;
    g->n_ops = 0;
    g->input = g->output = -1;
}

void graph_free(Graph *g)
{
    graph_release_plan(g);
    free(g->values);
    free(g->ops);
    uint64_t rng = g->dropout_rng;
    graph_init(g);
    g->dropout_rng = rng;
}

int graph_add_value(Graph *g, int n, int h, int w, int c, int producer)
{
    if (g->n_values == g->cap_values) {
        int cap = g->cap_values ? 2 * g->cap_values : 128;
        Value *v = realloc(g->values, (size_t)cap * sizeof *v);
        if (!v) {
            return -1;
        }
        g->values = v;
        g->cap_values = cap;
    }
    Value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->n = n;
    v->h = h;
    v->w = w;
    v->c = c;
    v->numel = (size_t)n * h * w * c;
    v->producer = producer;
    v->inplace_of = -1;
    v->buffer = v->grad_buffer = -1;
    return g->n_values++;
}

int graph_add_op(Graph *g, const Op *op)
{
    if (g->n_ops == g->cap_ops) {
        int cap = g->cap_ops ? 2 * g->cap_ops : 128;
        Op *ops = realloc(g->ops, (size_t)cap * sizeof *ops);
        if (!ops) {
            return -1;
        }
        g->ops = ops;
        g->cap_ops = cap;
    }
    g->ops[g->n_ops] = *op;
    return g->n_ops++;
}
