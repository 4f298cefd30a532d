/* torchvision ResNet-18/34 (BasicBlock) and ResNet-50 (Bottleneck, stride on
 * the 3x3 conv as in torchvision >= 0.4), with torchvision's state_dict
 * names. Groups: stem (conv1, bn1), layer1..layer4, head (fc). */
#include "resnet.h"

#include <stdio.h>

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

static int conv_bn(GraphBuilder *b, int x, const char *block, int index,
                   int channels, int kernel, int stride, int relu)
{
    char conv[64], bn[64];
    snprintf(conv, sizeof conv, "%s.conv%d", block, index);
    snprintf(bn, sizeof bn, "%s.bn%d", block, index);
    x = gb_conv(b, x, conv, channels, kernel, stride, kernel / 2, 1, 1, 0);
    x = gb_batchnorm(b, x, bn, BN_EPS, BN_MOMENTUM);
    return relu ? gb_relu(b, x, 1) : x;
}

static int downsample(GraphBuilder *b, int x, const char *block, int channels,
                      int stride)
{
    char conv[64], bn[64];
    snprintf(conv, sizeof conv, "%s.downsample.0", block);
    snprintf(bn, sizeof bn, "%s.downsample.1", block);
    x = gb_conv(b, x, conv, channels, 1, stride, 0, 1, 1, 0);
    return gb_batchnorm(b, x, bn, BN_EPS, BN_MOMENTUM);
}

static int basic_block(GraphBuilder *b, int x, const char *block, int planes,
                       int stride)
{
    int in_c = b->graph->values[x].c;
    int y = conv_bn(b, x, block, 1, planes, 3, stride, 1);
    y = conv_bn(b, y, block, 2, planes, 3, 1, 0);
    int identity = stride != 1 || in_c != planes
                       ? downsample(b, x, block, planes, stride)
                       : x;
    return gb_relu(b, gb_add(b, y, identity), 1);
}

static int bottleneck(GraphBuilder *b, int x, const char *block, int planes,
                      int stride)
{
    int in_c = b->graph->values[x].c;
    int y = conv_bn(b, x, block, 1, planes, 1, 1, 1);
    y = conv_bn(b, y, block, 2, planes, 3, stride, 1);
    y = conv_bn(b, y, block, 3, planes * 4, 1, 1, 0);
    int identity = stride != 1 || in_c != planes * 4
                       ? downsample(b, x, block, planes * 4, stride)
                       : x;
    return gb_relu(b, gb_add(b, y, identity), 1);
}

int resnet_emit(GraphBuilder *b, const Model *m, int n, int h, int w)
{
    static const int blocks18[4] = {2, 2, 2, 2};
    static const int blocks34[4] = {3, 4, 6, 3};
    const int *blocks = m->arch->depth == 18 ? blocks18 : blocks34;
    int bottle = m->arch->depth >= 50;

    gb_group(b, "stem");
    int x = gb_input(b, n, 3, h, w);
    x = gb_conv(b, x, "conv1", 64, 7, 2, 3, 1, 1, 0);
    x = gb_batchnorm(b, x, "bn1", BN_EPS, BN_MOMENTUM);
    x = gb_relu(b, x, 1);
    x = gb_maxpool(b, x, 3, 2, 1);
    for (int layer = 0; layer < 4; layer++) {
        char group[16];
        snprintf(group, sizeof group, "layer%d", layer + 1);
        gb_group(b, group);
        int planes = 64 << layer;
        for (int i = 0; i < blocks[layer]; i++) {
            char block[32];
            snprintf(block, sizeof block, "%s.%d", group, i);
            int stride = i == 0 && layer > 0 ? 2 : 1;
            x = bottle ? bottleneck(b, x, block, planes, stride)
                       : basic_block(b, x, block, planes, stride);
        }
    }
    gb_group(b, "head");
    x = gb_adaptive_avgpool(b, x, 1, 1);
    x = gb_flatten(b, x);
    x = model_emit_head(b, m, x);
    gb_output(b, x);
    return b->failed ? -1 : 0;
}
