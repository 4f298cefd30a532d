/* Keys of the workbench (DESIGN.md, "The screen"). Each key changes the
 * view state at once and sends its command; the target shows "pending"
 * until the engine's ACK, so nothing here waits on the engine. */
#include <ctype.h>
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "app/tui_app.h"
#include "app/tui_model_pick.h"
#include "views/draw_util.h"
#include "views/lr_input.h"

#define KEY_ESC 27
#define KEY_CTRL(c) ((c) & 0x1f)

static void say(TuiApp *app, const char *msg)
{
    snprintf(app->wb.status_msg, sizeof app->wb.status_msg, "%s", msg);
}

void tui_request_exit(TuiApp *app, int sig)
{
    app->dirty = 1;
    app->exit_code = 128 + sig;
    if (app->quit == TUI_QUIT_SAVING || !tui_run_is_going(app) || app->engine_exited) {
        app->quit = TUI_QUIT_NOW;   /* second signal, or nothing to save */
        return;
    }
    app->wb.quit_confirm = 0;
    app->wb.pick_confirm = 0;
    app->wb.lr_editing = 0;
    if (tui_send_simple(app, BUS_CMD_STOP_SAVE)) {
        app->quit = TUI_QUIT_SAVING;
        say(app, "saving a checkpoint, then quitting...");
    } else {
        app->quit = TUI_QUIT_NOW;
    }
}

static void quit_saving(TuiApp *app)
{
    app->wb.quit_confirm = 0;
    app->exit_code = 0;
    if (tui_send_simple(app, BUS_CMD_STOP_SAVE)) {
        app->quit = TUI_QUIT_SAVING;
        say(app, "saving a checkpoint, then quitting...");
    } else {
        app->quit = TUI_QUIT_NOW;
    }
}

/* Space: a group row toggles the group, a layer row that layer alone (the
 * engine freezes modules independently of their group). */
static void toggle_freeze(TuiApp *app)
{
    int g = wb_selected_group(&app->wb);
    if (g < 0) {
        return;
    }
    int layer = app->wb.focus == WB_PANE_LAYERS ? wb_selected_layer(&app->wb) : -1;
    if (layer >= 0) {
        tui_send_layer_frozen(app, layer, !app->wb.layers[layer].frozen);
        return;
    }
    const WbGroup *grp = &app->wb.groups[g];
    /* a partly frozen group is not frozen: Space freezes all of it */
    tui_send_frozen(app, g, !grp->frozen);
}

/* f: freeze everything from the first group up to the selection: whole
 * groups before it; on a group row that group too, on a layer row its
 * group's layers up to and including the selected one. */
static void freeze_up_to(TuiApp *app)
{
    WbState *s = &app->wb;
    int sel = wb_selected_group(s);
    int sel_layer = s->focus == WB_PANE_LAYERS ? wb_selected_layer(s) : -1;
    int sent = 0;
    for (int g = 0; g <= sel; g++) {
        if (g == sel && sel_layer >= 0) {
            break;
        }
        if (!s->groups[g].frozen) {
            tui_send_frozen(app, g, 1);
            sent++;
        }
    }
    for (int l = 0; sel_layer >= 0 && l <= sel_layer; l++) {
        if (s->layers[l].group == sel && !s->layers[l].frozen) {
            tui_send_layer_frozen(app, l, 1);
            sent++;
        }
    }
    if (sel >= 0 && sent == 0) {
        say(app, "already frozen up to the selection");
    }
}

static void unfreeze_all(TuiApp *app)
{
    for (int g = 0; g < app->wb.n_groups; g++) {
        if (app->wb.groups[g].frozen) {
            tui_send_frozen(app, g, 0);
        }
    }
}

static void start_or_pause(TuiApp *app)
{
    switch (app->wb.job) {
    case WB_JOB_READY:
    case WB_JOB_PAUSED:
    case WB_JOB_ERROR:
        if (tui_send_simple(app, BUS_CMD_START)) {
            say(app, "start sent (pending)");
        }
        break;
    case WB_JOB_RUNNING:
        if (tui_send_simple(app, BUS_CMD_PAUSE)) {
            say(app, "pause sent: holds after this step (pending)");
        }
        break;
    case WB_JOB_DONE:
        /* Not re-run over its own checkpoints (the engine refuses too). */
        say(app, "the run has ended; m picks a model for a new run");
        break;
    case WB_JOB_LOADING:
        /* The first key of a session often comes before the model is
         * built (a GPU run takes seconds to open): remember it. */
        app->start_queued = !app->start_queued;
        say(app, app->start_queued ? "loading: training starts once it is ready (t cancels)"
                                   : "start cancelled");
        break;
    default:
        say(app, "the engine is busy (loading or stopping)");
        break;
    }
}

static void start_lr_edit(TuiApp *app)
{
    int g = wb_selected_group(&app->wb);
    if (g < 0) {
        return;
    }
    app->wb.lr_editing = 1;
    app->wb.lr_edit_group = g;
    /* pre-filled and selected, as a text field: typing replaces it */
    wb_fmt_lr(app->wb.groups[g].base_lr, app->wb.lr_edit, sizeof app->wb.lr_edit);
    app->wb.lr_edit_fresh = 1;
    say(app, "lr: type a value (e.g. 1e-4), Enter sets it, Esc cancels");
}

static void lr_edit_enter(TuiApp *app)
{
    WbState *s = &app->wb;
    if (s->lr_edit_fresh) {
        /* untouched: the shown value is rounded for display; sending it
         * would change the lr slightly */
        s->lr_editing = 0;
        s->lr_edit_fresh = 0;
        say(app, "lr unchanged");
        return;
    }
    double lr;
    double current = s->groups[s->lr_edit_group].base_lr;
    if (lr_input_parse(s->lr_edit, current, &lr) != 0) {
        snprintf(s->status_msg, sizeof s->status_msg,
                 "lr: '%.24s' is not an lr: type 1e-4, 0.001, x0.5 or /10 (0 < lr <= %g)",
                 s->lr_edit, LR_INPUT_MAX);
        return;
    }
    s->lr_editing = 0;
    s->status_msg[0] = '\0';
    tui_send_lr(app, s->lr_edit_group, lr);
}

static void lr_edit_key(TuiApp *app, int key, int is_key)
{
    WbState *s = &app->wb;
    size_t len = strlen(s->lr_edit);
    int fresh = s->lr_edit_fresh;
    s->lr_edit_fresh = 0;   /* any key but Enter/Esc starts editing the text */
    if (!is_key && key == KEY_ESC) {
        s->lr_editing = 0;
        s->status_msg[0] = '\0';
    } else if ((is_key && key == KEY_ENTER) || (!is_key && (key == '\n' || key == '\r'))) {
        s->lr_edit_fresh = fresh;
        lr_edit_enter(app);
    } else if ((is_key && key == KEY_BACKSPACE) || (!is_key && (key == 127 || key == 8))) {
        if (len > 0) {
            s->lr_edit[len - 1] = '\0';
        }
    } else if (!is_key && key == KEY_CTRL('u')) {
        s->lr_edit[0] = '\0';
    } else if (!is_key && key < 128 && isprint(key)) {
        if (fresh) {
            len = 0;   /* the first character typed replaces the selected value */
        }
        if (len + 1 < sizeof s->lr_edit) {
            s->lr_edit[len] = (char)key;
            s->lr_edit[len + 1] = '\0';
        }
    }
    /* other keys (arrows, End): keep the text and edit it from its end */
}

static void models_key(TuiApp *app, int key, int is_key)
{
    WbState *s = &app->wb;
    if ((!is_key && (key == KEY_ESC || key == 'm' || key == 'q')) || (is_key && key == KEY_LEFT)) {
        s->screen = WB_SCREEN_MAIN;
    } else if ((is_key && key == KEY_UP) || (!is_key && key == 'k')) {
        wb_move(s, -1);
    } else if ((is_key && key == KEY_DOWN) || (!is_key && key == 'j')) {
        wb_move(s, 1);
    } else if (is_key && key == KEY_PPAGE) {
        wb_move(s, -10);
    } else if (is_key && key == KEY_NPAGE) {
        wb_move(s, 10);
    } else if ((is_key && key == KEY_HOME) || (!is_key && key == 'g')) {
        wb_move_to(s, 0);
    } else if ((is_key && key == KEY_END) || (!is_key && key == 'G')) {
        wb_move_to(s, -1);
    } else if ((is_key && (key == KEY_ENTER || key == KEY_RIGHT)) ||
               (!is_key && (key == '\n' || key == '\r'))) {
        const CatalogRow *row = s->n_catalog > 0 ? &s->catalog[s->model_selected] : NULL;
        if (row && row->supported && tui_run_is_going(app)) {
            s->pick_confirm = s->model_selected + 1;   /* the run would end unsaved */
        } else {
            tui_pick_model(app, s->model_selected);
        }
    } else if (!is_key && key == '?') {
        s->help = 1;
    }
}

static void main_key(TuiApp *app, int key, int is_key)
{
    WbState *s = &app->wb;
    if (is_key) {
        switch (key) {
        case KEY_UP: wb_move(s, -1); break;
        case KEY_DOWN: wb_move(s, 1); break;
        case KEY_PPAGE: wb_move(s, -10); break;
        case KEY_NPAGE: wb_move(s, 10); break;
        case KEY_HOME: wb_move_to(s, 0); break;
        case KEY_END: wb_move_to(s, -1); break;
        case KEY_BTAB: wb_focus_next(s); wb_focus_next(s); break;
        case KEY_ENTER:
        case KEY_RIGHT:
        case KEY_LEFT:
            if (s->focus == WB_PANE_LAYERS && wb_selected_layer(s) < 0) {
                int g = wb_selected_group(s);
                int want = key != KEY_LEFT;
                if (g >= 0 && s->groups[g].expanded != want) {
                    wb_toggle_expanded(s);
                }
            }
            break;
        default: break;
        }
        return;
    }
    switch (key) {
    case '\t': wb_focus_next(s); break;
    case 'k': wb_move(s, -1); break;
    case 'j': wb_move(s, 1); break;
    case 'g': wb_move_to(s, 0); break;
    case 'G': wb_move_to(s, -1); break;
    case '\n':
    case '\r':
        if (s->focus == WB_PANE_LAYERS && wb_selected_layer(s) < 0) {
            wb_toggle_expanded(s);
        } else if (s->focus == WB_PANE_GROUPS) {
            start_lr_edit(app);
        }
        break;
    case ' ': toggle_freeze(app); break;
    case 'f': freeze_up_to(app); break;
    case 'u': unfreeze_all(app); break;
    case 'e': start_lr_edit(app); break;
    case 't': start_or_pause(app); break;
    case 's':
        if (tui_send_simple(app, BUS_CMD_SAVE)) {
            say(app, "save sent (pending)");
        }
        break;
    case 'm':
        s->screen = WB_SCREEN_MODELS;
        wb_clamp(s);
        break;
    case '?': s->help = 1; break;
    case 'L':
    case 'l': s->log_scale = !s->log_scale; break;
    case 'q':
        if (tui_run_is_going(app)) {
            s->quit_confirm = 1;
        } else {
            /* Leaving a run stopped by an error is a failed run (exit 1,
             * the error printed once the screen is gone), as thaw train. */
            app->exit_code = s->job == WB_JOB_ERROR ? 1 : 0;
            app->quit = TUI_QUIT_NOW;
        }
        break;
    default: break;
    }
}

void tui_handle_key(TuiApp *app, int key, int is_key)
{
    WbState *s = &app->wb;
    if (is_key && key == KEY_RESIZE) {
        return;   /* SIGWINCH is handled by the loop */
    }
    app->dirty = 1;
    if (app->quit != TUI_RUN_ON) {
        return;   /* saving before exit: keys no longer apply */
    }
    if (s->help) {
        s->help = 0;   /* any key closes the overlay */
        return;
    }
    if (s->quit_confirm) {
        if (!is_key && (key == 'y' || key == 'Y')) {
            quit_saving(app);
        } else if (!is_key && (key == 'n' || key == 'N' || key == KEY_ESC || key == 'q')) {
            s->quit_confirm = 0;
        }
        return;
    }
    if (s->pick_confirm) {
        int row = s->pick_confirm - 1;
        s->pick_confirm = 0;
        if (!is_key && (key == 'y' || key == 'Y')) {
            tui_pick_model(app, row);
        }
        return;   /* any other key keeps the run */
    }
    if (s->lr_editing) {
        lr_edit_key(app, key, is_key);
        return;
    }
    if (s->screen == WB_SCREEN_MODELS) {
        models_key(app, key, is_key);
    } else {
        main_key(app, key, is_key);
    }
}
