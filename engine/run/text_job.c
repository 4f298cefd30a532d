/* The text training loop: per epoch a seeded shuffle of the training
 * texts, batches padded to their longest text, AdamW steps under the
 * schedule, validation, a checkpoint; a step boundary (live control and
 * the stop flag) before the first step and after every step. */
#include "text_job_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/data/transforms.h"

int text_run_config(const RunConfig *cfg)
{
    return cfg->text;
}

int text_arch(const char *arch)
{
    return arch && (strcmp(arch, "minilm") == 0 || strcmp(arch, "bert") == 0);
}

/* Fills ids/mask/labels with items[0..count) of tok, padded to the longest;
 * plans the encoder for it. */
static int load_batch(TextJob *j, const TextTokens *tok, const int64_t *items, int count,
                      int training)
{
    int32_t pad = thaw_wordpiece_special_ids(j->wp).pad;
    int seq = text_tokens_fill_batch(tok, items, count, pad, j->ids, j->mask, j->labels);
    int rc = bert_plan(&j->model, count, seq, training, j->core.err);
    return rc ? rc : text_gpu_plan(j);   /* the device mirrors every plan */
}

static int validate(TextJob *j, double *loss, double *acc)
{
    *loss = *acc = 0;
    int k = j->classes, batch = j->core.cfg->batch;
    int64_t n = j->val_tok.n, seen = 0, correct = 0;
    double sum = 0;
    memset(j->confusion, 0, (size_t)k * k * sizeof *j->confusion);
    int64_t items[4096];
    for (int64_t first = 0; first < n; first += batch) {
        int count = (int)(n - first < batch ? n - first : batch);
        for (int b = 0; b < count; b++) {
            items[b] = first + b;
        }
        const float *logits = NULL;
        int rc = load_batch(j, &j->val_tok, items, count, 0);
        if (rc == 0 && j->gpu) {
            rc = text_gpu_eval(j, &logits);
        } else if (rc == 0) {
            rc = bert_forward(&j->model, j->ids, NULL, j->mask, j->core.err);
            logits = bert_logits(&j->model);
        }
        if (rc != 0) {
            return rc;
        }
        for (int b = 0; b < count; b++) {
            const float *z = logits + (size_t)b * k;
            int p = job_core_argmax(z, k), y = j->labels[b];
            double lse = 0;
            for (int c = 0; c < k; c++) {
                lse += exp((double)z[c] - z[p]);
            }
            sum += log(lse) + z[p] - z[y];
            correct += p == y;
            j->confusion[(size_t)y * k + p]++;
        }
        seen += count;
    }
    *loss = seen ? sum / (double)seen : 0;
    *acc = seen ? (double)correct / (double)seen : 0;
    return 0;
}

static int save_job_checkpoint(void *job, const char *path)
{
    return text_save_checkpoint(job, path);
}

static int checkpoint(TextJob *j, TrainResult *res, const char *name)
{
    return job_core_checkpoint(&j->core, j, save_job_checkpoint, res, name);
}

/* This epoch's order of the training items: a Fisher-Yates shuffle seeded
 * by (seed, epoch), so a resumed run draws the same batches. */
static void shuffle_epoch(TextJob *j)
{
    int64_t n = j->train_tok.n;
    ThawRng rng;
    thaw_rng_seed(&rng, thaw_seed_mix(j->core.cfg->seed, (uint64_t)j->core.epoch));
    for (int64_t i = 0; i < n; i++) {
        j->order[i] = i;
    }
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t k = thaw_rng_below(&rng, i + 1), t = j->order[i];
        j->order[i] = j->order[k];
        j->order[k] = t;
    }
}

static int train_step(TextJob *j, const int64_t *items, int count, TrainResult *res,
                      float *loss)
{
    BertModel *m = &j->model;
    float ls = (float)j->core.cfg->label_smoothing;
    job_core_set_lrs(&j->core, &j->model.params);
    const float *logits = NULL;
    int rc = load_batch(j, &j->train_tok, items, count, 1);
    if (rc == 0 && j->gpu) {
        rc = text_gpu_forward_loss(j, ls, loss, &logits);
    } else if (rc == 0) {
        rc = bert_forward(m, j->ids, NULL, j->mask, j->core.err);
        *loss = rc ? 0.0f : bert_loss(m, j->labels, ls);
        logits = bert_logits(m);
    }
    if (rc != 0) {
        return rc;
    }
    if (!isfinite(*loss)) {
        return thaw_fail(j->core.err, THAW_ERR_ARG, "step %" PRId64 " (epoch %d): loss is %s; "
                         "stopped, the last good checkpoint is %s", j->core.global_step + 1,
                         j->core.epoch + 1, isnan(*loss) ? "nan" : "inf",
                         res->checkpoint[0] ? res->checkpoint : "(none yet)");
    }
    for (int b = 0; b < count; b++) {
        const float *z = logits + (size_t)b * j->classes;
        j->core.correct += job_core_argmax(z, j->classes) == j->labels[b];
    }
    if (job_core_trainable_weights(&j->model.params) > 0 && j->gpu) {
        rc = text_gpu_backward_step(j, ls);
        if (rc != 0) {
            return rc;
        }
    } else if (job_core_trainable_weights(&j->model.params) > 0) {
        params_zero_grad(&m->params);
        rc = bert_backward(m, j->labels, ls, j->core.err);
        if (rc != 0) {
            return rc;
        }
        optimizer_step(&j->core.optim, &m->params);
    }
    j->core.loss_sum += (double)*loss * count;
    j->core.seen += count;
    j->core.epoch_step++;
    j->core.global_step++;
    return 0;
}

/* One step boundary (before the first step, after each optimizer step):
 * on_boundary decides (live control, train_control.h), then the stop flag.
 * 1 when the run ends here, with *rc the result of writing
 * interrupted.safetensors (TRAIN_STOP_SAVE, the flag) or 0 (TRAIN_ABANDON:
 * nothing written); 0 to go on. */
static int boundary(TextJob *j, TrainResult *res, int at_start, int *rc)
{
    TrainBoundaryAction act = job_core_boundary(&j->core, &train_text_ctl_ops, j, at_start, res);
    *rc = act == TRAIN_STOP_SAVE ? checkpoint(j, res, "interrupted.safetensors") : 0;
    return act != TRAIN_CONTINUE;
}

/* After an epoch: validation, the event, early stopping, the checkpoint.
 * 1 when early stopping ends the run. */
static int finish_epoch(TextJob *j, TrainResult *res, double train_time, int64_t samples,
                        double t_start, int64_t steps_timed, int *rc)
{
    double val_loss, val_acc;
    *rc = validate(j, &val_loss, &val_acc);
    if (*rc != 0) {
        return 0;
    }
    int has_val = j->val_tok.n > 0;
    res->train_loss = j->core.seen ? j->core.loss_sum / (double)j->core.seen : 0;
    res->train_acc = j->core.seen ? (double)j->core.correct / (double)j->core.seen : 0;
    res->val_loss = val_loss;
    res->val_acc = val_acc;
    double el = job_core_now_s() - t_start;
    TrainEvent ev = {.kind = TRAIN_EV_EPOCH, .epoch = j->core.epoch + 1,
                     .step = j->core.global_step,
                     .train_loss = res->train_loss, .train_acc = res->train_acc,
                     .val_loss = val_loss, .val_acc = val_acc, .has_val = has_val,
                     .samples_per_s = train_time > 0 ? (double)samples / train_time : 0,
                     .eta_s = steps_timed ? el / (double)steps_timed *
                              (double)(j->core.total_steps - j->core.global_step) : 0};
    /* the epoch is complete: the checkpoint resumes at the next one */
    job_core_end_epoch(&j->core, has_val ? val_loss : res->train_loss);
    char name[64];
    snprintf(name, sizeof name, "epoch-%03d.safetensors", j->core.epoch);
    *rc = checkpoint(j, res, name);
    if (*rc != 0) {
        return 0;
    }
    job_core_emit(&j->core, &ev);
    job_core_metrics_epoch(&j->core, &ev);
    res->epochs_done = j->core.epoch;
    res->steps_done = j->core.global_step;
    return job_core_early_stop(&j->core, res, j->core.epoch);
}

static int run_epochs(TextJob *j, TrainResult *res)
{
    const RunConfig *c = j->core.cfg;
    int head = params_find_group(&j->model.params, "classifier");
    double t_start = job_core_now_s();
    int64_t steps_timed = 0;
    int rc;
    if (boundary(j, res, 1, &rc)) {
        return rc;
    }
    while (j->core.epoch < c->epochs) {
        shuffle_epoch(j);
        double t_epoch = job_core_now_s();
        int64_t samples = 0, n = j->train_tok.n;
        for (int64_t first = j->core.epoch_step * c->batch; first < n; first += c->batch) {
            int count = (int)(n - first < c->batch ? n - first : c->batch);
            float loss;
            rc = train_step(j, j->order + first, count, res, &loss);
            if (rc != 0) {
                return rc;
            }
            samples += count;
            steps_timed++;
            double el = job_core_now_s() - t_start;
            TrainEvent ev = {.kind = TRAIN_EV_STEP, .epoch = j->core.epoch + 1,
                             .step = j->core.global_step, .loss = loss,
                             .lr = head >= 0 ? j->model.params.groups[head].lr : 0,
                             .eta_s = el / (double)steps_timed *
                                      (double)(j->core.total_steps - j->core.global_step)};
            job_core_emit(&j->core, &ev);
            if (boundary(j, res, 0, &rc)) {
                return rc;
            }
        }
        if (finish_epoch(j, res, job_core_now_s() - t_epoch, samples, t_start, steps_timed, &rc) ||
            rc != 0) {
            return rc;
        }
    }
    return 0;
}

static void emit_done(TextJob *j, const TrainResult *res)
{
    const char *names[1024];
    int nk = j->classes < 1024 ? j->classes : 1024;
    for (int k = 0; k < nk; k++) {
        names[k] = thaw_text_class_name(j->source, k);
    }
    int has_val = j->val_tok.n > 0;
    TrainEvent ev = {.kind = TRAIN_EV_DONE, .epoch = j->core.epoch, .step = j->core.global_step,
                     .msg = res->checkpoint, .num_classes = nk,
                     .confusion = has_val ? j->confusion : NULL, .class_names = names,
                     .train_loss = res->train_loss, .train_acc = res->train_acc,
                     .val_loss = res->val_loss, .val_acc = res->val_acc, .has_val = has_val};
    job_core_emit(&j->core, &ev);
}

int text_train_run(const RunConfig *cfg, const TrainOptions *opt, TrainResult *res,
                   ThawError *err)
{
    memset(res, 0, sizeof *res);
    TextJob j;
    memset(&j, 0, sizeof j);
    job_core_init(&j.core, cfg, opt, err);
    if (cfg->threads > 0) {
        omp_set_num_threads(cfg->threads);
    }
    if (cfg->batch > 4096) {
        return thaw_fail(err, THAW_ERR_ARG, "%s: key 'batch' must be at most 4096 for text runs",
                         cfg->path);
    }
    if (mkdir(opt->out_dir, 0777) != 0 && errno != EEXIST) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot create output folder: %s", opt->out_dir,
                         strerror(errno));
    }
    int rc = text_job_open_data(&j);
    rc = rc ? rc : text_job_setup_model(&j);
    if (rc == 0 && opt->resume) {
        rc = text_load_checkpoint(&j, opt->resume);
        rc = rc ? rc : text_journal_reapply(&j);
    }
    rc = rc ? rc : text_gpu_open(&j);   /* after a resume: it uploads that state */
    rc = rc ? rc : run_epochs(&j, res);
    if (rc == 0 && !res->interrupted) {
        emit_done(&j, res);
    }
    text_gpu_close(&j);
    text_job_free(&j);
    journal_free(&j.core.journal);
    return rc;
}
