/* The model-choice screen: MISSION.md's table, one section per task, a row
 * per backbone (params, input, whether thaw trains it, whether its weights
 * are in the cache), the selected row's detail and a strategy hint. */
#include <stdio.h>
#include <string.h>

#include "views/draw_util.h"
#include "views/theme.h"
#include "views/views.h"

#define FOOT_LINES 4   /* two lines of detail, two of strategy hint */

static const char *default_hint =
    "Strategy: <500 examples/class, close domain: feature extraction; moderate data or some "
    "shift: fine-tune the last blocks; lots of data or big shift: full fine-tuning.";

int model_table_rows(WbRect r)
{
    int n = r.h - 2 - 1 - FOOT_LINES;   /* frame, column header, foot */
    return n > 0 ? n : 0;
}

/* Display lines: a section header before each new task, then rows. Line
 * index of catalog row `row`, and the number of lines. */
int model_table_line_of(const WbState *s, int row, int *n_lines)
{
    int line = 0, at = -1;
    for (int i = 0; i < s->n_catalog; i++) {
        if (i == 0 || strcmp(s->catalog[i].task, s->catalog[i - 1].task) != 0) {
            line++;
        }
        if (i == row) {
            at = line;
        }
        line++;
    }
    if (n_lines) {
        *n_lines = line;
    }
    return at;
}

/* Which catalog row (or -1 for a header) is at display line `line`. */
static int row_at_line(const WbState *s, int line, const char **header)
{
    int l = 0;
    *header = NULL;
    for (int i = 0; i < s->n_catalog; i++) {
        if (i == 0 || strcmp(s->catalog[i].task, s->catalog[i - 1].task) != 0) {
            if (l++ == line) {
                *header = s->catalog[i].task;
                return -1;
            }
        }
        if (l++ == line) {
            return i;
        }
    }
    return -1;
}

static void draw_row(WINDOW *win, WbRect in, int y, const WbState *s, int i, int name_w)
{
    const CatalogRow *m = &s->catalog[i];
    int u = s->utf8, c = s->color;
    int selected = i == s->model_selected;
    attr_t sel = selected ? theme_attr(THEME_SELECTED, c) : 0;
    attr_t dim = !m->supported && !selected ? theme_attr(THEME_DIM, c) : 0;
    char p[16];
    wattrset(win, sel | dim);
    wb_blank(win, in, y, in.x, in.w);
    int x = in.x + 2;
    x += wb_putf(win, in, y, x, name_w + 1, u, "%-*s ", name_w, m->name);
    x += wb_putf(win, in, y, x, 8, u, "%7s ", m->params > 0 ? wb_fmt_count(m->params, p, sizeof p) : "n/a");
    x += wb_putf(win, in, y, x, 17, u, " %-16s", m->input);
    if (m->supported) {
        wattrset(win, sel | (selected ? 0 : theme_attr(THEME_TRAINABLE, c)));
        x += wb_putf(win, in, y, x, 19, u, "%-18s ", "yes");
        wattrset(win, sel | (selected ? 0 : theme_attr(m->weights_local ? THEME_OK : THEME_WARN, c)));
        wb_put(win, in, y, x, in.w - (x - in.x), m->weights_local ? "local" : "missing", u);
    } else {
        wb_put(win, in, y, x, 19, "not supported yet", u);
    }
    wattrset(win, A_NORMAL);
}

/* Word-wraps text into at most max_lines lines of w columns at (y, x). */
static void wrap(WINDOW *win, WbRect clip, int y, int x, int w, int max_lines, const char *text,
                 int utf8)
{
    const char *p = text;
    for (int line = 0; line < max_lines && *p; line++) {
        while (*p == ' ') {
            p++;
        }
        int len = (int)strlen(p), cut = len;
        if (wb_text_cols(p) > w) {
            cut = 0;
            for (int i = 0, cols = 0; p[i] && cols <= w; i++) {
                if ((p[i] & 0xc0) != 0x80) {
                    cols++;
                }
                if (p[i] == ' ' && cols <= w) {
                    cut = i;
                }
            }
            if (cut == 0) {
                cut = w;   /* one long word: hard break (ASCII text here) */
            }
        }
        char buf[512];
        snprintf(buf, sizeof buf, "%.*s", cut < (int)sizeof buf - 1 ? cut : (int)sizeof buf - 1, p);
        wb_put(win, clip, y + line, x, w, buf, utf8);
        p += cut;
    }
}

void model_table_draw(WINDOW *win, WbRect r, const WbState *s)
{
    int u = s->utf8, c = s->color;
    WbRect in = wb_frame(win, r, "model-choice table", 1, u, c);
    if (in.h < 3 || in.w < 20) {
        return;
    }
    int name_w = in.w >= 90 ? 22 : 18;
    wattrset(win, theme_attr(THEME_DIM, c));
    wb_putf(win, in, in.y, in.x + 2, in.w - 2, u, "%-*s %7s  %-16s%-19s%s", name_w, "backbone",
            "params", "input", "thaw", "weights");
    wattrset(win, A_NORMAL);
    int rows = model_table_rows(r);
    int n_lines = 0;
    int sel_line = model_table_line_of(s, s->model_selected, &n_lines);
    /* keep the section header above the first row in view when scrolled to the top */
    int scroll = wb_scroll_for(sel_line, s->model_scroll, rows, n_lines);
    if (sel_line == 1) {
        scroll = 0;
    }
    for (int k = 0; k < rows && scroll + k < n_lines; k++) {
        const char *header;
        int i = row_at_line(s, scroll + k, &header);
        int y = in.y + 1 + k;
        if (header) {
            wattrset(win, theme_attr(THEME_TITLE, c));
            wb_put(win, in, y, in.x, in.w, header, u);
            wattrset(win, A_NORMAL);
        } else if (i >= 0) {
            draw_row(win, in, y, s, i, name_w);
        }
    }
    if (scroll > 0) {
        wb_put(win, r, r.y, r.x + r.w - 3, 1, u ? "\u2191" : "^", u);
    }
    if (scroll + rows < n_lines) {
        wb_put(win, r, r.y + r.h - 1, r.x + r.w - 3, 1, u ? "\u2193" : "v", u);
    }

    int foot_y = in.y + in.h - FOOT_LINES;
    if (foot_y <= in.y) {
        return;
    }
    if (s->n_catalog > 0) {
        const CatalogRow *m = &s->catalog[s->model_selected];
        char detail[512];
        if (m->supported) {
            snprintf(detail, sizeof detail, "%s: %s. thaw arch %s; weights %s %s", m->name, m->note,
                     m->arch, m->weights,
                     m->weights_local      ? "in the cache"
                     : m->weights_required ? "not in the cache (a folder: config.json, vocab.txt, weights)"
                                           : "not in the cache (random init)");
        } else {
            snprintf(detail, sizeof detail, "%s: %s; not supported yet", m->name, m->note);
        }
        wattrset(win, A_BOLD);
        wrap(win, in, foot_y, in.x, in.w, 2, detail, u);
        wattrset(win, A_NORMAL);
    } else {
        wb_put(win, in, foot_y, in.x, in.w, "no model catalog loaded", u);
    }
    wattrset(win, theme_attr(THEME_DIM, c));
    wrap(win, in, foot_y + 2, in.x, in.w, FOOT_LINES - 2,
         s->strategy_hint[0] ? s->strategy_hint : default_hint, u);
    wattrset(win, A_NORMAL);
}
