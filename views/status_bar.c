/* The top line: run, device, state, epoch/step, throughput, ETA. Pieces
 * that do not fit are dropped, least important first. */
#include <stdio.h>
#include <string.h>

#include "views/draw_util.h"
#include "views/theme.h"
#include "views/views.h"

enum { SEG_APP, SEG_RUN, SEG_DEVICE, SEG_STATE, SEG_EPOCH, SEG_STEP, SEG_SPEED, SEG_ETA, SEG_N };

/* Keep order: the first ones survive on narrow terminals. */
static const int keep_order[SEG_N] = {SEG_STATE, SEG_EPOCH, SEG_STEP, SEG_ETA,
                                      SEG_SPEED, SEG_RUN, SEG_DEVICE, SEG_APP};

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
    char seg[SEG_N][WB_NAME + 16];
    char a[32];
    const char *icon = s->job == WB_JOB_RUNNING ? gl->running
                     : s->job == WB_JOB_PAUSED ? gl->paused
                     : (s->job == WB_JOB_DONE || s->job == WB_JOB_STOPPING) ? gl->stopped : "";
    snprintf(seg[SEG_APP], sizeof seg[0], "thaw");
    snprintf(seg[SEG_RUN], sizeof seg[0], "%s", s->run_name[0] ? s->run_name : "no run");
    snprintf(seg[SEG_DEVICE], sizeof seg[0], "%s", s->device);
    snprintf(seg[SEG_STATE], sizeof seg[0], "%s%s%s", icon, *icon ? " " : "", wb_job_name(s->job));
    snprintf(seg[SEG_EPOCH], sizeof seg[0], "epoch %d/%d", s->epoch, s->epochs);
    snprintf(seg[SEG_STEP], sizeof seg[0], "step %lld/%lld", (long long)s->step,
             (long long)s->total_steps);
    snprintf(seg[SEG_SPEED], sizeof seg[0], "%.0f samples/s", s->samples_per_s);
    snprintf(seg[SEG_ETA], sizeof seg[0], "ETA %s", wb_fmt_eta(s->eta_s, a, sizeof a));
    int running_like = s->epochs > 0;
    int shown[SEG_N] = {0};
    int used = 1;   /* a leading space */
    for (int k = 0; k < SEG_N; k++) {
        int i = keep_order[k];
        if (!running_like && (i == SEG_EPOCH || i == SEG_STEP || i == SEG_SPEED || i == SEG_ETA)) {
            continue;
        }
        if (i == SEG_SPEED && s->samples_per_s <= 0) {
            continue;
        }
        int need = wb_text_cols(seg[i]) + 3;   /* " | " */
        if (used + need <= r.w + 3) {
            shown[i] = 1;
            used += need;
        }
    }
    attr_t base = theme_attr(THEME_STATUS, s->color);
    wattron(win, base);
    wb_blank(win, r, r.y, r.x, r.w);
    int x = r.x + 1, first = 1;
    for (int i = 0; i < SEG_N; i++) {
        if (!shown[i]) {
            continue;
        }
        if (!first) {
            x += wb_putf(win, r, r.y, x, r.w, s->utf8, " %s ", gl->sep);
        }
        first = 0;
        attr_t extra = i == SEG_APP || i == SEG_RUN ? A_BOLD : 0;
        if (i == SEG_STATE && state_role(s->job) != THEME_STATUS) {
            wattroff(win, base);
            wattron(win, theme_attr(state_role(s->job), s->color) | A_BOLD);
            x += wb_put(win, r, r.y, x, r.w, seg[i], s->utf8);
            wattroff(win, theme_attr(state_role(s->job), s->color) | A_BOLD);
            wattron(win, base);
            continue;
        }
        wattron(win, extra);
        x += wb_put(win, r, r.y, x, r.w, seg[i], s->utf8);
        wattroff(win, extra);
    }
    wattroff(win, base);
}
