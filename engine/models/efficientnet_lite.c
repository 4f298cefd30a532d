/* EfficientNet-Lite (Tan & Le; the TF efficientnet-lite variants): MBConv
 * blocks without squeeze-excite, ReLU6, stem (32 channels) and head (1280)
 * not scaled with width, first and last stage repeats not scaled with depth,
 * BatchNorm eps 1e-3 and momentum 0.01 (TF 0.99), TensorFlow "SAME" padding
 * (the ImageNet checkpoints come from TF: a stride-2 convolution on an even
 * size pads one more row and column after than before, done with an explicit
 * pad op). Names follow EfficientNet-PyTorch, which the published PyTorch
 * checkpoints use. Groups: stem (_conv_stem, _bn0), stage1..stage7 (the
 * blocks of each stage), top (_conv_head, _bn1), head (_fc). Stochastic
 * depth (drop connect) of the original training recipe is not applied. */
#include "efficientnet_lite.h"

#include <math.h>
#include <stdio.h>

#define BN_EPS 1e-3f
#define BN_MOMENTUM 0.01f
#define STEM_CHANNELS 32
#define HEAD_CHANNELS 1280

typedef struct {
    int repeats, kernel, stride, expand, channels;
} Stage;

/* EfficientNet-B0's stages, which Lite0 keeps. */
static const Stage BASE[7] = {
    {1, 3, 1, 1, 16}, {2, 3, 2, 6, 24}, {2, 5, 2, 6, 40}, {3, 3, 2, 6, 80},
    {3, 5, 1, 6, 112}, {4, 5, 2, 6, 192}, {1, 3, 1, 6, 320},
};

typedef struct {
    float width, depth, dropout;
} Variant;

static const Variant VARIANTS[3] = {
    {1.0f, 1.0f, 0.2f}, /* lite0, 224 */
    {1.0f, 1.1f, 0.2f}, /* lite1, 240 */
    {1.1f, 1.2f, 0.3f}, /* lite2, 260 */
};

/* Channels scaled by width, rounded to a multiple of 8, never more than 10%
 * below the exact product (the EfficientNet rule). */
static int round_filters(int channels, float width)
{
    if (width == 1.0f) {
        return channels;
    }
    double c = (double)channels * width;
    int rounded = (int)(c + 4) / 8 * 8;
    if (rounded < 8) {
        rounded = 8;
    }
    return rounded < 0.9 * c ? rounded + 8 : rounded;
}

/* Convolution with TF "SAME" padding: output ceil(size / stride), total
 * padding split with the extra row/column after. Symmetric cases use the
 * convolution's own padding; others get an explicit pad op first. */
static int conv_same(GraphBuilder *b, int x, const char *name, int channels,
                     int kernel, int stride, int groups)
{
    if (b->failed || x < 0) {
        return -1;
    }
    const Value *in = &b->graph->values[x];
    int pad[2][2];
    int sizes[2] = {in->h, in->w};
    for (int d = 0; d < 2; d++) {
        int out = (sizes[d] + stride - 1) / stride;
        int total = (out - 1) * stride + kernel - sizes[d];
        if (total < 0) {
            total = 0;
        }
        pad[d][0] = total / 2;
        pad[d][1] = total - total / 2;
    }
    int p = pad[0][0];
    if (pad[0][1] == p && pad[1][0] == p && pad[1][1] == p) {
        return gb_conv(b, x, name, channels, kernel, stride, p, 1, groups, 0);
    }
    x = gb_pad(b, x, pad[0][0], pad[0][1], pad[1][0], pad[1][1]);
    return gb_conv(b, x, name, channels, kernel, stride, 0, 1, groups, 0);
}

static int conv_bn(GraphBuilder *b, int x, const char *conv, const char *bn,
                   int channels, int kernel, int stride, int groups, int relu6)
{
    x = conv_same(b, x, conv, channels, kernel, stride, groups);
    x = gb_batchnorm(b, x, bn, BN_EPS, BN_MOMENTUM);
    return relu6 ? gb_relu6(b, x, 1) : x;
}

static int mbconv(GraphBuilder *b, int x, int index, const Stage *s, int stride,
                  int out_channels)
{
    if (b->failed || x < 0) {
        return -1;
    }
    char conv[64], bn[64];
    int in_c = b->graph->values[x].c;
    int mid = in_c * s->expand;
    int y = x;
    if (s->expand != 1) {
        snprintf(conv, sizeof conv, "_blocks.%d._expand_conv", index);
        snprintf(bn, sizeof bn, "_blocks.%d._bn0", index);
        y = conv_bn(b, y, conv, bn, mid, 1, 1, 1, 1);
    }
    snprintf(conv, sizeof conv, "_blocks.%d._depthwise_conv", index);
    snprintf(bn, sizeof bn, "_blocks.%d._bn1", index);
    y = conv_bn(b, y, conv, bn, mid, s->kernel, stride, mid, 1);
    snprintf(conv, sizeof conv, "_blocks.%d._project_conv", index);
    snprintf(bn, sizeof bn, "_blocks.%d._bn2", index);
    y = conv_bn(b, y, conv, bn, out_channels, 1, 1, 1, 0);
    if (stride == 1 && in_c == out_channels) {
        y = gb_add(b, y, x);
    }
    return y;
}

int efficientnet_lite_emit(GraphBuilder *b, const Model *m, int n, int h, int w)
{
    int v = m->arch->depth;
    if (v < 0 || v > 2) {
        v = 0;
    }
    const Variant *var = &VARIANTS[v];

    gb_group(b, "stem");
    int x = gb_input(b, n, 3, h, w);
    x = conv_bn(b, x, "_conv_stem", "_bn0", STEM_CHANNELS, 3, 2, 1, 1);
    int block = 0;
    for (int i = 0; i < 7; i++) {
        char group[16];
        snprintf(group, sizeof group, "stage%d", i + 1);
        gb_group(b, group);
        const Stage *s = &BASE[i];
        int repeats = s->repeats;
        if (i > 0 && i < 6) {
            repeats = (int)ceil((double)var->depth * repeats - 1e-9);
        }
        int channels = round_filters(s->channels, var->width);
        for (int j = 0; j < repeats; j++) {
            x = mbconv(b, x, block++, s, j == 0 ? s->stride : 1, channels);
        }
    }
    gb_group(b, "top");
    x = conv_bn(b, x, "_conv_head", "_bn1", HEAD_CHANNELS, 1, 1, 1, 1);
    gb_group(b, "head");
    x = gb_adaptive_avgpool(b, x, 1, 1);
    x = gb_flatten(b, x);
    x = gb_dropout(b, x, var->dropout);
    x = model_emit_head(b, m, x);
    gb_output(b, x);
    return b->failed ? -1 : 0;
}
