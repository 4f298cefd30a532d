/* The run the workbench opens: the compiled-in default (EfficientNet-Lite0
 * feature extraction on Fashion-MNIST) or a run file, as JSON text that the
 * engine thread parses. The workbench rewrites the text, never a RunConfig,
 * so checkpoints store exactly what ran (model swaps included). */
#ifndef THAW_TUI_RUN_H
#define THAW_TUI_RUN_H

#include <stddef.h>

#include "engine/core/error.h"

typedef struct {
    char *json;         /* run file text (owned, malloc) */
    char path[1024];    /* the run file, or "default run" (for messages) */
    char name[64];      /* run name: the file's stem, or "default" */
    char out_dir[1024]; /* checkpoints: --out, $THAW_OUT, else runs/<name> */
    char note[320];     /* a line for the status bar ("" if none) */
} TuiRun;

/* assets/runs/default.json as compiled into the binary. */
const char *tui_default_run_text(void);
/* assets/runs/minilm_fortunes.json as compiled in: the run a text encoder
 * picked from an image run starts from (MiniLM on the Debian fortunes
 * topics, the text recipe: AdamW lr 2e-5, linear decay after a 10% warmup,
 * batch 16, 3 epochs). */
const char *tui_text_run_text(void);

/* ${THAW_CACHE:-$HOME/.cache/thaw}/weights/<file> into buf. */
void tui_cache_weights_path(const char *file, char *buf, size_t cap);

/* The default run, its weights pointed at the cache; when the weights file
 * is missing the run starts from random init and note says how to fetch. */
int tui_run_open_default(TuiRun *run, const char *out_dir, ThawError *err);
/* A run file (read and checked to be a JSON object; the engine validates
 * the keys when it builds the job). */
int tui_run_open_file(TuiRun *run, const char *path, const char *out_dir, ThawError *err);
void tui_run_free(TuiRun *run);

/* Creates the folders above path (mkdir -p of its parent), as thaw train
 * creates runs/ for its default runs/<name>; the engine makes the last one. */
void tui_make_parent_dirs(const char *path);

/* New run text: text with model.arch set to arch and model.weights set to
 * weights (NULL or "" removes the key: random init). When arch is a text
 * encoder and the run trains an image backbone (or the other way round),
 * the run is first replaced by the other kind's embedded run (text: the
 * fortunes run above; image: the default run's dataset and recipe), keeping
 * seed and threads. Caller frees *out. */
int tui_run_with_model(const char *text, const char *arch, const char *weights, char **out,
                       ThawError *err);

#endif
