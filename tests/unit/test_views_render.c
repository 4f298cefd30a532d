/* Renders the workbench into an ncurses virtual terminal (newterm on
 * /dev/null, xterm-256color, 80x24 and 132x43, UTF-8 on and off) from a
 * populated state and reads the screen back: key texts are there, each
 * view stays inside its rect, ASCII mode writes only ASCII, and 50x12
 * shows the too-small message. THAW_VIEWS_DUMP=1 prints every screen. */
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <cmocka.h>
#include <curses.h>

#include "app/catalog.h"
#include "views/draw_util.h"
#include "views/theme.h"
#include "views/views.h"

static SCREEN *screen;
static FILE *term_out, *term_in;

/* The screen as UTF-8 text, one line per row; max_cp: the largest code
 * point seen. */
static char *read_screen(int rows, int cols, uint32_t *max_cp)
{
    size_t cap = (size_t)rows * ((size_t)cols * 4 + 1) + 1;
    char *text = malloc(cap);
    size_t n = 0;
    *max_cp = 0;
    for (int y = 0; y < rows; y++) {
        for (int x = 0; x < cols; x++) {
            cchar_t cc;
            wchar_t wc[CCHARW_MAX + 1] = {0};
            attr_t attrs;
            short pair;
            if (mvwin_wch(stdscr, y, x, &cc) == ERR || getcchar(&cc, wc, &attrs, &pair, NULL) == ERR) {
                wc[0] = L'?';
            }
            uint32_t cp = (uint32_t)wc[0];
            *max_cp = cp > *max_cp ? cp : *max_cp;
            mbstate_t st;
            memset(&st, 0, sizeof st);
            char mb[MB_LEN_MAX];
            size_t len = wcrtomb(mb, wc[0] ? wc[0] : L' ', &st);
            if (len == (size_t)-1) {
                mb[0] = '?';
                len = 1;
            }
            memcpy(text + n, mb, len);
            n += len;
        }
        text[n++] = '\n';
    }
    text[n] = '\0';
    return text;
}

static void dump(const char *title, const char *text)
{
    if (getenv("THAW_VIEWS_DUMP")) {
        printf("==== %s\n%s", title, text);
    }
}

static void must_have(const char *text, const char *what, const char *where)
{
    if (!strstr(text, what)) {
        fail_msg("%s: '%s' not on screen:\n%s", where, what, text);
    }
}

/* ResNet-18: 6 groups, layer4 expanded, 3 epochs of 100 steps, 2 done. */
static void populate(WbState *s, int utf8)
{
    wb_init(s);
    s->utf8 = utf8;
    s->color = has_colors();
    snprintf(s->run_name, sizeof s->run_name, "fashion-resnet18-ft");
    snprintf(s->device, sizeof s->device, "CPU 2 threads");
    s->job = WB_JOB_RUNNING;
    s->epoch = 3;
    s->epochs = 3;
    s->step = 240;
    s->total_steps = 300;
    s->samples_per_s = 412.0;
    s->eta_s = 192.0;
    static const char *names[] = {"stem", "layer1", "layer2", "layer3", "layer4", "head"};
    static const int64_t params[] = {9536, 147968, 525568, 2099712, 8393728, 133898};
    WbGroup g[6];
    memset(g, 0, sizeof g);
    for (int i = 0; i < 6; i++) {
        snprintf(g[i].name, sizeof g[i].name, "%s", names[i]);
        g[i].frozen = i < 4;
        g[i].base_lr = i == 5 ? 1e-3 : 1e-4;
        g[i].lr = g[i].base_lr * (i == 5 ? 0.5 : 1.0);
        g[i].weight_decay = 1e-4;
        g[i].total_params = params[i];
        g[i].trainable_params = g[i].frozen ? 0 : params[i];
        snprintf(g[i].bn_mode, sizeof g[i].bn_mode, "%s", g[i].frozen ? "eval" : "train");
    }
    g[4].pending = 1;
    assert_int_equal(wb_set_groups(s, g, 6), 0);
    WbLayer l[40];
    memset(l, 0, sizeof l);
    int n = 0;
    for (int i = 0; i < 6; i++) {
        for (int k = 0; k < (i == 0 ? 2 : i == 5 ? 2 : 6); k++, n++) {
            if (i == 5) {
                snprintf(l[n].name, sizeof l[n].name, "fc.%d", k * 3);
                snprintf(l[n].shape, sizeof l[n].shape, "%s", k ? "10" : "256");
            } else if (i == 0) {
                snprintf(l[n].name, sizeof l[n].name, "%s", k ? "bn1" : "conv1");
                snprintf(l[n].shape, sizeof l[n].shape, "112x112x64");
            } else {
                snprintf(l[n].name, sizeof l[n].name, "%s.%d.%s%d", names[i], k / 3,
                         k % 3 == 2 ? "bn" : "conv", k % 3 + 1);
                snprintf(l[n].shape, sizeof l[n].shape, "%dx%dx%d", 56 >> (i - 1), 56 >> (i - 1),
                         64 << (i - 1));
            }
            l[n].group = i;
            l[n].params = params[i] / 6;
            l[n].frozen = g[i].frozen;
        }
    }
    assert_int_equal(wb_set_layers(s, l, n), 0);
    s->groups[4].expanded = 1;
    s->selected[WB_PANE_LAYERS] = 5;   /* a layer4 row */
    for (int i = 1; i <= 240; i++) {
        double loss = 2.3 * exp(-i / 60.0) + 0.3 + 0.05 * sin(i * 1.7);
        wb_push_train_loss(s, i, i == 50 ? NAN : loss);
    }
    wb_push_epoch(s, 100, 0.9, 0.8, 0.71);
    wb_push_epoch(s, 200, 0.5, 0.55, 0.83);
    wb_add_mark(s, 120, WB_MARK_UNFREEZE);
    wb_add_mark(s, 160, WB_MARK_LR);
    wb_log(s, "feature cache off: layer4 trains");
    wb_log(s, "epoch 2/3  train loss 0.5000 acc 0.830  val loss 0.5500 acc 0.830");
    wb_log(s, "thawed layer4 at step 120");
    char path[1024];
    snprintf(path, sizeof path, "%s/assets/model_catalog.json",
             getenv("THAW_SOURCE_DIR") ? getenv("THAW_SOURCE_DIR") : ".");
    ThawError err = {0};
    int rows = 0;
    if (catalog_load(path, "/nonexistent", s->catalog, WB_MAX_CATALOG, &rows, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    s->n_catalog = rows;
}

static void open_term(int rows, int cols)
{
    resizeterm(rows, cols);
    werase(stdscr);
}

static void full_screen(int rows, int cols, int utf8)
{
    open_term(rows, cols);
    WbState *s = malloc(sizeof *s);
    populate(s, utf8);
    char where[64];
    snprintf(where, sizeof where, "%dx%d %s", cols, rows, utf8 ? "utf8" : "ascii");
    uint32_t max_cp;

    wb_draw(stdscr, s);
    char *text = read_screen(rows, cols, &max_cp);
    dump(where, text);
    must_have(text, "fashion-resnet18-ft", where);
    must_have(text, "running", where);
    must_have(text, "layer4", where);
    must_have(text, "layer4.0.conv1", where);
    must_have(text, "head", where);
    must_have(text, "[x]", where);
    must_have(text, "[ ]", where);
    must_have(text, "lr groups", where);
    must_have(text, "frozen", where);
    must_have(text, "loss", where);
    must_have(text, "acc 83.0%", where);
    must_have(text, "thawed layer4 at step 120", where);
    must_have(text, "q quit", where);
    must_have(text, "? help", where);
    must_have(text, "Tab pane", where);
    /* the footer is the last line and fits */
    const char *last = text;
    for (int y = 0; y < rows - 1; y++) {
        last = strchr(last, '\n') + 1;
    }
    assert_true(strncmp(last, "Tab", 3) == 0);
    if (utf8) {
        assert_true(max_cp >= 0x2800);   /* Braille in the plot */
        int braille = 0;
        for (int y = 0; y < rows; y++) {
            for (int x = 0; x < cols; x++) {
                cchar_t cc;
                wchar_t wc[CCHARW_MAX + 1] = {0};
                attr_t a;
                short p;
                mvwin_wch(stdscr, y, x, &cc);
                getcchar(&cc, wc, &a, &p, NULL);
                braille += wc[0] >= 0x2800 && wc[0] <= 0x28ff;
            }
        }
        assert_true(braille > 20);
    } else {
        if (max_cp >= 0x80) {
            fail_msg("%s: code point U+%04X in ASCII mode:\n%s", where, max_cp, text);
        }
        must_have(text, "...", where);   /* the train curve's dots */
    }
    free(text);

    /* help overlay */
    s->help = 1;
    wb_draw(stdscr, s);
    text = read_screen(rows, cols, &max_cp);
    dump("help", text);
    must_have(text, "freeze everything up to the selection", where);
    must_have(text, "unfreeze all", where);
    must_have(text, "any key closes help", where);
    free(text);
    s->help = 0;

    /* editing the lr of layer4 */
    s->focus = WB_PANE_GROUPS;
    s->selected[WB_PANE_GROUPS] = 4;
    s->lr_editing = 1;
    s->lr_edit_group = 4;
    snprintf(s->lr_edit, sizeof s->lr_edit, "3e-5");
    wb_draw(stdscr, s);
    text = read_screen(rows, cols, &max_cp);
    dump("lr edit", text);
    must_have(text, "3e-5", where);
    must_have(text, "lr layer4:", where);
    must_have(text, "Enter apply", where);
    free(text);
    s->lr_editing = 0;

    /* quit confirmation */
    s->quit_confirm = 1;
    wb_draw(stdscr, s);
    text = read_screen(rows, cols, &max_cp);
    must_have(text, "Quit?", where);
    free(text);
    s->quit_confirm = 0;

    /* switching models while a run is going asks first */
    s->screen = WB_SCREEN_MODELS;
    s->pick_confirm = 1;
    wb_draw(stdscr, s);
    text = read_screen(rows, cols, &max_cp);
    must_have(text, "Stop this run (unsaved) for ResNet-18?", where);
    must_have(text, "y switch", where);
    free(text);
    s->pick_confirm = 0;
    s->screen = WB_SCREEN_MAIN;

    /* model-choice table */
    s->screen = WB_SCREEN_MODELS;
    s->model_selected = 2;
    wb_draw(stdscr, s);
    text = read_screen(rows, cols, &max_cp);
    dump("models", text);
    must_have(text, "model-choice table", where);
    must_have(text, "image classification", where);
    must_have(text, "ResNet-50", where);
    must_have(text, "25.6M", where);
    must_have(text, "EfficientNet-Lite0", where);
    must_have(text, "not supported yet", where);
    must_have(text, "missing", where);
    must_have(text, "feature extraction", where);
    free(text);
    /* scrolled to the end: the last row shows */
    wb_move_to(s, -1);
    wb_draw(stdscr, s);
    text = read_screen(rows, cols, &max_cp);
    dump("models end", text);
    must_have(text, "LLaVA", where);
    must_have(text, "multi-modal", where);
    free(text);
    wb_free(s);
    free(s);
}

static void screen_80x24_utf8(void **state) { (void)state; full_screen(24, 80, 1); }
static void screen_80x24_ascii(void **state) { (void)state; full_screen(24, 80, 0); }
static void screen_132x43_utf8(void **state) { (void)state; full_screen(43, 132, 1); }
static void screen_132x43_ascii(void **state) { (void)state; full_screen(43, 132, 0); }

static void too_small(void **state)
{
    (void)state;
    open_term(12, 50);
    WbState *s = malloc(sizeof *s);
    populate(s, 1);
    wb_draw(stdscr, s);
    uint32_t max_cp;
    char *text = read_screen(12, 50, &max_cp);
    dump("50x12", text);
    must_have(text, "terminal too small (need 60x16)", "50x12");
    assert_null(strstr(text, "layer4"));
    free(text);
    wb_free(s);
    free(s);
}

typedef void (*DrawFn)(WINDOW *, WbRect, const WbState *);

/* Each view alone in a rect inside a blank screen: every cell outside the
 * rect stays a blank with no attributes. */
static void views_stay_inside(void **state)
{
    (void)state;
    const int rows = 30, cols = 100;
    open_term(rows, cols);
    WbState *s = malloc(sizeof *s);
    static const struct { const char *name; DrawFn fn; } views[] = {
        {"status", status_bar_draw}, {"layers", layers_view_draw},
        {"curves", curves_view_draw}, {"lr", lr_view_draw}, {"log", log_view_draw},
        {"models", model_table_draw}, {"help", help_view_draw}, {"footer", footer_draw},
        {"too small", too_small_draw},
    };
    static const WbRect rects[] = {
        {3, 5, 20, 60}, {2, 10, 8, 30}, {5, 7, 3, 12}, {0, 0, 1, 1}, {4, 4, 2, 2},
        {29, 0, 1, 100}, {0, 0, 30, 100}, {10, 90, 20, 10},
    };
    int checked = 0;
    for (int utf8 = 0; utf8 <= 1; utf8++) {
        populate(s, utf8);
        s->groups[0].expanded = s->groups[1].expanded = 1;   /* more rows than fit */
        for (size_t v = 0; v < sizeof views / sizeof views[0]; v++) {
            for (size_t r = 0; r < sizeof rects / sizeof rects[0]; r++) {
                for (int variant = 0; variant < 2; variant++) {
                    s->lr_editing = variant;
                    s->lr_edit_group = 4;
                    s->log_scale = variant;
                    s->selected[WB_PANE_LAYERS] = variant ? 19 : 0;
                    snprintf(s->lr_edit, sizeof s->lr_edit, "1e-4");
                    werase(stdscr);
                    views[v].fn(stdscr, rects[r], s);
                    int drew = 0;
                    for (int y = 0; y < rows; y++) {
                        for (int x = 0; x < cols; x++) {
                            chtype ch = mvwinch(stdscr, y, x);
                            int blank = (ch & A_CHARTEXT) == ' ' && (ch & (A_ATTRIBUTES | A_COLOR)) == 0;
                            if (wb_rect_contains(rects[r], y, x)) {
                                drew |= !blank;
                            } else if (!blank) {
                                fail_msg("%s (%s) in rect {%d,%d,%d,%d} wrote at (%d,%d)",
                                         views[v].name, utf8 ? "utf8" : "ascii", rects[r].y,
                                         rects[r].x, rects[r].h, rects[r].w, y, x);
                            }
                        }
                    }
                    checked++;
                    /* a reasonable rect shows something */
                    if (rects[r].h >= 3 && rects[r].w >= 30 && !drew) {
                        fail_msg("%s drew nothing in {%d,%d,%d,%d}", views[v].name, rects[r].y,
                                 rects[r].x, rects[r].h, rects[r].w);
                    }
                }
            }
        }
        wb_free(s);
    }
    assert_int_equal(checked, 2 * 9 * 8 * 2);
    free(s);
}

/* An empty state (nothing loaded yet) draws without data. */
/* A GPU's long name in the status bar: whole at 132 columns; at 80, with a
 * short run name and no speed yet, its short form (cuda:0) beside state,
 * progress and ETA (the device is dropped before those, as for the CPU). */
static void gpu_device_name(void **state)
{
    (void)state;
    WbState *s = malloc(sizeof *s);
    populate(s, 1);
    snprintf(s->device, sizeof s->device, "cuda:0 H100 80GB HBM3");
    uint32_t max_cp;
    open_term(43, 132);
    wb_draw(stdscr, s);
    char *text = read_screen(43, 132, &max_cp);
    must_have(text, "cuda:0 H100 80GB HBM3", "132x43 gpu");
    free(text);
    open_term(24, 80);
    snprintf(s->run_name, sizeof s->run_name, "default");
    s->samples_per_s = 0;
    wb_draw(stdscr, s);
    text = read_screen(24, 80, &max_cp);
    dump("80x24 gpu", text);
    char first[400];   /* the status line (UTF-8: more bytes than columns) */
    snprintf(first, sizeof first, "%.*s", (int)strcspn(text, "\n"), text);
    must_have(first, "cuda:0", "80x24 gpu status line");
    must_have(first, "running", "80x24 gpu status line");
    must_have(first, "epoch", "80x24 gpu status line");
    must_have(first, "ETA", "80x24 gpu status line");
    assert_null(strstr(first, "H100"));
    free(text);
    wb_free(s);
    free(s);
}

/* An error after a long path at 80x24: the error line wraps, so its cause
 * is on the screen, and the newest log line still shows below it. */
static void long_error_wraps(void **state)
{
    (void)state;
    WbState *s = malloc(sizeof *s);
    populate(s, 1);
    s->job = WB_JOB_ERROR;
    snprintf(s->status_msg, sizeof s->status_msg, "%s",
             "/work/main/build/tui-work/test_disk_full/small/out/epoch-001.safetensors: "
             "No space left on device (write of the temporary file failed; "
             "previous file kept)");
    uint32_t max_cp;
    open_term(24, 80);
    wb_draw(stdscr, s);
    char *text = read_screen(24, 80, &max_cp);
    dump("80x24 long error", text);
    must_have(text, "epoch-001.safetensors:", "80x24 long error");
    must_have(text, " space left on device (write", "80x24 long error");
    must_have(text, "thawed layer4 at step 120", "80x24 long error (newest log line)");
    free(text);
    /* wrapping breaks at a space in the second half of the row, else hard */
    assert_string_equal(wb_wrap_next("aaaa bbbb cccc", 10), "cccc");
    assert_string_equal(wb_wrap_next("aaaaaaaaaaaaaa", 10), "aaaa");
    assert_string_equal(wb_wrap_next("ab cdefghijklm", 10), "jklm");
    assert_string_equal(wb_wrap_next("fits", 10), "");
    wb_free(s);
    free(s);
}

/* The end of a run at 80x24: the status line says where the checkpoint
 * went, the log's copy of it ("done: " + the same text) is not drawn a
 * second time, so the last epoch's accuracy stays on the 3-row log. */
static void run_end_not_twice(void **state)
{
    (void)state;
    WbState *s = malloc(sizeof *s);
    populate(s, 1);
    s->job = WB_JOB_DONE;
    const char *end = "finished 3 epochs: runs/tiny/epoch-003.safetensors";
    wb_log(s, "epoch 3/3  train loss 0.4000 acc 0.870  val loss 0.4500 acc 0.860");
    wb_log(s, "done: %s", end);
    snprintf(s->status_msg, sizeof s->status_msg, "%s", end);
    uint32_t max_cp;
    open_term(24, 80);
    wb_draw(stdscr, s);
    char *text = read_screen(24, 80, &max_cp);
    dump("80x24 run end", text);
    must_have(text, end, "80x24 run end");
    must_have(text, "epoch 3/3  train loss 0.4000", "80x24 run end (last epoch)");
    assert_null(strstr(text, "done: finished"));
    free(text);
    /* a status that is not the newest line: every log line is drawn */
    snprintf(s->status_msg, sizeof s->status_msg, "%s", "saved runs/tiny/manual.safetensors");
    wb_draw(stdscr, s);
    text = read_screen(24, 80, &max_cp);
    must_have(text, "done: finished 3 epochs", "80x24 other status");
    free(text);
    wb_free(s);
    free(s);
}

static void empty_state(void **state)
{
    (void)state;
    open_term(24, 80);
    WbState *s = malloc(sizeof *s);
    wb_init(s);
    s->utf8 = 1;
    wb_draw(stdscr, s);
    uint32_t max_cp;
    char *text = read_screen(24, 80, &max_cp);
    dump("empty", text);
    must_have(text, "no model loaded", "empty");
    must_have(text, "no steps yet", "empty");
    must_have(text, "idle", "empty");
    free(text);
    s->screen = WB_SCREEN_MODELS;
    wb_draw(stdscr, s);
    text = read_screen(24, 80, &max_cp);
    must_have(text, "no model catalog loaded", "empty models");
    free(text);
    wb_free(s);
    free(s);
}

static int setup(void **state)
{
    (void)state;
    if (!setlocale(LC_ALL, "C.UTF-8") && !setlocale(LC_ALL, "en_US.UTF-8")) {
        fprintf(stderr, "no UTF-8 locale\n");
        return -1;
    }
    setenv("TERM", "xterm-256color", 1);
    unsetenv("NO_COLOR");
    term_out = fopen("/dev/null", "w");
    term_in = fopen("/dev/null", "r");
    screen = newterm("xterm-256color", term_out, term_in);
    if (!screen) {
        fprintf(stderr, "newterm failed\n");
        return -1;
    }
    set_term(screen);
    theme_init();
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
        cmocka_unit_test(screen_80x24_utf8),
        cmocka_unit_test(screen_80x24_ascii),
        cmocka_unit_test(screen_132x43_utf8),
        cmocka_unit_test(screen_132x43_ascii),
        cmocka_unit_test(too_small),
        cmocka_unit_test(views_stay_inside),
        cmocka_unit_test(empty_state),
        cmocka_unit_test(gpu_device_name),
        cmocka_unit_test(long_error_wraps),
        cmocka_unit_test(run_end_not_twice),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
