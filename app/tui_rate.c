/* Steps per second over a short window of step arrivals. */
#include "app/tui_rate.h"

#include <string.h>
#include <time.h>

void tui_rate_reset(TuiRate *r)
{
    memset(r, 0, sizeof *r);
}

void tui_rate_add(TuiRate *r, double t, int64_t step)
{
    if (r->n > 0) {
        int last = (r->head - 1 + TUI_RATE_SAMPLES) % TUI_RATE_SAMPLES;
        if (step <= r->step[last] || t < r->t[last]) {
            tui_rate_reset(r);
        }
    }
    r->t[r->head] = t;
    r->step[r->head] = step;
    r->head = (r->head + 1) % TUI_RATE_SAMPLES;
    if (r->n < TUI_RATE_SAMPLES) {
        r->n++;
    }
}

double tui_rate_steps_per_s(const TuiRate *r)
{
    if (r->n < 2) {
        return 0;
    }
    int newest = (r->head - 1 + TUI_RATE_SAMPLES) % TUI_RATE_SAMPLES;
    int from = (newest - 1 + TUI_RATE_SAMPLES) % TUI_RATE_SAMPLES;
    for (int k = 2; k < r->n; k++) {   /* k samples back from the newest */
        int i = (newest - k + TUI_RATE_SAMPLES) % TUI_RATE_SAMPLES;
        if (r->t[newest] - r->t[i] > TUI_RATE_WINDOW_S) {
            break;
        }
        from = i;
    }
    double dt = r->t[newest] - r->t[from];
    if (dt <= 0) {
        return 0;
    }
    return (double)(r->step[newest] - r->step[from]) / dt;
}

double tui_rate_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
