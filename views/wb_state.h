/* WbState: the workbench's own copy of everything the screen shows, plus
 * the UI state (focus, selection, scroll, edit buffer, overlays). Plain C:
 * no pointer into engine memory. The main loop folds bus events into it
 * with the helpers below and hands it to wb_draw (views/screen.h).
 * Fixed-size tables for small things; the growing series and the layer list
 * are owned heap arrays released by wb_free. */
#ifndef THAW_VIEWS_WB_STATE_H
#define THAW_VIEWS_WB_STATE_H

#include <stdint.h>

#include "views/catalog_row.h"
#include "views/curve_pyramid.h"

#define WB_NAME 96
#define WB_TEXT 160
#define WB_MAX_GROUPS 32
#define WB_MAX_CATALOG 48
#define WB_LOG_LINES 64
#define WB_LR_EDIT 32
#define WB_EMA_WEIGHT 0.6

typedef enum {
    WB_JOB_IDLE = 0,   /* no run yet (model table, nothing loaded) */
    WB_JOB_LOADING,
    WB_JOB_READY,
    WB_JOB_RUNNING,
    WB_JOB_PAUSED,
    WB_JOB_STOPPING,
    WB_JOB_DONE,
    WB_JOB_ERROR,
} WbJobState;

typedef enum { WB_SCREEN_MAIN = 0, WB_SCREEN_MODELS } WbScreen;

typedef enum { WB_PANE_LAYERS = 0, WB_PANE_GROUPS, WB_PANE_CURVES, WB_PANE_COUNT } WbPane;

typedef enum { WB_MARK_FREEZE = 0, WB_MARK_UNFREEZE, WB_MARK_LR } WbMarkKind;

typedef struct {
    char name[WB_NAME];
    int frozen;            /* no layer of the group trains */
    int partial;           /* some layers train, some are frozen */
    int pending;           /* a change was sent; the engine has not confirmed it */
    double base_lr;        /* what the user set */
    double lr;             /* the lr of the next step (schedule applied) */
    double weight_decay;
    int64_t trainable_params;
    int64_t total_params;
    char bn_mode[8];       /* "eval" or "train" */
    int expanded;          /* layers pane shows its layers */
} WbGroup;

typedef struct {
    char name[WB_NAME];    /* "layer4.1.conv2" */
    int group;             /* index into WbState.groups */
    char shape[24];        /* "7x7x512" */
    int64_t params;
    int frozen;
    int pending;           /* a freeze change of this layer awaits the engine */
} WbLayer;

/* A growing (x, y) series; x is the global step. */
typedef struct {
    double *x, *y;
    int n, cap;
} WbSeries;

typedef struct {
    int64_t step;
    WbMarkKind kind;
} WbMark;

/* One line of the flattened layers list: a group header (layer == -1) or
 * one of an expanded group's layers. */
typedef struct {
    int group;
    int layer;
} WbRow;

typedef struct {
    /* run */
    char run_name[WB_NAME];
    char device[WB_NAME];          /* "CPU 2 threads" */
    WbJobState job;
    char status_msg[WB_TEXT];      /* error or status line; "" for none */
    int epoch, epochs;
    int64_t step, total_steps;
    double samples_per_s;
    double eta_s;                  /* < 0: unknown */

    /* model */
    WbGroup groups[WB_MAX_GROUPS];
    int n_groups;
    WbLayer *layers;               /* owned */
    int n_layers, cap_layers;

    /* metrics */
    WbSeries train_loss;           /* per step */
    /* its TensorBoard smoothing (curve_ema, weight WB_EMA_WEIGHT) and a
     * min/max pyramid of that, kept as points arrive so a frame costs the
     * plot's width, not the steps seen (wb_push_train_loss) */
    double *train_ema;             /* owned, train_loss.n values */
    int cap_ema;
    double ema_last;
    int ema_count;
    CurvePyramid train_pyr;
    WbSeries epoch_train_loss;     /* per epoch, x = step at the epoch's end */
    WbSeries val_loss;
    WbSeries val_acc;              /* 0..1 */
    WbMark *marks;                 /* owned */
    int n_marks, cap_marks;

    /* log ring: the newest WB_LOG_LINES lines */
    char log[WB_LOG_LINES][WB_TEXT];
    int log_head, log_count;       /* next slot to write, lines held */

    /* model-choice table */
    CatalogRow catalog[WB_MAX_CATALOG];
    int n_catalog;
    char strategy_hint[WB_TEXT * 2];

    /* UI */
    WbScreen screen;
    WbPane focus;
    int selected[WB_PANE_COUNT];
    int scroll[WB_PANE_COUNT];
    int model_selected, model_scroll;
    char lr_edit[WB_LR_EDIT];
    int lr_editing;                /* the groups pane edits lr of lr_edit_group */
    int lr_edit_group;
    int lr_edit_fresh;             /* lr_edit holds the pre-filled value, shown
                                    * selected: the first key typed replaces it */
    int help;
    int quit_confirm;
    int pick_confirm;              /* 1 + the catalog row to switch to, asked
                                    * first while a run is going (it ends unsaved) */
    int log_scale;
    int utf8;
    int color;
} WbState;

void wb_init(WbState *s);
void wb_free(WbState *s);

const char *wb_job_name(WbJobState job);

/* Groups and layers (replace the whole table, e.g. from a snapshot event).
 * Expanded flags survive for groups whose name is unchanged. Return 0, or
 * -1 when out of memory or over WB_MAX_GROUPS. */
int wb_set_groups(WbState *s, const WbGroup *groups, int n);
int wb_set_layers(WbState *s, const WbLayer *layers, int n);

/* Metrics; return 0 or -1 when out of memory. NaN values are kept (the plot
 * skips them). */
int wb_push_train_loss(WbState *s, int64_t step, double loss);
int wb_push_epoch(WbState *s, int64_t step, double train_loss, double val_loss,
                  double val_acc);
int wb_add_mark(WbState *s, int64_t step, WbMarkKind kind);
void wb_log(WbState *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* i-th held log line, 0 = oldest; NULL when out of range. */
const char *wb_log_line(const WbState *s, int i);

/* The flattened layers list. Writes up to cap rows (out may be NULL) and
 * returns how many there are in all. */
int wb_visible_rows(const WbState *s, WbRow *out, int cap);
/* Rows of the layers list, the groups pane or the model table. */
int wb_pane_count(const WbState *s, WbPane pane);

/* Selection: moves in the focused pane (or the model table on that
 * screen) by delta, clamped to the rows there. */
void wb_move(WbState *s, int delta);
void wb_move_to(WbState *s, int index);   /* < 0: the last row */
void wb_focus_next(WbState *s);
/* Clamps every selection and scroll after the tables changed size. */
void wb_clamp(WbState *s);
/* The group the selection points at (layers or groups pane), or -1. */
int wb_selected_group(const WbState *s);
/* The layer under the layers-pane selection, or -1 on a group header. */
int wb_selected_layer(const WbState *s);
/* Expands or collapses the selected group in the layers pane; keeps the
 * selection on its header. */
void wb_toggle_expanded(WbState *s);
/* The layers and lr groups panes select the same group: after the focused
 * pane's selection moved, the other follows (the lr pane to the layer
 * row's group; the layers pane to the group's header unless its selection
 * is already inside that group). wb_move_to and wb_toggle_expanded call it. */
void wb_follow_group(WbState *s);
/* The row the lr groups pane keeps in view: the group being edited, else
 * its selection. */
int wb_groups_anchor(const WbState *s);

/* Scroll offset that keeps `selected` inside a window of `visible` rows
 * over `count` rows, moving as little as possible from `scroll`. */
int wb_scroll_for(int selected, int scroll, int visible, int count);

#endif
