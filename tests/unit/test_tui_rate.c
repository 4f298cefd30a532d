/* The live rate in the status bar: steps per second over the last seconds
 * of step arrivals (tui_rate.h), and the fold that turns it into samples/s
 * (x batch) and an ETA while training, with a fake clock. The engine's
 * STEP events carry no throughput, so without this the status bar showed
 * samples/s only at epoch ends. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "app/tui_rate.h"
#include "test_tui_fixture.h"

static void test_rate_window(void **state)
{
    (void)state;
    TuiRate r;
    tui_rate_reset(&r);
    assert_true(tui_rate_steps_per_s(&r) == 0);
    tui_rate_add(&r, 10.0, 1);
    assert_true(tui_rate_steps_per_s(&r) == 0);   /* one sample: no rate */
    tui_rate_add(&r, 10.5, 2);
    assert_true(fabs(tui_rate_steps_per_s(&r) - 2.0) < 1e-9);
    /* 4 steps/s for 10 s: the window (3 s) sees only those */
    for (int i = 1; i <= 40; i++) {
        tui_rate_add(&r, 10.5 + i * 0.25, 2 + i);
    }
    assert_true(fabs(tui_rate_steps_per_s(&r) - 4.0) < 1e-9);
    /* then one slow step: the rate drops but stays a window average */
    tui_rate_add(&r, 21.5, 43);
    double rate = tui_rate_steps_per_s(&r);
    assert_true(rate < 4.0 && rate > 1.0);
    /* a merged event (several steps at once) counts all its steps */
    tui_rate_reset(&r);
    tui_rate_add(&r, 0.0, 100);
    tui_rate_add(&r, 1.0, 110);
    assert_true(fabs(tui_rate_steps_per_s(&r) - 10.0) < 1e-9);
    /* a step that goes back (a new run) restarts the window */
    tui_rate_add(&r, 2.0, 1);
    assert_true(tui_rate_steps_per_s(&r) == 0);
    /* more samples than the ring holds */
    tui_rate_reset(&r);
    for (int i = 0; i < 3 * TUI_RATE_SAMPLES; i++) {
        tui_rate_add(&r, i * 0.01, i);
    }
    assert_true(fabs(tui_rate_steps_per_s(&r) - 100.0) < 1e-6);
}

static double fake_now;
static double fake_clock(void)
{
    return fake_now;
}

static void step(TuiApp *app, int64_t n)
{
    int64_t steps[1] = {n};
    double losses[1] = {1.0};
    BusEvent ev = {.kind = BUS_EV_STEP, .epoch = 1, .epochs = 10, .step = n,
                   .total_steps = 1000, .loss = 1.0, .n_losses = 1, .steps = steps,
                   .losses = losses, .eta_s = 9999.0};
    tui_fold_event(app, &ev);
}

static void test_status_bar_rate_while_training(void **state)
{
    Fixture *f = *state;
    WbState *s = &f->app.wb;
    f->app.clock = fake_clock;
    f->app.batch = 8;
    fold_state(&f->app, BUS_STATE_RUNNING);
    fake_now = 100.0;
    step(&f->app, 1);
    assert_true(s->samples_per_s == 0);   /* nothing timed yet */
    for (int i = 2; i <= 11; i++) {
        fake_now += 0.5;   /* 2 steps/s = 16 samples/s */
        step(&f->app, i);
    }
    assert_true(fabs(s->samples_per_s - 16.0) < 1e-9);
    assert_true(fabs(s->eta_s - (1000 - 11) / 2.0) < 1e-6);

    /* an epoch's validation between two steps is not step time: the rate
     * holds until two steps after it are timed */
    BusEvent ep = {.kind = BUS_EV_EPOCH, .epoch = 1, .epochs = 10, .step = 11,
                   .train_loss = 1.0, .samples_per_s = 15.0, .eta_s = 500};
    tui_fold_event(&f->app, &ep);
    fake_now += 30.0;
    step(&f->app, 12);
    assert_true(fabs(s->samples_per_s - 15.0) < 1e-9);   /* the epoch's average */
    fake_now += 0.25;
    step(&f->app, 13);
    assert_true(fabs(s->samples_per_s - 32.0) < 1e-9);

    /* a pause: the time paused does not count */
    fold_state(&f->app, BUS_STATE_PAUSED);
    fold_state(&f->app, BUS_STATE_RUNNING);
    fake_now += 600.0;
    step(&f->app, 14);
    assert_true(fabs(s->samples_per_s - 32.0) < 1e-9);
    fake_now += 0.25;
    step(&f->app, 15);
    assert_true(fabs(s->samples_per_s - 32.0) < 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_window),
        cmocka_unit_test_setup_teardown(test_status_bar_rate_while_training, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
