/* Picking a backbone in the model-choice table: an image backbone or a
 * text encoder (a switch between the two kinds also swaps the dataset and
 * recipe, tui_run.h). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "app/tui_model_pick.h"
#include "app/tui_run.h"
#include "engine/models/bert.h"
#include "engine/run/text_job.h"

uint64_t tui_pick_model(TuiApp *app, int row)
{
    WbState *s = &app->wb;
    if (row < 0 || row >= s->n_catalog) {
        return 0;
    }
    const CatalogRow *r = &s->catalog[row];
    if (!r->supported || !r->arch[0]) {
        snprintf(s->status_msg, sizeof s->status_msg, "%s (%s): not supported yet", r->name,
                 r->task);
        return 0;
    }
    if (!app->run_json) {
        snprintf(s->status_msg, sizeof s->status_msg, "no run to change the model of");
        return 0;
    }
    /* Weights from the cache when the file is there, else random init,
     * said plainly: a random backbone is not transfer learning. */
    char weights[1024] = "";
    struct stat st;
    if (text_arch(r->arch)) {
        /* a text encoder needs its folder (config.json and vocab.txt give
         * its shape and tokens): no random init without it */
        char model[1100];
        ThawError none;
        tui_cache_weights_path(r->weights, weights, sizeof weights);
        if (bert_weights_file(weights, model, sizeof model, &none) != 0 ||
            stat(model, &st) != 0 || st.st_size == 0) {
            snprintf(s->status_msg, sizeof s->status_msg, "%.24s: no %.60s (a folder: "
                     "config.json, vocab.txt, model weights)", r->name, weights);
            wb_log(s, "%s: no weights folder at %s; it needs config.json, vocab.txt and "
                   "model.safetensors or pytorch_model.bin", r->name, weights);
            return 0;
        }
    } else if (r->weights[0]) {
        tui_cache_weights_path(r->weights, weights, sizeof weights);
        if (stat(weights, &st) != 0 || st.st_size == 0) {
            wb_log(s, "%s: no weights at %s; random init", r->name, weights);
            weights[0] = '\0';
        }
    } else {
        wb_log(s, "%s: no pretrained weights known offline; random init", r->name);
    }
    char *json = NULL;
    ThawError err = {0};
    if (tui_run_with_model(app->run_json, r->arch, weights, &json, &err) != 0) {
        snprintf(s->status_msg, sizeof s->status_msg, "%.150s", err.msg);
        return 0;
    }
    /* Each backbone gets its own checkpoint folder, so epoch files of
     * different models never overwrite each other. */
    char out[1200];
    snprintf(out, sizeof out, "%s-%s", app->out_dir[0] ? app->out_dir : "runs/workbench",
             r->arch);
    uint64_t id = tui_send_rebuild(app, json, out);
    free(json);
    if (id) {
        snprintf(s->status_msg, sizeof s->status_msg, "switching to %s%s (pending)", r->name,
                 weights[0] ? "" : ", random init");
        wb_log(s, "rebuilding with %s (%s), checkpoints in %s", r->name, r->arch, out);
        s->screen = WB_SCREEN_MAIN;
    }
    return id;
}
