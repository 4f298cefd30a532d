/* CPU time of one workbench frame, without a terminal or an engine: the
 * views draw a populated state (ResNet-18 groups, layer4 expanded, N train
 * losses, 10 epochs, marks) into an ncurses screen on /dev/null at 132x43
 * and 80x24, one new loss point per frame as while training, and doupdate
 * writes the changes as it would to a terminal. Reports ms of this
 * thread's CPU per frame and what 10 frames a second (the workbench's
 * ceiling) costs as % of one core, for several series lengths: every frame
 * smooths and rasterises the whole loss series, so the cost grows with the
 * steps seen.
 *
 * Built by run_tui_cost.sh against a build folder's libthaw_views.a:
 *   cc -O2 -I. bench/tui_cost/draw_cost.c BUILD/libthaw_views.a \
 *      $(pkg-config --libs ncursesw) -lm -o draw_cost
 * usage: draw_cost [FRAMES]   (default 200 per configuration) */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curses.h>

#include "views/theme.h"
#include "views/views.h"

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double loss_at(int64_t i)
{
    return 2.3 * exp(-(double)i / 600.0) + 0.3 + 0.05 * sin((double)i * 1.7);
}

static void populate(WbState *s, int64_t steps)
{
    wb_init(s);
    s->utf8 = 1;
    s->color = has_colors();
    snprintf(s->run_name, sizeof s->run_name, "fashion-resnet18-ft");
    s->job = WB_JOB_RUNNING;
    s->epoch = 10;
    s->epochs = 20;
    s->total_steps = steps * 2;
    s->samples_per_s = 412.0;
    s->eta_s = 192.0;
    static const char *names[] = {"stem", "layer1", "layer2", "layer3", "layer4", "head"};
    WbGroup g[6];
    memset(g, 0, sizeof g);
    for (int i = 0; i < 6; i++) {
        snprintf(g[i].name, sizeof g[i].name, "%s", names[i]);
        g[i].frozen = i < 4;
        g[i].base_lr = g[i].lr = 1e-4;
        g[i].total_params = 100000 * (i + 1);
        g[i].trainable_params = g[i].frozen ? 0 : g[i].total_params;
    }
    wb_set_groups(s, g, 6);
    WbLayer l[30];
    memset(l, 0, sizeof l);
    for (int k = 0; k < 30; k++) {
        snprintf(l[k].name, sizeof l[k].name, "%s.%d.conv%d", names[k / 5 + 1 > 5 ? 5 : k / 6],
                 k / 3, k % 3);
        snprintf(l[k].shape, sizeof l[k].shape, "7x7x512");
        l[k].group = k / 6 > 5 ? 5 : k / 6;
        l[k].params = 2359296;
    }
    wb_set_layers(s, l, 30);
    s->groups[4].expanded = 1;
    s->selected[WB_PANE_LAYERS] = 5;
    for (int64_t i = 1; i <= steps; i++) {
        wb_push_train_loss(s, i, loss_at(i));
    }
    for (int e = 1; e <= 10; e++) {
        int64_t at = steps * e / 10;
        wb_push_epoch(s, at, loss_at(at), loss_at(at) + 0.1, 0.6 + 0.03 * e);
    }
    wb_add_mark(s, steps / 3, WB_MARK_UNFREEZE);
    wb_add_mark(s, steps / 2, WB_MARK_LR);
    for (int i = 0; i < 8; i++) {
        wb_log(s, "epoch %d/20  train loss 0.5000 acc 0.830  val loss 0.5500 acc 0.830", i);
    }
}

int main(int argc, char **argv)
{
    int frames = argc > 1 ? atoi(argv[1]) : 200;
    if (!setlocale(LC_ALL, "C.UTF-8")) {
        setlocale(LC_ALL, "");
    }
    FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
    SCREEN *scr = newterm("xterm-256color", out, in);
    if (!scr) {
        fprintf(stderr, "newterm failed\n");
        return 1;
    }
    set_term(scr);
    theme_init();
    static const int sizes[2][2] = {{43, 132}, {24, 80}};
    static const int64_t lengths[] = {1000, 10000, 100000, 1000000};
    printf("| terminal | loss points | ms CPU per frame | %% of one core at 10 frames/s |\n");
    printf("|---|---|---|---|\n");
    for (int z = 0; z < 2; z++) {
        resizeterm(sizes[z][0], sizes[z][1]);
        for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
            WbState *s = malloc(sizeof *s);
            populate(s, lengths[k]);
            int n = lengths[k] >= 1000000 ? frames / 10 + 1 : frames;
            wb_draw(stdscr, s);   /* the first frame paints everything */
            wnoutrefresh(stdscr);
            doupdate();
            double t0 = thread_cpu_s();
            for (int f = 0; f < n; f++) {
                int64_t step = lengths[k] + f + 1;
                wb_push_train_loss(s, step, loss_at(step));
                s->step = step;
                wb_draw(stdscr, s);
                wnoutrefresh(stdscr);
                doupdate();
            }
            double ms = (thread_cpu_s() - t0) / n * 1e3;
            printf("| %dx%d | %lld | %.3f | %.2f |\n", sizes[z][1], sizes[z][0],
                   (long long)lengths[k], ms, ms * 10 / 1000 * 100);   /* 10 frames/s */
            wb_free(s);
            free(s);
        }
    }
    endwin();
    delscreen(scr);
    fclose(out);
    fclose(in);
    return 0;
}
