/* The engine thread: runs training jobs driven by bus commands; see
 * engine_thread.h for the states and what each command does where. */
#include "engine_thread.h"

#include <inttypes.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/engine_thread_events.h"
#include "engine/run/train_control.h"
#include "engine/run/text_job.h"
#include "engine/run/train_job.h"

/* How the current job is being ended by a command. */
typedef enum {
    END_NONE,
    END_STOP_SAVE,     /* STOP_SAVE after START: the job writes a checkpoint */
    END_STOP_NOTHING,  /* STOP_SAVE before START: nothing trained, nothing saved */
    END_QUIT,
    END_REBUILD,
} RunEnd;

/* What the thread does after a job or between jobs. */
typedef enum { NEXT_IDLE, NEXT_RUN, NEXT_EXIT } Next;

struct EngineThreadCtx {
    Bus *bus;
    RunConfig cfg;             /* the run to do (owned copy) */
    char out_dir[RUN_PATH_MAX];
    char resume[RUN_PATH_MAX]; /* "" = from scratch */

    /* per job */
    int boundaries;
    int trained;               /* START taken in this job */
    int paused;                /* holding at the boundary (ready or paused) */
    int auto_start;            /* START after an error: run without holding */
    int event_epoch, snap_epoch;
    RunEnd end;
    uint64_t stop_id;          /* STOP_SAVE to ack once the job has returned */

    ThawDevice device;         /* where the run trains (cpu or cuda:N) */

    /* the next job (REBUILD) */
    RunConfig next_cfg;
    char next_out[RUN_PATH_MAX];
    char next_resume[RUN_PATH_MAX];
};

void engine_device_text(char *buf, size_t cap)
{
    int n = omp_get_max_threads();
    snprintf(buf, cap, "CPU, %d thread%s", n, n == 1 ? "" : "s");
}

static int config_copy(RunConfig *dst, const RunConfig *src, ThawError *err)
{
    *dst = *src;
    dst->json = NULL;
    if (src->json && !(dst->json = strdup(src->json))) {
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory copying the run");
    }
    return 0;
}

static void ack_cmd(EngineThreadCtx *ctx, const BusCommand *cmd, int ok, const char *msg)
{
    bus_post_ack(ctx->bus, cmd, ok, msg);
}

/* Parses a REBUILD's run into next_cfg; acks a failure. 0 when it parsed. */
static int take_rebuild(EngineThreadCtx *ctx, const BusCommand *cmd)
{
    ThawError err = {0};
    if (!cmd->run_json) {
        ack_cmd(ctx, cmd, 0, "rebuild without a run file");
        return -1;
    }
    RunConfig cfg;
    if (run_config_parse(&cfg, cmd->run_path ? cmd->run_path : "run.json", cmd->run_json,
                         &err) != 0) {
        run_config_free(&cfg);
        ack_cmd(ctx, cmd, 0, err.msg);
        return -1;
    }
    run_config_free(&ctx->next_cfg);
    ctx->next_cfg = cfg;
    snprintf(ctx->next_out, sizeof ctx->next_out, "%s", cmd->out_dir ? cmd->out_dir : ctx->out_dir);
    snprintf(ctx->next_resume, sizeof ctx->next_resume, "%s", cmd->resume ? cmd->resume : "");
    return 0;
}

/* Makes the parsed REBUILD the current run. */
static void switch_to_next(EngineThreadCtx *ctx)
{
    run_config_free(&ctx->cfg);
    ctx->cfg = ctx->next_cfg;
    ctx->next_cfg.json = NULL;
    memcpy(ctx->out_dir, ctx->next_out, sizeof ctx->out_dir);
    memcpy(ctx->resume, ctx->next_resume, sizeof ctx->resume);
}

/* ---- inside a job ---- */

static void on_train_event(const TrainEvent *ev, void *user)
{
    EngineThreadCtx *ctx = user;
    if (ev->kind == TRAIN_EV_STEP || ev->kind == TRAIN_EV_EPOCH) {
        ctx->event_epoch = ev->epoch;
    }
    engine_thread_post_train_event(ctx->bus, ev);
}

static void post_snapshot(EngineThreadCtx *ctx, TrainCtl *ctl)
{
    ThawError err = {0};
    int epoch = engine_thread_post_snapshot(ctx->bus, ctl, &err);
    if (epoch < 0) {
        bus_post_error(ctx->bus, err.msg);
        return;
    }
    ctx->snap_epoch = epoch;
}

/* Applies one command at a step boundary (acked here, except STOP_SAVE
 * which is acked when the job has returned). */
static TrainBoundaryAction apply(EngineThreadCtx *ctx, TrainCtl *ctl, const BusCommand *cmd)
{
    ThawError err = {0};
    switch (cmd->kind) {
    case BUS_CMD_START:
        if (!ctx->paused) {
            ack_cmd(ctx, cmd, 1, "already running");
            break;
        }
        ctx->paused = 0;
        ctx->trained = 1;
        bus_post_state(ctx->bus, BUS_STATE_RUNNING, NULL);
        ack_cmd(ctx, cmd, 1, NULL);
        break;
    case BUS_CMD_PAUSE:
        if (ctx->paused) {
            ack_cmd(ctx, cmd, 1, ctx->trained ? "already paused" : "not started yet");
            break;
        }
        ctx->paused = 1;
        bus_post_state(ctx->bus, BUS_STATE_PAUSED, NULL);
        ack_cmd(ctx, cmd, 1, NULL);
        break;
    case BUS_CMD_SAVE: {
        char path[RUN_PATH_MAX + 64];
        if (train_ctl_save(ctl, path, sizeof path, &err) != 0) {
            ack_cmd(ctx, cmd, 0, err.msg);
        } else {
            ack_cmd(ctx, cmd, 1, path);
        }
        break;
    }
    case BUS_CMD_SET_FROZEN:
    case BUS_CMD_SET_LAYER_FROZEN:
    case BUS_CMD_SET_LR: {
        int rc = cmd->kind == BUS_CMD_SET_FROZEN
                     ? train_ctl_set_frozen(ctl, cmd->group, cmd->frozen, &err)
                 : cmd->kind == BUS_CMD_SET_LAYER_FROZEN
                     ? train_ctl_set_layer_frozen(ctl, cmd->layer, cmd->frozen, &err)
                     : train_ctl_set_lr(ctl, cmd->group, cmd->lr, &err);
        ack_cmd(ctx, cmd, rc == 0, rc == 0 ? NULL : err.msg);
        if (rc == 0) {
            post_snapshot(ctx, ctl);   /* the screen shows the engine's new state */
        }
        break;
    }
    case BUS_CMD_STOP_SAVE:
        bus_post_state(ctx->bus, BUS_STATE_STOPPING, NULL);
        if (!ctx->trained) {
            ctx->end = END_STOP_NOTHING;
            ack_cmd(ctx, cmd, 1, "");   /* "": nothing written (the DONE state says why) */
            return TRAIN_ABANDON;
        }
        ctx->end = END_STOP_SAVE;
        ctx->stop_id = cmd->id;
        return TRAIN_STOP_SAVE;
    case BUS_CMD_QUIT:
        bus_post_state(ctx->bus, BUS_STATE_STOPPING, NULL);
        ctx->end = END_QUIT;
        ack_cmd(ctx, cmd, 1, NULL);
        return TRAIN_ABANDON;
    case BUS_CMD_REBUILD:
        if (take_rebuild(ctx, cmd) != 0) {
            break;   /* a bad run file leaves this run as it is */
        }
        bus_post_state(ctx->bus, BUS_STATE_STOPPING, NULL);
        ctx->end = END_REBUILD;
        ack_cmd(ctx, cmd, 1, NULL);
        return TRAIN_ABANDON;
    }
    return TRAIN_CONTINUE;
}

static TrainBoundaryAction on_boundary(TrainCtl *ctl, void *user)
{
    EngineThreadCtx *ctx = user;
    if (ctx->boundaries++ == 0) {
        post_snapshot(ctx, ctl);
        if (ctx->auto_start) {
            ctx->trained = 1;
            bus_post_state(ctx->bus, BUS_STATE_RUNNING, NULL);
        } else {
            ctx->paused = 1;   /* show the model before training */
            bus_post_state(ctx->bus, BUS_STATE_READY, NULL);
        }
    } else if (ctx->event_epoch != ctx->snap_epoch) {
        post_snapshot(ctx, ctl);   /* a new epoch: lr, cache line */
    }
    for (;;) {
        BusCommand cmd;
        int got = ctx->paused ? bus_wait_command(ctx->bus, -1, &cmd)
                              : bus_poll_command(ctx->bus, &cmd);
        if (!got) {
            return TRAIN_CONTINUE;
        }
        TrainBoundaryAction act = apply(ctx, ctl, &cmd);
        bus_command_free(&cmd);
        if (act != TRAIN_CONTINUE) {
            return act;
        }
    }
}

/* Runs the current job to its end and posts how it ended. */
static Next run_job(EngineThreadCtx *ctx, int *failed)
{
    ctx->boundaries = 0;
    ctx->trained = 0;
    ctx->paused = 0;
    ctx->event_epoch = ctx->snap_epoch = 0;
    ctx->end = END_NONE;
    ctx->stop_id = 0;
    bus_post_state(ctx->bus, BUS_STATE_LOADING, ctx->cfg.path);

    TrainOptions opt = {
        .out_dir = ctx->out_dir,
        .resume = ctx->resume[0] ? ctx->resume : NULL,
        .on_event = on_train_event,
        .on_boundary = on_boundary,
        .user = ctx,
    };
    opt.device = ctx->device;
    TrainResult res;
    memset(&res, 0, sizeof res);
    ThawError err = {0};
    int rc = train_run(&ctx->cfg, &opt, &res, &err);
    ctx->auto_start = 0;

    if (ctx->stop_id) {
        BusCommand stop = {.id = ctx->stop_id, .kind = BUS_CMD_STOP_SAVE};
        ack_cmd(ctx, &stop, rc == 0, rc == 0 ? res.checkpoint : err.msg);
    }
    if (ctx->end == END_QUIT) {
        return NEXT_EXIT;
    }
    if (ctx->end == END_REBUILD) {
        switch_to_next(ctx);
        return NEXT_RUN;
    }
    *failed = rc != 0;
    if (rc != 0) {
        bus_post_error(ctx->bus, err.msg);
        bus_post_state(ctx->bus, BUS_STATE_ERROR, err.msg);
        return NEXT_IDLE;
    }
    char msg[sizeof res.checkpoint + 128];
    BusDoneReason why = BUS_DONE_FINISHED;
    if (ctx->end == END_STOP_NOTHING) {
        why = BUS_DONE_ABANDONED;
        snprintf(msg, sizeof msg, "stopped before training: nothing saved");
    } else if (res.interrupted) {
        why = BUS_DONE_STOPPED;
        snprintf(msg, sizeof msg, "stopped at step %" PRId64 ": %s", res.steps_done,
                 res.checkpoint);
    } else if (res.stopped_early) {
        why = BUS_DONE_EARLY;
        snprintf(msg, sizeof msg, "stopped early after epoch %d: %s", res.epochs_done,
                 res.checkpoint);
    } else {
        snprintf(msg, sizeof msg, "finished %d epochs: %s", res.epochs_done, res.checkpoint);
    }
    BusEvent ev = {.kind = BUS_EV_STATE, .state = BUS_STATE_DONE, .done_reason = why,
                   .epoch = res.epochs_done, .step = res.steps_done,
                   .train_loss = res.train_loss, .train_acc = res.train_acc,
                   .val_loss = res.val_loss, .val_acc = res.val_acc,
                   .msg = strdup(msg)};
    bus_post_event(ctx->bus, &ev);
    return NEXT_IDLE;
}

/* ---- between jobs ---- */

static Next idle(EngineThreadCtx *ctx, int failed)
{
    for (;;) {
        BusCommand cmd;
        bus_wait_command(ctx->bus, -1, &cmd);
        Next next = NEXT_IDLE;
        switch (cmd.kind) {
        case BUS_CMD_QUIT:
            ack_cmd(ctx, &cmd, 1, NULL);
            next = NEXT_EXIT;
            break;
        case BUS_CMD_REBUILD:
            if (take_rebuild(ctx, &cmd) == 0) {
                switch_to_next(ctx);
                ack_cmd(ctx, &cmd, 1, NULL);
                next = NEXT_RUN;
            }
            break;
        case BUS_CMD_START:
            if (failed) {
                ctx->auto_start = 1;
                ack_cmd(ctx, &cmd, 1, "retrying the run");
                next = NEXT_RUN;
            } else {
                ack_cmd(ctx, &cmd, 0, "the run is done; rebuild to start another");
            }
            break;
        case BUS_CMD_STOP_SAVE:
            ack_cmd(ctx, &cmd, 1, "");   /* ok, nothing written */
            break;
        case BUS_CMD_PAUSE:
        case BUS_CMD_SAVE:
        case BUS_CMD_SET_FROZEN:
        case BUS_CMD_SET_LAYER_FROZEN:
        case BUS_CMD_SET_LR:
            ack_cmd(ctx, &cmd, 0, failed ? "no run is going (the last one failed)"
                                         : "no run is going (the last one is done)");
            break;
        }
        bus_command_free(&cmd);
        if (next != NEXT_IDLE) {
            return next;
        }
    }
}

static void *engine_main(void *arg)
{
    EngineThreadCtx *ctx = arg;
    Next next = NEXT_RUN;
    while (next != NEXT_EXIT) {
        int failed = 0;
        next = run_job(ctx, &failed);
        if (next == NEXT_IDLE) {
            next = idle(ctx, failed);
        }
    }
    run_config_free(&ctx->cfg);
    run_config_free(&ctx->next_cfg);
    bus_post_state(ctx->bus, BUS_STATE_EXITED, NULL);
    return NULL;
}

/* ---- the UI side ---- */

int engine_thread_start(EngineThread *et, Bus *bus, const RunConfig *cfg,
                        const ThawDevice *device, const char *out_dir, ThawError *err)
{
    memset(et, 0, sizeof *et);
    EngineThreadCtx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory starting the engine thread");
    }
    ctx->bus = bus;
    if (device) {
        ctx->device = *device;
    }
    if (config_copy(&ctx->cfg, cfg, err) != 0) {
        free(ctx);
        return THAW_ERR_NOMEM;
    }
    snprintf(ctx->out_dir, sizeof ctx->out_dir, "%s", out_dir ? out_dir : "runs/workbench");
    int rc = pthread_create(&et->thread, NULL, engine_main, ctx);
    if (rc != 0) {
        run_config_free(&ctx->cfg);
        free(ctx);
        return thaw_fail(err, THAW_ERR_NOMEM, "cannot start the engine thread (error %d)", rc);
    }
    et->ctx = ctx;
    et->started = 1;
    return 0;
}

void engine_thread_stop_and_join(EngineThread *et)
{
    if (!et->started) {
        return;
    }
    /* Always both, in this order: STOP_SAVE saves a run that trained (or is
     * a no-op), QUIT then ends the thread wherever it is; no race with a
     * run that ends on its own in between. */
    bus_send(et->ctx->bus, BUS_CMD_STOP_SAVE);
    bus_send(et->ctx->bus, BUS_CMD_QUIT);
    pthread_join(et->thread, NULL);
    free(et->ctx);
    et->ctx = NULL;
    et->started = 0;
}

uint64_t engine_thread_send_rebuild(Bus *bus, const RunConfig *cfg, const char *out_dir)
{
    return bus_send_rebuild(bus, cfg->json, cfg->path, out_dir, NULL);
}
