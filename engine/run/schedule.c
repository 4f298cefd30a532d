#include "schedule.h"

#include <math.h>
#include <string.h>

static const char *NAMES[] = {"constant", "step", "cosine", "onecycle", "linear"};

const char *schedule_name(ScheduleKind kind)
{
    return (unsigned)kind < 5 ? NAMES[kind] : "?";
}

int schedule_parse(const char *name, ScheduleKind *kind)
{
    for (int i = 0; i < 5; i++) {
        if (strcmp(name, NAMES[i]) == 0) {
            *kind = (ScheduleKind)i;
            return 0;
        }
    }
    return -1;
}

static double cos_anneal(double start, double end, double pct)
{
    return end + (start - end) / 2.0 * (cos(M_PI * pct) + 1.0);
}

static double onecycle(const Schedule *s, int64_t step)
{
    double initial = 1.0 / s->div_factor;
    double min_lr = initial / s->final_div_factor;
    double end1 = s->pct_start * (double)s->total_steps - 1.0;
    double end2 = (double)s->total_steps - 1.0;
    double t = (double)step;
    if (t <= end1 || end2 <= end1) {
        double pct = end1 > 0 ? t / end1 : 1.0;
        return cos_anneal(initial, 1.0, pct);
    }
    double pct = (t - end1) / (end2 - end1);
    if (pct > 1.0) {
        pct = 1.0;
    }
    return cos_anneal(1.0, min_lr, pct);
}

double schedule_factor(const Schedule *s, int64_t step)
{
    if (step < 0) {
        step = 0;
    }
    if (s->kind == SCHED_ONECYCLE) {
        return onecycle(s, step);
    }
    int64_t warm = s->warmup_steps > 0 ? s->warmup_steps : 0;
    if (step < warm) {
        return (double)step / (double)warm;
    }
    int64_t t = step - warm;
    int64_t span = s->total_steps - warm;
    switch (s->kind) {
    case SCHED_STEP: {
        int64_t every = s->step_steps > 0 ? s->step_steps : 1;
        return pow(s->gamma, (double)(t / every));
    }
    case SCHED_COSINE:
        if (span <= 0) {
            return 1.0;
        }
        if (t > span) {
            t = span;
        }
        return 0.5 * (1.0 + cos(M_PI * (double)t / (double)span));
    case SCHED_LINEAR:
        if (span <= 0) {
            return 1.0;
        }
        return t >= span ? 0.0 : (double)(span - t) / (double)span;
    default:
        return 1.0;
    }
}
