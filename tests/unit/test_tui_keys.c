/* The workbench's key handling and event folding as pure functions: a real
 * bus without a loop (the test reads the commands the keys sent with
 * bus_poll_command and plays the engine by folding ACK / STATE / SNAPSHOT
 * events; test_tui_fixture.h). Checks the "pending" marks from key to ACK,
 * refused commands, f / u on groups, the lr edit (the pre-filled value is
 * replaced by typing, Backspace edits it, bad value, Esc, untouched Enter), t (also
 * pressed while loading), the quit question, signals, merged STEP events, the
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

#include "test_tui_fixture.h"

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

/* The field opens with the current lr, selected: the first character typed
 * replaces it (typing 1e-4 over "1e-3" must not give "1e-31e-4", nor
 * 0.0011e-4 = 1.1e-7 as it once did), Backspace edits the shown value, and
 * an untouched Enter changes nothing. */
static void test_lr_edit_replaces_prefilled_value(void **state)
{
    Fixture *f = *state;
    WbState *s = &f->app.wb;
    s->focus = WB_PANE_GROUPS;
    wb_move_to(s, 4);   /* layer4, lr 1e-3 */
    key(&f->app, 'e');
    assert_string_equal(s->lr_edit, "1e-3");
    assert_int_equal(s->lr_edit_fresh, 1);
    keys(&f->app, "1e-4");
    assert_string_equal(s->lr_edit, "1e-4");
    key(&f->app, '\n');
    BusCommand cmd = next_cmd(f);
    assert_int_equal(cmd.kind, BUS_CMD_SET_LR);
    assert_string_equal(cmd.group, "layer4");
    assert_true(cmd.lr == 1e-4);   /* exactly what was typed */
    fold_ack(&f->app, &cmd, 1, "");
    bus_command_free(&cmd);

    /* Backspace keeps the value and edits it: "1e-4" -> "1e-" -> "1e-5" */
    key(&f->app, 'e');
    assert_string_equal(s->lr_edit, "1e-4");
    tui_handle_key(&f->app, KEY_BACKSPACE, 1);
    assert_string_equal(s->lr_edit, "1e-");
    assert_int_equal(s->lr_edit_fresh, 0);
    keys(&f->app, "5\n");
    cmd = next_cmd(f);
    assert_true(cmd.lr == 1e-5);
    fold_ack(&f->app, &cmd, 1, "");
    bus_command_free(&cmd);

    /* an arrow key also keeps the text: typing appends */
    key(&f->app, 'e');
    tui_handle_key(&f->app, KEY_END, 1);
    keys(&f->app, "0");
    assert_string_equal(s->lr_edit, "1e-50");
    key(&f->app, 27);
    no_cmd(f);

    /* Enter on the untouched value: nothing sent, the field closes */
    key(&f->app, 'e');
    key(&f->app, '\n');
    assert_int_equal(s->lr_editing, 0);
    no_cmd(f);
    assert_true(s->groups[4].base_lr == 1e-5);
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

/* t while the model is still loading is remembered and sent once the
 * engine says READY (t again cancels it); a load that ends in an error
 * drops it. */
static void test_start_while_loading(void **state)
{
    Fixture *f = *state;
    WbState *s = &f->app.wb;
    fold_state(&f->app, BUS_STATE_LOADING);
    key(&f->app, 't');
    no_cmd(f);
    assert_non_null(strstr(s->status_msg, "starts once it is ready"));
    fold_state(&f->app, BUS_STATE_READY);
    BusCommand cmd = next_cmd(f);
    assert_int_equal(cmd.kind, BUS_CMD_START);
    assert_non_null(strstr(s->status_msg, "start sent"));
    bus_command_free(&cmd);
    no_cmd(f);
    /* t t: cancelled */
    fold_state(&f->app, BUS_STATE_LOADING);
    key(&f->app, 't');
    key(&f->app, 't');
    assert_string_equal(s->status_msg, "start cancelled");
    fold_state(&f->app, BUS_STATE_READY);
    no_cmd(f);
    /* a failed load drops it: no START after the error either */
    fold_state(&f->app, BUS_STATE_LOADING);
    key(&f->app, 't');
    fold_state(&f->app, BUS_STATE_ERROR);
    assert_int_equal(f->app.start_queued, 0);
    fold_state(&f->app, BUS_STATE_READY);
    no_cmd(f);
}

/* A state event's message goes to the log (and, for the end of a run, the
 * status line); a RUNNING state without a message logs nothing. */
static void test_state_messages_logged(void **state)
{
    Fixture *f = *state;
    int before = f->app.wb.log_count;
    BusEvent running = {.kind = BUS_EV_STATE, .state = BUS_STATE_RUNNING, .msg = NULL};
    tui_fold_event(&f->app, &running);
    assert_int_equal(f->app.wb.log_count, before);
    BusEvent done = {.kind = BUS_EV_STATE, .state = BUS_STATE_DONE,
                     .msg = (char *)"finished 3 epochs: runs/run/epoch-003.safetensors"};
    tui_fold_event(&f->app, &done);
    const char *last = wb_log_line(&f->app.wb, f->app.wb.log_count - 1);
    assert_non_null(strstr(last, "finished 3 epochs: runs/run/epoch-003.safetensors"));
    assert_non_null(strstr(f->app.wb.status_msg, "finished 3 epochs"));
}

/* q y and the checkpoint cannot be written: leave, but with exit 1 and
 * the reason kept for the restored terminal. */
static void test_quit_save_failure_exits_1(void **state)
{
    Fixture *f = *state;
    fold_state(&f->app, BUS_STATE_RUNNING);
    key(&f->app, 'q');
    key(&f->app, 'y');
    BusCommand cmd = next_cmd(f);
    assert_int_equal(cmd.kind, BUS_CMD_STOP_SAVE);
    fold_ack(&f->app, &cmd, 0, "out/interrupted.safetensors: No space left on device");
    assert_int_equal(f->app.quit, TUI_QUIT_NOW);
    assert_int_equal(f->app.exit_code, 1);
    assert_string_equal(f->app.run_error,
                        "checkpoint not written: out/interrupted.safetensors: No space left "
                        "on device");
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

/* Picking a model while a run is going would end it unsaved: asked first;
 * only y switches. */
static void test_pick_while_running_asks(void **state)
{
    Fixture *f = *state;
    WbState *s = &f->app.wb;
    s->n_catalog = 1;
    memset(s->catalog, 0, sizeof s->catalog);
    snprintf(s->catalog[0].name, sizeof s->catalog[0].name, "ResNet-50");
    snprintf(s->catalog[0].arch, sizeof s->catalog[0].arch, "resnet50");
    s->catalog[0].supported = 1;
    fold_state(&f->app, BUS_STATE_RUNNING);
    key(&f->app, 'm');
    key(&f->app, '\n');
    assert_int_equal(s->pick_confirm, 1);
    no_cmd(f);
    key(&f->app, 'n');   /* keeps the run */
    assert_int_equal(s->pick_confirm, 0);
    assert_int_equal(s->screen, WB_SCREEN_MODELS);
    no_cmd(f);
    key(&f->app, '\n');
    key(&f->app, 'y');
    BusCommand cmd = next_cmd(f);
    assert_int_equal(cmd.kind, BUS_CMD_REBUILD);
    assert_non_null(strstr(cmd.run_json, "\"resnet50\""));
    bus_command_free(&cmd);
    assert_int_equal(s->screen, WB_SCREEN_MAIN);
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
        cmocka_unit_test_setup_teardown(test_freeze_up_to_and_unfreeze_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lr_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lr_edit_replaces_prefilled_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_pause_and_quit_question, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_while_loading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quit_when_nothing_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_saves_then_exits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_signal_exits_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merged_steps_reach_the_curve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help_and_model_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pick_while_running_asks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_messages_logged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quit_save_failure_exits_1, setup, teardown),
        cmocka_unit_test(test_run_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
