/* Number formatting of the views (draw_util.h): lrs and weight decays as
 * people write them (1e-4, 3e-5, 2.5e-4, 0.001 -> 1e-3, 0.1), including
 * values that went through a float in the engine (9.99999975e-05 once
 * printed as "10e-5"); counts, ETAs and axis labels. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "views/draw_util.h"

static void check_lr(double v, const char *want)
{
    char buf[32];
    wb_fmt_lr(v, buf, sizeof buf);
    if (strcmp(buf, want) != 0) {
        fail_msg("wb_fmt_lr(%.17g) = '%s', want '%s'", v, buf, want);
    }
    /* the same value after a round trip through float */
    wb_fmt_lr((double)(float)v, buf, sizeof buf);
    if (strcmp(buf, want) != 0) {
        fail_msg("wb_fmt_lr((float)%.17g) = '%s', want '%s'", v, buf, want);
    }
}

static void lr_values(void **state)
{
    (void)state;
    static const struct { double v; const char *s; } cases[] = {
        {1e-4, "1e-4"},    {3e-5, "3e-5"},    {2.5e-4, "2.5e-4"}, {0.1, "0.1"},
        {1e-3, "1e-3"},    {0.001, "1e-3"},   {5e-4, "5e-4"},     {1e-5, "1e-5"},
        {1e-6, "1e-6"},    {1e-7, "1e-7"},    {1e-8, "1e-8"},     {1.25e-3, "1.25e-3"},
        {0.01, "0.01"},    {0.015, "0.015"},  {0.05, "0.05"},     {0.3, "0.3"},
        {1.0, "1"},        {2.0, "2"},        {10.0, "10"},       {0.0125, "0.0125"},
        {9.99e-4, "9.99e-4"}, {0.0999, "0.0999"}, {3e-3, "3e-3"}, {7.5e-5, "7.5e-5"},
        {1e-10, "1e-10"},  {0.0, "0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_lr(cases[i].v, cases[i].s);
    }
    char buf[32];
    assert_string_equal(wb_fmt_lr(-1e-3, buf, sizeof buf), "-");
    assert_string_equal(wb_fmt_lr(NAN, buf, sizeof buf), "-");
    assert_string_equal(wb_fmt_lr(INFINITY, buf, sizeof buf), "-");
    /* rounding to 3 digits carries into the exponent: never "10e-5" */
    assert_string_equal(wb_fmt_lr(9.9999e-5, buf, sizeof buf), "1e-4");
    assert_string_equal(wb_fmt_lr(0.0099999, buf, sizeof buf), "0.01");
    assert_string_equal(wb_fmt_lr(1.0004e-4, buf, sizeof buf), "1e-4");
    /* a tiny buffer is not overrun */
    char small[4];
    wb_fmt_lr(2.5e-4, small, sizeof small);
    assert_int_equal(strlen(small), 3);
}

/* Every lr a schedule or a user can reach, 1e-9..10 in fine steps: the
 * text is short (fits the 7-column lr field up to e-9), has no mantissa of
 * 10 or more, no trailing zeros, and reads back within display rounding. */
static void lr_sweep(void **state)
{
    (void)state;
    char buf[32];
    int checked = 0;
    for (double v = 1e-9; v <= 10.0; v *= 1.0137) {
        for (int as_float = 0; as_float < 2; as_float++) {
            double x = as_float ? (double)(float)v : v;
            wb_fmt_lr(x, buf, sizeof buf);
            double back = strtod(buf, NULL);
            if (fabs(back - x) > 0.006 * x) {
                fail_msg("%.9g printed as '%s'", x, buf);
            }
            assert_true(strlen(buf) <= 7);
            const char *e = strchr(buf, 'e');
            if (e) {
                char m[32];
                snprintf(m, sizeof m, "%.*s", (int)(e - buf), buf);
                double mant = strtod(m, NULL);
                if (mant < 1.0 || mant >= 10.0) {
                    fail_msg("%.9g printed as '%s' (mantissa out of [1,10))", x, buf);
                }
                if (e[-1] == '0' || e[-1] == '.') {
                    fail_msg("%.9g printed as '%s' (trailing zero)", x, buf);
                }
            } else if (strchr(buf, '.')) {
                assert_true(buf[strlen(buf) - 1] != '0');
            }
            checked++;
        }
    }
    assert_true(checked > 2000);
}

static void other_formats(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(wb_fmt_count(512, buf, sizeof buf), "512");
    assert_string_equal(wb_fmt_count(9536, buf, sizeof buf), "9.5K");
    assert_string_equal(wb_fmt_count(11689512, buf, sizeof buf), "11.7M");
    assert_string_equal(wb_fmt_count(-1, buf, sizeof buf), "-");
    assert_string_equal(wb_fmt_eta(45, buf, sizeof buf), "45s");
    assert_string_equal(wb_fmt_eta(192, buf, sizeof buf), "3m12s");
    assert_string_equal(wb_fmt_eta(7500, buf, sizeof buf), "2h05m");
    assert_string_equal(wb_fmt_eta(-1, buf, sizeof buf), "--");
    assert_string_equal(wb_fmt_axis(0.5, buf, sizeof buf), "0.500");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lr_values),
        cmocka_unit_test(lr_sweep),
        cmocka_unit_test(other_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
