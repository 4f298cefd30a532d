#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/cross_entropy.h"
#include "engine/ops/elementwise.h"
#include "efficientnet_lite.h"
#include "init.h"
#include "resnet.h"

static const ArchInfo ARCHS[] = {
    {"resnet18", "fc", 32, 18, resnet_emit},
    {"resnet34", "fc", 32, 34, resnet_emit},
    {"resnet50", "fc", 32, 50, resnet_emit},
    {"efficientnet_lite0", "_fc", 32, 0, efficientnet_lite_emit},
    {"efficientnet_lite1", "_fc", 32, 1, efficientnet_lite_emit},
    {"efficientnet_lite2", "_fc", 32, 2, efficientnet_lite_emit},
};

const ArchInfo *model_find_arch(const char *name)
{
    for (size_t i = 0; i < sizeof ARCHS / sizeof ARCHS[0]; i++) {
        if (strcmp(ARCHS[i].name, name) == 0) {
            return &ARCHS[i];
        }
    }
    return NULL;
}

const char *model_arch_list(void)
{
    return "resnet18, resnet34, resnet50, efficientnet_lite0, "
           "efficientnet_lite1, efficientnet_lite2";
}

static int build(Model *m, int n, int h, int w, ThawError *err)
{
    GraphBuilder b;
    graph_reset(&m->graph);
    gb_init(&b, &m->graph, &m->params, err);
    if (m->arch->emit(&b, m, n, h, w) != 0 || b.failed) {
        return err && err->code ? err->code : THAW_ERR_ARG;
    }
    return 0;
}

int model_emit_head(GraphBuilder *b, const Model *m, int x)
{
    const char *head = m->arch->head;
    if (m->head_hidden <= 0) {
        return gb_linear(b, x, head, m->num_classes, 1);
    }
    char name[PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s.0", head);
    x = gb_linear(b, x, name, m->head_hidden, 1);
    x = gb_relu(b, x, 1);
    x = gb_dropout(b, x, 0.5f);
    snprintf(name, sizeof name, "%s.3", head);
    return gb_linear(b, x, name, m->num_classes, 1);
}

int model_create(Model *m, const char *arch, int num_classes, uint64_t seed,
                 ThawError *err)
{
    return model_create_with_head(m, arch, num_classes, 0, seed, err);
}

int model_create_with_head(Model *m, const char *arch, int num_classes,
                           int head_hidden, uint64_t seed, ThawError *err)
{
    memset(m, 0, sizeof *m);
    params_init(&m->params);
    graph_init(&m->graph);
    m->arch = model_find_arch(arch);
    if (!m->arch) {
        return thaw_fail(err, THAW_ERR_ARG, "unknown architecture '%s' (known: %s)",
                         arch, model_arch_list());
    }
    if (num_classes < 1) {
        return thaw_fail(err, THAW_ERR_ARG, "num_classes must be >= 1, got %d",
                         num_classes);
    }
    m->num_classes = num_classes;
    m->head_hidden = head_hidden > 0 ? head_hidden : 0;
    int size = m->arch->min_input;
    int rc = build(m, 1, size, size, err);
    if (rc == 0) {
        rc = params_allocate(&m->params, err);
    }
    if (rc == 0) {
        model_init_weights(&m->params, &m->graph, seed);
    }
    graph_reset(&m->graph);
    return rc;
}

void model_free(Model *m)
{
    graph_free(&m->graph);
    params_free(&m->params);
    free(m->probs);
    free(m->input_nchw_grad);
    memset(m, 0, sizeof *m);
}

int model_plan(Model *m, int n, int h, int w, const GraphMode *mode,
               ThawError *err)
{
    if (n < 1 || h < m->arch->min_input || w < m->arch->min_input) {
        return thaw_fail(err, THAW_ERR_ARG,
                         "%s needs batch >= 1 and input >= %dx%d, got %d x %dx%d",
                         m->arch->name, m->arch->min_input, m->arch->min_input,
                         n, h, w);
    }
    int rc = build(m, n, h, w, err);
    if (rc == 0) {
        rc = graph_plan(&m->graph, &m->params, mode, err);
    }
    if (rc != 0) {
        return rc;
    }
    m->mode = *mode;
    m->batch = n;
    m->height = h;
    m->width = w;
    free(m->probs);
    free(m->input_nchw_grad);
    m->probs = malloc((size_t)n * m->num_classes * sizeof(float));
    m->input_nchw_grad = malloc((size_t)n * 3 * h * w * sizeof(float));
    if (!m->probs || !m->input_nchw_grad) {
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory");
    }
    return 0;
}

void model_set_input(Model *m, const float *input_nchw)
{
    Value *in = &m->graph.values[m->graph.input];
    nchw_to_nhwc(in->data, input_nchw, in->n, in->c, in->h, in->w);
}

void model_forward(Model *m, const float *input_nchw)
{
    model_set_input(m, input_nchw);
    graph_forward(&m->graph, &m->params);
}

const float *model_logits(const Model *m)
{
    return m->graph.values[m->graph.output].data;
}

float model_loss(Model *m, const int32_t *labels, float smoothing)
{
    return cross_entropy_forward(m->probs, model_logits(m), labels, m->batch,
                                 m->num_classes, smoothing);
}

void model_backward(Model *m, const int32_t *labels, float smoothing)
{
    Graph *g = &m->graph;
    if (!g->training || !g->values[g->output].grad) {
        return;
    }
    graph_zero_output_grad(g);
    cross_entropy_backward(g->values[g->output].grad, m->probs, labels,
                           m->batch, m->num_classes, smoothing, 1.0f);
    graph_backward(g, &m->params);
}

const float *model_input_grad(Model *m)
{
    const Value *in = &m->graph.values[m->graph.input];
    if (!in->grad) {
        return NULL;
    }
    nhwc_to_nchw(m->input_nchw_grad, in->grad, in->n, in->h, in->w, in->c);
    return m->input_nchw_grad;
}
