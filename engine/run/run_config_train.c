/* Run files: what trains and how - trainable groups, per-group settings,
 * frozen_layers / trainable_layers, the optimizer and the schedule. */
#include "run_config_internal.h"

#include <stdio.h>
#include <string.h>

int run_parse_name_list(Ctx *c, const cJSON *v, const char *key,
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
int run_parse_layer_list(Ctx *c, RunConfig *cfg, const cJSON *root, const char *key,
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

int run_parse_groups(Ctx *c, RunConfig *cfg, const cJSON *g)
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
        int rc = run_check_keys(c, it, prefix, keys);
        grp->lr = -1;
        grp->weight_decay = -1;
        rc = rc ? rc : run_get_number(c, it, prefix, "lr", 0.0, 1e3, &grp->lr);
        rc = rc ? rc : run_get_number(c, it, prefix, "weight_decay", 0.0, 1e3, &grp->weight_decay);
        grp->frozen = -1;
        rc = rc ? rc : run_get_bool(c, it, prefix, "frozen", &grp->frozen);
        if (rc) {
            return rc;
        }
        grp->has_lr = grp->lr >= 0;
        grp->has_weight_decay = grp->weight_decay >= 0;
        grp->has_frozen = grp->frozen >= 0;
    }
    return 0;
}

int run_parse_optimizer(Ctx *c, RunConfig *cfg, const cJSON *o)
{
    static const char *const keys[] = {"name", "lr", "weight_decay", "momentum",
                                       "nesterov", NULL};
    static const char *const names[] = {"sgd", "adamw"};
    int kind = 1;
    int rc = run_check_keys(c, o, "optimizer", keys);
    rc = rc ? rc : run_get_enum(c, o, "optimizer", "name", names, 2, &kind, NULL);
    cfg->optimizer = kind == 0 ? OPT_SGD : OPT_ADAMW;
    rc = rc ? rc : run_get_number(c, o, "optimizer", "lr", 1e-12, 1e3, &cfg->lr);
    rc = rc ? rc : run_get_number(c, o, "optimizer", "weight_decay", 0.0, 1e3, &cfg->weight_decay);
    rc = rc ? rc : run_get_number(c, o, "optimizer", "momentum", 0.0, 1.0, &cfg->momentum);
    rc = rc ? rc : run_get_bool(c, o, "optimizer", "nesterov", &cfg->nesterov);
    if (rc == 0 && cfg->optimizer == OPT_ADAMW &&
        (cJSON_GetObjectItemCaseSensitive(o, "momentum") ||
         cJSON_GetObjectItemCaseSensitive(o, "nesterov"))) {
        return thaw_fail(c->err, THAW_ERR_ARG,
                         "%s: key 'optimizer.momentum' and 'optimizer.nesterov' apply to sgd only",
                         c->path);
    }
    return rc;
}

int run_parse_schedule(Ctx *c, RunConfig *cfg, const cJSON *s)
{
    static const char *const keys[] = {"name", "warmup_ratio", "step_size", "gamma",
                                       "pct_start", NULL};
    static const char *const names[] = {"constant", "step", "cosine", "onecycle", "linear"};
    int kind = (int)cfg->schedule.kind;
    int rc = run_check_keys(c, s, "schedule", keys);
    rc = rc ? rc : run_get_enum(c, s, "schedule", "name", names, 5, &kind, NULL);
    cfg->schedule.kind = (ScheduleKind)kind;
    rc = rc ? rc : run_get_number(c, s, "schedule", "warmup_ratio", 0.0, 0.99, &cfg->warmup_ratio);
    rc = rc ? rc : run_get_int32(c, s, "schedule", "step_size", 1, 1000000, &cfg->step_size);
    rc = rc ? rc : run_get_number(c, s, "schedule", "gamma", 0.0, 10.0, &cfg->schedule.gamma);
    rc = rc ? rc : run_get_number(c, s, "schedule", "pct_start", 0.01, 0.99,
                              &cfg->schedule.pct_start);
    return rc;
}
