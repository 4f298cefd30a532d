/* Small drawing and formatting helpers shared by the views. Every write is
 * clipped to a rect so a view never draws outside its pane. */
#ifndef THAW_VIEWS_DRAW_UTIL_H
#define THAW_VIEWS_DRAW_UTIL_H

#include <curses.h>
#include <stddef.h>
#include <stdint.h>

#include "views/layout.h"

/* Writes UTF-8 text at (y, x), at most maxw columns and never past the
 * clip rect; every code point counts as one column (the glyphs we use are
 * all narrow). Without utf8, non-ASCII bytes become '?'. Returns the
 * columns written. */
int wb_put(WINDOW *win, WbRect clip, int y, int x, int maxw, const char *text, int utf8);
/* Same, printf-style. */
int wb_putf(WINDOW *win, WbRect clip, int y, int x, int maxw, int utf8, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* Paints a row segment with spaces in the current attributes. */
void wb_blank(WINDOW *win, WbRect clip, int y, int x, int w);
/* A border around r with a title on the top edge; ACS lines (Unicode box
 * drawing in a UTF-8 locale) or ASCII. Returns the inner rect. */
WbRect wb_frame(WINDOW *win, WbRect r, const char *title, int focused, int utf8, int color);

/* Where the row after one of w columns starts when text is wrapped: after
 * the last space that lets the row hold at least half of w, else right
 * after w columns; the end of text when it fits. Leading spaces of the
 * next row are skipped. */
const char *wb_wrap_next(const char *text, int w);

/* Columns that `text` takes (code points). */
int wb_text_cols(const char *text);
/* Copies name into out to fit w columns, keeping its end behind an
 * ellipsis when too long ("\u20264.1.conv2", "\u2026layer.5"): the tail tells
 * layers and groups apart. */
void wb_fit_tail(char *out, size_t cap, const char *name, int w, const char *ellipsis);

/* 1.2M, 25.6M, 23.5K, 512, 7.0B */
char *wb_fmt_count(int64_t n, char *buf, size_t cap);
/* 1e-3, 2.5e-4, 0.01, 0.1 */
char *wb_fmt_lr(double lr, char *buf, size_t cap);
/* 45s, 3m12s, 2h05m; "--" when unknown */
char *wb_fmt_eta(double seconds, char *buf, size_t cap);
/* A short plot-axis number: 0.123, 12.3, 1.2e-4 */
char *wb_fmt_axis(double v, char *buf, size_t cap);

#endif
