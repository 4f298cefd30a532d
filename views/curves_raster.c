/* The plot rasteriser: dots into a cell grid, Braille or ASCII. */
#include "views/curves_raster.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Braille dot bits by (column, row) inside a cell: dots 1-2-3-7 on the
 * left, 4-5-6-8 on the right (Unicode's numbering). */
static const uint8_t braille_bit[2][4] = {
    {0x01, 0x02, 0x04, 0x40},
    {0x08, 0x10, 0x20, 0x80},
};

void curve_grid_init(CurveGrid *g, int w, int h, int utf8)
{
    if (w < 0) {
        w = 0;
    }
    if (h < 0) {
        h = 0;
    }
    if ((long)w * h > CURVE_MAX_CELLS) {
        h = w > 0 ? CURVE_MAX_CELLS / w : 0;
    }
    g->w = w;
    g->h = h;
    g->utf8 = utf8;
    g->dots_x = utf8 ? 2 * w : w;
    g->dots_y = utf8 ? 4 * h : h;
    size_t cells = (size_t)w * (size_t)h;
    memset(g->bits, 0, cells);
    memset(g->series, 0, cells);
    memset(g->mark, 0, cells);
}

CurveScale curve_scale_empty(int log_scale)
{
    return (CurveScale){.lo = INFINITY, .hi = -INFINITY, .log_scale = log_scale};
}

/* y in plotted units, or NaN when it cannot be plotted. */
static double plotted(const CurveScale *sc, double y)
{
    if (!isfinite(y)) {
        return NAN;
    }
    if (sc->log_scale) {
        return y > 0 ? log10(y) : NAN;
    }
    return y;
}

void curve_scale_add(CurveScale *sc, const double *y, int n)
{
    for (int i = 0; i < n; i++) {
        double u = plotted(sc, y[i]);
        if (isnan(u)) {
            continue;
        }
        if (u < sc->lo) {
            sc->lo = u;
        }
        if (u > sc->hi) {
            sc->hi = u;
        }
    }
}

void curve_scale_finish(CurveScale *sc)
{
    if (!(sc->lo <= sc->hi)) {
        sc->lo = sc->log_scale ? -3.0 : 0.0;
        sc->hi = sc->log_scale ? 0.0 : 1.0;
        return;
    }
    if (sc->hi - sc->lo < 1e-12 * (fabs(sc->hi) + 1.0)) {
        double pad = sc->log_scale ? 0.5 : (fabs(sc->hi) > 0 ? fabs(sc->hi) * 0.5 : 0.5);
        sc->lo -= pad;
        sc->hi += pad;
    }
}

double curve_scale_value(const CurveScale *sc, double u)
{
    return sc->log_scale ? pow(10.0, u) : u;
}

int curve_dot_row(const CurveGrid *g, const CurveScale *sc, double y)
{
    double u = plotted(sc, y);
    if (isnan(u) || g->dots_y <= 0 || !(sc->hi > sc->lo)) {
        return -1;
    }
    double t = (u - sc->lo) / (sc->hi - sc->lo);   /* 0 bottom .. 1 top */
    if (t < 0) {
        t = 0;
    }
    if (t > 1) {
        t = 1;
    }
    return (g->dots_y - 1) - (int)lround(t * (g->dots_y - 1));
}

int curve_dot_col(const CurveGrid *g, double x, double xmin, double xmax)
{
    if (!isfinite(x) || g->dots_x <= 0 || x < xmin || x > xmax) {
        return -1;
    }
    if (!(xmax > xmin)) {
        return 0;
    }
    return (int)lround((x - xmin) / (xmax - xmin) * (g->dots_x - 1));
}

void curve_set_dot(CurveGrid *g, int dx, int dy, CurveSeries series)
{
    if (dx < 0 || dy < 0 || dx >= g->dots_x || dy >= g->dots_y) {
        return;
    }
    int cx = g->utf8 ? dx / 2 : dx;
    int cy = g->utf8 ? dy / 4 : dy;
    int cell = cy * g->w + cx;
    if (g->utf8) {
        g->bits[cell] |= braille_bit[dx % 2][dy % 4];
    } else {
        g->bits[cell] = 1;
    }
    g->series[cell] |= (uint8_t)(1u << series);
}

static void line(CurveGrid *g, int x0, int y0, int x1, int y1, CurveSeries series)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        curve_set_dot(g, x0, y0, series);
        if (x0 == x1 && y0 == y1) {
            return;
        }
        int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

void curve_plot(CurveGrid *g, const double *x, const double *y, int n, double xmin,
                double xmax, const CurveScale *sc, CurveSeries series, int connect)
{
    int have_prev = 0, px = 0, py = 0;
    for (int i = 0; i < n; i++) {
        int dx = curve_dot_col(g, x[i], xmin, xmax);
        int dy = curve_dot_row(g, sc, y[i]);
        if (dx < 0 || dy < 0) {
            have_prev = 0;     /* a gap: NaN or off the range */
            continue;
        }
        if (connect && have_prev) {
            line(g, px, py, dx, dy, series);
        } else {
            curve_set_dot(g, dx, dy, series);
        }
        have_prev = 1;
        px = dx;
        py = dy;
    }
}

void curve_plot_blocks(CurveGrid *g, const CurveBlock *b, int n, double xmin, double xmax,
                       const CurveScale *sc, CurveSeries series)
{
    int have_prev = 0, px = 0, py = 0;
    for (int i = 0; i < n; i++) {
        int dx0 = curve_dot_col(g, b[i].x0, xmin, xmax);
        int dx1 = curve_dot_col(g, b[i].x1, xmin, xmax);
        int lo = curve_dot_row(g, sc, b[i].hi);   /* rows grow downwards */
        int hi = curve_dot_row(g, sc, b[i].lo);
        int first = curve_dot_row(g, sc, b[i].first);
        int last = curve_dot_row(g, sc, b[i].last);
        if (dx0 < 0 || dx1 < 0 || lo < 0 || hi < 0 || first < 0 || last < 0) {
            have_prev = 0;   /* off the range, or no finite value: a gap */
            continue;
        }
        if (have_prev) {
            line(g, px, py, dx0, first, series);
        }
        for (int dx = dx0; dx <= dx1; dx++) {
            line(g, dx, lo, dx, hi, series);
        }
        have_prev = 1;
        px = dx1;
        py = last;
    }
}

void curve_scale_add_blocks(CurveScale *sc, const CurveBlock *b, int n)
{
    for (int i = 0; i < n; i++) {
        curve_scale_add(sc, &b[i].lo, 1);
        curve_scale_add(sc, &b[i].hi, 1);
    }
}

void curve_mark(CurveGrid *g, double x, double xmin, double xmax, int kind)
{
    int dx = curve_dot_col(g, x, xmin, xmax);
    if (dx < 0) {
        return;
    }
    int cx = g->utf8 ? dx / 2 : dx;
    for (int cy = 0; cy < g->h; cy++) {
        g->mark[cy * g->w + cx] = (uint8_t)(1 + kind);
    }
}

uint32_t curve_cell_char(const CurveGrid *g, int cx, int cy)
{
    if (cx < 0 || cy < 0 || cx >= g->w || cy >= g->h) {
        return ' ';
    }
    int cell = cy * g->w + cx;
    if (g->bits[cell]) {
        if (g->utf8) {
            return 0x2800u + g->bits[cell];
        }
        int s = curve_cell_series(g, cx, cy);
        return s == CURVE_VAL_ACC ? '+' : s == CURVE_VAL_LOSS ? '*' : '.';
    }
    if (g->mark[cell]) {
        return g->utf8 ? 0x2502u : '|';
    }
    return ' ';
}

int curve_cell_series(const CurveGrid *g, int cx, int cy)
{
    if (cx < 0 || cy < 0 || cx >= g->w || cy >= g->h) {
        return -1;
    }
    uint8_t m = g->series[cy * g->w + cx];
    for (int s = CURVE_SERIES_COUNT - 1; s >= 0; s--) {
        if (m & (1u << s)) {
            return s;
        }
    }
    return -1;
}

void curve_ema(const double *in, int n, double weight, double *out)
{
    double last = 0.0;
    int count = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(in[i])) {
            out[i] = in[i];
            continue;
        }
        last = last * weight + (1.0 - weight) * in[i];
        count++;
        double debias = 1.0 - pow(weight, count);
        out[i] = debias > 0 ? last / debias : in[i];
    }
}
