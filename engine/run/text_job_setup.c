/* Setting up a text job: the texts (source, subset, split, token ids once)
 * and the encoder (config.json, vocab.txt, model.safetensors of
 * model.weights; head, strategy, groups, layer-wise lr decay, optimizer,
 * schedule). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_job_internal.h"

/* ---- data ---- */

/* config.json and vocab.txt of model.weights; the vocab must fit the
 * embedding table. */
static int load_encoder_files(TextJob *j)
{
    const RunConfig *c = j->core.cfg;
    char path[RUN_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/config.json", c->weights);
    int rc = bert_config_load(&j->bcfg, path, j->core.err);
    if (rc != 0) {
        return thaw_fail(j->core.err, rc, "%s: key 'model.weights': %s", c->path, j->core.err->msg);
    }
    snprintf(path, sizeof path, "%s/vocab.txt", c->weights);
    rc = thaw_wordpiece_load(&j->wp, path, j->core.err);
    if (rc != 0) {
        return thaw_fail(j->core.err, rc, "%s: key 'model.weights': %s", c->path, j->core.err->msg);
    }
    size_t nv = thaw_wordpiece_vocab_size(j->wp);
    if (nv > (size_t)j->bcfg.vocab_size) {
        return thaw_fail(j->core.err, THAW_ERR_MISMATCH, "%s: %zu tokens, but config.json's "
                         "vocab_size (the embedding rows) is %d: this vocab does not belong "
                         "to these weights", path, nv, j->bcfg.vocab_size);
    }
    if (c->max_length > j->bcfg.max_position) {
        return thaw_fail(j->core.err, THAW_ERR_ARG, "%s: key 'dataset.max_length' is %d, but %s "
                         "has %d positions", c->path, c->max_length, c->arch,
                         j->bcfg.max_position);
    }
    return 0;
}

int text_job_open_data(TextJob *j)
{
    const RunConfig *c = j->core.cfg;
    int rc = load_encoder_files(j);
    rc = rc ? rc : text_data_open_source(c, &j->source, j->core.err);
    if (rc != 0) {
        return rc;
    }
    if (thaw_text_skipped_empty(j->source) > 0) {
        job_core_log(&j->core,
                     "skipped %lld empty text(s) in %s",
                     (long long)thaw_text_skipped_empty(j->source),
                     c->data_path);
    }
    if (thaw_text_invalid_utf8(j->source) > 0) {
        job_core_log(&j->core,
                     "warning: %lld text(s) in %s are not valid UTF-8: their invalid bytes are "
                     "dropped (read as U+FFFD, which BERT's cleaning removes)",
                     (long long)thaw_text_invalid_utf8(j->source), c->data_path);
    }
    rc = text_data_split(c, j->source, &j->subset, &j->train, &j->val, j->core.err);
    if (rc != 0) {
        return rc;
    }
    j->classes = thaw_text_num_classes(j->source);
    int64_t n_train = thaw_text_count(j->train);
    if (n_train < 1) {
        return thaw_fail(j->core.err, THAW_ERR_ARG,
                         "%s: key 'dataset': no training items", c->path);
    }
    int64_t truncated = 0;
    double tokens = 0;
    rc = text_data_tokenize(j->wp, j->train, c->max_length, &j->train_tok, &truncated, &tokens,
                            j->core.err);
    rc = rc ? rc : text_data_tokenize(j->wp, j->val, c->max_length, &j->val_tok, &truncated,
                                      &tokens, j->core.err);
    if (rc != 0) {
        return rc;
    }
    int64_t n_all = n_train + j->val_tok.n;
    job_core_log(&j->core,
                 "%s: %lld texts in %d classes (train %lld, validation %lld); max_length %d: "
                 "%.1f tokens per text on average, %lld truncated",
                 run_data_kind_name(c->data_kind), (long long)n_all, j->classes,
                 (long long)n_train, (long long)j->val_tok.n, c->max_length,
                 n_all ? tokens / (double)n_all : 0.0, (long long)truncated);
    j->core.steps_per_epoch = (n_train + c->batch - 1) / c->batch;
    j->core.total_steps = j->core.steps_per_epoch * c->epochs;
    size_t cells = (size_t)c->batch * (size_t)c->max_length;
    j->ids = malloc(cells * sizeof *j->ids);
    j->mask = malloc(cells * sizeof *j->mask);
    j->labels = malloc((size_t)c->batch * sizeof *j->labels);
    j->order = malloc((size_t)n_train * sizeof *j->order);
    j->confusion = calloc((size_t)j->classes * j->classes, sizeof *j->confusion);
    if (!j->ids || !j->mask || !j->labels || !j->order || !j->confusion) {
        return thaw_fail(j->core.err, THAW_ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* ---- model ---- */

static int in_list(const char (*names)[RUN_NAME_MAX], int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Depth of a group for layer-wise lr decay: embeddings 0, encoder.layer.k
 * k + 1, pooler and classifier L (the top). */
static int group_depth(const char *name, int layers)
{
    int k;
    if (strcmp(name, "embeddings") == 0) {
        return 0;
    }
    if (sscanf(name, "encoder.layer.%d", &k) == 1) {
        return k + 1;
    }
    return layers;
}


static void apply_groups(TextJob *j)
{
    const RunConfig *c = j->core.cfg;
    ParamTable *t = &j->model.params;
    int head = params_find_group(t, "classifier");
    int pooler = params_find_group(t, "pooler");
    char last[RUN_NAME_MAX];
    snprintf(last, sizeof last, "encoder.layer.%d", j->bcfg.num_layers - 1);
    for (int g = 0; g < t->n_groups; g++) {
        ParamGroup *pg = &t->groups[g];
        int trainable = g == head || c->strategy == STRATEGY_FULL;
        if (c->strategy == STRATEGY_FINE_TUNE) {
            trainable |= c->n_trainable > 0 ? in_list(c->trainable, c->n_trainable, pg->name)
                                            : g == pooler || strcmp(pg->name, last) == 0;
        }
        int depth = group_depth(pg->name, j->bcfg.num_layers);
        job_core_group_settings(&j->core, t, g, trainable,
                                c->lr * pow(c->layer_lr_decay, j->bcfg.num_layers - depth));
    }
}

int text_job_setup_model(TextJob *j)
{
    const RunConfig *c = j->core.cfg;
    BertHead head = c->head_cls ? BERT_HEAD_CLS : BERT_HEAD_MEAN;
    int rc = bert_create(&j->model, &j->bcfg, head, j->classes, c->seed, j->core.err);
    if (rc != 0) {
        return thaw_fail(j->core.err, rc, "%s: key 'model.weights': %s", c->path, j->core.err->msg);
    }
    if (c->pretrained) {
        char path[RUN_PATH_MAX + 32];
        BertLoadInfo info;
        rc = bert_weights_file(c->weights, path, sizeof path, j->core.err);
        rc = rc ? rc : bert_load_weights(&j->model, path, &info, j->core.err);
        if (rc != 0) {
            return rc;
        }
        job_core_log(&j->core, "loaded the encoder from %s; %s", path, info.note);
    } else {
        job_core_log(&j->core,
                     "random init (model.pretrained false): %s's shape from %s/config.json",
                     c->arch, c->weights);
    }
    rc = job_core_check_group_names(&j->core, &j->model.params);
    if (rc != 0) {
        return rc;
    }
    apply_groups(j);
    ParamTable *t = &j->model.params;
    /* layer choices on top of the groups' (frozen_layers, trainable_layers) */
    rc = job_core_apply_layer_choices(&j->core, t,
                                      "encoder.layer.3.attention.self.query, pooler.dense");
    rc = rc ? rc : job_core_setup_optimizer(&j->core, t);
    if (rc != 0) {
        return rc;
    }

    char line[1024];
    size_t used = (size_t)snprintf(line, sizeof line, "%s (%d layers, hidden %d), %s head, %s, "
                                   "%d classes, %s schedule; trainable:", c->arch,
                                   j->bcfg.num_layers, j->bcfg.hidden_size,
                                   c->head_cls ? "cls" : "mean", run_strategy_name(c->strategy),
                                   j->classes, schedule_name(c->schedule.kind));
    for (int g = 0; g < t->n_groups && used < sizeof line; g++) {
        if (!t->groups[g].frozen) {
            used += (size_t)snprintf(line + used, sizeof line - used, " %s(lr %.3g)",
                                     t->groups[g].name, j->core.base_lr[g]);
        }
    }
    TrainEvent ev = {.kind = TRAIN_EV_START, .msg = line, .num_classes = j->classes};
    job_core_emit(&j->core, &ev);
    return 0;
}

void text_job_free(TextJob *j)
{
    text_tokens_free(&j->train_tok);
    text_tokens_free(&j->val_tok);
    thaw_text_free(j->train);
    thaw_text_free(j->val);
    thaw_text_free(j->subset);
    thaw_text_free(j->source);
    thaw_wordpiece_free(j->wp);
    optimizer_free(&j->core.optim);
    bert_free(&j->model);
    free(j->ids);
    free(j->mask);
    free(j->labels);
    free(j->order);
    free(j->confusion);
}
