/* The draw functions. Each draws one pane of the state into its rect of
 * win and never outside it; wb_draw composes the whole screen. None of them
 * calls refresh: the loop calls wnoutrefresh/doupdate after. */
#ifndef THAW_VIEWS_VIEWS_H
#define THAW_VIEWS_VIEWS_H

#include <curses.h>

#include "views/layout.h"
#include "views/wb_state.h"

void status_bar_draw(WINDOW *win, WbRect r, const WbState *s);
void layers_view_draw(WINDOW *win, WbRect r, const WbState *s);
void curves_view_draw(WINDOW *win, WbRect r, const WbState *s);
void lr_view_draw(WINDOW *win, WbRect r, const WbState *s);
void log_view_draw(WINDOW *win, WbRect r, const WbState *s);
void model_table_draw(WINDOW *win, WbRect r, const WbState *s);
void help_view_draw(WINDOW *win, WbRect r, const WbState *s);
void footer_draw(WINDOW *win, WbRect r, const WbState *s);
void too_small_draw(WINDOW *win, WbRect r, const WbState *s);

/* Rows of data the layers, groups and model-table panes show at their
 * rect (borders and header lines taken off). */
int layers_view_rows(WbRect r);
int lr_view_rows(WbRect r);
int model_table_rows(WbRect r);
/* Display line of catalog row `row` in the model table (section headers
 * count), and the number of lines. */
int model_table_line_of(const WbState *s, int row, int *n_lines);

/* Moves the scroll offsets so each selection is visible in the layout. */
void wb_sync_scroll(WbState *s, const WbLayout *l);

/* The whole screen: layout from win's size, scroll sync, werase, every
 * pane, overlays. */
void wb_draw(WINDOW *win, WbState *s);

#endif
