/* Text job checkpoints: the image job's format (thaw-checkpoint-1: weights
 * with Hugging Face names, opt.exp_avg.<name>, opt.exp_avg_sq.<name>,
 * opt.step.<name>, progress in __metadata__) plus "task" and "classes",
 * and "journal" when live changes were made (journal.h), written
 * atomically by st_write. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/io/safetensors.h"
#include "engine/run/checkpoint_meta.h"
#include "text_job_internal.h"

#define TEXT_CKPT_FORMAT "thaw-checkpoint-1"

/* The class names as a JSON list (malloc'd), NULL when out of memory. */
static char *classes_json(const TextJob *j)
{
    cJSON *a = cJSON_CreateArray();
    for (int k = 0; a && k < j->classes; k++) {
        cJSON_AddItemToArray(a, cJSON_CreateString(thaw_text_class_name(j->source, k)));
    }
    char *s = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return s;
}

int text_save_checkpoint(TextJob *j, const char *path)
{
    const JobCore *c = &j->core;
    if (text_gpu_sync_host(j) != 0) {   /* a GPU run's weights live on the device */
        return j->core.err->code;
    }
    char *classes = classes_json(j);
    if (!classes) {
        return thaw_fail(c->err, THAW_ERR_NOMEM, "out of memory saving %s", path);
    }
    CheckpointTensors ct;
    int rc = checkpoint_tensors_collect(&ct, &j->model.params, &c->optim, path, c->err);
    if (rc != 0) {
        free(classes);
        return rc;
    }
    CheckpointProgress progress;
    checkpoint_progress_meta(&progress, c, j->model.rng);
    StMeta meta[6 + CHECKPOINT_PROGRESS_KEYS] = {
        {"format", TEXT_CKPT_FORMAT}, {"task", "text_classification"},
        {"arch", c->cfg->arch}, {"head", c->cfg->head_cls ? "cls" : "mean"},
        {"classes", classes}, {"run", c->cfg->json ? c->cfg->json : "{}"},
    };
    memcpy(meta + 6, progress.meta, sizeof progress.meta);
    rc = checkpoint_write(c, path, &ct, meta, 6 + CHECKPOINT_PROGRESS_KEYS);
    checkpoint_tensors_free(&ct);
    free(classes);
    return rc;
}

/* The checkpoint must come from a text run of the same arch and classes. */
static int check_kind(TextJob *j, const SafeTensors *st, const char *path)
{
    const char *fmt = st_metadata(st, "format"), *task = st_metadata(st, "task");
    const char *arch = st_metadata(st, "arch"), *opt = st_metadata(st, "optimizer");
    if (!fmt || strcmp(fmt, TEXT_CKPT_FORMAT) != 0) {
        return thaw_fail(j->core.err, THAW_ERR_FORMAT,
                         "%s: not a thaw checkpoint (metadata 'format')",
                         path);
    }
    if (!task || strcmp(task, "text_classification") != 0 || !arch ||
        strcmp(arch, j->core.cfg->arch) != 0) {
        return thaw_fail(j->core.err, THAW_ERR_MISMATCH, "%s: a checkpoint of %s %s, the run file "
                         "trains %s text classification", path, arch ? arch : "another",
                         task ? task : "image classification", j->core.cfg->arch);
    }
    if (!opt || strcmp(opt, optimizer_name(j->core.optim.kind)) != 0) {
        return thaw_fail(j->core.err, THAW_ERR_MISMATCH, "%s: metadata 'optimizer' is %s, the run "
                         "file says %s", path, opt ? opt : "missing",
                         optimizer_name(j->core.optim.kind));
    }
    return 0;
}

int text_load_checkpoint(TextJob *j, const char *path)
{
    JobCore *c = &j->core;
    SafeTensors *st = NULL;
    int rc = st_open(&st, path, c->err);
    if (rc != 0) {
        return rc;
    }
    uint64_t rng = 0;
    rc = check_kind(j, st, path);
    rc = rc ? rc : checkpoint_tensors_load(st, path, &j->model.params, &c->optim, c->err);
    rc = rc ? rc : checkpoint_progress_read(c, st, path, &rng);
    st_close(st);
    if (rc == 0) {
        j->model.rng = rng;
    }
    return rc;
}
