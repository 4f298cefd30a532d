/* Folding engine events into the workbench state: the screen shows what
 * the engine reports, never what the UI hoped for. */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "app/tui_app.h"

static WbJobState job_of(BusState st)
{
    switch (st) {
    case BUS_STATE_LOADING: return WB_JOB_LOADING;
    case BUS_STATE_READY: return WB_JOB_READY;
    case BUS_STATE_RUNNING: return WB_JOB_RUNNING;
    case BUS_STATE_PAUSED: return WB_JOB_PAUSED;
    case BUS_STATE_STOPPING: return WB_JOB_STOPPING;
    case BUS_STATE_DONE: return WB_JOB_DONE;
    case BUS_STATE_ERROR: return WB_JOB_ERROR;
    case BUS_STATE_EXITED: return WB_JOB_DONE;
    }
    return WB_JOB_IDLE;
}

static void status(TuiApp *app, const char *fmt, const char *a, const char *b)
{
    snprintf(app->wb.status_msg, sizeof app->wb.status_msg, fmt, a, b);
}

/* Groups without parameters (the engine's catch-all "default" group on
 * models that put every weight in a named group) are left out: there is
 * nothing in them to freeze or train. */
static void fold_snapshot(TuiApp *app, const BusSnapshot *snap)
{
    WbGroup groups[WB_MAX_GROUPS];
    int remap[WB_MAX_GROUPS];
    int n = 0;
    memset(groups, 0, sizeof groups);
    for (int g = 0; g < snap->n_groups && g < WB_MAX_GROUPS; g++) {
        const BusSnapGroup *src = &snap->groups[g];
        remap[g] = -1;
        if (src->params == 0) {
            continue;
        }
        remap[g] = n;
        WbGroup *dst = &groups[n++];
        snprintf(dst->name, sizeof dst->name, "%s", src->name);
        dst->frozen = src->frozen;
        dst->partial = src->partial;
        dst->base_lr = src->base_lr;
        dst->lr = src->lr;
        dst->weight_decay = src->weight_decay;
        dst->total_params = src->params;
        dst->trainable_params = src->trainable_params;
        snprintf(dst->bn_mode, sizeof dst->bn_mode, "%s", src->bn_batch_stats ? "train" : "eval");
    }
    WbLayer *layers = snap->n_layers > 0 ? calloc((size_t)snap->n_layers, sizeof *layers) : NULL;
    int n_layers = 0;
    for (int i = 0; layers && i < snap->n_layers; i++) {
        const BusSnapLayer *src = &snap->layers[i];
        int g = src->group >= 0 && src->group < snap->n_groups && src->group < WB_MAX_GROUPS
                    ? remap[src->group] : -1;
        if (g < 0) {
            continue;
        }
        WbLayer *dst = &layers[n_layers++];
        snprintf(dst->name, sizeof dst->name, "%s", src->name);
        dst->group = g;
        if (src->shape[0]) {
            snprintf(dst->shape, sizeof dst->shape, "%s", src->shape);
        } else {
            snprintf(dst->shape, sizeof dst->shape, "%dx%dx%d", src->out_h, src->out_w, src->out_c);
        }
        dst->params = src->params;
        dst->frozen = src->frozen;
    }
    if (wb_set_groups(&app->wb, groups, n) != 0 || wb_set_layers(&app->wb, layers, n_layers) != 0) {
        wb_log(&app->wb, "out of memory taking the engine's layer table");
    }
    free(layers);
    if (snap->device[0]) {
        snprintf(app->wb.device, sizeof app->wb.device, "%s", snap->device);
    }
    if (snap->epochs > 0) {
        app->wb.epoch = snap->epoch;
        app->wb.epochs = snap->epochs;
        app->wb.step = snap->step;
        app->wb.total_steps = snap->total_steps;
    }
    tui_refresh_pending(app);
    wb_clamp(&app->wb);
}

/* The checkpoint of a quit could not be written (a full disk): the run
 * has ended without one, so leave, but not as a success: exit 1 after q y
 * (128 + signal after a signal) and the error printed once the screen is
 * restored, as thaw train does. */
static void quit_save_failed(TuiApp *app, const char *msg)
{
    snprintf(app->run_error, sizeof app->run_error, "checkpoint not written: %s", msg);
    if (app->exit_code == 0) {
        app->exit_code = 1;
    }
    app->quit = TUI_QUIT_NOW;
}

static void fold_ack(TuiApp *app, const BusEvent *ev)
{
    TuiPending p;
    int known = tui_take_pending(app, ev->cmd_id, &p) >= 0;
    const char *name = bus_command_name(ev->cmd_kind);
    if (ev->cmd_id == app->state_cmd) {
        app->state_cmd = 0;
        app->wb.status_msg[0] = '\0';
    }
    if (!ev->ok && ev->cmd_kind == BUS_CMD_STOP_SAVE && app->quit == TUI_QUIT_SAVING) {
        quit_save_failed(app, ev->msg);
        tui_refresh_pending(app);
        return;
    }
    if (!ev->ok) {
        status(app, "%s refused: %s", name, ev->msg);
        wb_log(&app->wb, "%s refused: %s", name, ev->msg);
        tui_refresh_pending(app);
        return;
    }
    int g = -1;
    for (int i = 0; known && i < app->wb.n_groups; i++) {
        if (strcmp(app->wb.groups[i].name, p.group) == 0) {
            g = i;
        }
    }
    switch (ev->cmd_kind) {
    case BUS_CMD_SET_FROZEN:
        if (g >= 0) {
            WbGroup *grp = &app->wb.groups[g];
            grp->frozen = p.frozen;
            grp->partial = 0;
            grp->trainable_params = p.frozen ? 0 : grp->total_params;
            for (int i = 0; i < app->wb.n_layers; i++) {
                if (app->wb.layers[i].group == g) {
                    app->wb.layers[i].frozen = p.frozen;
                }
            }
        }
        wb_add_mark(&app->wb, app->wb.step, p.frozen ? WB_MARK_FREEZE : WB_MARK_UNFREEZE);
        break;
    case BUS_CMD_SET_LAYER_FROZEN:
        /* the SNAPSHOT that follows carries the group's new counts */
        for (int i = 0; i < app->wb.n_layers; i++) {
            if (strcmp(app->wb.layers[i].name, p.layer) == 0) {
                app->wb.layers[i].frozen = p.frozen;
            }
        }
        wb_add_mark(&app->wb, app->wb.step, p.frozen ? WB_MARK_FREEZE : WB_MARK_UNFREEZE);
        break;
    case BUS_CMD_SET_LR:
        if (g >= 0) {
            app->wb.groups[g].base_lr = p.lr;
        }
        wb_add_mark(&app->wb, app->wb.step, WB_MARK_LR);
        break;
    case BUS_CMD_SAVE:
    case BUS_CMD_STOP_SAVE:
        if (ev->msg && ev->msg[0]) {
            snprintf(app->checkpoint, sizeof app->checkpoint, "%s", ev->msg);
            status(app, "saved %s%s", ev->msg, "");   /* the engine logs it too */
        }
        break;
    default:
        break;
    }
    tui_refresh_pending(app);
}

/* The live rate: samples/s over the last seconds of step arrivals, and the
 * ETA at that rate (the engine's ETA averages since the run started, pauses
 * and validations included). Until two steps are timed the last values stay. */
static void fold_step_rate(TuiApp *app, const BusEvent *ev)
{
    if (!app->clock) {
        return;
    }
    tui_rate_add(&app->rate, app->clock(), ev->step);
    double steps_per_s = tui_rate_steps_per_s(&app->rate);
    if (steps_per_s <= 0) {
        return;
    }
    if (app->batch > 0) {
        app->wb.samples_per_s = steps_per_s * app->batch;
    }
    if (ev->total_steps >= ev->step) {
        app->wb.eta_s = (double)(ev->total_steps - ev->step) / steps_per_s;
    }
}

static void fold_state(TuiApp *app, const BusEvent *ev)
{
    if (job_of(ev->state) != app->wb.job) {
        tui_rate_reset(&app->rate);   /* a pause or a new run is not a step time */
    }
    app->wb.job = job_of(ev->state);
    if (ev->msg && ev->msg[0]) {
        /* Only an error or the end of a run is news for the status line. */
        if (ev->state == BUS_STATE_ERROR || ev->state == BUS_STATE_DONE) {
            status(app, "%s%s", ev->msg, "");
        }
        if (ev->state == BUS_STATE_ERROR) {
            snprintf(app->run_error, sizeof app->run_error, "%s", ev->msg);
        }
        if (ev->state != BUS_STATE_ERROR) {   /* the ERROR event logged it */
            wb_log(&app->wb, "%s: %s", bus_state_name(ev->state), ev->msg);
        }
    }
    if (ev->state == BUS_STATE_RUNNING) {
        app->run_error[0] = '\0';   /* a retry: the old error is history */
    }
    /* t pressed while loading: start now; a load that failed drops it */
    if (app->start_queued && ev->state != BUS_STATE_LOADING) {
        app->start_queued = 0;
        if (ev->state == BUS_STATE_READY && app->quit == TUI_RUN_ON &&
            tui_send_simple(app, BUS_CMD_START)) {
            status(app, "%s%s", "start sent (pressed while loading)", "");
        }
    }
    if (ev->state == BUS_STATE_EXITED) {
        app->engine_exited = 1;
    }
    if (app->quit == TUI_QUIT_SAVING &&
        (ev->state == BUS_STATE_DONE || ev->state == BUS_STATE_ERROR ||
         ev->state == BUS_STATE_EXITED)) {
        app->quit = TUI_QUIT_NOW;
    }
}

void tui_fold_event(TuiApp *app, const BusEvent *ev)
{
    WbState *s = &app->wb;
    app->dirty = 1;
    switch (ev->kind) {
    case BUS_EV_START:
    case BUS_EV_LOG:
        wb_log(s, "%s", ev->msg ? ev->msg : "");
        break;
    case BUS_EV_STEP:
        for (int i = 0; i < ev->n_losses; i++) {
            wb_push_train_loss(s, ev->steps[i], ev->losses[i]);
        }
        s->epoch = ev->epoch;
        s->epochs = ev->epochs;
        s->step = ev->step;
        s->total_steps = ev->total_steps;
        s->eta_s = ev->eta_s;
        if (ev->samples_per_s > 0) {
            s->samples_per_s = ev->samples_per_s;
        }
        fold_step_rate(app, ev);
        break;
    case BUS_EV_EPOCH:
        tui_rate_reset(&app->rate);   /* validation ran since the last step */
        wb_push_epoch(s, ev->step, ev->train_loss, ev->has_val ? ev->val_loss : NAN,
                      ev->has_val ? ev->val_acc : NAN);
        s->epoch = ev->epoch;
        s->epochs = ev->epochs;
        s->step = ev->step;
        s->samples_per_s = ev->samples_per_s;
        s->eta_s = ev->eta_s;
        if (ev->has_val) {
            wb_log(s, "epoch %d/%d  train loss %.4f acc %.3f  val loss %.4f acc %.3f",
                   ev->epoch, ev->epochs, ev->train_loss, ev->train_acc, ev->val_loss,
                   ev->val_acc);
        } else {
            wb_log(s, "epoch %d/%d  train loss %.4f acc %.3f", ev->epoch, ev->epochs,
                   ev->train_loss, ev->train_acc);
        }
        break;
    case BUS_EV_DONE:
        if (ev->msg && ev->msg[0]) {
            /* no log line: the DONE state that follows names the checkpoint,
             * and at 80x24 a second line would push the last epoch's out */
            snprintf(app->checkpoint, sizeof app->checkpoint, "%s", ev->msg);
        }
        break;
    case BUS_EV_SNAPSHOT:
        fold_snapshot(app, &ev->snapshot);
        break;
    case BUS_EV_ACK:
        fold_ack(app, ev);
        break;
    case BUS_EV_STATE:
        fold_state(app, ev);
        break;
    case BUS_EV_ERROR:
        status(app, "error: %s%s", ev->msg ? ev->msg : "", "");
        wb_log(s, "error: %s", ev->msg ? ev->msg : "");
        break;
    }
}
