/* The workbench layout over many terminal sizes: panes inside the screen,
 * never overlapping, at least their minimum size, status on the first and
 * footer on the last line; below 60x16 only the "too small" message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "views/layout.h"

static int inside(WbRect r, int rows, int cols)
{
    return r.y >= 0 && r.x >= 0 && r.h > 0 && r.w > 0 && r.y + r.h <= rows && r.x + r.w <= cols;
}

static void check_size(int rows, int cols, int n_groups)
{
    WbState s;
    wb_init(&s);
    s.n_groups = n_groups;
    WbLayout l;
    wb_layout(rows, cols, &s, &l);
    if (rows < WB_MIN_ROWS || cols < WB_MIN_COLS) {
        if (!l.too_small || l.message.h != rows || l.message.w != cols || l.layers.w != 0) {
            fail_msg("%dx%d: expected only the too-small message", cols, rows);
        }
        return;
    }
    if (l.too_small) {
        fail_msg("%dx%d: too_small set", cols, rows);
    }
    const WbRect panes[] = {l.status, l.layers, l.curves, l.groups, l.log, l.footer};
    const char *names[] = {"status", "layers", "curves", "groups", "log", "footer"};
    int n = 6;
    long area = 0;
    for (int i = 0; i < n; i++) {
        if (!inside(panes[i], rows, cols)) {
            fail_msg("%dx%d: %s {%d,%d,%d,%d} off screen", cols, rows, names[i], panes[i].y,
                     panes[i].x, panes[i].h, panes[i].w);
        }
        area += (long)panes[i].h * panes[i].w;
        for (int j = i + 1; j < n; j++) {
            if (wb_rect_overlap(panes[i], panes[j])) {
                fail_msg("%dx%d: %s overlaps %s", cols, rows, names[i], names[j]);
            }
        }
    }
    /* disjoint and the same total area as the screen: they tile it */
    if (area != (long)rows * cols) {
        fail_msg("%dx%d: panes cover %ld of %d cells", cols, rows, area, rows * cols);
    }
    if (l.status.y != 0 || l.status.h != 1 || l.status.w != cols) {
        fail_msg("%dx%d: status is not the top line", cols, rows);
    }
    if (l.footer.y != rows - 1 || l.footer.h != 1 || l.footer.w != cols) {
        fail_msg("%dx%d: footer is not the last line", cols, rows);
    }
    if (l.layers.h < WB_LAYERS_MIN_H || l.layers.w < WB_LAYERS_MIN_W ||
        l.curves.h < WB_CURVES_MIN_H || l.curves.w < WB_CURVES_MIN_W ||
        l.groups.h < WB_GROUPS_MIN_H || l.groups.w < WB_GROUPS_MIN_W || l.log.h < 1) {
        fail_msg("%dx%d (%d groups): a pane below its minimum: layers %dx%d curves %dx%d "
                 "groups %dx%d log %d", cols, rows, n_groups, l.layers.w, l.layers.h,
                 l.curves.w, l.curves.h, l.groups.w, l.groups.h, l.log.h);
    }
    if (!inside(l.help, rows, cols) || wb_rect_overlap(l.help, l.status) ||
        wb_rect_overlap(l.help, l.footer) || !inside(l.models, rows, cols) ||
        wb_rect_overlap(l.models, l.status) || wb_rect_overlap(l.models, l.footer)) {
        fail_msg("%dx%d: help or model table covers the status or footer line", cols, rows);
    }
}

static void many_sizes(void **state)
{
    (void)state;
    int checked = 0;
    for (int g = 0; g <= 12; g += 6) {
        for (int rows = 16; rows <= 80; rows++) {
            for (int cols = 60; cols <= 200; cols += 7) {
                check_size(rows, cols, g);
                checked++;
            }
            check_size(rows, 200, g);
        }
    }
    assert_true(checked > 2000);
}

static void tiny_sizes(void **state)
{
    (void)state;
    int sizes[][2] = {{0, 0}, {1, 1}, {12, 50}, {15, 80}, {24, 59}, {15, 59}, {16, 59}, {15, 60},
                      {3, 200}, {200, 3}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        check_size(sizes[i][0], sizes[i][1], 6);
    }
    WbLayout l;
    wb_layout(16, 60, NULL, &l);   /* no state: still a layout */
    assert_false(l.too_small);
}

/* 80x24, ResNet's 6 groups: the shape the README promises. */
static void classic_80x24(void **state)
{
    (void)state;
    WbState s;
    wb_init(&s);
    s.n_groups = 6;
    WbLayout l;
    wb_layout(24, 80, &s, &l);
    assert_int_equal(l.layers.x, 0);
    assert_int_equal(l.layers.w, 40);
    assert_int_equal(l.curves.x, 40);
    assert_int_equal(l.curves.y, 1);
    assert_true(l.groups.y > l.curves.y);
    assert_int_equal(l.groups.h, 9);   /* frame + header + 6 groups: all visible */
    assert_true(l.curves.h >= 8);
    assert_int_equal(l.footer.y, 23);
    /* bigger terminals give the panes more room */
    WbLayout big;
    wb_layout(43, 132, &s, &big);
    assert_true(big.layers.h > l.layers.h && big.layers.w > l.layers.w);
    assert_true(big.curves.h > l.curves.h && big.curves.w > l.curves.w);
    assert_true(big.log.h > l.log.h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_sizes),
        cmocka_unit_test(tiny_sizes),
        cmocka_unit_test(classic_80x24),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
