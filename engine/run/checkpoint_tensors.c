/* What the image and the text job checkpoints share (checkpoint_meta.h):
 * the tensors with their optimizer state, the progress metadata and the
 * journal, so both write and read the same bytes the same way. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint_meta.h"

static const char *const opt_prefix[] = {"opt.exp_avg.", "opt.exp_avg_sq.", "opt.step."};

int checkpoint_tensors_collect(CheckpointTensors *ct, const ParamTable *t, const Optimizer *o,
                               const char *path, ThawError *err)
{
    int cap = t->count * 4 + 1;
    ct->count = 0;
    ct->tensors = calloc((size_t)cap, sizeof *ct->tensors);
    ct->names = calloc((size_t)cap, sizeof *ct->names);
    if (!ct->tensors || !ct->names) {
        checkpoint_tensors_free(ct);
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory saving %s", path);
    }
    StWriteTensor *out = ct->tensors;
    int n = 0;
    for (int i = 0; i < t->count; i++) {
        const ParamInfo *p = &t->items[i];
        StWriteTensor *w = &out[n++];
        w->name = p->name;
        w->ndim = p->ndim;
        memcpy(w->shape, p->shape, sizeof p->shape);
        w->dtype = p->kind == PARAM_COUNTER ? ST_I64 : ST_F32;
        w->data = p->kind == PARAM_COUNTER ? (const void *)params_counter(t, i)
                                           : (const void *)params_data(t, i);
        for (int k = 0; k < 3 && p->kind == PARAM_WEIGHT; k++) {
            if (k == 1 && !o->exp_avg_sq) {
                continue;
            }
            snprintf(ct->names[n], sizeof ct->names[n], "%s%s", opt_prefix[k], p->name);
            StWriteTensor *s = &out[n];
            s->name = ct->names[n++];
            if (k == 2) {
                s->dtype = ST_I64;
                s->ndim = 0;
                s->data = &o->steps[i];
            } else {
                s->dtype = ST_F32;
                s->ndim = p->ndim;
                memcpy(s->shape, p->shape, sizeof p->shape);
                s->data = (k == 0 ? o->exp_avg : o->exp_avg_sq) + p->offset;
            }
        }
    }
    ct->count = n;
    return 0;
}

void checkpoint_tensors_free(CheckpointTensors *ct)
{
    free(ct->tensors);
    free(ct->names);
    ct->tensors = NULL;
    ct->names = NULL;
    ct->count = 0;
}

int checkpoint_tensors_load(const SafeTensors *st, const char *path, const ParamTable *t,
                            Optimizer *o, ThawError *err)
{
    char key[PARAM_NAME_MAX + 16];
    int rc = 0;
    for (int i = 0; i < t->count && rc == 0; i++) {
        const ParamInfo *p = &t->items[i];
        if (p->kind == PARAM_COUNTER) {
            rc = checkpoint_read_i64(st, path, p->name, params_counter(t, i), err);
            continue;
        }
        rc = st_load_f32(st, p->name, p->ndim, p->shape, params_data(t, i), err);
        if (rc != 0 || p->kind != PARAM_WEIGHT) {
            continue;
        }
        snprintf(key, sizeof key, "%s%s", opt_prefix[0], p->name);
        rc = st_load_f32(st, key, p->ndim, p->shape, o->exp_avg + p->offset, err);
        if (rc == 0 && o->exp_avg_sq) {
            snprintf(key, sizeof key, "%s%s", opt_prefix[1], p->name);
            rc = st_load_f32(st, key, p->ndim, p->shape, o->exp_avg_sq + p->offset, err);
        }
        if (rc == 0) {
            snprintf(key, sizeof key, "%s%s", opt_prefix[2], p->name);
            rc = checkpoint_read_i64(st, path, key, &o->steps[i], err);
        }
    }
    return rc;
}

void checkpoint_progress_meta(CheckpointProgress *p, const JobCore *c, uint64_t dropout_rng)
{
    snprintf(p->v[0], sizeof p->v[0], "%d", c->epoch);
    snprintf(p->v[1], sizeof p->v[1], "%" PRId64, c->epoch_step);
    snprintf(p->v[2], sizeof p->v[2], "%" PRId64, c->global_step);
    snprintf(p->v[3], sizeof p->v[3], "%" PRIu64, dropout_rng);
    snprintf(p->v[4], sizeof p->v[4], "%.17g", c->loss_sum);
    snprintf(p->v[5], sizeof p->v[5], "%" PRId64, c->correct);
    snprintf(p->v[6], sizeof p->v[6], "%" PRId64, c->seen);
    snprintf(p->v[7], sizeof p->v[7], "%.17g", c->best);
    snprintf(p->v[8], sizeof p->v[8], "%d", c->bad_epochs);
    const StMeta meta[CHECKPOINT_PROGRESS_KEYS] = {
        {"epoch", p->v[0]}, {"epoch_step", p->v[1]}, {"global_step", p->v[2]},
        {"scheduler_step", p->v[2]}, {"rng.dropout", p->v[3]}, {"train.loss_sum", p->v[4]},
        {"train.correct", p->v[5]}, {"train.seen", p->v[6]}, {"early.best", p->v[7]},
        {"early.bad_epochs", p->v[8]}, {"optimizer", optimizer_name(c->optim.kind)},
    };
    memcpy(p->meta, meta, sizeof meta);
}

int checkpoint_progress_read(JobCore *c, const SafeTensors *st, const char *path,
                             uint64_t *dropout_rng)
{
    ThawError *err = c->err;
    int64_t epoch = 0, bad = 0;
    int rc = checkpoint_meta_i64(st, path, "epoch", &epoch, err);
    rc = rc ? rc : checkpoint_meta_i64(st, path, "epoch_step", &c->epoch_step, err);
    rc = rc ? rc : checkpoint_meta_i64(st, path, "global_step", &c->global_step, err);
    rc = rc ? rc : checkpoint_meta_i64(st, path, "train.correct", &c->correct, err);
    rc = rc ? rc : checkpoint_meta_i64(st, path, "train.seen", &c->seen, err);
    rc = rc ? rc : checkpoint_meta_i64(st, path, "early.bad_epochs", &bad, err);
    rc = rc ? rc : checkpoint_meta_double(st, path, "train.loss_sum", &c->loss_sum, err);
    rc = rc ? rc : checkpoint_meta_double(st, path, "early.best", &c->best, err);
    unsigned long long rng = 0;
    if (rc == 0) {
        const char *r = st_metadata(st, "rng.dropout");
        char *end = NULL;
        rng = r ? strtoull(r, &end, 10) : 0;
        if (!r || end == r || *end) {
            rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: metadata key 'rng.dropout' missing", path);
        }
    }
    if (rc == 0 && (c->epoch_step > c->steps_per_epoch ||
                    c->global_step != epoch * c->steps_per_epoch + c->epoch_step)) {
        rc = thaw_fail(err, THAW_ERR_MISMATCH, "%s: epoch %" PRId64 " step %" PRId64 " does not "
                       "fit this run's %" PRId64 " steps per epoch (different dataset or batch?)",
                       path, epoch, c->epoch_step, c->steps_per_epoch);
    }
    const char *journal = rc == 0 ? st_metadata(st, "journal") : NULL;
    if (journal) {
        rc = journal_from_json(&c->journal, path, journal, c->global_step, err);
    }
    if (rc == 0) {
        c->epoch = (int)epoch;
        c->bad_epochs = (int)bad;
        *dropout_rng = (uint64_t)rng;
        job_core_log(c, "resumed from %s at epoch %d, step %" PRId64, path, c->epoch + 1,
                     c->global_step);
    }
    return rc;
}

int checkpoint_write(const JobCore *c, const char *path, const CheckpointTensors *ct,
                     const StMeta *meta, int n_meta)
{
    char *journal = journal_to_json(&c->journal);
    if (c->journal.count > 0 && !journal) {
        return thaw_fail(c->err, THAW_ERR_NOMEM, "out of memory saving %s", path);
    }
    StMeta *all = calloc((size_t)n_meta + 1, sizeof *all);
    int rc = all ? 0 : thaw_fail(c->err, THAW_ERR_NOMEM, "out of memory saving %s", path);
    if (rc == 0) {
        memcpy(all, meta, (size_t)n_meta * sizeof *meta);
        if (journal) {
            all[n_meta].key = "journal";
            all[n_meta].value = journal;
            n_meta++;
        }
        rc = st_write(path, ct->tensors, ct->count, all, n_meta, c->err);
    }
    free(all);
    free(journal);
    return rc;
}
