#include "feature_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void say(char *why, size_t cap, const char *msg)
{
    if (why && cap) {
        snprintf(why, cap, "%s", msg);
    }
}

/* The single value produced before op k (or the graph input) that ops k..
 * read; -1 when there are none or several. */
static int cut_value(const Graph *g, int k)
{
    int found = -1;
    for (int i = k; i < g->n_ops; i++) {
        const Op *op = &g->ops[i];
        for (int t = 0; t < op->n_in; t++) {
            int v = op->in[t];
            if (g->values[v].producer >= k) {
                continue;
            }
            if (found >= 0 && found != v) {
                return -1;
            }
            found = v;
        }
    }
    return found;
}

static int random_op(const Op *op)
{
    return (op->type == OP_DROPOUT && op->u.dropout_p > 0.0f) ||
           (op->type == OP_BATCHNORM && op->bn_batch_stats);
}

int feature_boundary_find(const Graph *g, FeatureBoundary *b, char *why, size_t cap)
{
    memset(b, 0, sizeof *b);
    b->first_op = -1;
    b->value = -1;
    if (!g->training) {
        say(why, cap, "the graph is not planned for training");
        return -1;
    }
    /* the cut goes below the first op that trains or is not a function of
     * its input alone (active dropout, BN with batch statistics) */
    int f = -1;
    for (int i = 0; i < g->n_ops; i++) {
        const Op *op = &g->ops[i];
        if (op->type == OP_BATCHNORM && op->bn_batch_stats && !op->runs_backward) {
            /* a cut below it would keep at best the stem */
            say(why, cap, "frozen BatchNorm uses batch statistics (train_bn)");
            return -1;
        }
        if (op->runs_backward || random_op(op)) {
            f = i;
            break;
        }
    }
    if (f < 0) {
        say(why, cap, "nothing is trainable");
        return -1;
    }
    int k = f, v = -1;
    for (; k > 0; k--) {
        v = cut_value(g, k);
        if (v >= 0) {
            break;
        }
    }
    if (k <= 0 || v < 0 || v == g->input) {
        const Op *op = &g->ops[f];
        if (op->type == OP_DROPOUT && random_op(op)) {
            say(why, cap, "dropout is active at the bottom of the graph");
        } else {
            say(why, cap, "the lowest trainable op reads the input; nothing to skip");
        }
        return -1;
    }
    for (int i = 0; i < k; i++) {
        if (g->ops[i].runs_backward || random_op(&g->ops[i])) {
            say(why, cap, "an op below the boundary trains or is random");
            return -1;
        }
    }
    const Value *val = &g->values[v];
    b->first_op = k;
    b->value = v;
    b->row = (size_t)val->h * (size_t)val->w * (size_t)val->c;
    return 0;
}

void feature_cache_init(FeatureCache *c)
{
    memset(c, 0, sizeof *c);
    c->b.first_op = -1;
    c->b.value = -1;
}

static void release(FeatureCache *c)
{
    if (c->n_filled > 0) {
        c->dropped++;
    }
    free(c->rows);
    free(c->filled);
    c->rows = NULL;
    c->filled = NULL;
    c->n_filled = 0;
    c->active = 0;
}

void feature_cache_free(FeatureCache *c)
{
    free(c->rows);
    free(c->filled);
    feature_cache_init(c);
}

int feature_cache_bind(FeatureCache *c, const Graph *g, int64_t items,
                       size_t limit_bytes, char *why, size_t cap)
{
    FeatureBoundary b;
    if (feature_boundary_find(g, &b, why, cap) != 0) {
        release(c);
        c->kept = 0;
        return 0;
    }
    return feature_cache_bind_at(c, g, &b, items, limit_bytes, why, cap);
}

int feature_cache_bind_at(FeatureCache *c, const Graph *g, const FeatureBoundary *b,
                          int64_t items, size_t limit_bytes, char *why, size_t cap)
{
    c->kept = 0;
    if (items < 1 || b->value < 0 || b->value >= g->n_values || b->first_op < 1 ||
        b->first_op >= g->n_ops) {
        say(why, cap, items < 1 ? "no items" : "the boundary is not in this graph");
        release(c);
        return 0;
    }
    const Value *val = &g->values[b->value];
    const Value *in = &g->values[g->input];
    if ((size_t)val->h * (size_t)val->w * (size_t)val->c != b->row) {
        say(why, cap, "the boundary value has another shape in this graph");
        release(c);
        return 0;
    }
    if (c->active && c->b.first_op == b->first_op && c->b.value == b->value &&
        c->b.row == b->row && c->h == val->h && c->w == val->w && c->c == val->c &&
        c->in_h == in->h && c->in_w == in->w && c->items == items) {
        c->kept = 1;
        return 1;
    }
    release(c);
    if (limit_bytes == 0) {
        limit_bytes = FEATURE_CACHE_LIMIT_BYTES;
    }
    double bytes = (double)items * (double)b->row * sizeof(float);
    if (bytes > (double)limit_bytes) {
        if (why && cap) {
            snprintf(why, cap, "it would need %.1f MB for %lld items x %zu floats, over "
                     "the %.1f MB limit", bytes / 1048576.0, (long long)items, b->row,
                     (double)limit_bytes / 1048576.0);
        }
        return 0;
    }
    c->rows = malloc((size_t)items * b->row * sizeof(float));
    c->filled = calloc((size_t)items, 1);
    if (!c->rows || !c->filled) {
        free(c->rows);
        free(c->filled);
        c->rows = NULL;
        c->filled = NULL;
        say(why, cap, "out of memory for the cache");
        return 0;
    }
    c->b = *b;
    c->h = val->h;
    c->w = val->w;
    c->c = val->c;
    c->in_h = in->h;
    c->in_w = in->w;
    c->items = items;
    c->n_filled = 0;
    c->active = 1;
    return 1;
}

int feature_cache_has_all(const FeatureCache *c, const int64_t *items, int count)
{
    if (!c->active) {
        return 0;
    }
    for (int i = 0; i < count; i++) {
        if (items[i] < 0 || items[i] >= c->items || !c->filled[items[i]]) {
            return 0;
        }
    }
    return 1;
}

int feature_cache_next_missing(const FeatureCache *c, int64_t *items, int max)
{
    int n = 0;
    if (!c->active || c->n_filled >= c->items) {
        return 0;
    }
    for (int64_t i = 0; i < c->items && n < max; i++) {
        if (!c->filled[i]) {
            items[n++] = i;
        }
    }
    return n;
}

void feature_cache_store(FeatureCache *c, const Graph *g, const int64_t *items,
                         int count)
{
    if (!c->active) {
        return;
    }
    const float *src = g->values[c->b.value].data;
    for (int i = 0; i < count; i++) {
        int64_t it = items[i];
        if (it < 0 || it >= c->items) {
            continue;
        }
        memcpy(c->rows + (size_t)it * c->b.row, src + (size_t)i * c->b.row,
               c->b.row * sizeof(float));
        if (!c->filled[it]) {
            c->filled[it] = 1;
            c->n_filled++;
        }
    }
}

void feature_cache_load(const FeatureCache *c, Graph *g, const int64_t *items,
                        int count)
{
    Value *v = &g->values[c->b.value];
    float *dst = v->data;
    for (int i = 0; i < count; i++) {
        memcpy(dst + (size_t)i * c->b.row, c->rows + (size_t)items[i] * c->b.row,
               c->b.row * sizeof(float));
    }
    if ((size_t)count * c->b.row < v->numel) {
        memset(dst + (size_t)count * c->b.row, 0,
               (v->numel - (size_t)count * c->b.row) * sizeof(float));
    }
}
