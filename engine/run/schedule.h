/* Learning-rate schedules as a multiplier of each group's base lr, evaluated
 * per optimizer step (step 0 is the first update). Closed forms of PyTorch's
 * schedulers so that a resumed run lands on the same value:
 *
 *  - constant: 1
 *  - step:     gamma ^ floor(s / step_steps)            (StepLR)
 *  - cosine:   0.5 * (1 + cos(pi * s / T))               (CosineAnnealingLR,
 *              eta_min 0, T = total steps)
 *  - linear:   max(0, 1 - s / T)  (transformers' linear schedule, the text
 *              recipe's default with warmup_ratio 0.1)
 *  - onecycle: OneCycleLR(max_lr = base lr, total_steps, pct_start,
 *              anneal cos, div_factor 25, final_div_factor 1e4), without
 *              momentum cycling
 *
 * Linear warmup (warmup_steps > 0, not for onecycle, whose warmup is its
 * first phase): the multiplier is s / warmup_steps for s < warmup_steps
 * (transformers' get_*_schedule_with_warmup), and the schedule above runs
 * on s - warmup_steps over total - warmup_steps steps afterwards. */
#ifndef THAW_RUN_SCHEDULE_H
#define THAW_RUN_SCHEDULE_H

#include <stdint.h>

typedef enum { SCHED_CONSTANT, SCHED_STEP, SCHED_COSINE, SCHED_ONECYCLE, SCHED_LINEAR } ScheduleKind;

typedef struct {
    ScheduleKind kind;
    int64_t total_steps;
    int64_t warmup_steps;
    int64_t step_steps;        /* step: decay every step_steps steps */
    double gamma;              /* step */
    double pct_start;          /* onecycle (0.3) */
    double div_factor;         /* onecycle (25) */
    double final_div_factor;   /* onecycle (1e4) */
} Schedule;

/* Multiplier of the base lr at optimizer step s (0-based). */
double schedule_factor(const Schedule *s, int64_t step);

const char *schedule_name(ScheduleKind kind);
/* 0 and *kind set when name is constant|step|cosine|onecycle. */
int schedule_parse(const char *name, ScheduleKind *kind);

#endif
