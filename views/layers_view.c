/* The layers pane: groups that expand to their layers, each with a check
 * item ([x] trains, [ ] frozen, [-] a group with some layers frozen),
 * shape, parameter count; group rows add
 * BatchNorm mode (when there is room), lr and the pending marker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "views/draw_util.h"
#include "views/theme.h"
#include "views/views.h"

int layers_view_rows(WbRect r)
{
    return r.h > 2 ? r.h - 2 : 0;   /* inside the frame */
}

/* The label of a row in a name column of w cells: a layer whose full name
 * does not fit drops its group's prefix ("attention.self.query" under
 * encoder.layer.1), then keeps its tail. */
static void row_label(char *out, size_t cap, const char *name, const char *group, int w,
                      const ThemeGlyphs *gl)
{
    size_t gl_len = group ? strlen(group) : 0;
    if (wb_text_cols(name) > w && gl_len && strncmp(name, group, gl_len) == 0 &&
        name[gl_len] == '.' && name[gl_len + 1]) {
        name += gl_len + 1;
    }
    wb_fit_tail(out, cap, name, w, gl->ellipsis);
}

static void draw_scroll_hints(WINDOW *win, WbRect r, int scroll, int rows, int count,
                              const WbState *s)
{
    const char *up = s->utf8 ? "\u2191" : "^", *down = s->utf8 ? "\u2193" : "v";
    wattron(win, theme_attr(THEME_DIM, s->color));
    if (scroll > 0) {
        wb_put(win, r, r.y, r.x + r.w - 3, 1, up, s->utf8);
    }
    if (scroll + rows < count) {
        wb_put(win, r, r.y + r.h - 1, r.x + r.w - 3, 1, down, s->utf8);
    }
    wattroff(win, theme_attr(THEME_DIM, s->color));
}

static void draw_row(WINDOW *win, WbRect in, int y, const WbState *s, WbRow row, int selected,
                     int name_w, int shape_w, int show_bn)
{
    const ThemeGlyphs *gl = theme_glyphs(s->utf8);
    const WbGroup *g = &s->groups[row.group];
    int u = s->utf8, c = s->color;
    int focused = s->focus == WB_PANE_LAYERS;
    attr_t sel = selected ? (focused ? theme_attr(THEME_SELECTED, c) : A_BOLD) : 0;
    int frozen = row.layer < 0 ? g->frozen : s->layers[row.layer].frozen;
    char name[WB_NAME + 8], buf[32], lr[24];

    wattrset(win, sel);
    wb_blank(win, in, y, in.x, in.w);
    int x = in.x;
    if (row.layer < 0) {
        x += wb_putf(win, in, y, x, 2, u, "%s ", g->expanded ? gl->expanded : gl->collapsed);
    } else {
        x += wb_put(win, in, y, x, 3, "   ", u);
    }
    int partial = row.layer < 0 && g->partial;
    attr_t chk = selected && focused ? 0 : theme_attr(frozen ? THEME_FROZEN : THEME_TRAINABLE, c);
    wattrset(win, sel | chk);
    x += wb_put(win, in, y, x, 3, partial ? gl->partial : frozen ? gl->off : gl->on, u);
    wattrset(win, sel);
    x += wb_put(win, in, y, x, 1, " ", u);
    int nw = name_w;
    attr_t name_attr = row.layer < 0 ? A_BOLD : 0;
    row_label(name, sizeof name, row.layer < 0 ? g->name : s->layers[row.layer].name,
              row.layer < 0 ? NULL : g->name, nw, gl);
    wattrset(win, sel | name_attr);
    wb_putf(win, in, y, x, nw, u, "%-*s", nw, name);
    wattrset(win, sel);
    x += nw + 1;
    /* the params column ends one cell before the edge (the pending marker's
     * cell on group rows), so layers and groups line up */
    if (row.layer >= 0) {
        const WbLayer *l = &s->layers[row.layer];
        x += wb_putf(win, in, y, x, shape_w + 1, u, "%*s ", shape_w, l->shape);
        x += wb_putf(win, in, y, x, 6, u, "%6s", wb_fmt_count(l->params, buf, sizeof buf));
        if (l->pending) {
            wattrset(win, sel | (selected && focused ? 0 : theme_attr(THEME_PENDING, c)));
            wb_put(win, in, y, x, 1, gl->pending, u);
        }
    } else {
        if (show_bn) {
            x += wb_putf(win, in, y, x, 9, u, "bn %-5s ", g->bn_mode[0] ? g->bn_mode : "-");
        }
        x += wb_putf(win, in, y, x, 7, u, "%-7s", wb_fmt_lr(g->base_lr, lr, sizeof lr));
        x += wb_putf(win, in, y, x, 6, u, "%6s", wb_fmt_count(g->total_params, buf, sizeof buf));
        if (g->pending) {
            attr_t p = selected && focused ? 0 : theme_attr(THEME_PENDING, c);
            wattrset(win, sel | p);
            wb_put(win, in, y, x, 1, gl->pending, u);
        }
    }
    wattrset(win, A_NORMAL);
}

void layers_view_draw(WINDOW *win, WbRect r, const WbState *s)
{
    int64_t trainable = 0, total = 0;
    for (int g = 0; g < s->n_groups; g++) {
        trainable += s->groups[g].trainable_params;
        total += s->groups[g].total_params;
    }
    char title[96], a[16], b[16];
    if (s->n_groups > 0 && r.w >= 36) {
        snprintf(title, sizeof title, "layers  %s of %s train", wb_fmt_count(trainable, a, sizeof a),
                 wb_fmt_count(total, b, sizeof b));
    } else {
        snprintf(title, sizeof title, "layers");
    }
    WbRect in = wb_frame(win, r, title, s->focus == WB_PANE_LAYERS, s->utf8, s->color);
    if (in.h < 1 || in.w < 12) {
        return;
    }
    int count = wb_visible_rows(s, NULL, 0);
    if (count == 0) {
        wattron(win, theme_attr(THEME_DIM, s->color));
        wb_put(win, in, in.y + in.h / 2, in.x + 2, in.w - 2, "no model loaded (m: models)", s->utf8);
        wattroff(win, theme_attr(THEME_DIM, s->color));
        return;
    }
    /* the shape column is as wide as the shapes on show (expanded groups) */
    int shape_w = 1;
    for (int l = 0; l < s->n_layers; l++) {
        int g = s->layers[l].group;
        if (g >= 0 && g < s->n_groups && s->groups[g].expanded) {
            int n = wb_text_cols(s->layers[l].shape);
            shape_w = n > shape_w ? n : shape_w;
        }
    }
    shape_w = shape_w > 11 ? 11 : shape_w;
    /* group row: arrow(2) [x](3) sp name sp [bn(9)] lr(7) params(6) pending(1)
     * layer row: indent(3) [x](3) sp name sp shape sp params(6) pending(1) */
    int show_bn = in.w >= 48;
    int group_name_w = in.w - 21 - (show_bn ? 9 : 0);
    int layer_name_w = in.w - 16 - shape_w;
    group_name_w = group_name_w < 4 ? 4 : group_name_w;
    layer_name_w = layer_name_w < 4 ? 4 : layer_name_w;

    WbRow *rows = malloc(sizeof *rows * (size_t)count);
    if (!rows) {
        return;
    }
    wb_visible_rows(s, rows, count);
    int sel = s->selected[WB_PANE_LAYERS];
    int scroll = wb_scroll_for(sel, s->scroll[WB_PANE_LAYERS], in.h, count);
    for (int i = 0; i < in.h && scroll + i < count; i++) {
        WbRow row = rows[scroll + i];
        draw_row(win, in, in.y + i, s, row, scroll + i == sel,
                 row.layer < 0 ? group_name_w : layer_name_w, shape_w, show_bn);
    }
    free(rows);
    draw_scroll_hints(win, r, scroll, in.h, count, s);
}
