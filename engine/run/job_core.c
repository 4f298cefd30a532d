/* The logic the image and the text training jobs share (job_core.h). */
#include "job_core.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/run/metrics_log.h"
#include "engine/run/schedule.h"

void job_core_init(JobCore *c, const RunConfig *cfg, const TrainOptions *opt, ThawError *err)
{
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    c->opt = opt;
    c->err = err;
    c->best = INFINITY;
}

void job_core_emit(const JobCore *c, TrainEvent *ev)
{
    if (c->opt->on_event) {
        ev->epochs = c->cfg->epochs;
        ev->total_steps = c->total_steps;
        c->opt->on_event(ev, c->opt->user);
    }
}

void job_core_log(const JobCore *c, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    TrainEvent ev = {.kind = TRAIN_EV_LOG, .msg = line};
    job_core_emit(c, &ev);
}

double job_core_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int job_core_argmax(const float *x, int n)
{
    int best = 0;
    for (int k = 1; k < n; k++) {
        best = x[k] > x[best] ? k : best;
    }
    return best;
}

size_t job_core_trainable_weights(const ParamTable *t)
{
    return params_count_weights(t, -1, 1);   /* every weight has a group */
}

void job_core_set_lrs(const JobCore *c, ParamTable *t)
{
    double f = schedule_factor(&c->sched, c->global_step);
    for (int g = 0; g < t->n_groups; g++) {
        t->groups[g].lr = (float)(c->base_lr[g] * f);
    }
}

/* ---- setup from the run file ---- */

void job_core_group_settings(JobCore *c, ParamTable *t, int g, int trainable,
                             double default_lr)
{
    const RunConfig *cfg = c->cfg;
    ParamGroup *pg = &t->groups[g];
    pg->frozen = !trainable;
    c->base_lr[g] = default_lr;
    pg->weight_decay = (float)cfg->weight_decay;
    for (int i = 0; i < cfg->n_groups; i++) {
        const RunGroup *o = &cfg->groups[i];
        if (strcmp(o->name, pg->name) == 0) {
            pg->frozen = o->has_frozen ? o->frozen : pg->frozen;
            c->base_lr[g] = o->has_lr ? o->lr : c->base_lr[g];
            pg->weight_decay = o->has_weight_decay ? (float)o->weight_decay : pg->weight_decay;
        }
    }
    pg->lr = (float)c->base_lr[g];
}

static int unknown_group(const JobCore *c, const ParamTable *t, const char *key,
                         const char *name)
{
    char list[512] = "";
    size_t used = 0;
    for (int g = 0; g < t->n_groups && used < sizeof list; g++) {
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", g ? ", " : "",
                                 t->groups[g].name);
    }
    return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' names no group of %s: '%s' (groups: %s)",
                     c->cfg->path, key, c->cfg->arch, name, list);
}

int job_core_check_group_names(JobCore *c, const ParamTable *t)
{
    const RunConfig *cfg = c->cfg;
    char key[96];
    for (int i = 0; i < cfg->n_trainable; i++) {
        if (params_find_group(t, cfg->trainable[i]) < 0) {
            snprintf(key, sizeof key, "trainable[%d]", i);
            return unknown_group(c, t, key, cfg->trainable[i]);
        }
    }
    for (int i = 0; i < cfg->n_groups; i++) {
        if (params_find_group(t, cfg->groups[i].name) < 0) {
            snprintf(key, sizeof key, "groups.%s", cfg->groups[i].name);
            return unknown_group(c, t, key, cfg->groups[i].name);
        }
    }
    return 0;
}

int job_core_apply_layer_choices(JobCore *c, ParamTable *t, const char *examples)
{
    const RunConfig *cfg = c->cfg;
    for (int i = 0; i < cfg->n_layers; i++) {
        const RunLayer *l = &cfg->layers[i];
        if (params_module_frozen(t, l->name) < 0) {
            return thaw_fail(c->err, THAW_ERR_ARG,
                             "%s: key '%s[%d]' names no layer of %s: '%s' "
                             "(a layer is a module with weights, named as in PyTorch: %s)",
                             cfg->path, l->frozen ? "frozen_layers" : "trainable_layers",
                             l->index, cfg->arch, l->name, examples);
        }
        params_set_module_frozen(t, l->name, l->frozen);
    }
    return 0;
}

int job_core_setup_optimizer(JobCore *c, ParamTable *t)
{
    const RunConfig *cfg = c->cfg;
    int rc = optimizer_init(&c->optim, cfg->optimizer, t, c->err);
    if (rc != 0) {
        return rc;
    }
    if (cfg->optimizer == OPT_SGD) {
        c->optim.momentum = (float)cfg->momentum;
        c->optim.nesterov = cfg->nesterov;
    }
    c->sched = cfg->schedule;
    c->sched.total_steps = c->total_steps;
    c->sched.warmup_steps = (int64_t)llround(cfg->warmup_ratio * (double)c->total_steps);
    c->sched.step_steps = (int64_t)cfg->step_size * c->steps_per_epoch;
    return 0;
}

/* ---- live control ---- */

int job_core_ctl_set_lr(JobCore *c, ParamTable *t, const char *group, double lr,
                        ThawError *err)
{
    int g = ctl_find_group(t, c->cfg->arch, group, err);
    if (g < 0) {
        return THAW_ERR_ARG;
    }
    if (!isfinite(lr) || lr <= 0) {
        return thaw_fail(err, THAW_ERR_ARG, "lr for group '%s' must be a finite number > 0, "
                         "got %g", group, lr);
    }
    int rc = journal_append(&c->journal, c->global_step, JOURNAL_LR, group, lr, err);
    if (rc != 0) {
        return rc;
    }
    double was = c->base_lr[g];
    c->base_lr[g] = lr;
    t->groups[g].lr = (float)(lr * schedule_factor(&c->sched, c->global_step));
    job_core_log(c, "step %" PRId64 ": %s lr %g (was %g)%s", c->global_step, group, lr, was,
                 params_count_weights(t, g, 1) == 0
                     ? "; the group is frozen, it applies once thawed" : "");
    return 0;
}

int job_core_ctl_save(JobCore *c, void *job, int (*save_checkpoint)(void *job, const char *path),
                      char *path_out, size_t cap, ThawError *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/step-%06" PRId64 ".safetensors", c->opt->out_dir,
             c->global_step);
    ThawError *job_err = c->err;
    c->err = err;
    int rc = save_checkpoint(job, path);
    c->err = job_err;
    if (rc == 0) {
        if (path_out && cap) {
            snprintf(path_out, cap, "%s", path);
        }
        job_core_log(c, "step %" PRId64 ": checkpoint %s", c->global_step, path);
    }
    return rc;
}

int64_t job_core_ctl_step(const TrainCtl *ctl)
{
    const JobCore *c = ctl->job;   /* the first member of Job and TextJob */
    return c->global_step;
}

/* ---- the training loop ---- */

int job_core_checkpoint(const JobCore *c, void *job,
                        int (*save_checkpoint)(void *job, const char *path), TrainResult *res,
                        const char *name)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", c->opt->out_dir, name);
    int rc = save_checkpoint(job, path);
    if (rc == 0) {
        snprintf(res->checkpoint, sizeof res->checkpoint, "%s", path);
    }
    return rc;
}

TrainBoundaryAction job_core_boundary(const JobCore *c, const TrainCtlOps *ops, void *job,
                                      int at_start, TrainResult *res)
{
    TrainBoundaryAction act = TRAIN_CONTINUE;
    if (c->opt->on_boundary) {
        TrainCtl ctl = {.ops = ops, .job = job, .at_start = at_start};
        act = c->opt->on_boundary(&ctl, c->opt->user);
    }
    if (act == TRAIN_CONTINUE && c->opt->stop && *c->opt->stop) {
        act = TRAIN_STOP_SAVE;
    }
    if (act != TRAIN_CONTINUE) {
        res->interrupted = 1;
        res->steps_done = c->global_step;
    }
    return act;
}

void job_core_end_epoch(JobCore *c, double monitor)
{
    if (monitor < c->best - c->cfg->min_delta) {
        c->best = monitor;
        c->bad_epochs = 0;
    } else {
        c->bad_epochs++;
    }
    c->epoch++;
    c->epoch_step = 0;
    c->loss_sum = 0;
    c->correct = c->seen = 0;
}

int job_core_early_stop(const JobCore *c, TrainResult *res, int epoch)
{
    if (c->cfg->patience > 0 && c->bad_epochs >= c->cfg->patience) {
        res->stopped_early = 1;
        job_core_log(c, "early stopping after epoch %d: no improvement over %g for %d epochs",
                     epoch, c->best, c->cfg->patience);
        return 1;
    }
    return 0;
}

/* ---- metrics.csv ---- */

static void metrics_failed(JobCore *c, const ThawError *e)
{
    c->metrics_off = 1;
    job_core_log(c, "warning: %s (no more metrics rows; checkpoints go on)", e->msg);
}

void job_core_metrics_epoch(JobCore *c, const TrainEvent *ev)
{
    ThawError e = {0};
    if (!c->metrics_off && !c->metrics_started) {
        c->metrics_started = 1;
        if (metrics_log_start(c->opt->out_dir, ev->epoch - 1, &e) != 0) {
            metrics_failed(c, &e);
        }
    }
    if (!c->metrics_off && metrics_log_epoch(c->opt->out_dir, ev, &e) != 0) {
        metrics_failed(c, &e);
    }
}

/* ---- snapshots ---- */

void job_core_snapshot_begin(const ParamTable *t, TrainSnapshot *snap, int index[MAX_GROUPS])
{
    memset(snap, 0, sizeof *snap);
    /* groups that own weights ("default" collects none) */
    for (int k = 0; k < t->n_groups; k++) {
        index[k] = params_count_weights(t, k, 0) > 0 ? snap->n_groups++ : -1;
    }
}

int job_core_snapshot_fill(const JobCore *c, const ParamTable *t, const int *index,
                           int at_start, TrainSnapshot *snap, ThawError *err)
{
    snap->groups = calloc((size_t)snap->n_groups + 1, sizeof *snap->groups);
    snap->layers = calloc((size_t)snap->n_layers + 1, sizeof *snap->layers);
    if (!snap->groups || !snap->layers) {
        train_snapshot_free(snap);
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory for a snapshot");
    }
    snap->epochs = c->cfg->epochs;
    snap->epoch = c->epoch < c->cfg->epochs ? c->epoch + 1 : c->cfg->epochs;
    snap->step = c->global_step;
    snap->total_steps = c->total_steps;
    snap->at_start = at_start;
    snap->trainable_params = (int64_t)job_core_trainable_weights(t);
    double f = schedule_factor(&c->sched, c->global_step);
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
        sg->base_lr = c->base_lr[k];
        sg->lr = (double)(float)(c->base_lr[k] * f);
        sg->weight_decay = t->groups[k].weight_decay;
    }
    return 0;
}

/* ---- the journal after a resume ---- */

int job_core_journal_reapply(JobCore *c, const ParamTable *t, const JournalApplyOps *ops,
                             void *job)
{
    const Journal *jr = &c->journal;
    int rc = 0;
    for (int i = 0; i < jr->count && rc == 0; i++) {
        const JournalEntry *e = &jr->entries[i];
        if (journal_is_layer_kind(e->kind)) {
            if (params_module_frozen(t, e->name) < 0) {
                return thaw_fail(c->err, THAW_ERR_MISMATCH,
                                 "metadata 'journal' entry %d names no layer of %s: '%s'", i,
                                 c->cfg->arch, e->name);
            }
            rc = ops->set_layer_frozen(job, e->name, e->kind == JOURNAL_LAYER_FREEZE, e->step);
            continue;
        }
        int g = params_find_group(t, e->name);
        if (g < 0) {
            return thaw_fail(c->err, THAW_ERR_MISMATCH,
                             "metadata 'journal' entry %d names no group of %s: '%s'", i,
                             c->cfg->arch, e->name);
        }
        if (e->kind == JOURNAL_LR) {
            if (!isfinite(e->value) || e->value <= 0) {
                return thaw_fail(c->err, THAW_ERR_FORMAT,
                                 "metadata 'journal' entry %d: lr %g is not > 0", i, e->value);
            }
            c->base_lr[g] = e->value;
        } else {
            rc = ops->set_group_frozen(job, g, e->kind == JOURNAL_FREEZE, e->step);
        }
    }
    if (rc == 0 && jr->count > 0) {
        job_core_log(c, "re-applied %d live change%s from the checkpoint's journal (steps %" PRId64
                     "..%" PRId64 ")", jr->count, jr->count == 1 ? "" : "s",
                     jr->entries[0].step, jr->entries[jr->count - 1].step);
    }
    return rc;
}
