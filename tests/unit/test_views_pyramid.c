/* The min/max pyramid behind long loss curves (curve_pyramid.h): every
 * block's min, max, first and last against brute force over its points
 * (NaNs included), level choice, and the raster: plotting the blocks sets
 * every dot that plotting all points sets, and only few more; a frame's
 * cost no longer grows with the steps seen (the pane once smoothed and
 * drew every point each frame: 5 ms at 100k steps, 49 ms at 1M). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "views/curve_pyramid.h"
#include "views/curves_raster.h"
#include "views/wb_state.h"

static double value(int i)
{
    if (i % 997 == 13) {
        return NAN;
    }
    return 2.0 * exp(-i / 3000.0) + 0.2 + 0.3 * sin(i * 0.37) * sin(i * 0.011);
}

static void blocks_match_brute_force(void **state)
{
    (void)state;
    CurvePyramid p;
    curve_pyramid_init(&p);
    const int n = 20000;
    for (int i = 0; i < n; i++) {
        assert_int_equal(curve_pyramid_push(&p, i + 1, value(i)), 0);
    }
    for (int l = 0; l < 12; l++) {
        int size = 2 << l;
        assert_int_equal(p.level[l].n, n / size);
        assert_int_equal(curve_pyramid_covered(&p, l), (int64_t)(n / size) * size);
        for (int b = 0; b < p.level[l].n; b++) {
            double lo = NAN, hi = NAN, first = NAN, last = NAN;
            for (int i = b * size; i < (b + 1) * size; i++) {
                double v = value(i);
                if (isnan(v)) {
                    continue;
                }
                lo = isnan(lo) ? v : fmin(lo, v);
                hi = isnan(hi) ? v : fmax(hi, v);
                first = isnan(first) ? v : first;
                last = v;
            }
            const CurveBlock *k = &p.level[l].blocks[b];
            assert_true(k->x0 == b * size + 1 && k->x1 == (b + 1) * size);
            assert_true(k->lo == lo && k->hi == hi && k->first == first && k->last == last);
        }
    }
    /* the finest level with at most 300 blocks: 20000 / 2^(l+1) = 156 at l = 6 */
    assert_int_equal(curve_pyramid_level(&p, 300), 6);
    assert_int_equal(curve_pyramid_level(&p, 20000), 0);
    curve_pyramid_free(&p);
    assert_int_equal(p.level[0].n, 0);
}

/* wb_push_train_loss keeps the smoothing curve_ema would compute. */
static void incremental_ema(void **state)
{
    (void)state;
    WbState *s = calloc(1, sizeof *s);
    wb_init(s);
    const int n = 5000;
    for (int i = 0; i < n; i++) {
        assert_int_equal(wb_push_train_loss(s, i + 1, value(i)), 0);
    }
    double *want = malloc(sizeof(double) * n);
    curve_ema(s->train_loss.y, n, WB_EMA_WEIGHT, want);
    for (int i = 0; i < n; i++) {
        if (isnan(want[i])) {
            assert_true(isnan(s->train_ema[i]));
        } else {
            assert_true(fabs(s->train_ema[i] - want[i]) <= 1e-12 * fabs(want[i]));
        }
    }
    assert_int_equal(s->train_pyr.points, n);
    free(want);
    wb_free(s);
    free(s);
}

static void raster_superset(void **state)
{
    (void)state;
    for (int utf8 = 0; utf8 <= 1; utf8++) {
        CurvePyramid p;
        curve_pyramid_init(&p);
        const int n = 60000;
        double *x = malloc(sizeof(double) * n), *y = malloc(sizeof(double) * n);
        for (int i = 0; i < n; i++) {
            x[i] = i + 1;
            y[i] = value(i);
            curve_pyramid_push(&p, x[i], y[i]);
        }
        CurveGrid *all = malloc(sizeof *all), *blk = malloc(sizeof *blk);
        curve_grid_init(all, 58, 17, utf8);
        curve_grid_init(blk, 58, 17, utf8);
        CurveScale sc = curve_scale_empty(0);
        curve_scale_add(&sc, y, n);
        curve_scale_finish(&sc);
        CurveScale sc2 = curve_scale_empty(0);
        int level = curve_pyramid_level(&p, 2 * blk->dots_x);
        assert_true(level >= 0);
        const CurvePyrLevel *lv = &p.level[level];
        int from = (int)curve_pyramid_covered(&p, level);
        curve_scale_add_blocks(&sc2, lv->blocks, lv->n);
        curve_scale_add(&sc2, y + from, n - from);
        curve_scale_finish(&sc2);
        assert_true(sc.lo == sc2.lo && sc.hi == sc2.hi);   /* the same axis */
        curve_plot(all, x, y, n, 1, n, &sc, CURVE_TRAIN, 1);
        curve_plot_blocks(blk, lv->blocks, lv->n, 1, n, &sc2, CURVE_TRAIN);
        int at = from > 0 ? from - 1 : 0;
        curve_plot(blk, x + at, y + at, n - at, 1, n, &sc2, CURVE_TRAIN, 1);
        int dots_all = 0, dots_blk = 0;
        for (int c = 0; c < all->w * all->h; c++) {
            for (int bit = 0; bit < 8; bit++) {
                int a = (all->bits[c] >> bit) & 1, b = (blk->bits[c] >> bit) & 1;
                if (a && !b) {
                    fail_msg("%s: cell %d dot %d set by the points, not by the blocks",
                             utf8 ? "utf8" : "ascii", c, bit);
                }
                dots_all += a;
                dots_blk += b;
            }
        }
        assert_true(dots_all > 100);
        if (dots_blk > dots_all + dots_all / 5) {
            fail_msg("blocks set %d dots, the points %d", dots_blk, dots_all);
        }
        free(all);
        free(blk);
        free(x);
        free(y);
        curve_pyramid_free(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(blocks_match_brute_force),
        cmocka_unit_test(incremental_ema),
        cmocka_unit_test(raster_superset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
