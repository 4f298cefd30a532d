#include "params.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

void params_init(ParamTable *t)
{
    memset(t, 0, sizeof *t);
}

void params_free(ParamTable *t)
{
    free(t->items);
    free(t->weights);
    free(t->grads);
    free(t->buffers);
    free(t->counters);
    memset(t, 0, sizeof *t);
}

int params_find_group(const ParamTable *t, const char *name)
{
    for (int i = 0; i < t->n_groups; i++) {
        if (strcmp(t->groups[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

int params_group(ParamTable *t, const char *name)
{
    int g = params_find_group(t, name);
    if (g >= 0 || t->n_groups == MAX_GROUPS) {
        return g;
    }
    ParamGroup *grp = &t->groups[t->n_groups];
    memset(grp, 0, sizeof *grp);
    snprintf(grp->name, sizeof grp->name, "%s", name);
    return t->n_groups++;
}

int params_find(const ParamTable *t, const char *name)
{
    for (int i = 0; i < t->count; i++) {
        if (strcmp(t->items[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

int params_add(ParamTable *t, const char *name, ParamKind kind, int group,
               int ndim, const int64_t *shape)
{
    if (ndim > PARAM_MAX_DIMS || strlen(name) >= PARAM_NAME_MAX ||
        params_find(t, name) >= 0 || t->weights) {
        return -1;
    }
    if (t->count == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        ParamInfo *items = realloc(t->items, (size_t)cap * sizeof *items);
        if (!items) {
            return -1;
        }
        t->items = items;
        t->cap = cap;
    }
    ParamInfo *p = &t->items[t->count];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->kind = kind;
    p->group = group;
    p->frozen_override = -1;
    p->ndim = ndim;
    p->numel = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = shape[i];
        p->numel *= (size_t)shape[i];
    }
    size_t *next = kind == PARAM_WEIGHT   ? &t->n_weights
                   : kind == PARAM_BUFFER ? &t->n_buffers
                                          : &t->n_counters;
    p->offset = *next;
    *next += p->numel;
    return t->count++;
}

int params_allocate(ParamTable *t, ThawError *err)
{
    /* +1 keeps calloc from returning NULL for empty arenas. */
    t->weights = calloc(t->n_weights + 1, sizeof(float));
    t->grads = calloc(t->n_weights + 1, sizeof(float));
    t->buffers = calloc(t->n_buffers + 1, sizeof(float));
    t->counters = calloc(t->n_counters + 1, sizeof(int64_t));
    if (!t->weights || !t->grads || !t->buffers || !t->counters) {
        return thaw_fail(err, THAW_ERR_NOMEM,
                         "out of memory allocating %zu parameters",
                         t->n_weights);
    }
    return 0;
}

float *params_data(const ParamTable *t, int index)
{
    const ParamInfo *p = &t->items[index];
    switch (p->kind) {
    case PARAM_WEIGHT:
        return t->weights + p->offset;
    case PARAM_BUFFER:
        return t->buffers + p->offset;
    default:
        return NULL;
    }
}

float *params_grad(const ParamTable *t, int index)
{
    const ParamInfo *p = &t->items[index];
    return p->kind == PARAM_WEIGHT ? t->grads + p->offset : NULL;
}

int64_t *params_counter(const ParamTable *t, int index)
{
    const ParamInfo *p = &t->items[index];
    return p->kind == PARAM_COUNTER ? t->counters + p->offset : NULL;
}

int params_frozen(const ParamTable *t, int index)
{
    const ParamInfo *p = &t->items[index];
    return p->frozen_override >= 0 ? p->frozen_override : t->groups[p->group].frozen != 0;
}

int params_trainable(const ParamTable *t, int index)
{
    return t->items[index].kind == PARAM_WEIGHT && !params_frozen(t, index);
}

void params_set_group_frozen(ParamTable *t, int group, int frozen)
{
    t->groups[group].frozen = frozen != 0;
    for (int i = 0; i < t->count; i++) {
        if (t->items[i].group == group) {
            t->items[i].frozen_override = -1;
        }
    }
}

int params_group_has_overrides(const ParamTable *t, int group)
{
    for (int i = 0; i < t->count; i++) {
        if (t->items[i].group == group && t->items[i].frozen_override >= 0) {
            return 1;
        }
    }
    return 0;
}

void params_module_name(const ParamTable *t, int index, char *out, size_t cap)
{
    snprintf(out, cap, "%s", t->items[index].name);
    char *dot = strrchr(out, '.');
    if (dot) {
        *dot = '\0';
    }
}

/* name is module + "." + one more component (no further dot). */
static int in_module(const char *name, const char *module)
{
    size_t n = strlen(module);
    return n > 0 && strncmp(name, module, n) == 0 && name[n] == '.' &&
           name[n + 1] != '\0' && !strchr(name + n + 1, '.');
}

int params_module_has_weights(const ParamTable *t, const char *module)
{
    return params_module_frozen(t, module) >= 0;
}

int params_module_frozen(const ParamTable *t, const char *module)
{
    for (int i = 0; i < t->count; i++) {
        if (t->items[i].kind == PARAM_WEIGHT && in_module(t->items[i].name, module)) {
            return params_frozen(t, i);
        }
    }
    return -1;
}

int params_set_module_frozen(ParamTable *t, const char *module, int frozen)
{
    int n = 0;
    for (int i = 0; i < t->count; i++) {
        ParamInfo *p = &t->items[i];
        if (in_module(p->name, module)) {
            /* the group's flag, when it agrees, keeps the entry following it */
            int group_frozen = t->groups[p->group].frozen != 0;
            p->frozen_override = (frozen != 0) == group_frozen ? -1 : frozen != 0;
            n++;
        }
    }
    return n;
}

size_t params_count_weights(const ParamTable *t, int group, int only_trainable)
{
    size_t n = 0;
    for (int i = 0; i < t->count; i++) {
        const ParamInfo *p = &t->items[i];
        if (p->kind != PARAM_WEIGHT || (group >= 0 && p->group != group)) {
            continue;
        }
        if (only_trainable && params_frozen(t, i)) {
            continue;
        }
        n += p->numel;
    }
    return n;
}

void params_zero_grad(ParamTable *t)
{
    /* Only trainable parameters: frozen gradients are never written, and
     * leaving their pages untouched keeps them out of resident memory. */
    for (int i = 0; i < t->count; i++) {
        if (params_trainable(t, i)) {
            memset(params_grad(t, i), 0, t->items[i].numel * sizeof(float));
        }
    }
}
