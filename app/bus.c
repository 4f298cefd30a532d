/* The bus between the UI loop and the engine thread: see bus.h. */
#include "bus.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct EventNode {
    struct EventNode *next;
    int cap;                  /* STEP: room in ev.steps / ev.losses */
    BusEvent ev;
} EventNode;

typedef struct CommandNode {
    struct CommandNode *next;
    BusCommand cmd;
} CommandNode;

struct Bus {
    uv_async_t async;         /* wakes the UI loop; valid when has_async */
    int has_async;
    BusWakeFn wake;
    void *user;

    pthread_mutex_t ev_lock;  /* guards the event queue and stats */
    EventNode *ev_head, *ev_tail;
    BusStats stats;

    pthread_mutex_t cmd_lock; /* guards the command queue and next_id */
    pthread_cond_t cmd_ready;
    CommandNode *cmd_head, *cmd_tail;
    size_t n_commands;
    uint64_t next_id;
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ---- commands ---- */

void bus_command_free(BusCommand *cmd)
{
    if (!cmd) {
        return;
    }
    free(cmd->run_json);
    free(cmd->run_path);
    free(cmd->out_dir);
    free(cmd->resume);
    cmd->run_json = cmd->run_path = cmd->out_dir = cmd->resume = NULL;
}

uint64_t bus_send_command(Bus *bus, const BusCommand *cmd)
{
    CommandNode *node = calloc(1, sizeof *node);
    if (!node) {
        return 0;
    }
    node->cmd = *cmd;
    node->cmd.run_json = dup_or_null(cmd->run_json);
    node->cmd.run_path = dup_or_null(cmd->run_path);
    node->cmd.out_dir = dup_or_null(cmd->out_dir);
    node->cmd.resume = dup_or_null(cmd->resume);
    if ((cmd->run_json && !node->cmd.run_json) || (cmd->run_path && !node->cmd.run_path) ||
        (cmd->out_dir && !node->cmd.out_dir) || (cmd->resume && !node->cmd.resume)) {
        bus_command_free(&node->cmd);
        free(node);
        return 0;
    }
    node->cmd.group[BUS_NAME_MAX - 1] = '\0';
    node->cmd.layer[BUS_NAME_MAX - 1] = '\0';
    pthread_mutex_lock(&bus->cmd_lock);
    uint64_t id = ++bus->next_id;
    node->cmd.id = id;
    if (bus->cmd_tail) {
        bus->cmd_tail->next = node;
    } else {
        bus->cmd_head = node;
    }
    bus->cmd_tail = node;
    bus->n_commands++;
    pthread_cond_signal(&bus->cmd_ready);
    pthread_mutex_unlock(&bus->cmd_lock);
    return id;
}

uint64_t bus_send(Bus *bus, BusCommandKind kind)
{
    BusCommand cmd = {.kind = kind};
    return bus_send_command(bus, &cmd);
}

static void copy_name(char *dst, const char *src)
{
    snprintf(dst, BUS_NAME_MAX, "%s", src ? src : "");
}

uint64_t bus_send_set_frozen(Bus *bus, const char *group, int frozen)
{
    BusCommand cmd = {.kind = BUS_CMD_SET_FROZEN, .frozen = frozen ? 1 : 0};
    copy_name(cmd.group, group);
    return bus_send_command(bus, &cmd);
}

uint64_t bus_send_set_layer_frozen(Bus *bus, const char *layer, int frozen)
{
    BusCommand cmd = {.kind = BUS_CMD_SET_LAYER_FROZEN, .frozen = frozen ? 1 : 0};
    copy_name(cmd.layer, layer);
    return bus_send_command(bus, &cmd);
}

uint64_t bus_send_set_lr(Bus *bus, const char *group, double lr)
{
    BusCommand cmd = {.kind = BUS_CMD_SET_LR, .lr = lr};
    copy_name(cmd.group, group);
    return bus_send_command(bus, &cmd);
}

uint64_t bus_send_rebuild(Bus *bus, const char *run_json, const char *run_path,
                          const char *out_dir, const char *resume)
{
    /* The BusCommand fields are char *; bus_send_command only copies them. */
    BusCommand cmd = {.kind = BUS_CMD_REBUILD,
                      .run_json = (char *)run_json,
                      .run_path = (char *)run_path,
                      .out_dir = (char *)out_dir,
                      .resume = (char *)resume};
    return bus_send_command(bus, &cmd);
}

/* Pops the oldest command; the caller holds cmd_lock. */
static int pop_command(Bus *bus, BusCommand *out)
{
    CommandNode *node = bus->cmd_head;
    if (!node) {
        return 0;
    }
    bus->cmd_head = node->next;
    if (!bus->cmd_head) {
        bus->cmd_tail = NULL;
    }
    bus->n_commands--;
    *out = node->cmd;
    free(node);
    return 1;
}

int bus_poll_command(Bus *bus, BusCommand *out)
{
    pthread_mutex_lock(&bus->cmd_lock);
    int got = pop_command(bus, out);
    pthread_mutex_unlock(&bus->cmd_lock);
    return got;
}

int bus_wait_command(Bus *bus, int timeout_ms, BusCommand *out)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ms > 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&bus->cmd_lock);
    int got = pop_command(bus, out);
    while (!got && timeout_ms != 0) {
        int rc = timeout_ms < 0 ? pthread_cond_wait(&bus->cmd_ready, &bus->cmd_lock)
                                : pthread_cond_timedwait(&bus->cmd_ready, &bus->cmd_lock,
                                                         &deadline);
        got = pop_command(bus, out);   /* also after a spurious wake-up */
        if (rc == ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&bus->cmd_lock);
    return got;
}

/* ---- events ---- */

void bus_event_free(BusEvent *ev)
{
    if (!ev) {
        return;
    }
    free(ev->steps);
    free(ev->losses);
    free(ev->msg);
    free(ev->confusion);
    if (ev->class_names) {
        for (int i = 0; i < ev->num_classes; i++) {
            free(ev->class_names[i]);
        }
        free(ev->class_names);
    }
    free(ev->snapshot.groups);
    free(ev->snapshot.layers);
    memset(ev, 0, sizeof *ev);
}

/* Gives a STEP event its loss arrays (one entry when the poster gave none). */
static int step_arrays(EventNode *node)
{
    BusEvent *ev = &node->ev;
    if (ev->n_losses > 0 && ev->steps && ev->losses) {
        node->cap = ev->n_losses;
        return 0;
    }
    free(ev->steps);
    free(ev->losses);
    ev->steps = malloc(sizeof *ev->steps);
    ev->losses = malloc(sizeof *ev->losses);
    if (!ev->steps || !ev->losses) {
        return -1;
    }
    ev->steps[0] = ev->step;
    ev->losses[0] = ev->loss;
    ev->n_losses = 1;
    node->cap = 1;
    return 0;
}

/* Appends the losses of src to the queued STEP at dst and takes src's
 * latest scalars. The caller holds ev_lock. -1 when out of memory. */
static int merge_steps(EventNode *dst, const BusEvent *src)
{
    BusEvent *d = &dst->ev;
    int need = d->n_losses + src->n_losses;
    if (need > dst->cap) {
        int cap = dst->cap * 2 > need ? dst->cap * 2 : need;
        int64_t *steps = realloc(d->steps, (size_t)cap * sizeof *steps);
        if (!steps) {
            return -1;
        }
        d->steps = steps;
        double *losses = realloc(d->losses, (size_t)cap * sizeof *losses);
        if (!losses) {
            return -1;
        }
        d->losses = losses;
        dst->cap = cap;
    }
    memcpy(d->steps + d->n_losses, src->steps, (size_t)src->n_losses * sizeof *d->steps);
    memcpy(d->losses + d->n_losses, src->losses, (size_t)src->n_losses * sizeof *d->losses);
    d->n_losses = need;
    d->epoch = src->epoch;
    d->epochs = src->epochs;
    d->step = src->step;
    d->total_steps = src->total_steps;
    d->loss = src->loss;
    d->lr = src->lr;
    d->samples_per_s = src->samples_per_s;
    d->eta_s = src->eta_s;
    return 0;
}

void bus_post_event(Bus *bus, BusEvent *ev)
{
    EventNode *node = calloc(1, sizeof *node);
    if (!node) {
        bus_event_free(ev);
        pthread_mutex_lock(&bus->ev_lock);
        bus->stats.dropped++;
        pthread_mutex_unlock(&bus->ev_lock);
        return;
    }
    node->ev = *ev;
    memset(ev, 0, sizeof *ev);   /* moved */
    int failed = 0;
    if (!node->ev.msg) {
        node->ev.msg = strdup("");
        failed |= node->ev.msg == NULL;
    }
    if (node->ev.kind == BUS_EV_STEP) {
        failed |= step_arrays(node) != 0;
    }

    pthread_mutex_lock(&bus->ev_lock);
    bus->stats.posted++;
    EventNode *tail = bus->ev_tail;
    int merged = 0;
    if (!failed && tail && tail->ev.kind == node->ev.kind) {
        if (node->ev.kind == BUS_EV_STEP) {
            failed = merge_steps(tail, &node->ev) != 0;
            merged = !failed;
        } else if (node->ev.kind == BUS_EV_SNAPSHOT) {
            BusEvent old = tail->ev;
            tail->ev = node->ev;
            node->ev = old;    /* freed below, outside the lock */
            merged = 1;
        }
    }
    if (failed) {
        bus->stats.dropped++;
    } else if (merged) {
        bus->stats.merged++;
    } else {
        if (tail) {
            tail->next = node;
        } else {
            bus->ev_head = node;
        }
        bus->ev_tail = node;
        bus->stats.queued_events++;
    }
    if (bus->has_async && !failed) {
        bus->stats.wakeups++;
    }
    pthread_mutex_unlock(&bus->ev_lock);

    if (failed || merged) {
        bus_event_free(&node->ev);
        free(node);
    }
    if (bus->has_async && !failed) {
        uv_async_send(&bus->async);
    }
}

void bus_post_state(Bus *bus, BusState state, const char *msg)
{
    BusEvent ev = {.kind = BUS_EV_STATE, .state = state, .msg = dup_or_null(msg)};
    bus_post_event(bus, &ev);
}

void bus_post_ack(Bus *bus, const BusCommand *cmd, int ok, const char *msg)
{
    BusEvent ev = {.kind = BUS_EV_ACK, .cmd_id = cmd->id, .cmd_kind = cmd->kind,
                   .ok = ok ? 1 : 0, .msg = dup_or_null(msg)};
    bus_post_event(bus, &ev);
}

void bus_post_error(Bus *bus, const char *msg)
{
    BusEvent ev = {.kind = BUS_EV_ERROR, .msg = dup_or_null(msg)};
    bus_post_event(bus, &ev);
}

void bus_post_log(Bus *bus, const char *msg)
{
    BusEvent ev = {.kind = BUS_EV_LOG, .msg = dup_or_null(msg)};
    bus_post_event(bus, &ev);
}

size_t bus_drain_events(Bus *bus, BusEventFn fn, void *user)
{
    pthread_mutex_lock(&bus->ev_lock);
    EventNode *node = bus->ev_head;
    bus->ev_head = bus->ev_tail = NULL;
    bus->stats.queued_events = 0;
    pthread_mutex_unlock(&bus->ev_lock);

    size_t n = 0;
    while (node) {
        EventNode *next = node->next;
        if (fn) {
            fn(&node->ev, user);
        }
        bus_event_free(&node->ev);
        free(node);
        node = next;
        n++;
    }
    return n;
}

void bus_stats(Bus *bus, BusStats *out)
{
    pthread_mutex_lock(&bus->ev_lock);
    *out = bus->stats;
    pthread_mutex_unlock(&bus->ev_lock);
    pthread_mutex_lock(&bus->cmd_lock);
    out->queued_commands = bus->n_commands;
    pthread_mutex_unlock(&bus->cmd_lock);
}

/* ---- lifetime ---- */

static void on_async(uv_async_t *handle)
{
    Bus *bus = handle->data;
    if (bus->wake) {
        bus->wake(bus, bus->user);
    }
}

Bus *bus_open(uv_loop_t *loop, BusWakeFn wake, void *user)
{
    Bus *bus = calloc(1, sizeof *bus);
    if (!bus) {
        return NULL;
    }
    bus->wake = wake;
    bus->user = user;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);   /* bus_wait_command's deadline */
    pthread_mutex_init(&bus->ev_lock, NULL);
    pthread_mutex_init(&bus->cmd_lock, NULL);
    pthread_cond_init(&bus->cmd_ready, &attr);
    pthread_condattr_destroy(&attr);
    if (loop) {
        if (uv_async_init(loop, &bus->async, on_async) != 0) {
            pthread_cond_destroy(&bus->cmd_ready);
            pthread_mutex_destroy(&bus->cmd_lock);
            pthread_mutex_destroy(&bus->ev_lock);
            free(bus);
            return NULL;
        }
        bus->async.data = bus;
        bus->has_async = 1;
    }
    return bus;
}

static void free_bus(Bus *bus)
{
    pthread_cond_destroy(&bus->cmd_ready);
    pthread_mutex_destroy(&bus->cmd_lock);
    pthread_mutex_destroy(&bus->ev_lock);
    free(bus);
}

static void on_closed(uv_handle_t *handle)
{
    free_bus(handle->data);
}

void bus_close(Bus *bus)
{
    if (!bus) {
        return;
    }
    bus_drain_events(bus, NULL, NULL);   /* frees whatever the UI never read */
    BusCommand cmd;
    while (bus_poll_command(bus, &cmd)) {
        bus_command_free(&cmd);
    }
    if (bus->has_async && uv_is_closing((uv_handle_t *)&bus->async)) {
        /* Someone closed our handle (a uv_walk over every handle) with their
         * own callback: we cannot learn when libuv is done with its memory,
         * so the Bus itself stays allocated (a small leak, not a crash). */
        return;
    }
    if (bus->has_async) {
        uv_close((uv_handle_t *)&bus->async, on_closed);
    } else {
        free_bus(bus);
    }
}

/* ---- names ---- */

const char *bus_command_name(BusCommandKind kind)
{
    switch (kind) {
    case BUS_CMD_START: return "start";
    case BUS_CMD_PAUSE: return "pause";
    case BUS_CMD_STOP_SAVE: return "stop_save";
    case BUS_CMD_SAVE: return "save";
    case BUS_CMD_SET_FROZEN: return "set_frozen";
    case BUS_CMD_SET_LR: return "set_lr";
    case BUS_CMD_QUIT: return "quit";
    case BUS_CMD_REBUILD: return "rebuild";
    case BUS_CMD_SET_LAYER_FROZEN: return "set_layer_frozen";
    }
    return "?";
}

const char *bus_state_name(BusState state)
{
    switch (state) {
    case BUS_STATE_LOADING: return "loading";
    case BUS_STATE_READY: return "ready";
    case BUS_STATE_RUNNING: return "running";
    case BUS_STATE_PAUSED: return "paused";
    case BUS_STATE_STOPPING: return "stopping";
    case BUS_STATE_DONE: return "done";
    case BUS_STATE_ERROR: return "error";
    case BUS_STATE_EXITED: return "exited";
    }
    return "?";
}

const char *bus_event_name(BusEventKind kind)
{
    switch (kind) {
    case BUS_EV_START: return "start";
    case BUS_EV_STEP: return "step";
    case BUS_EV_EPOCH: return "epoch";
    case BUS_EV_LOG: return "log";
    case BUS_EV_DONE: return "done";
    case BUS_EV_SNAPSHOT: return "snapshot";
    case BUS_EV_ACK: return "ack";
    case BUS_EV_STATE: return "state";
    case BUS_EV_ERROR: return "error";
    }
    return "?";
}
