/* Where each pane goes: a pure function of the terminal size and the state
 * (the number of groups sizes the LR pane). No ncurses. */
#ifndef THAW_VIEWS_LAYOUT_H
#define THAW_VIEWS_LAYOUT_H

#include "views/wb_state.h"

#define WB_MIN_ROWS 16
#define WB_MIN_COLS 60

/* Smallest useful sizes (borders included). */
#define WB_LAYERS_MIN_H 6
#define WB_LAYERS_MIN_W 30
#define WB_CURVES_MIN_H 6
#define WB_CURVES_MIN_W 28
#define WB_GROUPS_MIN_H 4
#define WB_GROUPS_MIN_W 28

typedef struct {
    int y, x, h, w;   /* top-left corner and size; h == 0 or w == 0: absent */
} WbRect;

typedef struct {
    int rows, cols;
    int too_small;    /* only `message` is set: "terminal too small (need 60x16)" */
    WbRect message;
    WbRect status;    /* the top line */
    WbRect layers;    /* left */
    WbRect curves;    /* right, top */
    WbRect groups;    /* right, bottom */
    WbRect log;       /* recent log lines above the footer */
    WbRect footer;    /* the bottom line */
    WbRect help;      /* overlay, centred over the panes */
    WbRect models;    /* the model-choice screen: everything between status and footer */
} WbLayout;

void wb_layout(int rows, int cols, const WbState *s, WbLayout *out);

/* 1 when the rects share a cell. */
int wb_rect_overlap(WbRect a, WbRect b);
/* 1 when the cell (y, x) is inside r. */
int wb_rect_contains(WbRect r, int y, int x);

#endif
