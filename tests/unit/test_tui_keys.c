/* The workbench's key handling and event folding as pure functions: a real
 * bus without a loop (the test reads the commands the keys sent with
 * bus_poll_command and plays the engine by folding ACK / STATE / SNAPSHOT
 * events). Checks the "pending" marks from key to ACK, refused commands,
 * freeze of a layer row going to its group, f / u, the lr edit (good value,
 * bad value, Esc), t, the quit question, signals, merged STEP events, the
 * help overlay and the model table, and the run-text helpers. */
#include <curses.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/tui_app.h"
#include "app/tui_run.h"
#include "engine/run/run_config.h"

static const char *const GROUPS[] = {"stem", "layer1", "layer2", "layer3", "layer4", "head"};
#define N_GROUPS 6

typedef struct {
    Bus *bus;
    TuiApp app;
} Fixture;

/* A snapshot as the engine posts it: layer4 and head trainable, 2 layers
 * per group. */
static void fold_snapshot(TuiApp *app, const int *frozen)
{
    BusEvent ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = BUS_EV_SNAPSHOT;
    BusSnapGroup groups[N_GROUPS];
    BusSnapLayer layers[N_GROUPS * 2];
    memset(groups, 0, sizeof groups);
    memset(layers, 0, sizeof layers);
    for (int g = 0; g < N_GROUPS; g++) {
        snprintf(groups[g].name, sizeof groups[g].name, "%s", GROUPS[g]);
        groups[g].frozen = frozen[g];
        groups[g].base_lr = groups[g].lr = 1e-3;
        groups[g].params = 1000 * (g + 1);
        for (int k = 0; k < 2; k++) {
            BusSnapLayer *l = &layers[2 * g + k];
            snprintf(l->name, sizeof l->name, "%s.%d", GROUPS[g], k);
            l->group = g;
            l->out_h = l->out_w = 4;
            l->out_c = 64;
            l->params = 500 * (g + 1);
            l->frozen = frozen[g];
        }
    }
    ev.snapshot.n_groups = N_GROUPS;
    ev.snapshot.n_layers = N_GROUPS * 2;
    ev.snapshot.groups = groups;
    ev.snapshot.layers = layers;
    ev.snapshot.epochs = 10;
    ev.snapshot.epoch = 1;
    tui_fold_event(app, &ev);
}

static void fold_state(TuiApp *app, BusState st)
{
    BusEvent ev = {.kind = BUS_EV_STATE, .state = st, .msg = ""};
    tui_fold_event(app, &ev);
}

static void fold_ack(TuiApp *app, const BusCommand *cmd, int ok, const char *msg)
{
    BusEvent ev = {.kind = BUS_EV_ACK, .cmd_id = cmd->id, .cmd_kind = cmd->kind, .ok = ok,
                   .msg = (char *)msg};
    tui_fold_event(app, &ev);
}

static void key(TuiApp *app, int ch)
{
    tui_handle_key(app, ch, 0);
}

static void keys(TuiApp *app, const char *text)
{
    for (const char *p = text; *p; p++) {
        key(app, (unsigned char)*p);
    }
}

/* The next command the keys sent; fails when there is none. */
static BusCommand next_cmd(Fixture *f)
{
    BusCommand cmd;
    assert_int_equal(bus_poll_command(f->bus, &cmd), 1);
    return cmd;
}

static void no_cmd(Fixture *f)
{
    BusCommand cmd;
    int got = bus_poll_command(f->bus, &cmd);
    if (got) {
        fail_msg("unexpected command %s", bus_command_name(cmd.kind));
    }
}

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof *f);
    f->bus = bus_open(NULL, NULL, NULL);
    assert_non_null(f->bus);
    assert_int_equal(tui_app_init(&f->app, f->bus, "{\"model\":{\"arch\":\"resnet18\"}}",
                                  "run.json", "runs/run"), 0);
    static const int frozen[N_GROUPS] = {1, 1, 1, 1, 0, 0};
    fold_snapshot(&f->app, frozen);
    fold_state(&f->app, BUS_STATE_READY);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    BusCommand cmd;
    while (bus_poll_command(f->bus, &cmd)) {
        bus_command_free(&cmd);
    }
    tui_app_free(&f->app);
    bus_close(f->bus);
    free(f);
    return 0;
}

static void test_snapshot_fills_tables(void **state)
{
    Fixture *f = *state;
    WbState *s = &f->app.wb;
    assert_int_equal(s->n_groups, N_GROUPS);
    assert_int_equal(s->n_layers, N_GROUPS * 2);
    assert_string_equal(s->groups[4].name, "layer4");
    assert_int_equal(s->groups[0].trainable_params, 0);
    assert_int_equal(s->groups[4].trainable_params, 5000);
    assert_string_equal(s->layers[9].shape, "4x4x64");
    assert_int_equal(s->job, WB_JOB_READY);
}

/* A group without weights is not shown; layers keep pointing at their own
 * group after the shift. */
static void test_snapshot_hides_empty_groups(void **state)
{
    Fixture *f = *state;
    BusSnapGroup groups[2];
    BusSnapLayer layers[1];
    memset(groups, 0, sizeof groups);
    memset(layers, 0, sizeof layers);
    snprintf(groups[0].name, sizeof groups[0].name, "default");
    snprintf(groups[1].name, sizeof groups[1].name, "head");
    groups[1].params = 5130;
    snprintf(layers[0].name, sizeof layers[0].name, "fc");
    layers[0].group = 1;
    layers[0].params = 5130;
    BusEvent ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = BUS_EV_SNAPSHOT;
    ev.snapshot.n_groups = 2;
    ev.snapshot.n_layers = 1;
    ev.snapshot.groups = groups;
    ev.snapshot.layers = layers;
    snprintf(ev.snapshot.device, sizeof ev.snapshot.device, "CPU, 7 threads");
    tui_fold_event(&f->app, &ev);
    assert_int_equal(f->app.wb.n_groups, 1);
    assert_string_equal(f->app.wb.groups[0].name, "head");
    assert_int_equal(f->app.wb.n_layers, 1);
    assert_int_equal(f->app.wb.layers[0].group, 0);
    assert_string_equal(f->app.wb.device, "CPU, 7 threads");
}

static void test_space_pending_until_ack(void **state)
{
    Fixture *f = *state;
    WbState *s = &f->app.wb;
    s->focus = WB_PANE_LAYERS;
    wb_move_to(s, 4);   /* layer4's header (groups collapsed) */
    assert_int_equal(wb_selected_group(s), 4);
    key(&f->app, ' ');
    assert_int_equal(s->groups[4].pending, 1);
    assert_int_equal(s->groups[4].frozen, 0);   /* not before the engine says so */
    BusCommand cmd = next_cmd(f);
    assert_int_equal(cmd.kind, BUS_CMD_SET_FROZEN);
    assert_string_equal(cmd.group, "layer4");
    assert_int_equal(cmd.frozen, 1);
    no_cmd(f);
    fold_ack(&f->app, &cmd, 1, "");
    assert_int_equal(s->groups[4].pending, 0);
    assert_int_equal(s->groups[4].frozen, 1);
    assert_int_equal(s->groups[4].trainable_params, 0);
    assert_int_equal(s->n_marks, 1);
    bus_command_free(&cmd);
}

static void test_refused_command_keeps_state(void **state)
{
    Fixture *f = *state;
    WbState *s = &f->app.wb;
    s->focus = WB_PANE_LAYERS;
    wb_move_to(s, 0);
    key(&f->app, ' ');
    BusCommand cmd = next_cmd(f);
    assert_int_equal(cmd.frozen, 0);   /* stem was frozen: thaw it */
    fold_ack(&f->app, &cmd, 0, "no such group");
    assert_int_equal(s->groups[0].pending, 0);
    assert_int_equal(s->groups[0].frozen, 1);
    assert_non_null(strstr(s->status_msg, "no such group"));
    bus_command_free(&cmd);
}

static void test_space_on_layer_toggles_its_group(void **state)
{
    Fixture *f = *state;
    WbState *s = &f->app.wb;
    s->focus = WB_PANE_LAYERS;
    wb_move_to(s, 3);
    tui_handle_key(&f->app, KEY_RIGHT, 1);   /* expand layer3 */
    assert_int_equal(s->groups[3].expanded, 1);
    key(&f->app, 'j');                        /* its first layer */
    assert_int_equal(wb_selected_layer(s), 6);
    key(&f->app, ' ');
    BusCommand cmd = next_cmd(f);
    assert_string_equal(cmd.group, "layer3");
    assert_int_equal(cmd.frozen, 0);
    const char *last = wb_log_line(s, s->log_count - 1);
    assert_non_null(last);
    assert_non_null(strstr(last, "per group"));
    bus_command_free(&cmd);
}

static void test_freeze_up_to_and_unfreeze_all(void **state)
{
    Fixture *f = *state;
    WbState *s = &f->app.wb;
    s->focus = WB_PANE_LAYERS;
    wb_move_to(s, 4);
    key(&f->app, 'f');   /* only layer4 is unfrozen among stem..layer4 */
    BusCommand cmd = next_cmd(f);
    assert_string_equal(cmd.group, "layer4");
    assert_int_equal(cmd.frozen, 1);
    bus_command_free(&cmd);
    no_cmd(f);
    key(&f->app, 'u');   /* stem..layer3 are frozen */
    for (int g = 0; g < 4; g++) {
        cmd = next_cmd(f);
        assert_string_equal(cmd.group, GROUPS[g]);
        assert_int_equal(cmd.frozen, 0);
        bus_command_free(&cmd);
        assert_int_equal(s->groups[g].pending, 1);
    }
    no_cmd(f);
}

static void test_lr_edit(void **state)
{
    Fixture *f = *state;
    WbState *s = &f->app.wb;
    s->focus = WB_PANE_LAYERS;
    wb_move_to(s, 5);   /* head */
    key(&f->app, 'e');
    assert_int_equal(s->lr_editing, 1);
    key(&f->app, 21);   /* Ctrl-U clears the field */
    keys(&f->app, "abc\n");
    assert_int_equal(s->lr_editing, 1);   /* a bad value stays in the field */
    assert_true(strlen(s->status_msg) > 0);
    no_cmd(f);
    for (int i = 0; i < 3; i++) {
        tui_handle_key(&f->app, KEY_BACKSPACE, 1);
    }
    keys(&f->app, "1e-4\n");
    assert_int_equal(s->lr_editing, 0);
    BusCommand cmd = next_cmd(f);
    assert_int_equal(cmd.kind, BUS_CMD_SET_LR);
    assert_string_equal(cmd.group, "head");
    assert_true(fabs(cmd.lr - 1e-4) < 1e-12);
    assert_int_equal(s->groups[5].pending, 1);
    fold_ack(&f->app, &cmd, 1, "");
    assert_true(fabs(s->groups[5].base_lr - 1e-4) < 1e-12);
    assert_int_equal(s->groups[5].pending, 0);
    bus_command_free(&cmd);
    key(&f->app, 'e');
    keys(&f->app, "5");
    key(&f->app, 27);   /* Esc cancels */
    assert_int_equal(s->lr_editing, 0);
    no_cmd(f);
}

static void test_start_pause_and_quit_question(void **state)
{
    Fixture *f = *state;
    WbState *s = &f->app.wb;
    key(&f->app, 't');
    BusCommand cmd = next_cmd(f);
    assert_int_equal(cmd.kind, BUS_CMD_START);
    fold_ack(&f->app, &cmd, 1, "");
    bus_command_free(&cmd);
    fold_state(&f->app, BUS_STATE_RUNNING);
    key(&f->app, 't');
    cmd = next_cmd(f);
    assert_int_equal(cmd.kind, BUS_CMD_PAUSE);
    bus_command_free(&cmd);
    key(&f->app, 'q');
    assert_int_equal(s->quit_confirm, 1);
    key(&f->app, 'n');
    assert_int_equal(s->quit_confirm, 0);
    assert_int_equal(f->app.quit, TUI_RUN_ON);
    no_cmd(f);
    key(&f->app, 'q');
    key(&f->app, 'y');
    cmd = next_cmd(f);
    assert_int_equal(cmd.kind, BUS_CMD_STOP_SAVE);
    assert_int_equal(f->app.quit, TUI_QUIT_SAVING);
    key(&f->app, ' ');   /* keys no longer apply while saving to quit */
    no_cmd(f);
    fold_ack(&f->app, &cmd, 1, "runs/run/interrupted.safetensors");
    fold_state(&f->app, BUS_STATE_DONE);
    assert_int_equal(f->app.quit, TUI_QUIT_NOW);
    assert_int_equal(f->app.exit_code, 0);
    assert_string_equal(f->app.checkpoint, "runs/run/interrupted.safetensors");
    bus_command_free(&cmd);
}

static void test_quit_when_nothing_runs(void **state)
{
    Fixture *f = *state;
    key(&f->app, 'q');
    assert_int_equal(f->app.quit, TUI_QUIT_NOW);
    assert_int_equal(f->app.exit_code, 0);
    no_cmd(f);
}

static void test_signal_saves_then_exits(void **state)
{
    Fixture *f = *state;
    fold_state(&f->app, BUS_STATE_RUNNING);
    tui_request_exit(&f->app, 1);   /* SIGHUP */
    BusCommand cmd = next_cmd(f);
    assert_int_equal(cmd.kind, BUS_CMD_STOP_SAVE);
    assert_int_equal(f->app.quit, TUI_QUIT_SAVING);
    fold_state(&f->app, BUS_STATE_STOPPING);
    assert_int_equal(f->app.quit, TUI_QUIT_SAVING);
    fold_state(&f->app, BUS_STATE_DONE);
    assert_int_equal(f->app.quit, TUI_QUIT_NOW);
    assert_int_equal(f->app.exit_code, 129);
    bus_command_free(&cmd);
}

static void test_second_signal_exits_at_once(void **state)
{
    Fixture *f = *state;
    fold_state(&f->app, BUS_STATE_RUNNING);
    tui_request_exit(&f->app, 2);
    tui_request_exit(&f->app, 2);
    assert_int_equal(f->app.quit, TUI_QUIT_NOW);
    assert_int_equal(f->app.exit_code, 130);
}

static void test_merged_steps_reach_the_curve(void **state)
{
    Fixture *f = *state;
    int64_t steps[3] = {1, 2, 3};
    double losses[3] = {2.5, 2.0, 1.5};
    BusEvent ev = {.kind = BUS_EV_STEP, .epoch = 1, .epochs = 10, .step = 3,
                   .total_steps = 50, .loss = 1.5, .n_losses = 3, .steps = steps,
                   .losses = losses, .eta_s = 12.0};
    tui_fold_event(&f->app, &ev);
    assert_int_equal(f->app.wb.train_loss.n, 3);
    assert_int_equal(f->app.wb.step, 3);
    assert_true(f->app.dirty);
}

static void test_help_and_model_table(void **state)
{
    Fixture *f = *state;
    WbState *s = &f->app.wb;
    key(&f->app, '?');
    assert_int_equal(s->help, 1);
    key(&f->app, 'q');   /* any key closes help, and does nothing else */
    assert_int_equal(s->help, 0);
    assert_int_equal(f->app.quit, TUI_RUN_ON);
    s->n_catalog = 2;
    memset(s->catalog, 0, sizeof s->catalog);
    snprintf(s->catalog[0].name, sizeof s->catalog[0].name, "YOLO v10");
    snprintf(s->catalog[0].task, sizeof s->catalog[0].task, "object detection");
    snprintf(s->catalog[1].name, sizeof s->catalog[1].name, "ResNet-50");
    snprintf(s->catalog[1].arch, sizeof s->catalog[1].arch, "resnet50");
    snprintf(s->catalog[1].weights, sizeof s->catalog[1].weights, "no-such-file.pth");
    s->catalog[1].supported = 1;
    key(&f->app, 'm');
    assert_int_equal(s->screen, WB_SCREEN_MODELS);
    key(&f->app, '\n');
    assert_non_null(strstr(s->status_msg, "not supported yet"));
    no_cmd(f);
    key(&f->app, 27);
    assert_int_equal(s->screen, WB_SCREEN_MAIN);
    key(&f->app, 'm');
    key(&f->app, 'j');
    key(&f->app, '\n');
    BusCommand cmd = next_cmd(f);
    assert_int_equal(cmd.kind, BUS_CMD_REBUILD);
    assert_non_null(strstr(cmd.run_json, "\"resnet50\""));
    assert_null(strstr(cmd.run_json, "weights"));   /* missing file: random init */
    assert_string_equal(cmd.out_dir, "runs/run-resnet50");
    assert_int_equal(s->screen, WB_SCREEN_MAIN);
    bus_command_free(&cmd);
}

static void test_run_text(void **state)
{
    (void)state;
    char *out = NULL;
    ThawError err = {0};
    assert_int_equal(tui_run_with_model("{\"model\":{\"arch\":\"resnet18\",\"weights\":\"a.pth\","
                                        "\"head\":\"mlp\"},\"epochs\":2}",
                                        "efficientnet_lite0", "/w/e.pth", &out, &err), 0);
    assert_non_null(strstr(out, "\"efficientnet_lite0\""));
    assert_non_null(strstr(out, "\"/w/e.pth\""));
    assert_non_null(strstr(out, "\"mlp\""));
    assert_null(strstr(out, "a.pth"));
    free(out);
    assert_int_not_equal(tui_run_with_model("[1]", "resnet18", NULL, &out, &err), 0);
    assert_null(out);

    /* The compiled-in default run is a valid run file. */
    RunConfig cfg;
    run_config_defaults(&cfg);
    int rc = run_config_parse(&cfg, "default.json", tui_default_run_text(), &err);
    if (rc != 0) {
        fail_msg("%s", err.msg);
    }
    assert_string_equal(cfg.arch, "efficientnet_lite0");
    run_config_free(&cfg);

    setenv("THAW_CACHE", "/nonexistent-thaw-cache", 1);
    TuiRun run;
    assert_int_equal(tui_run_open_default(&run, NULL, &err), 0);
    assert_non_null(strstr(run.note, "bash quickstart.sh run"));
    assert_null(strstr(run.json, "weights"));
    assert_string_equal(run.out_dir, "runs/default");
    tui_run_free(&run);
    unsetenv("THAW_CACHE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_snapshot_fills_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_hides_empty_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_space_pending_until_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_command_keeps_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_space_on_layer_toggles_its_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_freeze_up_to_and_unfreeze_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lr_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_pause_and_quit_question, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quit_when_nothing_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_saves_then_exits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_signal_exits_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merged_steps_reach_the_curve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help_and_model_table, setup, teardown),
        cmocka_unit_test(test_run_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
