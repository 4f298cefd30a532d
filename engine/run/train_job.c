/* The training loop: epochs of steps (from the feature cache where it
 * holds the batch), a step boundary after setup and after every step (live
 * control, the stop flag), validation and a checkpoint per epoch. */
#include "train_job.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/data/dataset.h"
#include "engine/data/loader.h"
#include "engine/graph/feature_cache.h"
#include "engine/io/safetensors.h"
#include "engine/models/model.h"
#include "engine/optim/optimizer.h"

#include "text_job.h"
#include "train_job_internal.h"

int job_plan(Job *j, int training)
{
    GraphMode mode = {.training = training, .train_bn = training && j->core.cfg->train_bn,
                      .want_input_grad = 0};
    int s = j->core.cfg->image_size;
    int rc = model_plan(&j->model, training ? j->train_batch : j->core.cfg->batch, s, s, &mode,
                        j->core.err);
    return rc ? rc : job_gpu_plan(j);   /* the device mirrors every plan */
}

size_t job_trainable_weights(const Job *j)
{
    return job_core_trainable_weights(&j->model.params);
}

/* ---- checkpoints ---- */

static int save_job_checkpoint(void *job, const char *path)
{
    return train_save_checkpoint(job, path);
}

static int checkpoint(Job *j, TrainResult *res, const char *name)
{
    return job_core_checkpoint(&j->core, j, save_job_checkpoint, res, name);
}

/* ---- steps ---- */

static int validate(Job *j, double *loss, double *acc)
{
    *loss = 0;
    *acc = 0;
    if (!j->val_loader) {
        return 0;
    }
    int n = j->core.cfg->batch, k = j->classes;
    int rc = job_plan(j, 0);
    rc = rc ? rc : thaw_loader_start_epoch(j->val_loader, 0, j->core.err);
    if (rc != 0) {
        return rc;
    }
    val_cache_begin(j);
    size_t per = (size_t)3 * j->core.cfg->image_size * j->core.cfg->image_size;
    memset(j->confusion, 0, (size_t)k * k * sizeof *j->confusion);
    double sum = 0;
    int64_t seen = 0, correct = 0;
    const ThawBatch *b = NULL;
    while ((rc = thaw_loader_next(j->val_loader, &b, j->core.err)) == 0 && b) {
        memset(j->eval_buf, 0, per * n * sizeof(float));
        memcpy(j->eval_buf, b->images, per * b->count * sizeof(float));
        const float *logits = NULL;
        if (j->gpu) {
            rc = job_gpu_eval(j, j->eval_buf, &logits);
            if (rc != 0) {
                return rc;
            }
        } else {
            val_cache_forward(j, b, j->eval_buf);
            logits = model_logits(&j->model);
        }
        for (int i = 0; i < b->count; i++) {
            const float *z = logits + (size_t)i * k;
            int p = job_core_argmax(z, k);
            double lse = 0;
            for (int c = 0; c < k; c++) {
                lse += exp((double)z[c] - z[p]);
            }
            sum += log(lse) + z[p] - z[b->labels[i]];
            correct += p == b->labels[i];
            j->confusion[(size_t)b->labels[i] * k + p]++;
        }
        seen += b->count;
    }
    if (rc != 0) {
        return rc;
    }
    *loss = seen ? sum / (double)seen : 0;
    *acc = seen ? (double)correct / (double)seen : 0;
    return 0;
}

/* One step boundary: on_boundary decides, then the stop flag.
 * BOUNDARY_END when the run ends here (res says how), 0 to go on, else an
 * error code (a failed interrupt checkpoint among them). */
#define BOUNDARY_END (-1)
static int boundary(Job *j, TrainResult *res, int at_start)
{
    TrainBoundaryAction act = job_core_boundary(&j->core, &train_image_ctl_ops, j, at_start, res);
    if (act == TRAIN_STOP_SAVE) {
        int rc = checkpoint(j, res, "interrupted.safetensors");
        return rc ? rc : BOUNDARY_END;
    }
    return act == TRAIN_CONTINUE ? 0 : BOUNDARY_END;
}

/* The per-epoch cache line: train and validation hit rates. */
static void log_cache_epoch(Job *j, int64_t cached, int64_t samples, double train_time)
{
    char val[96] = "";
    if (j->val_loader) {
        snprintf(val, sizeof val, ", val %d%% (%lld of %lld)",
                 j->val_seen ? (int)(100 * j->val_hits / j->val_seen) : 0,
                 (long long)j->val_hits, (long long)j->val_seen);
    }
    job_core_log(&j->core, "epoch %d: feature cache %d%% (%lld of %lld samples from the cache)%s, "
                 "train %.2f s", j->core.epoch + 1, samples ? (int)(100 * cached / samples) : 0,
                 (long long)cached, (long long)samples, val, train_time);
}

/* Forward, loss, backward and update of one batch; the loss in *loss. */
static int train_step(Job *j, const ThawBatch *b, TrainResult *res, float *loss,
                      int *from_cache)
{
    Model *m = &j->model;
    float ls = (float)j->core.cfg->label_smoothing;
    job_core_set_lrs(&j->core, &j->model.params);
    const float *logits = NULL;
    if (j->gpu) {
        *from_cache = 0;
        int rc = job_gpu_forward_loss(j, b, loss, &logits);
        if (rc != 0) {
            return rc;
        }
    } else {
        *from_cache = train_cache_forward(j, b);
        *loss = model_loss(m, b->labels, ls);
        logits = model_logits(m);
    }
    if (!isfinite(*loss)) {
        return thaw_fail(j->core.err, THAW_ERR_ARG,
                         "step %" PRId64 " (epoch %d): loss is %s; stopped, the last "
                         "good checkpoint is %s",
                         j->core.global_step + 1, j->core.epoch + 1, isnan(*loss) ? "nan" : "inf",
                         res->checkpoint[0] ? res->checkpoint : "(none yet)");
    }
    /* Before backward: the planner lets gradients reuse the logits'
     * memory once the loss has read them. */
    for (int i = 0; i < b->count; i++) {
        const float *z = logits + (size_t)i * j->classes;
        j->core.correct += job_core_argmax(z, j->classes) == b->labels[i];
    }
    if (job_trainable_weights(j) > 0 && j->gpu) {
        int rc = job_gpu_backward_step(j);
        if (rc != 0) {
            return rc;
        }
    } else if (job_trainable_weights(j) > 0) {   /* everything frozen: forward only */
        params_zero_grad(&m->params);
        model_backward(m, b->labels, ls);
        optimizer_step(&j->core.optim, &m->params);
    }
    j->core.loss_sum += (double)*loss * b->count;
    j->core.seen += b->count;
    j->core.epoch_step++;
    j->core.global_step++;
    return 0;
}

static int run_epochs(Job *j, TrainResult *res)
{
    const RunConfig *c = j->core.cfg;
    Model *m = &j->model;
    int head = params_find_group(&m->params, "head");
    double t_start = job_core_now_s();
    int64_t steps_timed = 0;
    /* the state before the first step: the cache refilled after a resume,
     * then the first boundary */
    int rc = job_plan(j, 1);
    if (rc != 0) {
        return rc;
    }
    train_cache_bind(j, j->core.global_step, 0);
    rc = j->core.opt->resume ? train_cache_replay(j) : 0;
    rc = rc ? rc : boundary(j, res, 1);
    if (rc != 0) {
        return rc == BOUNDARY_END ? 0 : rc;
    }
    for (; j->core.epoch < c->epochs; j->core.epoch++) {
        rc = job_plan(j, 1);
        if (rc != 0) {
            return rc;
        }
        train_cache_bind(j, j->core.global_step, 0);
        rc = thaw_loader_start_epoch(j->train_loader, j->core.epoch, j->core.err);
        if (rc != 0) {
            return rc;
        }
        double t_epoch = job_core_now_s();
        int64_t samples_epoch = 0, samples_cached = 0;
        int64_t b_index = 0;
        const ThawBatch *b = NULL;
        while ((rc = thaw_loader_next(j->train_loader, &b, j->core.err)) == 0 && b) {
            if (b_index++ < j->core.epoch_step) {
                continue;      /* resumed mid-epoch: these were trained */
            }
            float loss;
            int from_cache;
            rc = train_step(j, b, res, &loss, &from_cache);
            if (rc != 0) {
                return rc;
            }
            samples_cached += from_cache ? b->count : 0;
            samples_epoch += b->count;
            steps_timed++;
            double el = job_core_now_s() - t_start;
            TrainEvent ev = {.kind = TRAIN_EV_STEP, .epoch = j->core.epoch + 1,
                             .step = j->core.global_step, .loss = loss,
                             .lr = head >= 0 ? m->params.groups[head].lr : 0,
                             .eta_s = el / (double)steps_timed *
                                      (double)(j->core.total_steps - j->core.global_step)};
            job_core_emit(&j->core, &ev);
            rc = boundary(j, res, 0);
            if (rc != 0) {
                return rc == BOUNDARY_END ? 0 : rc;
            }
        }
        rc = rc ? rc : train_cache_fill(j);   /* rows of the items no batch drew */
        if (rc != 0) {
            return rc;
        }
        double train_time = job_core_now_s() - t_epoch;
        double val_loss, val_acc;
        rc = validate(j, &val_loss, &val_acc);
        if (rc != 0) {
            return rc;
        }
        if (j->cache.active) {
            log_cache_epoch(j, samples_cached, samples_epoch, train_time);
        }
        res->train_loss = j->core.seen ? j->core.loss_sum / (double)j->core.seen : 0;
        res->train_acc = j->core.seen ? (double)j->core.correct / (double)j->core.seen : 0;
        res->val_loss = val_loss;
        res->val_acc = val_acc;
        double el = job_core_now_s() - t_start;
        TrainEvent ev = {.kind = TRAIN_EV_EPOCH, .epoch = j->core.epoch + 1,
                         .step = j->core.global_step, .train_loss = res->train_loss,
                         .train_acc = res->train_acc, .val_loss = val_loss,
                         .val_acc = val_acc, .has_val = j->val_loader != NULL,
                         .samples_per_s = train_time > 0 ? samples_epoch / train_time : 0,
                         .eta_s = steps_timed ? el / (double)steps_timed *
                                  (double)(j->core.total_steps - j->core.global_step) : 0};
        /* the epoch is complete: the checkpoint resumes at the next one */
        job_core_end_epoch(&j->core, j->val_loader ? val_loss : res->train_loss);
        char name[64];
        snprintf(name, sizeof name, "epoch-%03d.safetensors", j->core.epoch);
        rc = checkpoint(j, res, name);
        j->core.epoch--;
        if (rc != 0) {
            return rc;
        }
        job_core_emit(&j->core, &ev);
        job_core_metrics_epoch(&j->core, &ev);
        res->epochs_done = j->core.epoch + 1;
        res->steps_done = j->core.global_step;
        if (job_core_early_stop(&j->core, res, j->core.epoch + 1)) {
            j->core.epoch++;
            break;
        }
    }
    return 0;
}

int train_run(const RunConfig *cfg, const TrainOptions *opt, TrainResult *res,
              ThawError *err)
{
    if (text_run_config(cfg)) {   /* minilm, bert: the text job */
        return text_train_run(cfg, opt, res, err);
    }
    memset(res, 0, sizeof *res);
    Job j;
    memset(&j, 0, sizeof j);
    job_core_init(&j.core, cfg, opt, err);
    feature_cache_init(&j.cache);
    feature_cache_init(&j.val_cache);
    if (cfg->threads > 0) {
        omp_set_num_threads(cfg->threads);
    }
    if (mkdir(opt->out_dir, 0777) != 0 && errno != EEXIST) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot create output folder: %s", opt->out_dir,
                         strerror(errno));
    }
    int rc = job_open_data(&j);
    rc = rc ? rc : job_setup_model(&j);
    if (rc == 0) {
        j.confusion = calloc((size_t)j.classes * j.classes, sizeof *j.confusion);
        size_t per = (size_t)3 * cfg->image_size * cfg->image_size;
        j.eval_buf = malloc(per * cfg->batch * sizeof(float));
        if (!j.confusion || !j.eval_buf) {
            rc = thaw_fail(err, THAW_ERR_NOMEM, "out of memory");
        }
    }
    if (rc == 0 && opt->resume) {
        rc = train_load_checkpoint(&j, opt->resume);
        rc = rc ? rc : train_journal_reapply(&j);
    }
    rc = rc ? rc : job_gpu_open(&j);   /* after a resume: it uploads that state */
    rc = rc ? rc : run_epochs(&j, res);
    if (rc == 0 && !res->interrupted) {
        const char *names[1024];
        int nk = j.classes < 1024 ? j.classes : 1024;
        for (int k = 0; k < nk; k++) {
            names[k] = thaw_dataset_class_name(j.source, k);
        }
        TrainEvent ev = {.kind = TRAIN_EV_DONE, .epoch = j.core.epoch, .step = j.core.global_step,
                         .msg = res->checkpoint, .num_classes = nk,
                         .confusion = j.val_loader ? j.confusion : NULL, .class_names = names,
                         .train_loss = res->train_loss, .train_acc = res->train_acc,
                         .val_loss = res->val_loss, .val_acc = res->val_acc,
                         .has_val = j.val_loader != NULL};
        job_core_emit(&j.core, &ev);
    }
    job_gpu_close(&j);
    thaw_loader_destroy(j.train_loader);
    thaw_loader_destroy(j.val_loader);
    thaw_dataset_free(j.train);
    thaw_dataset_free(j.val);
    thaw_dataset_free(j.subset);
    thaw_dataset_free(j.source);
    optimizer_free(&j.core.optim);
    model_free(&j.model);
    feature_cache_free(&j.cache);
    feature_cache_free(&j.val_cache);
    journal_free(&j.core.journal);
    free(j.confusion);
    free(j.eval_buf);
    return rc;
}
