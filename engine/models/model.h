/* A model: its parameter table (PyTorch names, groups), the architecture
 * that emits its graph, and the graph planned for one batch and input size.
 * Training a step is: model_forward, model_loss, model_backward, then an
 * optimizer step over m->params. Inputs are NCHW float32 like PyTorch's. */
#ifndef THAW_MODEL_H
#define THAW_MODEL_H

#include <stdint.h>

#include "engine/core/error.h"
#include "engine/core/params.h"
#include "engine/graph/builder.h"
#include "engine/graph/graph.h"
#include "engine/io/safetensors.h"

typedef struct Model Model;

typedef struct {
    const char *name;          /* "resnet50" */
    const char *head;          /* name prefix of the classifier, "fc" */
    int min_input;             /* smallest height/width accepted */
    int depth;                 /* architecture-specific */
    /* Appends the model's ops for batch n at h x w. */
    int (*emit)(GraphBuilder *b, const Model *m, int n, int h, int w);
} ArchInfo;

struct Model {
    const ArchInfo *arch;
    int num_classes;
    ParamTable params;
    Graph graph;
    GraphMode mode;
    int batch, height, width;
    float *probs;              /* softmax of the last loss, [batch, classes] */
    float *input_nchw_grad;    /* input gradient in PyTorch layout */
};

const ArchInfo *model_find_arch(const char *name);
/* "resnet18, resnet34, resnet50" */
const char *model_arch_list(void);

/* Registers parameters and initialises them like torchvision (seeded). */
int model_create(Model *m, const char *arch, int num_classes, uint64_t seed,
                 ThawError *err);
void model_free(Model *m);

/* Builds and plans the graph for batch n at h x w. Call again after any
 * freeze change (it keeps weights and optimizer state untouched). */
int model_plan(Model *m, int n, int h, int w, const GraphMode *mode,
               ThawError *err);

void model_forward(Model *m, const float *input_nchw);
/* The input step of model_forward alone (then graph_forward_op per op). */
void model_set_input(Model *m, const float *input_nchw);
const float *model_logits(const Model *m);
/* Mean softmax cross-entropy of the last forward (label smoothing eps). */
float model_loss(Model *m, const int32_t *labels, float smoothing);
/* Backward from the last loss; accumulates into m->params.grads. Labels and
 * smoothing must be those given to model_loss. */
void model_backward(Model *m, const int32_t *labels, float smoothing);
/* Gradient of the loss w.r.t. the input, NCHW (mode.want_input_grad). */
const float *model_input_grad(Model *m);

/* Loads every parameter and buffer from a safetensors state_dict, strictly:
 * missing, extra or misshapen keys are errors naming file, key and shapes. */
int model_load_safetensors(Model *m, const char *path, ThawError *err);
/* Writes the state_dict (PyTorch names, num_batches_tracked as I64). */
int model_save_safetensors(const Model *m, const char *path, const StMeta *meta,
                           int n_meta, ThawError *err);
/* Classes of a checkpoint, from <head>.weight's first dimension. */
int model_classes_in_file(const SafeTensors *st, const ArchInfo *arch,
                          int *num_classes, ThawError *err);

#endif
