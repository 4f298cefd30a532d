/* Live control at a step boundary (train_control.h): the public calls,
 * which go to the job's table (train_ctl_internal.h), and the image job's
 * side: snapshots, freeze/thaw surgery, lr changes and checkpoints on
 * demand. Every change is logged and journaled (journal.h). The text job's
 * side is text_control.c. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/graph/feature_cache.h"
#include "engine/run/schedule.h"
#include "train_job_internal.h"

static int op_param(const Op *op)
{
    return op->weight >= 0 ? op->weight : op->bias;
}

/* Where backward stops: the module of the lowest op that runs backward. */
static void backward_stop(const Job *j, char *out, size_t cap)
{
    const Graph *g = &j->model.graph;
    for (int i = 0; i < g->n_ops; i++) {
        if (!g->ops[i].runs_backward) {
            continue;
        }
        for (int k = i; k < g->n_ops; k++) {
            if (op_param(&g->ops[k]) >= 0) {
                params_module_name(&j->model.params, op_param(&g->ops[k]), out, cap);
                return;
            }
        }
    }
    snprintf(out, cap, "(nothing)");
}

/* One freeze change: a whole group (layer NULL) or one module. */
typedef struct {
    int group;
    const char *layer;
    int frozen;
} FreezeChange;

/* The planned op of a module (its first op with a parameter), or NULL. */
static const Op *module_op(const Job *j, const char *layer)
{
    const Graph *g = &j->model.graph;
    char name[PARAM_NAME_MAX];
    for (int i = 0; i < g->n_ops; i++) {
        int p = op_param(&g->ops[i]);
        if (p >= 0) {
            params_module_name(&j->model.params, p, name, sizeof name);
            if (strcmp(name, layer) == 0) {
                return &g->ops[i];
            }
        }
    }
    return NULL;
}

static void log_change(Job *j, const FreezeChange *c, int64_t step, uint64_t gen)
{
    const ParamTable *t = &j->model.params;
    char stop[PARAM_NAME_MAX], cache[400], what[PARAM_NAME_MAX + 96];
    backward_stop(j, stop, sizeof stop);
    if (!j->cache.active) {
        snprintf(cache, sizeof cache, "%s", j->cache_note);
    } else if (j->cache_gen != gen) {
        snprintf(cache, sizeof cache, "feature cache dropped, refilled from here (boundary "
                 "before op %d, %dx%dx%d per sample)", j->cache.b.first_op, j->cache.h,
                 j->cache.w, j->cache.c);
    } else {
        snprintf(cache, sizeof cache, "feature cache kept");
    }
    if (c->layer) {
        const Op *op = module_op(j, c->layer);
        const char *bn = op && op->type == OP_BATCHNORM
                             ? (op->bn_batch_stats ? ", BatchNorm uses batch statistics"
                                                   : ", BatchNorm in eval mode")
                             : "";
        snprintf(what, sizeof what, "layer %s (%s) %s%s", c->layer,
                 op ? t->groups[op->group].name : "?", c->frozen ? "frozen" : "trainable", bn);
    } else {
        snprintf(what, sizeof what, "%s %s", t->groups[c->group].name,
                 c->frozen ? "frozen" : "trainable");
    }
    if (job_trainable_weights(j) == 0) {
        job_core_log(&j->core, "step %" PRId64 ": %s; nothing trains now: steps run forward and "
                     "loss only, no backward or optimizer update; %s", step, what, cache);
    } else {
        job_core_log(&j->core,
                     "step %" PRId64 ": %s; backward now stops at %s; %s", step, what, stop,
                     cache);
    }
}

/* Applies c, re-plans and rebinds the cache (origin: step); on failure the
 * freeze state before it is restored and re-planned. */
static int freeze_surgery(Job *j, const FreezeChange *c, int64_t step, int quiet,
                          ThawError *err)
{
    ParamTable *t = &j->model.params;
    int was_group = t->groups[c->group >= 0 ? c->group : 0].frozen;
    int *was = malloc(((size_t)t->count + 1) * sizeof *was);
    if (!was) {
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory for a freeze change");
    }
    for (int i = 0; i < t->count; i++) {
        was[i] = t->items[i].frozen_override;
    }
    uint64_t gen = j->cache_gen;
    if (c->layer) {
        params_set_module_frozen(t, c->layer, c->frozen);
    } else {
        params_set_group_frozen(t, c->group, c->frozen);
    }
    ThawError *job_err = j->core.err;
    j->core.err = err;
    int rc = job_plan(j, 1);
    if (rc != 0) {
        if (!c->layer) {
            t->groups[c->group].frozen = was_group;
        }
        for (int i = 0; i < t->count; i++) {
            t->items[i].frozen_override = was[i];
        }
        ThawError ignored;
        j->core.err = &ignored;
        job_plan(j, 1);
    }
    j->core.err = job_err;
    free(was);
    if (rc != 0) {
        return rc;
    }
    train_cache_bind(j, step, 1);
    if (!quiet) {
        log_change(j, c, step, gen);
    }
    return 0;
}

int job_set_frozen(Job *j, int g, int frozen, int64_t step, int quiet, ThawError *err)
{
    FreezeChange c = {.group = g, .layer = NULL, .frozen = frozen != 0};
    return freeze_surgery(j, &c, step, quiet, err);
}

int job_set_layer_frozen(Job *j, const char *layer, int frozen, int64_t step, int quiet,
                         ThawError *err)
{
    if (params_module_frozen(&j->model.params, layer) < 0) {
        return thaw_fail(err, THAW_ERR_ARG, "no layer '%s' in %s (a layer is a module with "
                         "weights, named as in PyTorch: layer4.0.conv1, fc.0)", layer,
                         j->core.cfg->arch);
    }
    FreezeChange c = {.group = -1, .layer = layer, .frozen = frozen != 0};
    return freeze_surgery(j, &c, step, quiet, err);
}

int ctl_find_group(const ParamTable *t, const char *arch, const char *group, ThawError *err)
{
    int g = group ? params_find_group(t, group) : -1;
    if (g >= 0) {
        return g;
    }
    char list[512] = "";
    size_t used = 0;
    for (int k = 0; k < t->n_groups && used < sizeof list; k++) {
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "",
                                 t->groups[k].name);
    }
    thaw_fail(err, THAW_ERR_ARG, "no group '%s' in %s (groups: %s)", group ? group : "(null)",
              arch, list);
    return -1;
}

static int find_group(TrainCtl *ctl, const char *group, ThawError *err)
{
    const Job *j = ctl->job;
    return ctl_find_group(&j->model.params, j->core.cfg->arch, group, err);
}

static int image_set_frozen(TrainCtl *ctl, const char *group, int frozen, ThawError *err)
{
    Job *j = ctl->job;
    int g = find_group(ctl, group, err);
    if (g < 0) {
        return THAW_ERR_ARG;
    }
    frozen = frozen != 0;
    if (j->model.params.groups[g].frozen == frozen &&
        !params_group_has_overrides(&j->model.params, g)) {
        return 0;   /* nothing changes: no journal entry */
    }
    int rc = job_set_frozen(j, g, frozen, j->core.global_step, 0, err);
    if (rc == 0) {
        rc = journal_append(&j->core.journal, j->core.global_step,
                            frozen ? JOURNAL_FREEZE : JOURNAL_UNFREEZE, group, frozen, err);
    }
    return rc;
}

static int image_set_layer_frozen(TrainCtl *ctl, const char *layer, int frozen, ThawError *err)
{
    Job *j = ctl->job;
    const ParamTable *t = &j->model.params;
    int now = layer ? params_module_frozen(t, layer) : -1;
    if (now < 0) {
        int g = layer ? params_find_group(t, layer) : -1;
        return thaw_fail(err, THAW_ERR_ARG, "no layer '%s' in %s%s", layer ? layer : "(null)",
                         j->core.cfg->arch, g >= 0 ? " (it is a group: freeze it as a group)"
                         : " (a layer is a module with weights, named as in PyTorch: "
                         "layer4.0.conv1, fc.0)");
    }
    frozen = frozen != 0;
    if (now == frozen) {
        return 0;   /* nothing changes: no journal entry */
    }
    int rc = job_set_layer_frozen(j, layer, frozen, j->core.global_step, 0, err);
    if (rc == 0) {
        rc = journal_append(&j->core.journal, j->core.global_step,
                            frozen ? JOURNAL_LAYER_FREEZE : JOURNAL_LAYER_UNFREEZE, layer,
                            frozen, err);
    }
    return rc;
}

static int image_set_lr(TrainCtl *ctl, const char *group, double lr, ThawError *err)
{
    Job *j = ctl->job;
    return job_core_ctl_set_lr(&j->core, &j->model.params, group, lr, err);
}

static int save_image_checkpoint(void *job, const char *path)
{
    return train_save_checkpoint(job, path);
}

static int image_save(TrainCtl *ctl, char *path_out, size_t cap, ThawError *err)
{
    Job *j = ctl->job;
    return job_core_ctl_save(&j->core, j, save_image_checkpoint, path_out, cap, err);
}


int ctl_param_tensor(const ParamTable *t, const Optimizer *o, const char *name,
                     const float **data, size_t *numel, ThawError *err)
{
    const char *param = name;
    const float *state = NULL;
    if (strncmp(name, "opt.exp_avg.", 12) == 0) {
        param = name + 12;
        state = o->exp_avg;
    } else if (strncmp(name, "opt.exp_avg_sq.", 15) == 0) {
        param = name + 15;
        state = o->exp_avg_sq;
    }
    int i = params_find(t, param);
    if (i < 0 || t->items[i].kind == PARAM_COUNTER ||
        (param != name && (t->items[i].kind != PARAM_WEIGHT || !state))) {
        return thaw_fail(err, THAW_ERR_ARG, "no float tensor '%s' in the job", name);
    }
    *data = param != name ? state + t->items[i].offset : params_data(t, i);
    *numel = t->items[i].numel;
    return 0;
}

static int image_tensor(TrainCtl *ctl, const char *name, const float **data, size_t *numel,
                        ThawError *err)
{
    Job *j = ctl->job;
    /* a GPU run's live weights and moments are on the device */
    if (job_gpu_sync_host(j) != 0) {
        return thaw_fail(err, THAW_ERR_CUDA, "%s", j->core.err->msg);
    }
    return ctl_param_tensor(&j->model.params, &j->core.optim, name, data, numel, err);
}

/* ---- snapshot ---- */

static int count_layers(const Graph *g)
{
    int n = 0;
    for (int i = 0; i < g->n_ops; i++) {
        n += op_param(&g->ops[i]) >= 0;
    }
    return n;
}

static int64_t op_params(const ParamTable *t, const Op *op)
{
    int64_t n = 0;
    if (op->weight >= 0) {
        n += (int64_t)t->items[op->weight].numel;
    }
    if (op->bias >= 0) {
        n += (int64_t)t->items[op->bias].numel;
    }
    return n;
}

static int image_snapshot(TrainCtl *ctl, TrainSnapshot *snap, ThawError *err)
{
    const Job *j = ctl->job;
    const ParamTable *t = &j->model.params;
    const Graph *g = &j->model.graph;
    int index[MAX_GROUPS];
    job_core_snapshot_begin(t, snap, index);
    snap->n_layers = count_layers(g);
    int rc = job_core_snapshot_fill(&j->core, t, index, ctl->at_start, snap, err);
    if (rc != 0) {
        return rc;
    }
    const char *gpu = job_gpu_name(j);
    snprintf(snap->device, sizeof snap->device, "%s", gpu ? gpu : "");
    int n = 0;
    for (int i = 0; i < g->n_ops; i++) {
        const Op *op = &g->ops[i];
        if (op->type == OP_BATCHNORM && op->bn_batch_stats && op->group >= 0 &&
            op->group < t->n_groups && index[op->group] >= 0) {
            snap->groups[index[op->group]].bn_batch_stats = 1;
        }
        int p = op_param(op);
        if (p < 0) {
            continue;
        }
        TrainSnapLayer *l = &snap->layers[n++];
        params_module_name(t, p, l->name, sizeof l->name);
        l->group = index[t->items[p].group];
        l->frozen = params_frozen(t, p);
        const Value *out = &g->values[op->out];
        l->out_h = out->h;
        l->out_w = out->w;
        l->out_c = out->c;
        l->params = op_params(t, op);
    }
    train_cache_describe(j, snap->cache, sizeof snap->cache);
    return 0;
}

void train_snapshot_free(TrainSnapshot *snap)
{
    free(snap->groups);
    free(snap->layers);
    snap->groups = NULL;
    snap->layers = NULL;
    snap->n_groups = snap->n_layers = 0;
}

const TrainCtlOps train_image_ctl_ops = {
    .snapshot = image_snapshot,
    .set_frozen = image_set_frozen,
    .set_layer_frozen = image_set_layer_frozen,
    .set_lr = image_set_lr,
    .save = image_save,
    .step = job_core_ctl_step,
    .tensor = image_tensor,
};

/* ---- the public calls: whichever job holds the boundary ---- */

int train_ctl_snapshot(TrainCtl *ctl, TrainSnapshot *snap, ThawError *err)
{
    return ctl->ops->snapshot(ctl, snap, err);
}

int train_ctl_set_frozen(TrainCtl *ctl, const char *group, int frozen, ThawError *err)
{
    return ctl->ops->set_frozen(ctl, group, frozen, err);
}

int train_ctl_set_layer_frozen(TrainCtl *ctl, const char *layer, int frozen, ThawError *err)
{
    return ctl->ops->set_layer_frozen(ctl, layer, frozen, err);
}

int train_ctl_set_lr(TrainCtl *ctl, const char *group, double lr, ThawError *err)
{
    return ctl->ops->set_lr(ctl, group, lr, err);
}

int train_ctl_save(TrainCtl *ctl, char *path_out, size_t cap, ThawError *err)
{
    return ctl->ops->save(ctl, path_out, cap, err);
}

int64_t train_ctl_step(const TrainCtl *ctl)
{
    return ctl->ops->step(ctl);
}

int train_ctl_at_start(const TrainCtl *ctl)
{
    return ctl->at_start;
}

int train_ctl_tensor(TrainCtl *ctl, const char *name, const float **data, size_t *numel,
                     ThawError *err)
{
    return ctl->ops->tensor(ctl, name, data, numel, err);
}
