/* The workbench state's pure helpers: tables, series, the log ring and
 * selection movement. No ncurses here. */
#include "views/wb_state.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wb_init(WbState *s)
{
    memset(s, 0, sizeof *s);
    s->eta_s = -1.0;
    s->lr_edit_group = -1;
    snprintf(s->device, sizeof s->device, "CPU");
}

static void series_free(WbSeries *v)
{
    free(v->x);
    free(v->y);
    memset(v, 0, sizeof *v);
}

void wb_free(WbState *s)
{
    free(s->layers);
    free(s->marks);
    series_free(&s->train_loss);
    free(s->train_ema);
    s->train_ema = NULL;
    s->cap_ema = s->ema_count = 0;
    curve_pyramid_free(&s->train_pyr);
    series_free(&s->epoch_train_loss);
    series_free(&s->val_loss);
    series_free(&s->val_acc);
    s->layers = NULL;
    s->marks = NULL;
    s->n_layers = s->cap_layers = s->n_marks = s->cap_marks = 0;
}

const char *wb_job_name(WbJobState job)
{
    switch (job) {
    case WB_JOB_IDLE: return "idle";
    case WB_JOB_LOADING: return "loading";
    case WB_JOB_READY: return "ready";
    case WB_JOB_RUNNING: return "running";
    case WB_JOB_PAUSED: return "paused";
    case WB_JOB_STOPPING: return "stopping";
    case WB_JOB_DONE: return "done";
    case WB_JOB_ERROR: return "error";
    }
    return "?";
}

/* Grows *buf (elements of size elem) to hold at least need; 0 or -1. */
static int grow(void **buf, int *cap, int need, size_t elem)
{
    if (need <= *cap) {
        return 0;
    }
    int n = *cap ? *cap : 64;
    while (n < need) {
        n *= 2;
    }
    void *p = realloc(*buf, (size_t)n * elem);
    if (!p) {
        return -1;
    }
    *buf = p;
    *cap = n;
    return 0;
}

static int series_push(WbSeries *v, double x, double y)
{
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 256;
        double *nx = realloc(v->x, (size_t)cap * sizeof *nx);
        if (!nx) {
            return -1;
        }
        v->x = nx;
        double *ny = realloc(v->y, (size_t)cap * sizeof *ny);
        if (!ny) {
            return -1;
        }
        v->y = ny;
        v->cap = cap;
    }
    v->x[v->n] = x;
    v->y[v->n] = y;
    v->n++;
    return 0;
}

int wb_set_groups(WbState *s, const WbGroup *groups, int n)
{
    if (n < 0 || n > WB_MAX_GROUPS) {
        return -1;
    }
    WbGroup next[WB_MAX_GROUPS];
    for (int i = 0; i < n; i++) {
        next[i] = groups[i];
        next[i].expanded = 0;
        for (int j = 0; j < s->n_groups; j++) {
            if (strcmp(s->groups[j].name, groups[i].name) == 0) {
                next[i].expanded = s->groups[j].expanded;
                break;
            }
        }
    }
    memcpy(s->groups, next, (size_t)n * sizeof *next);
    s->n_groups = n;
    wb_clamp(s);
    return 0;
}

int wb_set_layers(WbState *s, const WbLayer *layers, int n)
{
    if (n < 0 || grow((void **)&s->layers, &s->cap_layers, n, sizeof *layers) != 0) {
        return -1;
    }
    if (n > 0) {
        memcpy(s->layers, layers, (size_t)n * sizeof *layers);
    }
    s->n_layers = n;
    wb_clamp(s);
    return 0;
}

int wb_push_train_loss(WbState *s, int64_t step, double loss)
{
    if (series_push(&s->train_loss, (double)step, loss) != 0 ||
        grow((void **)&s->train_ema, &s->cap_ema, s->train_loss.n, sizeof *s->train_ema) != 0) {
        return -1;
    }
    /* curve_ema, one value at a time */
    double ema = loss;
    if (isfinite(loss)) {
        s->ema_last = s->ema_last * WB_EMA_WEIGHT + (1.0 - WB_EMA_WEIGHT) * loss;
        s->ema_count++;
        double debias = 1.0 - pow(WB_EMA_WEIGHT, s->ema_count);
        ema = debias > 0 ? s->ema_last / debias : loss;
    }
    s->train_ema[s->train_loss.n - 1] = ema;
    return curve_pyramid_push(&s->train_pyr, (double)step, ema);
}

int wb_push_epoch(WbState *s, int64_t step, double train_loss, double val_loss,
                  double val_acc)
{
    if (series_push(&s->epoch_train_loss, (double)step, train_loss) != 0 ||
        series_push(&s->val_loss, (double)step, val_loss) != 0 ||
        series_push(&s->val_acc, (double)step, val_acc) != 0) {
        return -1;
    }
    return 0;
}

int wb_add_mark(WbState *s, int64_t step, WbMarkKind kind)
{
    if (grow((void **)&s->marks, &s->cap_marks, s->n_marks + 1, sizeof *s->marks) != 0) {
        return -1;
    }
    s->marks[s->n_marks++] = (WbMark){.step = step, .kind = kind};
    return 0;
}

void wb_log(WbState *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = s->log[s->log_head];
    vsnprintf(line, WB_TEXT, fmt, ap);
    va_end(ap);
    /* one screen line per entry: control characters would move the cursor */
    for (char *p = line; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = ' ';
        }
    }
    s->log_head = (s->log_head + 1) % WB_LOG_LINES;
    if (s->log_count < WB_LOG_LINES) {
        s->log_count++;
    }
}

const char *wb_log_line(const WbState *s, int i)
{
    if (i < 0 || i >= s->log_count) {
        return NULL;
    }
    int oldest = (s->log_head - s->log_count + WB_LOG_LINES) % WB_LOG_LINES;
    return s->log[(oldest + i) % WB_LOG_LINES];
}

int wb_visible_rows(const WbState *s, WbRow *out, int cap)
{
    int n = 0;
    for (int g = 0; g < s->n_groups; g++) {
        if (out && n < cap) {
            out[n] = (WbRow){.group = g, .layer = -1};
        }
        n++;
        if (!s->groups[g].expanded) {
            continue;
        }
        for (int l = 0; l < s->n_layers; l++) {
            if (s->layers[l].group != g) {
                continue;
            }
            if (out && n < cap) {
                out[n] = (WbRow){.group = g, .layer = l};
            }
            n++;
        }
    }
    return n;
}

int wb_pane_count(const WbState *s, WbPane pane)
{
    switch (pane) {
    case WB_PANE_LAYERS: return wb_visible_rows(s, NULL, 0);
    case WB_PANE_GROUPS: return s->n_groups;
    default: return 0;
    }
}

static int clamp_index(int i, int count)
{
    if (count <= 0 || i < 0) {
        return 0;
    }
    return i >= count ? count - 1 : i;
}

void wb_move_to(WbState *s, int index)
{
    if (s->screen == WB_SCREEN_MODELS) {
        s->model_selected = clamp_index(index < 0 ? s->n_catalog - 1 : index, s->n_catalog);
        return;
    }
    int count = wb_pane_count(s, s->focus);
    s->selected[s->focus] = clamp_index(index < 0 ? count - 1 : index, count);
    wb_follow_group(s);
}

void wb_move(WbState *s, int delta)
{
    int cur = s->screen == WB_SCREEN_MODELS ? s->model_selected : s->selected[s->focus];
    long next = (long)cur + delta;
    wb_move_to(s, next < 0 ? 0 : next > 1000000 ? 1000000 : (int)next);
}

void wb_focus_next(WbState *s)
{
    s->focus = (WbPane)((s->focus + 1) % WB_PANE_COUNT);
}

void wb_clamp(WbState *s)
{
    /* scroll offsets are only kept in range here; the draw code moves them
     * to show the selection once it knows the pane height (wb_sync_scroll) */
    for (int p = 0; p < WB_PANE_COUNT; p++) {
        int count = wb_pane_count(s, (WbPane)p);
        s->selected[p] = clamp_index(s->selected[p], count);
        s->scroll[p] = clamp_index(s->scroll[p], count);
    }
    s->model_selected = clamp_index(s->model_selected, s->n_catalog);
    s->model_scroll = s->model_scroll < 0 ? 0 : s->model_scroll;
    if (s->lr_edit_group >= s->n_groups) {
        s->lr_editing = 0;
        s->lr_edit_group = -1;
    }
}

static int row_at(const WbState *s, int index, WbRow *row)
{
    int count = wb_visible_rows(s, NULL, 0);
    if (index < 0 || index >= count) {
        return -1;
    }
    /* walk without a buffer: groups are few, layers a few hundred */
    int n = 0;
    for (int g = 0; g < s->n_groups; g++) {
        if (n++ == index) {
            *row = (WbRow){.group = g, .layer = -1};
            return 0;
        }
        if (!s->groups[g].expanded) {
            continue;
        }
        for (int l = 0; l < s->n_layers; l++) {
            if (s->layers[l].group == g && n++ == index) {
                *row = (WbRow){.group = g, .layer = l};
                return 0;
            }
        }
    }
    return -1;
}

int wb_selected_group(const WbState *s)
{
    if (s->focus == WB_PANE_GROUPS) {
        return s->n_groups > 0 ? clamp_index(s->selected[WB_PANE_GROUPS], s->n_groups) : -1;
    }
    WbRow row;
    if (s->focus == WB_PANE_LAYERS && row_at(s, s->selected[WB_PANE_LAYERS], &row) == 0) {
        return row.group;
    }
    return -1;
}

int wb_selected_layer(const WbState *s)
{
    WbRow row;
    if (s->focus == WB_PANE_LAYERS && row_at(s, s->selected[WB_PANE_LAYERS], &row) == 0) {
        return row.layer;
    }
    return -1;
}

/* Index of group g's header in the flattened layers list. */
static int header_row(const WbState *s, int g)
{
    int n = 0;
    for (int i = 0; i < g && i < s->n_groups; i++) {
        n++;
        if (s->groups[i].expanded) {
            for (int l = 0; l < s->n_layers; l++) {
                n += s->layers[l].group == i;
            }
        }
    }
    return n;
}

void wb_toggle_expanded(WbState *s)
{
    WbRow row;
    if (row_at(s, s->selected[WB_PANE_LAYERS], &row) != 0) {
        return;
    }
    s->groups[row.group].expanded = !s->groups[row.group].expanded;
    /* the selection follows the group header (its index is unchanged when
     * expanding, and is the header's when collapsing from a layer) */
    s->selected[WB_PANE_LAYERS] = header_row(s, row.group);
    wb_clamp(s);
    wb_follow_group(s);
}

void wb_follow_group(WbState *s)
{
    if (s->n_groups <= 0) {
        return;
    }
    WbRow row;
    int have_row = row_at(s, s->selected[WB_PANE_LAYERS], &row) == 0;
    if (s->focus == WB_PANE_LAYERS && have_row) {
        s->selected[WB_PANE_GROUPS] = row.group;
    } else if (s->focus == WB_PANE_GROUPS) {
        int g = clamp_index(s->selected[WB_PANE_GROUPS], s->n_groups);
        if (!have_row || row.group != g) {
            s->selected[WB_PANE_LAYERS] = header_row(s, g);
        }
    }
}

int wb_groups_anchor(const WbState *s)
{
    if (s->lr_editing && s->lr_edit_group >= 0 && s->lr_edit_group < s->n_groups) {
        return s->lr_edit_group;
    }
    return s->selected[WB_PANE_GROUPS];
}

int wb_scroll_for(int selected, int scroll, int visible, int count)
{
    if (visible <= 0 || count <= visible) {
        return 0;
    }
    if (scroll > count - visible) {
        scroll = count - visible;
    }
    if (selected < scroll) {
        scroll = selected;
    } else if (selected >= scroll + visible) {
        scroll = selected - visible + 1;
    }
    return scroll < 0 ? 0 : scroll;
}
