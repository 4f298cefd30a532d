/* The plot rasteriser: Braille dot bits, scaling (min on the bottom dot
 * row, max on the top), log scale, ASCII fallback, marks, and inputs that
 * are empty, a single point or NaN. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "views/curves_raster.h"

static CurveGrid *grid(int w, int h, int utf8)
{
    static CurveGrid g;
    curve_grid_init(&g, w, h, utf8);
    return &g;
}

static int count_dots(const CurveGrid *g)
{
    int n = 0;
    for (int i = 0; i < g->w * g->h; i++) {
        for (int b = 0; b < 8; b++) {
            n += (g->bits[i] >> b) & 1;
        }
    }
    return n;
}

/* Unicode's dot numbering: left column dots 1,2,3,7 = bits 0,1,2,6; right
 * column dots 4,5,6,8 = bits 3,4,5,7. */
static void braille_bits(void **state)
{
    (void)state;
    CurveGrid *g = grid(2, 1, 1);
    static const struct { int dx, dy; uint32_t ch; } cases[] = {
        {0, 0, 0x2801}, {0, 1, 0x2802}, {0, 2, 0x2804}, {0, 3, 0x2840},
        {1, 0, 0x2808}, {1, 1, 0x2810}, {1, 2, 0x2820}, {1, 3, 0x2880},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        curve_grid_init(g, 2, 1, 1);
        curve_set_dot(g, cases[i].dx, cases[i].dy, CURVE_TRAIN);
        assert_int_equal(curve_cell_char(g, 0, 0), cases[i].ch);
        assert_int_equal(curve_cell_char(g, 1, 0), ' ');
    }
    curve_grid_init(g, 2, 1, 1);
    for (int dx = 0; dx < 2; dx++) {
        for (int dy = 0; dy < 4; dy++) {
            curve_set_dot(g, dx, dy, CURVE_TRAIN);
        }
    }
    assert_int_equal(curve_cell_char(g, 0, 0), 0x28ff);
    /* the second cell starts at dot column 2 */
    curve_set_dot(g, 2, 3, CURVE_VAL_LOSS);
    assert_int_equal(curve_cell_char(g, 1, 0), 0x2840);
    assert_int_equal(curve_cell_series(g, 1, 0), CURVE_VAL_LOSS);
    /* off-grid dots are ignored */
    curve_set_dot(g, -1, 0, CURVE_TRAIN);
    curve_set_dot(g, 4, 0, CURVE_TRAIN);
    curve_set_dot(g, 0, 4, CURVE_TRAIN);
    assert_int_equal(count_dots(g), 9);
}

static void scaling(void **state)
{
    (void)state;
    CurveGrid *g = grid(10, 5, 1);   /* 20 x 20 dots */
    double y[] = {3.0, 1.0, 2.0, 0.5, 2.5};
    double x[] = {0, 1, 2, 3, 4};
    CurveScale sc = curve_scale_empty(0);
    curve_scale_add(&sc, y, 5);
    curve_scale_finish(&sc);
    assert_true(sc.lo == 0.5 && sc.hi == 3.0);
    assert_int_equal(curve_dot_row(g, &sc, 3.0), 0);     /* max: top dot row */
    assert_int_equal(curve_dot_row(g, &sc, 0.5), 19);    /* min: bottom dot row */
    assert_int_equal(curve_dot_row(g, &sc, 1.75), 9);    /* middle: 19 - round(9.5) */
    assert_int_equal(curve_dot_col(g, 0, 0, 4), 0);
    assert_int_equal(curve_dot_col(g, 4, 0, 4), 19);
    assert_int_equal(curve_dot_col(g, 5, 0, 4), -1);
    curve_plot(g, x, y, 5, 0, 4, &sc, CURVE_TRAIN, 0);
    assert_int_equal(count_dots(g), 5);
    /* the max sits in the top cell row, the min in the bottom one */
    assert_int_equal(curve_cell_char(g, 0, 0), 0x2801);       /* (0, 0): dot 1 */
    int c_min = curve_dot_col(g, 3, 0, 4) / 2;
    assert_true(curve_cell_char(g, c_min, 4) & 0x40 || curve_cell_char(g, c_min, 4) & 0x80);
    /* connected: a continuous line, at least one dot per dot column */
    curve_grid_init(g, 10, 5, 1);
    curve_plot(g, x, y, 5, 0, 4, &sc, CURVE_TRAIN, 1);
    for (int dx = 0; dx < 20; dx++) {
        int cx = dx / 2, any = 0;
        for (int cy = 0; cy < 5; cy++) {
            uint32_t ch = curve_cell_char(g, cx, cy);
            if (ch != ' ') {
                int bits = (int)(ch - 0x2800);
                any |= dx % 2 == 0 ? bits & 0x47 : bits & 0xb8;
            }
        }
        if (!any) {
            fail_msg("dot column %d empty in a connected plot", dx);
        }
    }
    /* value labels: the scale maps back */
    assert_true(fabs(curve_scale_value(&sc, sc.hi) - 3.0) < 1e-12);
}

static void log_scale(void **state)
{
    (void)state;
    CurveGrid *g = grid(4, 4, 1);   /* 16 dot rows */
    double y[] = {1.0, 0.1, 0.01, 0.0, -1.0, 10.0};
    CurveScale sc = curve_scale_empty(1);
    curve_scale_add(&sc, y, 6);   /* zero and negative cannot be plotted */
    curve_scale_finish(&sc);
    assert_true(fabs(sc.lo - (-2.0)) < 1e-12 && fabs(sc.hi - 1.0) < 1e-12);
    assert_int_equal(curve_dot_row(g, &sc, 10.0), 0);
    assert_int_equal(curve_dot_row(g, &sc, 0.01), 15);
    assert_int_equal(curve_dot_row(g, &sc, 0.1), 10);     /* 15 - round(15/3) */
    assert_int_equal(curve_dot_row(g, &sc, 1.0), 5);      /* equal steps per decade */
    assert_int_equal(curve_dot_row(g, &sc, 0.0), -1);
    assert_int_equal(curve_dot_row(g, &sc, -1.0), -1);
    assert_true(fabs(curve_scale_value(&sc, -2.0) - 0.01) < 1e-12);
    /* linear: 0.1 and 0.01 would share the bottom rows */
    double pos[] = {10.0, 1.0, 0.1, 0.01};
    CurveScale lin = curve_scale_empty(0);
    curve_scale_add(&lin, pos, 4);
    curve_scale_finish(&lin);
    assert_int_equal(curve_dot_row(g, &lin, 0.1), curve_dot_row(g, &lin, 0.01));
}

static void ascii_fallback(void **state)
{
    (void)state;
    CurveGrid *g = grid(5, 3, 0);
    assert_int_equal(g->dots_x, 5);
    assert_int_equal(g->dots_y, 3);
    double x[] = {0, 4}, y1[] = {1, 1}, y2[] = {0, 0}, y3[] = {2, 2};
    CurveScale sc = {.lo = 0, .hi = 2, .log_scale = 0};
    curve_plot(g, x, y1, 2, 0, 4, &sc, CURVE_TRAIN, 0);
    curve_plot(g, x, y2, 2, 0, 4, &sc, CURVE_VAL_LOSS, 0);
    curve_plot(g, x, y3, 2, 0, 4, &sc, CURVE_VAL_ACC, 0);
    assert_int_equal(curve_cell_char(g, 0, 1), '.');
    assert_int_equal(curve_cell_char(g, 4, 2), '*');
    assert_int_equal(curve_cell_char(g, 4, 0), '+');
    assert_int_equal(curve_cell_char(g, 2, 1), ' ');
    for (int cy = 0; cy < 3; cy++) {
        for (int cx = 0; cx < 5; cx++) {
            assert_true(curve_cell_char(g, cx, cy) < 0x80);
        }
    }
    /* a later series wins a shared cell (val over train) */
    curve_set_dot(g, 0, 1, CURVE_VAL_LOSS);
    assert_int_equal(curve_cell_char(g, 0, 1), '*');
}

static void marks(void **state)
{
    (void)state;
    CurveGrid *g = grid(10, 3, 1);   /* 20 dot columns over steps 0..100 */
    curve_mark(g, 50, 0, 100, 2);
    int cx = curve_dot_col(g, 50, 0, 100) / 2;   /* round(9.5) = 10 -> cell 5 */
    assert_int_equal(cx, 5);
    for (int cy = 0; cy < 3; cy++) {
        assert_int_equal(g->mark[cy * 10 + cx], 3);
        assert_int_equal(curve_cell_char(g, cx, cy), 0x2502);
        assert_int_equal(curve_cell_char(g, cx - 1, cy), ' ');
    }
    curve_mark(g, 0, 0, 100, 0);
    curve_mark(g, 100, 0, 100, 1);
    curve_mark(g, 101, 0, 100, 1);   /* off the range: nothing */
    assert_int_equal(g->mark[0], 1);
    assert_int_equal(g->mark[9], 2);
    int n = 0;
    for (int i = 0; i < 30; i++) {
        n += g->mark[i] != 0;
    }
    assert_int_equal(n, 9);
    /* data covers a mark */
    curve_set_dot(g, 10, 0, CURVE_TRAIN);
    assert_int_equal(curve_cell_char(g, 5, 0), 0x2801);
    CurveGrid *a = grid(4, 2, 0);
    curve_mark(a, 1, 0, 3, 0);
    assert_int_equal(curve_cell_char(a, 1, 1), '|');
}

static void degenerate_inputs(void **state)
{
    (void)state;
    CurveGrid *g = grid(8, 4, 1);
    /* empty: a default range, nothing drawn */
    CurveScale sc = curve_scale_empty(0);
    curve_scale_add(&sc, NULL, 0);
    curve_scale_finish(&sc);
    assert_true(sc.lo == 0.0 && sc.hi == 1.0);
    curve_plot(g, NULL, NULL, 0, 0, 1, &sc, CURVE_TRAIN, 1);
    assert_int_equal(count_dots(g), 0);
    /* one point: a widened range, one dot in the middle row, x range of zero width */
    double x1[] = {7}, y1[] = {0.42};
    sc = curve_scale_empty(0);
    curve_scale_add(&sc, y1, 1);
    curve_scale_finish(&sc);
    assert_true(sc.lo < 0.42 && sc.hi > 0.42);
    curve_plot(g, x1, y1, 1, 7, 7, &sc, CURVE_TRAIN, 1);
    assert_int_equal(count_dots(g), 1);
    int row = curve_dot_row(g, &sc, 0.42);
    assert_true(row > 0 && row < 15);
    /* NaN and inf: skipped, they break the line, the range ignores them */
    double x[] = {0, 1, 2, 3, 4}, y[] = {NAN, 1.0, INFINITY, 2.0, -INFINITY};
    sc = curve_scale_empty(0);
    curve_scale_add(&sc, y, 5);
    curve_scale_finish(&sc);
    assert_true(sc.lo == 1.0 && sc.hi == 2.0);
    curve_grid_init(g, 8, 4, 1);
    curve_plot(g, x, y, 5, 0, 4, &sc, CURVE_TRAIN, 1);
    assert_int_equal(count_dots(g), 2);
    /* all NaN: default range */
    double nan2[] = {NAN, NAN};
    sc = curve_scale_empty(1);
    curve_scale_add(&sc, nan2, 2);
    curve_scale_finish(&sc);
    assert_true(sc.hi > sc.lo);
    /* zero-size and oversized grids do not crash */
    curve_grid_init(g, 0, 0, 1);
    curve_plot(g, x, y, 5, 0, 4, &sc, CURVE_TRAIN, 1);
    curve_mark(g, 1, 0, 4, 0);
    assert_int_equal(curve_cell_char(g, 0, 0), ' ');
    curve_grid_init(g, 100000, 100000, 1);
    assert_true((long)g->w * g->h <= CURVE_MAX_CELLS);
}

static void ema_like_tensorboard(void **state)
{
    (void)state;
    double in[] = {1.0, 0.0, 1.0, NAN, 0.0};
    double out[5];
    curve_ema(in, 5, 0.6, out);
    /* debiased: the first value is itself */
    assert_true(fabs(out[0] - 1.0) < 1e-12);
    /* last = 0.4*1 = 0.4 -> 0.24; / (1 - 0.36) */
    assert_true(fabs(out[1] - 0.24 / 0.64) < 1e-12);
    double last = 0.24 * 0.6 + 0.4;
    assert_true(fabs(out[2] - last / (1 - 0.216)) < 1e-12);
    assert_true(isnan(out[3]));
    last = last * 0.6;
    assert_true(fabs(out[4] - last / (1 - 0.6 * 0.6 * 0.6 * 0.6)) < 1e-12);
    /* weight 0: no smoothing */
    double flat[3];
    double raw[] = {3, 1, 2};
    curve_ema(raw, 3, 0.0, flat);
    assert_true(flat[0] == 3 && flat[1] == 1 && flat[2] == 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(braille_bits),
        cmocka_unit_test(scaling),
        cmocka_unit_test(log_scale),
        cmocka_unit_test(ascii_fallback),
        cmocka_unit_test(marks),
        cmocka_unit_test(degenerate_inputs),
        cmocka_unit_test(ema_like_tensorboard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
