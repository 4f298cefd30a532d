/* The fixture the workbench key tests share: a TuiApp on a real bus
 * without a loop. The test reads the commands the keys sent with
 * bus_poll_command and plays the engine by folding ACK / STATE / SNAPSHOT
 * events. A ResNet-like table: 6 groups (stem..layer4, head), 2 layers
 * each, stem..layer3 frozen. Include once per test file, after cmocka.h. */
#ifndef THAW_TEST_TUI_FIXTURE_H
#define THAW_TEST_TUI_FIXTURE_H

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/tui_app.h"

static const char *const GROUPS[] = {"stem", "layer1", "layer2", "layer3", "layer4", "head"};
#define N_GROUPS 6

typedef struct {
    Bus *bus;
    TuiApp app;
} Fixture;

/* A snapshot as the engine posts it: layer4 and head trainable, 2 layers
 * per group. */
static inline void fold_snapshot(TuiApp *app, const int *frozen)
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
        groups[g].trainable_params = frozen[g] ? 0 : groups[g].params;
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

static inline void fold_state(TuiApp *app, BusState st)
{
    BusEvent ev = {.kind = BUS_EV_STATE, .state = st, .msg = ""};
    tui_fold_event(app, &ev);
}

static inline void fold_ack(TuiApp *app, const BusCommand *cmd, int ok, const char *msg)
{
    BusEvent ev = {.kind = BUS_EV_ACK, .cmd_id = cmd->id, .cmd_kind = cmd->kind, .ok = ok,
                   .msg = (char *)msg};
    tui_fold_event(app, &ev);
}

static inline void key(TuiApp *app, int ch)
{
    tui_handle_key(app, ch, 0);
}

static inline void keys(TuiApp *app, const char *text)
{
    for (const char *p = text; *p; p++) {
        key(app, (unsigned char)*p);
    }
}

/* The next command the keys sent; fails when there is none. */
static inline BusCommand next_cmd(Fixture *f)
{
    BusCommand cmd;
    assert_int_equal(bus_poll_command(f->bus, &cmd), 1);
    return cmd;
}

static inline void no_cmd(Fixture *f)
{
    BusCommand cmd;
    int got = bus_poll_command(f->bus, &cmd);
    if (got) {
        fail_msg("unexpected command %s", bus_command_name(cmd.kind));
    }
}

static inline int setup(void **state)
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

static inline int teardown(void **state)
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

#endif
