/* Run files: defaults, the root object (which sections and top-level keys
 * there are, in parse order), parsing text and reading the file. The
 * sections are parsed in run_config_model.c and run_config_train.c, with
 * the key getters of run_config_json.c. */
#include "run_config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *STRATEGIES[] = {"feature_extraction", "fine_tune", "full"};

const char *run_strategy_name(RunStrategy s)
{
    return (unsigned)s < 3 ? STRATEGIES[s] : "?";
}

void run_config_defaults(RunConfig *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->head_hidden = 256;
    snprintf(cfg->data_path, sizeof cfg->data_path, "%s",
             "/usr/share/datasets/fashion-mnist");
    cfg->val_fraction = 0.1;
    cfg->image_size = 224;
    cfg->augment = 1;
    cfg->feature_cache = 1;
    cfg->strategy = STRATEGY_FEATURE_EXTRACTION;
    cfg->optimizer = OPT_ADAMW;
    cfg->lr = 1e-3;
    cfg->momentum = 0.9;
    cfg->schedule.kind = SCHED_CONSTANT;
    cfg->schedule.gamma = 0.1;
    cfg->schedule.pct_start = 0.3;
    cfg->schedule.div_factor = 25.0;
    cfg->schedule.final_div_factor = 1e4;
    cfg->step_size = 1;
    cfg->epochs = 3;
    cfg->batch = 32;
    cfg->workers = 2;
    cfg->pretrained = 1;
    cfg->layer_lr_decay = 1.0;
    cfg->max_length = 128;
}

void run_config_free(RunConfig *cfg)
{
    free(cfg->json);
    cfg->json = NULL;
}

/* "precision": fp32 (default), tf32 (the GPU's convolutions and matrix
 * products on TF32 tensor cores, PyTorch's allow_tf32) or bf16 (image
 * models on the GPU: bf16 activations and matrix operands, fp32 master
 * weights and optimizer, PyTorch's autocast; engine/cuda/cuda_context.h).
 * Both only change GPU math: on the CPU the run is fp32 and says so. */
static int parse_precision(Ctx *c, RunConfig *cfg, const cJSON *root)
{
    static const char *PRECISIONS[] = {"fp32", "tf32", "bf16"};
    int which = 0;
    int rc = run_get_enum(c, root, "", "precision", PRECISIONS, 3, &which, NULL);
    cfg->tf32 = which == 1;
    cfg->bf16 = which == 2;
    return rc;
}

static int parse_root(Ctx *c, RunConfig *cfg, const cJSON *root)
{
    static const char *const keys[] = {
        "model", "dataset", "strategy", "trainable", "groups", "optimizer",
        "schedule", "epochs", "batch", "seed", "label_smoothing",
        "early_stopping", "train_bn", "threads", "workers", "feature_cache",
        "frozen_layers", "trainable_layers", "layer_lr_decay", "precision", NULL};
    if (!cJSON_IsObject(root)) {
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: a run file must be a JSON object",
                         c->path);
    }
    int rc = run_check_keys(c, root, "", keys);
    int64_t seed = 0;
    rc = rc ? rc : run_get_int(c, root, "", "seed", 0, 9007199254740991.0, &seed);
    cfg->seed = (uint64_t)seed;
    cfg->data_seed = cfg->seed;
    const cJSON *obj = NULL;
    rc = rc ? rc : run_get_object(c, root, "", "model", &obj);
    if (rc == 0 && !obj) {
        return run_missing(c, "model");
    }
    rc = rc ? rc : run_parse_model(c, cfg, obj);
    rc = rc ? rc : run_get_object(c, root, "", "dataset", &obj);
    if (rc == 0 && !obj) {
        return run_missing(c, "dataset");
    }
    rc = rc ? rc : run_parse_dataset(c, cfg, obj);
    int strategy = (int)cfg->strategy;   /* text encoders default to full */
    rc = rc ? rc : run_get_enum(c, root, "", "strategy", STRATEGIES, 3, &strategy, NULL);
    cfg->strategy = (RunStrategy)strategy;
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "trainable");
    if (rc == 0 && tr) {
        if (cfg->strategy != STRATEGY_FINE_TUNE) {
            return thaw_fail(c->err, THAW_ERR_ARG,
                             "%s: key 'trainable' applies to strategy fine_tune only",
                             c->path);
        }
        rc = run_parse_name_list(c, tr, "trainable", cfg->trainable, &cfg->n_trainable);
    }
    rc = rc ? rc : run_get_object(c, root, "", "groups", &obj);
    if (rc == 0 && obj) {
        rc = run_parse_groups(c, cfg, obj);
    }
    rc = rc ? rc : run_parse_layer_list(c, cfg, root, "frozen_layers", 1);
    rc = rc ? rc : run_parse_layer_list(c, cfg, root, "trainable_layers", 0);
    rc = rc ? rc : run_get_object(c, root, "", "optimizer", &obj);
    if (rc == 0 && obj) {
        rc = run_parse_optimizer(c, cfg, obj);
    }
    rc = rc ? rc : run_get_object(c, root, "", "schedule", &obj);
    if (rc == 0 && obj) {
        rc = run_parse_schedule(c, cfg, obj);
    }
    rc = rc ? rc : run_get_int32(c, root, "", "epochs", 1, 1000000, &cfg->epochs);
    rc = rc ? rc : run_get_int32(c, root, "", "batch", 1, 65536, &cfg->batch);
    rc = rc ? rc : run_get_number(c, root, "", "label_smoothing", 0.0, 0.99,
                              &cfg->label_smoothing);
    rc = rc ? rc : run_get_object(c, root, "", "early_stopping", &obj);
    if (rc == 0 && obj) {
        static const char *const es_keys[] = {"patience", "min_delta", NULL};
        rc = run_check_keys(c, obj, "early_stopping", es_keys);
        cfg->patience = 3;
        rc = rc ? rc : run_get_int32(c, obj, "early_stopping", "patience", 1, 1000000,
                                 &cfg->patience);
        rc = rc ? rc : run_get_number(c, obj, "early_stopping", "min_delta", 0.0, 1e9,
                                  &cfg->min_delta);
    }
    rc = rc ? rc : run_get_bool(c, root, "", "train_bn", &cfg->train_bn);
    rc = rc ? rc : run_get_int32(c, root, "", "threads", 0, 1024, &cfg->threads);
    rc = rc ? rc : run_get_int32(c, root, "", "workers", 1, 64, &cfg->workers);
    rc = rc ? rc : run_get_bool(c, root, "", "feature_cache", &cfg->feature_cache);
    rc = rc ? rc : run_get_number(c, root, "", "layer_lr_decay", 1e-6, 1.0, &cfg->layer_lr_decay);
    rc = rc ? rc : parse_precision(c, cfg, root);
    if (rc == 0 && !cfg->text && cJSON_GetObjectItemCaseSensitive(root, "layer_lr_decay")) {
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: key 'layer_lr_decay' applies to text "
                         "encoders (minilm, bert) only", c->path);
    }
    return rc;
}

int run_config_parse(RunConfig *cfg, const char *path, const char *text,
                     ThawError *err)
{
    run_config_defaults(cfg);
    snprintf(cfg->path, sizeof cfg->path, "%s", path);
    Ctx c = {path, err};
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        long line = 1;
        for (const char *p = text; end && p < end; p++) {
            line += *p == '\n';
        }
        return thaw_fail(err, THAW_ERR_ARG, "%s: not valid JSON (line %ld)", path, line);
    }
    int rc = parse_root(&c, cfg, root);
    cJSON_Delete(root);
    if (rc == 0) {
        cfg->json = strdup(text);
        if (!cfg->json) {
            rc = thaw_fail(err, THAW_ERR_NOMEM, "out of memory");
        }
    }
    return rc;
}

int run_config_load(RunConfig *cfg, const char *path, ThawError *err)
{
    run_config_defaults(cfg);
    FILE *f = fopen(path, "rb");
    if (!f) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot open run file: %s", path,
                         strerror(errno));
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > (16u << 20)) {
                free(buf);
                fclose(f);
                return thaw_fail(err, THAW_ERR_ARG, "%s: run file over 16 MiB", path);
            }
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return thaw_fail(err, THAW_ERR_NOMEM, "out of memory");
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, 4096, f);
        len += got;
        if (got < 4096) {
            break;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return thaw_fail(err, THAW_ERR_IO, "%s: read error", path);
    }
    buf[len] = '\0';
    int rc = run_config_parse(cfg, path, buf, err);
    free(buf);
    return rc;
}
