/* Text job checkpoints: the image job's format (thaw-checkpoint-1: weights
 * with Hugging Face names, opt.exp_avg.<name>, opt.exp_avg_sq.<name>,
 * opt.step.<name>, progress in __metadata__) plus "task" and "classes",
 * and "journal" when live changes were made (journal.h), written
 * atomically by st_write. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/io/safetensors.h"
#include "engine/run/checkpoint_meta.h"
#include "text_job_internal.h"

#define TEXT_CKPT_FORMAT "thaw-checkpoint-1"

/* The class names as a JSON list (malloc'd), NULL when out of memory. */
static char *classes_json(const TextJob *j)
{
    cJSON *a = cJSON_CreateArray();
    for (int k = 0; a && k < j->classes; k++) {
        cJSON_AddItemToArray(a, cJSON_CreateString(thaw_text_class_name(j->source, k)));
    }
    char *s = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return s;
}

int text_save_checkpoint(TextJob *j, const char *path)
{
    const ParamTable *t = &j->model.params;
    const Optimizer *o = &j->optim;
    int cap = t->count * 4 + 1;
    StWriteTensor *out = calloc((size_t)cap, sizeof *out);
    char (*names)[PARAM_NAME_MAX + 16] = calloc((size_t)cap, sizeof *names);
    char *classes = classes_json(j);
    if (!out || !names || !classes) {
        free(out);
        free(names);
        free(classes);
        return thaw_fail(j->err, THAW_ERR_NOMEM, "out of memory saving %s", path);
    }
    static const char *const pre[] = {"opt.exp_avg.", "opt.exp_avg_sq.", "opt.step."};
    int n = 0;
    for (int i = 0; i < t->count; i++) {
        const ParamInfo *p = &t->items[i];
        StWriteTensor *w = &out[n++];
        w->name = p->name;
        w->ndim = p->ndim;
        memcpy(w->shape, p->shape, sizeof p->shape);
        w->dtype = ST_F32;
        w->data = params_data(t, i);
        for (int k = 0; k < 3 && p->kind == PARAM_WEIGHT; k++) {
            if (k == 1 && !o->exp_avg_sq) {
                continue;
            }
            snprintf(names[n], sizeof names[n], "%s%s", pre[k], p->name);
            StWriteTensor *s = &out[n];
            s->name = names[n++];
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
    snprintf(v[3], sizeof v[3], "%" PRIu64, j->model.rng);
    snprintf(v[4], sizeof v[4], "%.17g", j->loss_sum);
    snprintf(v[5], sizeof v[5], "%" PRId64, j->correct);
    snprintf(v[6], sizeof v[6], "%" PRId64, j->seen);
    snprintf(v[7], sizeof v[7], "%.17g", j->best);
    snprintf(v[8], sizeof v[8], "%d", j->bad_epochs);
    StMeta meta[] = {
        {"format", TEXT_CKPT_FORMAT}, {"task", "text_classification"},
        {"arch", j->cfg->arch}, {"head", j->cfg->head_cls ? "cls" : "mean"},
        {"classes", classes}, {"run", j->cfg->json ? j->cfg->json : "{}"},
        {"epoch", v[0]}, {"epoch_step", v[1]}, {"global_step", v[2]},
        {"scheduler_step", v[2]}, {"rng.dropout", v[3]}, {"train.loss_sum", v[4]},
        {"train.correct", v[5]}, {"train.seen", v[6]}, {"early.best", v[7]},
        {"early.bad_epochs", v[8]}, {"optimizer", optimizer_name(o->kind)},
    };
    /* the journal of live changes only when there were some (journal.h) */
    StMeta all[sizeof meta / sizeof meta[0] + 1];
    int n_meta = (int)(sizeof meta / sizeof meta[0]);
    memcpy(all, meta, sizeof meta);
    char *journal = journal_to_json(&j->journal);
    int rc = j->journal.count > 0 && !journal
                 ? thaw_fail(j->err, THAW_ERR_NOMEM, "out of memory saving %s", path) : 0;
    if (journal) {
        all[n_meta].key = "journal";
        all[n_meta].value = journal;
        n_meta++;
    }
    rc = rc ? rc : st_write(path, out, n, all, n_meta, j->err);
    free(journal);
    free(out);
    free(names);
    free(classes);
    return rc;
}

/* The checkpoint must come from a text run of the same arch and classes. */
static int check_kind(TextJob *j, const SafeTensors *st, const char *path)
{
    const char *fmt = st_metadata(st, "format"), *task = st_metadata(st, "task");
    const char *arch = st_metadata(st, "arch"), *opt = st_metadata(st, "optimizer");
    if (!fmt || strcmp(fmt, TEXT_CKPT_FORMAT) != 0) {
        return thaw_fail(j->err, THAW_ERR_FORMAT, "%s: not a thaw checkpoint (metadata 'format')",
                         path);
    }
    if (!task || strcmp(task, "text_classification") != 0 || !arch ||
        strcmp(arch, j->cfg->arch) != 0) {
        return thaw_fail(j->err, THAW_ERR_MISMATCH, "%s: a checkpoint of %s %s, the run file "
                         "trains %s text classification", path, arch ? arch : "another",
                         task ? task : "image classification", j->cfg->arch);
    }
    if (!opt || strcmp(opt, optimizer_name(j->optim.kind)) != 0) {
        return thaw_fail(j->err, THAW_ERR_MISMATCH, "%s: metadata 'optimizer' is %s, the run "
                         "file says %s", path, opt ? opt : "missing",
                         optimizer_name(j->optim.kind));
    }
    return 0;
}

int text_load_checkpoint(TextJob *j, const char *path)
{
    SafeTensors *st = NULL;
    int rc = st_open(&st, path, j->err);
    if (rc != 0) {
        return rc;
    }
    rc = check_kind(j, st, path);
    const ParamTable *t = &j->model.params;
    Optimizer *o = &j->optim;
    char key[PARAM_NAME_MAX + 16];
    for (int i = 0; i < t->count && rc == 0; i++) {
        const ParamInfo *p = &t->items[i];
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
    int64_t epoch = 0, bad = 0;
    rc = rc ? rc : checkpoint_meta_i64(st, path, "epoch", &epoch, j->err);
    rc = rc ? rc : checkpoint_meta_i64(st, path, "epoch_step", &j->epoch_step, j->err);
    rc = rc ? rc : checkpoint_meta_i64(st, path, "global_step", &j->global_step, j->err);
    rc = rc ? rc : checkpoint_meta_i64(st, path, "train.correct", &j->correct, j->err);
    rc = rc ? rc : checkpoint_meta_i64(st, path, "train.seen", &j->seen, j->err);
    rc = rc ? rc : checkpoint_meta_i64(st, path, "early.bad_epochs", &bad, j->err);
    rc = rc ? rc : checkpoint_meta_double(st, path, "train.loss_sum", &j->loss_sum, j->err);
    rc = rc ? rc : checkpoint_meta_double(st, path, "early.best", &j->best, j->err);
    const char *r = rc == 0 ? st_metadata(st, "rng.dropout") : NULL;
    unsigned long long rng = 0;
    if (rc == 0) {
        char *end = NULL;
        rng = r ? strtoull(r, &end, 10) : 0;
        if (!r || end == r || *end) {
            rc = thaw_fail(j->err, THAW_ERR_FORMAT, "%s: metadata key 'rng.dropout' missing", path);
        }
    }
    if (rc == 0 && (j->epoch_step > j->steps_per_epoch ||
                    j->global_step != epoch * j->steps_per_epoch + j->epoch_step)) {
        rc = thaw_fail(j->err, THAW_ERR_MISMATCH, "%s: epoch %" PRId64 " step %" PRId64 " does not "
                       "fit this run's %" PRId64 " steps per epoch (different dataset or batch?)",
                       path, epoch, j->epoch_step, j->steps_per_epoch);
    }
    const char *journal = rc == 0 ? st_metadata(st, "journal") : NULL;
    if (journal) {
        rc = journal_from_json(&j->journal, path, journal, j->global_step, j->err);
    }
    st_close(st);
    if (rc == 0) {
        j->epoch = (int)epoch;
        j->bad_epochs = (int)bad;
        j->model.rng = (uint64_t)rng;
        text_log(j, "resumed from %s at epoch %d, step %" PRId64, path, j->epoch + 1,
                 j->global_step);
    }
    return rc;
}
