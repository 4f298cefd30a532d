/* One row of the model-choice table, as the workbench shows it. A plain
 * struct so views/ can hold rows without depending on app/ (app/catalog.c
 * fills them from assets/model_catalog.json). */
#ifndef THAW_VIEWS_CATALOG_ROW_H
#define THAW_VIEWS_CATALOG_ROW_H

#include <stdint.h>

typedef struct {
    char task[48];        /* "image classification" */
    char name[48];        /* "ResNet-50" */
    char arch[32];        /* thaw arch id ("resnet50"); "" when thaw cannot train it */
    char input[32];       /* "224", "512 tokens", "30 s audio" */
    char weights[64];     /* file name thaw looks for in the weights cache; "" if none */
    char note[128];       /* one line of detail: variant, where the weights come from */
    int64_t params;       /* published parameter count; 0 when unknown */
    int supported;        /* arch set: thaw can train it */
    int weights_local;    /* the weights file exists in the cache */
    int weights_required; /* no random init: picking needs the weights (text
                             encoders: their vocab comes with them) */
} CatalogRow;

#endif
