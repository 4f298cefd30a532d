/* Recent log lines above the footer, newest last; the status or error line
 * first when there is one, wrapped over all rows but one so an error's
 * cause (after a long path) is still on an 80-column screen. */
#include <stdio.h>
#include <string.h>

#include "views/draw_util.h"
#include "views/theme.h"
#include "views/views.h"

static int ends_with(const char *text, const char *tail)
{
    size_t n = strlen(text), m = strlen(tail);
    return n >= m && strcmp(text + n - m, tail) == 0;
}

void log_view_draw(WINDOW *win, WbRect r, const WbState *s)
{
    if (r.h < 1 || r.w < 1) {
        return;
    }
    int y = r.y, rows = r.h;
    if (s->status_msg[0]) {
        ThemeRole role = s->job == WB_JOB_ERROR ? THEME_ERROR : THEME_WARN;
        wattrset(win, theme_attr(role, s->color));
        int max_rows = r.h > 1 ? r.h - 1 : 1;
        const char *text = s->status_msg;
        for (int used = 0; used < max_rows && *text; used++, y++, rows--) {
            const char *next = wb_wrap_next(text, r.w - 1);
            if (used == max_rows - 1) {
                next = text + strlen(text);   /* the last row is cut */
            }
            char row[sizeof s->status_msg];
            snprintf(row, sizeof row, "%.*s", (int)(next - text), text);
            wb_blank(win, r, y, r.x, r.w);
            wb_put(win, r, y, r.x + 1, r.w - 1, row, s->utf8);
            text = next;
        }
        wattrset(win, A_NORMAL);
    }
    /* The newest log line often is the status itself ("done: " + the same
     * text); shown twice it would push an older line (the last epoch's
     * accuracy) off a 3-row log. */
    int count = s->log_count;
    if (s->status_msg[0] && count > 0 && ends_with(wb_log_line(s, count - 1), s->status_msg)) {
        count--;
    }
    int first = count - rows;
    if (first < 0) {
        first = 0;
    }
    wattrset(win, theme_attr(THEME_DIM, s->color));
    for (int i = first; i < count; i++, y++) {
        wb_put(win, r, y, r.x + 1, r.w - 1, wb_log_line(s, i), s->utf8);
    }
    wattrset(win, A_NORMAL);
}
