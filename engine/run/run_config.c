#include "run_config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *path;
    ThawError *err;
} Ctx;

static const char *STRATEGIES[] = {"feature_extraction", "fine_tune", "full"};
static const char *DATA_KINDS[] = {"fashion_mnist", "image_folder", "csv",
                                    "text_csv", "text_jsonl", "fortunes"};
#define N_DATA_KINDS 6

const char *run_strategy_name(RunStrategy s)
{
    return (unsigned)s < 3 ? STRATEGIES[s] : "?";
}

const char *run_data_kind_name(RunDataKind k)
{
    return (unsigned)k < N_DATA_KINDS ? DATA_KINDS[k] : "?";
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

void run_config_free(RunConfig *cfg)
{
    free(cfg->json);
    cfg->json = NULL;
}

static void key_path(char *buf, size_t cap, const char *prefix, const char *key)
{
    if (prefix && prefix[0]) {
        snprintf(buf, cap, "%s.%s", prefix, key);
    } else {
        snprintf(buf, cap, "%s", key);
    }
}

/* Every member of obj must be one of the names in allowed (NULL-terminated). */
static int check_keys(Ctx *c, const cJSON *obj, const char *prefix,
                      const char *const *allowed)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        int ok = 0;
        for (int i = 0; allowed[i]; i++) {
            if (strcmp(it->string, allowed[i]) == 0) {
                ok = 1;
            }
        }
        if (!ok) {
            char key[256];
            key_path(key, sizeof key, prefix, it->string);
            char list[512] = "";
            size_t used = 0;
            for (int i = 0; allowed[i] && used < sizeof list; i++) {
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                         i ? ", " : "", allowed[i]);
            }
            return thaw_fail(c->err, THAW_ERR_ARG, "%s: unknown key '%s' (known: %s)",
                             c->path, key, list);
        }
    }
    return 0;
}

static int get_number(Ctx *c, const cJSON *obj, const char *prefix,
                      const char *name, double lo, double hi, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v) {
        return 0;
    }
    char key[256];
    key_path(key, sizeof key, prefix, name);
    if (!cJSON_IsNumber(v)) {
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' must be a number",
                         c->path, key);
    }
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi)) {
        return thaw_fail(c->err, THAW_ERR_ARG,
                         "%s: key '%s' must be between %g and %g, got %g",
                         c->path, key, lo, hi, d);
    }
    *out = d;
    return 0;
}

static int get_int(Ctx *c, const cJSON *obj, const char *prefix,
                   const char *name, double lo, double hi, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v) {
        return 0;
    }
    char key[256];
    key_path(key, sizeof key, prefix, name);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble)) {
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' must be an integer",
                         c->path, key);
    }
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi)) {
        return thaw_fail(c->err, THAW_ERR_ARG,
                         "%s: key '%s' must be between %.0f and %.0f, got %.0f",
                         c->path, key, lo, hi, d);
    }
    *out = (int64_t)d;
    return 0;
}

static int get_int32(Ctx *c, const cJSON *obj, const char *prefix,
                     const char *name, int lo, int hi, int *out)
{
    int64_t v = *out;
    int rc = get_int(c, obj, prefix, name, lo, hi, &v);
    *out = (int)v;
    return rc;
}

static int get_bool(Ctx *c, const cJSON *obj, const char *prefix,
                    const char *name, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v) {
        return 0;
    }
    if (!cJSON_IsBool(v)) {
        char key[256];
        key_path(key, sizeof key, prefix, name);
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' must be true or false",
                         c->path, key);
    }
    *out = cJSON_IsTrue(v);
    return 0;
}

/* A string into out (cap bytes); *found set when present. */
static int get_string(Ctx *c, const cJSON *obj, const char *prefix,
                      const char *name, char *out, size_t cap, int *found)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (found) {
        *found = v != NULL;
    }
    if (!v) {
        return 0;
    }
    char key[256];
    key_path(key, sizeof key, prefix, name);
    if (!cJSON_IsString(v)) {
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' must be a string",
                         c->path, key);
    }
    if (strlen(v->valuestring) >= cap || v->valuestring[0] == '\0') {
        return thaw_fail(c->err, THAW_ERR_ARG,
                         "%s: key '%s' must be a non-empty string under %zu bytes",
                         c->path, key, cap);
    }
    snprintf(out, cap, "%s", v->valuestring);
    return 0;
}

/* A string that must be one of names[0..n); *index set. */
static int get_enum(Ctx *c, const cJSON *obj, const char *prefix,
                    const char *name, const char *const *names, int n,
                    int *index, int *found)
{
    char buf[RUN_NAME_MAX * 2];
    int present = 0;
    int rc = get_string(c, obj, prefix, name, buf, sizeof buf, &present);
    if (found) {
        *found = present;
    }
    if (rc != 0 || !present) {
        return rc;
    }
    for (int i = 0; i < n; i++) {
        if (strcmp(buf, names[i]) == 0) {
            *index = i;
            return 0;
        }
    }
    char key[256], list[256] = "";
    key_path(key, sizeof key, prefix, name);
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                 i ? ", " : "", names[i]);
    }
    return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' must be one of %s, got '%s'",
                     c->path, key, list, buf);
}

/* An optional object member; NULL when absent, error when not an object. */
static int get_object(Ctx *c, const cJSON *obj, const char *prefix,
                      const char *name, const cJSON **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    *out = NULL;
    if (!v) {
        return 0;
    }
    if (!cJSON_IsObject(v)) {
        char key[256];
        key_path(key, sizeof key, prefix, name);
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' must be an object",
                         c->path, key);
    }
    *out = v;
    return 0;
}

static int missing(Ctx *c, const char *key)
{
    return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' is required", c->path, key);
}

/* Expands a leading "~/" to $HOME. */
static void expand_home(char *path, size_t cap)
{
    const char *home = getenv("HOME");
    if (path[0] == '~' && path[1] == '/' && home) {
        char tmp[RUN_PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s%s", home, path + 1);
        snprintf(path, cap, "%s", tmp);
    }
}

static int parse_model(Ctx *c, RunConfig *cfg, const cJSON *m)
{
    static const char *const keys[] = {"arch", "weights", "head", "pretrained", NULL};
    static const char *const heads[] = {"mlp", "linear"};
    static const char *const text_heads[] = {"mean", "cls"};
    int found = 0, head = 0;
    int rc = check_keys(c, m, "model", keys);
    rc = rc ? rc : get_string(c, m, "model", "arch", cfg->arch, sizeof cfg->arch, &found);
    if (rc == 0 && !found) {
        return missing(c, "model.arch");
    }
    rc = rc ? rc : get_string(c, m, "model", "weights", cfg->weights, sizeof cfg->weights, NULL);
    expand_home(cfg->weights, sizeof cfg->weights);
    if (rc == 0 && (strcmp(cfg->arch, "minilm") == 0 || strcmp(cfg->arch, "bert") == 0)) {
        text_defaults(cfg);
        if (!cfg->weights[0]) {
            return thaw_fail(c->err, THAW_ERR_ARG, "%s: key 'model.weights' is required for "
                             "bert (a folder with config.json, vocab.txt, model.safetensors)",
                             c->path);
        }
        rc = get_enum(c, m, "model", "head", text_heads, 2, &head, &found);
        cfg->head_cls = found ? head : cfg->head_cls;
        return rc ? rc : get_bool(c, m, "model", "pretrained", &cfg->pretrained);
    }
    if (rc == 0 && cJSON_GetObjectItemCaseSensitive(m, "pretrained")) {
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: key 'model.pretrained' applies to text "
                         "encoders (minilm, bert); leave model.weights out for random init",
                         c->path);
    }
    rc = rc ? rc : get_enum(c, m, "model", "head", heads, 2, &head, &found);
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
    int rc = get_int32(c, d, "dataset", "max_length", 3, 100000, &cfg->max_length);
    rc = rc ? rc : get_string(c, d, "dataset", "text_column", cfg->text_column,
                              sizeof cfg->text_column, NULL);
    rc = rc ? rc : get_string(c, d, "dataset", "label_column", cfg->label_column,
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
        return missing(c, "dataset.topics");
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

static int parse_dataset(Ctx *c, RunConfig *cfg, const cJSON *d)
{
    static const char *const keys[] = {"type", "path", "subset_per_class",
                                       "val_fraction", "image_size", "seed",
                                       "num_classes", "augment", NULL};
    static const char *const text_keys[] = {"type", "path", "subset_per_class",
                                            "val_fraction", "seed", "num_classes",
                                            "max_length", "topics", "text_column",
                                            "label_column", NULL};
    int found = 0, kind = 0, has_path = 0;
    int rc = get_enum(c, d, "dataset", "type", DATA_KINDS, N_DATA_KINDS, &kind, &found);
    if (rc == 0 && !found) {
        return missing(c, "dataset.type");
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
    rc = rc ? rc : check_keys(c, d, "dataset", cfg->text ? text_keys : keys);
    if (rc == 0 && cfg->text) {
        rc = parse_text_dataset(c, cfg, d);
    }
    if (rc == 0 && cfg->data_kind == DATA_FORTUNES) {
        snprintf(cfg->data_path, sizeof cfg->data_path, "%s", "/usr/share/games/fortunes");
    }
    rc = rc ? rc : get_string(c, d, "dataset", "path", cfg->data_path,
                              sizeof cfg->data_path, &has_path);
    if (rc == 0 && !has_path && cfg->data_kind != DATA_FASHION_MNIST &&
        cfg->data_kind != DATA_FORTUNES) {
        return missing(c, "dataset.path");
    }
    expand_home(cfg->data_path, sizeof cfg->data_path);
    rc = rc ? rc : get_int(c, d, "dataset", "subset_per_class", 0, 1e12,
                           &cfg->subset_per_class);
    rc = rc ? rc : get_number(c, d, "dataset", "val_fraction", 0.0, 0.9,
                              &cfg->val_fraction);
    rc = rc ? rc : get_int32(c, d, "dataset", "image_size", 32, 4096, &cfg->image_size);
    int64_t seed = (int64_t)cfg->seed;
    rc = rc ? rc : get_int(c, d, "dataset", "seed", 0, 9007199254740991.0, &seed);
    cfg->data_seed = (uint64_t)seed;
    rc = rc ? rc : get_int32(c, d, "dataset", "num_classes", 0, 100000, &cfg->num_classes);
    rc = rc ? rc : get_bool(c, d, "dataset", "augment", &cfg->augment);
    return rc;
}

static int parse_name_list(Ctx *c, const cJSON *v, const char *key,
                           char (*out)[RUN_NAME_MAX], int *n)
{
    if (!cJSON_IsArray(v)) {
        return thaw_fail(c->err, THAW_ERR_ARG,
                         "%s: key '%s' must be a list of group names", c->path, key);
    }
    *n = 0;
    for (const cJSON *it = v->child; it; it = it->next) {
        if (!cJSON_IsString(it) || strlen(it->valuestring) >= RUN_NAME_MAX ||
            !it->valuestring[0]) {
            return thaw_fail(c->err, THAW_ERR_ARG,
                             "%s: key '%s' must be a list of group names", c->path, key);
        }
        if (*n == RUN_MAX_GROUPS) {
            return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' has more than %d names",
                             c->path, key, RUN_MAX_GROUPS);
        }
        snprintf(out[(*n)++], RUN_NAME_MAX, "%s", it->valuestring);
    }
    return 0;
}

/* frozen_layers / trainable_layers: module names, checked against the
 * model when it is built (train_setup.c); a name in both lists is an error. */
static int parse_layer_list(Ctx *c, RunConfig *cfg, const cJSON *root, const char *key,
                            int frozen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) {
        return 0;
    }
    if (!cJSON_IsArray(v)) {
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' must be a list of layer names "
                         "(PyTorch modules such as \"layer4.0.bn1\")", c->path, key);
    }
    int i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        if (!cJSON_IsString(it) || !it->valuestring[0] ||
            strlen(it->valuestring) >= PARAM_NAME_MAX) {
            return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s[%d]' must be a layer name "
                             "(a non-empty string under %d characters)", c->path, key, i,
                             PARAM_NAME_MAX);
        }
        for (int k = 0; k < cfg->n_layers; k++) {
            if (strcmp(cfg->layers[k].name, it->valuestring) == 0) {
                return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s[%d]': layer '%s' is "
                                 "already listed%s", c->path, key, i, it->valuestring,
                                 cfg->layers[k].frozen != frozen
                                     ? " in the other of frozen_layers / trainable_layers"
                                     : "");
            }
        }
        if (cfg->n_layers == RUN_MAX_LAYERS) {
            return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s': more than %d layers in "
                             "frozen_layers and trainable_layers", c->path, key,
                             RUN_MAX_LAYERS);
        }
        RunLayer *l = &cfg->layers[cfg->n_layers++];
        snprintf(l->name, sizeof l->name, "%s", it->valuestring);
        l->frozen = frozen;
        l->index = i;
    }
    return 0;
}

static int parse_groups(Ctx *c, RunConfig *cfg, const cJSON *g)
{
    static const char *const keys[] = {"lr", "weight_decay", "frozen", NULL};
    for (const cJSON *it = g->child; it; it = it->next) {
        char prefix[128];
        snprintf(prefix, sizeof prefix, "groups.%s", it->string);
        if (!cJSON_IsObject(it)) {
            return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s' must be an object",
                             c->path, prefix);
        }
        if (cfg->n_groups == RUN_MAX_GROUPS || strlen(it->string) >= RUN_NAME_MAX) {
            return thaw_fail(c->err, THAW_ERR_ARG, "%s: key '%s': too many groups or name too long",
                             c->path, prefix);
        }
        RunGroup *grp = &cfg->groups[cfg->n_groups++];
        memset(grp, 0, sizeof *grp);
        snprintf(grp->name, sizeof grp->name, "%s", it->string);
        int rc = check_keys(c, it, prefix, keys);
        grp->lr = -1;
        grp->weight_decay = -1;
        rc = rc ? rc : get_number(c, it, prefix, "lr", 0.0, 1e3, &grp->lr);
        rc = rc ? rc : get_number(c, it, prefix, "weight_decay", 0.0, 1e3, &grp->weight_decay);
        grp->frozen = -1;
        rc = rc ? rc : get_bool(c, it, prefix, "frozen", &grp->frozen);
        if (rc) {
            return rc;
        }
        grp->has_lr = grp->lr >= 0;
        grp->has_weight_decay = grp->weight_decay >= 0;
        grp->has_frozen = grp->frozen >= 0;
    }
    return 0;
}

static int parse_optimizer(Ctx *c, RunConfig *cfg, const cJSON *o)
{
    static const char *const keys[] = {"name", "lr", "weight_decay", "momentum",
                                       "nesterov", NULL};
    static const char *const names[] = {"sgd", "adamw"};
    int kind = 1;
    int rc = check_keys(c, o, "optimizer", keys);
    rc = rc ? rc : get_enum(c, o, "optimizer", "name", names, 2, &kind, NULL);
    cfg->optimizer = kind == 0 ? OPT_SGD : OPT_ADAMW;
    rc = rc ? rc : get_number(c, o, "optimizer", "lr", 1e-12, 1e3, &cfg->lr);
    rc = rc ? rc : get_number(c, o, "optimizer", "weight_decay", 0.0, 1e3, &cfg->weight_decay);
    rc = rc ? rc : get_number(c, o, "optimizer", "momentum", 0.0, 1.0, &cfg->momentum);
    rc = rc ? rc : get_bool(c, o, "optimizer", "nesterov", &cfg->nesterov);
    if (rc == 0 && cfg->optimizer == OPT_ADAMW &&
        (cJSON_GetObjectItemCaseSensitive(o, "momentum") ||
         cJSON_GetObjectItemCaseSensitive(o, "nesterov"))) {
        return thaw_fail(c->err, THAW_ERR_ARG,
                         "%s: key 'optimizer.momentum' and 'optimizer.nesterov' apply to sgd only",
                         c->path);
    }
    return rc;
}

static int parse_schedule(Ctx *c, RunConfig *cfg, const cJSON *s)
{
    static const char *const keys[] = {"name", "warmup_ratio", "step_size", "gamma",
                                       "pct_start", NULL};
    static const char *const names[] = {"constant", "step", "cosine", "onecycle", "linear"};
    int kind = (int)cfg->schedule.kind;
    int rc = check_keys(c, s, "schedule", keys);
    rc = rc ? rc : get_enum(c, s, "schedule", "name", names, 5, &kind, NULL);
    cfg->schedule.kind = (ScheduleKind)kind;
    rc = rc ? rc : get_number(c, s, "schedule", "warmup_ratio", 0.0, 0.99, &cfg->warmup_ratio);
    rc = rc ? rc : get_int32(c, s, "schedule", "step_size", 1, 1000000, &cfg->step_size);
    rc = rc ? rc : get_number(c, s, "schedule", "gamma", 0.0, 10.0, &cfg->schedule.gamma);
    rc = rc ? rc : get_number(c, s, "schedule", "pct_start", 0.01, 0.99,
                              &cfg->schedule.pct_start);
    return rc;
}

static int parse_root(Ctx *c, RunConfig *cfg, const cJSON *root)
{
    static const char *const keys[] = {
        "model", "dataset", "strategy", "trainable", "groups", "optimizer",
        "schedule", "epochs", "batch", "seed", "label_smoothing",
        "early_stopping", "train_bn", "threads", "workers", "feature_cache",
        "frozen_layers", "trainable_layers", "layer_lr_decay", NULL};
    if (!cJSON_IsObject(root)) {
        return thaw_fail(c->err, THAW_ERR_ARG, "%s: a run file must be a JSON object",
                         c->path);
    }
    int rc = check_keys(c, root, "", keys);
    int64_t seed = 0;
    rc = rc ? rc : get_int(c, root, "", "seed", 0, 9007199254740991.0, &seed);
    cfg->seed = (uint64_t)seed;
    cfg->data_seed = cfg->seed;
    const cJSON *obj = NULL;
    rc = rc ? rc : get_object(c, root, "", "model", &obj);
    if (rc == 0 && !obj) {
        return missing(c, "model");
    }
    rc = rc ? rc : parse_model(c, cfg, obj);
    rc = rc ? rc : get_object(c, root, "", "dataset", &obj);
    if (rc == 0 && !obj) {
        return missing(c, "dataset");
    }
    rc = rc ? rc : parse_dataset(c, cfg, obj);
    int strategy = (int)cfg->strategy;   /* text encoders default to full */
    rc = rc ? rc : get_enum(c, root, "", "strategy", STRATEGIES, 3, &strategy, NULL);
    cfg->strategy = (RunStrategy)strategy;
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "trainable");
    if (rc == 0 && tr) {
        if (cfg->strategy != STRATEGY_FINE_TUNE) {
            return thaw_fail(c->err, THAW_ERR_ARG,
                             "%s: key 'trainable' applies to strategy fine_tune only",
                             c->path);
        }
        rc = parse_name_list(c, tr, "trainable", cfg->trainable, &cfg->n_trainable);
    }
    rc = rc ? rc : get_object(c, root, "", "groups", &obj);
    if (rc == 0 && obj) {
        rc = parse_groups(c, cfg, obj);
    }
    rc = rc ? rc : parse_layer_list(c, cfg, root, "frozen_layers", 1);
    rc = rc ? rc : parse_layer_list(c, cfg, root, "trainable_layers", 0);
    rc = rc ? rc : get_object(c, root, "", "optimizer", &obj);
    if (rc == 0 && obj) {
        rc = parse_optimizer(c, cfg, obj);
    }
    rc = rc ? rc : get_object(c, root, "", "schedule", &obj);
    if (rc == 0 && obj) {
        rc = parse_schedule(c, cfg, obj);
    }
    rc = rc ? rc : get_int32(c, root, "", "epochs", 1, 1000000, &cfg->epochs);
    rc = rc ? rc : get_int32(c, root, "", "batch", 1, 65536, &cfg->batch);
    rc = rc ? rc : get_number(c, root, "", "label_smoothing", 0.0, 0.99,
                              &cfg->label_smoothing);
    rc = rc ? rc : get_object(c, root, "", "early_stopping", &obj);
    if (rc == 0 && obj) {
        static const char *const es_keys[] = {"patience", "min_delta", NULL};
        rc = check_keys(c, obj, "early_stopping", es_keys);
        cfg->patience = 3;
        rc = rc ? rc : get_int32(c, obj, "early_stopping", "patience", 1, 1000000,
                                 &cfg->patience);
        rc = rc ? rc : get_number(c, obj, "early_stopping", "min_delta", 0.0, 1e9,
                                  &cfg->min_delta);
    }
    rc = rc ? rc : get_bool(c, root, "", "train_bn", &cfg->train_bn);
    rc = rc ? rc : get_int32(c, root, "", "threads", 0, 1024, &cfg->threads);
    rc = rc ? rc : get_int32(c, root, "", "workers", 1, 64, &cfg->workers);
    rc = rc ? rc : get_bool(c, root, "", "feature_cache", &cfg->feature_cache);
    rc = rc ? rc : get_number(c, root, "", "layer_lr_decay", 1e-6, 1.0, &cfg->layer_lr_decay);
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
