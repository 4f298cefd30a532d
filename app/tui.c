/* The workbench's main loop: libuv on the main thread owning ncurses.
 * Keys (uv_poll on stdin, read until ERR), signals (uv_signal), a 100 ms
 * redraw timer that draws only a dirty state, and the bus wake-up. The
 * engine runs on its own thread; everything between the two crosses the
 * bus, and nothing here blocks on it until the very end (the join). */
#include "app/tui.h"

#include <curses.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <uv.h>

#include "app/engine_thread.h"
#include "app/tui_app.h"
#include "app/catalog.h"
#include "app/tui_run.h"
#include "views/theme.h"
#include "views/views.h"

#define TUI_USAGE "thaw [RUN.json] [--out DIR] [--device cpu|cuda[:N]]"
#define TUI_FRAME_MS 100

typedef struct {
    uv_loop_t loop;
    uv_poll_t keys;
    uv_signal_t sig_winch, sig_int, sig_term, sig_hup;
    uv_timer_t frame;
    TuiApp app;
} Tui;

static void draw_now(Tui *t)
{
    wb_draw(stdscr, &t->app.wb);   /* werase + panes; no clear(): no flicker */
    wnoutrefresh(stdscr);
    doupdate();
    t->app.dirty = 0;
}

static void stop_if_done(Tui *t)
{
    if (t->app.quit == TUI_QUIT_NOW) {
        uv_stop(&t->loop);
    }
}

static void on_event(BusEvent *ev, void *user)
{
    tui_fold_event(&((Tui *)user)->app, ev);
}

static void on_bus_wake(Bus *bus, void *user)
{
    bus_drain_events(bus, on_event, user);
    stop_if_done(user);
}

static void on_keys(uv_poll_t *h, int status, int events)
{
    Tui *t = h->data;
    (void)events;
    if (status < 0) {
        /* stdin is gone (terminal closed): leave as a hang-up would. */
        uv_poll_stop(h);
        tui_request_exit(&t->app, SIGHUP);
        stop_if_done(t);
        return;
    }
    wint_t wc;
    int r;
    while ((r = get_wch(&wc)) != ERR) {
        tui_handle_key(&t->app, (int)wc, r == KEY_CODE_YES);
    }
    stop_if_done(t);
}

static void on_resize(Tui *t)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
        resizeterm(ws.ws_row, ws.ws_col);
    } else {
        endwin();
        refresh();
    }
    t->app.dirty = 1;
    draw_now(t);
}

static void on_signal(uv_signal_t *h, int sig)
{
    Tui *t = h->data;
    if (sig == SIGWINCH) {
        on_resize(t);
        return;
    }
    tui_request_exit(&t->app, sig);
    stop_if_done(t);
}

static void on_frame(uv_timer_t *h)
{
    Tui *t = h->data;
    if (t->app.dirty) {
        draw_now(t);
    }
    stop_if_done(t);
}

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

static void curses_start(WbState *wb)
{
    initscr();
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);   /* Esc cancels an edit at once, not after 1 s */
    curs_set(0);
    const char *cs = nl_langinfo(CODESET);
    wb->utf8 = cs && strcmp(cs, "UTF-8") == 0;
    wb->color = theme_init();
}

static int parse_args(int argc, char **argv, const char **run_path, const char **out,
                      const char **device)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},
        {"device", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'o') {
            *out = optarg;
        } else if (c == 'd') {
            *device = optarg;
        } else {
            return -1;
        }
    }
    if (argc - optind > 1) {
        return -1;
    }
    *run_path = optind < argc ? argv[optind] : NULL;
    return 0;
}

static void error_line(const char *msg)
{
    fprintf(stderr, "thaw: %s\n", msg);
}

int tui_main(int argc, char **argv)
{
    const char *run_path = NULL, *out = NULL, *device_arg = NULL;
    if (parse_args(argc, argv, &run_path, &out, &device_arg) != 0) {
        error_line("bad arguments (usage: " TUI_USAGE "; thaw --help lists every verb)");
        return 2;
    }
    /* As thaw train: a GPU when one can be used, else the CPU; a GPU asked
     * for and not usable is one line before the screen starts. */
    ThawDevice device;
    ThawError dev_err = {0};
    if (thaw_device_from_arg(device_arg, &device, &dev_err) != 0) {
        error_line(dev_err.msg);
        return 2;
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        error_line("the workbench needs a terminal (headless: thaw train RUN.json)");
        return 2;
    }
    setlocale(LC_ALL, "");
    ThawError err = {0};
    TuiRun run;
    int rc = run_path ? tui_run_open_file(&run, run_path, out, &err)
                      : tui_run_open_default(&run, out, &err);
    RunConfig cfg;
    run_config_defaults(&cfg);
    if (rc == 0) {
        rc = run_config_parse(&cfg, run.path, run.json, &err);
    }
    if (rc != 0) {
        error_line(err.msg);
        run_config_free(&cfg);
        tui_run_free(&run);
        return 2;
    }

    static Tui t;   /* handles must outlive every callback */
    memset(&t, 0, sizeof t);
    uv_loop_init(&t.loop);
    Bus *bus = bus_open(&t.loop, on_bus_wake, &t);
    if (!bus || tui_app_init(&t.app, bus, run.json, run.path, run.out_dir) != 0) {
        error_line("out of memory starting the workbench");
        return 1;
    }
    WbState *wb = &t.app.wb;
    t.app.batch = cfg.batch;   /* model picks keep the run's batch */
    snprintf(wb->run_name, sizeof wb->run_name, "%s", run.name);
    if (device.cuda) {   /* the first snapshot brings the GPU's name */
        thaw_device_text(&device, wb->device, sizeof wb->device);
    } else {
        engine_device_text(wb->device, sizeof wb->device);
    }
    ThawError cat_err = {0};
    if (catalog_load_state(wb, &cat_err) != 0) {
        wb_log(wb, "model table: %s", cat_err.msg);
    }
    snprintf(wb->strategy_hint, sizeof wb->strategy_hint, "%s",
             strategy_hint((int)cfg.subset_per_class, 1));
    if (run.note[0]) {
        snprintf(wb->status_msg, sizeof wb->status_msg, "%.150s", run.note);
        wb_log(wb, "%s", run.note);
    }
    wb_log(wb, "%s: checkpoints in %s; t starts, ? shows the keys", run.path, run.out_dir);

    tui_make_parent_dirs(run.out_dir);
    EngineThread engine;
    memset(&engine, 0, sizeof engine);
    rc = engine_thread_start(&engine, bus, &cfg, &device, run.out_dir, &err);
    run_config_free(&cfg);
    if (rc != 0) {
        error_line(err.msg);
        bus_close(bus);
        uv_run(&t.loop, UV_RUN_DEFAULT);
        tui_app_free(&t.app);
        tui_run_free(&run);
        return 1;
    }

    curses_start(wb);
    t.keys.data = t.sig_winch.data = t.sig_int.data = t.sig_term.data = t.sig_hup.data =
        t.frame.data = &t;
    uv_poll_init(&t.loop, &t.keys, STDIN_FILENO);
    uv_poll_start(&t.keys, UV_READABLE, on_keys);
    uv_signal_init(&t.loop, &t.sig_winch);
    uv_signal_start(&t.sig_winch, on_signal, SIGWINCH);
    uv_signal_init(&t.loop, &t.sig_int);
    uv_signal_start(&t.sig_int, on_signal, SIGINT);
    uv_signal_init(&t.loop, &t.sig_term);
    uv_signal_start(&t.sig_term, on_signal, SIGTERM);
    uv_signal_init(&t.loop, &t.sig_hup);
    uv_signal_start(&t.sig_hup, on_signal, SIGHUP);
    uv_timer_init(&t.loop, &t.frame);
    uv_timer_start(&t.frame, on_frame, TUI_FRAME_MS, TUI_FRAME_MS);
    draw_now(&t);

    uv_run(&t.loop, UV_RUN_DEFAULT);

    /* Leave the terminal sane first: the join may wait for a step. */
    endwin();
    engine_thread_stop_and_join(&engine);
    bus_close(bus);   /* after the join (no more posts), before the walk */
    uv_walk(&t.loop, close_handle, NULL);
    uv_run(&t.loop, UV_RUN_DEFAULT);
    uv_loop_close(&t.loop);
    if (t.app.checkpoint[0]) {
        printf("checkpoint: %s\n", t.app.checkpoint);
    }
    if (t.app.exit_code != 0 && t.app.run_error[0]) {
        fprintf(stderr, "thaw: %s\n", t.app.run_error);
    }
    int code = t.app.exit_code;
    tui_app_free(&t.app);
    tui_run_free(&run);
    return code;
}
