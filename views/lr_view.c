/* The LR groups pane: per group lr (and the scheduled lr when the schedule
 * moved it), weight decay, trainable parameters; the selected group's lr
 * becomes an edit field while editing. */
#include <math.h>
#include <stdio.h>

#include "views/draw_util.h"
#include "views/theme.h"
#include "views/views.h"

int lr_view_rows(WbRect r)
{
    return r.h > 3 ? r.h - 3 : 0;   /* frame and the column header */
}

/* columns: pending(1) name sp lr(7) now(8) wd(7) trainable(6) */
#define FIXED_W 30
#define WD_W 7
#define NAME_MAX_W 20

static void draw_group(WINDOW *win, WbRect in, int y, const WbState *s, int gi, int name_w,
                       int show_wd)
{
    const WbGroup *g = &s->groups[gi];
    const ThemeGlyphs *gl = theme_glyphs(s->utf8);
    int u = s->utf8, c = s->color;
    int focused = s->focus == WB_PANE_GROUPS;
    int selected = gi == s->selected[WB_PANE_GROUPS];
    attr_t sel = selected ? (focused ? theme_attr(THEME_SELECTED, c) : A_BOLD) : 0;
    attr_t fz = g->frozen && !(selected && focused) ? theme_attr(THEME_FROZEN, c) : 0;
    char a[24], b[24], d[24], name[WB_NAME + 8];

    wattrset(win, sel);
    wb_blank(win, in, y, in.x, in.w);
    int x = in.x;
    if (g->pending) {
        wattrset(win, sel | (selected && focused ? 0 : theme_attr(THEME_PENDING, c)));
        wb_put(win, in, y, x, 1, gl->pending, u);
        wattrset(win, sel);
    }
    x += 1;
    wb_fit_tail(name, sizeof name, g->name, name_w, gl->ellipsis);
    wb_put(win, in, y, x, name_w, name, u);
    x += name_w + 1;
    if (s->lr_editing && s->lr_edit_group == gi) {
        wattrset(win, theme_attr(THEME_PENDING, c) | A_REVERSE);
        attr_t field = theme_attr(THEME_PENDING, c) | A_REVERSE;
        int w = 15;
        wb_blank(win, in, y, x, w);
        /* the pre-filled value shows as selected text (not reversed inside
         * the reversed field): the first key typed replaces it */
        wattrset(win, s->lr_edit_fresh ? (field & ~A_REVERSE) | A_UNDERLINE : field);
        int n = wb_putf(win, in, y, x, w - 1, u, "%s", s->lr_edit);
        wattrset(win, field);
        wb_put(win, in, y, x + n, 1, gl->cursor, u);
        wattrset(win, sel);
        x += w;
    } else {
        x += wb_putf(win, in, y, x, 7, u, "%-7s", wb_fmt_lr(g->base_lr, a, sizeof a));
        /* lr went through a float in the engine: "moved" means by more
         * than float rounding */
        int moved = isfinite(g->lr) && fabs(g->lr - g->base_lr) > 1e-6 * fabs(g->base_lr);
        if (g->frozen) {
            /* a frozen group takes no step: no lr applies now */
            wattrset(win, sel | (selected && focused ? 0 : theme_attr(THEME_DIM, c)));
            wb_put(win, in, y, x, 8, "-", u);
            wattrset(win, sel);
        } else if (moved) {
            wattrset(win, sel | (selected && focused ? 0 : theme_attr(THEME_DIM, c)));
            wb_putf(win, in, y, x, 8, u, "%s%s", gl->arrow, wb_fmt_lr(g->lr, b, sizeof b));
            wattrset(win, sel);
        }
        x += 8;
    }
    if (show_wd) {
        x += wb_putf(win, in, y, x, WD_W, u, "%-7s", wb_fmt_lr(g->weight_decay, d, sizeof d));
    }
    wattrset(win, sel | fz);
    if (g->frozen) {
        wb_put(win, in, y, x, 6, "frozen", u);
    } else {
        wb_putf(win, in, y, x, 6, u, "%6s", wb_fmt_count(g->trainable_params, a, sizeof a));
    }
    wattrset(win, A_NORMAL);
}

void lr_view_draw(WINDOW *win, WbRect r, const WbState *s)
{
    WbRect in = wb_frame(win, r, "lr groups", s->focus == WB_PANE_GROUPS, s->utf8, s->color);
    if (in.h < 1 || in.w < 12) {
        return;
    }
    /* Group names come first: when the longest does not fit (text
     * encoders' "encoder.layer.5" in an 80-column pane), the wd column
     * gives its cells to the names. */
    int longest = 5;
    for (int g = 0; g < s->n_groups; g++) {
        int n = wb_text_cols(s->groups[g].name);
        longest = n > longest ? n : longest;
    }
    int show_wd = 1, name_w = in.w - FIXED_W;
    if (longest > name_w && in.w - (FIXED_W - WD_W) > name_w) {
        show_wd = 0;
        name_w = in.w - (FIXED_W - WD_W);
        name_w = name_w > longest ? longest : name_w;
    }
    if (name_w < 4) {
        name_w = 4;
    }
    if (name_w > NAME_MAX_W) {
        name_w = NAME_MAX_W;
    }
    wattrset(win, theme_attr(THEME_DIM, s->color));
    wb_putf(win, in, in.y, in.x + 1, in.w - 1, s->utf8, "%-*s %-7s%-8s%-*s%6s", name_w, "group",
            "lr", "now", show_wd ? WD_W : 0, show_wd ? "wd" : "", "trains");
    wattrset(win, A_NORMAL);
    if (s->n_groups == 0) {
        return;
    }
    int rows = in.h - 1;
    int scroll = wb_scroll_for(wb_groups_anchor(s), s->scroll[WB_PANE_GROUPS], rows,
                               s->n_groups);
    for (int i = 0; i < rows && scroll + i < s->n_groups; i++) {
        draw_group(win, in, in.y + 1 + i, s, scroll + i, name_w, show_wd);
    }
    wattrset(win, theme_attr(THEME_DIM, s->color));
    if (scroll > 0) {
        wb_put(win, r, r.y, r.x + r.w - 3, 1, s->utf8 ? "\u2191" : "^", s->utf8);
    }
    if (scroll + rows < s->n_groups) {
        wb_put(win, r, r.y + r.h - 1, r.x + r.w - 3, 1, s->utf8 ? "\u2193" : "v", s->utf8);
    }
    wattrset(win, A_NORMAL);
}
