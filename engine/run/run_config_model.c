/* Run files: the model and dataset sections, and the text recipe's
 * defaults that a text arch (minilm, bert) brings. */
#include "run_config_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *DATA_KINDS[] = {"fashion_mnist", "image_folder", "csv",
                                    "text_csv", "text_jsonl", "fortunes"};
#define N_DATA_KINDS 6

const char *run_data_kind_name(RunDataKind k)
{
    return (unsigned)k < N_DATA_KINDS ? DATA_KINDS[k] : "?";
}

/* The text recipe (MISSION.md): every group trains, AdamW lr 2e-5, linear
 * decay after a warmup over 10% of the steps, batch 16; keys given in the
 * run file override these (they are parsed after the model). */
static void text_defaults(RunConfig *cfg)
{
    const char *cache = getenv("THAW_CACHE");
    const char *home = getenv("HOME");
    cfg->text = 1;
    cfg->head_cls = strcmp(cfg->arch, "bert") == 0;
    cfg->strategy = STRATEGY_FULL;
    cfg->lr = 2e-5;
    cfg->batch = 16;
    cfg->schedule.kind = SCHED_LINEAR;
    cfg->warmup_ratio = 0.1;
    cfg->feature_cache = 0;
    if (!cfg->weights[0] && strcmp(cfg->arch, "minilm") == 0) {
        if (cache && cache[0]) {
            snprintf(cfg->weights, sizeof cfg->weights, "%s/weights/all-minilm-l6-v2", cache);
        } else {
            snprintf(cfg->weights, sizeof cfg->weights, "%s/.cache/thaw/weights/all-minilm-l6-v2",
                     home ? home : ".");
        }
    }
}

int run_parse_model(Ctx *c, RunConfig *cfg, const cJSON *m)
{
    static const char *const keys[] = {"arch", "weights", "head", "pretrained", NULL};
    static const char *const heads[] = {"mlp", "linear"};
    static const char *const text_heads[] = {"mean", "cls"};
    int found = 0, head = 0;
    int rc = run_check_keys(c, m, "model", keys);
    rc = rc ? rc : run_get_string(c, m, "model", "arch", cfg->arch, sizeof cfg->arch, &found);
    if (rc == 0 && !found) {
        return run_missing(c, "model.arch");
    }
    rc = rc ? rc : run_get_string(c, m, "model", "weights", cfg->weights, sizeof cfg->weights,
                                  NULL);
    run_expand_home(cfg->weights, sizeof cfg->weights);
    if (rc == 0 && (strcmp(cfg->arch, "minilm") == 0 || strcmp(cfg->arch, "bert") == 0)) {
        text_defaults(cfg);
        if (!cfg->weights[0]) {
            return thaw_fail(c->err, THAW_ERR_ARG, "%s: key 'model.weights' is required for "
                             "%s (a folder with config.json, vocab.txt and model.safetensors or "
                             "pytorch_model.bin)",
                             c->path, cfg->arch);
        }
        rc = run_get_enum(c, m, "model", "head", text_heads, 2, &head, &found);
        cfg->head_cls = found ? head : cfg->head_cls;
        return rc ? rc : run_get_bool(c, m, "model", "pretrained", &cfg->pretrained);
    }
    if (rc == 0 && cJSON_GetObjectItemCaseSensitive(m, "pretrained")) {
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: key 'model.pretrained' applies to text "
                         "encoders (minilm, bert); leave model.weights out for random init",
                         c->path);
    }
    rc = rc ? rc : run_get_enum(c, m, "model", "head", heads, 2, &head, &found);
    if (rc == 0 && found) {
        cfg->head_hidden = head == 0 ? 256 : 0;
    }
    return rc;
}

/* max_length, topics (fortunes), text_column / label_column (text_csv,
 * text_jsonl). */
static int parse_text_dataset(Ctx *c, RunConfig *cfg, const cJSON *d)
{
    snprintf(cfg->text_column, sizeof cfg->text_column, "text");
    snprintf(cfg->label_column, sizeof cfg->label_column, "label");
    int rc = run_get_int32(c, d, "dataset", "max_length", 3, 100000, &cfg->max_length);
    rc = rc ? rc : run_get_string(c, d, "dataset", "text_column", cfg->text_column,
                              sizeof cfg->text_column, NULL);
    rc = rc ? rc : run_get_string(c, d, "dataset", "label_column", cfg->label_column,
                              sizeof cfg->label_column, NULL);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "topics");
    if (rc != 0) {
        return rc;
    }
    if (cfg->data_kind != DATA_FORTUNES) {
        return t ? thaw_fail(c->err, THAW_ERR_ARG, "%s: key 'dataset.topics' applies to "
                             "dataset.type fortunes only", c->path) : 0;
    }
    if (!t) {
        return run_missing(c, "dataset.topics");
    }
    int n = cJSON_IsArray(t) ? cJSON_GetArraySize(t) : -1;
    if (n < 2 || n > RUN_MAX_TOPICS) {
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: key 'dataset.topics' must be a list of 2 "
                         "to %d fortunes topics (files in /usr/share/games/fortunes)", c->path,
                         RUN_MAX_TOPICS);
    }
    cfg->n_topics = 0;
    for (const cJSON *it = t->child; it; it = it->next) {
        if (!cJSON_IsString(it) || !it->valuestring[0] ||
            strlen(it->valuestring) >= RUN_NAME_MAX) {
            return thaw_fail(c->err, THAW_ERR_ARG, "%s: key 'dataset.topics[%d]' must be a "
                             "topic name", c->path, cfg->n_topics);
        }
        snprintf(cfg->topics[cfg->n_topics++], RUN_NAME_MAX, "%s", it->valuestring);
    }
    return 0;
}

int run_parse_dataset(Ctx *c, RunConfig *cfg, const cJSON *d)
{
    static const char *const keys[] = {"type", "path", "subset_per_class",
                                       "val_fraction", "image_size", "seed",
                                       "num_classes", "augment", NULL};
    static const char *const text_keys[] = {"type", "path", "subset_per_class",
                                            "val_fraction", "seed", "num_classes",
                                            "max_length", "topics", "text_column",
                                            "label_column", NULL};
    int found = 0, kind = 0, has_path = 0;
    int rc = run_get_enum(c, d, "dataset", "type", DATA_KINDS, N_DATA_KINDS, &kind, &found);
    if (rc == 0 && !found) {
        return run_missing(c, "dataset.type");
    }
    cfg->data_kind = (RunDataKind)kind;
    int text_data = kind >= DATA_TEXT_CSV;
    if (rc == 0 && text_data != cfg->text) {
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: key 'dataset.type': '%s' is a%s dataset, "
                         "but model.arch '%s' needs %s", c->path, DATA_KINDS[kind],
                         text_data ? " text" : "n image", cfg->arch,
                         cfg->text ? "text_csv, text_jsonl or fortunes"
                                   : "fashion_mnist, image_folder or csv");
    }
    rc = rc ? rc : run_check_keys(c, d, "dataset", cfg->text ? text_keys : keys);
    if (rc == 0 && cfg->text) {
        rc = parse_text_dataset(c, cfg, d);
    }
    if (rc == 0 && cfg->data_kind == DATA_FORTUNES) {
        snprintf(cfg->data_path, sizeof cfg->data_path, "%s", "/usr/share/games/fortunes");
    }
    rc = rc ? rc : run_get_string(c, d, "dataset", "path", cfg->data_path,
                              sizeof cfg->data_path, &has_path);
    if (rc == 0 && !has_path && cfg->data_kind != DATA_FASHION_MNIST &&
        cfg->data_kind != DATA_FORTUNES) {
        return run_missing(c, "dataset.path");
    }
    run_expand_home(cfg->data_path, sizeof cfg->data_path);
    rc = rc ? rc : run_get_int(c, d, "dataset", "subset_per_class", 0, 1e12,
                           &cfg->subset_per_class);
    rc = rc ? rc : run_get_number(c, d, "dataset", "val_fraction", 0.0, 0.9,
                              &cfg->val_fraction);
    rc = rc ? rc : run_get_int32(c, d, "dataset", "image_size", 32, 4096, &cfg->image_size);
    int64_t seed = (int64_t)cfg->seed;
    rc = rc ? rc : run_get_int(c, d, "dataset", "seed", 0, 9007199254740991.0, &seed);
    cfg->data_seed = (uint64_t)seed;
    rc = rc ? rc : run_get_int32(c, d, "dataset", "num_classes", 0, 100000, &cfg->num_classes);
    rc = rc ? rc : run_get_bool(c, d, "dataset", "augment", &cfg->augment);
    return rc;
}
