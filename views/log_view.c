/* Recent log lines above the footer, newest last; the status or error line
 * first when there is one. */
#include "views/draw_util.h"
#include "views/theme.h"
#include "views/views.h"

void log_view_draw(WINDOW *win, WbRect r, const WbState *s)
{
    if (r.h < 1 || r.w < 1) {
        return;
    }
    int y = r.y, rows = r.h;
    if (s->status_msg[0]) {
        ThemeRole role = s->job == WB_JOB_ERROR ? THEME_ERROR : THEME_WARN;
        wattrset(win, theme_attr(role, s->color));
        wb_blank(win, r, y, r.x, r.w);
        wb_put(win, r, y, r.x + 1, r.w - 1, s->status_msg, s->utf8);
        wattrset(win, A_NORMAL);
        y++;
        rows--;
    }
    int first = s->log_count - rows;
    if (first < 0) {
        first = 0;
    }
    wattrset(win, theme_attr(THEME_DIM, s->color));
    for (int i = first; i < s->log_count; i++, y++) {
        wb_put(win, r, y, r.x + 1, r.w - 1, wb_log_line(s, i), s->utf8);
    }
    wattrset(win, A_NORMAL);
}
