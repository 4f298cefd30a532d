/* A min/max pyramid over a growing series, so a frame plots a long loss
 * curve in time proportional to the plot's width, not to the steps seen.
 * Level L holds blocks of 2^(L+1) consecutive points: their first and last
 * x, the min and max of their finite values and the first and last finite
 * value. A connected line through a block's points covers exactly
 * [min, max] in the block's dot column, so plotting blocks instead of
 * points sets the same dots once several points share a column. Appending
 * is O(1) amortised (a block merges two of the level below). */
#ifndef THAW_VIEWS_CURVE_PYRAMID_H
#define THAW_VIEWS_CURVE_PYRAMID_H

#include <stdint.h>

#define CURVE_PYR_LEVELS 30

typedef struct {
    double x0, x1;        /* x of the block's first and last point */
    double lo, hi;        /* min and max of its finite values (NaN: none) */
    double first, last;   /* its first and last finite values (NaN: none) */
} CurveBlock;

typedef struct {
    CurveBlock *blocks;   /* owned */
    int n, cap;
} CurvePyrLevel;

typedef struct {
    CurvePyrLevel level[CURVE_PYR_LEVELS];
    CurveBlock single;    /* the point waiting for its pair (level 0) */
    int64_t points;       /* points pushed */
} CurvePyramid;

void curve_pyramid_init(CurvePyramid *p);
void curve_pyramid_free(CurvePyramid *p);
/* Appends (x, y); returns 0 or -1 when out of memory (the pyramid then
 * stops growing and curve_pyramid_level returns -1). */
int curve_pyramid_push(CurvePyramid *p, double x, double y);
/* The finest level with at most max_blocks blocks, or -1 when even the
 * top level has more, or the pyramid is incomplete (out of memory). Points
 * after its last block (fewer than 2^(level+1)) are the caller's to plot. */
int curve_pyramid_level(const CurvePyramid *p, int max_blocks);
/* Points a level's blocks cover: n * 2^(level+1). */
int64_t curve_pyramid_covered(const CurvePyramid *p, int level);

#endif
