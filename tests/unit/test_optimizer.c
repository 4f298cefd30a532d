/* SGD and AdamW update rules against torch.optim (gen_optimizer.py), with a
 * frozen group that must not move and two groups with their own lr and
 * weight decay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/optim/optimizer.h"
#include "support/golden.h"

#define TOL 1e-5

static const char *NAMES[] = {"frozen.weight", "body.weight", "head.bias"};

static void make_table(ParamTable *t)
{
    params_init(t);
    int64_t s0[] = {5, 3}, s1[] = {4, 6}, s2[] = {7};
    int g0 = params_group(t, "frozen"), g1 = params_group(t, "body"),
        g2 = params_group(t, "head");
    assert_int_equal(params_add(t, NAMES[0], PARAM_WEIGHT, g0, 2, s0), 0);
    assert_int_equal(params_add(t, NAMES[1], PARAM_WEIGHT, g1, 2, s1), 1);
    assert_int_equal(params_add(t, NAMES[2], PARAM_WEIGHT, g2, 1, s2), 2);
    ThawError err = {0};
    assert_int_equal(params_allocate(t, &err), 0);
    t->groups[g0].frozen = 1;
    t->groups[g0].lr = 1.0f; /* must be ignored: frozen */
    t->groups[g0].weight_decay = 0.5f;
    t->groups[g1].lr = 0.05f;
    t->groups[g1].weight_decay = 1e-2f;
    t->groups[g2].lr = 0.3f;
    t->groups[g2].weight_decay = 0.0f;
}

static void load_into(const SafeTensors *ref, const char *key, float *dst,
                      size_t n)
{
    int64_t numel = 0;
    float *v = golden_load(ref, key, &numel);
    assert_int_equal((size_t)numel, n);
    memcpy(dst, v, n * sizeof(float));
    free(v);
}

static void run(const char *config, OptimizerKind kind, float momentum,
                int nesterov)
{
    char file[96];
    snprintf(file, sizeof file, "optimizer_%s.safetensors", config);
    SafeTensors *ref = golden_open(file);
    ParamTable t;
    make_table(&t);
    for (int i = 0; i < 3; i++) {
        char key[96];
        snprintf(key, sizeof key, "init.%s", NAMES[i]);
        load_into(ref, key, params_data(&t, i), t.items[i].numel);
    }
    Optimizer opt;
    ThawError err = {0};
    assert_int_equal(optimizer_init(&opt, kind, &t, &err), 0);
    opt.momentum = momentum;
    opt.nesterov = nesterov;
    int ok = 1;
    for (int step = 0; step < 3; step++) {
        for (int i = 0; i < 3; i++) {
            char key[96];
            snprintf(key, sizeof key, "grad.%d.%s", step, NAMES[i]);
            load_into(ref, key, params_grad(&t, i), t.items[i].numel);
        }
        optimizer_step(&opt, &t);
        for (int i = 0; i < 3; i++) {
            char key[96];
            snprintf(key, sizeof key, "after.%d.%s", step, NAMES[i]);
            ok &= golden_check(ref, key, params_data(&t, i), t.items[i].numel, TOL);
        }
    }
    assert_int_equal(opt.steps[0], 0); /* the frozen parameter never stepped */
    assert_int_equal(opt.steps[1], 3);
    optimizer_free(&opt);
    params_free(&t);
    st_close(ref);
    assert_true(ok);
}

static void sgd_nesterov(void **s) { (void)s; run("sgd_nesterov", OPT_SGD, 0.9f, 1); }
static void sgd_momentum(void **s) { (void)s; run("sgd_momentum", OPT_SGD, 0.8f, 0); }
static void sgd_plain(void **s) { (void)s; run("sgd_plain", OPT_SGD, 0.0f, 0); }
static void adamw(void **s) { (void)s; run("adamw", OPT_ADAMW, 0.0f, 0); }

static void parse_names(void **s)
{
    (void)s;
    OptimizerKind k;
    assert_int_equal(optimizer_parse("sgd", &k), 0);
    assert_int_equal(k, OPT_SGD);
    assert_int_equal(optimizer_parse("adamw", &k), 0);
    assert_int_equal(k, OPT_ADAMW);
    assert_int_equal(optimizer_parse("rmsprop", &k), -1);
    assert_string_equal(optimizer_name(OPT_ADAMW), "adamw");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sgd_nesterov), cmocka_unit_test(sgd_momentum),
        cmocka_unit_test(sgd_plain), cmocka_unit_test(adamw),
        cmocka_unit_test(parse_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
