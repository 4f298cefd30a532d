/* The workbench's controller state: the view state (WbState) plus what the
 * main loop needs to know about commands in flight. Keys and bus events are
 * folded into it by pure functions (tui_keys.c, tui_fold.c) that send
 * commands on the bus and never wait for the engine, so a key's visible
 * effect is on the next frame even while a step takes seconds. */
#ifndef THAW_TUI_APP_H
#define THAW_TUI_APP_H

#include <stdint.h>

#include "app/bus.h"
#include "app/tui_rate.h"
#include "views/wb_state.h"

#define TUI_MAX_PENDING 64

/* A command sent and not yet answered by an ACK. */
typedef struct {
    uint64_t id;
    BusCommandKind kind;
    char group[WB_NAME];   /* SET_FROZEN / SET_LR / SET_LAYER_FROZEN: the (layer's) group */
    char layer[WB_NAME];   /* SET_LAYER_FROZEN: the module name */
    int frozen;            /* SET_FROZEN, SET_LAYER_FROZEN */
    double lr;             /* SET_LR */
} TuiPending;

/* How the workbench is ending. */
typedef enum {
    TUI_RUN_ON = 0,        /* normal */
    TUI_QUIT_SAVING,       /* STOP_SAVE sent: exit once the run has ended */
    TUI_QUIT_NOW,          /* leave the loop now */
} TuiQuitPhase;

typedef struct {
    WbState wb;
    Bus *bus;
    TuiPending pending[TUI_MAX_PENDING];
    int n_pending;
    uint64_t state_cmd;        /* START/PAUSE/SAVE/REBUILD in flight (status line) */
    TuiQuitPhase quit;
    int exit_code;             /* once quit is TUI_QUIT_NOW */
    int engine_exited;         /* STATE EXITED seen */
    int start_queued;          /* t pressed while loading: START once READY */
    int dirty;                 /* redraw on the next timer tick */
    char checkpoint[WB_TEXT * 2]; /* the last checkpoint the engine wrote */
    char run_error[WB_TEXT * 2];  /* why the run stopped in the error state */
    /* the run, for REBUILD from the model table */
    char *run_json;            /* owned */
    char run_path[1024];
    char out_dir[1024];        /* the run's checkpoint folder (model picks add -<arch>) */
    /* live samples/s and ETA from step arrivals (STEP events carry none) */
    int batch;                 /* samples per step, from the run file (0: unknown) */
    TuiRate rate;
    double (*clock)(void);     /* seconds; tui_rate_clock, a fake in tests */
} TuiApp;

/* bus may be NULL only in tests that send nothing. Copies run_json. */
int tui_app_init(TuiApp *app, Bus *bus, const char *run_json, const char *run_path,
                 const char *out_dir);
void tui_app_free(TuiApp *app);

/* Folds one engine event into the state (tui_fold.c). */
void tui_fold_event(TuiApp *app, const BusEvent *ev);

/* One key, as ncurses returns it (get_wch's value; is_key: KEY_CODE_YES)
 * (tui_keys.c). */
void tui_handle_key(TuiApp *app, int key, int is_key);

/* A signal asked the workbench to end (SIGINT, SIGTERM, SIGHUP): stop the
 * run with a checkpoint and leave with 128 + sig; a second one leaves at
 * once. */
void tui_request_exit(TuiApp *app, int sig);

/* Commands with the pending bookkeeping (tui_commands.c). */
uint64_t tui_send_frozen(TuiApp *app, int group, int frozen);
uint64_t tui_send_lr(TuiApp *app, int group, double lr);
/* One layer (index into wb.layers) on its own: the engine freezes modules
 * independently of their group (SET_LAYER_FROZEN). */
uint64_t tui_send_layer_frozen(TuiApp *app, int layer, int frozen);
uint64_t tui_send_simple(TuiApp *app, BusCommandKind kind);
/* Replaces the run (model table): new run text, checkpoints into out_dir. */
uint64_t tui_send_rebuild(TuiApp *app, const char *run_json, const char *out_dir);
/* Drops the pending entry for id (returns its index before removal, or -1
 * and leaves *out untouched when unknown). */
int tui_take_pending(TuiApp *app, uint64_t id, TuiPending *out);
/* Recomputes every group's and layer's pending flag from the table. */
void tui_refresh_pending(TuiApp *app);

/* "a run is going": quitting it asks first and saves. */
int tui_run_is_going(const TuiApp *app);

#endif
