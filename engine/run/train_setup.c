/* Setting up the training job: the data (source, subset, split, loaders)
 * and the model (head, pretrained backbone, strategy and group settings,
 * optimizer, schedule). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/data/dataset.h"
#include "engine/data/loader.h"
#include "train_job_internal.h"

/* ---- data ---- */

int job_open_data(Job *j)
{
    const RunConfig *c = j->core.cfg;
    int rc;
    /* Folders and CSVs are decoded in full once here, so a truncated or
     * corrupt image is skipped with a warning instead of stopping the run
     * when a loader worker meets it (the cost: one decode per image). */
    switch (c->data_kind) {
    case DATA_FASHION_MNIST:
        rc = thaw_dataset_open_fashion_mnist(c->data_path, 1, &j->source, j->core.err);
        break;
    case DATA_IMAGE_FOLDER:
        rc = thaw_dataset_open_folder(c->data_path, THAW_VERIFY_DECODE, &j->source, j->core.err);
        break;
    default:
        rc = thaw_dataset_open_csv(c->data_path, c->num_classes, THAW_VERIFY_DECODE,
                                   &j->source, j->core.err);
        break;
    }
    if (rc != 0) {
        return rc;
    }
    /* corrupt files were skipped when the folder or CSV was opened: say which */
    for (int k = 0; k < thaw_dataset_num_warnings(j->source); k++) {
        job_core_log(&j->core, "warning: %s", thaw_dataset_warning(j->source, k));
    }
    if (thaw_dataset_skipped(j->source) > 0) {
        job_core_log(&j->core, "skipped %lld unreadable image(s) in %s; training on the other %lld",
                     (long long)thaw_dataset_skipped(j->source), c->data_path,
                     (long long)thaw_dataset_count(j->source));
    }
    const ThawDataset *base = j->source;
    if (c->subset_per_class > 0) {
        rc = thaw_dataset_subset_per_class(j->source, c->subset_per_class, c->data_seed,
                                           &j->subset, j->core.err);
        if (rc != 0) {
            return rc;
        }
        base = j->subset;
    }
    rc = thaw_dataset_split(base, c->val_fraction, c->data_seed, &j->train, &j->val,
                            j->core.err);
    if (rc != 0) {
        return rc;
    }
    j->classes = thaw_dataset_num_classes(j->source);
    int64_t n_train = thaw_dataset_count(j->train);
    if (n_train < 1) {
        return thaw_fail(j->core.err, THAW_ERR_ARG, "%s: key 'dataset': no training items",
                         c->path);
    }
    j->train_batch = n_train >= c->batch ? c->batch : (int)n_train;

    ThawLoaderConfig lc = {0};
    lc.batch_size = j->train_batch;
    lc.workers = c->workers;
    lc.shuffle = 1;
    lc.drop_last = 1;
    lc.seed = c->seed;
    int size = c->image_size;
    int short_side = c->data_kind == DATA_FASHION_MNIST ? 0 : size * 256 / 224;
    lc.transform = c->augment ? thaw_transform_train(size)
                              : thaw_transform_eval(short_side, size);
    rc = thaw_loader_create(j->train, &lc, &j->train_loader, j->core.err);
    if (rc == 0 && thaw_dataset_count(j->val) > 0) {
        lc.shuffle = 0;
        lc.drop_last = 0;
        lc.batch_size = c->batch;
        lc.transform = thaw_transform_eval(short_side, size);
        rc = thaw_loader_create(j->val, &lc, &j->val_loader, j->core.err);
    }
    if (rc == 0) {
        j->core.steps_per_epoch = thaw_loader_num_batches(j->train_loader);
        j->core.total_steps = j->core.steps_per_epoch * c->epochs;
    }
    return rc;
}

/* ---- model, strategy, optimizer ---- */

static int in_list(const char (*names)[RUN_NAME_MAX], int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

int job_setup_model(Job *j)
{
    const RunConfig *c = j->core.cfg;
    Model *m = &j->model;
    int rc = model_create_with_head(m, c->arch, j->classes, c->head_hidden, c->seed, j->core.err);
    if (rc != 0) {
        return thaw_fail(j->core.err, THAW_ERR_ARG, "%s: key 'model.arch': %s", c->path,
                         j->core.err->msg);
    }
    if (c->image_size < m->arch->min_input) {
        return thaw_fail(j->core.err, THAW_ERR_ARG,
                         "%s: key 'dataset.image_size' must be >= %d for %s",
                         c->path, m->arch->min_input, c->arch);
    }
    if (c->weights[0]) {
        int ignored = 0;
        char list[256];
        rc = model_load_backbone(m, c->weights, &ignored, list, sizeof list, j->core.err);
        if (rc != 0) {
            return rc;
        }
        job_core_log(&j->core,
                     "loaded backbone from %s; %d classifier keys replaced by the new head (%s)",
                     c->weights, ignored, ignored ? list : "none");
    }
    ParamTable *t = &m->params;
    int head = params_find_group(t, "head");
    rc = job_core_check_group_names(&j->core, t);
    if (rc != 0) {
        return rc;
    }
    for (int g = 0; g < t->n_groups; g++) {
        ParamGroup *pg = &t->groups[g];
        int trainable = g == head || c->strategy == STRATEGY_FULL;
        if (c->strategy == STRATEGY_FINE_TUNE) {
            if (c->n_trainable > 0) {
                trainable |= in_list(c->trainable, c->n_trainable, pg->name);
            } else {
                trainable |= g == head - 1;   /* the last backbone group */
            }
        }
        job_core_group_settings(&j->core, t, g, trainable, c->lr);
    }
    /* layer choices on top of the groups' (frozen_layers, trainable_layers) */
    rc = job_core_apply_layer_choices(&j->core, t, "layer4.0.conv1, fc.0");
    rc = rc ? rc : job_core_setup_optimizer(&j->core, t);
    if (rc != 0) {
        return rc;
    }
    m->graph.dropout_rng = c->seed ^ 0x5DEECE66Dull;

    char line[768];
    size_t used = (size_t)snprintf(line, sizeof line, "%s, %s, %d classes; trainable:",
                                   c->arch, run_strategy_name(c->strategy), j->classes);
    for (int g = 0; g < t->n_groups && used < sizeof line; g++) {
        size_t all = params_count_weights(t, g, 0), on = params_count_weights(t, g, 1);
        if (on > 0) {
            used += (size_t)snprintf(line + used, sizeof line - used, " %s(lr %g%s)",
                                     t->groups[g].name, j->core.base_lr[g],
                                     on < all ? ", some layers frozen" : "");
        }
    }
    TrainEvent ev = {.kind = TRAIN_EV_START, .msg = line, .num_classes = j->classes};
    job_core_emit(&j->core, &ev);
    return 0;
}
