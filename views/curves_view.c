/* The loss-curve pane: smoothed train loss per step, validation loss and
 * accuracy per epoch, marks where freeze or lr changed. The plot itself is
 * rasterised by curves_raster.c. */
#include <math.h>
#include <stdlib.h>
#include <wchar.h>

#include "views/curves_raster.h"
#include "views/draw_util.h"
#include "views/theme.h"
#include "views/views.h"

#define AXIS_W 7

static double last_finite(const WbSeries *v)
{
    for (int i = v->n - 1; i >= 0; i--) {
        if (isfinite(v->y[i])) {
            return v->y[i];
        }
    }
    return NAN;
}

static void put_cell(WINDOW *win, int y, int x, uint32_t ch, int utf8)
{
    if (utf8 && ch >= 0x80) {
        wchar_t wc[2] = {(wchar_t)ch, 0};
        cchar_t cc;
        setcchar(&cc, wc, A_NORMAL, 0, NULL);
        mvwadd_wch(win, y, x, &cc);
    } else {
        mvwaddch(win, y, x, (chtype)ch);
    }
}

static const ThemeRole series_role[CURVE_SERIES_COUNT] = {
    THEME_CURVE_TRAIN, THEME_CURVE_VAL, THEME_CURVE_ACC,
};

static void legend(WINDOW *win, WbRect in, const WbState *s, const double *ema)
{
    int x = in.x, c = s->color, u = s->utf8;
    char buf[32];
    if (s->train_loss.n > 0) {
        double last = NAN;
        for (int i = s->train_loss.n - 1; i >= 0 && isnan(last); i--) {
            last = isfinite(ema[i]) ? ema[i] : NAN;
        }
        wattron(win, theme_attr(THEME_CURVE_TRAIN, c));
        x += wb_putf(win, in, in.y, x, in.w - (x - in.x), u, "%strain %s ", u ? "" : ". ",
                     wb_fmt_axis(last, buf, sizeof buf));
        wattroff(win, theme_attr(THEME_CURVE_TRAIN, c));
    }
    double vl = last_finite(&s->val_loss), va = last_finite(&s->val_acc);
    if (!isnan(vl)) {
        wattron(win, theme_attr(THEME_CURVE_VAL, c));
        x += wb_putf(win, in, in.y, x, in.w - (x - in.x), u, "%sval %s ", u ? "" : "* ",
                     wb_fmt_axis(vl, buf, sizeof buf));
        wattroff(win, theme_attr(THEME_CURVE_VAL, c));
    }
    if (!isnan(va)) {
        wattron(win, theme_attr(THEME_CURVE_ACC, c));
        x += wb_putf(win, in, in.y, x, in.w - (x - in.x), u, "%sacc %.1f%% ", u ? "" : "+ ",
                     va * 100.0);
        wattroff(win, theme_attr(THEME_CURVE_ACC, c));
    }
    if (s->log_scale) {
        wattron(win, theme_attr(THEME_DIM, c));
        wb_put(win, in, in.y, x, in.w - (x - in.x), "log", u);
        wattroff(win, theme_attr(THEME_DIM, c));
    }
}

void curves_view_draw(WINDOW *win, WbRect r, const WbState *s)
{
    int focused = s->focus == WB_PANE_CURVES;
    WbRect in = wb_frame(win, r, s->log_scale ? "loss (log)" : "loss", focused, s->utf8,
                         s->color);
    if (in.h < 3 || in.w < AXIS_W + 4) {
        return;
    }
    int u = s->utf8, c = s->color;
    const WbSeries *tl = &s->train_loss;
    /* the smoothing kept as points arrived (wb_push_train_loss); computed
     * here only for a series filled some other way */
    double *own = NULL;
    const double *ema = s->train_ema;
    if (tl->n > 0 && !ema) {
        own = malloc(sizeof(double) * (size_t)tl->n);
        if (own) {
            curve_ema(tl->y, tl->n, WB_EMA_WEIGHT, own);
        }
        ema = own;
    }
    CurveGrid *g = malloc(sizeof *g);
    if ((tl->n > 0 && !ema) || !g) {
        free(own);
        free(g);
        return;
    }
    legend(win, in, s, ema);

    if (tl->n == 0 && s->val_loss.n == 0) {
        wattron(win, theme_attr(THEME_DIM, c));
        wb_put(win, in, in.y + in.h / 2, in.x + (in.w - 18) / 2, in.w, "no steps yet", u);
        wattroff(win, theme_attr(THEME_DIM, c));
        free(own);
        free(g);
        return;
    }

    int have_acc = !isnan(last_finite(&s->val_acc));
    int right_w = have_acc ? 5 : 0;
    int plot_h = in.h - 2, plot_w = in.w - AXIS_W - right_w;
    int plot_x = in.x + AXIS_W, plot_y = in.y + 1;
    if (plot_h < 1 || plot_w < 2) {
        free(own);
        free(g);
        return;
    }
    curve_grid_init(g, plot_w, plot_h, u);

    /* x: the steps seen so far */
    double xmin = tl->n > 0 ? tl->x[0] : 0.0, xmax = xmin + 1.0;
    if (tl->n > 0 && tl->x[tl->n - 1] > xmax) {
        xmax = tl->x[tl->n - 1];
    }
    for (int i = 0; i < s->val_loss.n; i++) {
        xmax = fmax(xmax, s->val_loss.x[i]);
        xmin = fmin(xmin, s->val_loss.x[i]);
    }

    CurveScale loss = curve_scale_empty(s->log_scale);
    /* a long series: its min/max blocks, two per dot column at most, and
     * the points after the last block (fewer than one block) */
    int level = own || tl->n <= 4 * g->dots_x
                    ? -1 : curve_pyramid_level(&s->train_pyr, 2 * g->dots_x);
    int from = level >= 0 ? (int)curve_pyramid_covered(&s->train_pyr, level) : 0;
    const CurvePyrLevel *blocks = level >= 0 ? &s->train_pyr.level[level] : NULL;
    if (blocks) {
        curve_scale_add_blocks(&loss, blocks->blocks, blocks->n);
    }
    curve_scale_add(&loss, ema + from, tl->n - from);
    curve_scale_add(&loss, s->val_loss.y, s->val_loss.n);
    curve_scale_finish(&loss);
    CurveScale acc = curve_scale_empty(0);
    curve_scale_add(&acc, s->val_acc.y, s->val_acc.n);
    if (acc.lo <= acc.hi) {
        acc.lo = fmax(0.0, acc.lo - 0.02);
        acc.hi = fmin(1.0, acc.hi + 0.02);
    }
    curve_scale_finish(&acc);

    for (int i = 0; i < s->n_marks; i++) {
        curve_mark(g, (double)s->marks[i].step, xmin, xmax, (int)s->marks[i].kind);
    }
    if (blocks) {
        curve_plot_blocks(g, blocks->blocks, blocks->n, xmin, xmax, &loss, CURVE_TRAIN);
        /* join the last block to the points after it */
        int at = from > 0 ? from - 1 : 0;
        curve_plot(g, tl->x + at, ema + at, tl->n - at, xmin, xmax, &loss, CURVE_TRAIN, 1);
    } else {
        curve_plot(g, tl->x, ema, tl->n, xmin, xmax, &loss, CURVE_TRAIN, 1);
    }
    curve_plot(g, s->val_loss.x, s->val_loss.y, s->val_loss.n, xmin, xmax, &loss,
               CURVE_VAL_LOSS, 1);
    curve_plot(g, s->val_acc.x, s->val_acc.y, s->val_acc.n, xmin, xmax, &acc,
               CURVE_VAL_ACC, 1);

    for (int cy = 0; cy < g->h; cy++) {
        for (int cx = 0; cx < g->w; cx++) {
            uint32_t ch = curve_cell_char(g, cx, cy);
            if (ch == ' ') {
                continue;
            }
            int sr = curve_cell_series(g, cx, cy);
            attr_t a = theme_attr(sr >= 0 ? series_role[sr] : THEME_MARK, c);
            wattron(win, a);
            put_cell(win, plot_y + cy, plot_x + cx, ch, u);
            wattroff(win, a);
        }
    }

    /* axes: loss on the left (top, middle, bottom), accuracy on the right */
    char buf[32];
    wattron(win, theme_attr(THEME_DIM, c));
    int label_rows[3] = {0, plot_h / 2, plot_h - 1};
    for (int k = 0; k < 3; k++) {
        int row = label_rows[k];
        if (k == 1 && (plot_h < 5)) {
            continue;
        }
        double uval = loss.hi - (loss.hi - loss.lo) * row / (plot_h > 1 ? plot_h - 1 : 1);
        wb_putf(win, in, plot_y + row, in.x, AXIS_W - 1, u, "%*s", AXIS_W - 1,
                wb_fmt_axis(curve_scale_value(&loss, uval), buf, sizeof buf));
        if (have_acc && (k != 1)) {
            double a = k == 0 ? acc.hi : acc.lo;
            wb_putf(win, in, plot_y + row, plot_x + plot_w + 1, right_w - 1, u, "%3.0f%%",
                    a * 100.0);
        }
    }
    int axis_y = plot_y + plot_h;
    wb_putf(win, in, axis_y, plot_x, plot_w, u, "%.0f", xmin);
    char right[32];
    snprintf(right, sizeof right, "step %.0f", xmax);
    int rw = wb_text_cols(right);
    wb_put(win, in, axis_y, plot_x + plot_w - rw, rw, right, u);
    wattroff(win, theme_attr(THEME_DIM, c));
    free(own);
    free(g);
}
