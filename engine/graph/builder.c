#include "builder.h"

#include <stdio.h>
#include <string.h>

void gb_init(GraphBuilder *b, Graph *g, ParamTable *params, ThawError *err)
{
    memset(b, 0, sizeof *b);
    b->graph = g;
    b->params = params;
    b->err = err;
    b->group = params_group(params, "default");
}

void gb_group(GraphBuilder *b, const char *group)
{
    b->group = params_group(b->params, group);
}

static int fail(GraphBuilder *b, int code, const char *fmt, const char *a,
                const char *c)
{
    if (!b->failed) {
        thaw_fail(b->err, code, fmt, a, c);
    }
    b->failed = 1;
    return -1;
}

/* Registers name (first build) or finds it and checks the shape (later
 * builds, after allocation). */
static int param(GraphBuilder *b, const char *prefix, const char *suffix,
                 ParamKind kind, int ndim, const int64_t *shape)
{
    char name[PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    int index = params_find(b->params, name);
    if (index < 0) {
        if (b->params->weights) {
            return fail(b, THAW_ERR_ARG, "parameter %s%s appeared after allocation", name, "");
        }
        index = params_add(b->params, name, kind, b->group, ndim, shape);
        if (index < 0) {
            return fail(b, THAW_ERR_ARG, "cannot register parameter %s%s", name, "");
        }
        return index;
    }
    const ParamInfo *p = &b->params->items[index];
    int same = p->ndim == ndim && p->kind == kind;
    for (int i = 0; same && i < ndim; i++) {
        same = p->shape[i] == shape[i];
    }
    if (!same) {
        return fail(b, THAW_ERR_ARG, "parameter %s changed shape%s", name, "");
    }
    return index;
}

static int add_op(GraphBuilder *b, Op *op, int n, int h, int w, int c)
{
    if (b->failed) {
        return -1;
    }
    op->group = b->group;
    int index = b->graph->n_ops;
    op->out = graph_add_value(b->graph, n, h, w, c, index);
    if (op->out < 0 || graph_add_op(b->graph, op) < 0) {
        return fail(b, THAW_ERR_NOMEM, "out of memory building the graph%s%s", "", "");
    }
    return op->out;
}

static Op new_op(OpType type, int x)
{
    Op op;
    memset(&op, 0, sizeof op);
    op.type = type;
    op.in[0] = x;
    op.n_in = 1;
    op.weight = op.bias = op.running_mean = op.running_var = op.counter = -1;
    return op;
}

static const Value *val(GraphBuilder *b, int x)
{
    return &b->graph->values[x];
}

int gb_input(GraphBuilder *b, int n, int c, int h, int w)
{
    if (b->failed) {
        return -1;
    }
    int v = graph_add_value(b->graph, n, h, w, c, -1);
    b->graph->input = v;
    return v;
}

int gb_conv(GraphBuilder *b, int x, const char *name, int out_channels,
            int kernel, int stride, int pad, int dilation, int groups,
            int bias)
{
    if (b->failed || x < 0) {
        return -1;
    }
    const Value *in = val(b, x);
    Op op = new_op(OP_CONV, x);
    if (conv2d_shape_init(&op.u.conv, in->n, in->h, in->w, in->c,
                          out_channels, kernel, kernel, stride, pad, dilation,
                          groups) != 0) {
        return fail(b, THAW_ERR_ARG, "%s: input too small for this convolution%s", name, "");
    }
    int64_t wshape[4] = {out_channels, in->c / groups, kernel, kernel};
    op.weight = param(b, name, "weight", PARAM_WEIGHT, 4, wshape);
    if (bias) {
        int64_t bshape[1] = {out_channels};
        op.bias = param(b, name, "bias", PARAM_WEIGHT, 1, bshape);
    }
    return add_op(b, &op, in->n, op.u.conv.p, op.u.conv.q, out_channels);
}

int gb_batchnorm(GraphBuilder *b, int x, const char *name, float eps,
                 float momentum)
{
    if (b->failed || x < 0) {
        return -1;
    }
    const Value *in = val(b, x);
    int64_t shape[1] = {in->c};
    Op op = new_op(OP_BATCHNORM, x);
    op.weight = param(b, name, "weight", PARAM_WEIGHT, 1, shape);
    op.bias = param(b, name, "bias", PARAM_WEIGHT, 1, shape);
    op.running_mean = param(b, name, "running_mean", PARAM_BUFFER, 1, shape);
    op.running_var = param(b, name, "running_var", PARAM_BUFFER, 1, shape);
    op.counter = param(b, name, "num_batches_tracked", PARAM_COUNTER, 0, shape);
    op.u.bn.eps = eps;
    op.u.bn.momentum = momentum;
    return add_op(b, &op, in->n, in->h, in->w, in->c);
}

static int pointwise(GraphBuilder *b, OpType type, int x, int inplace)
{
    if (b->failed || x < 0) {
        return -1;
    }
    const Value *in = val(b, x);
    Op op = new_op(type, x);
    int y = add_op(b, &op, in->n, in->h, in->w, in->c);
    if (y >= 0 && inplace) {
        b->graph->values[y].inplace_of = x;
    }
    return y;
}

int gb_relu(GraphBuilder *b, int x, int inplace)
{
    return pointwise(b, OP_RELU, x, inplace);
}

int gb_relu6(GraphBuilder *b, int x, int inplace)
{
    return pointwise(b, OP_RELU6, x, inplace);
}

int gb_maxpool(GraphBuilder *b, int x, int kernel, int stride, int pad)
{
    if (b->failed || x < 0) {
        return -1;
    }
    const Value *in = val(b, x);
    Op op = new_op(OP_MAXPOOL, x);
    if (pool2d_shape_init(&op.u.pool, in->n, in->h, in->w, in->c, kernel,
                          stride, pad) != 0) {
        return fail(b, THAW_ERR_ARG, "input too small for max pooling%s%s", "", "");
    }
    return add_op(b, &op, in->n, op.u.pool.p, op.u.pool.q, in->c);
}

int gb_adaptive_avgpool(GraphBuilder *b, int x, int oh, int ow)
{
    if (b->failed || x < 0) {
        return -1;
    }
    const Value *in = val(b, x);
    Op op = new_op(OP_AVGPOOL, x);
    op.u.avg.oh = oh;
    op.u.avg.ow = ow;
    return add_op(b, &op, in->n, oh, ow, in->c);
}

int gb_add(GraphBuilder *b, int a, int x)
{
    if (b->failed || a < 0 || x < 0) {
        return -1;
    }
    const Value *va = val(b, a), *vx = val(b, x);
    if (va->numel != vx->numel) {
        return fail(b, THAW_ERR_ARG, "residual add of different shapes%s%s", "", "");
    }
    Op op = new_op(OP_ADD, a);
    op.in[1] = x;
    op.n_in = 2;
    int y = add_op(b, &op, va->n, va->h, va->w, va->c);
    if (y >= 0) {
        b->graph->values[y].inplace_of = a;
    }
    return y;
}

int gb_flatten(GraphBuilder *b, int x)
{
    if (b->failed || x < 0) {
        return -1;
    }
    const Value *in = val(b, x);
    Op op = new_op(OP_FLATTEN, x);
    return add_op(b, &op, in->n, 1, 1, in->h * in->w * in->c);
}

int gb_linear(GraphBuilder *b, int x, const char *name, int out_features,
              int bias)
{
    if (b->failed || x < 0) {
        return -1;
    }
    const Value *in = val(b, x);
    int in_features = in->h * in->w * in->c;
    Op op = new_op(OP_LINEAR, x);
    int64_t wshape[2] = {out_features, in_features};
    op.weight = param(b, name, "weight", PARAM_WEIGHT, 2, wshape);
    if (bias) {
        int64_t bshape[1] = {out_features};
        op.bias = param(b, name, "bias", PARAM_WEIGHT, 1, bshape);
    }
    op.u.linear.in_features = in_features;
    op.u.linear.out_features = out_features;
    return add_op(b, &op, in->n, 1, 1, out_features);
}

int gb_dropout(GraphBuilder *b, int x, float p)
{
    if (b->failed || x < 0) {
        return -1;
    }
    const Value *in = val(b, x);
    Op op = new_op(OP_DROPOUT, x);
    op.u.dropout_p = p;
    return add_op(b, &op, in->n, in->h, in->w, in->c);
}

int gb_pad(GraphBuilder *b, int x, int top, int bottom, int left, int right)
{
    if (b->failed || x < 0) {
        return -1;
    }
    if (top < 0 || bottom < 0 || left < 0 || right < 0) {
        return fail(b, THAW_ERR_ARG, "negative padding%s%s", "", "");
    }
    const Value *in = val(b, x);
    Op op = new_op(OP_PAD, x);
    op.u.pad = (Pad2dShape){in->n, in->h, in->w, in->c, top, bottom, left, right};
    return add_op(b, &op, in->n, in->h + top + bottom, in->w + left + right,
                  in->c);
}

void gb_output(GraphBuilder *b, int x)
{
    if (!b->failed && x >= 0) {
        b->graph->output = x;
    }
}
