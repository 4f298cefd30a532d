/* Colour roles and glyphs. Pairs are numbered role + 1. */
#include "views/theme.h"

#include <stdlib.h>

typedef struct {
    short fg, bg;
    attr_t extra;       /* added on top of the pair */
    attr_t mono;        /* without colour */
} RoleStyle;

static const RoleStyle roles[THEME_ROLE_COUNT] = {
    [THEME_NORMAL] = {-1, -1, 0, 0},
    [THEME_STATUS] = {COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE},
    [THEME_TITLE] = {COLOR_CYAN, -1, A_BOLD, A_BOLD},
    [THEME_BORDER] = {COLOR_BLUE, -1, 0, A_DIM},
    [THEME_BORDER_FOCUS] = {COLOR_CYAN, -1, A_BOLD, A_BOLD},
    [THEME_SELECTED] = {COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE},
    [THEME_FROZEN] = {COLOR_BLUE, -1, A_BOLD, A_DIM},
    [THEME_TRAINABLE] = {COLOR_GREEN, -1, A_BOLD, A_BOLD},
    [THEME_PENDING] = {COLOR_YELLOW, -1, A_BOLD, A_UNDERLINE},
    [THEME_CURVE_TRAIN] = {COLOR_CYAN, -1, 0, 0},
    [THEME_CURVE_VAL] = {COLOR_YELLOW, -1, A_BOLD, A_BOLD},
    [THEME_CURVE_ACC] = {COLOR_GREEN, -1, A_BOLD, A_BOLD},
    [THEME_MARK] = {COLOR_MAGENTA, -1, 0, A_DIM},
    [THEME_DIM] = {COLOR_WHITE, -1, A_DIM, A_DIM},
    [THEME_KEY] = {COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE},
    [THEME_ERROR] = {COLOR_WHITE, COLOR_RED, A_BOLD, A_REVERSE | A_BOLD},
    [THEME_OK] = {COLOR_GREEN, -1, 0, A_BOLD},
    [THEME_WARN] = {COLOR_YELLOW, -1, A_BOLD, A_BOLD},
};

int theme_init(void)
{
    const char *no_color = getenv("NO_COLOR");
    if ((no_color && *no_color) || !has_colors() || start_color() == ERR) {
        return 0;
    }
    int defaults = use_default_colors() == OK;
    for (int r = 1; r < THEME_ROLE_COUNT; r++) {
        short fg = roles[r].fg, bg = roles[r].bg;
        if (!defaults) {   /* -1 means "terminal default" only with use_default_colors */
            fg = fg < 0 ? COLOR_WHITE : fg;
            bg = bg < 0 ? COLOR_BLACK : bg;
        }
        init_pair((short)(r + 1), fg, bg);
    }
    return 1;
}

attr_t theme_attr(ThemeRole role, int color)
{
    if (role <= THEME_NORMAL || role >= THEME_ROLE_COUNT) {
        return A_NORMAL;
    }
    if (!color) {
        return roles[role].mono;
    }
    return (attr_t)COLOR_PAIR(role + 1) | roles[role].extra;
}

static const ThemeGlyphs glyphs_utf8 = {
    .expanded = "\u25be", .collapsed = "\u25b8",
    .on = "[x]", .off = "[ ]", .partial = "[-]",
    .pending = "\u2022", .ellipsis = "\u2026", .arrow = "\u2192",
    .running = "\u25b6", .paused = "\u2016", .stopped = "\u25a0",
    .sep = "\u2502", .mark = "\u2502", .cursor = "\u2588",
};

static const ThemeGlyphs glyphs_ascii = {
    .expanded = "-", .collapsed = "+",
    .on = "[x]", .off = "[ ]", .partial = "[-]",
    .pending = "*", .ellipsis = "~", .arrow = ">",
    .running = ">", .paused = "=", .stopped = "#",
    .sep = "|", .mark = "|", .cursor = "_",
};

const ThemeGlyphs *theme_glyphs(int utf8)
{
    return utf8 ? &glyphs_utf8 : &glyphs_ascii;
}
