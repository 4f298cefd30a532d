/* The top line: run, device, state, epoch/step, throughput, ETA. Pieces
 * that do not fit are dropped, least important first. */
#include <stdio.h>
#include <string.h>

#include "views/draw_util.h"
#include "views/theme.h"
#include "views/views.h"

enum { SEG_APP, SEG_RUN, SEG_DEVICE, SEG_STATE, SEG_PROGRESS, SEG_SPEED, SEG_ETA, SEG_N };

/* Keep order: the first ones survive on narrow terminals. */
static const int keep_order[SEG_N] = {SEG_STATE, SEG_PROGRESS, SEG_RUN, SEG_ETA,
                                      SEG_SPEED, SEG_DEVICE, SEG_APP};

static ThemeRole state_role(WbJobState job)
{
    switch (job) {
    case WB_JOB_RUNNING: return THEME_OK;
    case WB_JOB_PAUSED:
    case WB_JOB_STOPPING:
    case WB_JOB_LOADING: return THEME_WARN;
    case WB_JOB_ERROR: return THEME_ERROR;
    default: return THEME_STATUS;
    }
}

void status_bar_draw(WINDOW *win, WbRect r, const WbState *s)
{
    if (r.h < 1 || r.w < 1) {
        return;
    }
    const ThemeGlyphs *gl = theme_glyphs(s->utf8);
    /* each piece has a long and a short form */
    char seg[SEG_N][2][WB_NAME + 32];
    char eta[32];
    const char *icon = s->job == WB_JOB_RUNNING ? gl->running
                     : s->job == WB_JOB_PAUSED ? gl->paused
                     : (s->job == WB_JOB_DONE || s->job == WB_JOB_STOPPING) ? gl->stopped : "";
    snprintf(seg[SEG_APP][0], sizeof seg[0][0], "thaw");
    snprintf(seg[SEG_RUN][0], sizeof seg[0][0], "%s", s->run_name[0] ? s->run_name : "no run");
    snprintf(seg[SEG_DEVICE][0], sizeof seg[0][0], "%s", s->device);
    snprintf(seg[SEG_STATE][0], sizeof seg[0][0], "%s%s%s", icon, *icon ? " " : "",
             wb_job_name(s->job));
    snprintf(seg[SEG_PROGRESS][0], sizeof seg[0][0], "epoch %d/%d  step %lld/%lld", s->epoch,
             s->epochs, (long long)s->step, (long long)s->total_steps);
    snprintf(seg[SEG_PROGRESS][1], sizeof seg[0][0], "ep %d/%d %lld/%lld", s->epoch, s->epochs,
             (long long)s->step, (long long)s->total_steps);
    snprintf(seg[SEG_SPEED][0], sizeof seg[0][0], "%.0f samples/s", s->samples_per_s);
    snprintf(seg[SEG_SPEED][1], sizeof seg[0][0], "%.0f/s", s->samples_per_s);
    snprintf(seg[SEG_ETA][0], sizeof seg[0][0], "ETA %s", wb_fmt_eta(s->eta_s, eta, sizeof eta));
    for (int i = 0; i < SEG_N; i++) {
        if (i != SEG_PROGRESS && i != SEG_SPEED) {
            memcpy(seg[i][1], seg[i][0], sizeof seg[i][1]);
        }
    }
    /* the device's short form: "cuda:0" of "cuda:0 H100 80GB HBM3", "CPU"
     * of "CPU, 2 threads" */
    seg[SEG_DEVICE][1][strcspn(seg[SEG_DEVICE][1], " ,")] = 0;
    int has_run = s->epochs > 0;
    int shown[SEG_N] = {0};   /* 0 hidden, 1 long, 2 short */
    int used = 1 - 3;         /* a leading space; no separator before the first */
    for (int k = 0; k < SEG_N; k++) {
        int i = keep_order[k];
        if (!has_run && (i == SEG_PROGRESS || i == SEG_SPEED || i == SEG_ETA)) {
            continue;
        }
        if (i == SEG_SPEED && s->samples_per_s <= 0) {
            continue;
        }
        for (int form = 0; form < 2 && !shown[i]; form++) {
            int need = wb_text_cols(seg[i][form]) + 3;   /* " | " */
            if (used + need <= r.w) {
                shown[i] = form + 1;
                used += need;
            }
        }
    }
    attr_t base = theme_attr(THEME_STATUS, s->color);
    wattrset(win, base);
    wb_blank(win, r, r.y, r.x, r.w);
    int x = r.x + 1, first = 1;
    for (int i = 0; i < SEG_N; i++) {
        if (!shown[i]) {
            continue;
        }
        const char *text = seg[i][shown[i] - 1];
        if (!first) {
            x += wb_putf(win, r, r.y, x, r.w, s->utf8, " %s ", gl->sep);
        }
        first = 0;
        if (i == SEG_STATE && state_role(s->job) != THEME_STATUS) {
            wattrset(win, theme_attr(state_role(s->job), s->color) | A_BOLD);
        } else {
            wattrset(win, base | (i == SEG_APP || i == SEG_RUN ? A_BOLD : 0));
        }
        x += wb_put(win, r, r.y, x, r.w, text, s->utf8);
        wattrset(win, base);
    }
    wattrset(win, A_NORMAL);
}
