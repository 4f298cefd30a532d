/* Feature cache: when every op below the lowest trainable op is frozen and
 * deterministic in the planned mode (no active dropout, BN in eval), the
 * activation at that boundary depends only on the input sample. A run with
 * a deterministic train transform (no augmentation) can then store the
 * boundary row of every dataset item on the first epoch and start later
 * forwards at the boundary (graph_forward_from) from the stored rows. The
 * ops from the boundary on are the same code path either way, so a cached
 * forward gives bit-for-bit the logits and gradients of an uncached one on
 * the same boundary rows.
 *
 * The boundary is a cut of the op list: the first op k (k <= the first op
 * that runs backward or is random: dropout while training, BN with batch
 * statistics) such that ops k.. read exactly one value produced before k
 * (skip connections move the cut down to a block input). A dropout in
 * front of the classifier therefore runs after the cache, every step. Rows are
 * float, item-major, h*w*c of that value (NHWC per sample). */
#ifndef THAW_GRAPH_FEATURE_CACHE_H
#define THAW_GRAPH_FEATURE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/graph/graph.h"

/* Forward of ops [first, end) / [first, n_ops) (engine/graph/run.c). The
 * values those ops read must be filled. */
void graph_forward_range(Graph *g, ParamTable *params, int first, int end);
void graph_forward_from(Graph *g, ParamTable *params, int first);

#define FEATURE_CACHE_LIMIT_BYTES ((size_t)2 << 30)

typedef struct {
    int first_op;   /* forward from the cache starts here */
    int value;      /* the boundary value (input of ops first_op..) */
    size_t row;     /* floats per sample */
} FeatureBoundary;

/* 0 and *b set when the planned graph (training mode) has a cacheable
 * boundary; else -1 and why (may be NULL) says what prevents it. */
int feature_boundary_find(const Graph *g, FeatureBoundary *b, char *why, size_t cap);

typedef struct {
    int active;              /* bound to a boundary, rows allocated */
    FeatureBoundary b;
    int h, w, c;             /* boundary value shape per sample */
    int in_h, in_w;          /* graph input size the rows belong to */
    int64_t items;
    float *rows;             /* [items, row] */
    uint8_t *filled;         /* [items] */
    int64_t n_filled;
    int64_t dropped;         /* times stored rows were invalidated */
    int kept;                /* the last bind kept the stored rows */
} FeatureCache;

void feature_cache_init(FeatureCache *c);
void feature_cache_free(FeatureCache *c);
/* Binds the cache to the planned graph: keeps the stored rows when the
 * boundary and input size are unchanged, drops them when either moved
 * (a group below the boundary was unfrozen, another image size). Returns 1
 * when the cache is usable, 0 when not (cache released; why says why: no
 * cacheable boundary, over limit_bytes, out of memory; run uncached then).
 * limit_bytes 0 means FEATURE_CACHE_LIMIT_BYTES. */
int feature_cache_bind(FeatureCache *c, const Graph *g, int64_t items,
                       size_t limit_bytes, char *why, size_t cap);
/* Binds the cache to a boundary found on another plan of the same graph
 * (the validation cache: the eval plan has the ops and values of the
 * training plan, so the train boundary holds there too); checks the value's
 * shape. Keeps or drops rows and returns as feature_cache_bind. */
int feature_cache_bind_at(FeatureCache *c, const Graph *g, const FeatureBoundary *b,
                          int64_t items, size_t limit_bytes, char *why, size_t cap);
/* 1 when every item of the batch has a stored row. */
int feature_cache_has_all(const FeatureCache *c, const int64_t *items, int count);
/* The lowest-numbered items (at most max, ascending) that have no stored row
 * yet, in *items; returns how many (0 when every row is filled or the cache
 * is not active). A fill pass takes them batch by batch in this fixed order,
 * so it is the same pass whenever the same rows are missing. */
int feature_cache_next_missing(const FeatureCache *c, int64_t *items, int max);
/* Copies the boundary rows of samples 0..count-1 of the current forward
 * (call after ops before b.first_op ran, before the ones from it on). */
void feature_cache_store(FeatureCache *c, const Graph *g, const int64_t *items,
                         int count);
/* Fills the boundary value from stored rows (samples past count zeroed). */
void feature_cache_load(const FeatureCache *c, Graph *g, const int64_t *items,
                        int count);

#endif
