#include "init.h"

#include <math.h>

uint64_t rng_next(uint64_t *state)
{
    /* splitmix64: tiny, seedable, good enough for init and shuffling. */
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float rng_uniform(uint64_t *state)
{
    return (float)(rng_next(state) >> 40) * (1.0f / 16777216.0f);
}

float rng_normal(uint64_t *state)
{
    float u1 = rng_uniform(state), u2 = rng_uniform(state);
    if (u1 < 1e-12f) {
        u1 = 1e-12f;
    }
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530718f * u2);
}

static void fill_uniform(float *x, size_t n, float bound, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++) {
        x[i] = (2.0f * rng_uniform(rng) - 1.0f) * bound;
    }
}

void model_init_weights(ParamTable *params, const Graph *g, uint64_t seed)
{
    uint64_t rng = seed;
    for (int i = 0; i < g->n_ops; i++) {
        const Op *op = &g->ops[i];
        if (op->type == OP_CONV) {
            const ParamInfo *w = &params->items[op->weight];
            size_t fan_out = (size_t)(w->shape[0] * w->shape[2] * w->shape[3]);
            float std = sqrtf(2.0f / (float)fan_out);
            float *data = params_data(params, op->weight);
            for (size_t k = 0; k < w->numel; k++) {
                data[k] = std * rng_normal(&rng);
            }
            if (op->bias >= 0) {
                size_t fan_in = w->numel / (size_t)w->shape[0];
                fill_uniform(params_data(params, op->bias),
                             params->items[op->bias].numel,
                             1.0f / sqrtf((float)fan_in), &rng);
            }
        } else if (op->type == OP_BATCHNORM) {
            size_t c = params->items[op->weight].numel;
            float *gamma = params_data(params, op->weight);
            float *beta = params_data(params, op->bias);
            float *mean = params_data(params, op->running_mean);
            float *var = params_data(params, op->running_var);
            for (size_t k = 0; k < c; k++) {
                gamma[k] = 1.0f;
                beta[k] = 0.0f;
                mean[k] = 0.0f;
                var[k] = 1.0f;
            }
            *params_counter(params, op->counter) = 0;
        } else if (op->type == OP_LINEAR) {
            const ParamInfo *w = &params->items[op->weight];
            float bound = 1.0f / sqrtf((float)w->shape[1]);
            fill_uniform(params_data(params, op->weight), w->numel, bound, &rng);
            if (op->bias >= 0) {
                fill_uniform(params_data(params, op->bias),
                             params->items[op->bias].numel, bound, &rng);
            }
        }
    }
}
