/* What the run file parser's files share (private to engine/run): the
 * parse context, the typed key getters (run_config_json.c) and the section
 * parsers: model and dataset (run_config_model.c), what trains and how
 * (run_config_train.c). run_config.c holds the root object, defaults and
 * file reading. Getters leave *out untouched when the key is absent and
 * return 0; a present key of the wrong type or range fails with a message
 * naming the file and the key path. */
#ifndef THAW_RUN_CONFIG_INTERNAL_H
#define THAW_RUN_CONFIG_INTERNAL_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "run_config.h"

/* The file name for messages and where errors go. */
typedef struct {
    const char *path;
    ThawError *err;
} Ctx;

/* Every member of obj must be one of the names in allowed (NULL-terminated). */
int run_check_keys(Ctx *c, const cJSON *obj, const char *prefix,
                   const char *const *allowed);
int run_get_number(Ctx *c, const cJSON *obj, const char *prefix,
                   const char *name, double lo, double hi, double *out);
int run_get_int(Ctx *c, const cJSON *obj, const char *prefix,
                const char *name, double lo, double hi, int64_t *out);
int run_get_int32(Ctx *c, const cJSON *obj, const char *prefix,
                  const char *name, int lo, int hi, int *out);
int run_get_bool(Ctx *c, const cJSON *obj, const char *prefix,
                 const char *name, int *out);
/* A string into out (cap bytes); *found set when present. */
int run_get_string(Ctx *c, const cJSON *obj, const char *prefix,
                   const char *name, char *out, size_t cap, int *found);
/* A string that must be one of names[0..n); *index set. */
int run_get_enum(Ctx *c, const cJSON *obj, const char *prefix,
                 const char *name, const char *const *names, int n,
                 int *index, int *found);
/* An optional object member; NULL when absent, error when not an object. */
int run_get_object(Ctx *c, const cJSON *obj, const char *prefix,
                   const char *name, const cJSON **out);
/* "<path>: key '<key>' is required". */
int run_missing(Ctx *c, const char *key);
/* Expands a leading "~/" to $HOME. */
void run_expand_home(char *path, size_t cap);

/* model: arch, weights, head, pretrained (text archs get the text recipe's
 * defaults here). */
int run_parse_model(Ctx *c, RunConfig *cfg, const cJSON *m);
/* dataset: checked against the model (image vs text). */
int run_parse_dataset(Ctx *c, RunConfig *cfg, const cJSON *d);

/* trainable: a list of group names. */
int run_parse_name_list(Ctx *c, const cJSON *v, const char *key,
                        char (*out)[RUN_NAME_MAX], int *n);
/* frozen_layers (frozen = 1) / trainable_layers (0) of root, if present. */
int run_parse_layer_list(Ctx *c, RunConfig *cfg, const cJSON *root, const char *key,
                         int frozen);
int run_parse_groups(Ctx *c, RunConfig *cfg, const cJSON *g);
int run_parse_optimizer(Ctx *c, RunConfig *cfg, const cJSON *o);
int run_parse_schedule(Ctx *c, RunConfig *cfg, const cJSON *s);

#endif
