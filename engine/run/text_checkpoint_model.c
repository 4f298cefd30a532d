#include "text_checkpoint_model.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/io/safetensors.h"
#include "engine/run/checkpoint_model.h"

CheckpointTask checkpoint_task(const char *path)
{
    SafeTensors *st = NULL;
    ThawError ignored = {0};
    if (st_open(&st, path, &ignored) != 0) {
        return CHECKPOINT_NOT_THAW;
    }
    const char *fmt = st_metadata(st, "format"), *task = st_metadata(st, "task");
    CheckpointTask kind = CHECKPOINT_NOT_THAW;
    if (fmt && strcmp(fmt, CHECKPOINT_FORMAT) == 0 && st_metadata(st, "run")) {
        kind = task && strcmp(task, TEXT_TASK) == 0 ? CHECKPOINT_TEXT : CHECKPOINT_IMAGE;
    }
    st_close(st);
    return kind;
}

/* Metadata "classes": a JSON list of at least one distinct string. */
static int read_class_names(TextCheckpoint *tc, const SafeTensors *st, const char *path,
                            ThawError *err)
{
    const char *text = st_metadata(st, "classes");
    cJSON *list = text ? cJSON_Parse(text) : NULL;
    int n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;
    int rc = n >= 1 ? 0 : thaw_fail(err, THAW_ERR_FORMAT, "%s: metadata 'classes' is not a "
                                    "JSON list of class names", path);
    tc->class_names = rc == 0 ? calloc((size_t)(n >= 1 ? n : 1), sizeof *tc->class_names) : NULL;
    if (rc == 0 && !tc->class_names) {
        rc = thaw_fail(err, THAW_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < n && rc == 0; k++) {
        const cJSON *item = cJSON_GetArrayItem(list, k);
        if (!cJSON_IsString(item)) {
            rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: metadata 'classes'[%d] is not a string",
                           path, k);
            break;
        }
        tc->class_names[k] = strdup(item->valuestring);
        tc->classes = k + 1;
        if (!tc->class_names[k]) {
            rc = thaw_fail(err, THAW_ERR_NOMEM, "out of memory");
        }
    }
    cJSON_Delete(list);
    return rc;
}

/* config.json and vocab.txt of the run's model.weights. */
static int load_encoder_files(TextCheckpoint *tc, const char *path, ThawError *err)
{
    const RunConfig *c = &tc->cfg;
    snprintf(tc->config_path, sizeof tc->config_path, "%s/config.json", c->weights);
    snprintf(tc->vocab_path, sizeof tc->vocab_path, "%s/vocab.txt", c->weights);
    char msg[sizeof err->msg];
    int rc = bert_config_load(&tc->bcfg, tc->config_path, err);
    if (rc == 0) {
        rc = thaw_wordpiece_load(&tc->wp, tc->vocab_path, err);
    }
    if (rc != 0) {
        snprintf(msg, sizeof msg, "%s", err->msg);
        return thaw_fail(err, rc, "%.200s (the run's model.weights): %s", path, msg);
    }
    size_t nv = thaw_wordpiece_vocab_size(tc->wp);
    if (nv > (size_t)tc->bcfg.vocab_size) {
        return thaw_fail(err, THAW_ERR_MISMATCH, "%s: %zu tokens, but %s's vocab_size (the "
                         "embedding rows of %s) is %d: this vocab does not belong to the model",
                         tc->vocab_path, nv, tc->config_path, path, tc->bcfg.vocab_size);
    }
    return 0;
}

/* Strict: every parameter with its shape; besides them only opt.* keys. */
static int load_params(BertModel *m, const SafeTensors *st, const char *arch, ThawError *err)
{
    const ParamTable *t = &m->params;
    int rc = 0;
    for (int i = 0; i < t->count && rc == 0; i++) {
        const ParamInfo *p = &t->items[i];
        rc = st_load_f32(st, p->name, p->ndim, p->shape, params_data(t, i), err);
    }
    for (int i = 0; i < st_count(st) && rc == 0; i++) {
        const char *name = st_info(st, i)->name;
        if (strncmp(name, "opt.", 4) != 0 && params_find(t, name) < 0) {
            rc = thaw_fail(err, THAW_ERR_MISMATCH, "%s: unexpected key '%s' (not a parameter "
                           "of %s)", st_path(st), name, arch);
        }
    }
    return rc;
}

static int open_with(TextCheckpoint *tc, const SafeTensors *st, const char *path,
                     ThawError *err)
{
    const char *fmt = st_metadata(st, "format"), *task = st_metadata(st, "task");
    const char *run_json = st_metadata(st, "run");
    if (!fmt || strcmp(fmt, CHECKPOINT_FORMAT) != 0 || !run_json) {
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: not a thaw checkpoint (no metadata "
                         "'format' = %s with the run file)", path, CHECKPOINT_FORMAT);
    }
    if (!task || strcmp(task, TEXT_TASK) != 0) {
        return thaw_fail(err, THAW_ERR_MISMATCH, "%s: an image classification checkpoint, "
                         "not a text one (metadata 'task' is not %s)", path, TEXT_TASK);
    }
    char label[RUN_PATH_MAX + 32];
    snprintf(label, sizeof label, "%s (metadata 'run')", path);
    int rc = run_config_parse(&tc->cfg, label, run_json, err);
    if (rc == 0 && !tc->cfg.text) {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: model.arch '%s' is not a text encoder", label,
                       tc->cfg.arch);
    }
    rc = rc ? rc : read_class_names(tc, st, path, err);
    rc = rc ? rc : load_encoder_files(tc, path, err);
    if (rc != 0) {
        return rc;
    }
    BertHead head = tc->cfg.head_cls ? BERT_HEAD_CLS : BERT_HEAD_MEAN;
    rc = bert_create(&tc->model, &tc->bcfg, head, tc->classes, tc->cfg.seed, err);
    if (rc != 0) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return thaw_fail(err, rc, "%.200s: %s", tc->config_path, msg);
    }
    rc = load_params(&tc->model, st, tc->cfg.arch, err);
    const char *epoch = st_metadata(st, "epoch");
    snprintf(tc->epoch, sizeof tc->epoch, "%s", epoch ? epoch : "");
    return rc;
}

int text_checkpoint_open(TextCheckpoint *tc, const char *path, ThawError *err)
{
    memset(tc, 0, sizeof *tc);
    run_config_defaults(&tc->cfg);
    SafeTensors *st = NULL;
    int rc = st_open(&st, path, err);
    if (rc != 0) {
        return rc;
    }
    rc = open_with(tc, st, path, err);
    st_close(st);
    if (rc != 0) {
        text_checkpoint_free(tc);
    }
    return rc;
}

void text_checkpoint_free(TextCheckpoint *tc)
{
    bert_free(&tc->model);
    thaw_wordpiece_free(tc->wp);
    for (int k = 0; k < tc->classes; k++) {
        free(tc->class_names[k]);
    }
    free(tc->class_names);
    run_config_free(&tc->cfg);
    memset(tc, 0, sizeof *tc);
}
