/* The workbench layout (nvtop's idea: a pure function tested over many
 * sizes). 80x24:
 *
 *   row 0        status bar
 *   rows 1..19   layers (left, cols/2 up to 64) | curves (right top)
 *                                               | LR groups (right bottom)
 *   rows 20..22  log lines
 *   row 23       footer keys
 */
#include "views/layout.h"

#include <string.h>

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void wb_layout(int rows, int cols, const WbState *s, WbLayout *out)
{
    memset(out, 0, sizeof *out);
    out->rows = rows;
    out->cols = cols;
    if (rows < WB_MIN_ROWS || cols < WB_MIN_COLS) {
        out->too_small = 1;
        out->message = (WbRect){0, 0, rows > 0 ? rows : 0, cols > 0 ? cols : 0};
        return;
    }
    out->status = (WbRect){0, 0, 1, cols};
    out->footer = (WbRect){rows - 1, 0, 1, cols};

    /* log lines: 1 at the minimum, 3 at 24 rows, up to 8 on tall terminals */
    int log_h = clampi(1 + (rows - 16) / 4, 1, 8);
    int body_y = 1;
    int body_h = rows - 2 - log_h;
    out->log = (WbRect){body_y + body_h, 0, log_h, cols};

    int left_w = clampi(cols / 2, WB_LAYERS_MIN_W, 64);
    int right_w = cols - left_w;
    out->layers = (WbRect){body_y, 0, body_h, left_w};

    /* LR groups: a border, a header and one row per group, at most half the
     * body, so the curves keep room to be read */
    int n_groups = s ? s->n_groups : 0;
    int max_groups_h = body_h - WB_CURVES_MIN_H;
    if (max_groups_h > body_h / 2) {
        max_groups_h = body_h / 2;
    }
    int groups_h = clampi(n_groups + 3, WB_GROUPS_MIN_H, max_groups_h);
    int curves_h = body_h - groups_h;
    out->curves = (WbRect){body_y, left_w, curves_h, right_w};
    out->groups = (WbRect){body_y + curves_h, left_w, groups_h, right_w};

    /* help: centred over the body, leaving the status and footer visible */
    int help_w = clampi(cols - 4, 20, 66);
    int help_h = clampi(rows - 2, 4, 24);
    out->help = (WbRect){1 + (rows - 2 - help_h) / 2, (cols - help_w) / 2, help_h, help_w};
    out->models = (WbRect){1, 0, rows - 2, cols};
}

int wb_rect_overlap(WbRect a, WbRect b)
{
    if (a.h <= 0 || a.w <= 0 || b.h <= 0 || b.w <= 0) {
        return 0;
    }
    return a.y < b.y + b.h && b.y < a.y + a.h && a.x < b.x + b.w && b.x < a.x + a.w;
}

int wb_rect_contains(WbRect r, int y, int x)
{
    return y >= r.y && y < r.y + r.h && x >= r.x && x < r.x + r.w;
}
