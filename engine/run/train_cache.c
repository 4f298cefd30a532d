/* The training job's feature caches. The train cache stores the frozen
 * boundary row of every train item on its first pass and starts later
 * forwards there (engine/graph/feature_cache.h). The val cache does the
 * same for the validation items in the eval plan: below the boundary every
 * op is frozen and deterministic (BN in eval, no active dropout) whenever
 * the train cache is bound, so it follows the train cache's binding and is
 * dropped with it. A binding remembers the global step where it began:
 * every op below its boundary has been frozen since then, so a resume
 * refills the rows from that step on, batch by batch as the uninterrupted
 * run did (a backbone forward is not bitwise independent of the batch it
 * runs in), and stays byte-identical.
 *
 * Training batches are shuffled and drop the last partial batch, so an
 * epoch's batches miss the items % batch left over, a different few each
 * epoch, and any later batch holding one of them could not start at the
 * boundary. So after the batches of an epoch in which the binding began
 * (origin before the epoch's end) a fill pass stores the rows of every item
 * still missing; later epochs then hit on every batch. A binding made at the
 * very end of an epoch is filled at the end of the next one: a run resumed
 * from an epoch checkpoint makes its first changes after that epoch's fill,
 * the straight run made them before it, and both must replay alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "train_job_internal.h"

void train_cache_bind(Job *j, int64_t origin, int quiet)
{
    const RunConfig *c = j->core.cfg;
    char why[256] = "", note[sizeof j->cache_note];
    int on = 0;
    if (!c->feature_cache) {
        snprintf(why, sizeof why, "feature_cache is false");
    } else if (j->gpu) {
        snprintf(why, sizeof why, "the run trains on the GPU (the cache is CPU-only)");
    } else if (c->augment) {
        snprintf(why, sizeof why, "dataset.augment is on (the train transform is random); "
                 "set it to false to cache the frozen features");
    } else {
        on = feature_cache_bind(&j->cache, &j->model.graph, thaw_dataset_count(j->train),
                                0, why, sizeof why);
    }
    if (!on || !j->cache.kept) {
        j->cache_gen++;
        j->cache_origin = origin;
    }
    if (!on) {
        feature_cache_free(&j->cache);
        feature_cache_free(&j->val_cache);
        snprintf(note, sizeof note, "feature cache off: %s", why);
    } else {
        const FeatureCache *fc = &j->cache;
        snprintf(note, sizeof note, "feature cache on: boundary before op %d (%dx%dx%d per "
                 "sample, %.1f MB for %lld items)", fc->b.first_op, fc->h, fc->w, fc->c,
                 (double)fc->items * (double)fc->b.row * sizeof(float) / 1048576.0,
                 (long long)fc->items);
    }
    if (strcmp(note, j->cache_note) != 0) {
        snprintf(j->cache_note, sizeof j->cache_note, "%s", note);
        if (!quiet) {
            job_core_log(&j->core, "%s", note);
        }
    }
}

/* Boundary rows of one batch, as the filling forward stores them. */
static void fill_rows(Job *j, const ThawBatch *b)
{
    Model *m = &j->model;
    FeatureCache *fc = &j->cache;
    if (fc->active && !feature_cache_has_all(fc, b->items, b->count)) {
        model_set_input(m, b->images);
        graph_forward_range(&m->graph, &m->params, 0, fc->b.first_op);
        feature_cache_store(fc, &m->graph, b->items, b->count);
    }
}

/* The item transform of the training loader: the cache is bound only without
 * augmentation, where job_open_data gives the loader this eval transform. */
static ThawTransform train_transform(const Job *j)
{
    const RunConfig *c = j->core.cfg;
    int size = c->image_size;
    int short_side = c->data_kind == DATA_FASHION_MNIST ? 0 : size * 256 / 224;
    return thaw_transform_eval(short_side, size);
}

/* The fill pass: the missing items in ascending order, in batches of the
 * planned training batch, the last one zero-padded (as validation pads);
 * the forward stops at the boundary. *batches counts the forwards. */
static int fill_missing(Job *j, int64_t *batches)
{
    Model *m = &j->model;
    FeatureCache *fc = &j->cache;
    int n = j->train_batch;
    ThawTransform t = train_transform(j);
    size_t per = (size_t)3 * (size_t)t.out_h * (size_t)t.out_w;
    float *images = malloc(per * (size_t)n * sizeof *images);
    int64_t *items = malloc((size_t)n * sizeof *items);
    int rc = 0;
    if (!images || !items) {
        rc = thaw_fail(j->core.err, THAW_ERR_NOMEM, "out of memory for the feature cache fill");
    }
    int count;
    while (rc == 0 && (count = feature_cache_next_missing(fc, items, n)) > 0) {
        memset(images, 0, per * (size_t)n * sizeof *images);
        for (int i = 0; i < count && rc == 0; i++) {
            rc = thaw_dataset_load(j->train, items[i], &t, 0, images + per * (size_t)i,
                                   j->core.err);
        }
        if (rc == 0) {
            model_set_input(m, images);
            graph_forward_range(&m->graph, &m->params, 0, fc->b.first_op);
            feature_cache_store(fc, &m->graph, items, count);
            (*batches)++;
        }
    }
    free(images);
    free(items);
    return rc;
}

/* Whether the fill pass runs after the batches of epoch `epoch`, with the
 * current binding: it began before the epoch's end, rows are missing and a
 * later epoch will read them. */
static int fill_due(const Job *j, int epoch)
{
    const FeatureCache *fc = &j->cache;
    return fc->active && fc->n_filled < fc->items && epoch + 1 < j->core.cfg->epochs &&
           j->cache_origin < (int64_t)(epoch + 1) * j->core.steps_per_epoch;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int train_cache_fill(Job *j)
{
    if (!fill_due(j, j->core.epoch)) {
        return 0;
    }
    int64_t before = j->cache.n_filled, batches = 0;
    double t0 = seconds();
    int rc = fill_missing(j, &batches);
    if (rc == 0) {
        int64_t rows = j->cache.n_filled - before;
        job_core_log(&j->core, "epoch %d: feature cache filled %lld row%s its batches did not draw "
                     "(%lld batch%s, %.2f s)", j->core.epoch + 1, (long long)rows,
                     rows == 1 ? "" : "s", (long long)batches, batches == 1 ? "" : "es",
                     seconds() - t0);
    }
    return rc;
}

int train_cache_replay(Job *j)
{
    if (!j->cache.active) {
        return 0;
    }
    int64_t spe = j->core.steps_per_epoch;
    for (int e = (int)(j->cache_origin / spe); e <= j->core.epoch; e++) {
        int rc = thaw_loader_start_epoch(j->train_loader, e, j->core.err);
        if (rc != 0) {
            return rc;
        }
        const ThawBatch *b = NULL;
        int64_t step = (int64_t)e * spe;
        while (step < j->core.global_step &&
               (rc = thaw_loader_next(j->train_loader, &b, j->core.err)) == 0 && b) {
            if (step >= j->cache_origin) {
                fill_rows(j, b);
            }
            step++;
        }
        /* a finished epoch ran its fill pass before its checkpoint; the
         * epoch in progress runs it when its batches are done */
        int64_t batches = 0;
        if (rc == 0 && e < j->core.epoch && fill_due(j, e)) {
            rc = fill_missing(j, &batches);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int train_cache_forward(Job *j, const ThawBatch *b)
{
    Model *m = &j->model;
    FeatureCache *fc = &j->cache;
    if (!fc->active) {
        model_forward(m, b->images);
        return 0;
    }
    if (feature_cache_has_all(fc, b->items, b->count)) {
        feature_cache_load(fc, &m->graph, b->items, b->count);
        graph_forward_from(&m->graph, &m->params, fc->b.first_op);
        return 1;
    }
    model_set_input(m, b->images);
    graph_forward_range(&m->graph, &m->params, 0, fc->b.first_op);
    feature_cache_store(fc, &m->graph, b->items, b->count);
    graph_forward_from(&m->graph, &m->params, fc->b.first_op);
    return 0;
}

void val_cache_begin(Job *j)
{
    j->val_hits = j->val_seen = 0;
    FeatureCache *vc = &j->val_cache;
    if (!j->cache.active) {
        feature_cache_free(vc);
        return;
    }
    if (vc->active && j->val_gen == j->cache_gen) {
        return;
    }
    feature_cache_free(vc);
    char why[256];
    if (feature_cache_bind_at(vc, &j->model.graph, &j->cache.b, thaw_dataset_count(j->val),
                              0, why, sizeof why)) {
        j->val_gen = j->cache_gen;
    } else {
        feature_cache_free(vc);
        job_core_log(&j->core, "validation feature cache off: %s", why);
    }
}

void val_cache_forward(Job *j, const ThawBatch *b, const float *input)
{
    Model *m = &j->model;
    FeatureCache *vc = &j->val_cache;
    j->val_seen += b->count;
    if (!vc->active) {
        model_forward(m, input);
        return;
    }
    if (feature_cache_has_all(vc, b->items, b->count)) {
        feature_cache_load(vc, &m->graph, b->items, b->count);
        graph_forward_from(&m->graph, &m->params, vc->b.first_op);
        j->val_hits += b->count;
        return;
    }
    model_set_input(m, input);
    graph_forward_range(&m->graph, &m->params, 0, vc->b.first_op);
    feature_cache_store(vc, &m->graph, b->items, b->count);
    graph_forward_from(&m->graph, &m->params, vc->b.first_op);
}

void train_cache_describe(const Job *j, char *out, size_t cap)
{
    const FeatureCache *fc = &j->cache, *vc = &j->val_cache;
    if (!fc->active) {
        snprintf(out, cap, "%s", j->cache_note);
        return;
    }
    snprintf(out, cap, "%s; %lld of %lld train rows filled; val rows %lld of %lld",
             j->cache_note, (long long)fc->n_filled, (long long)fc->items,
             vc->active ? (long long)vc->n_filled : 0LL,
             j->val ? (long long)thaw_dataset_count(j->val) : 0LL);
}
