/* The static graph: an ordered list of ops whose inputs and outputs name
 * activation values (NHWC, or [n, c] with h = w = 1). Forward runs the list,
 * backward runs it in reverse. A graph is built for one batch and input size
 * (graph_plan), which decides from the parameter groups which ops train,
 * which values backward needs, and where every activation and gradient lives
 * in one arena (buffers whose lifetimes do not overlap share memory). */
#ifndef THAW_GRAPH_H
#define THAW_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/error.h"
#include "engine/core/params.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/pad.h"
#include "engine/ops/pool.h"

typedef enum {
    OP_CONV, OP_BATCHNORM, OP_RELU, OP_RELU6, OP_MAXPOOL, OP_AVGPOOL,
    OP_ADD, OP_FLATTEN, OP_LINEAR, OP_DROPOUT, OP_PAD,
} OpType;

typedef struct {
    int n, h, w, c;
    size_t numel;
    int producer;          /* op index, -1 for the graph input */
    int inplace_of;        /* value whose buffer this one reuses, or -1 */
    /* decided by graph_plan */
    int needs_grad;        /* backward produces a gradient for it */
    int saved;             /* some backward op reads it */
    int buffer, grad_buffer;
    int last_consumer;     /* its backward writes the gradient first */
    float *data, *grad;
} Value;

typedef struct {
    OpType type;
    int in[2], n_in, out;
    int weight, bias;                  /* param indices or -1 */
    int running_mean, running_var, counter;
    int group;
    union {
        Conv2dShape conv;
        Pool2dShape pool;
        struct { int oh, ow; } avg;
        struct { float eps, momentum; } bn;
        struct { int in_features, out_features; } linear;
        float dropout_p;
        Pad2dShape pad;
    } u;
    /* decided by graph_plan */
    int trainable;                     /* weight gradients computed */
    int bn_batch_stats;                /* BN normalises with batch stats */
    int runs_backward;
    float *mean, *rstd, *mask;         /* saved for backward */
    int32_t *argmax;
} Op;

typedef struct {
    Value *values;
    int n_values, cap_values;
    Op *ops;
    int n_ops, cap_ops;
    int input, output;
    /* plan */
    int training, train_bn, want_input_grad;
    float *arena;
    size_t arena_floats;
    float *workspace;
    size_t workspace_floats;
    int32_t *argmax_scratch;
    float *saved_small;                /* mean/rstd/mask storage */
    uint64_t dropout_rng;
} Graph;

void graph_init(Graph *g);
void graph_free(Graph *g);
/* Drops ops, values and plan memory (before a rebuild). */
void graph_reset(Graph *g);
/* Frees the memory of the last plan only. */
void graph_release_plan(Graph *g);

int graph_add_value(Graph *g, int n, int h, int w, int c, int producer);
int graph_add_op(Graph *g, const Op *op);

typedef struct {
    int training;          /* BN batch stats and dropout where trainable */
    int train_bn;          /* BN of frozen layers also uses batch stats */
    int want_input_grad;   /* keep the gradient of the graph input */
} GraphMode;

/* Plans modes, lifetimes and memory. Call after building and after every
 * change of freeze state. */
int graph_plan(Graph *g, const ParamTable *params, const GraphMode *mode,
               ThawError *err);

/* Forward over the graph; the input value must be filled first. */
void graph_forward(Graph *g, ParamTable *params);
/* Forward of op i alone (tests, per-op profiling). */
void graph_forward_op(Graph *g, ParamTable *params, int i);
/* Backward from the output gradient (filled by the caller after
 * graph_zero_output_grad); accumulates parameter gradients. */
void graph_backward(Graph *g, ParamTable *params);
/* Zeroes the output gradient buffer (before the loss writes into it). */
void graph_zero_output_grad(Graph *g);

#endif
