/* Colours by role (htop's CRT idea) with a monochrome fallback, and the
 * glyph table in UTF-8 and ASCII variants. */
#ifndef THAW_VIEWS_THEME_H
#define THAW_VIEWS_THEME_H

#include <curses.h>

typedef enum {
    THEME_NORMAL = 0,
    THEME_STATUS,       /* the status bar */
    THEME_TITLE,        /* pane titles */
    THEME_BORDER,
    THEME_BORDER_FOCUS,
    THEME_SELECTED,     /* the selected row in the focused pane */
    THEME_FROZEN,
    THEME_TRAINABLE,
    THEME_PENDING,
    THEME_CURVE_TRAIN,
    THEME_CURVE_VAL,
    THEME_CURVE_ACC,
    THEME_MARK,
    THEME_DIM,          /* axis labels, secondary text */
    THEME_KEY,          /* footer key */
    THEME_ERROR,
    THEME_OK,
    THEME_WARN,
    THEME_ROLE_COUNT,
} ThemeRole;

/* Starts colours when the terminal has them and NO_COLOR is unset (call
 * after initscr/newterm). Returns 1 when colours are on. */
int theme_init(void);

/* The attribute for a role: a colour pair when color is set, otherwise
 * bold / reverse / dim / underline. */
attr_t theme_attr(ThemeRole role, int color);

typedef struct {
    const char *expanded, *collapsed;   /* group rows */
    const char *on, *off;               /* trainable / frozen check items */
    const char *partial;                /* a group with some layers frozen */
    const char *pending;                /* a change not yet confirmed */
    const char *ellipsis;
    const char *arrow;                  /* "now" lr marker */
    const char *running, *paused, *stopped;
    const char *sep;                    /* status bar separator */
    const char *mark;                   /* vertical mark in the plot */
    const char *cursor;                 /* edit-field cursor */
} ThemeGlyphs;

const ThemeGlyphs *theme_glyphs(int utf8);

#endif
