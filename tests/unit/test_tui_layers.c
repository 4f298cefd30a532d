/* Freezing single layers from the workbench (the engine's
 * SET_LAYER_FROZEN): Space on a layer row sends that layer alone, marked
 * pending on the layer and its group until the ACK; a partly frozen group
 * shows [-] from the engine's snapshot and Space on it freezes all of it;
 * f on a layer row freezes the groups before it and its group's layers up
 * to it. Also: the layers and lr groups panes keep the same group selected. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_tui_fixture.h"

/* Expands group g in the layers pane and selects its k-th layer. */
static void select_layer(Fixture *f, int g, int k)
{
    WbState *s = &f->app.wb;
    s->focus = WB_PANE_LAYERS;
    wb_move_to(s, g);   /* every group collapsed: row g is its header */
    tui_handle_key(&f->app, KEY_RIGHT, 1);
    assert_int_equal(s->groups[g].expanded, 1);
    for (int i = 0; i <= k; i++) {
        key(&f->app, 'j');
    }
    assert_int_equal(wb_selected_layer(s), 2 * g + k);
}

static void test_space_on_layer_freezes_that_layer(void **state)
{
    Fixture *f = *state;
    WbState *s = &f->app.wb;
    select_layer(f, 4, 1);   /* layer4.1, trainable */
    key(&f->app, ' ');
    BusCommand cmd = next_cmd(f);
    assert_int_equal(cmd.kind, BUS_CMD_SET_LAYER_FROZEN);
    assert_string_equal(cmd.layer, "layer4.1");
    assert_int_equal(cmd.frozen, 1);
    no_cmd(f);
    assert_int_equal(s->layers[9].pending, 1);
    assert_int_equal(s->layers[8].pending, 0);
    assert_int_equal(s->groups[4].pending, 1);
    assert_int_equal(s->layers[9].frozen, 0);   /* not before the engine says so */

    int marks = s->n_marks;
    fold_ack(&f->app, &cmd, 1, "");
    bus_command_free(&cmd);
    assert_int_equal(s->layers[9].frozen, 1);
    assert_int_equal(s->layers[9].pending, 0);
    assert_int_equal(s->groups[4].pending, 0);
    assert_int_equal(s->n_marks, marks + 1);   /* the curve marks the change */

    /* the engine's snapshot: layer4 partly frozen, half its weights train */
    BusEvent ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = BUS_EV_SNAPSHOT;
    BusSnapGroup g[1] = {{.name = "layer4", .partial = 1, .params = 5000,
                          .trainable_params = 2500, .base_lr = 1e-3, .lr = 1e-3}};
    BusSnapLayer l[2] = {{.name = "layer4.0", .group = 0, .params = 2500},
                         {.name = "layer4.1", .group = 0, .params = 2500, .frozen = 1}};
    ev.snapshot.groups = g;
    ev.snapshot.layers = l;
    ev.snapshot.n_groups = 1;
    ev.snapshot.n_layers = 2;
    tui_fold_event(&f->app, &ev);
    assert_int_equal(s->groups[0].partial, 1);
    assert_int_equal(s->groups[0].frozen, 0);
    assert_int_equal(s->groups[0].trainable_params, 2500);

    /* Space on the partly frozen group's row freezes all of it */
    s->focus = WB_PANE_LAYERS;
    wb_move_to(s, 0);
    assert_int_equal(wb_selected_layer(s), -1);
    key(&f->app, ' ');
    cmd = next_cmd(f);
    assert_int_equal(cmd.kind, BUS_CMD_SET_FROZEN);
    assert_string_equal(cmd.group, "layer4");
    assert_int_equal(cmd.frozen, 1);
    fold_ack(&f->app, &cmd, 1, "");
    bus_command_free(&cmd);
    assert_int_equal(s->groups[0].partial, 0);
    assert_int_equal(s->groups[0].frozen, 1);
    assert_int_equal(s->layers[0].frozen, 1);
}

/* A refused layer command (say, a name the engine does not know) changes
 * nothing and says why. */
static void test_layer_refused(void **state)
{
    Fixture *f = *state;
    WbState *s = &f->app.wb;
    select_layer(f, 4, 0);
    key(&f->app, ' ');
    BusCommand cmd = next_cmd(f);
    fold_ack(&f->app, &cmd, 0, "no layer 'layer4.0' in resnet18");
    bus_command_free(&cmd);
    assert_int_equal(s->layers[8].frozen, 0);
    assert_int_equal(s->layers[8].pending, 0);
    assert_non_null(strstr(s->status_msg, "no layer"));
}

/* f on a layer row: the groups before it whole (stem..layer3 are frozen
 * already, layer4 not), then the selected group's layers up to the row. */
static void test_f_on_layer_row(void **state)
{
    Fixture *f = *state;
    select_layer(f, 5, 0);   /* head's first layer; layer4 trains */
    key(&f->app, 'f');
    BusCommand cmd = next_cmd(f);
    assert_int_equal(cmd.kind, BUS_CMD_SET_FROZEN);
    assert_string_equal(cmd.group, "layer4");
    assert_int_equal(cmd.frozen, 1);
    bus_command_free(&cmd);
    cmd = next_cmd(f);
    assert_int_equal(cmd.kind, BUS_CMD_SET_LAYER_FROZEN);
    assert_string_equal(cmd.layer, "head.0");
    assert_int_equal(cmd.frozen, 1);
    bus_command_free(&cmd);
    no_cmd(f);   /* head.1, after the selection, keeps training */
}

/* The lr pane follows the group of the layers pane's selection (so it
 * scrolls there and e edits what both panes show), and back. */
static void test_panes_follow_the_group(void **state)
{
    Fixture *f = *state;
    WbState *s = &f->app.wb;
    select_layer(f, 3, 1);
    assert_int_equal(s->selected[WB_PANE_GROUPS], 3);
    key(&f->app, 'G');   /* the last row: head */
    assert_int_equal(s->selected[WB_PANE_GROUPS], 5);
    key(&f->app, '\t');   /* to the lr groups pane, on head */
    assert_int_equal(wb_selected_group(s), 5);
    key(&f->app, 'g');    /* stem: the layers pane goes to stem's header */
    assert_int_equal(s->selected[WB_PANE_LAYERS], 0);
    key(&f->app, 'j');
    key(&f->app, 'j');
    key(&f->app, 'j');    /* layer3 (expanded, 2 layers above layer4) */
    assert_int_equal(s->selected[WB_PANE_LAYERS], 3);
    /* editing from the layers pane anchors the lr pane on that group */
    key(&f->app, '\t');
    key(&f->app, '\t');   /* curves, then layers */
    assert_int_equal(s->focus, WB_PANE_LAYERS);
    wb_move_to(s, -1);
    key(&f->app, 'e');
    assert_int_equal(s->lr_editing, 1);
    assert_int_equal(wb_groups_anchor(s), 5);
    key(&f->app, 27);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_space_on_layer_freezes_that_layer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_layer_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_f_on_layer_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_panes_follow_the_group, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
