/* The engine thread: owns the model, every tensor and the device, and runs
 * training jobs (train_run) one after another, driven by commands from the
 * bus and answering with events on it (bus.h). The UI never touches the
 * engine; everything crosses the bus.
 *
 * A run's life, as the UI sees it through BUS_EV_STATE events:
 *
 *   loading  train_run builds the model and opens the data.
 *   ready    first step boundary: a SNAPSHOT is posted and the job holds,
 *            so the workbench shows the model before training. Freeze
 *            (SET_FROZEN a group, SET_LAYER_FROZEN one layer), lr and save
 *            commands are applied (and acked) while it holds.
 *   running  after START. At every step boundary the thread takes every
 *            queued command; a SNAPSHOT follows each change (and the start
 *            of each epoch), STEP/EPOCH/LOG/DONE events mirror TrainEvent.
 *   paused   after PAUSE: held at the boundary in bus_wait_command until
 *            START / STOP_SAVE / QUIT / REBUILD; freeze, lr and save still
 *            apply (with acks) so the user can edit while paused.
 *   stopping STOP_SAVE (interrupted.safetensors is written; its ACK comes
 *            when the job has returned, with the checkpoint path), QUIT or
 *            REBUILD (the job returns at once, nothing written).
 *   done     the job returned (done_reason: finished, early, stopped,
 *            abandoned = STOP_SAVE before any START, nothing to save).
 *   error    loading or a step failed: an ERROR event and the state carry
 *            the engine's one-line message (it names the file or key).
 *
 * Between runs (done, error) the thread waits for commands: REBUILD starts
 * a new run from the run-file text it carries (a parse error is acked not
 * ok, nothing else changes); QUIT ends the thread; START after an error
 * retries the same run (the user may have fixed a file), while START after
 * done is refused (ack not ok: a finished run is not re-run over its own
 * checkpoints; send REBUILD). Other commands are acked not ok ("no run is
 * going"), except STOP_SAVE, acked ok with nothing written.
 *
 * ACK messages: for a refused command (ok 0) the reason; for SAVE and
 * STOP_SAVE (ok 1) the checkpoint's path, or "" when nothing was written
 * (STOP_SAVE before START or between runs); START/PAUSE that change nothing
 * say so ("already running"); otherwise "".
 *
 * Every command gets exactly one ACK. The last event of the thread is STATE
 * exited. REBUILD mid-run abandons the current job (nothing saved) and
 * starts the new one. */
#ifndef THAW_APP_ENGINE_THREAD_H
#define THAW_APP_ENGINE_THREAD_H

#include <pthread.h>
#include <stddef.h>

#include "app/bus.h"
#include "engine/core/error.h"
#include "engine/cuda/device_select.h"
#include "engine/run/run_config.h"

typedef struct EngineThreadCtx EngineThreadCtx;

typedef struct {
    pthread_t thread;
    int started;
    EngineThreadCtx *ctx;     /* owned by the thread until joined */
} EngineThread;

/* Copies cfg (its JSON text included) and out_dir, and starts the thread,
 * which posts STATE loading at once. Image and text runs train on device
 * (NULL: the CPU). bus must outlive the thread (join it
 * before bus_close). Fails only on thread or memory errors (err filled). */
int engine_thread_start(EngineThread *et, Bus *bus, const RunConfig *cfg,
                        const ThawDevice *device, const char *out_dir, ThawError *err);

/* Shutdown (Ctrl-C / SIGHUP / quit): sends STOP_SAVE (a run that has
 * trained saves interrupted.safetensors; before START or between runs it is
 * a no-op) then QUIT, and joins. Blocks until the current step ends (a job
 * still loading finishes loading first). Safe on a never-started et. */
void engine_thread_stop_and_join(EngineThread *et);

/* REBUILD with cfg's run-file text (cfg->json, named cfg->path); out_dir
 * NULL keeps the current folder. Returns the command id (0: out of memory). */
uint64_t engine_thread_send_rebuild(Bus *bus, const RunConfig *cfg, const char *out_dir);

/* The compute device for the status bar: "CPU, 2 threads". */
void engine_device_text(char *buf, size_t cap);

#endif
