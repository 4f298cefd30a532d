/* libFuzzer harness for run files (engine/run/run_config*.c): the JSON a
 * user writes by hand, the most common bad input thaw sees. Every input
 * must either parse into settings inside the documented ranges, or fail
 * with a message that starts with the file's name (what `thaw train`
 * prints on one line before exit 2). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/run/run_config.h"

#define NAME "fuzz.json"

/* The message names the file first. It may quote what the user wrote,
 * control characters included: the places that print it escape them
 * (app/cli_error.c, the views' wb_put), so it stays one line there. */
static void check_line(const ThawError *err)
{
    if (strnlen(err->msg, sizeof err->msg) == sizeof err->msg ||
        strncmp(err->msg, NAME ": ", sizeof NAME + 1) != 0 ||
        strlen(err->msg) <= sizeof NAME + 1) {
        abort();
    }
}

static void check_string(const char *s, size_t cap)
{
    if (strnlen(s, cap) == cap) {   /* not terminated inside its field */
        abort();
    }
}

static void check_config(const RunConfig *c)
{
    check_string(c->arch, sizeof c->arch);
    check_string(c->weights, sizeof c->weights);
    check_string(c->data_path, sizeof c->data_path);
    if (c->arch[0] == '\0' || c->epochs < 1 || c->batch < 1 || !(c->lr > 0) ||
        !isfinite(c->lr) || !(c->val_fraction >= 0 && c->val_fraction < 1) ||
        c->image_size < 1 || c->n_trainable < 0 || c->n_trainable > RUN_MAX_GROUPS ||
        c->n_groups < 0 || c->n_groups > RUN_MAX_GROUPS || c->n_topics < 0 ||
        c->n_topics > RUN_MAX_TOPICS || !isfinite(c->weight_decay) || c->weight_decay < 0 ||
        !isfinite(c->label_smoothing) || c->threads < 0) {
        abort();
    }
    for (int i = 0; i < c->n_trainable; i++) {
        check_string(c->trainable[i], sizeof c->trainable[i]);
    }
    for (int i = 0; i < c->n_topics; i++) {
        check_string(c->topics[i], sizeof c->topics[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    RunConfig cfg;
    ThawError err = {0};
    int rc = run_config_parse(&cfg, NAME, text, &err);
    free(text);   /* cfg keeps its own copy */
    if (rc != 0) {
        if (err.code == 0) {
            abort();
        }
        check_line(&err);
    } else {
        check_config(&cfg);
        if (!cfg.json || strlen(cfg.json) > size) {
            abort();
        }
    }
    run_config_free(&cfg);
    return 0;
}
