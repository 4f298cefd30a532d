/* The whole screen from the state: layout, scroll sync, every pane. */
#include <stdio.h>

#include "views/draw_util.h"
#include "views/theme.h"
#include "views/views.h"

void too_small_draw(WINDOW *win, WbRect r, const WbState *s)
{
    char msg[64], size[32];
    snprintf(msg, sizeof msg, "terminal too small (need %dx%d)", WB_MIN_COLS, WB_MIN_ROWS);
    snprintf(size, sizeof size, "now %dx%d", r.w, r.h);
    int y = r.y + r.h / 2;
    int w = wb_text_cols(msg);
    wattrset(win, theme_attr(THEME_WARN, s->color));
    wb_put(win, r, y, r.x + (r.w > w ? (r.w - w) / 2 : 0), r.w, msg, s->utf8);
    wattrset(win, A_NORMAL);
    wb_put(win, r, y + 1, r.x + (r.w > 10 ? (r.w - wb_text_cols(size)) / 2 : 0), r.w, size, s->utf8);
}

void wb_sync_scroll(WbState *s, const WbLayout *l)
{
    if (l->too_small) {
        return;
    }
    int count = wb_visible_rows(s, NULL, 0);
    s->scroll[WB_PANE_LAYERS] = wb_scroll_for(s->selected[WB_PANE_LAYERS],
                                              s->scroll[WB_PANE_LAYERS],
                                              layers_view_rows(l->layers), count);
    s->scroll[WB_PANE_GROUPS] = wb_scroll_for(wb_groups_anchor(s),
                                              s->scroll[WB_PANE_GROUPS],
                                              lr_view_rows(l->groups), s->n_groups);
    int n_lines = 0;
    int line = model_table_line_of(s, s->model_selected, &n_lines);
    s->model_scroll = wb_scroll_for(line < 0 ? 0 : line, s->model_scroll,
                                    model_table_rows(l->models), n_lines);
}

void wb_draw(WINDOW *win, WbState *s)
{
    int rows, cols;
    getmaxyx(win, rows, cols);
    WbLayout l;
    wb_layout(rows, cols, s, &l);
    werase(win);
    if (l.too_small) {
        too_small_draw(win, l.message, s);
        return;
    }
    wb_sync_scroll(s, &l);
    status_bar_draw(win, l.status, s);
    if (s->screen == WB_SCREEN_MODELS) {
        model_table_draw(win, l.models, s);
    } else {
        layers_view_draw(win, l.layers, s);
        curves_view_draw(win, l.curves, s);
        lr_view_draw(win, l.groups, s);
        log_view_draw(win, l.log, s);
    }
    footer_draw(win, l.footer, s);
    if (s->help) {
        help_view_draw(win, l.help, s);
    }
    wattrset(win, A_NORMAL);
}
