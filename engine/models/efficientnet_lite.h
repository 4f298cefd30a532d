#ifndef THAW_EFFICIENTNET_LITE_H
#define THAW_EFFICIENTNET_LITE_H

#include "model.h"

/* Emits EfficientNet-Lite0/1/2 (variant from m->arch->depth: 0, 1, 2) with
 * the EfficientNet-PyTorch state_dict names (_conv_stem, _blocks.N...). */
int efficientnet_lite_emit(GraphBuilder *b, const Model *m, int n, int h, int w);

#endif
