/* engine/run/schedule.c against torch.optim.lr_scheduler (gen_schedule.py):
 * the multiplier at each of 40 steps, per schedule, with and without warmup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "engine/run/schedule.h"
#include "support/golden.h"

#define TOTAL 40
#define WARM 6

static int check(const SafeTensors *st, const char *key, Schedule s)
{
    float got[TOTAL];
    for (int i = 0; i < TOTAL; i++) {
        got[i] = (float)schedule_factor(&s, i);
    }
    return golden_check(st, key, got, TOTAL, 1e-6);
}

static void schedules_match_torch(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("schedule.safetensors");
    Schedule base = {.kind = SCHED_CONSTANT, .total_steps = TOTAL, .gamma = 0.5,
                     .step_steps = 7, .pct_start = 0.3, .div_factor = 25.0,
                     .final_div_factor = 1e4};
    int ok = 1;
    Schedule s = base;
    ok &= check(st, "constant", s);
    s.kind = SCHED_STEP;
    ok &= check(st, "step", s);
    s.kind = SCHED_COSINE;
    ok &= check(st, "cosine", s);
    s.kind = SCHED_ONECYCLE;
    ok &= check(st, "onecycle", s);
    s = base;
    s.warmup_steps = WARM;
    ok &= check(st, "warm_constant", s);
    s.kind = SCHED_COSINE;
    ok &= check(st, "warm_cosine", s);
    s.kind = SCHED_STEP;
    ok &= check(st, "warm_step", s);
    st_close(st);
    assert_true(ok);
}

static void names_parse(void **state)
{
    (void)state;
    ScheduleKind k;
    assert_int_equal(schedule_parse("onecycle", &k), 0);
    assert_int_equal(k, SCHED_ONECYCLE);
    assert_string_equal(schedule_name(SCHED_COSINE), "cosine");
    assert_int_not_equal(schedule_parse("triangle", &k), 0);
    /* linear (the text recipe): warmup then max(0, 1 - t / span), as
     * transformers' get_linear_schedule_with_warmup */
    assert_int_equal(schedule_parse("linear", &k), 0);
    Schedule s = {.kind = k, .total_steps = 10, .warmup_steps = 2};
    assert_true(schedule_factor(&s, 1) == 0.5);
    assert_true(schedule_factor(&s, 2) == 1.0);
    assert_true(schedule_factor(&s, 6) == 0.5);
    assert_true(schedule_factor(&s, 10) == 0.0);
    assert_true(schedule_factor(&s, 12) == 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schedules_match_torch),
        cmocka_unit_test(names_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
