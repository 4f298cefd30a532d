/* The model-choice table as data: assets/model_catalog.json, loaded
 * strictly (an error names the file and the key), with each row marked
 * supported (thaw has the architecture) and weights_local (its weights
 * file is in ${THAW_CACHE:-~/.cache/thaw}/weights). */
#ifndef THAW_APP_CATALOG_H
#define THAW_APP_CATALOG_H

#include <stddef.h>

#include "engine/core/error.h"
#include "views/catalog_row.h"
#include "views/wb_state.h"

/* Loads path into rows (at most cap; more is an error), looking for weight
 * files in weights_dir. Returns 0 and sets *n_out, or an error code with a
 * one-line message: "<path>: key 'models[3].params' must be a number". */
int catalog_load(const char *path, const char *weights_dir, CatalogRow *rows, int cap,
                 int *n_out, ThawError *err);

/* $THAW_ASSETS/model_catalog.json, else the source tree's assets/. */
void catalog_default_path(char *buf, size_t cap);
/* ${THAW_CACHE:-$HOME/.cache/thaw}/weights */
void catalog_weights_dir(char *buf, size_t cap);

/* The default catalog into s->catalog / s->n_catalog (left empty on error). */
int catalog_load_state(WbState *s, ThawError *err);

/* MISSION.md's advice for a data set with this many labelled examples per
 * class (<= 0: unknown) and a target domain close to the pretraining one
 * (domain_close != 0) or clearly shifted. One line of text. */
const char *strategy_hint(int examples_per_class, int domain_close);

#endif
