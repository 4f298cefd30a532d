#ifndef THAW_RESNET_H
#define THAW_RESNET_H

#include "model.h"

/* Emits torchvision's ResNet (depth 18, 34 or 50 from m->arch->depth). */
int resnet_emit(GraphBuilder *b, const Model *m, int n, int h, int w);

#endif
