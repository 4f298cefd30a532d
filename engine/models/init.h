/* Initialisation of a freshly registered model, as torchvision does it:
 * conv weights kaiming_normal_(fan_out, relu), BatchNorm weight 1, bias 0,
 * running_var 1, Linear weight and bias uniform(+-1/sqrt(fan_in)). */
#ifndef THAW_INIT_H
#define THAW_INIT_H

#include <stdint.h>

#include "engine/core/params.h"
#include "engine/graph/graph.h"

void model_init_weights(ParamTable *params, const Graph *g, uint64_t seed);

/* Deterministic generator shared by init and data shuffling. */
uint64_t rng_next(uint64_t *state);
float rng_uniform(uint64_t *state);   /* [0, 1) */
float rng_normal(uint64_t *state);    /* N(0, 1) */

#endif
