/* Rasterising the loss curves into a cell grid, without ncurses, so the
 * plot is unit-testable. UTF-8: each cell is a Braille character (U+2800 +
 * dot bits) holding 2x4 dots. ASCII: one dot per cell, drawn as the
 * series' character ('.' train, '*' val loss, '+' val acc). */
#ifndef THAW_VIEWS_CURVES_RASTER_H
#define THAW_VIEWS_CURVES_RASTER_H

#include <stdint.h>

#include "views/curve_pyramid.h"

typedef enum {
    CURVE_TRAIN = 0,   /* smoothed train loss per step */
    CURVE_VAL_LOSS,
    CURVE_VAL_ACC,
    CURVE_SERIES_COUNT,
} CurveSeries;

#define CURVE_MAX_CELLS (512 * 200)

typedef struct {
    int w, h;              /* cells */
    int utf8;
    int dots_x, dots_y;    /* dot resolution: 2w x 4h (utf8) or w x h */
    uint8_t bits[CURVE_MAX_CELLS];    /* Braille dot bits per cell */
    uint8_t series[CURVE_MAX_CELLS];  /* bit s set: series s drew in the cell */
    uint8_t mark[CURVE_MAX_CELLS];    /* 1 + WbMarkKind for a mark column, 0 none */
} CurveGrid;

/* A y range; log10 applied when log_scale. */
typedef struct {
    double lo, hi;         /* in plotted units (log10(y) when log_scale) */
    int log_scale;
} CurveScale;

/* Clears the grid for w x h cells (clamped to CURVE_MAX_CELLS). */
void curve_grid_init(CurveGrid *g, int w, int h, int utf8);

/* Extends *sc to include the finite values of y (and > 0 ones on a log
 * scale). Start with curve_scale_empty. */
CurveScale curve_scale_empty(int log_scale);
void curve_scale_add(CurveScale *sc, const double *y, int n);
/* Makes a usable range: empty -> [0, 1] (log: [1e-3, 1]); a flat range is
 * widened around its value; adds no padding otherwise, so min and max land
 * exactly on the bottom and top dot rows. */
void curve_scale_finish(CurveScale *sc);
/* The y value at the plotted unit u (undoes log10). */
double curve_scale_value(const CurveScale *sc, double u);

/* The dot row for y (0 = top); -1 when y cannot be plotted (NaN, <= 0 on
 * a log scale). */
int curve_dot_row(const CurveGrid *g, const CurveScale *sc, double y);
/* The dot column for x in [xmin, xmax]; -1 outside. */
int curve_dot_col(const CurveGrid *g, double x, double xmin, double xmax);

/* Sets one dot; out-of-grid dots are ignored. */
void curve_set_dot(CurveGrid *g, int dx, int dy, CurveSeries series);
/* Plots points (x[i], y[i]), joining consecutive plottable points with a
 * line when connect is set. Skips NaN/inf and, on a log scale, y <= 0. */
void curve_plot(CurveGrid *g, const double *x, const double *y, int n, double xmin,
                double xmax, const CurveScale *sc, CurveSeries series, int connect);
/* Plots min/max blocks (curve_pyramid.h) as a connected line: each block
 * fills [lo, hi] in its dot columns and joins the previous block's last
 * value to its first, so it sets the dots curve_plot would set for the
 * block's points once several points share a dot column. */
void curve_plot_blocks(CurveGrid *g, const CurveBlock *b, int n, double xmin, double xmax,
                       const CurveScale *sc, CurveSeries series);
/* Extends *sc by the blocks' lo and hi. */
void curve_scale_add_blocks(CurveScale *sc, const CurveBlock *b, int n);
/* A vertical mark at step x: the whole cell column. */
void curve_mark(CurveGrid *g, double x, double xmin, double xmax, int kind);

/* The character of cell (cx, cy): a Braille code point when utf8, the
 * series character in ASCII ('.', '*', '+'), the mark ('|') where no dot,
 * or ' '. */
uint32_t curve_cell_char(const CurveGrid *g, int cx, int cy);
/* The series that wins the cell's colour (highest index drawn), -1 none. */
int curve_cell_series(const CurveGrid *g, int cx, int cy);

/* TensorBoard's smoothing: a debiased exponential moving average with
 * weight w (0.6 by default there); non-finite inputs pass through and do
 * not disturb the average. */
void curve_ema(const double *in, int n, double weight, double *out);

#endif
