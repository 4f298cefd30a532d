/* The lr groups pane at 80x24 on a model with more groups than it has rows
 * (EfficientNet-Lite: 10 groups, the pane shows about 6): editing a group
 * from the layers pane scrolls the pane to it so the edit field is seen;
 * the pane follows the layers pane's group; frozen groups show "-" as their
 * current lr; an lr that only went through a float shows no "->" arrow; wd
 * reads 1e-4, not 10e-5. A text encoder's long group names
 * ("encoder.layer.5") take the wd column's cells rather than being cut to
 * "encoder.", and its layers drop the group prefix when their names do
 * not fit. Rendered in an ncurses virtual terminal. */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <cmocka.h>
#include <curses.h>

#include "views/layout.h"
#include "views/theme.h"
#include "views/views.h"

static SCREEN *screen;
static FILE *term_out, *term_in;

#define ROWS 24
#define COLS 80

/* Row y of the screen as UTF-8. */
static void screen_line(int y, char *out, size_t cap)
{
    size_t n = 0;
    for (int x = 0; x < COLS && n + 8 < cap; x++) {
        cchar_t cc;
        wchar_t wc[CCHARW_MAX + 1] = {0};
        attr_t a;
        short p;
        mvwin_wch(stdscr, y, x, &cc);
        getcchar(&cc, wc, &a, &p, NULL);
        mbstate_t st;
        memset(&st, 0, sizeof st);
        size_t len = wcrtomb(out + n, wc[0] ? wc[0] : L' ', &st);
        n += len == (size_t)-1 ? 0 : len;
    }
    out[n] = '\0';
}

/* The lr pane's rows (its rect at 80x24), joined with newlines. */
static char *lr_pane_text(const WbState *s)
{
    WbLayout l;
    wb_layout(ROWS, COLS, s, &l);
    char *text = calloc((size_t)l.groups.h, 512);
    for (int y = l.groups.y; y < l.groups.y + l.groups.h; y++) {
        char line[512];
        screen_line(y, line, sizeof line);
        /* the right pane only: skip the layers pane's columns (bytes of
         * box glyphs vary, so cut by columns through mbstowcs) */
        wchar_t w[COLS + 1];
        mbstowcs(w, line, COLS);
        w[COLS] = 0;
        char right[512];
        wcstombs(right, w + l.groups.x, sizeof right);
        strcat(text, right);
        strcat(text, "\n");
    }
    return text;
}

static const char *names[] = {"stem", "stage1", "stage2", "stage3", "stage4",
                              "stage5", "stage6", "stage7", "top", "head"};

static void populate(WbState *s)
{
    wb_init(s);
    s->utf8 = 1;
    s->color = has_colors();
    s->job = WB_JOB_RUNNING;
    WbGroup g[10];
    memset(g, 0, sizeof g);
    for (int i = 0; i < 10; i++) {
        snprintf(g[i].name, sizeof g[i].name, "%s", names[i]);
        g[i].frozen = i < 8;
        g[i].base_lr = 1e-3;
        g[i].lr = (double)(float)1e-3;   /* the engine's float: not a change */
        g[i].weight_decay = (double)(float)1e-4;
        g[i].total_params = 1000 * (i + 1);
        g[i].trainable_params = g[i].frozen ? 0 : g[i].total_params;
    }
    g[9].lr = 5e-4;   /* the schedule moved head's lr */
    assert_int_equal(wb_set_groups(s, g, 10), 0);
}

static void must(const char *text, const char *what, int want)
{
    if ((strstr(text, what) != NULL) != want) {
        fail_msg("'%s' %s the lr pane:\n%s", what, want ? "not in" : "in", text);
    }
}

static void edit_from_layers_pane_is_seen(void **state)
{
    (void)state;
    WbState *s = malloc(sizeof *s);
    populate(s);
    s->focus = WB_PANE_LAYERS;
    wb_draw(stdscr, s);
    char *text = lr_pane_text(s);
    must(text, "stem", 1);
    must(text, "top ", 0);   /* more groups than rows: top is below */
    free(text);

    /* the layers pane selects top: the lr pane follows */
    wb_move_to(s, 8);
    assert_int_equal(s->selected[WB_PANE_GROUPS], 8);
    wb_draw(stdscr, s);
    text = lr_pane_text(s);
    must(text, "top ", 1);
    free(text);

    /* back to stem in the lr pane's view, then edit top from the layers
     * pane without moving the lr pane's selection (as before the fix) */
    s->selected[WB_PANE_GROUPS] = 0;
    s->scroll[WB_PANE_GROUPS] = 0;
    s->lr_editing = 1;
    s->lr_edit_group = 8;
    s->lr_edit_fresh = 1;
    snprintf(s->lr_edit, sizeof s->lr_edit, "1e-3");
    wb_draw(stdscr, s);
    text = lr_pane_text(s);
    must(text, "top ", 1);
    must(text, "1e-3\u2588", 1);   /* the field with its cursor */
    free(text);
    wb_free(s);
    free(s);
}

static void columns(void **state)
{
    (void)state;
    WbState *s = malloc(sizeof *s);
    populate(s);
    s->focus = WB_PANE_GROUPS;
    wb_move_to(s, -1);   /* head, at the bottom */
    wb_draw(stdscr, s);
    char *text = lr_pane_text(s);
    must(text, "10e-5", 0);
    must(text, "1e-4", 1);
    must(text, "\u21921e-3", 0);   /* float noise is not a scheduled change */
    must(text, "\u21925e-4", 1);   /* head's scheduled lr */
    /* frozen groups: "-" now, "frozen" trains */
    const char *row = strstr(text, "stage7");
    assert_non_null(row);
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)(strchr(row, '\n') - row), row);
    char want[64];
    snprintf(want, sizeof want, "stage7   1e-3   -       1e-4   frozen");
    if (!strstr(line, want)) {
        fail_msg("frozen row '%s', want '%s'", line, want);
    }
    free(text);
    wb_free(s);
    free(s);
}

/* The whole screen, joined with newlines. */
static char *screen_text(void)
{
    char *text = calloc(ROWS, 512);
    for (int y = 0; y < ROWS; y++) {
        char line[512];
        screen_line(y, line, sizeof line);
        strcat(text, line);
        strcat(text, "\n");
    }
    return text;
}

static void text_encoder_names(void **state)
{
    (void)state;
    static const char *const text_groups[] = {"embeddings", "encoder.layer.0",
                                              "encoder.layer.1", "pooler", "classifier"};
    WbState *s = malloc(sizeof *s);
    wb_init(s);
    s->utf8 = 1;
    s->color = has_colors();
    WbGroup g[5];
    memset(g, 0, sizeof g);
    for (int i = 0; i < 5; i++) {
        snprintf(g[i].name, sizeof g[i].name, "%s", text_groups[i]);
        g[i].base_lr = g[i].lr = 2e-5;
        g[i].weight_decay = 0.01;
        g[i].total_params = g[i].trainable_params = 1000;
    }
    assert_int_equal(wb_set_groups(s, g, 5), 0);
    s->groups[2].expanded = 1;
    WbLayer l[3];
    memset(l, 0, sizeof l);
    static const char *const layer_names[] = {"encoder.layer.1.attention.self.query",
                                              "encoder.layer.1.output.dense",
                                              "encoder.layer.1.intermediate.dense"};
    for (int i = 0; i < 3; i++) {
        snprintf(l[i].name, sizeof l[i].name, "%s", layer_names[i]);
        l[i].group = 2;
        snprintf(l[i].shape, sizeof l[i].shape, "Tx384");
        l[i].params = 100;
    }
    assert_int_equal(wb_set_layers(s, l, 3), 0);
    wb_draw(stdscr, s);
    char *text = lr_pane_text(s);
    must(text, "encoder.layer.0 2e-5", 1);
    must(text, "encoder.layer.1 2e-5", 1);
    must(text, " wd ", 0);   /* its cells went to the names */
    free(text);
    text = screen_text();
    /* layers: the group prefix goes first, then the head of what is left */
    must(text, "output.dense ", 1);
    must(text, "tion.self.query Tx384", 1);
    must(text, "\u2026", 1);
    must(text, "encoder.layer.1.output", 0);
    free(text);
    wb_free(s);
    free(s);
}

static int setup(void **state)
{
    (void)state;
    if (!setlocale(LC_ALL, "C.UTF-8") && !setlocale(LC_ALL, "en_US.UTF-8")) {
        return -1;
    }
    unsetenv("NO_COLOR");
    term_out = fopen("/dev/null", "w");
    term_in = fopen("/dev/null", "r");
    screen = newterm("xterm-256color", term_out, term_in);
    if (!screen) {
        return -1;
    }
    set_term(screen);
    theme_init();
    resizeterm(ROWS, COLS);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    endwin();
    delscreen(screen);
    fclose(term_out);
    fclose(term_in);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(edit_from_layers_pane_is_seen),
        cmocka_unit_test(columns),
        cmocka_unit_test(text_encoder_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
