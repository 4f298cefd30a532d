/* The bus: the one seam between the workbench UI (the main thread, a libuv
 * loop) and the engine thread (which owns the model and runs the training
 * job). Two queues, each behind its own mutex:
 *
 *   UI -> engine: commands (BusCommand). bus_send_* copies the command in,
 *   gives it the next id (1, 2, 3... increasing) and returns that id; the
 *   engine takes commands with bus_poll_command (non-blocking, at every step
 *   boundary) or bus_wait_command (blocks on a condition variable, for a
 *   paused engine) and answers every one with a BUS_EV_ACK event carrying
 *   the same id, so the screen shows what the engine really did.
 *
 *   Engine -> UI: events (BusEvent). bus_post_event never blocks on the UI
 *   (a short mutex hold only); it then calls uv_async_send on a uv_async_t
 *   that the bus owns, initialised on the UI loop. uv_async_send is the one
 *   thread-safe libuv call, and several sends may coalesce into one
 *   callback, so the wake callback must drain the whole queue
 *   (bus_drain_events), which is what it is for.
 *
 * Bounded memory: STEP events (one per optimizer step, possibly hundreds a
 * second) are merged when the UI falls behind: a STEP posted while the
 * queue's newest event is a STEP still waiting appends its loss to that
 * event's arrays (steps[], losses[]) and takes over the scalar fields (step,
 * lr, eta...), so every loss value reaches the loss curve and the queue
 * holds one STEP entry per run of steps. A SNAPSHOT posted while the newest
 * queued event is a SNAPSHOT replaces it (only the latest state matters).
 * Every other kind is at most a few per epoch or one per command.
 *
 * Everything in this header is plain data (no engine or ncurses types), so
 * views may draw from BusSnapshot directly; the engine thread converts the
 * engine's TrainEvent / TrainSnapshot into these (engine_thread_events.c).
 *
 * Lifetime: bus_open on the UI thread, start the engine thread, ... join the
 * engine thread (no more posts), then bus_close on the UI thread: it frees
 * every queued event and command and uv_close()s the async handle; the Bus
 * memory is released in the close callback, so run the loop once more
 * (uv_run) after bus_close, as libuv requires for any handle. Call it
 * before a uv_walk that closes every handle (one that skips handles already
 * closing then leaves the bus's alone); if the walk closed the bus's handle
 * first, bus_close cannot know when libuv is done with it and leaves the
 * Bus struct allocated (a leak that ASan reports, instead of a crash). */
#ifndef THAW_APP_BUS_H
#define THAW_APP_BUS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define BUS_NAME_MAX 96   /* group and layer names (= TRAIN_SNAP_NAME) */

typedef struct Bus Bus;

/* ---- commands: UI -> engine ---- */

typedef enum {
    BUS_CMD_START,      /* begin training, or resume after PAUSE */
    BUS_CMD_PAUSE,      /* hold at the next step boundary */
    BUS_CMD_STOP_SAVE,  /* write interrupted.safetensors and end the run */
    BUS_CMD_SAVE,       /* write a checkpoint now and keep going */
    BUS_CMD_SET_FROZEN, /* group, frozen */
    BUS_CMD_SET_LR,     /* group, lr (the group's base lr) */
    BUS_CMD_QUIT,       /* abandon the run (nothing saved), end the thread */
    BUS_CMD_REBUILD,    /* abandon the run, start a new one from run_json */
    BUS_CMD_SET_LAYER_FROZEN, /* layer (a module name), frozen */
} BusCommandKind;

typedef struct {
    uint64_t id;              /* set by the bus: increasing from 1 */
    BusCommandKind kind;
    char group[BUS_NAME_MAX]; /* SET_FROZEN, SET_LR */
    int frozen;               /* SET_FROZEN, SET_LAYER_FROZEN: 1 freeze, 0 thaw */
    char layer[BUS_NAME_MAX]; /* SET_LAYER_FROZEN: PyTorch module name, e.g.
                                 "layer4.0.bn1" (a BusSnapLayer name) */
    double lr;                /* SET_LR */
    /* REBUILD, owned copies (NULL when not given): the run file's JSON text
     * (required), its path for messages, a new checkpoint folder (NULL:
     * keep the current one), a checkpoint to resume from. */
    char *run_json, *run_path, *out_dir, *resume;
} BusCommand;

/* Each returns the command's id, or 0 when out of memory (nothing sent). */
uint64_t bus_send_command(Bus *bus, const BusCommand *cmd); /* deep copy */
uint64_t bus_send(Bus *bus, BusCommandKind kind);  /* START, PAUSE, ... */
uint64_t bus_send_set_frozen(Bus *bus, const char *group, int frozen);
uint64_t bus_send_set_lr(Bus *bus, const char *group, double lr);
/* Freezes or thaws one layer (module) independently of its group; the ACK
 * (ok, or why not: an unknown name) is followed by a SNAPSHOT. */
uint64_t bus_send_set_layer_frozen(Bus *bus, const char *layer, int frozen);
/* run_path, out_dir, resume may be NULL. */
uint64_t bus_send_rebuild(Bus *bus, const char *run_json, const char *run_path,
                          const char *out_dir, const char *resume);

/* Engine side. 1 and *out filled (the caller owns it: bus_command_free) when
 * a command was waiting, else 0. */
int bus_poll_command(Bus *bus, BusCommand *out);
/* Like bus_poll_command, but waits up to timeout_ms (< 0: forever) for one. */
int bus_wait_command(Bus *bus, int timeout_ms, BusCommand *out);
void bus_command_free(BusCommand *cmd);
const char *bus_command_name(BusCommandKind kind);

/* ---- events: engine -> UI ---- */

typedef enum {
    BUS_EV_START,     /* TRAIN_EV_START: model built; msg says what is trained */
    BUS_EV_STEP,      /* optimizer steps: n_losses >= 1 (merged when behind) */
    BUS_EV_EPOCH,     /* an epoch's train and validation metrics */
    BUS_EV_LOG,       /* a line for the user (msg) */
    BUS_EV_DONE,      /* last validation: confusion, class names; msg = checkpoint */
    BUS_EV_SNAPSHOT,  /* snapshot: groups and layers as the engine has them now */
    BUS_EV_ACK,       /* answer to command cmd_id: ok, msg (a reason, or a path) */
    BUS_EV_STATE,     /* state changed to state; msg (error text, done summary) */
    BUS_EV_ERROR,     /* msg: the engine's one-line error */
} BusEventKind;

typedef enum {
    BUS_STATE_LOADING,  /* building the model, opening the data */
    BUS_STATE_READY,    /* built, waiting for the first START */
    BUS_STATE_RUNNING,
    BUS_STATE_PAUSED,
    BUS_STATE_STOPPING, /* STOP_SAVE / QUIT / REBUILD taken; the run is ending */
    BUS_STATE_DONE,     /* the run ended (done_reason); waiting for REBUILD / QUIT */
    BUS_STATE_ERROR,    /* loading or training failed (msg); waiting for REBUILD / QUIT / START */
    BUS_STATE_EXITED,   /* the engine thread has ended: no more events */
} BusState;

typedef enum {
    BUS_DONE_FINISHED,  /* every epoch ran */
    BUS_DONE_EARLY,     /* early stopping */
    BUS_DONE_STOPPED,   /* STOP_SAVE: interrupted.safetensors written */
    BUS_DONE_ABANDONED, /* ended with nothing saved (STOP_SAVE before any step) */
} BusDoneReason;

typedef struct {
    char name[BUS_NAME_MAX];
    int frozen;            /* no weight of the group trains */
    int partial;           /* some of its layers train, some are frozen */
    int64_t trainable_params;  /* weights of the group that train now */
    double base_lr;        /* what SET_LR sets; the schedule multiplies it */
    double lr;             /* the lr of the next step */
    double weight_decay;
    int64_t params;
    int bn_batch_stats;    /* its BatchNorm layers use batch statistics */
} BusSnapGroup;

typedef struct {
    char name[BUS_NAME_MAX];  /* module name: "layer4.1.conv2", "fc.0" */
    int group;                /* index into groups */
    int out_h, out_w, out_c;  /* output shape per sample */
    char shape[24];           /* as shown: "7x7x512", "Tx384" per token; "": from out_* */
    int64_t params;
    int frozen;
} BusSnapLayer;

typedef struct {
    int epoch, epochs;        /* 1-based epoch in progress */
    int64_t step, total_steps;
    int n_groups, n_layers;
    BusSnapGroup *groups;     /* owned by the event */
    BusSnapLayer *layers;
    char cache[320];          /* the feature cache's state line */
    int64_t trainable_params; /* weights that train now (0: none) */
    char device[64];          /* "CPU, 2 threads" as the engine thread runs it */
} BusSnapshot;

typedef struct {
    BusEventKind kind;
    /* STEP, EPOCH, DONE (and the latest values for merged STEPs) */
    int epoch, epochs;
    int64_t step, total_steps;
    double loss, lr;          /* STEP: the newest step's loss, head group lr */
    int n_losses;             /* STEP: steps[i] had loss losses[i], oldest first */
    int64_t *steps;           /* owned */
    double *losses;           /* owned */
    double train_loss, train_acc, val_loss, val_acc;
    int has_val;
    double samples_per_s, eta_s;
    char *msg;                /* owned, never NULL after posting ("" if none) */
    int num_classes;          /* DONE */
    int64_t *confusion;       /* DONE: [true][predicted], owned, or NULL */
    char **class_names;       /* DONE: num_classes owned strings, or NULL */
    BusSnapshot snapshot;     /* SNAPSHOT */
    uint64_t cmd_id;          /* ACK */
    BusCommandKind cmd_kind;  /* ACK */
    int ok;                   /* ACK */
    BusState state;           /* STATE */
    BusDoneReason done_reason;/* STATE DONE */
} BusEvent;

/* Wake-up on the UI loop thread after one or more posts (coalesced). */
typedef void (*BusWakeFn)(Bus *bus, void *user);
/* Called for each drained event, oldest first, on the draining thread. It
 * may take any owned pointer of ev (steal it and set it to NULL); the rest
 * is freed after it returns. */
typedef void (*BusEventFn)(BusEvent *ev, void *user);

/* Creates the bus on the UI thread. loop may be NULL (no wake-ups: the
 * consumer polls bus_drain_events, e.g. a headless printer). */
Bus *bus_open(uv_loop_t *loop, BusWakeFn wake, void *user);
/* See the header comment: after the engine thread is joined. */
void bus_close(Bus *bus);

/* Engine side: queues ev (moving its owned pointers into the bus; *ev is
 * zeroed) and wakes the UI. msg NULL becomes "". A STEP with n_losses 0
 * gets steps = {step}, losses = {loss}. Never blocks on the UI. */
void bus_post_event(Bus *bus, BusEvent *ev);
void bus_post_state(Bus *bus, BusState state, const char *msg);
void bus_post_ack(Bus *bus, const BusCommand *cmd, int ok, const char *msg);
void bus_post_error(Bus *bus, const char *msg);
void bus_post_log(Bus *bus, const char *msg);

/* UI side: hands every queued event to fn, oldest first; returns how many.
 * The queue lock is not held while fn runs, so fn may send commands. */
size_t bus_drain_events(Bus *bus, BusEventFn fn, void *user);
void bus_event_free(BusEvent *ev);

typedef struct {
    uint64_t posted;          /* bus_post_event calls */
    uint64_t merged;          /* of those, merged into a queued STEP/SNAPSHOT */
    uint64_t wakeups;         /* uv_async_send calls */
    uint64_t dropped;         /* lost to out-of-memory */
    size_t queued_events, queued_commands;
} BusStats;
void bus_stats(Bus *bus, BusStats *out);

const char *bus_state_name(BusState state);
const char *bus_event_name(BusEventKind kind);

#endif
