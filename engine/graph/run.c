/* Forward and backward over a planned graph: one switch per direction that
 * calls the op families in engine/ops. Gradient buffers are zeroed by the
 * first backward op that writes them (the last consumer in forward order),
 * because every op backward accumulates. */
#include "graph.h"

#include <string.h>

#include "engine/ops/activation.h"
#include "engine/ops/batchnorm.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linear.h"

static float *param(ParamTable *p, int index)
{
    return index >= 0 ? params_data(p, index) : NULL;
}

/* NULL for a frozen entry: an op that only passes gradients through (a
 * frozen layer between trainable ones) writes no weight gradient. */
static float *param_grad(ParamTable *p, const Op *op, int index)
{
    return index >= 0 && op->trainable && params_trainable(p, index) ? params_grad(p, index)
                                                                      : NULL;
}

static void forward_op(Graph *g, ParamTable *p, Op *op)
{
    Value *x = &g->values[op->in[0]];
    Value *y = &g->values[op->out];
    switch (op->type) {
    case OP_CONV:
        conv2d_forward(y->data, x->data, param(p, op->weight),
                       param(p, op->bias), &op->u.conv, g->workspace);
        break;
    case OP_BATCHNORM: {
        int m = x->n * x->h * x->w;
        if (op->bn_batch_stats) {
            batchnorm_forward_train(y->data, op->mean, op->rstd, x->data,
                                    param(p, op->weight), param(p, op->bias),
                                    param(p, op->running_mean),
                                    param(p, op->running_var),
                                    op->u.bn.momentum, op->u.bn.eps, m, x->c);
            if (op->counter >= 0) {
                *params_counter(p, op->counter) += 1;
            }
        } else {
            batchnorm_forward_eval(y->data, x->data, param(p, op->weight),
                                   param(p, op->bias),
                                   param(p, op->running_mean),
                                   param(p, op->running_var), op->u.bn.eps,
                                   m, x->c);
        }
        break;
    }
    case OP_RELU:
        relu_forward(y->data, x->data, y->numel);
        break;
    case OP_RELU6:
        relu6_forward(y->data, x->data, y->numel);
        break;
    case OP_MAXPOOL:
        maxpool2d_forward(y->data, op->argmax ? op->argmax : g->argmax_scratch,
                          x->data, &op->u.pool);
        break;
    case OP_AVGPOOL:
        adaptive_avgpool2d_forward(y->data, x->data, x->n, x->h, x->w, x->c,
                                   op->u.avg.oh, op->u.avg.ow);
        break;
    case OP_ADD:
        add_forward(y->data, x->data, g->values[op->in[1]].data, y->numel);
        break;
    case OP_FLATTEN:
        flatten_forward(y->data, x->data, x->n, x->h, x->w, x->c);
        break;
    case OP_LINEAR:
        linear_forward(y->data, x->data, param(p, op->weight),
                       param(p, op->bias), x->n, op->u.linear.in_features,
                       op->u.linear.out_features);
        break;
    case OP_DROPOUT:
        if (g->training && op->u.dropout_p > 0.0f) {
            dropout_forward(y->data, op->mask, x->data, op->u.dropout_p,
                            y->numel, &g->dropout_rng);
        } else if (y->data != x->data) {
            memcpy(y->data, x->data, y->numel * sizeof(float));
        }
        break;
    case OP_PAD:
        pad2d_forward(y->data, x->data, &op->u.pad);
        break;
    }
}

void graph_forward(Graph *g, ParamTable *params)
{
    for (int i = 0; i < g->n_ops; i++) {
        forward_op(g, params, &g->ops[i]);
    }
}

void graph_forward_range(Graph *g, ParamTable *params, int first, int end)
{
    for (int i = first; i < end && i < g->n_ops; i++) {
        forward_op(g, params, &g->ops[i]);
    }
}

void graph_forward_from(Graph *g, ParamTable *params, int first)
{
    graph_forward_range(g, params, first, g->n_ops);
}

void graph_forward_op(Graph *g, ParamTable *params, int i)
{
    forward_op(g, params, &g->ops[i]);
}

void graph_zero_output_grad(Graph *g)
{
    Value *out = &g->values[g->output];
    if (out->grad) {
        memset(out->grad, 0, out->numel * sizeof(float));
    }
}

/* Gradient destination for input k of op i, zeroed on first write. */
static float *input_grad(Graph *g, int op_index, int k)
{
    Value *v = &g->values[g->ops[op_index].in[k]];
    if (!v->needs_grad) {
        return NULL;
    }
    if (v->last_consumer == op_index) {
        memset(v->grad, 0, v->numel * sizeof(float));
    }
    return v->grad;
}

static void backward_op(Graph *g, ParamTable *p, int i)
{
    Op *op = &g->ops[i];
    Value *x = &g->values[op->in[0]];
    Value *y = &g->values[op->out];
    float *dx = input_grad(g, i, 0);
    switch (op->type) {
    case OP_CONV:
        conv2d_backward(dx, param_grad(p, op, op->weight),
                        param_grad(p, op, op->bias), y->grad,
                        x->data, param(p, op->weight),
                        &op->u.conv, g->workspace);
        break;
    case OP_BATCHNORM: {
        int m = x->n * x->h * x->w;
        if (op->bn_batch_stats) {
            batchnorm_backward_train(dx, param_grad(p, op, op->weight),
                                     param_grad(p, op, op->bias), y->grad,
                                     x->data, op->mean, op->rstd,
                                     param(p, op->weight), m, x->c);
        } else {
            batchnorm_backward_eval(dx, param_grad(p, op, op->weight),
                                    param_grad(p, op, op->bias), y->grad,
                                    x->data,
                                    param(p, op->weight),
                                    param(p, op->running_mean),
                                    param(p, op->running_var), op->u.bn.eps,
                                    m, x->c);
        }
        break;
    }
    case OP_RELU:
        if (dx) {
            relu_backward(dx, y->grad, y->data, y->numel);
        }
        break;
    case OP_RELU6:
        if (dx) {
            relu6_backward(dx, y->grad, y->data, y->numel);
        }
        break;
    case OP_MAXPOOL:
        if (dx) {
            maxpool2d_backward(dx, y->grad, op->argmax, &op->u.pool);
        }
        break;
    case OP_AVGPOOL:
        if (dx) {
            adaptive_avgpool2d_backward(dx, y->grad, x->n, x->h, x->w, x->c,
                                        op->u.avg.oh, op->u.avg.ow);
        }
        break;
    case OP_ADD: {
        float *db = input_grad(g, i, 1);
        add_backward(dx, db, y->grad, y->numel);
        break;
    }
    case OP_FLATTEN:
        if (dx) {
            flatten_backward(dx, y->grad, x->n, x->h, x->w, x->c);
        }
        break;
    case OP_LINEAR:
        linear_backward(dx, param_grad(p, op, op->weight),
                        param_grad(p, op, op->bias), y->grad,
                        x->data, param(p, op->weight),
                        x->n, op->u.linear.in_features,
                        op->u.linear.out_features);
        break;
    case OP_DROPOUT:
        if (dx) {
            if (op->mask && op->u.dropout_p > 0.0f) {
                dropout_backward(dx, y->grad, op->mask, y->numel);
            } else {
                add_backward(dx, NULL, y->grad, y->numel);
            }
        }
        break;
    case OP_PAD:
        if (dx) {
            pad2d_backward(dx, y->grad, &op->u.pad);
        }
        break;
    }
}

void graph_backward(Graph *g, ParamTable *params)
{
    for (int i = g->n_ops - 1; i >= 0; i--) {
        if (g->ops[i].runs_backward) {
            backward_op(g, params, i);
        }
    }
}
