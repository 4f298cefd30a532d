/* WbState helpers: series growth, log ring, marks, the flattened layers
 * list, clamped selection movement, expand/collapse, scrolling. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "views/wb_state.h"

/* 3 groups (stem, layer1, head) with 2, 3 and 1 layers. */
static void fill(WbState *s)
{
    WbGroup g[3];
    memset(g, 0, sizeof g);
    const char *names[] = {"stem", "layer1", "head"};
    for (int i = 0; i < 3; i++) {
        snprintf(g[i].name, sizeof g[i].name, "%s", names[i]);
    }
    assert_int_equal(wb_set_groups(s, g, 3), 0);
    WbLayer l[6];
    memset(l, 0, sizeof l);
    int group_of[] = {0, 0, 1, 1, 1, 2};
    for (int i = 0; i < 6; i++) {
        snprintf(l[i].name, sizeof l[i].name, "layer%d", i);
        l[i].group = group_of[i];
    }
    assert_int_equal(wb_set_layers(s, l, 6), 0);
}

static void series_and_log(void **state)
{
    (void)state;
    WbState s;
    wb_init(&s);
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(wb_push_train_loss(&s, i + 1, 1.0 / (i + 1)), 0);
    }
    assert_int_equal(s.train_loss.n, 10000);
    assert_true(s.train_loss.x[9999] == 10000.0 && s.train_loss.y[1] == 0.5);
    assert_int_equal(wb_push_epoch(&s, 100, 0.5, NAN, 0.8), 0);
    assert_int_equal(s.val_loss.n, 1);
    assert_true(isnan(s.val_loss.y[0]) && s.val_acc.y[0] == 0.8 && s.val_acc.x[0] == 100.0);
    for (int i = 0; i < 300; i++) {
        assert_int_equal(wb_add_mark(&s, i, WB_MARK_LR), 0);
    }
    assert_int_equal(s.n_marks, 300);
    assert_int_equal(s.marks[299].step, 299);
    assert_null(wb_log_line(&s, 0));
    for (int i = 0; i < WB_LOG_LINES + 5; i++) {
        wb_log(&s, "line %d\twith\ttabs", i);
    }
    assert_int_equal(s.log_count, WB_LOG_LINES);
    assert_string_equal(wb_log_line(&s, 0), "line 5 with tabs");
    assert_string_equal(wb_log_line(&s, WB_LOG_LINES - 1), "line 68 with tabs");
    assert_null(wb_log_line(&s, WB_LOG_LINES));
    assert_string_equal(wb_job_name(WB_JOB_PAUSED), "paused");
    wb_free(&s);
    wb_free(&s);   /* twice is fine */
}

static void visible_rows_and_selection(void **state)
{
    (void)state;
    WbState s;
    wb_init(&s);
    fill(&s);
    WbRow rows[16];
    assert_int_equal(wb_visible_rows(&s, rows, 16), 3);   /* collapsed */
    assert_int_equal(rows[2].group, 2);
    assert_int_equal(rows[2].layer, -1);
    /* moving clamps */
    wb_move(&s, -5);
    assert_int_equal(s.selected[WB_PANE_LAYERS], 0);
    wb_move(&s, 100);
    assert_int_equal(s.selected[WB_PANE_LAYERS], 2);
    assert_int_equal(wb_selected_group(&s), 2);
    assert_int_equal(wb_selected_layer(&s), -1);
    /* expand layer1: stem, layer1, its 3 layers, head */
    wb_move_to(&s, 1);
    wb_toggle_expanded(&s);
    assert_int_equal(wb_visible_rows(&s, rows, 16), 6);
    assert_int_equal(rows[2].layer, 2);
    assert_int_equal(rows[4].layer, 4);
    assert_int_equal(rows[5].group, 2);
    assert_int_equal(s.selected[WB_PANE_LAYERS], 1);
    wb_move(&s, 2);
    assert_int_equal(wb_selected_layer(&s), 3);
    assert_int_equal(wb_selected_group(&s), 1);
    /* collapsing from a layer puts the selection on its group */
    wb_toggle_expanded(&s);
    assert_int_equal(s.selected[WB_PANE_LAYERS], 1);
    assert_int_equal(wb_visible_rows(&s, NULL, 0), 3);
    /* a capped buffer still reports the full count */
    s.groups[0].expanded = s.groups[1].expanded = 1;
    assert_int_equal(wb_visible_rows(&s, rows, 2), 8);
    /* the last row; -1 means last */
    wb_move_to(&s, -1);
    assert_int_equal(s.selected[WB_PANE_LAYERS], 7);
    /* groups pane */
    wb_focus_next(&s);
    assert_int_equal(s.focus, WB_PANE_GROUPS);
    wb_move(&s, 10);
    assert_int_equal(s.selected[WB_PANE_GROUPS], 2);
    assert_int_equal(wb_selected_group(&s), 2);
    wb_focus_next(&s);
    assert_int_equal(s.focus, WB_PANE_CURVES);
    assert_int_equal(wb_selected_group(&s), -1);
    wb_move(&s, 3);   /* nothing to select: stays 0 */
    assert_int_equal(s.selected[WB_PANE_CURVES], 0);
    wb_focus_next(&s);
    assert_int_equal(s.focus, WB_PANE_LAYERS);
    /* the table shrinks: selections clamp, expanded flags survive by name */
    WbGroup one = s.groups[1];
    one.expanded = 0;
    assert_int_equal(wb_set_groups(&s, &one, 1), 0);
    assert_int_equal(s.groups[0].expanded, 1);
    assert_int_equal(s.selected[WB_PANE_GROUPS], 0);
    assert_true(s.selected[WB_PANE_LAYERS] < wb_visible_rows(&s, NULL, 0));
    /* model table selection */
    s.screen = WB_SCREEN_MODELS;
    s.n_catalog = 4;
    wb_move(&s, 9);
    assert_int_equal(s.model_selected, 3);
    wb_move(&s, -1);
    assert_int_equal(s.model_selected, 2);
    assert_int_equal(wb_set_groups(&s, NULL, WB_MAX_GROUPS + 1), -1);
    wb_free(&s);
}

static void scrolling(void **state)
{
    (void)state;
    assert_int_equal(wb_scroll_for(0, 0, 10, 5), 0);     /* everything fits */
    assert_int_equal(wb_scroll_for(12, 0, 10, 30), 3);   /* just enough to show 12 */
    assert_int_equal(wb_scroll_for(5, 3, 10, 30), 3);    /* visible: unchanged */
    assert_int_equal(wb_scroll_for(2, 3, 10, 30), 2);    /* above: scroll up */
    assert_int_equal(wb_scroll_for(29, 25, 10, 30), 20); /* never past the end */
    assert_int_equal(wb_scroll_for(0, 0, 0, 30), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(series_and_log),
        cmocka_unit_test(visible_rows_and_selection),
        cmocka_unit_test(scrolling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
