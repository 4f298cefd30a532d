#include "text_evaluate.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/io/safetensors.h"

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

static int open_file(const RunConfig *c, const char *path, ThawTextDataset **out,
                     ThawError *err)
{
    if (ends_with(path, ".jsonl") || ends_with(path, ".json")) {
        return thaw_text_open_jsonl(path, c->text_column, c->label_column, 0, out, err);
    }
    return thaw_text_open_csv(path, 0, c->text_column, c->label_column, 0, out, err);
}

/* Class k of ds -> the checkpoint's class with the same name. */
static int map_classes(const TextCheckpoint *tc, const ThawTextDataset *ds, const char *name,
                       int *map, ThawError *err)
{
    for (int k = 0; k < thaw_text_num_classes(ds); k++) {
        const char *label = thaw_text_class_name(ds, k);
        map[k] = -1;
        for (int c = 0; c < tc->classes && map[k] < 0; c++) {
            map[k] = strcmp(tc->class_names[c], label) == 0 ? c : -1;
        }
        if (map[k] < 0) {
            char list[256] = "";
            size_t used = 0;
            for (int c = 0; c < tc->classes && used < sizeof list; c++) {
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", c ? ", " : "",
                                         tc->class_names[c]);
            }
            return thaw_fail(err, THAW_ERR_MISMATCH, "%s: label '%s' is not a class of the "
                             "checkpoint (%s)", name, label, list);
        }
    }
    return 0;
}

int text_eval_open_set(const TextCheckpoint *tc, int val_split, const char *data,
                       TextEvalSet *set, ThawError *err)
{
    memset(set, 0, sizeof *set);
    const RunConfig *c = &tc->cfg;
    const char *name = data ? data : c->data_path[0] ? c->data_path : "the run's dataset";
    ThawTextDataset *source = NULL, *subset = NULL, *train = NULL, *val = NULL;
    int rc = data ? open_file(c, data, &source, err) : text_data_open_source(c, &source, err);
    if (rc == 0 && val_split) {
        rc = text_data_split(c, source, &subset, &train, &val, err);
        if (rc == 0 && thaw_text_count(val) == 0) {
            rc = thaw_fail(err, THAW_ERR_ARG, "%s: the run has no validation split "
                           "(val_fraction %g)", name, c->val_fraction);
        }
    }
    const ThawTextDataset *items = val_split ? val : source;
    int *map = NULL;
    if (rc == 0) {
        set->skipped_empty = thaw_text_skipped_empty(source);
        set->invalid_utf8 = thaw_text_invalid_utf8(source);
        map = malloc((size_t)thaw_text_num_classes(source) * sizeof *map + 1);
        rc = map ? map_classes(tc, source, name, map, err)
                 : thaw_fail(err, THAW_ERR_NOMEM, "out of memory");
    }
    if (rc == 0 && thaw_text_count(items) == 0) {
        rc = thaw_fail(err, THAW_ERR_ARG, "%s: no texts to evaluate", name);
    }
    rc = rc ? rc : text_data_tokenize(tc->wp, items, c->max_length, &set->tok, &set->truncated,
                                      NULL, err);
    for (int64_t i = 0; rc == 0 && i < set->tok.n; i++) {
        set->tok.labels[i] = map[set->tok.labels[i]];
    }
    free(map);
    thaw_text_free(val);
    thaw_text_free(train);
    thaw_text_free(subset);
    thaw_text_free(source);
    if (rc != 0) {
        text_eval_set_free(set);
    }
    return rc;
}

void text_eval_set_free(TextEvalSet *set)
{
    text_tokens_free(&set->tok);
}

int text_eval_run(TextCheckpoint *tc, const TextTokens *tok, int batch, float *logits,
                  EvalResult *res, ThawError *err)
{
    int k = tc->classes;
    if (res) {
        memset(res, 0, sizeof *res);
        res->classes = k;
        res->confusion = calloc((size_t)k * k, sizeof *res->confusion);
    }
    if (tc->cfg.threads > 0) {
        omp_set_num_threads(tc->cfg.threads);   /* as training ran */
    }
    int n = (int)(tok->n < batch ? tok->n : batch);
    size_t cells = (size_t)n * (size_t)tc->cfg.max_length;
    int32_t *ids = malloc(cells * sizeof *ids), *mask = malloc(cells * sizeof *mask);
    int64_t *items = malloc((size_t)n * sizeof *items);
    int rc = ids && mask && items && (!res || res->confusion) ? 0
             : thaw_fail(err, THAW_ERR_NOMEM, "out of memory");
    int32_t pad = thaw_wordpiece_special_ids(tc->wp).pad;
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t first = 0; rc == 0 && first < tok->n; first += n) {
        int count = (int)(tok->n - first < n ? tok->n - first : n);
        for (int b = 0; b < count; b++) {
            items[b] = first + b;
        }
        int seq = text_tokens_fill_batch(tok, items, count, pad, ids, mask, NULL);
        rc = bert_plan(&tc->model, count, seq, 0, err);
        rc = rc ? rc : bert_forward(&tc->model, ids, NULL, mask, err);
        if (rc != 0) {
            break;
        }
        const float *z = bert_logits(&tc->model);
        if (logits) {
            memcpy(logits + (size_t)first * k, z, (size_t)count * k * sizeof *z);
        }
        if (res) {
            correct += eval_score_logits(z, tok->labels + first, count, k, &loss_sum,
                                         res->confusion);
            res->count += count;
        }
    }
    free(ids);
    free(mask);
    free(items);
    if (res && rc != 0) {
        eval_result_free(res);
    } else if (res && res->count > 0) {
        res->loss = loss_sum / (double)res->count;
        res->accuracy = (double)correct / (double)res->count;
    }
    return rc;
}

int text_eval_write_logits(const char *path, const TextTokens *tok, int32_t pad,
                           const float *logits, int classes, ThawError *err)
{
    int64_t seq = 1;
    for (int64_t i = 0; i < tok->n; i++) {
        int64_t len = tok->start[i + 1] - tok->start[i];
        seq = len > seq ? len : seq;
    }
    size_t cells = (size_t)tok->n * (size_t)seq;
    int32_t *ids = malloc(cells * sizeof *ids + 4), *mask = malloc(cells * sizeof *mask + 4);
    if (!ids || !mask) {
        free(ids);
        free(mask);
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory writing %s", path);
    }
    for (int64_t i = 0; i < tok->n; i++) {
        int64_t s = tok->start[i], len = tok->start[i + 1] - s;
        for (int64_t t = 0; t < seq; t++) {
            ids[i * seq + t] = t < len ? tok->ids[s + t] : pad;
            mask[i * seq + t] = t < len;
        }
    }
    StWriteTensor out[4] = {
        {.name = "input_ids", .dtype = ST_I32, .ndim = 2, .shape = {tok->n, seq}, .data = ids},
        {.name = "attention_mask", .dtype = ST_I32, .ndim = 2, .shape = {tok->n, seq},
         .data = mask},
        {.name = "labels", .dtype = ST_I32, .ndim = 1, .shape = {tok->n}, .data = tok->labels},
        {.name = "logits", .dtype = ST_F32, .ndim = 2, .shape = {tok->n, classes},
         .data = logits},
    };
    StMeta meta[] = {{"format", "thaw-logits-1"}};
    int rc = st_write(path, out, 4, meta, 1, err);
    free(ids);
    free(mask);
    return rc;
}
