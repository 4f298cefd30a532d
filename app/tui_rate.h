/* The live training rate for the status bar: the engine's STEP events carry
 * no throughput (only EPOCH events do, as an epoch average), so the
 * workbench times the steps as they arrive and reports steps per second
 * over the last few seconds. Pure: the caller passes the clock. */
#ifndef THAW_TUI_RATE_H
#define THAW_TUI_RATE_H

#include <stdint.h>

#define TUI_RATE_SAMPLES 64
#define TUI_RATE_WINDOW_S 3.0

typedef struct {
    double t[TUI_RATE_SAMPLES];      /* seconds, increasing */
    int64_t step[TUI_RATE_SAMPLES];  /* global step seen at t */
    int head, n;                     /* next slot, samples held */
} TuiRate;

/* Forgets every sample: after a gap that is not training (validation,
 * pause), so the next rate is over steps only. */
void tui_rate_reset(TuiRate *r);
/* Step `step` was seen at time t (a merged STEP event is one sample). A
 * step that does not move forward (a new run) restarts the window. */
void tui_rate_add(TuiRate *r, double t, int64_t step);
/* Steps per second from the newest sample back to the oldest one within
 * TUI_RATE_WINDOW_S (or, if that is the newest itself, the one before);
 * 0 when fewer than two samples are held. */
double tui_rate_steps_per_s(const TuiRate *r);

/* CLOCK_MONOTONIC in seconds. */
double tui_rate_clock(void);

#endif
