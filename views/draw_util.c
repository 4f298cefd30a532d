/* Clipped text output and number formatting for the views. */
#include "views/draw_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "views/theme.h"

static int utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

int wb_text_cols(const char *text)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; n++) {
        int len = utf8_len(*p);
        for (int i = 0; i < len && *p; i++) {
            p++;
        }
    }
    return n;
}

const char *wb_wrap_next(const char *text, int w)
{
    const char *p = text, *cut = NULL;
    int cols = 0;
    while (*p && cols < w) {
        if (*p == ' ' && cols >= w / 2) {
            cut = p;
        }
        p += utf8_len((unsigned char)*p);
        cols++;
    }
    if (*p && *p != ' ' && cut) {
        p = cut;
    }
    while (*p == ' ') {
        p++;
    }
    return p;
}

void wb_fit_tail(char *out, size_t cap, const char *name, int w, const char *ellipsis)
{
    int cols = wb_text_cols(name);
    if (cols <= w || w < 2) {
        snprintf(out, cap, "%s", name);
        return;
    }
    const char *p = name;
    for (int drop = cols - (w - 1); drop > 0 && *p; drop--) {
        p++;
        while ((*p & 0xc0) == 0x80) {
            p++;
        }
    }
    snprintf(out, cap, "%s%s", ellipsis, p);
}

int wb_put(WINDOW *win, WbRect clip, int y, int x, int maxw, const char *text, int utf8)
{
    if (y < clip.y || y >= clip.y + clip.h || x >= clip.x + clip.w || maxw <= 0) {
        return 0;
    }
    int skip = 0;                   /* columns left of the clip */
    if (x < clip.x) {
        skip = clip.x - x;
        x = clip.x;
        maxw -= skip;
    }
    int room = clip.x + clip.w - x;
    if (maxw > room) {
        maxw = room;
    }
    int cols = 0;
    const unsigned char *p = (const unsigned char *)text;
    while (*p && cols < maxw) {
        int len = utf8_len(*p);
        int ok = 1;
        for (int i = 1; i < len; i++) {
            ok &= (p[i] & 0xc0) == 0x80;
        }
        if (!ok) {
            len = 1;
        }
        if (skip > 0) {
            skip--;
        } else if (len == 1 || !ok || !utf8) {
            char c = (*p < 0x20 || *p >= 0x7f) ? (len == 1 && *p < 0x80 ? ' ' : '?') : (char)*p;
            mvwaddch(win, y, x + cols, (chtype)(unsigned char)c);
            cols++;
        } else {
            mvwaddnstr(win, y, x + cols, (const char *)p, len);
            cols++;
        }
        p += len;
    }
    return cols;
}

int wb_putf(WINDOW *win, WbRect clip, int y, int x, int maxw, int utf8, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return wb_put(win, clip, y, x, maxw, buf, utf8);
}

void wb_blank(WINDOW *win, WbRect clip, int y, int x, int w)
{
    if (y < clip.y || y >= clip.y + clip.h) {
        return;
    }
    int x0 = x < clip.x ? clip.x : x;
    int x1 = x + w > clip.x + clip.w ? clip.x + clip.w : x + w;
    for (int c = x0; c < x1; c++) {
        mvwaddch(win, y, c, ' ');
    }
}

WbRect wb_frame(WINDOW *win, WbRect r, const char *title, int focused, int utf8, int color)
{
    if (r.h < 2 || r.w < 2) {
        return (WbRect){r.y, r.x, 0, 0};
    }
    attr_t a = theme_attr(focused ? THEME_BORDER_FOCUS : THEME_BORDER, color);
    wattrset(win, a);
    if (utf8) {
        /* wide-character box drawing: Unicode lines whatever the terminal's acsc says */
        mvwhline_set(win, r.y, r.x + 1, WACS_HLINE, r.w - 2);
        mvwhline_set(win, r.y + r.h - 1, r.x + 1, WACS_HLINE, r.w - 2);
        mvwvline_set(win, r.y + 1, r.x, WACS_VLINE, r.h - 2);
        mvwvline_set(win, r.y + 1, r.x + r.w - 1, WACS_VLINE, r.h - 2);
        mvwadd_wch(win, r.y, r.x, WACS_ULCORNER);
        mvwadd_wch(win, r.y, r.x + r.w - 1, WACS_URCORNER);
        mvwadd_wch(win, r.y + r.h - 1, r.x, WACS_LLCORNER);
        mvwadd_wch(win, r.y + r.h - 1, r.x + r.w - 1, WACS_LRCORNER);
    } else {
        mvwhline(win, r.y, r.x + 1, '-', r.w - 2);
        mvwhline(win, r.y + r.h - 1, r.x + 1, '-', r.w - 2);
        mvwvline(win, r.y + 1, r.x, '|', r.h - 2);
        mvwvline(win, r.y + 1, r.x + r.w - 1, '|', r.h - 2);
        mvwaddch(win, r.y, r.x, '+');
        mvwaddch(win, r.y, r.x + r.w - 1, '+');
        mvwaddch(win, r.y + r.h - 1, r.x, '+');
        mvwaddch(win, r.y + r.h - 1, r.x + r.w - 1, '+');
    }
    wattrset(win, A_NORMAL);
    if (title && *title && r.w > 6) {
        wattrset(win, theme_attr(focused ? THEME_BORDER_FOCUS : THEME_TITLE, color));
        WbRect edge = {r.y, r.x + 1, 1, r.w - 2};
        wb_putf(win, edge, r.y, r.x + 2, r.w - 4, utf8, " %s ", title);
        wattrset(win, A_NORMAL);
    }
    return (WbRect){r.y + 1, r.x + 1, r.h - 2, r.w - 2};
}

char *wb_fmt_count(int64_t n, char *buf, size_t cap)
{
    double v = (double)n;
    if (n < 0) {
        snprintf(buf, cap, "-");
    } else if (n < 1000) {
        snprintf(buf, cap, "%lld", (long long)n);
    } else if (v < 999.5e3) {
        snprintf(buf, cap, "%.1fK", v / 1e3);
    } else if (v < 999.5e6) {
        snprintf(buf, cap, "%.1fM", v / 1e6);
    } else {
        snprintf(buf, cap, "%.1fB", v / 1e9);
    }
    return buf;
}

char *wb_fmt_lr(double lr, char *buf, size_t cap)
{
    if (!isfinite(lr) || lr <= 0) {
        snprintf(buf, cap, lr == 0 ? "0" : "-");
        return buf;
    }
    /* Round to 3 significant digits first and take the exponent of the
     * rounded value: an lr that went through a float (9.99999975e-05) is
     * 1e-4, not 10e-5. */
    char sci[32];
    snprintf(sci, sizeof sci, "%.2e", lr);
    char *e_at = strchr(sci, 'e');
    if (!e_at) {
        snprintf(buf, cap, "%g", lr);
        return buf;
    }
    int e = atoi(e_at + 1);
    *e_at = '\0';
    if (e >= -2 && e <= 1) {
        snprintf(buf, cap, "%.3g", strtod(sci, NULL) * pow(10.0, e));
        return buf;
    }
    /* mantissa without trailing zeros: 1e-4, 2.5e-4, 1.25e-3 */
    char *end = sci + strlen(sci) - 1;
    while (end > sci && *end == '0') {
        *end-- = '\0';
    }
    if (*end == '.') {
        *end = '\0';
    }
    snprintf(buf, cap, "%se%d", sci, e);
    return buf;
}

char *wb_fmt_eta(double s, char *buf, size_t cap)
{
    if (!isfinite(s) || s < 0) {
        snprintf(buf, cap, "--");
    } else if (s < 60) {
        snprintf(buf, cap, "%ds", (int)s);
    } else if (s < 3600) {
        snprintf(buf, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    } else if (s < 360000) {
        snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    } else {
        snprintf(buf, cap, "%dd", (int)(s / 86400));
    }
    return buf;
}

char *wb_fmt_axis(double v, char *buf, size_t cap)
{
    double a = fabs(v);
    if (!isfinite(v)) {
        snprintf(buf, cap, "?");
    } else if (a != 0 && (a < 0.01 || a >= 10000)) {
        snprintf(buf, cap, "%.1e", v);
    } else if (a < 10) {
        snprintf(buf, cap, "%.3f", v);
    } else if (a < 100) {
        snprintf(buf, cap, "%.1f", v);
    } else {
        snprintf(buf, cap, "%.0f", v);
    }
    return buf;
}
