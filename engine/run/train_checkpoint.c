/* Training checkpoints: one safetensors file with the weights (PyTorch
 * names), the optimizer state (opt.exp_avg.<name>, opt.exp_avg_sq.<name>,
 * opt.step.<name>) and, in __metadata__, the run file and the progress that
 * --resume needs to continue byte-identically. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/io/safetensors.h"
#include "engine/run/checkpoint_meta.h"
#include "train_job_internal.h"

int train_save_checkpoint(Job *j, const char *path)
{
    if (job_gpu_sync_host(j) != 0) {   /* a GPU run's weights live on the device */
        return j->err->code;
    }
    const ParamTable *t = &j->model.params;
    const Optimizer *o = &j->optim;
    int cap = t->count * 4 + 1;
    StWriteTensor *out = calloc((size_t)cap, sizeof *out);
    char (*names)[PARAM_NAME_MAX + 16] = calloc((size_t)cap, sizeof *names);
    if (!out || !names) {
        free(out);
        free(names);
        return thaw_fail(j->err, THAW_ERR_NOMEM, "out of memory saving %s", path);
    }
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
        if (p->kind != PARAM_WEIGHT) {
            continue;
        }
        for (int k = 0; k < 3; k++) {
            if (k == 1 && !o->exp_avg_sq) {
                continue;
            }
            static const char *const pre[] = {"opt.exp_avg.", "opt.exp_avg_sq.", "opt.step."};
            snprintf(names[n], sizeof names[n], "%s%s", pre[k], p->name);
            StWriteTensor *s = &out[n];
            s->name = names[n];
            n++;
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
    char v[9][64];
    snprintf(v[0], sizeof v[0], "%d", j->epoch);
    snprintf(v[1], sizeof v[1], "%" PRId64, j->epoch_step);
    snprintf(v[2], sizeof v[2], "%" PRId64, j->global_step);
    snprintf(v[3], sizeof v[3], "%" PRIu64, j->model.graph.dropout_rng);
    snprintf(v[4], sizeof v[4], "%.17g", j->loss_sum);
    snprintf(v[5], sizeof v[5], "%" PRId64, j->correct);
    snprintf(v[6], sizeof v[6], "%" PRId64, j->seen);
    snprintf(v[7], sizeof v[7], "%.17g", j->best);
    snprintf(v[8], sizeof v[8], "%d", j->bad_epochs);
    StMeta meta[] = {
        {"format", CKPT_FORMAT}, {"run", j->cfg->json ? j->cfg->json : "{}"},
        {"epoch", v[0]}, {"epoch_step", v[1]}, {"global_step", v[2]},
        {"scheduler_step", v[2]}, {"rng.dropout", v[3]}, {"train.loss_sum", v[4]},
        {"train.correct", v[5]}, {"train.seen", v[6]}, {"early.best", v[7]},
        {"early.bad_epochs", v[8]}, {"optimizer", optimizer_name(o->kind)},
    };
    int n_meta = (int)(sizeof meta / sizeof meta[0]);
    /* the journal only when there were live changes: a run without them
     * writes the bytes it always did */
    char *journal = journal_to_json(&j->journal);
    if (j->journal.count > 0 && !journal) {
        free(out);
        free(names);
        return thaw_fail(j->err, THAW_ERR_NOMEM, "out of memory saving %s", path);
    }
    StMeta *all = calloc((size_t)n_meta + 1, sizeof *all);
    int rc = all ? 0 : thaw_fail(j->err, THAW_ERR_NOMEM, "out of memory saving %s", path);
    if (rc == 0) {
        memcpy(all, meta, sizeof meta);
        if (journal) {
            all[n_meta].key = "journal";
            all[n_meta].value = journal;
            n_meta++;
        }
        rc = st_write(path, out, n, all, n_meta, j->err);
    }
    free(all);
    free(journal);
    free(out);
    free(names);
    return rc;
}

int train_load_checkpoint(Job *j, const char *path)
{
    SafeTensors *st = NULL;
    int rc = st_open(&st, path, j->err);
    if (rc != 0) {
        return rc;
    }
    const char *fmt = st_metadata(st, "format");
    if (!fmt || strcmp(fmt, CKPT_FORMAT) != 0) {
        st_close(st);
        return thaw_fail(j->err, THAW_ERR_FORMAT, "%s: not a thaw checkpoint (metadata 'format')",
                         path);
    }
    const char *optname = st_metadata(st, "optimizer");
    if (!optname || strcmp(optname, optimizer_name(j->optim.kind)) != 0) {
        st_close(st);
        return thaw_fail(j->err, THAW_ERR_MISMATCH,
                         "%s: metadata 'optimizer' is %s, the run file says %s", path,
                         optname ? optname : "missing", optimizer_name(j->optim.kind));
    }
    const ParamTable *t = &j->model.params;
    Optimizer *o = &j->optim;
    char key[PARAM_NAME_MAX + 16];
    for (int i = 0; i < t->count && rc == 0; i++) {
        const ParamInfo *p = &t->items[i];
        if (p->kind == PARAM_COUNTER) {
            rc = checkpoint_read_i64(st, path, p->name, params_counter(t, i), j->err);
            continue;
        }
        rc = st_load_f32(st, p->name, p->ndim, p->shape, params_data(t, i), j->err);
        if (rc != 0 || p->kind != PARAM_WEIGHT) {
            continue;
        }
        snprintf(key, sizeof key, "opt.exp_avg.%s", p->name);
        rc = st_load_f32(st, key, p->ndim, p->shape, o->exp_avg + p->offset, j->err);
        if (rc == 0 && o->exp_avg_sq) {
            snprintf(key, sizeof key, "opt.exp_avg_sq.%s", p->name);
            rc = st_load_f32(st, key, p->ndim, p->shape, o->exp_avg_sq + p->offset, j->err);
        }
        if (rc == 0) {
            snprintf(key, sizeof key, "opt.step.%s", p->name);
            rc = checkpoint_read_i64(st, path, key, &o->steps[i], j->err);
        }
    }
    int64_t epoch = 0, rng = 0, bad = 0;
    rc = rc ? rc : checkpoint_meta_i64(st, path, "epoch", &epoch, j->err);
    rc = rc ? rc : checkpoint_meta_i64(st, path, "epoch_step", &j->epoch_step, j->err);
    rc = rc ? rc : checkpoint_meta_i64(st, path, "global_step", &j->global_step, j->err);
    rc = rc ? rc : checkpoint_meta_i64(st, path, "train.correct", &j->correct, j->err);
    rc = rc ? rc : checkpoint_meta_i64(st, path, "train.seen", &j->seen, j->err);
    rc = rc ? rc : checkpoint_meta_i64(st, path, "early.bad_epochs", &bad, j->err);
    rc = rc ? rc : checkpoint_meta_double(st, path, "train.loss_sum", &j->loss_sum, j->err);
    rc = rc ? rc : checkpoint_meta_double(st, path, "early.best", &j->best, j->err);
    const char *r = st_metadata(st, "rng.dropout");
    if (rc == 0) {
        char *end = NULL;
        unsigned long long u = r ? strtoull(r, &end, 10) : 0;
        if (!r || end == r || *end) {
            rc = thaw_fail(j->err, THAW_ERR_FORMAT, "%s: metadata key 'rng.dropout' missing", path);
        }
        rng = (int64_t)u;
    }
    if (rc == 0 && (j->epoch_step > j->steps_per_epoch ||
                    j->global_step != epoch * j->steps_per_epoch + j->epoch_step)) {
        rc = thaw_fail(j->err, THAW_ERR_MISMATCH,
                       "%s: epoch %" PRId64 " step %" PRId64 " does not fit this run's %" PRId64
                       " steps per epoch (different dataset or batch?)",
                       path, epoch, j->epoch_step, j->steps_per_epoch);
    }
    const char *journal = st_metadata(st, "journal");
    if (rc == 0 && journal) {
        rc = journal_from_json(&j->journal, path, journal, j->global_step, j->err);
    }
    st_close(st);
    if (rc == 0) {
        j->epoch = (int)epoch;
        j->bad_epochs = (int)bad;
        j->model.graph.dropout_rng = (uint64_t)rng;
        logf_event(j, "resumed from %s at epoch %d, step %" PRId64, path, j->epoch + 1,
                   j->global_step);
    }
    return rc;
}

