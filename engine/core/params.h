/* Parameters and buffers of a model, in arenas (llm.c style): one float
 * arena for trainable parameters, one of the same size for their gradients,
 * one for buffers (BatchNorm running statistics). Each entry is a named view
 * with PyTorch's state_dict name: names are the interop contract.
 * Parameter groups are a small data table {name, frozen, lr, weight decay};
 * every parameter and buffer belongs to one group.
 *
 * Freezing has two levels. A group's flag applies to every entry of the
 * group, unless an entry carries its own choice (frozen_override), which a
 * per-module freeze sets: a module ("layer4.0.bn1") is every entry whose
 * name less its last component is the module's name. Setting a group's
 * flag through params_set_group_frozen clears its entries' own choices, so
 * "freeze layer4" means every module of layer4. */
#ifndef THAW_PARAMS_H
#define THAW_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define PARAM_NAME_MAX 96
#define PARAM_MAX_DIMS 4
#define GROUP_NAME_MAX 32
#define MAX_GROUPS 64

typedef enum {
    PARAM_WEIGHT,          /* trainable, has a gradient */
    PARAM_BUFFER,          /* float buffer (running_mean, running_var) */
    PARAM_COUNTER,         /* int64 counter (num_batches_tracked) */
} ParamKind;

typedef struct {
    char name[PARAM_NAME_MAX];
    ParamKind kind;
    int ndim;
    int64_t shape[PARAM_MAX_DIMS];
    size_t numel;
    size_t offset;         /* into the arena of its kind */
    int group;
    int frozen_override;   /* -1: the group's flag decides; 0/1: its module's own */
} ParamInfo;

typedef struct {
    char name[GROUP_NAME_MAX];
    int frozen;
    float lr;
    float weight_decay;
} ParamGroup;

typedef struct {
    ParamInfo *items;
    int count, cap;
    ParamGroup groups[MAX_GROUPS];
    int n_groups;
    float *weights;        /* PARAM_WEIGHT values */
    float *grads;          /* same layout as weights */
    float *buffers;        /* PARAM_BUFFER values */
    int64_t *counters;     /* PARAM_COUNTER values */
    size_t n_weights, n_buffers, n_counters;
} ParamTable;

void params_init(ParamTable *t);
void params_free(ParamTable *t);

/* Returns the group index for name, adding it (trainable, lr 0) if new. */
int params_group(ParamTable *t, const char *name);
int params_find_group(const ParamTable *t, const char *name);

/* Registers an entry (before params_allocate); returns its index or -1. */
int params_add(ParamTable *t, const char *name, ParamKind kind, int group,
               int ndim, const int64_t *shape);
int params_find(const ParamTable *t, const char *name);

/* Allocates the arenas (zeroed) once every entry is registered. */
int params_allocate(ParamTable *t, ThawError *err);

float *params_data(const ParamTable *t, int index);   /* weight or buffer */
float *params_grad(const ParamTable *t, int index);   /* NULL unless weight */
int64_t *params_counter(const ParamTable *t, int index);

/* 1 when the entry is frozen (its own choice, else its group's flag). */
int params_frozen(const ParamTable *t, int index);
/* A weight that trains: not frozen. */
int params_trainable(const ParamTable *t, int index);
/* Sets a group's flag and clears its entries' own choices. */
void params_set_group_frozen(ParamTable *t, int group, int frozen);

/* The module of an entry: its name less the last component ("layer4.0.bn1"
 * for "layer4.0.bn1.weight"; the name itself when it has no dot). */
void params_module_name(const ParamTable *t, int index, char *out, size_t cap);
/* 1 when some weight entry belongs to module (a "layer" that can freeze). */
int params_module_has_weights(const ParamTable *t, const char *module);
/* 1 frozen, 0 trainable (its weights), -1 when module has no weights. */
int params_module_frozen(const ParamTable *t, const char *module);
/* Freezes or thaws every entry of module (weights and buffers alike);
 * returns how many entries matched (0: no such module, nothing changed). */
int params_set_module_frozen(ParamTable *t, const char *module, int frozen);
/* 1 when some entry of the group carries its own choice. */
int params_group_has_overrides(const ParamTable *t, int group);
size_t params_count_weights(const ParamTable *t, int group, int only_trainable);

/* Zeroes the gradients of trainable parameters (frozen ones stay untouched). */
void params_zero_grad(ParamTable *t);

#endif
