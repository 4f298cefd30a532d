/* The help overlay: every key and what the glyphs mean. The key list is
 * data (wb_help_keys) so the key table in app/ can be checked against it. */
#include "views/draw_util.h"
#include "views/help_view.h"
#include "views/theme.h"
#include "views/views.h"

const WbHelpKey wb_help_keys[] = {
    {"Tab", "next pane (layers, lr groups, loss)"},
    {"j/k, Up/Down", "move the selection (PgUp/PgDn, g/G jump)"},
    {"Enter, Right", "expand a group (Left collapses)"},
    {"Space", "freeze or thaw the selected group or layer"},
    {"f", "freeze everything up to the selection"},
    {"u", "unfreeze all"},
    {"e", "edit the group's lr: 1e-4, 0.001, x0.5, /10"},
    {"t", "start or pause training"},
    {"s", "save a checkpoint now"},
    {"m", "model-choice table (Esc goes back)"},
    {"l", "loss plot on a linear or log scale"},
    {"?", "this help (any key closes it)"},
    {"q", "quit (asks first while a run is going)"},
    {"Ctrl-C", "save a checkpoint and quit"},
};
const int wb_help_key_count = (int)(sizeof wb_help_keys / sizeof wb_help_keys[0]);

void help_view_draw(WINDOW *win, WbRect r, const WbState *s)
{
    int u = s->utf8, c = s->color;
    const ThemeGlyphs *gl = theme_glyphs(u);
    wattrset(win, A_NORMAL);
    for (int y = r.y; y < r.y + r.h; y++) {
        wb_blank(win, r, y, r.x, r.w);
    }
    WbRect in = wb_frame(win, r, "help", 1, u, c);
    if (in.h < 1 || in.w < 10) {
        return;
    }
    int key_w = 14, y = in.y;
    for (int i = 0; i < wb_help_key_count && y < in.y + in.h; i++, y++) {
        wattrset(win, theme_attr(THEME_TITLE, c));
        wb_putf(win, in, y, in.x + 1, key_w, u, "%s", wb_help_keys[i].key);
        wattrset(win, A_NORMAL);
        wb_put(win, in, y, in.x + 1 + key_w, in.w - 1 - key_w, wb_help_keys[i].what, u);
    }
    if (y + 1 < in.y + in.h) {
        y++;
        wattrset(win, theme_attr(THEME_DIM, c));
        wb_putf(win, in, y++, in.x + 1, in.w - 1, u,
                "%s trains  %s frozen  %s partly  %s sent, not yet applied", gl->on, gl->off,
                gl->partial, gl->pending);
        wb_putf(win, in, y++, in.x + 1, in.w - 1, u,
                "%s in the plot: freeze or lr changed at that step", gl->mark);
        wattrset(win, A_NORMAL);
    }
}
