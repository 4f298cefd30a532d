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
    /* 0: the classifier is one Linear (<head>.weight/.bias); > 0: a new
     * transfer head nn.Sequential(Linear(features, head_hidden), ReLU,
     * Dropout(0.5), Linear(head_hidden, classes)) named <head>.0 / <head>.3. */
    int head_hidden;
    ParamTable params;
    Graph graph;
    GraphMode mode;
    int batch, height, width;
    float *probs;              /* softmax of the last loss, [batch, classes] */
    float *input_nchw_grad;    /* input gradient in PyTorch layout */
};

const ArchInfo *model_find_arch(const char *name);
/* Comma-separated names of every architecture model_create accepts. */
const char *model_arch_list(void);

/* Registers parameters and initialises them like torchvision (seeded). */
int model_create(Model *m, const char *arch, int num_classes, uint64_t seed,
                 ThawError *err);
/* Same with a transfer head (head_hidden as in Model; 0 = one Linear). */
int model_create_with_head(Model *m, const char *arch, int num_classes,
                           int head_hidden, uint64_t seed, ThawError *err);
void model_free(Model *m);

/* Emits the classifier on pooled features x ([n, features]) in the current
 * group, as m->head_hidden says; returns the logits value (arch emitters). */
int model_emit_head(GraphBuilder *b, const Model *m, int x);

/* Builds and plans the graph for batch n at h x w. Call again after any
 * freeze change (it keeps weights and optimizer state untouched). */
int model_plan(Model *m, int n, int h, int w, const GraphMode *mode,
               ThawError *err);

void model_forward(Model *m, const float *input_nchw);
/* The input step of model_forward alone (then graph_forward_op per op). */
void model_set_input(Model *m, const float *input_nchw);
/* Valid after model_forward until model_backward: backward may reuse the
 * logits' memory for gradients (the planner ends their life at the loss). */
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
/* Loads a pretrained backbone: every parameter and buffer outside the
 * "head" group strictly (missing or misshapen keys are errors); keys of the
 * file under the old classifier prefix (<head>.) are ignored and counted in
 * *n_ignored (may be NULL), the first ones listed in ignored (may be NULL,
 * comma separated, truncated to cap). The head keeps its initialisation. */
int model_load_backbone(Model *m, const char *path, int *n_ignored,
                        char *ignored, size_t cap, ThawError *err);
/* Writes the state_dict (PyTorch names, num_batches_tracked as I64). */
int model_save_safetensors(const Model *m, const char *path, const StMeta *meta,
                           int n_meta, ThawError *err);
/* Classes of a checkpoint, from <head>.weight's first dimension. */
int model_classes_in_file(const SafeTensors *st, const ArchInfo *arch,
                          int *num_classes, ThawError *err);

#endif
