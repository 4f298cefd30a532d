/* The min/max pyramid of a growing series (see curve_pyramid.h). */
#include "views/curve_pyramid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void curve_pyramid_init(CurvePyramid *p)
{
    memset(p, 0, sizeof *p);
}

void curve_pyramid_free(CurvePyramid *p)
{
    for (int l = 0; l < CURVE_PYR_LEVELS; l++) {
        free(p->level[l].blocks);
    }
    curve_pyramid_init(p);
}

static CurveBlock point_block(double x, double y)
{
    double v = isfinite(y) ? y : NAN;
    return (CurveBlock){.x0 = x, .x1 = x, .lo = v, .hi = v, .first = v, .last = v};
}

/* NaN-aware: NaN means "no finite value". */
static double min_of(double a, double b)
{
    return isnan(a) ? b : isnan(b) ? a : fmin(a, b);
}

static double max_of(double a, double b)
{
    return isnan(a) ? b : isnan(b) ? a : fmax(a, b);
}

static CurveBlock merge(const CurveBlock *a, const CurveBlock *b)
{
    return (CurveBlock){
        .x0 = a->x0, .x1 = b->x1,
        .lo = min_of(a->lo, b->lo), .hi = max_of(a->hi, b->hi),
        .first = isnan(a->first) ? b->first : a->first,
        .last = isnan(b->last) ? a->last : b->last,
    };
}

static int append(CurvePyrLevel *lv, const CurveBlock *b)
{
    if (lv->n == lv->cap) {
        int cap = lv->cap ? lv->cap * 2 : 64;
        CurveBlock *grown = realloc(lv->blocks, (size_t)cap * sizeof *grown);
        if (!grown) {
            return -1;
        }
        lv->blocks = grown;
        lv->cap = cap;
    }
    lv->blocks[lv->n++] = *b;
    return 0;
}

int curve_pyramid_push(CurvePyramid *p, double x, double y)
{
    if (p->points < 0) {
        return -1;   /* broken by an earlier allocation failure */
    }
    CurveBlock pt = point_block(x, y);
    if (p->points++ % 2 == 0) {
        p->single = pt;
        return 0;
    }
    CurveBlock b = merge(&p->single, &pt);
    for (int l = 0; l < CURVE_PYR_LEVELS; l++) {
        CurvePyrLevel *lv = &p->level[l];
        if (append(lv, &b) != 0) {
            p->points = -1;
            return -1;
        }
        if (lv->n % 2 != 0) {
            break;   /* waits for its pair */
        }
        b = merge(&lv->blocks[lv->n - 2], &lv->blocks[lv->n - 1]);
    }
    return 0;
}

int curve_pyramid_level(const CurvePyramid *p, int max_blocks)
{
    if (p->points < 0) {
        return -1;
    }
    for (int l = 0; l < CURVE_PYR_LEVELS; l++) {
        if (p->level[l].n <= max_blocks) {
            return l;
        }
    }
    return -1;
}

int64_t curve_pyramid_covered(const CurvePyramid *p, int level)
{
    return (int64_t)p->level[level].n << (level + 1);
}
