/* Live control of the text job at a step boundary (train_control.h, the
 * text side of train_ctl_internal.h): snapshots of the encoder's groups and
 * modules, group and module freezes, lr changes, checkpoints on demand,
 * and the re-apply of a checkpoint's journal on --resume.
 *
 * A freeze needs no re-plan here: bert_backward reads every parameter's
 * frozen state at each step (a frozen module gets no gradient, gradients
 * flow through it, backward stops below the lowest trainable block), and
 * the optimizer skips frozen weights, keeping their state. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/run/schedule.h"
#include "text_job_internal.h"

static size_t trainable_weights(const ParamTable *t)
{
    return params_count_weights(t, -1, 1);
}

/* Where backward stops: the module of the lowest trainable weight that is
 * on the loss's path (the mean head never reads the pooler). */
static void backward_stop(const TextJob *j, char *out, size_t cap)
{
    const ParamTable *t = &j->model.params;
    int pooler = params_find_group(t, "pooler");
    for (int i = 0; i < t->count; i++) {
        if (params_trainable(t, i) &&
            !(j->model.head == BERT_HEAD_MEAN && t->items[i].group == pooler)) {
            params_module_name(t, i, out, cap);
            return;
        }
    }
    snprintf(out, cap, "(nothing)");
}

static void log_freeze(TextJob *j, const char *what, int frozen)
{
    char stop[PARAM_NAME_MAX];
    backward_stop(j, stop, sizeof stop);
    if (trainable_weights(&j->model.params) == 0) {
        job_core_log(&j->core,
                     "step %" PRId64 ": %s %s; nothing trains now: steps run forward and loss "
                     "only, no backward or optimizer update", j->core.global_step, what,
                     frozen ? "frozen" : "trainable");
    } else {
        job_core_log(&j->core,
                     "step %" PRId64 ": %s %s; backward now stops at %s", j->core.global_step, what,
                     frozen ? "frozen" : "trainable", stop);
    }
}

static int text_set_frozen(TrainCtl *ctl, const char *group, int frozen, ThawError *err)
{
    TextJob *j = ctl->job;
    ParamTable *t = &j->model.params;
    int g = ctl_find_group(t, j->core.cfg->arch, group, err);
    if (g < 0) {
        return THAW_ERR_ARG;
    }
    frozen = frozen != 0;
    if (t->groups[g].frozen == frozen && !params_group_has_overrides(t, g)) {
        return 0;   /* nothing changes: no journal entry */
    }
    int rc = journal_append(&j->core.journal, j->core.global_step,
                            frozen ? JOURNAL_FREEZE : JOURNAL_UNFREEZE, group, frozen, err);
    if (rc != 0) {
        return rc;
    }
    params_set_group_frozen(t, g, frozen);
    log_freeze(j, group, frozen);
    return 0;
}

/* The group name of a module ("?" when none). */
static const char *module_group(const ParamTable *t, const char *module)
{
    char name[PARAM_NAME_MAX];
    for (int i = 0; i < t->count; i++) {
        params_module_name(t, i, name, sizeof name);
        if (strcmp(name, module) == 0) {
            return t->groups[t->items[i].group].name;
        }
    }
    return "?";
}

static int text_set_layer_frozen(TrainCtl *ctl, const char *layer, int frozen, ThawError *err)
{
    TextJob *j = ctl->job;
    ParamTable *t = &j->model.params;
    int now = layer ? params_module_frozen(t, layer) : -1;
    if (now < 0) {
        int g = layer ? params_find_group(t, layer) : -1;
        return thaw_fail(err, THAW_ERR_ARG, "no layer '%s' in %s%s", layer ? layer : "(null)",
                         j->core.cfg->arch, g >= 0 ? " (it is a group: freeze it as a group)"
                         : " (a layer is a module with weights, named as in Hugging Face: "
                         "encoder.layer.3.attention.self.query, classifier)");
    }
    frozen = frozen != 0;
    if (now == frozen) {
        return 0;   /* nothing changes: no journal entry */
    }
    int rc = journal_append(&j->core.journal, j->core.global_step,
                            frozen ? JOURNAL_LAYER_FREEZE : JOURNAL_LAYER_UNFREEZE, layer,
                            frozen, err);
    if (rc != 0) {
        return rc;
    }
    params_set_module_frozen(t, layer, frozen);
    char what[PARAM_NAME_MAX + 48];
    snprintf(what, sizeof what, "layer %s (%s)", layer, module_group(t, layer));
    log_freeze(j, what, frozen);
    return 0;
}

static int text_set_lr(TrainCtl *ctl, const char *group, double lr, ThawError *err)
{
    TextJob *j = ctl->job;
    return job_core_ctl_set_lr(&j->core, &j->model.params, group, lr, err);
}

static int save_text_checkpoint(void *job, const char *path)
{
    return text_save_checkpoint(job, path);
}

static int text_save(TrainCtl *ctl, char *path_out, size_t cap, ThawError *err)
{
    TextJob *j = ctl->job;
    return job_core_ctl_save(&j->core, j, save_text_checkpoint, path_out, cap, err);
}


static int text_tensor(TrainCtl *ctl, const char *name, const float **data, size_t *numel,
                       ThawError *err)
{
    TextJob *j = ctl->job;
    /* a GPU run's live weights and moments are on the device */
    if (text_gpu_sync_host(j) != 0) {
        return thaw_fail(err, THAW_ERR_CUDA, "%s", j->core.err->msg);
    }
    return ctl_param_tensor(&j->model.params, &j->core.optim, name, data, numel, err);
}

/* ---- snapshot ---- */

/* A module's output per sample: [T, C] for the embeddings and encoder
 * modules (per token), [C] for the pooler and the classifier. */
static void module_shape(const ParamInfo *p, TrainSnapLayer *l)
{
    int table = strstr(p->name, "_embeddings.") != NULL && p->ndim == 2;
    int per_token = strncmp(p->name, "embeddings.", 11) == 0 ||
                    strncmp(p->name, "encoder.", 8) == 0;
    l->out_h = per_token ? TRAIN_SNAP_PER_TOKEN : 1;
    l->out_w = 1;
    l->out_c = (int)(table ? p->shape[1] : p->shape[0]);
}

static int text_snapshot(TrainCtl *ctl, TrainSnapshot *snap, ThawError *err)
{
    const TextJob *j = ctl->job;
    const ParamTable *t = &j->model.params;
    int index[MAX_GROUPS];
    job_core_snapshot_begin(t, snap, index);
    /* a layer per module with weights: consecutive entries share a module */
    char last[PARAM_NAME_MAX] = "", name[PARAM_NAME_MAX];
    for (int i = 0; i < t->count; i++) {
        params_module_name(t, i, name, sizeof name);
        if (t->items[i].kind == PARAM_WEIGHT && strcmp(name, last) != 0) {
            snap->n_layers++;
            snprintf(last, sizeof last, "%s", name);
        }
    }
    int rc = job_core_snapshot_fill(&j->core, t, index, ctl->at_start, snap, err);
    if (rc != 0) {
        return rc;
    }
    const char *gpu = text_gpu_name(j);
    snprintf(snap->device, sizeof snap->device, "%s", gpu ? gpu : "");
    int n = -1;
    last[0] = '\0';
    for (int i = 0; i < t->count; i++) {
        const ParamInfo *p = &t->items[i];
        if (p->kind != PARAM_WEIGHT) {
            continue;
        }
        params_module_name(t, i, name, sizeof name);
        if (n < 0 || strcmp(name, last) != 0) {
            TrainSnapLayer *l = &snap->layers[++n];
            snprintf(l->name, sizeof l->name, "%s", name);
            snprintf(last, sizeof last, "%s", name);
            l->group = index[p->group];
            l->frozen = params_frozen(t, i);
            module_shape(p, l);
        }
        snap->layers[n].params += (int64_t)p->numel;
    }
    snprintf(snap->cache, sizeof snap->cache, "no feature cache (text encoders)");
    return 0;
}

const TrainCtlOps train_text_ctl_ops = {
    .snapshot = text_snapshot,
    .set_frozen = text_set_frozen,
    .set_layer_frozen = text_set_layer_frozen,
    .set_lr = text_set_lr,
    .save = text_save,
    .step = job_core_ctl_step,
    .tensor = text_tensor,
};

/* ---- resume ---- */

/* A resumed text job applies freezes directly: no plan or cache to redo. */
static int reapply_layer_frozen(void *job, const char *layer, int frozen, int64_t step)
{
    TextJob *j = job;
    (void)step;
    params_set_module_frozen(&j->model.params, layer, frozen);
    return 0;
}

static int reapply_group_frozen(void *job, int g, int frozen, int64_t step)
{
    TextJob *j = job;
    (void)step;
    params_set_group_frozen(&j->model.params, g, frozen);
    return 0;
}

int text_journal_reapply(TextJob *j)
{
    static const JournalApplyOps ops = {.set_layer_frozen = reapply_layer_frozen,
                                        .set_group_frozen = reapply_group_frozen};
    return job_core_journal_reapply(&j->core, &j->model.params, &ops, j);
}
