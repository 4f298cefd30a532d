/* Commands from the workbench to the engine, with the "pending" marks: a
 * target shows pending from the key press until the engine's ACK. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/tui_app.h"

int tui_app_init(TuiApp *app, Bus *bus, const char *run_json, const char *run_path,
                 const char *out_dir)
{
    memset(app, 0, sizeof *app);
    wb_init(&app->wb);
    app->bus = bus;
    app->dirty = 1;
    app->wb.job = WB_JOB_LOADING;
    app->clock = tui_rate_clock;
    snprintf(app->run_path, sizeof app->run_path, "%s", run_path ? run_path : "");
    snprintf(app->out_dir, sizeof app->out_dir, "%s", out_dir ? out_dir : "");
    if (run_json) {
        app->run_json = strdup(run_json);
        if (!app->run_json) {
            return -1;
        }
    }
    return 0;
}

void tui_app_free(TuiApp *app)
{
    wb_free(&app->wb);
    free(app->run_json);
    app->run_json = NULL;
}

static void add_pending(TuiApp *app, const TuiPending *p)
{
    if (app->n_pending == TUI_MAX_PENDING) {
        /* The oldest has surely been answered or lost; the table only
         * drives markers, so dropping it is harmless. */
        memmove(app->pending, app->pending + 1, (TUI_MAX_PENDING - 1) * sizeof *app->pending);
        app->n_pending--;
    }
    app->pending[app->n_pending++] = *p;
}

void tui_refresh_pending(TuiApp *app)
{
    for (int l = 0; l < app->wb.n_layers; l++) {
        app->wb.layers[l].pending = 0;
        for (int i = 0; i < app->n_pending; i++) {
            if (app->pending[i].kind == BUS_CMD_SET_LAYER_FROZEN &&
                strcmp(app->pending[i].layer, app->wb.layers[l].name) == 0) {
                app->wb.layers[l].pending = 1;
            }
        }
    }
    for (int g = 0; g < app->wb.n_groups; g++) {
        app->wb.groups[g].pending = 0;
        for (int i = 0; i < app->n_pending; i++) {
            if (strcmp(app->pending[i].group, app->wb.groups[g].name) == 0) {
                app->wb.groups[g].pending = 1;
            }
        }
    }
}

int tui_take_pending(TuiApp *app, uint64_t id, TuiPending *out)
{
    for (int i = 0; i < app->n_pending; i++) {
        if (app->pending[i].id == id) {
            if (out) {
                *out = app->pending[i];
            }
            memmove(app->pending + i, app->pending + i + 1,
                    (size_t)(app->n_pending - i - 1) * sizeof *app->pending);
            app->n_pending--;
            return i;
        }
    }
    return -1;
}

static uint64_t track(TuiApp *app, uint64_t id, BusCommandKind kind, int group, int frozen,
                      double lr)
{
    if (id == 0) {
        snprintf(app->wb.status_msg, sizeof app->wb.status_msg,
                 "out of memory: %s not sent", bus_command_name(kind));
        app->dirty = 1;
        return 0;
    }
    TuiPending p = {.id = id, .kind = kind, .frozen = frozen, .lr = lr};
    if (group >= 0 && group < app->wb.n_groups) {
        snprintf(p.group, sizeof p.group, "%s", app->wb.groups[group].name);
    }
    add_pending(app, &p);
    tui_refresh_pending(app);
    app->dirty = 1;
    return id;
}

uint64_t tui_send_frozen(TuiApp *app, int group, int frozen)
{
    if (group < 0 || group >= app->wb.n_groups || !app->bus) {
        return 0;
    }
    uint64_t id = bus_send_set_frozen(app->bus, app->wb.groups[group].name, frozen);
    return track(app, id, BUS_CMD_SET_FROZEN, group, frozen, 0.0);
}

uint64_t tui_send_lr(TuiApp *app, int group, double lr)
{
    if (group < 0 || group >= app->wb.n_groups || !app->bus) {
        return 0;
    }
    uint64_t id = bus_send_set_lr(app->bus, app->wb.groups[group].name, lr);
    return track(app, id, BUS_CMD_SET_LR, group, 0, lr);
}

uint64_t tui_send_layer_frozen(TuiApp *app, int layer, int frozen)
{
    if (layer < 0 || layer >= app->wb.n_layers || !app->bus) {
        return 0;
    }
    const WbLayer *l = &app->wb.layers[layer];
    uint64_t id = bus_send_set_layer_frozen(app->bus, l->name, frozen);
    if (id == 0) {
        return track(app, 0, BUS_CMD_SET_LAYER_FROZEN, -1, frozen, 0.0);
    }
    /* the group shows the change pending as well as the layer */
    TuiPending p = {.id = id, .kind = BUS_CMD_SET_LAYER_FROZEN, .frozen = frozen};
    snprintf(p.layer, sizeof p.layer, "%s", l->name);
    if (l->group >= 0 && l->group < app->wb.n_groups) {
        snprintf(p.group, sizeof p.group, "%s", app->wb.groups[l->group].name);
    }
    add_pending(app, &p);
    tui_refresh_pending(app);
    app->dirty = 1;
    return id;
}

uint64_t tui_send_simple(TuiApp *app, BusCommandKind kind)
{
    if (!app->bus) {
        return 0;
    }
    uint64_t id = track(app, bus_send(app->bus, kind), kind, -1, 0, 0.0);
    if (id) {
        app->state_cmd = id;
    }
    return id;
}

uint64_t tui_send_rebuild(TuiApp *app, const char *run_json, const char *out_dir)
{
    if (!app->bus) {
        return 0;
    }
    uint64_t id = bus_send_rebuild(app->bus, run_json, app->run_path, out_dir, NULL);
    id = track(app, id, BUS_CMD_REBUILD, -1, 0, 0.0);
    if (id) {
        app->state_cmd = id;
        app->start_queued = 0;   /* a new model: a t from before does not carry over */
        char *copy = strdup(run_json);
        if (copy) {
            free(app->run_json);
            app->run_json = copy;
        }
    }
    return id;
}

int tui_run_is_going(const TuiApp *app)
{
    return app->wb.job == WB_JOB_RUNNING ||
           (app->wb.job == WB_JOB_PAUSED && app->wb.step > 0);
}
