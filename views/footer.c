/* The htop-like key line. Labels shorten and the least needed keys drop
 * out until the line fits; a confirm or edit prompt replaces it. */
#include <stdio.h>
#include <string.h>

#include "views/draw_util.h"
#include "views/theme.h"
#include "views/views.h"

typedef struct {
    const char *key, *label, *short_label;
    int keep;   /* higher stays longer on narrow terminals */
} FooterKey;

static const FooterKey main_keys[] = {
    {"Tab", "pane", "pane", 8},
    {"j/k", "move", "move", 0},
    {"Space", "freeze", "freeze", 7},
    {"f", "freeze-to", "to-here", 2},
    {"u", "unfreeze all", "thaw", 1},
    {"e", "lr", "lr", 6},
    {"t", "start/pause", "run", 5},
    {"s", "save", "save", 3},
    {"m", "models", "models", 4},
    {"?", "help", "help", 9},
    {"q", "quit", "quit", 10},
};

static const FooterKey model_keys[] = {
    {"j/k", "move", "move", 5},
    {"Enter", "pick", "pick", 8},
    {"Esc", "back", "back", 10},   /* m and q go back too (help says so) */
    {"?", "help", "help", 6},
};

static const FooterKey edit_keys[] = {
    {"Enter", "apply", "apply", 10},
    {"Esc", "cancel", "cancel", 9},
    {"", "type 1e-4, 0.001, x0.5 or /10", "1e-4 x0.5 /10", 1},
};

static const FooterKey confirm_keys[] = {
    {"y", "save and quit", "save+quit", 10},
    {"n", "keep going", "stay", 9},
};

static const FooterKey pick_keys[] = {
    {"y", "switch", "switch", 10},
    {"n", "keep the run", "stay", 9},
};

static const FooterKey help_keys[] = {
    {"any key", "closes help", "closes help", 10},
};

static int item_w(const FooterKey *k, int shortl)
{
    const char *label = shortl ? k->short_label : k->label;
    return wb_text_cols(k->key) + (*label ? 1 + wb_text_cols(label) : 0);
}

/* Picks a form that fits w: long labels, then one-space gaps, then short
 * labels, then drops the lowest keep first. */
static void fit(const FooterKey *keys, int n, int w, int *shown, int *shortl, int *gap)
{
    for (int i = 0; i < n; i++) {
        shown[i] = 1;
    }
    static const int forms[3][2] = {{0, 2}, {0, 1}, {1, 1}};
    for (int f = 0; f < 3; f++) {
        int total = 0;
        for (int i = 0; i < n; i++) {
            total += item_w(&keys[i], forms[f][0]) + (i ? forms[f][1] : 0);
        }
        *shortl = forms[f][0];
        *gap = forms[f][1];
        if (total <= w) {
            return;
        }
    }
    for (;;) {
        int total = 0, count = 0, drop = -1;
        for (int i = 0; i < n; i++) {
            if (!shown[i]) {
                continue;
            }
            total += item_w(&keys[i], 1) + (count++ ? 1 : 0);
            if (drop < 0 || keys[i].keep < keys[drop].keep) {
                drop = i;
            }
        }
        if (total <= w || count <= 1) {
            return;
        }
        shown[drop] = 0;
    }
}

static void draw_keys(WINDOW *win, WbRect r, const WbState *s, const char *prefix,
                      const FooterKey *keys, int n)
{
    int shown[16], shortl, gap;
    int x = r.x;
    if (prefix) {
        wattrset(win, theme_attr(THEME_WARN, s->color) | A_BOLD);
        x += wb_put(win, r, r.y, x, r.w, prefix, s->utf8);
        x += wb_put(win, r, r.y, x, 1, " ", s->utf8);
        wattrset(win, A_NORMAL);
    }
    fit(keys, n, r.w - (x - r.x), shown, &shortl, &gap);
    int first = 1;
    for (int i = 0; i < n; i++) {
        if (!shown[i]) {
            continue;
        }
        if (!first) {
            x += gap;
        }
        first = 0;
        wattrset(win, theme_attr(THEME_KEY, s->color));
        x += wb_put(win, r, r.y, x, r.w, keys[i].key, s->utf8);
        wattrset(win, A_NORMAL);
        const char *label = shortl ? keys[i].short_label : keys[i].label;
        if (*label) {
            x += wb_putf(win, r, r.y, x, r.w, s->utf8, " %s", label);
        }
    }
}

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

void footer_draw(WINDOW *win, WbRect r, const WbState *s)
{
    if (r.h < 1 || r.w < 1) {
        return;
    }
    wattrset(win, A_NORMAL);
    wb_blank(win, r, r.y, r.x, r.w);
    if (s->quit_confirm) {
        draw_keys(win, r, s, "A run is going. Quit?", confirm_keys, COUNT(confirm_keys));
    } else if (s->pick_confirm > 0 && s->pick_confirm <= s->n_catalog) {
        char prefix[WB_NAME + 48];
        snprintf(prefix, sizeof prefix, "Stop this run (unsaved) for %s?",
                 s->catalog[s->pick_confirm - 1].name);
        draw_keys(win, r, s, prefix, pick_keys, COUNT(pick_keys));
    } else if (s->help) {
        draw_keys(win, r, s, NULL, help_keys, COUNT(help_keys));
    } else if (s->lr_editing) {
        char prefix[WB_NAME + 8];
        const char *name = s->lr_edit_group >= 0 && s->lr_edit_group < s->n_groups
                         ? s->groups[s->lr_edit_group].name : "?";
        snprintf(prefix, sizeof prefix, "lr %s:", name);
        draw_keys(win, r, s, prefix, edit_keys, COUNT(edit_keys));
    } else if (s->screen == WB_SCREEN_MODELS) {
        draw_keys(win, r, s, NULL, model_keys, COUNT(model_keys));
    } else {
        draw_keys(win, r, s, NULL, main_keys, COUNT(main_keys));
    }
    wattrset(win, A_NORMAL);
}
