/* Building a graph from model code: each call appends one op, registers its
 * parameters under PyTorch names in the current group (or, once the table is
 * allocated, finds them and checks their shapes), and returns the id of the
 * output value. After the first error every call returns -1 and the error
 * stays in b->err, so model code can build without checking each line. */
#ifndef THAW_GRAPH_BUILDER_H
#define THAW_GRAPH_BUILDER_H

#include "graph.h"

typedef struct {
    Graph *graph;
    ParamTable *params;
    int group;
    int failed;
    ThawError *err;
} GraphBuilder;

void gb_init(GraphBuilder *b, Graph *g, ParamTable *params, ThawError *err);
/* Parameters registered from now on belong to this group. */
void gb_group(GraphBuilder *b, const char *group);

/* The graph input, [n, c, h, w] in PyTorch terms (stored NHWC). */
int gb_input(GraphBuilder *b, int n, int c, int h, int w);
int gb_conv(GraphBuilder *b, int x, const char *name, int out_channels,
            int kernel, int stride, int pad, int dilation, int groups,
            int bias);
int gb_batchnorm(GraphBuilder *b, int x, const char *name, float eps,
                 float momentum);
int gb_relu(GraphBuilder *b, int x, int inplace);
int gb_relu6(GraphBuilder *b, int x, int inplace);
int gb_maxpool(GraphBuilder *b, int x, int kernel, int stride, int pad);
int gb_adaptive_avgpool(GraphBuilder *b, int x, int oh, int ow);
/* a + x, written in place over a when the planner allows it. */
int gb_add(GraphBuilder *b, int a, int x);
int gb_flatten(GraphBuilder *b, int x);
int gb_linear(GraphBuilder *b, int x, const char *name, int out_features,
              int bias);
int gb_dropout(GraphBuilder *b, int x, float p);
/* Zero padding with its own amount on each side (TF "same" padding). */
int gb_pad(GraphBuilder *b, int x, int top, int bottom, int left, int right);
void gb_output(GraphBuilder *b, int x);

#endif
