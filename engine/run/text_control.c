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
        text_log(j, "step %" PRId64 ": %s %s; nothing trains now: steps run forward and loss "
                 "only, no backward or optimizer update", j->global_step, what,
                 frozen ? "frozen" : "trainable");
    } else {
        text_log(j, "step %" PRId64 ": %s %s; backward now stops at %s", j->global_step, what,
                 frozen ? "frozen" : "trainable", stop);
    }
}

static int text_set_frozen(TrainCtl *ctl, const char *group, int frozen, ThawError *err)
{
    TextJob *j = ctl->job;
    ParamTable *t = &j->model.params;
    int g = ctl_find_group(t, j->cfg->arch, group, err);
    if (g < 0) {
        return THAW_ERR_ARG;
    }
    frozen = frozen != 0;
    if (t->groups[g].frozen == frozen && !params_group_has_overrides(t, g)) {
        return 0;   /* nothing changes: no journal entry */
    }
    int rc = journal_append(&j->journal, j->global_step,
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
                         j->cfg->arch, g >= 0 ? " (it is a group: freeze it as a group)"
                         : " (a layer is a module with weights, named as in Hugging Face: "
                         "encoder.layer.3.attention.self.query, classifier)");
    }
    frozen = frozen != 0;
    if (now == frozen) {
        return 0;   /* nothing changes: no journal entry */
    }
    int rc = journal_append(&j->journal, j->global_step,
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
    ParamTable *t = &j->model.params;
    int g = ctl_find_group(t, j->cfg->arch, group, err);
    if (g < 0) {
        return THAW_ERR_ARG;
    }
    if (!isfinite(lr) || lr <= 0) {
        return thaw_fail(err, THAW_ERR_ARG, "lr for group '%s' must be a finite number > 0, "
                         "got %g", group, lr);
    }
    int rc = journal_append(&j->journal, j->global_step, JOURNAL_LR, group, lr, err);
    if (rc != 0) {
        return rc;
    }
    double was = j->base_lr[g];
    j->base_lr[g] = lr;
    t->groups[g].lr = (float)(lr * schedule_factor(&j->sched, j->global_step));
    text_log(j, "step %" PRId64 ": %s lr %g (was %g)%s", j->global_step, group, lr, was,
             params_count_weights(t, g, 1) == 0
                 ? "; the group is frozen, it applies once thawed" : "");
    return 0;
}

static int text_save(TrainCtl *ctl, char *path_out, size_t cap, ThawError *err)
{
    TextJob *j = ctl->job;
    char path[1100];
    snprintf(path, sizeof path, "%s/step-%06" PRId64 ".safetensors", j->opt->out_dir,
             j->global_step);
    ThawError *job_err = j->err;
    j->err = err;
    int rc = text_save_checkpoint(j, path);
    j->err = job_err;
    if (rc == 0) {
        if (path_out && cap) {
            snprintf(path_out, cap, "%s", path);
        }
        text_log(j, "step %" PRId64 ": checkpoint %s", j->global_step, path);
    }
    return rc;
}

static int64_t text_step(const TrainCtl *ctl)
{
    const TextJob *j = ctl->job;
    return j->global_step;
}

static int text_tensor(TrainCtl *ctl, const char *name, const float **data, size_t *numel,
                       ThawError *err)
{
    const TextJob *j = ctl->job;
    return ctl_param_tensor(&j->model.params, &j->optim, name, data, numel, err);
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
    memset(snap, 0, sizeof *snap);
    int index[MAX_GROUPS];
    for (int k = 0; k < t->n_groups; k++) {
        index[k] = params_count_weights(t, k, 0) > 0 ? snap->n_groups++ : -1;
    }
    /* a layer per module with weights: consecutive entries share a module */
    char last[PARAM_NAME_MAX] = "", name[PARAM_NAME_MAX];
    for (int i = 0; i < t->count; i++) {
        params_module_name(t, i, name, sizeof name);
        if (t->items[i].kind == PARAM_WEIGHT && strcmp(name, last) != 0) {
            snap->n_layers++;
            snprintf(last, sizeof last, "%s", name);
        }
    }
    snap->groups = calloc((size_t)snap->n_groups + 1, sizeof *snap->groups);
    snap->layers = calloc((size_t)snap->n_layers + 1, sizeof *snap->layers);
    if (!snap->groups || !snap->layers) {
        train_snapshot_free(snap);
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory for a snapshot");
    }
    snap->epochs = j->cfg->epochs;
    snap->epoch = j->epoch < j->cfg->epochs ? j->epoch + 1 : j->cfg->epochs;
    snap->step = j->global_step;
    snap->total_steps = j->total_steps;
    snap->at_start = ctl->at_start;
    snap->trainable_params = (int64_t)trainable_weights(t);
    double f = schedule_factor(&j->sched, j->global_step);
    for (int k = 0; k < t->n_groups; k++) {
        if (index[k] < 0) {
            continue;
        }
        TrainSnapGroup *sg = &snap->groups[index[k]];
        snprintf(sg->name, sizeof sg->name, "%s", t->groups[k].name);
        sg->params = (int64_t)params_count_weights(t, k, 0);
        sg->trainable_params = (int64_t)params_count_weights(t, k, 1);
        sg->frozen = sg->trainable_params == 0;
        sg->partial = sg->trainable_params > 0 && sg->trainable_params < sg->params;
        sg->base_lr = j->base_lr[k];
        sg->lr = (double)(float)(j->base_lr[k] * f);
        sg->weight_decay = t->groups[k].weight_decay;
    }
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
    .step = text_step,
    .tensor = text_tensor,
};

/* ---- resume ---- */

int text_journal_reapply(TextJob *j)
{
    ParamTable *t = &j->model.params;
    const Journal *jr = &j->journal;
    for (int i = 0; i < jr->count; i++) {
        const JournalEntry *e = &jr->entries[i];
        if (journal_is_layer_kind(e->kind)) {
            if (params_module_frozen(t, e->name) < 0) {
                return thaw_fail(j->err, THAW_ERR_MISMATCH,
                                 "metadata 'journal' entry %d names no layer of %s: '%s'", i,
                                 j->cfg->arch, e->name);
            }
            params_set_module_frozen(t, e->name, e->kind == JOURNAL_LAYER_FREEZE);
            continue;
        }
        int g = params_find_group(t, e->name);
        if (g < 0) {
            return thaw_fail(j->err, THAW_ERR_MISMATCH,
                             "metadata 'journal' entry %d names no group of %s: '%s'", i,
                             j->cfg->arch, e->name);
        }
        if (e->kind == JOURNAL_LR) {
            if (!isfinite(e->value) || e->value <= 0) {
                return thaw_fail(j->err, THAW_ERR_FORMAT,
                                 "metadata 'journal' entry %d: lr %g is not > 0", i, e->value);
            }
            j->base_lr[g] = e->value;
        } else {
            params_set_group_frozen(t, g, e->kind == JOURNAL_FREEZE);
        }
    }
    if (jr->count > 0) {
        text_log(j, "re-applied %d live change%s from the checkpoint's journal (steps %" PRId64
                 "..%" PRId64 ")", jr->count, jr->count == 1 ? "" : "s", jr->entries[0].step,
                 jr->entries[jr->count - 1].step);
    }
    return 0;
}
